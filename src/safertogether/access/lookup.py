"""The caller lookup through access control: who the caller may be, as this user may see them, audited.

A call handler gives a name, a date of birth and an address, any of them missing or misspelt. The
person index (:class:`~safertogether.link.lookup.PersonIndex`, built once per process from the warehouse)
finds the candidate people; then, for this request alone, each candidate record is decided item by item
(:mod:`safertogether.access.policy`): a record with nothing the user may see is left out, and the fields
of a denied category are redacted and named. One audit entry per lookup says who asked, for which
purpose, under which agreements, which people and records were shown and what was withheld; a refused
lookup is recorded too, and nothing is returned before its entry is committed.

What is never held between requests: an answer. The index holds records for everyone; decisions depend
on the user, the purpose, the day and the agreements in force, and are made anew for each lookup.

What the answer does not betray:

* a record the user may not see: it is not listed, and neither its score nor its rank counts. A
  candidate is ranked by the best score among the records the user may see, and a candidate with none
  is left out, so "nobody found" and "found, but not yours to see" give the same answer;
* the explanation of a score (it names the record's values): that is the profile's business, where
  each field is decided.

What it still does: a visible record's score was computed over all its fields, redacted ones included
(an exact date-of-birth match raises the score of a record whose date of birth is withheld).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from safertogether.access.agreements import stored_agreements
from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, RecordView, check_request
from safertogether.access.views import agency_kinds
from safertogether.errors import AccessDeniedError, BadRequestError
from safertogether.link.lookup import Candidate, LinkedRecord, LookupQuery, PersonIndex
from safertogether.model.access import SharingAgreement

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

#: The fields of a candidate record the policy decides on (the index holds these; the profile has the rest).
LOOKUP_FIELDS: Final = ("forename", "surname", "date_of_birth", "address", "postcode")
#: Candidates asked of the index per candidate wanted: some may hold nothing this user may see.
_OVERFETCH: Final = 3
MAX_LIMIT: Final = 50


@dataclass(frozen=True)
class CandidatePerson:
    """A person who may be the caller, as this user may see them: only records (and fields) they may see."""

    person_id: str | None
    match_weight: float
    match_probability: float
    records: tuple[RecordView, ...]
    scores: tuple[float, ...]

    def as_json(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "match_weight": round(self.match_weight, 3),
                "match_probability": round(self.match_probability, 6),
                "records": [{"record": v.record_key, "agency": v.agency, **v.fields, "redacted": list(v.redacted),
                             "agreements": list(v.agreements), "break_glass": v.break_glass,
                             "match_weight": round(score, 3)} for v, score in zip(self.records, self.scores,
                                                                                   strict=True)]}


@dataclass(frozen=True)
class CallerLookup:
    """The answer to one lookup: candidates best first, and whether glass was broken to show any of them."""

    candidates: tuple[CandidatePerson, ...]
    break_glass: bool
    audit_seq: int

    def as_json(self) -> dict[str, Any]:
        """What the user is shown: never the withheld records, nor how many there were."""
        return {"candidates": [c.as_json() for c in self.candidates], "break_glass": self.break_glass,
                "audit_seq": self.audit_seq}


def caller_index(warehouse: Warehouse) -> PersonIndex:
    """The warehouse's person index, built on first use and kept by the warehouse (rebuilt after it commits).

    It holds records, never answers: every lookup through it is decided for its own user.
    """
    return warehouse.memo("person_index", PersonIndex.build)


def lookup_caller(warehouse: Warehouse, request: AccessRequest, name: str | None = None,
                  dob: str | dt.date | None = None, address: str | None = None, postcode: str | None = None, *,
                  limit: int = 10, index: PersonIndex | None = None,
                  policy: AccessPolicy | None = None) -> CallerLookup:
    """The people the caller may be, best first, with what ``request.user`` may see of each for ``request.purpose``.

    Args:
        warehouse: open for writing (the audit entry is written before anything is returned).
        request: who asks, why, and when (an emergency reason breaks glass: identity and contact only).
        name: as said ("Jane Smith", "Smith, Jane"); dob: YYYY-MM-DD or DD/MM/YYYY; address: as said,
            a postcode at its end read as the postcode; postcode: given apart. Any may be missing or misspelt.
        limit: at most this many people (1 to 50).
        index: the person index (default: :func:`caller_index`, built once per warehouse object).

    Returns:
        The candidates the user may see, and the audit entry's number. No candidate is the same answer
        whether nobody matched or the matches are not the user's to see.

    Raises:
        AccessDeniedError: no purpose or an unknown one, or break glass without a written reason (audited).
        BadRequestError: no details, a date of birth that is not a date, or a limit out of range (audited).
    """
    policy = policy or AccessPolicy.default()
    try:
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequestError(f"limit must be between 1 and {MAX_LIMIT}")
        check_request(request)
        query = LookupQuery.parse(name, dob, address, postcode)
        found = (index or caller_index(warehouse)).find(query, limit=limit * _OVERFETCH)
        decisions = policy.decide(request, _records(found), *sharing_terms(warehouse))
    except (AccessDeniedError, BadRequestError) as refused:
        _audit(warehouse, request, "denied", [], reason=str(refused))
        raise
    people = _visible(found, decisions)[:limit]
    shown = {v.record_key for person in people for v in person.records}
    redacted = [*decisions.withheld_records,
                *(f"{v.record_key}.{f}" for v in decisions.views if v.record_key in shown for f in v.redacted)]
    subjects = [*(p.person_id for p in people if p.person_id), *sorted(shown)]
    agreements = sorted({a for person in people for v in person.records for a in v.agreements})
    glass = any(v.break_glass for person in people for v in person.records)
    seq = _audit(warehouse, request, "allowed", subjects, redacted=redacted, agreement=", ".join(agreements) or None,
                 reason=request.emergency_reason, break_glass=glass)
    return CallerLookup(tuple(people), glass, seq)


_terms: dict[int, tuple[tuple[Any, ...], tuple[dict[str, str], list[SharingAgreement]]]] = {}
_terms_lock = threading.Lock()


def sharing_terms(warehouse: Warehouse) -> tuple[dict[str, str], list[SharingAgreement]]:
    """The agencies' kinds and every stored agreement version, read again only when the agreements changed.

    Neither is person data, and every decision still checks each agreement's period and scope against
    the request. Where one process writes (a DuckDB file), this warehouse's own commits are all the changes
    there are (:meth:`Warehouse.memo`). On a server another process may load agreements: versions are
    only ever added (``load_agreements`` refuses an edit), so their count, versions and latest approval,
    one small query, say whether any changed. (An agency's kind is fixed when it is first imported.)
    """
    if not warehouse.engine.shared_writers:
        return warehouse.memo("sharing_terms", _read_terms)
    stamp = warehouse.row("SELECT count(*), sum(version), max(approved_on) FROM sharing_agreements") or ()
    held = _terms.get(warehouse.key)
    if held is not None and held[0] == stamp:
        return held[1]
    terms = _read_terms(warehouse)
    with _terms_lock:
        _terms[warehouse.key] = (stamp, terms)
    return terms


def _read_terms(warehouse: Warehouse) -> tuple[dict[str, str], list[SharingAgreement]]:
    return agency_kinds(warehouse), stored_agreements(warehouse)


def _records(found: list[Candidate]) -> list[dict[str, Any]]:
    return [{"record_key": r.record_key, "agency": r.agency, **{f: getattr(r, f) for f in LOOKUP_FIELDS}}
            for candidate in found for r in candidate.records]


def _visible(found: list[Candidate], decisions: Decisions) -> list[CandidatePerson]:
    """Each candidate with only the records the user may see, ranked by the best of those; none: left out."""
    views = {v.record_key: v for v in decisions.views}
    people = []
    for candidate in found:
        seen: list[tuple[RecordView, LinkedRecord]] = [(views[r.record_key], r) for r in candidate.records
                                                       if r.record_key in views]
        if not seen:
            continue
        best = max(seen, key=lambda pair: pair[1].match_weight)[1]
        people.append(CandidatePerson(candidate.person_id, best.match_weight, best.match_probability,
                                      tuple(v for v, _ in seen), tuple(r.match_weight for _, r in seen)))
    people.sort(key=lambda p: -p.match_weight)  # stable: ties keep the index's order
    return people


def _audit(warehouse: Warehouse, request: AccessRequest, outcome: str, subjects: list[str], *,
           redacted: list[str] | None = None, agreement: str | None = None, reason: str | None = None,
           break_glass: bool = False) -> int:
    from safertogether.access.audit import AuditEvent, append

    event = AuditEvent(request.user.user_id, request.user.agency, "break-glass" if break_glass else "lookup",
                       request.purpose or None, outcome, subjects, redacted or (), agreement,  # type: ignore[arg-type]
                       reason)
    return append(warehouse, event).seq
