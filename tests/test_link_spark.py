"""The Spark engine links as the DuckDB engine does: the same model on a small set gives the same people.

One local Spark session serves the module (it takes 15-45 s to start). Splink's ~500 small Spark jobs take a
while even on 400 records: the module runs in 112 s on this 2-core machine when it is otherwise idle (10 min when
it is shared), part of `make test` so CI exercises the Spark path. Skipped only where Java or pyspark is
missing, and never in CI (`make java` installs Java; pyspark is in the lock).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from safertogether.errors import BadRequestError
from safertogether.link.benchmark import measure_run
from safertogether.link.model import LinkageRun, link_records
from safertogether.link.records import febrl_folder, load_table
from safertogether.link.spark import spark_unavailable_reason

# FEBRL3's first people (entity ids below this), with every record of each: about 2.5 records a person.
PEOPLE = 150


def _require_spark() -> None:
    reason = spark_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FEBRL-shaped CSV of FEBRL3's first people, their true entity in the ``person`` column."""
    path = tmp_path_factory.mktemp("spark") / "febrl3_small.csv"
    duckdb.sql(f"""COPY (SELECT * FROM (
                   SELECT *, CAST(regexp_extract(rec_id, '^rec-(\\d+)', 1) AS INTEGER) AS person
                   FROM read_csv('{febrl_folder() / 'dataset3.csv'}', all_varchar = true)) WHERE person < {PEOPLE})
                   TO '{path}' (HEADER)""")
    return path


@pytest.fixture(scope="module")
def runs(small_set: Path) -> Iterator[dict[str, LinkageRun]]:
    _require_spark()
    yield {engine: link_records(load_table(small_set, "person"), engine=engine) for engine in ("duckdb", "spark")}


def _people(run: LinkageRun) -> set[frozenset[str]]:
    """The partition of the records into people at match probability 0.5, whatever the clusters are called."""
    members: dict[str, set[str]] = {}
    for unique_id, cluster_id in run.entity_ids(0.5).items():
        members.setdefault(cluster_id, set()).add(unique_id)
    return {frozenset(records) for records in members.values()}


@pytest.mark.spark
def test_spark_finds_the_same_people_as_duckdb(runs):
    duckdb_people, spark_people = _people(runs["duckdb"]), _people(runs["spark"])
    assert sum(len(p) for p in spark_people) == runs["spark"].records.records > 2 * PEOPLE
    assert spark_people == duckdb_people
    assert PEOPLE - 3 <= len(spark_people) <= PEOPLE + 3


@pytest.mark.spark
def test_spark_scores_the_same_pairs_to_the_same_verdict(runs):
    """Same blocked pairs; EM's floating point differs a little between engines, the links at 0.5 do not."""
    reports = {engine: measure_run(run) for engine, run in runs.items()}
    assert reports["spark"].blocked_pairs == reports["duckdb"].blocked_pairs
    assert reports["spark"].blocking_recall == reports["duckdb"].blocking_recall > 0.99
    assert reports["spark"].clusters == reports["duckdb"].clusters
    assert reports["spark"].score.f1 == pytest.approx(reports["duckdb"].score.f1, abs=0.005)


def test_an_unknown_engine_is_refused_with_the_choices(small_set):
    with pytest.raises(BadRequestError, match="duckdb, spark"):
        link_records(load_table(small_set, "person"), engine="flink")  # type: ignore[arg-type]


def test_without_java_the_reason_says_how_to_install_it(monkeypatch, tmp_path):
    pytest.importorskip("pyspark", reason="without pyspark, the reason is pyspark's absence, not Java's")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "make java" in (spark_unavailable_reason() or "")
