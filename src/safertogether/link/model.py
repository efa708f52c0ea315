"""Train the person model on a record set, score the blocked pairs and cluster them (Splink on DuckDB or Spark)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from splink import DuckDBAPI, Linker, SettingsCreator
from splink.internals.splink_dataframe import SplinkDataFrame

from safertogether.errors import BadRequestError
from safertogether.link.blocked_pairs import blocked_pairs_sql
from safertogether.link.components import connected_components
from safertogether.link.records import LinkType, RecordSet, registered
from safertogether.link.settings import TrainingPlan, person_settings

# DuckDB in this process by default; Spark in local mode (link/spark.py) for national scale.
Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")


@dataclass
class LinkageRun:
    """A trained linker over a record set and the table of every blocked pair, scored."""

    records: RecordSet
    linker: Linker
    predictions: SplinkDataFrame

    @property
    def predictions_table(self) -> str:
        return self.predictions.physical_name

    def clusters(self, threshold_match_probability: float) -> str:
        """Connected components of the pairs at or above the threshold: a table of unique_id, cluster_id.

        A deduplication is clustered in memory (:mod:`safertogether.link.components`, the same clusters
        with the same names as Splink's); a linkage of two tables by Splink, which keeps their ids apart.
        """
        if self.records.link_type != "dedupe_only":
            clusters = self.linker.clustering.cluster_pairwise_predictions_at_threshold(
                self.predictions, threshold_match_probability=threshold_match_probability)
            return clusters.physical_name
        connection = self.records.connection
        edges = connection.sql(f"SELECT unique_id_l, unique_id_r FROM {self.predictions_table} "
                               f"WHERE match_probability >= {float(threshold_match_probability)}").to_arrow_table()
        nodes = connection.sql(f"SELECT unique_id FROM {self.records.tables[0]}").to_arrow_table()
        found = connected_components(nodes.column(0), edges.column(0), edges.column(1))
        name = f"clusters_at_{round(threshold_match_probability * 1e9)}"
        with registered(connection, "found_clusters", found):
            connection.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM found_clusters")
        return name

    def entity_ids(self, threshold_match_probability: float = 0.5) -> dict[str, str]:
        """Each record's entity id (its cluster's id) when pairs at or above the threshold are joined."""
        table = self.clusters(threshold_match_probability)
        rows = self.records.connection.execute(f"SELECT unique_id, cluster_id FROM {table}").fetchall()
        return {str(unique_id): str(cluster_id) for unique_id, cluster_id in rows}


def link_records(records: RecordSet, plan: TrainingPlan | None = None,
                 settings: Callable[[LinkType], SettingsCreator] = person_settings,
                 threshold_match_weight: float | None = None, engine: Engine = "duckdb",
                 progress: Callable[[str], None] | None = None) -> LinkageRun:
    """Train the model on ``records`` (u by random sampling, m by EM) and score every blocked pair.

    Args:
        records: the prepared tables (one to deduplicate, two to link).
        plan: seeds, sample sizes and EM blocks; :class:`TrainingPlan`'s defaults if not given.
        settings: the model for the record set's link type; the person model if not given.
        threshold_match_weight: keep only the pairs scoring at least this (all blocked pairs if None):
            at a million records most blocked pairs are plainly not matches, and not storing them saves
            time and memory.
        engine: ``duckdb`` (in this process) or ``spark`` (local mode; needs Java and the ``spark`` extra).
        progress: called with the name of each step as it starts ("training", "blocking", "scoring").

    Returns:
        The run: the trained linker and the blocked pairs with their match weight and probability.
    """
    plan = plan or TrainingPlan()
    say = progress or (lambda _step: None)
    say("training")
    if engine == "spark":
        from safertogether.link.spark import SparkLinkageRun, spark_linker

        linker = spark_linker(records, settings(records.link_type))
        _train(linker, plan)
        return SparkLinkageRun(records, linker, linker.inference.predict(
            threshold_match_weight=threshold_match_weight, warning_mode="never"))
    if engine != "duckdb":
        raise BadRequestError(f"unknown linkage engine {engine!r}: give one of {', '.join(ENGINES)}")
    creator = settings(records.link_type)
    linker = _trained_linker(records, creator, plan)
    say("blocking")
    _register_blocked_pairs(linker, records, creator)
    say("scoring")
    predictions = linker.inference.predict(threshold_match_weight=threshold_match_weight, warning_mode="never")
    return LinkageRun(records, linker, predictions)


def _register_blocked_pairs(linker: Linker, records: RecordSet, settings: SettingsCreator) -> None:
    """Give the linker the blocked pairs of a deduplication, made by :mod:`safertogether.link.blocked_pairs`
    (the same pairs as Splink's blocking, with less CPU for the step); for other rules Splink blocks itself."""
    rules = settings.blocking_rules_to_generate_predictions
    steps = None
    if records.link_type == "dedupe_only" and all(isinstance(rule, str) for rule in rules):
        steps = blocked_pairs_sql([str(rule) for rule in rules], records.tables[0])
    if steps is None:
        return
    connection = records.connection
    for name, sql in steps:
        connection.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")
    for name, _sql in steps[:-1]:
        connection.execute(f"DROP TABLE {name}")
    pairs = DuckDBAPI(connection=connection).register(connection.table(steps[-1][0]), table_name="blocked_pairs")
    linker.table_management.register_blocked_pairs_for_predict(pairs)


def _trained_linker(records: RecordSet, settings: SettingsCreator, plan: TrainingPlan) -> Linker:
    """A linker over all records whose model was trained on ``plan.training_records`` of them (or all)."""
    if plan.training_records is None or records.link_type != "dedupe_only" or records.records <= plan.training_records:
        linker = _linker(records, settings)
        _train(linker, plan)
        return linker
    table = records.tables[0]
    records.connection.execute(f"""CREATE OR REPLACE TABLE {table}_training AS SELECT * FROM {table}
        USING SAMPLE reservoir({int(plan.training_records)} ROWS) REPEATABLE ({plan.seed})""")
    trainer = _linker(records, settings, tables=(f"{table}_training",))
    _train(trainer, plan)
    return _linker(records, trainer.misc.save_model_to_json())


def _linker(records: RecordSet, settings: SettingsCreator | dict[str, Any],
            tables: tuple[str, ...] | None = None) -> Linker:
    db_api = DuckDBAPI(connection=records.connection)
    tables = [db_api.register(records.connection.table(t), table_name=f"{t}_input")
              for t in tables or records.tables]
    # Splink logs every training step at INFO; the CLI and benchmarks report their own figures.
    return Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.WARNING)


def _train(linker: Linker, plan: TrainingPlan) -> None:
    training = linker.training
    training.estimate_probability_two_random_records_match(list(plan.deterministic_rules),
                                                           recall=plan.deterministic_recall)
    training.estimate_u_using_random_sampling(max_pairs=plan.u_max_pairs, seed=plan.seed)
    for block in plan.em_blocks:
        training.estimate_parameters_using_expectation_maximisation(block)
