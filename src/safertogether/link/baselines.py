"""The anchors our person model is measured beside, run on the same prepared records in the same process.

- Splink's own FEBRL example model (its demo notebooks' blocking rules and comparisons, less ``soc_sec_id``,
  which the benchmark withholds), trained with the same plan as ours: the difference is the model.
- recordlinkage's ECM classifier (unsupervised Fellegi-Sunter on binary features) over the classic
  standard blocks, each block's pairs fully compared: given name, surname, postcode, date of birth.
- For partners' records, the exact match on surname, forename and date of birth that many case-management
  systems use: what it misses, and how much of that the linker recovers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import splink.comparison_library as cl
from splink import SettingsCreator

from safertogether.link.evaluate import PairwiseScore, cluster_score, grouping_pairs_sql
from safertogether.link.records import LinkType, RecordSet
from safertogether.link.settings import NAME_AND_BIRTH_COMPARISONS

SPLINK_EXAMPLE_BLOCKING_RULES = (
    "l.given_name = r.given_name AND l.surname = r.surname",
    "l.given_name = r.surname AND l.surname = r.given_name",
    "l.date_of_birth = r.date_of_birth",
    "l.state = r.state AND l.address_1 = r.address_1",
    "l.street_number = r.street_number AND l.address_1 = r.address_1",
    "l.postcode = r.postcode",
)

RECORDLINKAGE_BLOCKS = ("given_name", "surname", "postcode", "date_of_birth")
# (column, method): "exact" or a Jaro-Winkler string comparison binarised at 0.85, as in recordlinkage's guide.
RECORDLINKAGE_FEATURES = (("given_name", "exact"), ("surname", "jarowinkler"), ("date_of_birth", "exact"),
                          ("suburb", "exact"), ("state", "exact"), ("address_1", "jarowinkler"),
                          ("street_number", "exact"), ("postcode", "exact"))


def splink_example_settings(link_type: LinkType) -> SettingsCreator:
    """Splink's FEBRL example model without ``soc_sec_id``."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=list(SPLINK_EXAMPLE_BLOCKING_RULES),
        comparisons=[*NAME_AND_BIRTH_COMPARISONS,
                     cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True)],
    )


def recordlinkage_ecm(records: RecordSet) -> str:
    """Classify the blocked pairs with recordlinkage's ECM; a table of every blocked pair, weight 1 if linked.

    The table has the shape of Splink's predictions (``unique_id_l``, ``unique_id_r``, ``match_weight``), so
    :mod:`safertogether.link.evaluate` measures it as it measures ours, at match weight 0.
    """
    import pandas as pd
    import recordlinkage

    frames = [records.connection.table(t).df().set_index("unique_id") for t in records.tables]
    indexer = recordlinkage.Index()
    for column in RECORDLINKAGE_BLOCKS:
        indexer.block(column)
    pairs = indexer.index(*frames)
    features = _compare(recordlinkage.Compare()).compute(pairs, *frames)
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    scored = pd.DataFrame({"unique_id_l": pairs.get_level_values(0), "unique_id_r": pairs.get_level_values(1),
                           "match_weight": pairs.isin(matches).astype(float) * 2 - 1})
    records.connection.register("ecm_scored", scored)
    records.connection.execute("CREATE OR REPLACE TABLE ecm_predictions AS SELECT * FROM ecm_scored")
    records.connection.unregister("ecm_scored")
    return "ecm_predictions"


def _compare(compare: Any) -> Any:
    for column, method in RECORDLINKAGE_FEATURES:
        if method == "exact":
            compare.exact(column, column, label=column)
        else:
            compare.string(column, column, method=method, threshold=0.85, label=column)
    return compare


#: The rule many case-management systems link people by: the same surname, forename and date of birth.
EXACT_MATCH_KEY = ("surname", "forename", "date_of_birth")


@dataclass(frozen=True)
class ExactMatchComparison:
    """What the exact match on surname, forename and date of birth links, beside what the linker links.

    Counted in true pairs of records (two records of one person): ``missed_by_exact`` are the true pairs the
    exact match does not link (even through a third record); ``recovered_by_linker`` those of them the
    linker's clusters link; ``lost_by_linker`` the true pairs the exact match links and the linker does not.
    """

    exact: PairwiseScore
    linker: PairwiseScore
    missed_by_exact: int
    recovered_by_linker: int
    lost_by_linker: int

    def as_json(self) -> dict[str, Any]:
        return {"exact_match": self.exact.as_json(), "linker": self.linker.as_json(),
                "true_pairs": self.exact.true_positives + self.exact.false_negatives,
                "missed_by_exact": self.missed_by_exact, "recovered_by_linker": self.recovered_by_linker,
                "lost_by_linker": self.lost_by_linker}


def exact_match_clusters(records: RecordSet) -> str:
    """Records grouped by exact surname, forename and date of birth (cleaned: case and spacing ignored, as
    generous to the rule as can be); a record lacking any of the three stays alone. A table like Splink's."""
    key = ", ".join(EXACT_MATCH_KEY)
    complete = " AND ".join(f"{c} IS NOT NULL" for c in EXACT_MATCH_KEY)
    records.connection.execute(f"""
        CREATE OR REPLACE TABLE exact_match_clusters AS
        SELECT unique_id, CASE WHEN {complete} THEN min(unique_id) OVER (PARTITION BY {key}) ELSE unique_id END
               AS cluster_id
        FROM {records.tables[0]}""")
    return "exact_match_clusters"


def compare_with_exact_match(records: RecordSet, clusters: str) -> ExactMatchComparison:
    """The exact match's clusters and the linker's ``clusters`` (unique_id, cluster_id), each against the truth.

    Needs the ``true_pairs`` table (:func:`safertogether.link.evaluate.create_true_pairs`).
    """
    exact = exact_match_clusters(records)
    missed, recovered, lost = records.connection.execute(f"""
        WITH e AS ({grouping_pairs_sql(records, exact, 'cluster_id')}),
             k AS ({grouping_pairs_sql(records, clusters, 'cluster_id')}),
             t AS (SELECT t.id_l, t.id_r, e.id_l IS NOT NULL AS by_exact, k.id_l IS NOT NULL AS by_linker
                   FROM true_pairs t LEFT JOIN e USING (id_l, id_r) LEFT JOIN k USING (id_l, id_r))
        SELECT count(*) FILTER (WHERE NOT by_exact), count(*) FILTER (WHERE NOT by_exact AND by_linker),
               count(*) FILTER (WHERE by_exact AND NOT by_linker) FROM t""").fetchall()[0]
    return ExactMatchComparison(cluster_score(records, exact), cluster_score(records, clusters), missed, recovered,
                                lost)
