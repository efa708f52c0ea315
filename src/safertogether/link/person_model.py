"""The person model for partners' records as data: blocking rules, comparisons and training plan.

People move house. A model that compares house number, street and postcode as three independent
fields counts one move three times against a true match and learns that true matches never change
address (recall fell from 0.93 to 0.75 on 100k records when measured). Here the address is ONE
comparison whose levels run from "same home" to "elsewhere": EM learns how often one person's records
are at different addresses, and a move costs the weight of that one level, not three.
"""

from __future__ import annotations

from typing import Final

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator

from safertogether.link.records import LinkType
from safertogether.link.settings import TrainingPlan, name_levels

# name -> condition on the left (l) and right (r) record; a pair is scored if any rule holds. Every rule joins
# on two or more fields, so that no key is shared by thousands of strangers: at a million records a date of
# birth alone gives ~19 million pairs of strangers, date of birth and initial ~1 million. Each rule is there
# for the errors the others miss. The rules were pruned on the 1M set of seed 12 (bench/partner_linkage.py,
# not the evaluation seed 11) by counting, for every true pair, which rules find it: from 6.75 M pairs to
# 3.45 M for a blocking recall of 0.9916 instead of 0.9946. Dropped: a birthday and postcode, both names and
# a postcode district, both names and a birth year (no true pair only they found); narrowed: a birthday and
# forename initial (1.2 M pairs for 0.8 % of true pairs) to both initials or the whole forename, both names
# without a birth date to the same sex as well (2 M pairs of namesakes for 0.4 %), and swapped names or day
# and month to the same birth year or district, or forename initial.
BLOCKING_RULES: Final[dict[str, str]] = {
    "birth_surname": "l.date_of_birth = r.date_of_birth AND l.surname = r.surname",
    # A married surname: same birthday and forename, or same birthday and house number.
    "birth_forename": "l.date_of_birth = r.date_of_birth AND l.forename = r.forename",
    "birth_initials": ("l.date_of_birth = r.date_of_birth AND l.forename_initial = r.forename_initial "
                       "AND l.surname_initial = r.surname_initial"),
    "birth_house": "l.date_of_birth = r.date_of_birth AND l.house = r.house",
    # No date of birth: the same forename or surname at the same home.
    "forename_home": "l.forename = r.forename AND l.house = r.house AND l.street = r.street",
    "surname_home": "l.surname = r.surname AND l.house = r.house AND l.street = r.street",
    # No date of birth and a move: both names and the same sex.
    # (Two rules, not one with OR: a condition on one side is applied before the join, not after it.)
    "names_no_birth_date": "l.forename = r.forename AND l.surname = r.surname AND l.date_of_birth IS NULL "
                           "AND l.sex = r.sex",
    "names_no_birth_date_r": "l.forename = r.forename AND l.surname = r.surname AND r.date_of_birth IS NULL "
                             "AND l.sex = r.sex",
    "names_swapped": "l.forename = r.surname AND l.surname = r.forename AND l.dob_year = r.dob_year",
    "names_swapped_district": ("l.forename = r.surname AND l.surname = r.forename "
                               "AND l.postcode_district = r.postcode_district"),
    "day_month_swapped": ("l.dob_year = r.dob_year AND l.dob_month = r.dob_day AND l.dob_day = r.dob_month "
                          "AND l.surname_initial = r.surname_initial AND l.forename_initial = r.forename_initial"),
}


def _surname() -> cl.CustomComparison:
    """Name levels, plus one for a shared part of a double-barrelled or changed surname (Patel-Smith, Smith)."""
    shared_part = ('("surname_last_l" = "surname_last_r" OR "surname_first_l" = "surname_first_r" OR '
                   '"surname_last_l" = "surname_first_r" OR "surname_first_l" = "surname_last_r")')
    return name_levels("surname", "forename", (cll.CustomLevel(shared_part, label_for_charts="surname shares a part"),))


#: Dates of birth one edit apart (Damerau-Levenshtein 1), tested cheaply first: one edit of a YYYY-MM-DD date
#: (a digit replaced, two neighbours swapped) changes at most one of year, month and day, as no two neighbouring
#: characters fall in two of them. So two of the three agree whenever the distance is 1, and the distance, which
#: cost 2 us a pair (4 s of CPU for the 2 M pairs of u's sampling, as much again in scoring), is computed only
#: then. The same level, exactly, for every date of years 0-9999 (``strftime`` writes all of them as 10 characters).
_ONE_EDIT_APART: Final = (
    '(("dob_year_l" = "dob_year_r" AND ("dob_month_l" = "dob_month_r" OR "dob_day_l" = "dob_day_r")) OR '
    '("dob_month_l" = "dob_month_r" AND "dob_day_l" = "dob_day_r")) AND '
    'damerau_levenshtein("date_of_birth_l", "date_of_birth_r") <= 1')


def _date_of_birth() -> cl.CustomComparison:
    swapped = ('"dob_year_l" = "dob_year_r" AND "dob_month_l" = "dob_day_r" AND "dob_day_l" = "dob_month_r"')
    return cl.CustomComparison(output_column_name="date_of_birth", comparison_levels=[
        cll.NullLevel("date_of_birth"),
        cll.ExactMatchLevel("date_of_birth"),
        cll.CustomLevel(swapped, label_for_charts="day and month swapped"),
        cll.CustomLevel(_ONE_EDIT_APART, label_for_charts="Damerau-Levenshtein distance of date_of_birth <= 1"
                        ).configure(m_probability=KEYING_ERROR_M, fix_m_probability=True),
        cll.CustomLevel('"dob_year_l" = "dob_year_r"', label_for_charts="same year"),
        cll.CustomLevel('abs(CAST("dob_year_l" AS INTEGER) - CAST("dob_year_r" AS INTEGER)) >= 12',
                        label_for_charts="a generation apart").configure(
                            m_probability=FAMILY_VETO_M, fix_m_probability=True),
        cll.ElseLevel().configure(m_probability=RARE_ERROR_M, fix_m_probability=True),
    ])


def _address() -> cl.CustomComparison:
    """One comparison from "same home" to "elsewhere": a move is one disagreement, not three."""
    unknown = ('("street_l" IS NULL AND "postcode_l" IS NULL) OR ("street_r" IS NULL AND "postcode_r" IS NULL)')
    same_house = '"house_l" = "house_r" AND "street_l" = "street_r"'
    postcode_agrees = '("postcode_l" = "postcode_r" OR "postcode_l" IS NULL OR "postcode_r" IS NULL)'
    return cl.CustomComparison(output_column_name="address", comparison_levels=[
        cll.CustomLevel(unknown, label_for_charts="address unknown").configure(is_null_level=True),
        cll.CustomLevel(f"{same_house} AND {postcode_agrees}", label_for_charts="same home"),
        cll.CustomLevel(f'("house_l" = "house_r" AND "postcode_l" = "postcode_r") OR ({same_house})',
                        label_for_charts="same home, postcode or street differs"),
        cll.CustomLevel('"house_l" = "house_r" AND jaro_winkler_similarity("street_l", "street_r") >= 0.9',
                        label_for_charts="same number, street nearly the same"),
        cll.CustomLevel('"street_l" = "street_r" AND "town_l" = "town_r"', label_for_charts="same street"),
        cll.CustomLevel('"postcode_l" = "postcode_r"', label_for_charts="same postcode"),
        cll.ElseLevel().configure(label_for_charts="elsewhere"),
    ])


#: Families break the independence Fellegi-Sunter assumes: twins share surname, date of birth and home; a
#: parent and child (or two siblings) may share forename, surname and home. Summed as independent evidence,
#: the agreements outweigh the one field that tells them apart (measured: 94 % of twins' records and 93 % of
#: same-household namesakes' were linked), and EM, seeing such pairs among its likely matches, even learns
#: that true matches often disagree there. So these disagreements get an m fixed in advance instead of
#: learned: a forename wholly unlike the other, or dates of birth a generation apart, are all but a veto
#: (a link then needs a third record agreeing with both); any other difference in the date of birth is
#: a rare error (one record in a million), not the one in a thousand EM learns from families.
FAMILY_VETO_M: Final = 1e-8
RARE_ERROR_M: Final = 1e-6
#: Keying errors real systems make but the synthetic generator does not (one digit of a date of birth, the
#: sex marker): EM on synthetic data would learn they never happen (m = 0, a veto of -18 to -50 bits on one
#: mistyped digit). Fixed instead at a few per thousand records, the order of keying error rates in
#: administrative data, so such a record still links on everything else.
KEYING_ERROR_M: Final = 0.003


def _forename() -> cl.CustomComparison:
    """Name levels, plus one for a nickname (Bill, William: they share a full name in ``forename_names``)."""
    nickname = cll.CustomLevel('list_has_any("forename_names_l", "forename_names_r")',
                               label_for_charts="forename a nickname of the other")
    swapped = ('jaro_winkler_similarity("forename_l", "surname_r") >= 0.88 OR '
               'jaro_winkler_similarity("forename_r", "surname_l") >= 0.88')
    return cl.CustomComparison(output_column_name="forename", comparison_levels=[
        cll.NullLevel("forename"),
        cll.ExactMatchLevel("forename").configure(tf_adjustment_column="forename"),
        nickname,
        cll.JaroWinklerLevel("forename", 0.92),
        cll.JaroWinklerLevel("forename", 0.88),
        cll.CustomLevel(swapped, label_for_charts="forename found as surname"),
        cll.JaroWinklerLevel("forename", 0.7),
        cll.ElseLevel().configure(m_probability=FAMILY_VETO_M, fix_m_probability=True),
    ])


def person_comparisons() -> list[cl.CustomComparison | cl.ExactMatch]:
    return [_forename(), _surname(), _date_of_birth(), _address(), _sex()]


def _sex() -> cl.CustomComparison:
    return cl.CustomComparison(output_column_name="sex", comparison_levels=[
        cll.NullLevel("sex"), cll.ExactMatchLevel("sex"),
        cll.ElseLevel().configure(m_probability=KEYING_ERROR_M, fix_m_probability=True)])


#: Training: the prior from records agreeing on name and date of birth; m by EM in two sessions, one
#: fixing the date of birth (learning names and address), one fixing the names (learning the rest); both
#: on a random 50,000 records at most, so that training costs the same at a million records as at 50,000;
#: u from a million random pairs. Halved from 100,000 records and 2 M pairs on the 1M set of seed 12:
#: training 10.6 -> 6.8 s of CPU, pairwise F1 0.98855 -> 0.98852 (bench/partner_linkage.py).
PARTNER_TRAINING: Final = TrainingPlan(
    u_max_pairs=1e6,
    deterministic_rules=(
        "l.forename = r.forename AND l.surname = r.surname AND l.date_of_birth = r.date_of_birth",
        "l.forename = r.surname AND l.surname = r.forename AND l.date_of_birth = r.date_of_birth",
    ),
    deterministic_recall=0.6,
    em_blocks=("l.date_of_birth = r.date_of_birth", "l.forename = r.forename AND l.surname = r.surname"),
    training_records=50_000,
)


def partner_person_settings(link_type: LinkType = "dedupe_only", retain_columns: bool = True) -> SettingsCreator:
    """The Fellegi-Sunter model for partners' person records (deduplicated together, across agencies).

    ``retain_columns``: keep each pair's compared values and per-comparison weights in the predictions (what
    explaining a link reads); without them a million records' scored pairs take a fraction of the memory.
    """
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES.values()),
        comparisons=person_comparisons(),
        retain_intermediate_calculation_columns=retain_columns,
        retain_matching_columns=retain_columns,
    )
