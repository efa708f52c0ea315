"""Who may see what: users, sharing agreements, deny-by-default decisions (Cedar) and redaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports

if TYPE_CHECKING:
    from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, RecordView

__all__ = ["AccessPolicy", "AccessRequest", "Decisions", "RecordView"]

lazy_exports(globals(), {name: "safertogether.access.policy" for name in __all__})
