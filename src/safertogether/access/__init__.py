"""Who may see what: users, sharing agreements, deny-by-default decisions (Cedar) and redaction; and the
hash-chained audit trail that proves who saw it. Names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports

if TYPE_CHECKING:
    from safertogether.access.audit import AuditEntry, AuditEvent, VerifyReport, append, verify, who_has_seen
    from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, RecordView

__all__ = ["AccessPolicy", "AccessRequest", "AuditEntry", "AuditEvent", "Decisions", "RecordView", "VerifyReport",
           "append", "verify", "who_has_seen"]
_AUDIT = ("AuditEntry", "AuditEvent", "VerifyReport", "append", "verify", "who_has_seen")

lazy_exports(globals(), {name: f"safertogether.access.{'audit' if name in _AUDIT else 'policy'}" for name in __all__})
