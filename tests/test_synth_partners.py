"""The synthetic partner data: deterministic, importable through its own mappings, true to its error model.

The oracles are independent of the generator's own bookkeeping: what was stored is read back from a
warehouse after ``import_partner`` and compared with the truth tables (who and what is really
behind each record), and error rates are measured from the differences.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from safertogether.cli import app
from safertogether.ingest import import_partner
from safertogether.sources.synth import ErrorModel, SynthConfig, generate_partners
from safertogether.sources.synth.corruption import ABBREVIATIONS, abbreviate
from safertogether.sources.synth.names import NICKNAMES
from safertogether.sources.synth.streets import is_street
from safertogether.store.warehouse import open_warehouse

PEOPLE = 12_000  # enough person records (~7,000) to measure rates of 1-2 % within a few tenths of a per cent
SEED = 7


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("synth") / "partners"
    generate_partners(SynthConfig(people=PEOPLE, seed=SEED, data=data_dir), out)
    return out


@pytest.fixture(scope="module")
def imported(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, object]:
    """The extracts imported through their mappings, and a DuckDB with the stored rows next to the truth."""
    warehouse = open_warehouse(tmp_path_factory.mktemp("wh") / "synth.duckdb")
    report = import_partner(warehouse, sorted(synth.glob("*.yaml")))
    db = duckdb.connect()
    for table in ("person_records", "incident_records", "quarantine", "source_files"):
        db.register(table, warehouse.query_arrow(f"SELECT * FROM {table}"))
    for name in ("records", "people", "addresses", "residences", "incidents"):
        db.register(f"truth_{name}", pq.read_table(synth / "truth" / f"{name}.parquet"))
    warehouse.close()
    return db, report


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_records(tmp_path, data_dir):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_partners(SynthConfig(people=1500, seed=seed, data=data_dir), tmp_path / name)
        runs[name] = _files(tmp_path / name)
    assert runs["a"] == runs["b"]
    assert runs["a"].keys() == runs["c"].keys()
    differing = [f for f in runs["a"] if runs["a"][f] != runs["c"][f]]
    assert "police/nominals.csv" in differing and "victim-service/case-management.xlsx" in differing


def test_every_extract_imports_and_only_the_deliberately_broken_rows_are_quarantined(synth, imported):
    db, report = imported
    assert len(report.files) == len(list(synth.glob("*.yaml"))) == 12
    for f in report.files:
        assert f.status == "stored", f
        assert f.rows_read == f.rows_stored + f.rows_quarantined > 0, f
    reasons = {r for (r,) in db.execute("SELECT DISTINCT reason FROM quarantine").fetchall()}
    assert reasons and all(r.startswith("unknown date in ") and r.endswith("'00/00/0000'") for r in reasons)
    # An extract's kind is its mapping's name for its target table ("police-nominals -> person_records").
    quarantined = {(kind.rsplit(" -> ", 1)[0], next(csv.reader([raw]))[0]) for kind, raw in db.execute(
        "SELECT s.kind, q.raw_text FROM quarantine q JOIN source_files s USING (file_id)").fetchall()}
    intended = set(db.execute("SELECT extract, record_id FROM truth_records WHERE quarantined_on_purpose").fetchall())
    assert quarantined == intended


def test_the_truth_covers_every_record(imported):
    db, report = imported
    stored = db.execute("""
        SELECT count(*) FILTER (WHERE t.record_id IS NULL), count(*) FROM (
            SELECT agency, record_id FROM person_records UNION ALL
            SELECT agency, incident_ref FROM incident_records) s
        LEFT JOIN truth_records t ON t.agency = s.agency AND t.record_id = s.record_id""").fetchall()[0]
    assert stored[0] == 0
    truth_rows = db.execute("SELECT count(*) FROM truth_records").fetchall()[0][0]
    assert truth_rows == sum(f.rows_read for f in report.files) == stored[1] + db.execute(
        "SELECT count(*) FROM quarantine").fetchall()[0][0]
    unknown = db.execute("""SELECT count(*) FROM truth_records WHERE target = 'person_records'
                        AND person_id NOT IN (SELECT person_id FROM truth_people)""").fetchall()[0][0]
    assert unknown == 0


@pytest.fixture(scope="module")
def compared(imported):
    """Each stored person record beside the truth of the person (names compared case-insensitively)."""
    db, _report = imported
    return db.sql("""
        SELECT lower(coalesce(r.forename, '')) AS forename, lower(coalesce(r.surname, '')) AS surname,
               r.date_of_birth AS dob, r.postcode, r.address, t.duplicate_of, t.extract,
               lower(p.forename) AS true_forename, lower(p.surname) AS true_surname,
               lower(p.birth_surname) AS birth_surname, p.date_of_birth AS true_dob
        FROM person_records r
        JOIN truth_records t ON t.agency = r.agency AND t.record_id = r.record_id
        JOIN truth_people p USING (person_id)""").to_arrow_table().to_pylist()


def _within(count: int, total: int, rate: float) -> bool:
    """A measured share within four standard errors of the configured rate (and a few counts)."""
    return abs(count / total - rate) <= 4 * math.sqrt(rate * (1 - rate) / total) + 3 / total


def _swap(day: dt.date) -> dt.date:
    return dt.date(day.year, day.day, day.month)


def test_error_rates_measured_on_the_output_are_the_configured_ones(compared):
    rates = ErrorModel()
    nicknames = {k.lower(): {n.lower() for n in v} for k, v in NICKNAMES.items()}
    measured = {
        "nickname": [r["forename"] in nicknames[r["true_forename"]] for r in compared
                     if r["true_forename"] in nicknames and r["forename"] not in ("", r["true_surname"])],
        "swapped_names": [r["forename"] == r["true_surname"] and r["surname"].startswith(r["true_forename"][:3])
                          for r in compared if r["true_forename"] != r["true_surname"]],
        "day_month_swap": [r["dob"] == _swap(r["true_dob"]) for r in compared
                           if r["dob"] is not None and r["true_dob"].day <= 12 and r["true_dob"].day != r[
                               "true_dob"].month],
        "missing_postcode": [r["postcode"] is None for r in compared],
        "married_surname": [r["surname"] != r["true_surname"] and r["birth_surname"][:3] in r["surname"]
                            for r in compared if r["birth_surname"] and r["forename"] != r["true_surname"]],
    }
    # A date of birth is missing on purpose, or unreadable (quarantined, so never stored here).
    missing = [r["dob"] is None for r in compared]
    for name, outcomes in measured.items():
        assert _within(sum(outcomes), len(outcomes), getattr(rates, name)), (name, sum(outcomes), len(outcomes))
    assert _within(sum(missing), len(missing), rates.missing_dob * (1 - rates.unreadable_dob))


def test_address_errors_measured_on_the_output_are_the_configured_ones(imported):
    """Out-of-date addresses (told by the postcode of the home before the move) and abbreviated streets."""
    db, _ = imported
    old = db.execute("""
        SELECT count(*) FILTER (WHERE r.postcode = pa.postcode), count(*)
        FROM person_records r JOIN truth_records t ON t.agency = r.agency AND t.record_id = r.record_id
        JOIN truth_residences cur ON cur.person_id = t.person_id AND cur.moved_in <= r.recorded_on
             AND (cur.moved_out IS NULL OR cur.moved_out > r.recorded_on)
        JOIN truth_residences prev ON prev.person_id = t.person_id AND prev.moved_out = cur.moved_in
        JOIN truth_addresses ca ON ca.address_id = cur.address_id
        JOIN truth_addresses pa ON pa.address_id = prev.address_id
        WHERE r.postcode IS NOT NULL AND ca.postcode <> pa.postcode""").fetchall()[0]
    assert old[1] > 100 and _within(*old, ErrorModel().old_address), old
    streets = db.execute("""
        SELECT lower(r.address), lower(a.street) FROM person_records r
        JOIN truth_records t ON t.agency = r.agency AND t.record_id = r.record_id
        JOIN truth_addresses a USING (address_id)""").fetchall()
    eligible = [(line, street) for line, street in streets if street.rpartition(" ")[2].title() in ABBREVIATIONS]
    short = [f" {abbreviate(street.title()).lower()}," in line for line, street in eligible]
    assert _within(sum(short), len(short), ErrorModel().address_abbreviation), (sum(short), len(short))


def test_typos_are_small_edits_at_the_configured_rate(compared):
    """Names that cannot differ from the truth for another modelled reason differ by a typo: one or two edits."""
    nicknames = {k.lower() for k in NICKNAMES}
    plain = [r for r in compared if r["true_forename"] not in nicknames and not r["birth_surname"]
             and r["forename"] not in ("", r["true_surname"]) and r["surname"] != r["true_forename"]]
    # (no nickname, married name, swapped names or missing forename possible)
    changed = [r for r in plain if (r["forename"], r["surname"]) != (r["true_forename"], r["true_surname"])]
    rates = ErrorModel()
    typo_rate = 1 - (1 - rates.typo_keyboard) * (1 - rates.typo_phonetic) * (1 - rates.typo_ocr)
    assert _within(len(changed), len(plain), typo_rate), (len(changed), len(plain))
    # A typo changes a name by one or two characters; a record may rarely carry two or three of them.
    assert all(_edits(r[f], r["true_" + f]) <= 3 for r in changed for f in ("forename", "surname"))
    small = [_edits(r["forename"] + " " + r["surname"], r["true_forename"] + " " + r["true_surname"]) <= 2
             for r in changed]
    assert sum(small) >= 0.95 * len(small)


def _edits(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_duplicates_inside_one_agency(imported):
    db, _ = imported
    originals, copies = db.execute("""SELECT count(*) FILTER (WHERE duplicate_of = ''), count(*) FILTER (WHERE
        duplicate_of <> '') FROM truth_records WHERE target = 'person_records'""").fetchall()[0]
    assert _within(copies, originals, ErrorModel().duplicate)
    same = db.execute("""SELECT count(*) FROM truth_records c JOIN truth_records o
        ON o.extract = c.extract AND o.record_id = c.duplicate_of
        WHERE c.person_id = o.person_id AND c.incident_id = o.incident_id""").fetchall()[0][0]
    assert same == copies


def test_without_errors_every_record_says_exactly_what_the_truth_says(tmp_path, data_dir):
    out = tmp_path / "clean"
    generate_partners(SynthConfig(people=1500, seed=5, data=data_dir, errors=ErrorModel.none()), out)
    warehouse = open_warehouse(tmp_path / "clean.duckdb")
    report = import_partner(warehouse, sorted(out.glob("*.yaml")))
    assert report.totals()["rows_quarantined"] == 0
    db = duckdb.connect()
    db.register("stored", warehouse.query_arrow("SELECT * FROM person_records"))
    for name in ("records", "people", "addresses"):
        db.register(name, pq.read_table(out / "truth" / f"{name}.parquet"))
    wrong = db.execute("""
        SELECT s.agency, s.record_id, s.forename, p.forename, s.address, a.address FROM stored s
        JOIN records t ON t.agency = s.agency AND t.record_id = s.record_id
        JOIN people p USING (person_id) JOIN addresses a USING (address_id)
        WHERE lower(s.forename) <> lower(p.forename) OR lower(s.surname) <> lower(p.surname)
           OR s.date_of_birth IS DISTINCT FROM p.date_of_birth OR lower(s.address) <> lower(a.address)
           OR s.postcode <> a.postcode""").fetchall()
    warehouse.close()
    assert wrong == []


def test_homes_lie_in_the_forces_lsoas_near_their_streets(synth, data_dir):
    addresses = pq.read_table(synth / "truth" / "addresses.parquet").to_pylist()
    force_lsoas = {c for (c,) in duckdb.execute(
        f"""SELECT "LSOA Code" FROM read_csv('{data_dir / "boundaries" / "lsoa-2011-police-force-lookup.csv"}',
            header = true) WHERE Police_force = 'Leicestershire'""").fetchall()}
    assert {a["lsoa_code"] for a in addresses} <= force_lsoas
    assert len({a["lsoa_code"] for a in addresses}) > 400  # spread over the county, not a corner of it
    db = duckdb.connect()
    db.register("homes", pq.read_table(synth / "truth" / "addresses.parquet"))
    farthest = db.execute(f"""
        WITH points AS (
            SELECT DISTINCT "LSOA code" AS lsoa_code, trim(substr("Location", 12)) AS street, "Longitude" AS lon,
                   "Latitude" AS lat
            FROM read_csv('{data_dir / "police-uk" / "leicestershire"}/*-street.csv'))
        SELECT max(nearest) FROM (
            SELECT min(sqrt(power((lon - longitude) * 67800, 2) + power((lat - latitude) * 111200, 2))) AS nearest
            FROM homes JOIN points USING (lsoa_code, street) GROUP BY address_id)""").fetchall()[0][0]
    assert farthest < 150  # metres from one of police.uk's points on the same street in the same LSOA
    assert all(a["postcode"].startswith("QL") for a in addresses)  # synthetic: no real postcode starts with Q


def test_twins_movers_and_families_exist(synth, imported):
    db, _ = imported
    twins = db.execute("""SELECT count(*), count(*) FILTER (WHERE o.forename = t.forename)
        FROM truth_people t JOIN truth_people o ON o.person_id = t.person_id - 1
        WHERE t.twin AND o.household_id = t.household_id AND o.surname = t.surname
          AND o.date_of_birth = t.date_of_birth""").fetchall()[0]
    assert twins[0] > 10 and twins[1] == 0
    assert db.execute("SELECT count(*) FROM truth_people WHERE twin").fetchall()[0][0] == twins[0]
    movers = db.execute("""SELECT count(DISTINCT person_id), count(*) FILTER (WHERE moved_in IS NOT NULL
        AND moved_in NOT BETWEEN DATE '2020-01-01' AND DATE '2022-12-31') FROM truth_residences
        WHERE moved_in IS NOT NULL""").fetchall()[0]
    assert movers[0] > PEOPLE * 0.1 and movers[1] == 0
    twice = db.execute("""SELECT count(*) FROM (SELECT person_id FROM truth_residences GROUP BY 1
        HAVING count(*) = 3)""").fetchall()[0][0]
    assert twice > 0
    stale = db.execute("""SELECT count(*) FROM truth_records t JOIN truth_residences r
        ON r.person_id = t.person_id AND r.address_id = t.address_id
        WHERE t.errors LIKE '%old_address%' AND r.moved_out IS NOT NULL""").fetchall()[0][0]
    assert stale > 0
    shared = db.execute("""SELECT count(*) FROM (SELECT household_id FROM truth_people GROUP BY 1
        HAVING count(*) > 2 AND count(DISTINCT surname) = 1)""").fetchall()[0][0]
    assert shared > PEOPLE * 0.03


def test_common_names_are_common_and_forenames_of_their_era(synth):
    people = pq.read_table(synth / "truth" / "people.parquet").to_pylist()
    surnames = [p["surname"] for p in people]
    counts = {s: surnames.count(s) for s in ("Smith", "Jones", "Patel", "Hobbs")}
    assert counts["Smith"] > counts["Patel"] > counts["Hobbs"]
    assert 0.005 < counts["Smith"] / len(people) < 0.05
    older = [p["forename"] for p in people if p["date_of_birth"].year < 1960]
    younger = [p["forename"] for p in people if p["date_of_birth"].year >= 2005]
    assert older.count("Margaret") > 3 * older.count("Olivia") and younger.count("Olivia") > 3 * younger.count(
        "Margaret")


def test_incidents_attended_by_several_services_are_in_each_log_with_their_own_times_and_places(imported):
    db, _ = imported
    pairs = db.execute("""
        SELECT a.agency, b.agency, a.incident_ref, b.incident_ref,
               abs(epoch(a.started_at) - epoch(b.started_at)) AS seconds,
               abs(a.latitude - b.latitude) + abs(a.longitude - b.longitude) AS degrees
        FROM incident_records a JOIN truth_records ta ON ta.agency = a.agency AND ta.record_id = a.incident_ref
        JOIN truth_records tb ON tb.incident_id = ta.incident_id AND tb.target = 'incident_records'
             AND tb.agency > ta.agency
        JOIN incident_records b ON b.agency = tb.agency AND b.incident_ref = tb.record_id
        WHERE a.latitude IS NOT NULL AND b.latitude IS NOT NULL""").fetchall()
    assert {(a, b) for a, b, *_ in pairs} >= {("east-midlands-ambulance", "leicestershire-police"),
                                              ("east-midlands-ambulance", "leicestershire-fire-rescue"),
                                              ("leicestershire-fire-rescue", "leicestershire-police")}
    assert all(ra != rb for _, _, ra, rb, _, _ in pairs)
    assert all(seconds <= 30 * 60 for *_, seconds, _ in pairs)
    assert all(0 < degrees < 0.01 for *_, degrees in pairs)
    kinds = dict(db.execute("SELECT agency, count(DISTINCT kind) FROM incident_records GROUP BY 1").fetchall())
    assert kinds["leicestershire-police"] == 8 and kinds["east-midlands-ambulance"] == 6


def test_the_command_writes_a_summary_and_the_mappings_import(tmp_path, data_dir):
    runner = CliRunner()
    made = runner.invoke(app, ["synth", "partners", "--people", "800", "--seed", "2", "--out", str(tmp_path / "p"),
                               "--data", str(data_dir), "--json"])
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    assert summary["people"] == 800 and sum(summary["agencies"].values()) == sum(summary["records"].values()) > 0
    assert len(summary["agencies"]) == 5
    imported = runner.invoke(app, ["import", "partner", *map(str, sorted((tmp_path / "p").glob("*.yaml"))),
                                   "--db", str(tmp_path / "p.duckdb"), "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["rows_read"] == sum(summary["records"].values())


@pytest.mark.parametrize(("location", "street"), [
    ("Hobill Close", True), ("Humberstone Gate", True), ("London Road", True), ("Supermarket", False),
    ("Parking Area", False), ("Petrol Station", False), ("A594", False), ("Sports/Recreation Area", False),
    ("Leicester Royal Infirmiry", False), ("Further/Higher Educational Building", False)])
def test_only_police_uk_locations_that_are_streets_house_people(location, street):
    assert is_street(location) is street


def test_another_forces_streets_from_a_month_of_many_forces(tmp_path, data_dir):
    generate_partners(SynthConfig(people=300, force="bedfordshire", data=data_dir), tmp_path / "b")
    homes = pq.read_table(tmp_path / "b" / "truth" / "addresses.parquet", columns=["lsoa_code", "town"]).to_pylist()
    towns = {h["town"] for h in homes}
    assert towns <= {"Bedford", "Central Bedfordshire", "Luton"} and len(towns) == 3


def test_a_force_without_police_uk_files_is_refused_with_what_to_do(tmp_path, data_dir):
    result = CliRunner().invoke(app, ["synth", "partners", "--people", "10", "--out", str(tmp_path / "x"),
                                      "--data", str(data_dir), "--force", "atlantis"])
    assert result.exit_code == 2
    assert "no police.uk street files" in result.output and "--force" in result.output


def test_error_rates_are_set_from_the_command_line_and_bad_ones_all_reported(tmp_path, data_dir):
    runner = CliRunner()
    bad = runner.invoke(app, ["synth", "partners", "--people", "10", "--out", str(tmp_path / "x"), "--data",
                              str(data_dir), "--error", "nickname=2", "--error", "nicknames=0.1"])
    assert bad.exit_code == 2
    assert "nickname must be a number from 0 to 1" in bad.output and "unknown error 'nicknames'" in bad.output
    assert not (tmp_path / "x").exists()
    assert ErrorModel.with_rates(["nickname=1", "duplicate=0"]) == ErrorModel(nickname=1.0, duplicate=0.0)
