"""Blocked pairs made by joins on one hashed key per rule are Splink's own: the same pairs, the same match keys.

The oracle is Splink's blocking of the same records (its predictions without registered pairs).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import duckdb
import pytest
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator

from safertogether.ingest import import_partner
from safertogether.link.blocked_pairs import blocked_pairs_sql
from safertogether.link.model import link_records
from safertogether.link.partners import load_person_records
from safertogether.link.person_model import BLOCKING_RULES, PARTNER_TRAINING, partner_person_settings
from safertogether.link.records import load_febrl
from safertogether.link.settings import BLOCKING_RULES as FEBRL_RULES
from safertogether.link.settings import person_settings
from safertogether.sources.synth import SynthConfig, generate_partners
from safertogether.store.warehouse import open_warehouse


def _splink_pairs(connection: duckdb.DuckDBPyConnection, table: str, rules: list[str]) -> set[tuple[str, str, str]]:
    """Splink's own blocking: every blocked pair (scored by a model of one comparison, never trained)."""
    db_api = DuckDBAPI(connection=connection)
    settings = SettingsCreator(link_type="dedupe_only", comparisons=[cl.ExactMatch("surname")],
                               blocking_rules_to_generate_predictions=rules)
    registered = db_api.register(connection.table(table), table_name=f"{table}_splink_{uuid.uuid4().hex[:8]}")
    linker = Linker(registered, settings, log_level=logging.WARNING)
    predictions = linker.inference.predict(warning_mode="never")
    return set(connection.execute(f"SELECT match_key, unique_id_l, unique_id_r FROM {predictions.physical_name}"
                                  ).fetchall())


def _our_pairs(connection: duckdb.DuckDBPyConnection, table: str, rules: list[str]) -> set[tuple[str, str, str]]:
    steps = blocked_pairs_sql(rules, table)
    assert steps is not None
    for name, sql in steps:
        connection.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")
    return set(connection.execute(f"SELECT match_key, join_key_l, join_key_r FROM {steps[-1][0]}").fetchall())


@pytest.fixture(scope="module")
def partner_records(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    out = tmp_path_factory.mktemp("partners") / "synth"
    generate_partners(SynthConfig(people=3_000, seed=5, data=data_dir), out)
    warehouse = open_warehouse(tmp_path_factory.mktemp("wh") / "partners.duckdb")
    import_partner(warehouse, sorted(out.glob("*.yaml")))
    records = load_person_records(warehouse)
    warehouse.close()
    return records


def test_partner_pairs_are_splinks_pairs_with_its_match_keys(partner_records):
    connection, rules = partner_records.connection, list(BLOCKING_RULES.values())
    ours = _our_pairs(connection, "people", rules)
    assert len(ours) > 1_000
    assert ours == _splink_pairs(connection, "people", rules)


def test_febrl_pairs_are_splinks_pairs():
    records = load_febrl("febrl3")
    rules = list(FEBRL_RULES.values())
    assert _our_pairs(records.connection, "records_0", rules) == _splink_pairs(records.connection, "records_0", rules)


def test_a_run_scores_the_same_pairs_as_with_splinks_blocking(partner_records):
    run = link_records(partner_records, PARTNER_TRAINING, partner_person_settings)
    scored = set(partner_records.connection.execute(
        f"SELECT match_key, unique_id_l, unique_id_r FROM {run.predictions_table}").fetchall())
    assert scored == _splink_pairs(partner_records.connection, "people", list(BLOCKING_RULES.values()))


@pytest.mark.parametrize("rule", [
    "l.surname = r.surname OR l.postcode = r.postcode",
    "levenshtein(l.surname, r.surname) <= 1",
    "l.surname = 'smith'",
    "l.surname = l.forename",
])
def test_a_rule_other_than_equalities_leaves_blocking_to_splink(rule):
    assert blocked_pairs_sql(["l.postcode = r.postcode", rule], "people") is None


def test_febrl4_links_two_files_with_splinks_own_blocking():
    records = load_febrl("febrl4")
    run = link_records(records, settings=person_settings)
    assert records.connection.execute(f"SELECT count(*) FROM {run.predictions_table}").fetchall()[0][0] > 4_000
