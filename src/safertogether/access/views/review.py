"""The review queue's face: uncertain links for a reviewer, each record as the reviewer may see it, and
their decisions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, check_request
from safertogether.access.views.common import (
    audit_event,
    audited,
    decided,
    entitled,
    no_nulls,
    person_records_sql,
    shown_records,
)
from safertogether.errors import AccessDeniedError, BadRequestError, NotFoundError

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

#: Roles entitled to the review queue of uncertain links.
REVIEW_ROLES: Final = ("reviewer", "dpo")


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
        entitled(request, REVIEW_ROLES, "the review queue")
        pairs.extend(review_queue(warehouse, limit=limit * 3))
        records = [{"record_key": key, "agency": key.partition(":")[0], **side}
                   for p in pairs for key, side in ((p.record_l, p.left), (p.record_r, p.right))]
        return decided(warehouse, request, [no_nulls(r) for r in records], policy)

    decisions = audited(warehouse, request, "read-review", "review-queue", decide)
    shown = {r["record"]: r for r in shown_records(decisions)}
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
        entitled(request, REVIEW_ROLES, "link decisions")
        records = warehouse.query(person_records_sql("k.record_key IN (?, ?)"), [record_a, record_b])
        seen = {v.record_key for v in decided(warehouse, request, records, policy).views}
        if seen != {record_a, record_b}:
            raise NotFoundError("no such pair of records that you may see; the review queue lists them")
        decide(warehouse, record_a, record_b, decision, reviewer=request.user.user_id, note=note)
    except (AccessDeniedError, NotFoundError, BadRequestError) as refused:
        audit_event(warehouse, request, "link-decision", "denied", [record_a, record_b], reason=str(refused))
        raise
    audit_event(warehouse, request, "link-decision", "allowed", [record_a, record_b],
                reason=f"{decision}: {note or ''}")
