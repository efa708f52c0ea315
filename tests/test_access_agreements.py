"""Sharing agreements loaded from a DPO's YAML: versioned, never edited in place, every problem reported."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from safertogether.access.agreements import load_agreements, stored_agreements
from safertogether.cli import app
from safertogether.errors import InputFormatError

AGREEMENT = """
  - agreement_id: ambulance-to-council
    version: {version}
    provider: east-midlands-ambulance
    recipient: leicestershire-council
    categories: [{categories}]
    purposes: [safeguarding]
    lawful_basis: "UK GDPR Art. 6(1)(e) and 9(2)(g); DPA 2018 Sch. 1 para 18"
    valid_from: 2025-04-01
    valid_to: 2027-03-31
    approved_by: "Data Protection Officer, EMAS"
    approved_on: 2025-03-20
"""


def _file(tmp_path, *agreements: tuple[int, str]):
    path = tmp_path / "agreements.yaml"
    path.write_text("agreements:" + "".join(AGREEMENT.format(version=v, categories=c) for v, c in agreements))
    return path


def test_versions_are_kept_and_reloading_changes_nothing(fresh_warehouse, tmp_path):
    first = load_agreements(fresh_warehouse, _file(tmp_path, (1, "identity, contact, health")))
    again = load_agreements(fresh_warehouse, _file(tmp_path, (1, "identity, contact, health")))
    assert (first.new_versions, again.new_versions, again.unchanged) == (1, 0, 1)
    load_agreements(fresh_warehouse, _file(tmp_path, (1, "identity, contact, health"), (2, "identity")))
    stored = stored_agreements(fresh_warehouse)
    assert [(a.version, a.categories) for a in stored] == [(1, ["identity", "contact", "health"]), (2, ["identity"])]


def test_an_agreement_is_never_edited_in_place(fresh_warehouse, tmp_path):
    load_agreements(fresh_warehouse, _file(tmp_path, (1, "identity, contact, health")))
    with pytest.raises(InputFormatError, match="new version"):
        load_agreements(fresh_warehouse, _file(tmp_path, (1, "identity")))
    assert stored_agreements(fresh_warehouse)[0].categories == ["identity", "contact", "health"]


def test_every_problem_in_a_file_is_reported_and_nothing_stored(fresh_warehouse, tmp_path):
    bad = _file(tmp_path, (1, "identity")).read_text().replace("safeguarding", "curiosity").replace(
        "valid_to: 2027-03-31", "valid_to: 2020-01-01").replace("approved_on: 2025-03-20", "approved_on: someday")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(InputFormatError) as caught:
        load_agreements(fresh_warehouse, path)
    message = str(caught.value)
    assert "purposes" in message and "approved_on" in message
    assert stored_agreements(fresh_warehouse) == []
    path.write_text("agreements: {not: a list}")
    with pytest.raises(InputFormatError, match="list under 'agreements:'"):
        load_agreements(fresh_warehouse, path)
    path.write_bytes(b"\xff\xfe\x00garbage: [")
    with pytest.raises(InputFormatError, match="YAML"):
        load_agreements(fresh_warehouse, path)


def test_the_cli_loads_and_lists(fresh_db, tmp_path):
    runner = CliRunner()
    loaded = runner.invoke(app, ["access", "agreements", "--load", str(_file(tmp_path, (1, "identity"))),
                                 "--db", str(fresh_db), "--json"])
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)[0]["agreement_id"] == "ambulance-to-council"
    refused = runner.invoke(app, ["access", "agreements", "--load", str(_file(tmp_path, (1, "health"))),
                                  "--db", str(fresh_db)])
    assert refused.exit_code == 2 and "new version" in refused.stderr
