"""Who may see what: users, sharing agreements, deny-by-default decisions (Cedar) and redaction; and the
hash-chained audit trail that proves who saw it. Names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports

if TYPE_CHECKING:
    from safertogether.access.audit import AuditEntry, AuditEvent, VerifyReport, append, verify, who_has_seen
    from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, RecordView

_POLICY = ["AccessPolicy", "AccessRequest", "Decisions", "RecordView"]
_AUDIT = ["AuditEntry", "AuditEvent", "VerifyReport", "append", "verify", "who_has_seen"]
__all__ = [*_POLICY, *_AUDIT]

lazy_exports(globals(), {**{name: "safertogether.access.policy" for name in _POLICY},
                         **{name: "safertogether.access.audit" for name in _AUDIT}})
