"""Access decisions: deny by default, per category, with redaction; each refusal a user would otherwise exploit.

The records and agreements are written out here, so what each user should see follows from the
agreement's text, independently of the policy engine.
"""

from __future__ import annotations

import datetime as dt

import pytest

from safertogether.access.policy import AccessPolicy, AccessRequest
from safertogether.errors import AccessDeniedError
from safertogether.model.access import SharingAgreement, User

TODAY = dt.date(2026, 12, 3)
KINDS = {"police": "police", "ambulance": "ambulance", "council": "council"}
IDENTITY = {"forename", "surname", "date_of_birth", "sex"}
CONTACT = {"address", "postcode"}
INVOLVEMENT = {"role", "incident_ref", "recorded_on"}


def _record(agency: str, record_id: str, role: str) -> dict:
    return {"record_key": f"{agency}:{record_id}", "agency": agency, "forename": "Leo", "surname": "Moore",
            "date_of_birth": dt.date(2007, 4, 8), "sex": "male", "address": "6 Briar Road, Leicester",
            "postcode": "QL91 0DT", "role": role, "incident_ref": f"{agency[:1].upper()}000123",
            "recorded_on": dt.date(2025, 6, 1)}


RECORDS = [_record("police", "N1", "victim"), _record("ambulance", "EPR1", "patient"),
           _record("council", "SG1", "subject")]


def _agreement(provider: str, recipient: str, categories: list[str], purposes: list[str], version: int = 1,
               valid_to: dt.date = dt.date(2027, 3, 31)) -> SharingAgreement:
    return SharingAgreement(
        agreement_id=f"{provider}-to-{recipient}", version=version, provider=provider, recipient=recipient,
        categories=categories, purposes=purposes, lawful_basis="UK GDPR Art. 6(1)(e); DPA 2018 Sch. 1 para 18",
        valid_from=dt.date(2025, 4, 1), valid_to=valid_to, approved_by="DPO, Leicestershire Police",
        approved_on=dt.date(2025, 3, 20))


def _user(agency: str, clearance: str = "OFFICIAL-SENSITIVE", user_id: str = "u1") -> User:
    return User(user_id=user_id, name="A User", agency=agency, role="analyst", clearance=clearance)


@pytest.fixture(scope="module")
def policy() -> AccessPolicy:
    return AccessPolicy.default()


def _see(policy, user, purpose, agreements=(), emergency_reason=None):
    decisions = policy.decide(AccessRequest(user, purpose, TODAY, emergency_reason), RECORDS, KINDS, agreements)
    return {v.record_key: v for v in decisions.views}, decisions


def test_an_agency_sees_its_own_records_and_nothing_of_others_without_an_agreement(policy):
    views, decisions = _see(policy, _user("police"), "crime-prevention")
    assert set(views) == {"police:N1"}
    assert set(views["police:N1"].fields) == IDENTITY | CONTACT | INVOLVEMENT and not views["police:N1"].redacted
    assert set(decisions.withheld_records) == {"ambulance:EPR1", "council:SG1"}


def test_a_clearance_below_the_classification_redacts_those_fields(policy):
    views, _ = _see(policy, _user("police", clearance="OFFICIAL"), "crime-prevention")
    police = views["police:N1"]
    assert set(police.fields) == IDENTITY | CONTACT
    assert set(police.redacted) == INVOLVEMENT  # criminal-offence data is OFFICIAL-SENSITIVE


def test_an_agreement_shares_only_its_categories_for_its_purposes(policy):
    agreement = _agreement("ambulance", "council", ["identity", "contact"], ["safeguarding"])
    views, _ = _see(policy, _user("council"), "safeguarding", [agreement])
    ambulance = views["ambulance:EPR1"]
    assert set(ambulance.fields) == IDENTITY | CONTACT and set(ambulance.redacted) == INVOLVEMENT
    assert ambulance.agreements == ("ambulance-to-council",)
    # The same agreement, another purpose: nothing of the ambulance record, not even that it exists.
    views, decisions = _see(policy, _user("council"), "crime-prevention", [agreement])
    assert "ambulance:EPR1" not in views and "ambulance:EPR1" in decisions.withheld_records


def test_an_expired_or_superseded_agreement_gives_nothing_it_no_longer_says(policy):
    expired = _agreement("ambulance", "council", ["identity", "contact", "health"], ["safeguarding"],
                         valid_to=dt.date(2026, 3, 31))
    views, _ = _see(policy, _user("council"), "safeguarding", [expired])
    assert "ambulance:EPR1" not in views
    first = _agreement("ambulance", "council", ["identity", "contact", "health"], ["safeguarding"])
    second = _agreement("ambulance", "council", ["identity"], ["safeguarding"], version=2)
    views, _ = _see(policy, _user("council"), "safeguarding", [first, second])
    assert set(views["ambulance:EPR1"].fields) == IDENTITY  # version 2 withdrew contact and health


def test_an_agreement_to_another_agency_gives_this_one_nothing(policy):
    to_police = _agreement("ambulance", "police", ["identity", "contact", "health"], ["safeguarding"])
    views, _ = _see(policy, _user("council"), "safeguarding", [to_police])
    assert set(views) == {"council:SG1"}


def test_two_users_with_different_rights_see_different_fields_of_the_same_person(policy):
    agreement = _agreement("ambulance", "police", ["identity", "contact", "health"], ["safeguarding"])
    full, _ = _see(policy, _user("police", "OFFICIAL-SENSITIVE", "senior"), "safeguarding", [agreement])
    basic, _ = _see(policy, _user("police", "OFFICIAL", "junior"), "safeguarding", [agreement])
    assert set(full["ambulance:EPR1"].fields) == IDENTITY | CONTACT | INVOLVEMENT
    assert set(basic["ambulance:EPR1"].fields) == IDENTITY | CONTACT  # health is OFFICIAL-SENSITIVE


@pytest.mark.parametrize("purpose", ["", "curiosity"])
def test_no_purpose_or_an_unknown_purpose_is_refused(policy, purpose):
    with pytest.raises(AccessDeniedError, match="purpose"):
        _see(policy, _user("police"), purpose)


def test_break_glass_needs_an_emergency_and_a_written_reason_and_is_flagged(policy):
    reason = "Caller reports a man collapsed at this address, unresponsive"
    views, decisions = _see(policy, _user("ambulance"), "emergency-response", emergency_reason=reason)
    police = views["police:N1"]
    assert set(police.fields) == IDENTITY | CONTACT and set(police.redacted) == INVOLVEMENT
    assert police.break_glass and decisions.break_glass
    assert not views["ambulance:EPR1"].break_glass  # its own record needs no glass broken
    with pytest.raises(AccessDeniedError, match="written reason"):
        _see(policy, _user("ambulance"), "emergency-response", emergency_reason="urgent")
    with pytest.raises(AccessDeniedError, match="emergency-response only"):
        _see(policy, _user("ambulance"), "safeguarding", emergency_reason=reason)


def test_hostile_identifiers_cannot_break_out_of_the_policy_request(policy):
    record = {**_record("police", 'N1" || true || "', "victim"), "agency": "police"}
    user = User(user_id='x" permit(principal,action,resource); "', name="x", agency="council", role="analyst",
                clearance="SECRET")
    decisions = policy.decide(AccessRequest(user, "safeguarding", TODAY), [record], KINDS, [])
    assert decisions.views == [] and decisions.withheld_records == (record["record_key"],)
