"""The single view through access decisions: a person's history as users with different rights see it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from conftest import linked_copy_with_agreements
from safertogether.access.policy import AccessRequest
from safertogether.access.views import person_view
from safertogether.errors import AccessDeniedError, NotFoundError
from safertogether.model.access import User
from safertogether.store.warehouse import Warehouse

AGREEMENTS = """
agreements:
  - agreement_id: ambulance-to-council-safeguarding
    provider: east-midlands-ambulance
    recipient: leicestershire-council
    categories: [identity, contact]
    purposes: [safeguarding]
    lawful_basis: "UK GDPR Art. 6(1)(e); DPA 2018 Sch. 1 para 18"
    valid_from: 2025-04-01
    valid_to: 2027-03-31
    approved_by: "DPO, EMAS"
    approved_on: 2025-03-20
"""


@pytest.fixture(scope="module")
def warehouse(linked_partners: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    opened = linked_copy_with_agreements(linked_partners, tmp_path_factory.mktemp("views"), AGREEMENTS)
    yield opened
    opened.close()


def _council(clearance: str = "OFFICIAL-SENSITIVE") -> User:
    return User(user_id="c1", name="Caseworker", agency="leicestershire-council", role="caseworker",
                clearance=clearance)


@pytest.fixture(scope="module")
def shared_person(warehouse: Warehouse) -> str:
    """A person known to the council, the ambulance service and the police."""
    return warehouse.scalar("""
        SELECT person_id FROM person_ids GROUP BY person_id
        HAVING bool_or(agency = 'leicestershire-council') AND bool_or(agency = 'east-midlands-ambulance')
           AND bool_or(agency = 'leicestershire-police')
        ORDER BY person_id LIMIT 1""")


def test_a_caseworker_sees_what_the_agreement_shares_and_nothing_of_the_police(warehouse, shared_person):
    view = person_view(warehouse, AccessRequest(_council(), "safeguarding", dt.date(2026, 12, 3)), shared_person)
    shown = view.as_json()
    agencies = {r["agency"] for r in shown["records"]}
    assert agencies == {"leicestershire-council", "east-midlands-ambulance"}
    for record in shown["records"]:
        if record["agency"] == "east-midlands-ambulance":
            assert "surname" in record and "role" not in record and "role" in record["redacted"]
            assert record["agreements"] == ["ambulance-to-council-safeguarding"]
        else:
            assert "role" in record and record["redacted"] == []
    # Nothing in the answer betrays the police records: not their keys, not their count.
    text = json.dumps(shown, default=str)
    assert "leicestershire-police" not in text and "withheld" not in text
    police = warehouse.scalar("SELECT count(*) FROM person_ids WHERE person_id = ? AND agency = "
                              "'leicestershire-police'", [shared_person])
    assert len(view.decisions.withheld_records) == police > 0  # kept for the audit log


def test_another_purpose_or_a_lower_clearance_sees_less(warehouse, shared_person):
    crime = person_view(warehouse, AccessRequest(_council(), "crime-prevention", dt.date(2026, 12, 3)), shared_person)
    assert {r["agency"] for r in crime.as_json()["records"]} == {"leicestershire-council"}
    low = person_view(warehouse, AccessRequest(_council("OFFICIAL"), "safeguarding", dt.date(2026, 12, 3)),
                      shared_person)
    assert all("role" not in r for r in low.as_json()["records"])  # safeguarding data is OFFICIAL-SENSITIVE


def test_unknown_and_invisible_people_are_refused_alike(warehouse):
    fire_only = warehouse.scalar("SELECT person_id FROM person_ids GROUP BY 1 HAVING bool_and(agency = "
                                 "'leicestershire-fire-rescue') ORDER BY 1 LIMIT 1")
    request = AccessRequest(_council(), "safeguarding", dt.date(2026, 12, 3))
    messages = []
    for person in (fire_only, "P9999999"):
        with pytest.raises(NotFoundError) as caught:
            person_view(warehouse, request, person)
        messages.append(str(caught.value).replace(person, "ID"))
    assert messages[0] == messages[1]
    with pytest.raises(AccessDeniedError, match="purpose"):
        person_view(warehouse, AccessRequest(_council(), "", dt.date(2026, 12, 3)), fire_only)



def test_every_view_and_every_refusal_is_in_the_audit_log(warehouse, shared_person):
    from safertogether.access.audit import read_entries, verify, who_has_seen

    before = len(read_entries(warehouse))
    view = person_view(warehouse, AccessRequest(_council(), "safeguarding", dt.date(2026, 12, 3)), shared_person)
    with pytest.raises(AccessDeniedError):
        person_view(warehouse, AccessRequest(_council(), "", dt.date(2026, 12, 3)), shared_person)
    entries = read_entries(warehouse)[before:]
    shown, refused = entries
    assert (shown.action, shown.outcome, refused.outcome) == ("read-person", "allowed", "denied")
    assert shown.actor_user == "c1" and shown.purpose == "safeguarding"
    assert shown.agreement_id == "ambulance-to-council-safeguarding"
    assert set(shown.subjects) == {view.person_id, *(v.record_key for v in view.decisions.views)}
    # The withheld police records and every redacted field are named for the DPO, never for the user.
    assert set(view.decisions.withheld_records) <= set(shown.redacted)
    assert any(r.endswith(".role") for r in shown.redacted)
    assert "purpose" in refused.reason
    assert {e.seq for e in who_has_seen(warehouse, shared_person)} >= {shown.seq, refused.seq}
    assert verify(warehouse).ok
