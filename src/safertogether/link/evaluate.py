"""Pairwise precision, recall and F1 of a linkage run against the truth, at a threshold and across thresholds.

A pair is a pair of records (across the two tables when linking, within the table when deduplicating);
the true pairs are those whose records share an entity. Recall is over all true pairs, including those no
blocking rule generated, so ``blocking_recall`` is the ceiling of every recall here.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from safertogether.link.records import RecordSet


@dataclass(frozen=True)
class PairwiseScore:
    """The confusion counts and measures of the pairs predicted at one threshold."""

    threshold_match_weight: float | None
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "precision": round(self.precision, 5), "recall": round(self.recall, 5),
                "f1": round(self.f1, 5)}


def grouping_pairs_sql(records: RecordSet, grouping: str, group_column: str) -> str:
    """Record pairs that share ``group_column`` in ``grouping`` (a table with unique_id), as (id_l, id_r)."""
    across = "l.source < r.source" if records.link_type == "link_only" else "l.unique_id < r.unique_id"
    return f"""
        WITH g AS (SELECT t.unique_id, t.source, x.{group_column} AS grp
                   FROM {records.truth_table} t JOIN {grouping} x USING (unique_id))
        SELECT least(l.unique_id, r.unique_id) AS id_l, greatest(l.unique_id, r.unique_id) AS id_r
        FROM g l JOIN g r ON l.grp = r.grp AND {across}"""


def create_true_pairs(records: RecordSet) -> str:
    records.connection.execute(
        f"CREATE OR REPLACE TABLE true_pairs AS {grouping_pairs_sql(records, records.truth_table, 'entity')}")
    return "true_pairs"


def _scored_pairs_sql(predictions: str) -> str:
    """Every blocked pair with its match weight and whether it is true."""
    return f"""
        SELECT p.match_weight, t.id_l IS NOT NULL AS is_true
        FROM {predictions} p LEFT JOIN true_pairs t
          ON t.id_l = least(p.unique_id_l, p.unique_id_r) AND t.id_r = greatest(p.unique_id_l, p.unique_id_r)"""


def _count(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(connection.execute(sql).fetchall()[0][0])


def blocking_recall(connection: duckdb.DuckDBPyConnection, predictions: str) -> float:
    """Share of the true pairs that the blocking rules generate (whatever their score)."""
    found = _count(connection, f"SELECT count(*) FILTER (WHERE is_true) FROM ({_scored_pairs_sql(predictions)})")
    return found / max(_count(connection, "SELECT count(*) FROM true_pairs"), 1)


def score_at(connection: duckdb.DuckDBPyConnection, predictions: str, threshold_match_weight: float) -> PairwiseScore:
    """Pairs with match weight >= the threshold counted against the truth."""
    return threshold_curve(connection, predictions, [threshold_match_weight])[0]


def threshold_curve(connection: duckdb.DuckDBPyConnection, predictions: str,
                    thresholds: list[float]) -> list[PairwiseScore]:
    """:class:`PairwiseScore` at each match-weight threshold, in one pass over the scored pairs."""
    total_true = _count(connection, "SELECT count(*) FROM true_pairs")
    rows = connection.execute(f"""
        SELECT th.t, count(*) FILTER (WHERE s.is_true), count(*) FILTER (WHERE NOT s.is_true)
        FROM unnest(?::DOUBLE[]) AS th(t) LEFT JOIN ({_scored_pairs_sql(predictions)}) s ON s.match_weight >= th.t
        GROUP BY th.t ORDER BY th.t""", [thresholds]).fetchall()
    return [PairwiseScore(t, tp, fp, total_true - tp) for t, tp, fp in rows]


def best_threshold(connection: duckdb.DuckDBPyConnection, predictions: str) -> PairwiseScore:
    """The match-weight threshold with the highest F1 on this set: an oracle, never an operating point here."""
    total_true = _count(connection, "SELECT count(*) FROM true_pairs")
    threshold, tp, fp = connection.execute(f"""
        WITH s AS ({_scored_pairs_sql(predictions)}),
        cumulative AS (
            SELECT match_weight, sum(is_true::INT) OVER w AS tp, sum((NOT is_true)::INT) OVER w AS fp
            FROM s WINDOW w AS (ORDER BY match_weight DESC RANGE UNBOUNDED PRECEDING))
        SELECT match_weight, tp, fp FROM cumulative
        ORDER BY 2 * tp / (2 * tp + fp + ? - tp) DESC, abs(match_weight) LIMIT 1""", [total_true]).fetchall()[0]
    return PairwiseScore(round(threshold, 3), int(tp), int(fp), total_true - int(tp))


def cluster_score(records: RecordSet, clusters: str) -> PairwiseScore:
    """The pairs implied by the clusters (every two records of one cluster) counted against the truth."""
    connection = records.connection
    counts = connection.execute(f"""
        WITH c AS ({grouping_pairs_sql(records, clusters, 'cluster_id')})
        SELECT count(*) FILTER (WHERE t.id_l IS NOT NULL), count(*) FILTER (WHERE t.id_l IS NULL),
               (SELECT count(*) FROM true_pairs)
        FROM c LEFT JOIN true_pairs t USING (id_l, id_r)""").fetchall()[0]
    return PairwiseScore(None, counts[0], counts[1], counts[2] - counts[0])


@dataclass(frozen=True)
class BCubedScore:
    """B-cubed precision and recall: per record, the share of its cluster that is its entity and the share
    of its entity that is in its cluster, averaged over records. Unlike pairwise counts, a big wrong merge
    and a small one weigh by the records they touch, not by the square of the cluster's size."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"precision": round(self.precision, 5), "recall": round(self.recall, 5), "f1": round(self.f1, 5)}


def bcubed_score(records: RecordSet, clusters: str) -> BCubedScore:
    """B-cubed precision and recall of ``clusters`` (unique_id, cluster_id) against the truth table."""
    precision, recall = records.connection.execute(f"""
        WITH r AS (SELECT t.entity, c.cluster_id FROM {records.truth_table} t JOIN {clusters} c USING (unique_id)),
        both_ AS (SELECT entity, cluster_id, count(*) AS n FROM r GROUP BY ALL),
        sized AS (SELECT b.n, sum(b.n) OVER (PARTITION BY cluster_id) AS in_cluster,
                         sum(b.n) OVER (PARTITION BY entity) AS in_entity FROM both_ b)
        SELECT sum(n * n / in_cluster) / sum(n), sum(n * n / in_entity) / sum(n) FROM sized""").fetchall()[0]
    return BCubedScore(float(precision or 0.0), float(recall or 0.0))


def _true_pair_records_sql(records: RecordSet) -> str:
    table = records.tables[0]
    return f"true_pairs t JOIN {table} l ON l.unique_id = t.id_l JOIN {table} r ON r.unique_id = t.id_r"


def rules_blocking_recall(records: RecordSet, rules: list[str]) -> float:
    """Share of the true pairs that at least one blocking rule (SQL on ``l`` and ``r``) generates.

    Read from the records, not the predictions, so it holds when predictions were kept above a threshold.
    Deduplication only (one table); :func:`blocking_recall` reads it from unthresholded predictions.
    """
    holds = " OR ".join(f"coalesce(({rule}), false) OR coalesce(({_swap_sides(rule)}), false)" for rule in rules)
    found = _count(records.connection, f"SELECT count(*) FROM {_true_pair_records_sql(records)} WHERE {holds}")
    return found / max(_count(records.connection, "SELECT count(*) FROM true_pairs"), 1)


def _swap_sides(rule: str) -> str:
    """The rule with ``l`` and ``r`` exchanged (a pair is generated whichever record comes first)."""
    return re.sub(r"\b([lr])\.", lambda m: ("r." if m.group(1) == "l" else "l."), rule)


def pairs_per_rule(records: RecordSet, rules: dict[str, str]) -> list[dict[str, Any]]:
    """For each rule in order: the pairs it generates, those no earlier rule generated, and the true ones."""
    table, earlier, rows = records.tables[0], [], []
    for name, rule in rules.items():
        new = " AND ".join(f"NOT coalesce(({e}), false)" for e in earlier) or "true"
        pairs, marginal, true = records.connection.execute(f"""
            SELECT count(*), count(*) FILTER (WHERE {new}), count(t.id_l)
            FROM {table} l JOIN {table} r ON l.unique_id < r.unique_id AND ({rule})
            LEFT JOIN true_pairs t ON t.id_l = l.unique_id AND t.id_r = r.unique_id""").fetchall()[0]
        rows.append({"rule": name, "pairs": pairs, "new_pairs": marginal, "true_pairs": true})
        earlier.append(rule)
    return rows
