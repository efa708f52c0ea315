"""The single view, decided: a person's or a place's cross-agency history as one user may see it.

Every answer is built for one request (user, purpose, time): records are read, each is decided item by
item (:mod:`safertogether.access.policy`), withheld records are dropped and redacted fields named. Nothing
here is cached: the same person looks different to users with different agreements or clearances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from safertogether.access.agreements import stored_agreements
from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions
from safertogether.errors import AccessDeniedError, NotFoundError

if TYPE_CHECKING:
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
    try:
        view = _decide_person(warehouse, request, person_id, policy or AccessPolicy.default())
    except (AccessDeniedError, NotFoundError) as refused:
        _audit(warehouse, request, "read-person", "denied", [person_id], reason=str(refused))
        raise
    decisions = view.decisions
    shown = [v.record_key for v in decisions.views]
    redacted = [*decisions.withheld_records, *(f"{v.record_key}.{field}" for v in decisions.views
                                               for field in v.redacted)]
    agreements = sorted({a for v in decisions.views for a in v.agreements})
    _audit(warehouse, request, "break-glass" if decisions.break_glass else "read-person", "allowed",
           [view.person_id, *shown], redacted=redacted, agreement=", ".join(agreements) or None,
           reason=request.emergency_reason)
    return view


def _decide_person(warehouse: Warehouse, request: AccessRequest, person_id: str, policy: AccessPolicy) -> PersonView:
    from safertogether.link.history import current_person_id

    try:
        current = current_person_id(warehouse, person_id)
    except NotFoundError:
        current = None
    records = [] if current is None else warehouse.query(f"""
        SELECT k.record_key, p.agency, {', '.join('p.' + f for f in _PERSON_FIELDS)}
        FROM person_ids k JOIN person_records p USING (agency, record_id)
        WHERE k.person_id = ? ORDER BY p.recorded_on DESC NULLS LAST, record_key""", [current])
    decisions = policy.decide(request, records, agency_kinds(warehouse), stored_agreements(warehouse))
    if not decisions.views:
        raise NotFoundError(f"no person {person_id!r} that you may see for {request.purpose}")
    return PersonView(current or person_id, person_id if current != person_id else None, decisions)


def _audit(warehouse: Warehouse, request: AccessRequest, action: str, outcome: str, subjects: list[str], *,
           redacted: list[str] | None = None, agreement: str | None = None, reason: str | None = None) -> None:
    from safertogether.access.audit import AuditEvent, append

    append(warehouse, AuditEvent(request.user.user_id, request.user.agency, action, request.purpose or None,
                                 outcome, subjects, redacted or (), agreement, reason))  # type: ignore[arg-type]


def agency_kinds(warehouse: Warehouse) -> dict[str, str]:
    """agency -> its kind (police, ambulance, ...), which decides what being in its records says."""
    return {row["agency"]: row["kind"] for row in warehouse.query("SELECT agency, kind FROM agencies")}
