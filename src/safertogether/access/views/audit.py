"""The audit log's faces: who has seen a person, break-glass reads (data protection officer), and a
user's own history. Each query of the log is itself audited.

A data protection officer answers for their own agency: they see the entries of its users' actions and
the entries naming one of its records (``agency:reference``), whoever acted; not what other agencies'
users did with other agencies' records, though the log is one chain (:func:`of_agency`). An entry that
names a person id alone (a refused read shows no record) counts for the actor's agency only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from safertogether.access.policy import AccessRequest
from safertogether.access.views.common import audit_event, entitled
from safertogether.errors import AccessDeniedError

if TYPE_CHECKING:
    from safertogether.access.audit import AuditEntry
    from safertogether.model.access import User
    from safertogether.store.warehouse import Warehouse

#: Roles entitled to the audit log's queries.
AUDIT_ROLES: Final = ("dpo",)


def who_has_seen_view(warehouse: Warehouse, user: User, person_id: str) -> list[dict[str, Any]]:
    """Every audit entry naming the person (a subject access request) that the data protection officer's
    agency answers for."""
    from safertogether.access.audit import who_has_seen

    return _audit_query(warehouse, user, person_id, lambda: who_has_seen(warehouse, person_id))


def break_glass_reads(warehouse: Warehouse, user: User) -> list[dict[str, Any]]:
    """Every break-glass read by the officer's agency or of its records, with its written reason, for review."""
    from safertogether.access.audit import read_entries

    return _audit_query(warehouse, user, "break-glass",
                        lambda: read_entries(warehouse, "WHERE action = 'break-glass'"))


def _audit_query(warehouse: Warehouse, user: User, subject: str,
                 query: Callable[[], list[Any]]) -> list[dict[str, Any]]:
    """A query of the audit log for :data:`AUDIT_ROLES`, itself audited (purpose statutory-duty)."""
    request = AccessRequest(user, "statutory-duty")
    try:
        entitled(request, AUDIT_ROLES, "the audit log's queries")
    except AccessDeniedError as refused:
        audit_event(warehouse, request, "audit-query", "denied", [subject], reason=str(refused))
        raise
    entries = of_agency(query(), user.agency)
    audit_event(warehouse, request, "audit-query", "allowed", [subject])
    return [e.as_json() for e in entries]


def of_agency(entries: Iterable[AuditEntry], agency: str) -> list[AuditEntry]:
    """The entries a data protection officer of ``agency`` answers for: its users' actions, and any action
    naming one of its records."""
    prefix = f"{agency}:"
    return [e for e in entries if e.actor_agency == agency or any(s.startswith(prefix) for s in e.subjects)]


def own_history(warehouse: Warehouse, user: User, limit: int = 100) -> list[dict[str, Any]]:
    """The user's own latest audit entries, newest last (anyone may see what they did)."""
    from safertogether.access.audit import read_entries

    entries = read_entries(warehouse, "WHERE seq IN (SELECT seq FROM audit_log WHERE actor_user = ? "
                                      "ORDER BY seq DESC LIMIT ?)", [user.user_id, limit])
    return [e.as_json() for e in entries]
