"""Joint incidents: one event in several services' logs linked into one, and only that.

Two kinds of oracle. On the synthetic partners (a fixed seed the linker was not tuned on) the truth
says which real incident each record is, read only here. Small hand-written extracts, imported
through mappings as a partner's would be, pin the cases a user would check by eye: a fall the fire
service helped with, a second fall at the same house days later, a police record without coordinates,
two council cases (dates only) around one police record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from safertogether.cli import app
from safertogether.errors import MissingDataError
from safertogether.ingest import import_partner
from safertogether.link.incident_evaluate import evaluate_incident_links
from safertogether.link.incidents import link_incidents
from safertogether.sources.synth import SynthConfig, generate_partners
from safertogether.store.warehouse import Warehouse, open_warehouse

PEOPLE = 10_000
SEED = 5  # neither the seed the windows were tuned on (7) nor the one reported (11)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("synth") / "partners"
    generate_partners(SynthConfig(people=PEOPLE, seed=SEED, data=data_dir), out)
    return out


@pytest.fixture(scope="module")
def linked_db(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("wh") / "partners.duckdb"
    warehouse = open_warehouse(db)
    import_partner(warehouse, sorted(synth.glob("*.yaml")))
    link_incidents(warehouse)
    warehouse.close()
    return db


@pytest.fixture
def linked(linked_db: Path) -> Warehouse:
    warehouse = open_warehouse(linked_db, read_only=True)
    yield warehouse
    warehouse.close()


def _truth_joined(warehouse: Warehouse, synth: Path) -> list[dict]:
    """Each incident record with its real incident, its place and day (truth), and its joint incident."""
    with warehouse.registered("truth_records", pq.read_table(synth / "truth" / "records.parquet")), \
            warehouse.registered("truth_incidents", pq.read_table(synth / "truth" / "incidents.parquet")):
        return warehouse.query("""
            SELECT j.agency, j.incident_ref, j.joint_incident_id, t.incident_id, i.address_id, i.services,
                   i.started_at::DATE AS day
            FROM joint_incidents j
            JOIN truth_records t ON t.agency = j.agency AND t.record_id = j.incident_ref
                                AND t.target = 'incident_records'
            JOIN truth_incidents i USING (incident_id)""")


def test_joint_incidents_match_the_truth_on_a_seed_the_linker_never_saw(linked, synth):
    result = evaluate_incident_links(linked, synth / "truth")
    # Measured 1.000 / 1.000 on this seed; the naive same-postcode-within-an-hour rule scores ~0.7 F1.
    assert result.pairwise.precision >= 0.99
    assert result.pairwise.recall >= 0.98
    assert result.pairwise.f1 >= 0.99
    assert result.pairwise.true_positives > 300
    assert result.multi_agency_exact >= 0.97 * result.multi_agency_real_incidents


def test_an_event_in_three_services_logs_is_one_joint_incident(linked, synth):
    rows = _truth_joined(linked, synth)
    by_incident: dict[int, list[dict]] = {}
    for row in rows:
        by_incident.setdefault(row["incident_id"], []).append(row)
    three = [records for records in by_incident.values() if len({r["agency"] for r in records}) == 3]
    assert three, "the seed should hold collisions attended by police, fire and ambulance"
    for records in three:
        assert len({r["joint_incident_id"] for r in records}) == 1, records
    sizes = {r["joint_incident_id"]: r for r in linked.query(
        "SELECT joint_incident_id, records, count(DISTINCT agency) AS agencies FROM joint_incidents GROUP BY ALL")}
    assert all(s["records"] == s["agencies"] for s in sizes.values()), "one record per agency per joint incident"


def test_different_incidents_at_the_same_address_on_different_days_are_never_joined(linked, synth):
    rows = [r for r in _truth_joined(linked, synth) if r["address_id"] >= 0]
    by_address: dict[int, list[dict]] = {}
    for row in rows:
        by_address.setdefault(row["address_id"], []).append(row)
    compared = 0
    for records in by_address.values():
        for a in records:
            for b in records:
                if a["incident_id"] < b["incident_id"] and a["day"] != b["day"]:
                    compared += 1
                    assert a["joint_incident_id"] != b["joint_incident_id"], (a, b)
    assert compared > 100, "repeat callers should give many such pairs"


def test_rerun_gives_the_same_joint_incidents_and_replaces_them(linked_db, tmp_path):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(linked_db.read_bytes())
    warehouse = open_warehouse(db)
    columns = "agency, incident_ref, joint_incident_id, records, score, linked_agency, linked_ref"
    before = warehouse.query(f"SELECT {columns} FROM joint_incidents ORDER BY agency, incident_ref")
    report = link_incidents(warehouse)
    after = warehouse.query(f"SELECT {columns} FROM joint_incidents ORDER BY agency, incident_ref")
    assert after == before
    assert len(after) == report.records == warehouse.scalar("SELECT count(*) FROM incident_records")
    assert report.joint_incidents == warehouse.scalar("SELECT count(DISTINCT joint_incident_id) FROM joint_incidents")
    warehouse.close()


# Hand-written extracts: an ambulance CAD, a fire IRS log and a police log without coordinates.
_FIELDS = ("incident_ref", "started_at", "kind", "latitude", "longitude", "address", "postcode")
_EXTRACTS = {
    "ambulance": ("ambulance", [
        ("A1", "2024-03-01T10:00:00", "falls", 52.6300, -1.1300, "12 HIGH STREET, LEICESTER", "LE1 1AA"),
        ("A2", "2024-03-05T10:00:00", "falls", 52.6300, -1.1300, "12 HIGH STREET, LEICESTER", "LE1 1AA"),
        ("A3", "2024-03-03T14:02:00", "violence", 52.6400, -1.1400, "3 MILL LANE, LEICESTER", "LE2 2BB"),
        ("A4", "2024-03-07T21:00:00", "mental-health", 52.6500, -1.1500, "9 PARK ROAD, LEICESTER", "LE3 3CC"),
        ("A5", "2024-03-07T21:10:00", "mental-health", 52.6509, -1.1500, "40 PARK ROAD, LEICESTER", "LE3 3CC"),
    ]),
    "fire": ("fire", [
        ("F1", "2024-03-01T10:06:00", "assist", 52.6302, -1.1301, "12 High Street, Leicester", "LE1 1AA"),
    ]),
    "police": ("police", [
        ("P1", "2024-03-03T14:00:00", "domestic-abuse", "", "", "3 Mill Ln, Leicester", "LE2 2BB"),
        ("P2", "2024-03-07T21:05:00", "mental-health", 52.6501, -1.1501, "9 Park Road, Leicester", "LE3 3CC"),
        ("P3", "2024-03-11T11:55:00", "anti-social-behaviour", 52.5758, -1.2053, "7 King Edward Avenue, Blaby",
         "LE4 4DD"),
    ]),
    "council": ("council", [  # a case-management system: dates only, no coordinates
        ("C1", "2024-03-10T00:00:00", "anti-social-behaviour", "", "", "7 King Edward Avenue, Blaby", "LE4 4DD"),
        ("C2", "2024-03-12T00:00:00", "anti-social-behaviour", "", "", "7 King Edward Avenue, Blaby", "LE4 4DD"),
    ]),
}


@pytest.fixture
def hand_written(tmp_path: Path) -> Warehouse:
    mappings = []
    for agency, (kind, rows) in _EXTRACTS.items():
        csv_path = tmp_path / f"{agency}.csv"
        csv_path.write_text("\n".join([",".join(_FIELDS), *(",".join(f'"{v}"' for v in row) for row in rows)]) + "\n",
                            encoding="utf-8")
        fields = [{"name": f, "header": [f]} for f in _FIELDS]
        fields[0]["required"] = True
        fields[1] |= {"type": "timestamp", "formats": ["%Y-%m-%dT%H:%M:%S"]}
        fields[3] |= {"type": "latitude"}
        fields[4] |= {"type": "longitude"}
        mapping = {"name": f"{agency}-incidents", "file": csv_path.name, "agency": agency, "agency_kind": kind,
                   "target": "incident_records", "fields": fields}
        (tmp_path / f"{agency}.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
        mappings.append(tmp_path / f"{agency}.yaml")
    warehouse = open_warehouse(tmp_path / "hand.duckdb")
    import_partner(warehouse, mappings)
    yield warehouse
    warehouse.close()


def _joint(warehouse: Warehouse) -> dict[str, int]:
    rows = warehouse.query("SELECT incident_ref, joint_incident_id FROM joint_incidents")
    return {r["incident_ref"]: r["joint_incident_id"] for r in rows}


def test_hand_written_cases(hand_written):
    report = link_incidents(hand_written)
    joint = _joint(hand_written)
    assert joint["A1"] == joint["F1"], "a fall the fire service helped to lift is one incident"
    assert joint["A2"] != joint["F1"], "the second fall at the same house four days later is another"
    assert joint["P1"] == joint["A3"], "a police record without coordinates joins by its address"
    assert joint["P2"] == joint["A4"] != joint["A5"], "one ambulance record per joint incident: the closer one"
    assert joint["P3"] == joint["C2"] != joint["C1"], "the council logs a complaint after the event, not before"
    assert (report.records, report.joint_incidents, report.multi_agency_incidents) == (11, 7, 4)
    evidence = {r["incident_ref"]: r for r in hand_written.query("SELECT * FROM joint_incidents")}
    assert evidence["P1"]["place_evidence"] == "address" and evidence["P1"]["kind_evidence"] == "compatible"
    assert evidence["A2"]["score"] is None and evidence["A2"]["records"] == 1
    assert (evidence["C2"]["gap_days"], evidence["C2"]["gap_minutes"]) == (1, None)


def test_cli_links_and_evaluates(linked_db, synth, tmp_path):
    db = tmp_path / "cli.duckdb"
    db.write_bytes(linked_db.read_bytes())
    runner = CliRunner()
    done = runner.invoke(app, ["link", "incidents", "--db", str(db), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["multi_agency_incidents"] > 300
    done = runner.invoke(app, ["link", "evaluate-incidents", "--truth", str(synth / "truth"), "--db", str(db),
                               "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["f1"] >= 0.99


def test_evaluating_before_linking_says_what_to_run(tmp_path, synth):
    warehouse = open_warehouse(tmp_path / "empty.duckdb")
    with pytest.raises(MissingDataError, match="safer link incidents"):
        evaluate_incident_links(warehouse, synth / "truth")
    with pytest.raises(MissingDataError, match="safer import partner"):
        link_incidents(warehouse)
    warehouse.close()
