"""What every face of the single view shares: reading a person's records, deciding them, auditing the read.

Each face reads what it needs, decides every record through the policy and appends one audit event,
refusals included, before anything is returned (:func:`audited`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from safertogether.access.agreements import stored_agreements
from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions
from safertogether.errors import AccessDeniedError, NotFoundError
from safertogether.model.access import PURPOSES

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

#: The person record fields a view may show (the policy decides which of them each user sees).
PERSON_FIELDS: Final = ("forename", "middle_names", "surname", "date_of_birth", "sex", "address", "postcode", "phone",
                        "role", "incident_ref", "recorded_on")


def person_records_sql(where: str) -> str:
    """A person's records with the incident each concerns, newest first; ``where`` filters ``person_ids k``."""
    return f"""
        SELECT k.record_key, p.agency, {', '.join('p.' + f for f in PERSON_FIELDS)},
               i.kind AS incident_kind, i.category AS incident_category, i.started_at AS incident_started_at
        FROM person_ids k JOIN person_records p USING (agency, record_id)
        LEFT JOIN incident_records i ON i.agency = p.agency AND i.incident_ref = p.incident_ref
        WHERE {where} ORDER BY coalesce(p.recorded_on, CAST(i.started_at AS DATE)) DESC NULLS LAST, record_key"""


def audit_event(warehouse: Warehouse, request: AccessRequest, action: str, outcome: str, subjects: list[str], *,
                redacted: list[str] | None = None, agreement: str | None = None, reason: str | None = None) -> None:
    """Append one event about ``request`` to the audit log (committed before this returns)."""
    from safertogether.access.audit import AuditEvent, append

    # An unknown purpose is named in the refusal's reason (quoted), never stored as a purpose.
    purpose = request.purpose if request.purpose in PURPOSES else None
    append(warehouse, AuditEvent(request.user.user_id, request.user.agency, action, purpose,
                                 outcome, subjects, redacted or (), agreement, reason))  # type: ignore[arg-type]


def agency_kinds(warehouse: Warehouse) -> dict[str, str]:
    """agency -> its kind (police, ambulance, ...), which decides what being in its records says."""
    return {row["agency"]: row["kind"] for row in warehouse.query("SELECT agency, kind FROM agencies")}


def decided(warehouse: Warehouse, request: AccessRequest, records: list[dict[str, Any]],
            policy: AccessPolicy | None) -> Decisions:
    """The policy's decisions on ``records`` for ``request``, under the stored agreements."""
    return (policy or AccessPolicy.default()).decide(request, records, agency_kinds(warehouse),
                                                     stored_agreements(warehouse))


def shown_records(decisions: Decisions) -> list[dict[str, Any]]:
    """What the user is shown of each visible record: its fields, and the names of those withheld."""
    return [{"record": v.record_key, "agency": v.agency, **v.fields, "redacted": list(v.redacted),
             "agreements": list(v.agreements), "break_glass": v.break_glass} for v in decisions.views]


def audited(warehouse: Warehouse, request: AccessRequest, action: str, subject: str,
            decide: Callable[[], Decisions]) -> Decisions:
    """Run a decision, recording it (or its refusal) in the audit log; nothing seen raises NotFoundError."""
    try:
        decisions = decide()
        if not decisions.views:
            raise NotFoundError(f"nothing at {subject!r} that you may see for {request.purpose}")
    except (AccessDeniedError, NotFoundError) as refused:
        audit_event(warehouse, request, action, "denied", [subject], reason=str(refused))
        raise
    redacted = [*decisions.withheld_records, *(f"{v.record_key}.{field}" for v in decisions.views
                                               for field in v.redacted)]
    agreements = sorted({a for v in decisions.views for a in v.agreements})
    audit_event(warehouse, request, "break-glass" if decisions.break_glass else action, "allowed",
                [subject, *(v.record_key for v in decisions.views)], redacted=redacted,
                agreement=", ".join(agreements) or None, reason=request.emergency_reason)
    return decisions


def no_nulls(record: dict[str, Any]) -> dict[str, Any]:
    """Drop the columns a record kind lacks (an incident has no name), so none is marked redacted."""
    return {k: v for k, v in record.items() if v is not None or k in ("record_key", "agency")}


def entitled(request: AccessRequest, roles: tuple[str, ...], what: str) -> None:
    """Refuse a user whose role is not among ``roles``."""
    if request.user.role not in roles:
        raise AccessDeniedError(f"{what} is for the roles {', '.join(roles)}; yours is {request.user.role}")
