"""A person's face: their cross-agency records, timeline, links and flags, as one user may see them.

Flags and counts are computed from what the user may see only: a flag worked out from withheld records
would tell of them. Nothing here is cached: the same person looks different to users with different
agreements or clearances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from safertogether.access.agreements import stored_agreements
from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions
from safertogether.access.views.common import agency_kinds, audited, person_records_sql
from safertogether.errors import NotFoundError

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

_VULNERABLE_KINDS: Final = ("mental-health", "missing-person", "domestic-abuse")
_VULNERABLE_ROLES: Final = ("missing-person", "subject")
#: Fields two records of a person are compared on to say why they were linked (only where both are shown).
_LINK_FIELDS: Final = ("forename", "surname", "date_of_birth", "sex", "address", "postcode", "phone")


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

    audited(warehouse, request, "read-person", person_id, decide)
    return views[0]


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
