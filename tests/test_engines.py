"""The store's engine seam: the same warehouse guarantees on DuckDB and on PostgreSQL, and schema migrations.

Every test taking ``warehouse_location`` runs once per engine (see conftest.py): on a DuckDB file and
on a database of a PostgreSQL cluster the session starts on loopback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from safertogether.errors import NewerWarehouseError
from safertogether.ingest import import_partner
from safertogether.link.evaluate_people import evaluate_people
from safertogether.link.incidents import link_incidents
from safertogether.link.people import explain_link, link_people
from safertogether.link.review import decide, review_queue
from safertogether.sources.synth import SynthConfig, generate_partners
from safertogether.store.imports import ImportFailed
from safertogether.store.migrations import MIGRATIONS, migrate
from safertogether.store.schema import SCHEMA_VERSION
from safertogether.store.warehouse import open_warehouse


def _stored_version(location: str) -> int:
    warehouse = open_warehouse(location, read_only=True)
    try:
        return int(warehouse.scalar("SELECT value FROM meta WHERE key = 'schema_version'"))
    finally:
        warehouse.close()


def test_a_new_warehouse_records_every_migration_with_its_time(warehouse_location):
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    warehouse = open_warehouse(warehouse_location)
    try:
        applied = warehouse.query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    finally:
        warehouse.close()
    assert [r["version"] for r in applied] == [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    assert all(r["applied_at"] >= before - dt.timedelta(seconds=1) for r in applied)
    assert _stored_version(warehouse_location) == SCHEMA_VERSION


def test_an_old_warehouse_is_migrated_on_opening_and_keeps_its_data(warehouse_location):
    warehouse = _opened_at_version(warehouse_location, 2)
    assert not warehouse.table_exists("person_ids")  # version 3's linkage tables are not there yet
    with warehouse.transaction():
        warehouse.insert_arrow("person_records", pa.table({
            "record_id": ["R1"], "agency": ["council"], "surname": ["Okafor"],
            "date_of_birth": pa.array([dt.date(1980, 5, 17)]), "file_id": [1], "row_number": [1], "import_id": [1]}))
    warehouse.close()

    reopened = open_warehouse(warehouse_location)
    try:
        assert reopened.query("SELECT record_id, surname, date_of_birth FROM person_records") == [
            {"record_id": "R1", "surname": "Okafor", "date_of_birth": dt.date(1980, 5, 17)}]
        assert reopened.scalar("SELECT count(*) FROM person_ids") == 0
        assert [r[0] for r in reopened.engine.fetch("SELECT version FROM schema_migrations ORDER BY version")[1]
                ] == [1, 2, 3, 4]
    finally:
        reopened.close()
    assert _stored_version(warehouse_location) == SCHEMA_VERSION


def _opened_at_version(location: str, version: int):
    """A warehouse as an older Safer Together left it: migrated only up to ``version``."""
    from safertogether.store.engines import DuckDBEngine
    from safertogether.store.warehouse import Warehouse, is_server_url

    if is_server_url(location):
        from safertogether.store.postgres import PostgresEngine

        warehouse = Warehouse(PostgresEngine(location), None, read_only=False)
    else:
        warehouse = Warehouse(DuckDBEngine(Path(location)), Path(location), read_only=False)
    assert migrate(warehouse, target=version) == list(range(1, version + 1))
    return warehouse


def test_a_newer_warehouse_is_refused_on_every_engine(warehouse_location):
    warehouse = open_warehouse(warehouse_location)
    warehouse.upsert("meta", {"key": "schema_version", "value": str(SCHEMA_VERSION + 1)})
    warehouse.close()
    with pytest.raises(NewerWarehouseError, match="newer Safer Together"):
        open_warehouse(warehouse_location)


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("synth") / "partners"
    generate_partners(SynthConfig(people=800, seed=11, data=data_dir), out)
    return out


def test_linkage_is_stored_reviewed_and_measured_alike_on_every_engine(warehouse_location, small_synth):
    warehouse = open_warehouse(warehouse_location)
    try:
        imported = import_partner(warehouse, sorted(small_synth.glob("*.yaml")))
        again = import_partner(warehouse, sorted(small_synth.glob("*.yaml")))
        assert {f.status for f in again.files} == {"unchanged"}  # idempotent by content hash
        first = link_people(warehouse)
        assert first.records == warehouse.scalar("SELECT count(*) FROM person_records") > 0
        assert first.records == imported.totals()["rows_stored"] - warehouse.scalar(
            "SELECT count(*) FROM incident_records")
        quality = evaluate_people(warehouse, small_synth / "truth")
        assert quality.pairwise.f1 > 0.9
        ids = dict(warehouse.engine.fetch("SELECT record_key, person_id FROM person_ids")[1])

        uncertain = review_queue(warehouse, limit=50)
        apart = [p for p in uncertain if p.person_l != p.person_r][:1]
        joined = warehouse.row("SELECT record_l, record_r FROM person_links WHERE match_probability >= 0.9 "
                               "ORDER BY match_probability DESC, record_l LIMIT 1")
        decide(warehouse, joined[0], joined[1], "same", reviewer="test")
        decide(warehouse, joined[0], joined[1], "different", reviewer="test", note="twins")  # replaces it
        for pair in apart:
            decide(warehouse, pair.record_l, pair.record_r, "same", reviewer="test")
        second = link_people(warehouse)
        assert second.mode == "incremental" and second.new_records == 0
        after = dict(warehouse.engine.fetch("SELECT record_key, person_id FROM person_ids")[1])
        assert warehouse.scalar("SELECT count(*) FROM link_decisions") == 1 + len(apart)
        for pair in apart:
            assert after[pair.record_l] == after[pair.record_r]
        assert sum(after[k] == ids[k] for k in ids) >= 0.95 * len(ids)  # ids stay put
        assert explain_link(warehouse, joined[0], joined[1]).match_weight > 0
    finally:
        warehouse.close()


def _joint_incidents(location: str, synth: Path) -> list[dict[str, object]]:
    warehouse = open_warehouse(location)
    try:
        import_partner(warehouse, sorted(synth.glob("*.yaml")))
        link_incidents(warehouse)
        return [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items() if k != "linked_at"}
                for row in warehouse.query("SELECT * FROM joint_incidents ORDER BY agency, incident_ref")]
    finally:
        warehouse.close()


def test_joint_incidents_are_the_same_on_every_engine(warehouse_location, small_synth, tmp_path):
    found = _joint_incidents(warehouse_location, small_synth)
    assert sum(1 for row in found if row["linked_ref"]) > 10  # several services' records of one event
    assert found == _joint_incidents(str(tmp_path / "reference.duckdb"), small_synth)


def test_a_failing_partner_import_leaves_nothing_on_every_engine(warehouse_location, small_synth, tmp_path):
    """A newer extract (which deletes the rows it replaces) beside a broken one: the whole batch rolls back."""
    warehouse = open_warehouse(warehouse_location)
    try:
        import_partner(warehouse, [small_synth / "police-nominals.yaml"])
        before = _contents(warehouse)
        newer = tmp_path / "police"
        newer.mkdir()
        lines = (small_synth / "police" / "nominals.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        (newer / "nominals.csv").write_text("".join(lines[:-5]), encoding="utf-8")  # a newer, shorter extract
        (tmp_path / "police-nominals.yaml").write_text(
            (small_synth / "police-nominals.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        (newer / "broken.csv").write_text("Nothing,Useful\n1,2\n", encoding="utf-8")
        (tmp_path / "broken.yaml").write_text((small_synth / "police-nominals.yaml").read_text(
            encoding="utf-8").replace("police/nominals.csv", "police/broken.csv"), encoding="utf-8")
        with pytest.raises(ImportFailed, match="broken.csv"):
            import_partner(warehouse, [tmp_path / "police-nominals.yaml", tmp_path / "broken.yaml"])
        assert _contents(warehouse) == before
    finally:
        warehouse.close()


def _contents(warehouse) -> dict[str, object]:
    return {"people": warehouse.scalar("SELECT count(*) FROM person_records"),
            "quarantined": warehouse.scalar("SELECT count(*) FROM quarantine"),
            "files": warehouse.query("SELECT file_id, status FROM source_files ORDER BY file_id"),
            "imports": warehouse.scalar("SELECT count(*) FROM imports")}


def test_rows_arrive_alike_on_every_engine(warehouse_location):
    """Each way of reading gives the same values and types, whichever engine holds them (NULL is not '')."""
    warehouse = open_warehouse(warehouse_location)
    rows = pa.table({"record_id": ["1", "2", "3"], "agency": ["a", "b", "c"], "forename": ["Ann's", '100% "B"', ""],
                     "surname": [None, "x", "y"], "file_id": [1] * 3, "row_number": [1, 2, 3], "import_id": [1] * 3})
    try:
        with warehouse.transaction():
            warehouse.insert_arrow("person_records", rows)
        sql = ("SELECT agency, forename, surname, length(agency) AS n FROM person_records WHERE agency <> ? "
               "ORDER BY agency")
        expected = [{"agency": "a", "forename": "Ann's", "surname": None, "n": 1},
                    {"agency": "b", "forename": '100% "B"', "surname": "x", "n": 1}]
        assert warehouse.query(sql, ["c"]) == expected
        assert [r for chunk in warehouse.stream_rows(sql, ["c"], chunk_rows=1) for r in chunk] == [
            tuple(r.values()) for r in expected]
        streamed = pa.Table.from_batches(list(warehouse.stream_arrow(sql, ["c"], batch_rows=1)))
        fetched = warehouse.query_arrow(sql, ["c"])
        assert streamed.to_pylist() == fetched.to_pylist() == expected
        assert pa.types.is_string(fetched.schema.field("forename").type)
        assert warehouse.scalar("SELECT forename FROM person_records WHERE agency = 'c'") == ""
        with warehouse.registered("incoming", pa.table({"agency": ["b", "z"]})) as name:
            assert warehouse.scalar(f"SELECT count(*) FROM person_records JOIN {name} USING (agency)") == 1
        assert warehouse.scalar("SELECT forename FROM person_records WHERE forename LIKE '100%'") == '100% "B"'
    finally:
        warehouse.close()
