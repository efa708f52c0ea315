"""The caller lookup through access decisions, on the synthetic partners: what each user sees of the same caller,
refusals that show nothing and are audited, a misspelt caller still found, and no telling unknown from forbidden."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from conftest import linked_copy_with_agreements
from safertogether.access.agreements import load_agreements
from safertogether.access.audit import read_entries, verify
from safertogether.access.lookup import caller_index, lookup_caller
from safertogether.access.policy import AccessRequest
from safertogether.errors import AccessDeniedError, BadRequestError
from safertogether.link.lookup import PersonIndex
from safertogether.model.access import User
from safertogether.sources.synth.corruption import keyboard_typo
from safertogether.store.copy_tables import copy_tables
from safertogether.store.warehouse import Warehouse, open_warehouse

TODAY = dt.date(2026, 12, 3)
# The ambulance service shares who its patients are with the council, not where they live.
AGREEMENTS = """
agreements:
  - agreement_id: ambulance-to-council-identity
    provider: east-midlands-ambulance
    recipient: leicestershire-council
    categories: [identity]
    purposes: [safeguarding]
    lawful_basis: "UK GDPR Art. 6(1)(e); DPA 2018 Sch. 1 para 18"
    valid_from: 2025-04-01
    valid_to: 2027-03-31
    approved_by: "DPO, EMAS"
    approved_on: 2025-03-20
"""
COUNCIL = User(user_id="c1", name="Caseworker", agency="leicestershire-council", role="caseworker",
               clearance="OFFICIAL-SENSITIVE")
AMBULANCE = User(user_id="a1", name="Call handler", agency="east-midlands-ambulance", role="call-handler",
                 clearance="OFFICIAL-SENSITIVE")
POLICE = User(user_id="p1", name="Call handler", agency="leicestershire-police", role="call-handler",
              clearance="OFFICIAL-SENSITIVE")


@pytest.fixture(scope="module")
def warehouse(linked_partners: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    opened = linked_copy_with_agreements(linked_partners, tmp_path_factory.mktemp("lookup-access"), AGREEMENTS)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def index(warehouse: Warehouse) -> PersonIndex:
    return caller_index(warehouse)


def _record(warehouse: Warehouse, where: str) -> dict:
    """One person record (with its person id) matching ``where``, the first by person id."""
    return warehouse.query(f"""
        SELECT k.person_id, k.record_key, p.* FROM person_ids k JOIN person_records p USING (agency, record_id)
        WHERE p.forename IS NOT NULL AND p.surname IS NOT NULL AND p.date_of_birth IS NOT NULL
          AND p.address IS NOT NULL AND {where}
        ORDER BY k.person_id, k.record_key LIMIT 1""")[0]


def _ask(warehouse, index, user, record, purpose="safeguarding", **details):
    query = {"name": f"{record['forename']} {record['surname']}", "dob": record["date_of_birth"],
             "address": record["address"], **details}
    return lookup_caller(warehouse, AccessRequest(user, purpose, TODAY), index=index, **query)


def test_the_same_caller_seen_by_two_users_shows_different_fields(warehouse, index):
    record = _record(warehouse, """p.agency = 'east-midlands-ambulance' AND k.person_id IN (SELECT person_id FROM
        person_ids GROUP BY 1 HAVING bool_or(agency = 'leicestershire-council'))""")
    council = _ask(warehouse, index, COUNCIL, record)
    ambulance = _ask(warehouse, index, AMBULANCE, record)
    by_council = {v.record_key: v for c in council.candidates for v in c.records}
    by_ambulance = {v.record_key: v for c in ambulance.candidates for v in c.records}
    key = record["record_key"]
    # The caseworker sees who the patient is, not where they live; the ambulance call handler sees both.
    assert set(by_council[key].fields) == {"forename", "surname", "date_of_birth"}
    assert set(by_council[key].redacted) == {"address", "postcode"}
    assert by_council[key].agreements == ("ambulance-to-council-identity",)
    assert set(by_ambulance[key].fields) == {"forename", "surname", "date_of_birth", "address", "postcode"}
    assert by_ambulance[key].redacted == ()
    # Each sees their own agency's records of the person; the ambulance service nothing of the council's.
    person = record["person_id"]
    council_person = next(c for c in council.candidates if c.person_id == person)
    ambulance_person = next(c for c in ambulance.candidates if c.person_id == person)
    assert {v.agency for v in council_person.records} == {"leicestershire-council", "east-midlands-ambulance"}
    assert {v.agency for v in ambulance_person.records} == {"east-midlands-ambulance"}
    text = json.dumps(council.as_json(), default=str)
    assert record["address"] not in text and "leicestershire-police" not in text
    # The audit says what the caseworker was not shown.
    entry = read_entries(warehouse, "WHERE seq = ?", [council.audit_seq])[0]
    assert (entry.actor_user, entry.action, entry.outcome, entry.purpose) == ("c1", "lookup", "allowed",
                                                                              "safeguarding")
    assert f"{key}.address" in entry.redacted and person in entry.subjects and key in entry.subjects
    assert entry.agreement_id == "ambulance-to-council-identity"


@pytest.mark.parametrize(("purpose", "reason", "message"), [
    ("", None, "state the purpose"), ("curiosity", None, "unknown purpose"),
    ("emergency-response", "urgent", "written reason")])
def test_a_refused_lookup_returns_no_person_data_and_is_audited(warehouse, index, purpose, reason, message):
    record = _record(warehouse, "p.agency = 'leicestershire-police'")
    before = len(read_entries(warehouse))
    with pytest.raises(AccessDeniedError, match=message) as refused:
        lookup_caller(warehouse, AccessRequest(POLICE, purpose, TODAY, emergency_reason=reason), index=index,
                      name=f"{record['forename']} {record['surname']}", dob=record["date_of_birth"])
    assert record["surname"] not in str(refused.value) and record["person_id"] not in str(refused.value)
    (entry,) = read_entries(warehouse)[before:]
    assert (entry.actor_user, entry.action, entry.outcome) == ("p1", "lookup", "denied")
    assert entry.subjects == () and message in entry.reason
    assert verify(warehouse).ok


def test_a_lookup_without_details_is_refused_and_audited(warehouse, index):
    before = len(read_entries(warehouse))
    with pytest.raises(BadRequestError, match="nothing to look up"):
        lookup_caller(warehouse, AccessRequest(POLICE, "crime-prevention", TODAY), index=index, name="  ")
    assert [e.outcome for e in read_entries(warehouse)[before:]] == ["denied"]


def test_a_misspelt_name_without_a_date_of_birth_still_finds_the_person(warehouse, index):
    rows = warehouse.query("""
        SELECT k.person_id, p.forename, p.surname, p.address FROM person_ids k
        JOIN person_records p USING (agency, record_id)
        WHERE p.agency = 'leicestershire-police' AND p.forename IS NOT NULL AND length(p.surname) >= 5
          AND p.address IS NOT NULL
        ORDER BY hash(k.record_key) LIMIT 20""")
    rng = np.random.default_rng(3)
    first = 0
    for row in rows:
        surname = keyboard_typo(row["surname"], rng)
        assert surname != row["surname"]
        answer = lookup_caller(warehouse, AccessRequest(POLICE, "emergency-response", TODAY), index=index,
                               name=f"{row['forename']} {surname}", address=row["address"])
        ids = [c.person_id for c in answer.candidates]
        assert row["person_id"] in ids[:3], (row, surname, ids)
        first += ids[0] == row["person_id"]
    assert first >= 18


def test_unknown_and_forbidden_callers_get_the_same_answer(warehouse, index):
    """A person only the police hold, asked for by the council, answers as a name nobody has; only the audit
    log tells the two apart."""
    police_only = warehouse.query("""
        SELECT k.person_id, k.record_key, p.forename, p.surname, p.date_of_birth FROM person_ids k
        JOIN person_records p USING (agency, record_id)
        WHERE k.person_id IN (SELECT person_id FROM person_ids GROUP BY 1
                              HAVING bool_and(agency = 'leicestershire-police'))
          AND p.forename IS NOT NULL AND p.surname IS NOT NULL AND p.date_of_birth IS NOT NULL
        ORDER BY k.person_id LIMIT 40""")
    request = AccessRequest(COUNCIL, "safeguarding", TODAY)
    for row in police_only:
        name, dob = f"{row['forename']} {row['surname']}", row["date_of_birth"]
        if not any(c.person_id == row["person_id"] for c in index.lookup(name, dob)):
            continue  # the index itself does not find them: no test of hiding
        forbidden = lookup_caller(warehouse, request, index=index, name=name, dob=dob)
        if not forbidden.candidates:
            break  # no one else the council may see matches too
    else:
        pytest.fail("no police-only person whose lookup matches nobody the council may see")
    unknown = lookup_caller(warehouse, request, index=index, name="Quillon Zxyvark", dob="1901-02-03")
    assert {**forbidden.as_json(), "audit_seq": 0} == {**unknown.as_json(), "audit_seq": 0}
    hidden, nobody = (read_entries(warehouse, "WHERE seq = ?", [a.audit_seq])[0] for a in (forbidden, unknown))
    assert row["record_key"] in hidden.redacted and nobody.redacted == ()
    assert hidden.outcome == nobody.outcome == "allowed"


def test_no_answer_is_kept_between_users(warehouse, index):
    """The index is built once and shared; a second user's answer to the same question is decided afresh."""
    record = _record(warehouse, "p.agency = 'leicestershire-police'")
    police = _ask(warehouse, index, POLICE, record)
    council = _ask(warehouse, index, COUNCIL, record)
    assert caller_index(warehouse) is index
    police_keys = {v.record_key for c in police.candidates for v in c.records}
    council_keys = {v.record_key for c in council.candidates for v in c.records}
    assert record["record_key"] in police_keys and record["record_key"] not in council_keys
    assert all(v.agency != "leicestershire-police" for c in council.candidates for v in c.records)


def test_on_postgresql_the_lookup_answers_as_on_duckdb_and_sees_a_new_agreement_at_once(warehouse, index,
                                                                                          postgres_server, tmp_path):
    url = postgres_server.create_database("lookup_access")
    server = open_warehouse(url)
    try:
        copy_tables(warehouse, server, ("agencies", "person_records", "link_runs", "person_ids", "sharing_agreements"))
        on_server = PersonIndex.build(server)
        record = _record(warehouse, """p.agency = 'east-midlands-ambulance' AND k.person_id IN (SELECT person_id FROM
            person_ids GROUP BY 1 HAVING bool_or(agency = 'leicestershire-council'))""")
        for user in (COUNCIL, AMBULANCE):
            here, there = _ask(warehouse, index, user, record), _ask(server, on_server, user, record)
            assert {**there.as_json(), "audit_seq": 0} == {**here.as_json(), "audit_seq": 0}
        address = next(v for c in there.candidates for v in c.records if v.record_key == record["record_key"])
        assert "address" in address.fields  # the ambulance call handler's own record
        # The DPO loads a wider agreement (from another process, say): the next lookup is decided under it.
        wider = tmp_path / "wider.yaml"
        wider.write_text(AGREEMENTS.replace("ambulance-to-council-identity", "ambulance-to-council-contact")
                         .replace("[identity]", "[identity, contact]"))
        dpo = open_warehouse(url)
        load_agreements(dpo, wider)
        dpo.close()
        after = _ask(server, on_server, COUNCIL, record)
        seen = next(v for c in after.candidates for v in c.records if v.record_key == record["record_key"])
        assert seen.fields["address"] == record["address"] and seen.redacted == ()
        report = verify(server)
        assert report.ok and report.entries == 3
    finally:
        server.close()


def test_a_record_is_scored_on_what_the_user_may_see(warehouse, index):
    """The caseworker may not see where the ambulance's patient lives: the address the caller gave does not
    raise that record's score for them (it counts as not given), while it does for the ambulance call handler."""
    record = _record(warehouse, """p.agency = 'east-midlands-ambulance' AND k.person_id IN (SELECT person_id FROM
        person_ids GROUP BY 1 HAVING bool_or(agency = 'leicestershire-council'))""")
    key, name = record["record_key"], f"{record['forename']} {record['surname']}"

    def weight(answer, user_sees_address):
        person = next(c for c in answer.candidates if any(v.record_key == key for v in c.records))
        score = next(s for v, s in zip(person.records, person.scores, strict=True) if v.record_key == key)
        view = next(v for v in person.records if v.record_key == key)
        assert ("address" in view.fields) == user_sees_address
        assert person.match_weight == max(person.scores)  # ranked by what is seen
        return score

    council = weight(_ask(warehouse, index, COUNCIL, record), False)
    ambulance = weight(_ask(warehouse, index, AMBULANCE, record), True)
    without_address = next(r.match_weight for c in index.lookup(name, record["date_of_birth"], limit=30)
                           for r in c.records if r.record_key == key)
    with_address = next(r.match_weight for c in index.lookup(name, record["date_of_birth"], record["address"],
                                                             limit=30) for r in c.records if r.record_key == key)
    assert with_address > without_address + 1  # the address agrees: it weighs for whoever may see it
    assert council == pytest.approx(without_address)
    assert ambulance == pytest.approx(with_address)


def test_the_audit_entry_says_what_was_searched(warehouse, index):
    """A data protection officer sees what a user typed, not only whom they were shown; refused searches too."""
    record = _record(warehouse, "p.agency = 'leicestershire-police'")
    name = f"{record['forename']}  {record['surname']}"
    answer = lookup_caller(warehouse, AccessRequest(POLICE, "crime-prevention", TODAY), index=index, name=name,
                           dob=record["date_of_birth"].strftime("%d/%m/%Y"), address=record["address"], limit=5)
    entry = read_entries(warehouse, "WHERE seq = ?", [answer.audit_seq])[0]
    assert entry.details == (f"name={name}", f"dob={record['date_of_birth']:%d/%m/%Y}",
                             f"address={record['address']}", "limit=5")
    before = len(read_entries(warehouse))
    with pytest.raises(AccessDeniedError):
        lookup_caller(warehouse, AccessRequest(POLICE, "", TODAY), index=index, name="Jane\x00 Doe",
                      postcode="LE1 1AA' OR 1=1 --")
    (refused,) = read_entries(warehouse)[before:]
    assert refused.outcome == "denied"
    assert refused.details == ("name=Jane\ufffd Doe", "postcode=LE1 1AA' OR 1=1 --", "limit=10")
    assert verify(warehouse).ok
