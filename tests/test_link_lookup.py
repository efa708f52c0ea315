"""The real-time lookup on a synthetic county: the right person first despite the caller's errors, Splink's scores.

The warehouse is the generator's extracts imported through their mappings (plus a few twins) and linked by
``safer link run`` (``link_people``), whose stored model and person ids the lookup reads.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from splink import DuckDBAPI, Linker
from typer.testing import CliRunner

from safertogether.cli import app
from safertogether.errors import BadRequestError, MissingDataError
from safertogether.ingest import import_partner
from safertogether.link.lookup import (
    LookupQuery,
    PersonIndex,
    latest_model,
    soundex,
    split_name,
    with_derived_columns,
)
from safertogether.link.partners import SOURCE_COLUMNS, load_person_records, person_input_sql
from safertogether.link.people import link_people
from safertogether.link.prepare_one import names_key, prepare_person
from safertogether.sources.synth import SynthConfig, generate_partners
from safertogether.sources.synth.corruption import keyboard_typo
from safertogether.store.warehouse import Warehouse, open_warehouse

runner = CliRunner()
PEOPLE, SEED = 5000, 11


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Path]:
    """(warehouse file, truth folder) of a small synthetic county, imported and linked (``safer link run``)."""
    out = tmp_path_factory.mktemp("lookup") / "partners"
    generate_partners(SynthConfig(people=PEOPLE, seed=SEED, data=data_dir), out)
    db = out.parent / "county.duckdb"
    warehouse = open_warehouse(db)
    import_partner(warehouse, sorted(out.glob("*.yaml")))
    _add_twins(warehouse, out / "truth")
    link_people(warehouse)
    warehouse.close()
    return db, out / "truth"


TWIN_NAMES = ("Harriet", "Kieran", "Imogen", "Rohan")


def _add_twins(warehouse: Warehouse, truth: Path) -> None:
    """A twin for a few people with two or more records: each of their records again, with another forename
    and a record id ending in T (the generator's twins seldom both have records in a small county)."""
    records = pq.read_table(truth / "records.parquet").to_pylist()
    counts: dict[int, int] = {}
    for r in records:
        if r["target"] == "person_records" and r["person_id"] >= 0:
            counts[r["person_id"]] = counts.get(r["person_id"], 0) + 1
    for person, name in zip([p for p, n in sorted(counts.items()) if n >= 2][:len(TWIN_NAMES)], TWIN_NAMES,
                            strict=True):
        keys = [f"{r['agency']}:{r['record_id']}" for r in records
                if r["target"] == "person_records" and r["person_id"] == person]
        warehouse.execute("INSERT INTO person_records SELECT * REPLACE (record_id || 'T' AS record_id, ? AS forename) "
                          "FROM person_records WHERE list_contains(?, agency || ':' || record_id)", [name, keys])


@pytest.fixture(scope="module")
def index(county: tuple[Path, Path]) -> PersonIndex:
    warehouse = open_warehouse(county[0], read_only=True)
    try:
        return PersonIndex.build(warehouse)
    finally:
        warehouse.close()


@pytest.fixture(scope="module")
def truth(county: tuple[Path, Path]) -> dict[str, Any]:
    """Who is who: people, each record's person, each person's homes, the records' keys by person."""
    folder = county[1]
    db = duckdb.connect()
    for name in ("records", "people", "addresses", "residences"):
        db.register(name, pq.read_table(folder / f"{name}.parquet"))
    records = db.sql("SELECT agency || ':' || record_id AS key, person_id FROM records "
                     "WHERE target = 'person_records' AND person_id >= 0").fetchall()
    people = {r["person_id"]: r for r in db.sql("SELECT * FROM people").to_arrow_table().to_pylist()}
    homes: dict[int, list[dict[str, Any]]] = {}
    for row in db.sql("SELECT r.person_id, a.* FROM residences r JOIN addresses a USING (address_id) "
                      "ORDER BY r.person_id, r.moved_in NULLS FIRST").to_arrow_table().to_pylist():
        homes.setdefault(row["person_id"], []).append(row)
    keys: dict[int, set[str]] = {}
    for key, person in records:
        keys.setdefault(person, set()).add(key)
    warehouse = open_warehouse(county[0], read_only=True)
    twin_keys = {row["k"] for row in warehouse.query("SELECT agency || ':' || record_id AS k FROM person_records "
                                                     "WHERE record_id LIKE '%T'")}
    warehouse.close()
    return {"people": people, "homes": homes, "keys": keys, "person_of": dict(records), "twin_keys": twin_keys}


def _recorded_people(truth: dict[str, Any], count: int, seed: int, *, twins: bool = False,
                     records: int = 2) -> list[dict[str, Any]]:
    """People with at least ``records`` records in the index, chosen at random."""
    rng = np.random.default_rng(seed)
    chosen = [p for pid, p in truth["people"].items() if len(truth["keys"].get(pid, ())) >= records
              and bool(p["twin"]) == twins]
    return [chosen[i] for i in rng.choice(len(chosen), size=min(count, len(chosen)), replace=False)]


def _rank_of(candidates: list[Any], keys: set[str]) -> int | None:
    for rank, candidate in enumerate(candidates):
        if any(r.record_key in keys for r in candidate.records):
            return rank
    return None


def _address(home: dict[str, Any]) -> str:
    return home["address"]


def test_a_misspelt_name_finds_the_right_person_first(index, truth):
    rng = np.random.default_rng(1)
    for person in _recorded_people(truth, 12, seed=2):
        surname = keyboard_typo(person["surname"], rng)
        found = index.lookup(name=f"{person['forename']} {surname}", dob=str(person["date_of_birth"]),
                             address=_address(truth["homes"][person["person_id"]][-1]))
        assert _rank_of(found, truth["keys"][person["person_id"]]) == 0, (person, surname, found[:2])


def test_a_missing_date_of_birth_still_finds_the_person(index, truth):
    for person in _recorded_people(truth, 12, seed=3):
        found = index.lookup(name=f"{person['forename']} {person['surname']}",
                             address=_address(truth["homes"][person["person_id"]][-1]))
        assert _rank_of(found, truth["keys"][person["person_id"]]) == 0, (person, found[:2])
        assert all(c.comparison != "date_of_birth" or c.match_weight == 0 for c in found[0].explanation.comparisons)


def test_a_twin_with_the_same_birthday_and_home_ranks_below(index, truth):
    """Whether or not the linker kept the twins apart, the caller's own records score above every twin's."""
    twins = [(person, keys, {k + "T" for k in keys}) for person, keys in truth["keys"].items()
             if {k + "T" for k in keys} & truth["twin_keys"]]
    assert len(twins) == len(TWIN_NAMES)
    for person_id, keys, twin_keys in twins:
        person = truth["people"][person_id]
        found = index.lookup(name=f"{person['forename']} {person['surname']}", dob=str(person["date_of_birth"]),
                             address=_address(truth["homes"][person_id][-1]))
        assert _rank_of(found, keys) == 0
        records = [r for c in found for r in c.records]
        best_own = max(r.match_weight for r in records if r.record_key in keys)
        twins_seen = [r.match_weight for r in records if r.record_key in twin_keys]
        assert twins_seen and max(twins_seen) < best_own, (person, twins_seen, best_own)


def test_nothing_found_is_an_empty_answer(index):
    assert index.lookup(name="Zebedee Quixwort", dob="1899-02-03") == []
    assert index.lookup(address="1 Nowhere Lane, Atlantis") == []


def test_a_malformed_date_of_birth_or_no_details_is_a_clear_error(index, county):
    with pytest.raises(BadRequestError, match="YYYY-MM-DD"):
        index.lookup(name="Jane Smith", dob="31/13/1980")
    with pytest.raises(BadRequestError, match="give a name"):
        index.lookup(name="  ")
    result = runner.invoke(app, ["link", "lookup", "--name", "Jane Smith", "--dob", "1980-02-30",
                                 "--db", str(county[0])])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_scores_are_splink_s_for_the_same_pairs(index, county):
    """The lookup's score of a record's details against another record is Splink's match weight for that pair."""
    warehouse = open_warehouse(county[0], read_only=True)
    model, _ = latest_model(warehouse)
    records = load_person_records(warehouse)
    warehouse.close()
    connection = records.connection
    linker = Linker(DuckDBAPI(connection=connection).register(connection.table("people")), model)
    predictions = linker.inference.predict(warning_mode="never").physical_name
    comparisons = [c.name for c in index.scorer.comparisons]
    # Up to 25 pairs of each level of each comparison, so every level's condition is exercised.
    pairs = connection.execute(" UNION ".join(
        f"""(SELECT unique_id_l, unique_id_r, match_weight FROM {predictions}
             QUALIFY row_number() OVER (PARTITION BY gamma_{name} ORDER BY hash(unique_id_l || unique_id_r)) <= 25)"""
        for name in comparisons)).fetchall()
    present = {name: connection.execute(f"SELECT count(DISTINCT gamma_{name}) FROM {predictions}").fetchall()[0][0]
               for name in comparisons}
    prepared = {row["unique_id"]: row for row in connection.sql("SELECT * FROM people").to_arrow_table().to_pylist()}
    position = {key: i for i, key in enumerate(index.shown["record_key"].to_pylist())}
    levels_seen: dict[str, set[int]] = {}
    for left, right, weight in pairs:
        query = with_derived_columns({k: (None if v is None else names_key(v) if isinstance(v, list) else str(v))
                                      for k, v in prepared[left].items()})
        scores = index.score(query, np.array([position[right]], np.int32))
        assert scores.match_weight[0] == pytest.approx(weight, abs=1e-9), (left, right)
        for name, level in scores.levels.items():
            levels_seen.setdefault(name, set()).add(int(level[0]))
    assert {name: len(levels) for name, levels in levels_seen.items()} == present


def test_rescoring_with_details_left_out_gives_the_very_scores_of_scoring_afresh(index, truth):
    """The access path scores a record with redacted fields again as if those details were not given, reusing
    the comparisons that read none of them: the weights must be the same floats as a scoring from scratch,
    or ties between people would fall differently."""
    for person in _recorded_people(truth, 8, seed=4):
        details = LookupQuery.parse(f"{person['forename']} {person['surname']}", str(person["date_of_birth"]),
                                    _address(truth["homes"][person["person_id"]][-1]))
        ranked = index.rank(details, limit=10)
        places = np.arange(len(ranked.positions))
        for left_out in ({"address": None, "postcode": None}, {"date_of_birth": None}, {"forename": None}, {}):
            blind = dataclasses.replace(details, **left_out)
            afresh = index.score(index.prepare(blind), ranked.positions.astype(np.int32)).match_weight
            assert np.array_equal(index.rescore(ranked, places, blind), afresh), (person, left_out)


def test_a_query_is_prepared_exactly_as_the_records_are(county):
    warehouse = open_warehouse(county[0], read_only=True)
    raw = warehouse.query_arrow(f"SELECT {', '.join(SOURCE_COLUMNS)} FROM person_records")
    warehouse.close()
    connection = duckdb.connect()
    connection.register("raw", raw)
    by_sql = {row["unique_id"]: row for row in connection.sql(person_input_sql("raw")).to_arrow_table().to_pylist()}
    for record in raw.to_pylist():
        ours = prepare_person(record["forename"], record["surname"], record["date_of_birth"], record["address"],
                              record["postcode"], record["sex"])
        theirs = by_sql[f"{record['agency']}:{record['record_id']}"]
        theirs = {**theirs, "forename_names": names_key(theirs["forename_names"])}
        assert ours == {k: theirs[k] for k in ours}, record


def test_every_record_of_a_candidate_is_listed_with_its_agency(index, truth):
    person = _recorded_people(truth, 1, seed=6)[0]
    best = index.lookup(name=f"{person['surname']}, {person['forename']}", dob=str(person["date_of_birth"]))[0]
    assert best.person_id and len(best.records) >= 2
    assert {r.agency for r in best.records} and all(r.record_id for r in best.records)
    assert [r.match_weight for r in best.records] == sorted((r.match_weight for r in best.records), reverse=True)
    assert best.explanation.match_weight == pytest.approx(
        best.explanation.prior_match_weight + sum(c.match_weight for c in best.explanation.comparisons))


def test_the_cli_prints_candidates_as_json(county, truth):
    person = _recorded_people(truth, 1, seed=7)[0]
    result = runner.invoke(app, ["link", "lookup", "--name", f"{person['forename']} {person['surname']}",
                                 "--dob", person["date_of_birth"].strftime("%d/%m/%Y"), "--limit", "3",
                                 "--db", str(county[0]), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert 1 <= len(found) <= 3
    assert {"person_id", "match_weight", "match_probability", "records", "explanation"} <= set(found[0])
    assert any(r["record_key"] in truth["keys"][person["person_id"]] for r in found[0]["records"])


def test_names_are_split_as_said():
    assert split_name("Smith, Jane") == ("Jane", "Smith")
    assert split_name("Mrs Jane Ann Smith") == ("Jane", "Ann Smith")
    assert split_name("Smith") == (None, "Smith")
    assert soundex("Smith") == soundex("Smyth") == "S530"


def test_without_a_linkage_run_the_lookup_says_what_to_run(tmp_path):
    warehouse = open_warehouse(tmp_path / "empty.duckdb")
    with pytest.raises(MissingDataError, match="safer link run"):
        PersonIndex.build(warehouse)
    warehouse.close()


def test_the_lookup_keeps_every_key_of_the_rules_the_batch_model_no_longer_blocks_on():
    """The batch model's blocking was narrowed at a million records; a caller's query must still reach the
    records those wider rules found (each key is probed with the query's own values, so it costs little)."""
    from safertogether.link.lookup import LOOKUP_KEYS
    from safertogether.link.lookup_blocking import keys_from_rules
    from safertogether.link.person_model import BLOCKING_RULES

    earlier_rules = {  # the person model's blocking rules before linkspeed2
        "birth_initial": "l.date_of_birth = r.date_of_birth AND l.forename_initial = r.forename_initial",
        "birth_postcode": "l.date_of_birth = r.date_of_birth AND l.postcode = r.postcode",
        "names_district": "l.forename = r.forename AND l.surname = r.surname "
                          "AND l.postcode_district = r.postcode_district",
        "names_no_birth_date": "l.forename = r.forename AND l.surname = r.surname AND l.date_of_birth IS NULL",
        "names_birth_year": "l.forename = r.forename AND l.surname = r.surname AND l.dob_year = r.dob_year",
        "names_swapped": "l.forename = r.surname AND l.surname = r.forename",
        "day_month_swapped": "l.dob_year = r.dob_year AND l.dob_month = r.dob_day AND l.dob_day = r.dob_month "
                             "AND l.surname_initial = r.surname_initial",
    }
    held = [set(zip(k.record_columns, k.query_columns, strict=True))
            for k in keys_from_rules({**BLOCKING_RULES, **LOOKUP_KEYS})]
    for name, rule in earlier_rules.items():
        [wanted, *_] = [set(zip(k.record_columns, k.query_columns, strict=True)) for k in keys_from_rules({name: rule})]
        # A key on a subset of the rule's equalities finds every candidate the rule finds (and more).
        assert any(key <= wanted for key in held), name
