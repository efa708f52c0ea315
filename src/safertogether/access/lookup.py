"""The caller lookup through access control: who the caller may be, as this user may see them, audited.

A call handler gives a name, a date of birth and an address, any of them missing or misspelt. The
person index (:class:`~safertogether.link.lookup.PersonIndex`, built once per process from the warehouse)
finds the candidate people; then, for this request alone, each candidate record is decided by its owner
agency and the categories of its fields (:mod:`safertogether.access.policy`; once per agency, as every
index record has the same fields): a record with nothing the user may see is left out, and the fields
of a denied category are redacted and named. Only the people shown have their fields read out of the
index. One audit entry per lookup says who asked, for which purpose, under which agreements, which people
and records were shown and what was withheld; a refused lookup is recorded too, and nothing is returned
before its entry is committed.

What is never held between requests: an answer. The index holds records for everyone; the decisions
(per owner agency and category) are kept only under every input they depend on, the user among them
(:meth:`AccessPolicy._grants`), and each record is redacted for this request.

What the answer does not betray:

* a record the user may not see: it is not listed, and neither its score nor its rank counts. A
  candidate is ranked by the best score among the records the user may see, and a candidate with none
  is left out, so "nobody found" and "found, but not yours to see" give the same answer;
* a field the user may not see: a record with redacted fields is scored again as if the caller had not
  given those details (the model's null level weighs nothing), so an exact date-of-birth match does not
  raise the score of a record whose date of birth is withheld;
* the explanation of a score (it names the record's values): that is the profile's business, where
  each field is decided.

What it still uses: which records are candidates at all is found on every field (the index's blocking
keys), so a record may be listed, with a low score, because a withheld field matched. Leaving such a
record out would need a threshold on the visible score that also drops true matches a caller misspelt.

The audit entry holds the details as typed (``details``), so a data protection officer sees what was
searched as well as who was shown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa

from safertogether.access.agreements import stored_agreements
from safertogether.access.policy import AccessPolicy, AccessRequest, RecordView, check_request
from safertogether.access.views import agency_kinds
from safertogether.errors import AccessDeniedError, BadRequestError
from safertogether.link.lookup import LookupQuery, PersonIndex, RankedRecords, match_probability
from safertogether.model.access import SharingAgreement

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

#: The fields of a candidate record the policy decides on (the index holds these; the profile has the rest).
LOOKUP_FIELDS: Final = ("forename", "surname", "date_of_birth", "address", "postcode")
#: The index's columns holding them, as the agency holds them.
_SHOWN: Final = ["shown_forename", "shown_surname", "shown_date_of_birth", "shown_address", "shown_postcode"]
#: Candidates asked of the index per candidate wanted: some may hold nothing this user may see.
_OVERFETCH: Final = 3
MAX_LIMIT: Final = 50
#: The longest detail kept in the audit entry (the API allows 300 characters; the library, anything).
MAX_DETAIL: Final = 300


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
    details = typed_details(name=name, dob=dob, address=address, postcode=postcode, limit=limit)
    try:
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequestError(f"limit must be between 1 and {MAX_LIMIT}")
        check_request(request)
        query = LookupQuery.parse(name, dob, address, postcode)
        index = index or caller_index(warehouse)
        found = index.rank(query, limit=limit * _OVERFETCH)
        owners = index.agencies.codes[found.positions]
        agencies = index.agencies.values
        shapes = _agency_views(policy, request, {str(agencies[c]) for c in np.unique(owners).tolist()}, warehouse)
    except (AccessDeniedError, BadRequestError) as refused:
        _audit(warehouse, request, "denied", [], reason=str(refused), details=details)
        raise
    seen = np.array([str(a) in shapes for a in agencies] + [False])[owners]
    chosen, weights = _visible(found, owners, seen, shapes, index, query, limit)
    people = _candidates(found, owners, seen, weights, chosen, shapes, index)
    shown = np.zeros(len(owners), bool)
    for person in chosen:
        shown[found.bounds[person]:found.bounds[person + 1]] = True
    shown &= seen
    withheld = _keys(index, found.positions[~seen])
    redacted = [f"{key}.{f}" for key, owner in zip(_keys(index, found.positions[shown]), owners[shown].tolist(),
                                                    strict=True) for f in shapes[str(agencies[owner])].redacted]
    agreements = sorted({a for person in people for v in person.records for a in v.agreements})
    glass = any(v.break_glass for person in people for v in person.records)
    subjects = [*(p.person_id for p in people if p.person_id), *sorted(v.record_key for p in people for v in p.records)]
    seq = _audit(warehouse, request, "allowed", subjects, redacted=[*withheld, *redacted],
                 agreement=", ".join(agreements) or None, reason=request.emergency_reason, break_glass=glass,
                 details=details)
    return CallerLookup(tuple(people), glass, seq)


def typed_details(**given: object) -> list[str]:
    """What was typed, for the audit entry: ``name=Jane Smith`` for each detail given, in the order given.

    Kept as typed (misspellings are what was searched), cut at :data:`MAX_DETAIL` characters; a NUL
    or a lone surrogate, which the log cannot store, becomes the replacement character.
    """
    kept = []
    for key, value in given.items():
        if value is None or value == "":
            continue
        text = str(value)[:MAX_DETAIL].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
        kept.append(f"{key}={text}")
    return kept


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


def _keys(index: PersonIndex, positions: np.ndarray) -> list[str]:
    """The keys of the records at ``positions``, in that order."""
    return index.shown.column("record_key").take(pa.array(positions, pa.int32())).to_pylist()  # type: ignore[no-any-return]


def _agency_views(policy: AccessPolicy, request: AccessRequest, agencies: set[str],
                  warehouse: Warehouse) -> dict[str, RecordView]:
    """What the user may see of a lookup's record of each owner agency (the agencies they may see nothing of
    are left out): the decision depends on the owner and the fields, which every record of the index has alike,
    so it is made on one record per agency, with no values, and applied to each record of that agency."""
    shapes = [{"record_key": agency, "agency": agency, **dict.fromkeys(LOOKUP_FIELDS)} for agency in sorted(agencies)]
    return {view.agency: view for view in policy.decide(request, shapes, *sharing_terms(warehouse)).views}


def _visible(found: RankedRecords, owners: np.ndarray, seen: np.ndarray, shapes: dict[str, RecordView],
             index: PersonIndex, query: LookupQuery, limit: int) -> tuple[list[int], np.ndarray]:
    """The ``limit`` people to show, best first (their places among ``found``'s people), and each record's
    score on what the user may see of it. A person is ranked by the best of the records the user may see
    (``seen``); one with none is left out; ties keep the index's order."""
    weights = _visible_weights(found, owners, seen, shapes, index, query)
    if not found.people:
        return [], weights
    starts = found.bounds[:-1]
    any_seen = np.add.reduceat(seen.astype(np.int32), starts) > 0
    best = np.maximum.reduceat(np.where(seen, weights, -np.inf), starts)
    people = np.flatnonzero(any_seen)
    return people[np.argsort(-best[people], kind="stable")][:limit].tolist(), weights


def _candidates(found: RankedRecords, owners: np.ndarray, seen: np.ndarray, weights: np.ndarray, chosen: list[int],
                shapes: dict[str, RecordView], index: PersonIndex) -> list[CandidatePerson]:
    """The chosen people with the records the user may see, their visible fields read out of the index."""
    spans = [np.flatnonzero(seen[found.bounds[p]:found.bounds[p + 1]]) + found.bounds[p] for p in chosen]
    places = np.concatenate(spans) if spans else np.empty(0, np.int64)
    positions = found.positions[places]
    taken = index.shown.select(["record_key", *_SHOWN]).take(pa.array(positions, pa.int32()))
    keys = taken.column(0).to_pylist()
    values = dict(zip(LOOKUP_FIELDS, (taken.column(i + 1).to_pylist() for i in range(len(_SHOWN))), strict=True))
    agencies, scores = index.agencies.values, weights[places].tolist()
    views = [RecordView(key, shape.agency, {f: values[f][i] for f in shape.fields}, shape.redacted,
                        shape.agreements, shape.break_glass)
             for i, (key, shape) in enumerate(zip(keys, (shapes[str(agencies[o])] for o in owners[places].tolist()),
                                                  strict=True))]
    people, at = [], 0
    for span in spans:
        mine = tuple(scores[at:at + len(span)])
        best = max(mine)
        people.append(CandidatePerson(index.person_id(int(found.positions[span[0]])), best, match_probability(best),
                                      tuple(views[at:at + len(span)]), mine))
        at += len(span)
    return people


def _visible_weights(found: RankedRecords, owners: np.ndarray, seen: np.ndarray, shapes: dict[str, RecordView],
                     index: PersonIndex, query: LookupQuery) -> np.ndarray:
    """Each record's weight, those with redacted fields (of an agency the user may see) scored again as if the
    caller had not given what is withheld: a detail left out falls in the comparison's null level and weighs
    nothing. One scoring per set of withheld fields (a handful: they follow the owner agency's agreement)."""
    weights = found.weights.copy()
    groups: dict[tuple[str, ...], list[int]] = {}
    for code, agency in enumerate(index.agencies.values):
        hidden = tuple(f for f in shapes[agency].redacted if f in LOOKUP_FIELDS) if agency in shapes else ()
        if hidden:
            groups.setdefault(hidden, []).append(code)
    for hidden, codes in groups.items():
        places = np.flatnonzero(seen & np.isin(owners, codes))
        if len(places):
            weights[places] = index.rescore(found, places, dataclasses.replace(query, **dict.fromkeys(hidden)))
    return weights


def _audit(warehouse: Warehouse, request: AccessRequest, outcome: str, subjects: list[str], *,
           redacted: list[str] | None = None, agreement: str | None = None, reason: str | None = None,
           break_glass: bool = False, details: list[str] | None = None) -> int:
    from safertogether.access.audit import AuditEvent, append

    event = AuditEvent(request.user.user_id, request.user.agency, "break-glass" if break_glass else "lookup",
                       request.purpose or None, outcome, subjects, redacted or (), agreement,  # type: ignore[arg-type]
                       reason, details or ())
    return append(warehouse, event).seq
