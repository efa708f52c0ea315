"""``safer link run``: partners' person records linked into people, stored with ids that stay put.

A run is full (train the model, score every blocked pair) the first time, or when asked; after that it
is incremental: only records new since the last run are scored, against everyone and among
themselves, with the model the last full run trained, and their pairs are added to the stored graph.
A record whose agency sent it again with other details keeps its earlier pairs until a ``--full`` run.
Either way the people are the connected components of the graph's pairs at or above the threshold,
after the reviewers' decisions (:mod:`safertogether.link.review`): a pair judged the same person is
joined whatever its score, a pair judged different is never joined directly. Ids carry over from the
last run (:mod:`safertogether.link.stable_ids`), and the whole result is written in one transaction.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from safertogether.errors import BadRequestError, MissingDataError, NotFoundError
from safertogether.link.components import connected_components
from safertogether.link.partners import load_person_records
from safertogether.link.person_model import PARTNER_TRAINING, partner_person_settings
from safertogether.link.records import RecordSet, registered
from safertogether.link.stable_ids import Assignment, assign_person_ids

if TYPE_CHECKING:
    from splink import DuckDBAPI, Linker

    from safertogether.link.explain import PairExplanation
    from safertogether.link.settings import TrainingPlan
    from safertogether.store.warehouse import Warehouse

#: Match probability at or above which two records are the same person (fixed on seed 7 of the generator).
THRESHOLD: Final = 0.9
#: Pairs from here up to the threshold are kept for review; below it they are not stored.
REVIEW_FLOOR: Final = 0.5
Progress = Callable[[str], None]


@dataclass(frozen=True)
class PeopleLinkReport:
    """What a run did; :meth:`as_json` is what ``safer link run --json`` prints."""

    run_id: int
    mode: str
    records: int
    new_records: int
    removed_records: int
    scored_pairs: int
    people: int
    new_people: int
    merges: int
    splits: int
    threshold: float
    review_floor: float
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def link_people(warehouse: Warehouse, *, full: bool = False, threshold: float = THRESHOLD,
                review_floor: float = REVIEW_FLOOR, plan: TrainingPlan | None = None,
                progress: Progress | None = None) -> PeopleLinkReport:
    """Link every person record in the warehouse into people and store them (see the module docstring).

    Args:
        warehouse: opened for writing; its ``person_records`` come from ``safer import partner``.
        full: retrain and rescore everything even when an earlier run's model could be reused.
        threshold: match probability at or above which a pair joins two records into one person.
        review_floor: pairs scored from here up to ``threshold`` are stored for review.
        plan: the training plan of a full run; the partner model's own if not given.
        progress: called with a short description of each step.

    Returns:
        The run's figures.
    """
    if not 0 < review_floor <= threshold <= 1:
        raise BadRequestError(f"the threshold ({threshold}) must be a probability of at least the review floor "
                              f"({review_floor}): pairs below the floor are not kept")
    started = time.perf_counter()
    say = progress or (lambda _step: None)
    say("reading person records")
    records = load_person_records(warehouse)
    previous = _previous_ids(warehouse)
    last_model = _last_model(warehouse)
    connection = records.connection
    with registered(connection, "previous_ids", previous):
        connection.execute("""CREATE OR REPLACE TABLE new_people AS
            SELECT p.* FROM people p ANTI JOIN previous_ids k ON k.record_key = p.unique_id""")
        removed = connection.execute(
            "SELECT count(*) FROM previous_ids k ANTI JOIN people p ON k.record_key = p.unique_id").fetchall()[0][0]
    new_records = connection.execute("SELECT count(*) FROM new_people").fetchall()[0][0]
    mode = "full" if full or last_model is None else "incremental"
    if mode == "full":
        say(f"training the model and scoring every blocked pair of {records.records:,} records")
        model_json, pairs = _score_all(records, plan or PARTNER_TRAINING, review_floor, say)
    else:
        say(f"scoring {new_records:,} new records against {records.records - new_records:,}")
        model_json = last_model
        pairs = _score_new(records, json.loads(model_json), review_floor)
    say("clustering into people")
    edges = _edges(warehouse, connection, pairs, keep_stored=mode == "incremental")
    clusters = _clusters(connection, edges, _decisions(warehouse), threshold)
    say("giving stable person ids")
    assignment = assign_person_ids(clusters, dict(zip(previous["record_key"].to_pylist(),
                                                      previous["person_id"].to_pylist(), strict=True)),
                                   _next_person_number(warehouse))
    say("storing people")
    report = PeopleLinkReport(0, mode, records.records, new_records, removed, pairs.num_rows,
                              len(set(assignment.person_of.values())), assignment.new_people, assignment.merges,
                              assignment.splits, threshold, review_floor, 0.0)
    return _store(warehouse, report, model_json, edges, assignment, started)


def _last_model(warehouse: Warehouse) -> str | None:
    """The model the last full run trained, as Splink's JSON, or None before the first run."""
    row = warehouse.row("SELECT model_json FROM link_runs WHERE mode = 'full' ORDER BY run_id DESC LIMIT 1")
    return None if row is None else str(row[0])


def _previous_ids(warehouse: Warehouse) -> pa.Table:
    return warehouse.query_arrow("SELECT record_key, person_id FROM person_ids")


_PAIR_COLUMNS: Final = "unique_id_l AS record_l, unique_id_r AS record_r, match_weight, match_probability"


def _score_all(records: RecordSet, plan: TrainingPlan, review_floor: float,
               progress: Progress | None = None) -> tuple[str, pa.Table]:
    """Train the partner model and score every blocked pair; the model as JSON and the pairs kept."""
    from safertogether.link.model import link_records

    floor_weight = math.log2(review_floor / (1 - review_floor))  # pairs below the floor are never materialised
    # Scored without each pair's compared values and partial weights (only the pair's weight is kept: 10 s of
    # CPU at a million records); the stored model keeps them, as explaining a link reads them.
    settings = functools.partial(partner_person_settings, retain_columns=False)
    run = link_records(records, plan, settings, threshold_match_weight=floor_weight, progress=progress)
    pairs = records.connection.sql(
        f"SELECT {_PAIR_COLUMNS} FROM {run.predictions_table} WHERE match_probability >= {float(review_floor)}"
    ).to_arrow_table()
    model = run.linker.misc.save_model_to_json()
    model.update(retain_intermediate_calculation_columns=True, retain_matching_columns=True)
    return json.dumps(model), pairs


def _score_new(records: RecordSet, model: dict[str, Any], review_floor: float) -> pa.Table:
    """Pairs of each new record with every other record (old or new), scored by the stored model."""
    connection = records.connection
    if connection.execute("SELECT count(*) FROM new_people").fetchall()[0][0] == 0:
        return _no_pairs()
    linker, db_api = _linker_with_model(records, model)
    for column in _tf_columns(model):
        linker.table_management.compute_tf_table(column)
    connection.execute(
        "CREATE OR REPLACE TABLE old_people AS SELECT * FROM people ANTI JOIN new_people USING (unique_id)")
    old = db_api.register(connection.table("old_people"), table_name="old_people_input")
    new = db_api.register(connection.table("new_people"), table_name="new_people_input")
    within = linker.inference.predict_within(new, threshold_match_probability=review_floor, warning_mode="never")
    between = linker.inference.predict_between(old, new, threshold_match_probability=review_floor,
                                               warning_mode="never")
    return connection.sql(f"""
        SELECT {_PAIR_COLUMNS} FROM {within.physical_name}
        UNION ALL SELECT {_PAIR_COLUMNS} FROM {between.physical_name}""").to_arrow_table()


def _linker_with_model(records: RecordSet, model: dict[str, Any]) -> tuple[Linker, DuckDBAPI]:
    """A linker over the prepared records with a stored (trained) model, and its DuckDB API for more tables."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection=records.connection)
    table = db_api.register(records.connection.table(records.tables[0]), table_name="people_input")
    return Linker(table, model, log_level=logging.WARNING), db_api


def explain_link(warehouse: Warehouse, record_a: str, record_b: str) -> PairExplanation:
    """Why the last model scores two stored records as it does: each comparison's level and weight.

    Any two records can be explained, linked or not; term frequencies are those of all records, as in a run.
    """
    from safertogether.link.explain import explain_records

    model = _last_model(warehouse)
    if model is None:
        raise MissingDataError("no trained model yet; run `safer link run` first")
    records = load_person_records(warehouse)
    linker, _db_api = _linker_with_model(records, json.loads(model))
    cursor = records.connection.execute("SELECT * FROM people WHERE unique_id IN (?, ?)", [record_a, record_b])
    names = [d[0] for d in cursor.description]
    found = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    for key in (record_a, record_b):
        if key not in found:
            raise NotFoundError(f"no person record {key!r}; records are named agency:record_id")
    return explain_records(linker, found[record_a], found[record_b])


def _tf_columns(model: dict[str, Any]) -> list[str]:
    """The columns whose term frequencies the model's levels use."""
    return sorted({level["tf_adjustment_column"] for comparison in model["comparisons"]
                   for level in comparison["comparison_levels"] if level.get("tf_adjustment_column")})


def _no_pairs() -> pa.Table:
    return pa.table({"record_l": pa.array([], pa.string()), "record_r": pa.array([], pa.string()),
                     "match_weight": pa.array([], pa.float64()), "match_probability": pa.array([], pa.float64())})


def _edges(warehouse: Warehouse, connection: Any, pairs: pa.Table, keep_stored: bool) -> pa.Table:
    """The graph's pairs: stored ones (incremental runs) between current records, plus this run's, ordered l < r."""
    if not keep_stored:
        # A full run's pairs are the run's alone, each once, between current records: only ordered here (a
        # union grouped by pair and checked against every record cost 2-3 s of CPU at a million records).
        with registered(connection, "scored", pairs):
            return connection.sql("""
                SELECT least(record_l, record_r) AS record_l, greatest(record_l, record_r) AS record_r,
                       match_weight, match_probability FROM scored""").to_arrow_table()
    stored = warehouse.query_arrow("SELECT record_l, record_r, match_weight, match_probability FROM person_links")
    with registered(connection, "scored", pairs), registered(connection, "stored", stored):
        return connection.sql("""
            WITH everything AS (SELECT * FROM stored UNION ALL SELECT * FROM scored)
            SELECT least(record_l, record_r) AS record_l, greatest(record_l, record_r) AS record_r,
                   max(match_weight) AS match_weight, max(match_probability) AS match_probability
            FROM everything
            WHERE record_l IN (SELECT unique_id FROM people) AND record_r IN (SELECT unique_id FROM people)
            GROUP BY ALL""").to_arrow_table()


def _decisions(warehouse: Warehouse) -> pa.Table:
    return warehouse.query_arrow("SELECT record_l, record_r, decision FROM link_decisions")


def _clusters(connection: Any, edges: pa.Table, decisions: pa.Table, threshold: float) -> dict[str, str]:
    """record -> cluster: connected components of the pairs at or above the threshold, after decisions.

    A pair a reviewer judged the same person joins whatever its score (if both records are still
    held); a pair judged different people is never an edge (they may still meet through others).
    """
    with registered(connection, "all_edges", edges), registered(connection, "decided", decisions):
        joining = connection.sql(f"""
            SELECT record_l, record_r FROM all_edges e WHERE match_probability >= {float(threshold)}
              AND NOT EXISTS (SELECT 1 FROM decided d WHERE d.decision = 'different'
                              AND d.record_l = e.record_l AND d.record_r = e.record_r)
            UNION ALL
            SELECT record_l, record_r FROM decided WHERE decision = 'same'""").to_arrow_table()
    nodes = connection.sql("SELECT unique_id FROM people").to_arrow_table().column(0)
    # A decision naming a record no longer held is not an edge: connected_components ignores it.
    found = connected_components(nodes, joining.column(0), joining.column(1))
    return dict(zip(found.column(0).to_pylist(), found.column(1).to_pylist(), strict=True))


def _next_person_number(warehouse: Warehouse) -> int:
    """One past the highest id ever given (retired ids included), so no id is ever reused."""
    highest = warehouse.scalar("""
        SELECT max(TRY_CAST(substr(person_id, 2) AS BIGINT)) FROM (
            SELECT person_id FROM person_ids UNION ALL SELECT person_id FROM person_id_events
            UNION ALL SELECT other_person_id FROM person_id_events)""")
    return int(highest or 0) + 1


def _store(warehouse: Warehouse, report: PeopleLinkReport, model_json: str, edges: pa.Table, assignment: Assignment,
           started: float) -> PeopleLinkReport:
    """The run, its pairs, people and id events, in one transaction; the report with its run id and time."""
    people = pa.table({"record_key": list(assignment.person_of), "person_id": list(assignment.person_of.values())})
    events = pa.table({"event": [e.event for e in assignment.events],
                       "person_id": [e.person_id for e in assignment.events],
                       "other_person_id": [e.other_person_id for e in assignment.events],
                       "records": pa.array([e.records for e in assignment.events], pa.int64())})
    with warehouse.transaction():
        run_id = int(warehouse.scalar("SELECT coalesce(max(run_id), 0) + 1 FROM link_runs"))
        warehouse.execute("DELETE FROM person_ids")
        with warehouse.registered("assigned", people):
            warehouse.execute("""
                INSERT INTO person_ids SELECT record_key, split_part(record_key, ':', 1),
                       substr(record_key, length(split_part(record_key, ':', 1)) + 2), person_id, ?
                FROM assigned""", [run_id])
        warehouse.execute("DELETE FROM person_links")
        with warehouse.registered("edges", edges):
            warehouse.execute("INSERT INTO person_links SELECT record_l, record_r, match_weight, match_probability, ? "
                              "FROM edges", [run_id])
        with warehouse.registered("events", events):
            warehouse.execute("INSERT INTO person_id_events SELECT ?, event, person_id, other_person_id, records "
                              "FROM events", [run_id])
        seconds = time.perf_counter() - started
        warehouse.execute("""
            INSERT INTO link_runs VALUES (?, ?, now() - to_microseconds(?::BIGINT), now(), ?, ?, ?, ?, ?, ?, ?, ?,
                                          ?, ?, ?, ?)""",
            [run_id, report.mode, int(seconds * 1e6), report.records, report.new_records, report.removed_records,
             report.scored_pairs, report.people, report.new_people, report.merges, report.splits,
             report.threshold, report.review_floor, model_json, round(seconds, 3)])
    return replace(report, run_id=run_id, seconds=round(time.perf_counter() - started, 3))
