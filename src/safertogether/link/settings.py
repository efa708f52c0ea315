"""The person model as data: derived columns, blocking rules, comparisons and the training plan.

Everything that decides which pairs are scored and how lives here, so a change to the model is a change to
this file alone. Blocking is what limits recall on FEBRL (a true pair no rule generates can never be linked),
so the rules are many and small, in union: each catches a different way a record is corrupted (a typo in
the postcode, a swapped day and month, forename and surname exchanged, spaces lost in a street name...).
"""

from __future__ import annotations

from dataclasses import dataclass

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import ColumnExpression, SettingsCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.dialects import SplinkDialect

from safertogether.link.records import LinkType

# Columns derived from the cleaned FEBRL columns (SQL over one record), used by blocking and comparisons.
DERIVED_COLUMNS: dict[str, str] = {
    "dob_year": "substr(date_of_birth, 1, 4)",
    "dob_month": "substr(date_of_birth, 5, 2)",
    "dob_day": "substr(date_of_birth, 7, 2)",
    "given_name_prefix": "substr(given_name, 1, 3)",
    "surname_prefix": "substr(surname, 1, 3)",
    "address_1_compact": "replace(address_1, ' ', '')",
    "suburb_compact": "replace(suburb, ' ', '')",
}

# name -> condition on the left (l) and right (r) record; a pair is scored if any rule holds.
BLOCKING_RULES: dict[str, str] = {
    "postcode": "l.postcode = r.postcode",
    "date_of_birth": "l.date_of_birth = r.date_of_birth",
    "names_swapped": "l.given_name = r.surname AND l.surname = r.given_name",
    "day_month_swapped": "l.dob_year = r.dob_year AND l.dob_month = r.dob_day AND l.dob_day = r.dob_month",
    "name_prefixes": "l.given_name_prefix = r.given_name_prefix AND l.surname_prefix = r.surname_prefix",
    "given_name_suburb": "l.given_name = r.given_name AND l.suburb_compact = r.suburb_compact",
    "street": "l.street_number = r.street_number AND l.address_1_compact = r.address_1_compact",
    "street_name_suburb": "l.address_1_compact = r.address_1_compact AND l.suburb_compact = r.suburb_compact",
    "street_number_suburb": "l.street_number = r.street_number AND l.suburb_compact = r.suburb_compact",
    "street_number_birth_year": "l.street_number = r.street_number AND l.dob_year = r.dob_year",
    "surname_street_number": "l.surname = r.surname AND l.street_number = r.street_number",
    "given_name_street_number": "l.given_name = r.given_name AND l.street_number = r.street_number",
}


class CompactDate(ColumnExpression):
    """A date written YYYYMMDD, parsed with each engine's own pattern (Splink passes a format to the engine as is).

    DuckDB reads strftime's ``%Y%m%d``, Spark a Java pattern: given to Spark, ``%Y%m%d`` parses nothing and
    every date of birth would silently count as missing.
    """

    PATTERNS = {"duckdb": "%Y%m%d", "spark": "yyyyMMdd", "postgres": "YYYYMMDD", "sqlite": "%Y%m%d"}

    def _try_parse_date_dialected(self, name: str, sql_dialect: SplinkDialect, date_format: str | None = None) -> str:
        return sql_dialect.try_parse_date(name, date_format=self.PATTERNS[sql_dialect.sql_dialect_str])


class OtherColumnJaroWinklerLevel(ComparisonLevelCreator):
    """A value close to the other record's value of another column, either way round (in the engine's own
    Jaro-Winkler function and quoting: DuckDB's ``jaro_winkler_similarity``, Splink's ``jaro_winkler`` on Spark)."""

    def __init__(self, column: str, other: str, threshold: float) -> None:
        self.column, self.other, self.threshold = column, other, threshold

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        jaro_winkler = sql_dialect.jaro_winkler_function_name
        column, other = ColumnExpression(self.column, sql_dialect), ColumnExpression(self.other, sql_dialect)
        return (f"{jaro_winkler}({column.name_l}, {other.name_r}) >= {self.threshold} OR "
                f"{jaro_winkler}({column.name_r}, {other.name_l}) >= {self.threshold}")

    def create_label_for_charts(self) -> str:
        return f"{self.column} found as {self.other}"


# The comparisons of names, date of birth and house number of Splink's FEBRL example model.
NAME_AND_BIRTH_COMPARISONS = (
    cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
    cl.NameComparison("surname").configure(term_frequency_adjustments=True),
    cl.DateOfBirthComparison(CompactDate("date_of_birth"), input_is_string=True, invalid_dates_as_null=True),
    cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
)


def name_levels(column: str, other: str, after_exact: tuple[cll.CustomLevel, ...] = ()) -> cl.CustomComparison:
    """Splink's name levels plus one for a name found in the other name's column (forename and surname swapped).

    ``after_exact``: levels of the caller's, tried just after an exact match (e.g. a nickname).
    """
    return cl.CustomComparison(output_column_name=column, comparison_levels=[
        cll.NullLevel(column),
        cll.ExactMatchLevel(column).configure(tf_adjustment_column=column),
        *after_exact,
        cll.JaroWinklerLevel(column, 0.92),
        cll.JaroWinklerLevel(column, 0.88),
        OtherColumnJaroWinklerLevel(column, other, 0.88),
        cll.JaroWinklerLevel(column, 0.7),
        cll.ElseLevel(),
    ])


# Ours: names that survive being swapped, then date of birth and house number as in Splink's example.
PERSON_COMPARISONS = (name_levels("given_name", "surname"), name_levels("surname", "given_name"),
                      *NAME_AND_BIRTH_COMPARISONS[2:])
# Spaces are dropped from street and suburb: FEBRL's typos often split or join their words.
ADDRESS_COMPARISONS = (
    cl.JaroWinklerAtThresholds("address_1_compact", [0.9, 0.7]),
    cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
    cl.JaroWinklerAtThresholds("suburb_compact", [0.9, 0.8]),
)


@dataclass(frozen=True)
class TrainingPlan:
    """How the model's parameters are estimated: u by random sampling, m by EM on two blocks."""

    seed: int = 42
    u_max_pairs: float = 5e6
    # The prior (probability two random records match) from rules that rarely hold for non-matches.
    deterministic_rules: tuple[str, ...] = (
        "l.given_name = r.given_name AND l.surname = r.surname AND l.date_of_birth = r.date_of_birth",
        "l.given_name = r.surname AND l.surname = r.given_name AND l.date_of_birth = r.date_of_birth",
    )
    deterministic_recall: float = 0.7
    # Each EM session estimates m for every comparison but the one its block fixes.
    em_blocks: tuple[str, ...] = ("l.date_of_birth = r.date_of_birth", "l.postcode = r.postcode")
    # The prior and EM on a random sample of this many records (all records if None): their cost then stops
    # growing with the data, and a random sample keeps the share of pairs that match, so the prior holds.
    training_records: int | None = None


def person_settings(link_type: LinkType) -> SettingsCreator:
    """The Fellegi-Sunter person model for FEBRL-shaped records, term-frequency adjusted on names."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES.values()),
        comparisons=[*PERSON_COMPARISONS, *ADDRESS_COMPARISONS],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )
