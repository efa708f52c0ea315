"""The single view, decided: a person's or a place's cross-agency history as one user may see it.

Every answer is built for one request (user, purpose, time): records are read, each is decided item by
item (:mod:`safertogether.access.policy`), withheld records are dropped and redacted fields named. Nothing
here is cached: the same person looks different to users with different agreements or clearances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from safertogether.access.agreements import stored_agreements
from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, check_request
from safertogether.errors import AccessDeniedError, BadRequestError, NotFoundError
from safertogether.model.access import PURPOSES

if TYPE_CHECKING:
    from safertogether.model.access import User
    from safertogether.store.warehouse import Warehouse

# The person record fields a view may show (the policy decides which of them each user sees).
_PERSON_FIELDS = ("forename", "middle_names", "surname", "date_of_birth", "sex", "address", "postcode", "phone",
                  "role", "incident_ref", "recorded_on")


@dataclass(frozen=True)
class PersonView:
    """A person's records as this user may see them; ``decisions`` also says what was withheld (for the audit)."""

    person_id: str
    merged_from: str | None
    decisions: Decisions

    def as_json(self) -> dict[str, Any]:
        """What the user is shown: never the withheld records, nor how many there were."""
        return {"person_id": self.person_id, "merged_from": self.merged_from,
                "break_glass": self.decisions.break_glass,
                "records": [{"record": v.record_key, "agency": v.agency, **v.fields, "redacted": list(v.redacted),
                             "agreements": list(v.agreements), "break_glass": v.break_glass}
                            for v in self.decisions.views]}


def person_view(warehouse: Warehouse, request: AccessRequest, person_id: str,
                policy: AccessPolicy | None = None) -> PersonView:
    """The person's cross-agency records as ``request.user`` may see them for ``request.purpose``.

    Every call is recorded in the audit log before anything is returned, refusals too: who asked, for
    which purpose, under which agreements, which records were shown and what was withheld (whole records
    by key, fields as ``key.field``). The warehouse must therefore be open for writing.

    Raises:
        AccessDeniedError: the request states no (known) purpose, or breaks glass without a reason.
        NotFoundError: no such person, or none of their records may be seen (the two are not told apart,
            so ids cannot be enumerated).
    """
    views: list[PersonView] = []

    def decide() -> Decisions:
        views.append(_decide_person(warehouse, request, person_id, policy or AccessPolicy.default()))
        return views[0].decisions

    _audited(warehouse, request, "read-person", person_id, decide)
    return views[0]


def person_records_sql(where: str) -> str:
    """A person's records with the incident each concerns, newest first; ``where`` filters ``person_ids k``."""
    return f"""
        SELECT k.record_key, p.agency, {', '.join('p.' + f for f in _PERSON_FIELDS)},
               i.kind AS incident_kind, i.category AS incident_category, i.started_at AS incident_started_at
        FROM person_ids k JOIN person_records p USING (agency, record_id)
        LEFT JOIN incident_records i ON i.agency = p.agency AND i.incident_ref = p.incident_ref
        WHERE {where} ORDER BY coalesce(p.recorded_on, CAST(i.started_at AS DATE)) DESC NULLS LAST, record_key"""


def _decide_person(warehouse: Warehouse, request: AccessRequest, person_id: str, policy: AccessPolicy) -> PersonView:
    from safertogether.link.history import current_person_id

    try:
        current = current_person_id(warehouse, person_id)
    except NotFoundError:
        current = None
    records = [] if current is None else warehouse.query(person_records_sql("k.person_id = ?"), [current])
    decisions = policy.decide(request, records, agency_kinds(warehouse), stored_agreements(warehouse))
    if not decisions.views:
        raise NotFoundError(f"no person {person_id!r} that you may see for {request.purpose}")
    return PersonView(current or person_id, person_id if current != person_id else None, decisions)


def _audit(warehouse: Warehouse, request: AccessRequest, action: str, outcome: str, subjects: list[str], *,
           redacted: list[str] | None = None, agreement: str | None = None, reason: str | None = None) -> None:
    from safertogether.access.audit import AuditEvent, append

    # An unknown purpose is named in the refusal's reason (quoted), never stored as a purpose.
    purpose = request.purpose if request.purpose in PURPOSES else None
    append(warehouse, AuditEvent(request.user.user_id, request.user.agency, action, purpose,
                                 outcome, subjects, redacted or (), agreement, reason))  # type: ignore[arg-type]


def agency_kinds(warehouse: Warehouse) -> dict[str, str]:
    """agency -> its kind (police, ambulance, ...), which decides what being in its records says."""
    return {row["agency"]: row["kind"] for row in warehouse.query("SELECT agency, kind FROM agencies")}


# ------------------------------------------------------------------------------------ the single view's faces
# Each face reads what it needs, decides every record through the policy and appends one audit event,
# refusals included, before anything is returned. Flags and counts are computed from what the user may
# see only: a flag worked out from withheld records would tell of them.

#: Roles entitled to the review queue of uncertain links, and to the audit log's queries.
REVIEW_ROLES: Final = ("reviewer", "dpo")
AUDIT_ROLES: Final = ("dpo",)
_VULNERABLE_KINDS: Final = ("mental-health", "missing-person", "domestic-abuse")
_VULNERABLE_ROLES: Final = ("missing-person", "subject")
#: Fields two records of a person are compared on to say why they were linked (only where both are shown).
_LINK_FIELDS: Final = ("forename", "surname", "date_of_birth", "sex", "address", "postcode", "phone")


def person_profile(warehouse: Warehouse, request: AccessRequest, person_id: str,
                   policy: AccessPolicy | None = None) -> dict[str, Any]:
    """The person's cross-agency timeline as :func:`person_view` decides it, with each link between two
    shown records explained and the flags the shown records raise (audited by :func:`person_view`)."""
    view = person_view(warehouse, request, person_id, policy)
    shown = view.as_json()
    timeline = shown.pop("records")
    by_key = {r["record"]: r for r in timeline}
    return {**shown, "timeline": timeline, "links": _links(warehouse, by_key), "flags": _flags(timeline)}


def _links(warehouse: Warehouse, by_key: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The scored pairs and reviewers' decisions between shown records, and which shown fields agree."""
    keys = sorted(by_key)
    if len(keys) < 2:
        return []
    marks = ", ".join("?" * len(keys))
    rows = warehouse.query(f"""
        SELECT l.record_l, l.record_r, l.match_probability, l.match_weight, d.decision, d.reviewer
        FROM person_links l LEFT JOIN link_decisions d USING (record_l, record_r)
        WHERE l.record_l IN ({marks}) AND l.record_r IN ({marks})
        UNION ALL
        SELECT d.record_l, d.record_r, NULL, NULL, d.decision, d.reviewer FROM link_decisions d
        WHERE d.record_l IN ({marks}) AND d.record_r IN ({marks}) AND NOT EXISTS (
            SELECT 1 FROM person_links l WHERE l.record_l = d.record_l AND l.record_r = d.record_r)
        ORDER BY 3 DESC NULLS LAST, 1, 2""", keys * 4)
    return [{**row, "agree": _compare(by_key[row["record_l"]], by_key[row["record_r"]], True),
             "differ": _compare(by_key[row["record_l"]], by_key[row["record_r"]], False)} for row in rows]


def _compare(left: dict[str, Any], right: dict[str, Any], agree: bool) -> list[str]:
    both = [f for f in _LINK_FIELDS if left.get(f) is not None and right.get(f) is not None]
    return [f for f in both if (str(left[f]).strip().lower() == str(right[f]).strip().lower()) == agree]


def _flags(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    victim = {(r["agency"], r.get("incident_ref") or r["record"]) for r in records if r.get("role") == "victim"}
    flags = []
    if len(victim) >= 2:
        flags.append({"flag": "repeat-victim", "because": f"victim in {len(victim)} incidents you may see"})
    vulnerable = sorted({r.get("incident_kind") for r in records if r.get("incident_kind") in _VULNERABLE_KINDS}
                        | {r.get("role") for r in records if r.get("role") in _VULNERABLE_ROLES})
    if vulnerable:
        flags.append({"flag": "vulnerability", "because": ", ".join(str(v) for v in vulnerable)})
    return flags


def _decided(warehouse: Warehouse, request: AccessRequest, records: list[dict[str, Any]],
             policy: AccessPolicy | None) -> Decisions:
    return (policy or AccessPolicy.default()).decide(request, records, agency_kinds(warehouse),
                                                     stored_agreements(warehouse))


def _shown(decisions: Decisions) -> list[dict[str, Any]]:
    return [{"record": v.record_key, "agency": v.agency, **v.fields, "redacted": list(v.redacted),
             "agreements": list(v.agreements), "break_glass": v.break_glass} for v in decisions.views]


def _audited(warehouse: Warehouse, request: AccessRequest, action: str, subject: str,
             decide: Callable[[], Decisions]) -> Decisions:
    """Run a decision, recording it (or its refusal) in the audit log; nothing seen raises NotFoundError."""
    try:
        decisions = decide()
        if not decisions.views:
            raise NotFoundError(f"nothing at {subject!r} that you may see for {request.purpose}")
    except (AccessDeniedError, NotFoundError) as refused:
        _audit(warehouse, request, action, "denied", [subject], reason=str(refused))
        raise
    redacted = [*decisions.withheld_records, *(f"{v.record_key}.{field}" for v in decisions.views
                                               for field in v.redacted)]
    agreements = sorted({a for v in decisions.views for a in v.agreements})
    _audit(warehouse, request, "break-glass" if decisions.break_glass else action, "allowed",
           [subject, *(v.record_key for v in decisions.views)], redacted=redacted,
           agreement=", ".join(agreements) or None, reason=request.emergency_reason)
    return decisions


def place_view(warehouse: Warehouse, request: AccessRequest, place_id: str,
               policy: AccessPolicy | None = None) -> dict[str, Any]:
    """A place's records of every agency as the user may see them: people there and incidents logged there.

    Raises:
        NotFoundError: no such place, or nothing there the user may see (not told apart).
    """
    from safertogether.link.partners import record_key_sql

    place = warehouse.query("SELECT * FROM places_linked WHERE place_id = ?", [place_id])

    def decide() -> Decisions:
        check_request(request)
        records = [] if not place else warehouse.query(f"""
            SELECT r.record_key, p.agency, p.forename, p.surname, p.role, p.recorded_on
            FROM record_places r JOIN person_records p ON r.record_key = {record_key_sql('p')}
            WHERE r.place_id = ? AND r.record_table = 'person_records'
            UNION ALL
            SELECT r.record_key, i.agency, NULL, NULL, NULL, CAST(i.started_at AS DATE)
            FROM record_places r JOIN incident_records i ON r.record_key = {record_key_sql('i', 'incident_ref')}
            WHERE r.place_id = ? AND r.record_table = 'incident_records'""", [place_id, place_id])
        kinds = {r["record_key"]: r for r in warehouse.query(f"""
            SELECT {record_key_sql('i', 'incident_ref')} AS record_key, i.kind AS incident_kind,
                   i.category AS incident_category, i.started_at AS incident_started_at
            FROM record_places r JOIN incident_records i ON r.record_key = {record_key_sql('i', 'incident_ref')}
            WHERE r.place_id = ?""", [place_id])} if place else {}
        rows = [_no_nulls({**r, **kinds.get(r["record_key"], {})}) for r in records]
        return _decided(warehouse, request, rows, policy)

    decisions = _audited(warehouse, request, "read-place", place_id, decide)
    shown = sorted(_shown(decisions), key=lambda r: str(r.get("recorded_on") or r.get("incident_started_at") or ""),
                   reverse=True)
    agencies = sorted({r["agency"] for r in shown})
    incidents = [r for r in shown if "incident_kind" in r or "incident_started_at" in r]
    return {"place": {k: v for k, v in place[0].items() if k in ("place_id", "kind", "house", "street", "town",
                                                                  "postcode", "lsoa_code")},
            "records": shown, "agencies": agencies,
            "repeat_location": len(incidents) >= 3 or (len(agencies) >= 2 and len(shown) >= 3)}


def _no_nulls(record: dict[str, Any]) -> dict[str, Any]:
    """Drop the columns a record kind lacks (an incident has no name), so none is marked redacted."""
    return {k: v for k, v in record.items() if v is not None or k in ("record_key", "agency")}


def incident_view(warehouse: Warehouse, request: AccessRequest, joint_incident_id: int,
                  policy: AccessPolicy | None = None) -> dict[str, Any]:
    """Every service's record of one joint incident, and the people in them, as the user may see them."""
    from safertogether.link.partners import record_key_sql

    subject = f"incident:{joint_incident_id}"
    incident_keys: set[str] = set()

    def decide() -> Decisions:
        check_request(request)
        incidents = warehouse.query(f"""
            SELECT {record_key_sql('i', 'incident_ref')} AS record_key, i.agency, i.incident_ref,
                   i.kind AS incident_kind, i.category AS incident_category, i.started_at AS incident_started_at
            FROM joint_incidents j JOIN incident_records i USING (agency, incident_ref)
            WHERE j.joint_incident_id = ? ORDER BY i.started_at, i.agency""", [joint_incident_id])
        incident_keys.update(r["record_key"] for r in incidents)
        people = warehouse.query(person_records_sql(
            "(p.agency, p.incident_ref) IN (SELECT agency, incident_ref FROM joint_incidents "
            "WHERE joint_incident_id = ?)"), [joint_incident_id]) if incidents else []
        return _decided(warehouse, request, [_no_nulls(r) for r in incidents + people], policy)

    shown = _shown(_audited(warehouse, request, "read-incident", subject, decide))
    return {"joint_incident_id": joint_incident_id,
            "records": [r for r in shown if r["record"] in incident_keys],
            "people": [r for r in shown if r["record"] not in incident_keys]}


def review_view(warehouse: Warehouse, request: AccessRequest, limit: int = 20,
                policy: AccessPolicy | None = None) -> list[dict[str, Any]]:
    """The uncertain pairs for a reviewer, each record shown as the reviewer's agreements allow.

    A pair is listed only if something of both records may be seen. Raises AccessDeniedError for users
    whose role is not a reviewing one (:data:`REVIEW_ROLES`).
    """
    from safertogether.link.review import ReviewPair, review_queue

    pairs: list[ReviewPair] = []

    def decide() -> Decisions:
        check_request(request)
        _entitled(request, REVIEW_ROLES, "the review queue")
        pairs.extend(review_queue(warehouse, limit=limit * 3))
        records = [{"record_key": key, "agency": key.partition(":")[0], **side}
                   for p in pairs for key, side in ((p.record_l, p.left), (p.record_r, p.right))]
        return _decided(warehouse, request, [_no_nulls(r) for r in records], policy)

    decisions = _audited(warehouse, request, "read-review", "review-queue", decide)
    shown = {r["record"]: r for r in _shown(decisions)}
    listed = [{"record_l": p.record_l, "record_r": p.record_r, "match_probability": p.match_probability,
               "match_weight": p.match_weight, "left": shown[p.record_l], "right": shown[p.record_r]}
              for p in pairs if p.record_l in shown and p.record_r in shown]
    return listed[:limit]


def decide_review(warehouse: Warehouse, request: AccessRequest, record_a: str, record_b: str, decision: str,
                  note: str | None = None, policy: AccessPolicy | None = None) -> None:
    """Record a reviewer's decision on two records they may see (audited as ``link-decision``)."""
    from safertogether.link.review import decide

    try:
        check_request(request)
        _entitled(request, REVIEW_ROLES, "link decisions")
        records = warehouse.query(person_records_sql("k.record_key IN (?, ?)"), [record_a, record_b])
        seen = {v.record_key for v in _decided(warehouse, request, records, policy).views}
        if seen != {record_a, record_b}:
            raise NotFoundError("no such pair of records that you may see; the review queue lists them")
        decide(warehouse, record_a, record_b, decision, reviewer=request.user.user_id, note=note)
    except (AccessDeniedError, NotFoundError, BadRequestError) as refused:
        _audit(warehouse, request, "link-decision", "denied", [record_a, record_b], reason=str(refused))
        raise
    _audit(warehouse, request, "link-decision", "allowed", [record_a, record_b], reason=f"{decision}: {note or ''}")


def _entitled(request: AccessRequest, roles: tuple[str, ...], what: str) -> None:
    if request.user.role not in roles:
        raise AccessDeniedError(f"{what} is for the roles {', '.join(roles)}; yours is {request.user.role}")


# ------------------------------------------------------------------------------------------ the audit's faces

def who_has_seen_view(warehouse: Warehouse, user: User, person_id: str) -> list[dict[str, Any]]:
    """Every audit entry naming the person (a subject access request), for a data protection officer."""
    from safertogether.access.audit import who_has_seen

    return _audit_query(warehouse, user, person_id, lambda: who_has_seen(warehouse, person_id))


def break_glass_reads(warehouse: Warehouse, user: User) -> list[dict[str, Any]]:
    """Every break-glass read, with its written reason, for the data protection officer's review."""
    from safertogether.access.audit import read_entries

    return _audit_query(warehouse, user, "break-glass",
                        lambda: read_entries(warehouse, "WHERE action = 'break-glass'"))


def _audit_query(warehouse: Warehouse, user: User, subject: str,
                 query: Callable[[], list[Any]]) -> list[dict[str, Any]]:
    """A query of the audit log for :data:`AUDIT_ROLES`, itself audited (purpose statutory-duty)."""
    request = AccessRequest(user, "statutory-duty")
    try:
        _entitled(request, AUDIT_ROLES, "the audit log's queries")
    except AccessDeniedError as refused:
        _audit(warehouse, request, "audit-query", "denied", [subject], reason=str(refused))
        raise
    entries = query()
    _audit(warehouse, request, "audit-query", "allowed", [subject])
    return [e.as_json() for e in entries]


def own_history(warehouse: Warehouse, user: User, limit: int = 100) -> list[dict[str, Any]]:
    """The user's own latest audit entries, newest last (anyone may see what they did)."""
    from safertogether.access.audit import read_entries

    entries = read_entries(warehouse, "WHERE seq IN (SELECT seq FROM audit_log WHERE actor_user = ? "
                                      "ORDER BY seq DESC LIMIT ?)", [user.user_id, limit])
    return [e.as_json() for e in entries]
