"""``safer link benchmark``: link FEBRL3, FEBRL4 or a table with a truth column and measure against the truth.

The operating threshold is fixed in advance (match weight 0, i.e. match probability 0.5) unless the caller
gives one, so the F1 reported is never tuned on the set it is scored on; the best F1 across thresholds is
reported beside it, labelled as the oracle it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safertogether.link.evaluate import (
    BCubedScore,
    PairwiseScore,
    bcubed_score,
    best_threshold,
    blocking_recall,
    cluster_score,
    create_true_pairs,
    rules_blocking_recall,
    score_at,
    threshold_curve,
)
from safertogether.link.model import Engine, LinkageRun, link_records
from safertogether.link.records import FEBRL_DATASETS, RecordSet, load_febrl, load_table
from safertogether.link.settings import BLOCKING_RULES, TrainingPlan

if TYPE_CHECKING:
    from splink import Linker

FIXED_THRESHOLD = 0.0
FIXED_THRESHOLD_REASON = "fixed in advance: match weight 0 (match probability 0.5)"
CURVE_WEIGHTS = [float(w) for w in range(-10, 21, 2)]


@dataclass
class BenchmarkReport:
    """Figures of one benchmark run; :meth:`as_json` is what ``safer link benchmark --json`` prints."""

    dataset: str
    link_type: str
    records: int
    seconds: float
    threshold_match_weight: float
    threshold_chosen_on: str
    score: PairwiseScore
    blocking_recall: float
    blocked_pairs: int
    true_pairs: int
    curve: list[PairwiseScore]
    oracle: PairwiseScore
    clusters: PairwiseScore | None = None
    cluster_count: int | None = None
    bcubed: BCubedScore | None = None
    blocking_rules: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        clusters = None if self.clusters is None else {**self.clusters.as_json(), "clusters": self.cluster_count,
                                                       "bcubed": self.bcubed.as_json() if self.bcubed else None}
        return {
            "dataset": self.dataset, "link_type": self.link_type, "records": self.records,
            "precision": round(self.score.precision, 5), "recall": round(self.score.recall, 5),
            "f1": round(self.score.f1, 5), "blocking_recall": round(self.blocking_recall, 5),
            "threshold": _probability(self.threshold_match_weight),
            "threshold_match_weight": self.threshold_match_weight, "threshold_chosen_on": self.threshold_chosen_on,
            "true_pairs": self.true_pairs, "blocked_pairs": self.blocked_pairs,
            "blocking_rules": self.blocking_rules, "seconds": round(self.seconds, 2),
            "pairwise": self.score.as_json(), "clusters": clusters,
            "f1_across_thresholds": [s.as_json() for s in self.curve],
            "oracle_best_threshold_on_this_set": self.oracle.as_json(), **self.extra,
        }


def blocking_rule_names(linker: Linker) -> list[str]:
    """The blocking rules of the model that ran, by name where the rule is one of ours, else as SQL."""
    from safertogether.link.person_model import BLOCKING_RULES as PARTNER_RULES

    names = {sql: name for rules in (BLOCKING_RULES, PARTNER_RULES) for name, sql in rules.items()}
    rules = linker._settings_obj._blocking_rules_to_generate_predictions  # Splink keeps them nowhere public
    return [names.get(rule.blocking_rule_sql, rule.blocking_rule_sql) for rule in rules]


def _rule_sqls(linker: Linker) -> list[str]:
    return [rule.blocking_rule_sql for rule in linker._settings_obj._blocking_rules_to_generate_predictions]


def _probability(match_weight: float) -> float:
    return round(2**match_weight / (1 + 2**match_weight), 6)


def load_source(source: str | Path, truth_column: str | None = None) -> RecordSet:
    """``febrl3``, ``febrl4`` or the path of a CSV/Parquet table whose ``truth_column`` holds the entity."""
    if str(source) in FEBRL_DATASETS:
        return load_febrl(str(source))
    from safertogether.errors import BadRequestError

    if not truth_column and Path(source).is_file():
        raise BadRequestError(f"{source}: give --truth-column, the column holding each record's true entity")
    return load_table(Path(source), truth_column or "")  # a missing file is reported before a missing option


def run_benchmark(source: str | Path, truth_column: str | None = None, threshold_match_weight: float | None = None,
                  plan: TrainingPlan | None = None, engine: Engine = "duckdb") -> BenchmarkReport:
    """Link ``source`` with the person model and measure it against the truth.

    Args:
        source: ``febrl3``, ``febrl4`` or a CSV/Parquet path with FEBRL's columns.
        truth_column: for a path, the column holding the true entity of each record.
        threshold_match_weight: the operating threshold; match weight 0 (probability 0.5) if not given.
        plan: the training plan (seed, sample sizes); the default plan if not given.
        engine: ``duckdb`` or ``spark`` (:func:`safertogether.link.link_records`).

    Returns:
        The figures, with the threshold's provenance in ``threshold_chosen_on``.
    """
    started = time.perf_counter()
    run = link_records(load_source(source, truth_column), plan, engine=engine)
    chosen_on = FIXED_THRESHOLD_REASON if threshold_match_weight is None else "given by the caller"
    threshold = FIXED_THRESHOLD if threshold_match_weight is None else threshold_match_weight
    report = measure_run(run, threshold, chosen_on, started)
    report.extra["engine"] = engine
    return report


def measure_run(run: LinkageRun, threshold_match_weight: float = FIXED_THRESHOLD,
                threshold_chosen_on: str = FIXED_THRESHOLD_REASON, started: float | None = None) -> BenchmarkReport:
    """Measure a trained run against its record set's truth at ``threshold_match_weight``.

    ``threshold_chosen_on`` says where the threshold came from, and is reported as given.
    """
    records, predictions = run.records, run.predictions_table
    connection = records.connection
    create_true_pairs(records)
    score = score_at(connection, predictions, threshold_match_weight)
    clusters, cluster_count, bcubed = None, None, None
    recall_of_blocking = blocking_recall(connection, predictions)
    if records.link_type == "dedupe_only":
        table = run.clusters(_probability(threshold_match_weight))
        clusters, bcubed = cluster_score(records, table), bcubed_score(records, table)
        cluster_count = int(connection.execute(f"SELECT count(DISTINCT cluster_id) FROM {table}").fetchall()[0][0])
        # From the records: right even when the predictions were kept above a threshold.
        recall_of_blocking = rules_blocking_recall(records, _rule_sqls(run.linker))
    return BenchmarkReport(
        dataset=records.name, link_type=records.link_type, records=records.records,
        seconds=time.perf_counter() - (started or time.perf_counter()), threshold_match_weight=threshold_match_weight,
        threshold_chosen_on=threshold_chosen_on, score=score, blocking_recall=recall_of_blocking,
        blocked_pairs=int(connection.execute(f"SELECT count(*) FROM {predictions}").fetchall()[0][0]),
        true_pairs=score.true_positives + score.false_negatives,
        curve=threshold_curve(connection, predictions, CURVE_WEIGHTS),
        oracle=best_threshold(connection, predictions), clusters=clusters, cluster_count=cluster_count,
        bcubed=bcubed, blocking_rules=blocking_rule_names(run.linker))
