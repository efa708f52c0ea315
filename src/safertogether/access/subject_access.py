"""A subject access request answered: everything the partnership holds about one person, for the DPO to send.

UK GDPR article 15 entitles a person to their data, where it came from, who it was disclosed to and how
it was processed. The export gathers, for the person's id (followed through merges):

* every record of them, every field, from every agency (the person is entitled to all of it; the
  agreements that limit staff do not limit the subject);
* the incidents those records concern, as each service logged them, with the joint incident they were
  linked into, and never another person's record from the same incident (third parties' data is left out);
* the places their records were placed at;
* how the records were linked into one person (each scored pair, each reviewer's decision);
* who has seen their data and who tried (every audit entry naming them; denied attempts included).

Only a data protection officer may make one (purpose statutory-duty), and making one is itself audited.
The answer is built for the one request and never cached.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from safertogether.access.policy import AccessRequest
from safertogether.errors import AccessDeniedError, NotFoundError

if TYPE_CHECKING:
    from safertogether.model.access import User
    from safertogether.store.warehouse import Warehouse

#: Roles that may answer a subject access request.
SUBJECT_ACCESS_ROLES = ("dpo",)


def subject_access_export(warehouse: Warehouse, user: User, person_id: str) -> dict[str, Any]:
    """Everything held about ``person_id`` (see the module's docstring), as JSON-ready data.

    Raises:
        AccessDeniedError: the user is not a data protection officer (audited).
        NotFoundError: no such person (audited).
    """
    from safertogether.access.views.common import audit_event as _audit
    from safertogether.link.history import current_person_id

    request = AccessRequest(user, "statutory-duty")
    try:
        if user.role not in SUBJECT_ACCESS_ROLES:
            raise AccessDeniedError("a subject access export is made by a data protection officer (role dpo)")
        current = current_person_id(warehouse, person_id)
    except (AccessDeniedError, NotFoundError) as refused:
        _audit(warehouse, request, "subject-access-export", "denied", [person_id], reason=str(refused))
        raise
    export = _gather(warehouse, current)
    export["asked_for"] = person_id
    _audit(warehouse, request, "subject-access-export", "allowed",
           [current, *(r["record_key"] for r in export["records"])])
    return export


def _gather(warehouse: Warehouse, person_id: str) -> dict[str, Any]:
    from safertogether.access.audit import who_has_seen

    records = warehouse.query("""
        SELECT k.record_key, p.* FROM person_ids k JOIN person_records p USING (agency, record_id)
        WHERE k.person_id = ? ORDER BY p.recorded_on NULLS LAST, k.record_key""", [person_id])
    incidents = warehouse.query("""
        SELECT i.*, j.joint_incident_id FROM incident_records i
        LEFT JOIN joint_incidents j ON j.agency = i.agency AND j.incident_ref = i.incident_ref
        WHERE (i.agency, i.incident_ref) IN (
            SELECT p.agency, p.incident_ref FROM person_ids k JOIN person_records p USING (agency, record_id)
            WHERE k.person_id = ? AND p.incident_ref IS NOT NULL)
        ORDER BY i.started_at NULLS LAST, i.agency, i.incident_ref""", [person_id])
    places = warehouse.query("""
        SELECT r.record_key, r.flat, l.* FROM record_places r JOIN places_linked l USING (place_id)
        WHERE r.record_table = 'person_records'
          AND r.record_key IN (SELECT record_key FROM person_ids WHERE person_id = ?)
        ORDER BY r.record_key""", [person_id])
    mine = "(SELECT record_key FROM person_ids WHERE person_id = ?)"
    links = warehouse.query(f"""
        SELECT record_l, record_r, match_weight, match_probability, run_id FROM person_links
        WHERE record_l IN {mine} AND record_r IN {mine} ORDER BY record_l, record_r""", [person_id, person_id])
    # A decision that a record is someone else's names that record only as "another person's record".
    decisions = warehouse.query(f"""
        SELECT CASE WHEN record_l IN {mine} THEN record_l ELSE 'another person''s record' END AS record_l,
               CASE WHEN record_r IN {mine} THEN record_r ELSE 'another person''s record' END AS record_r,
               decision, decided_at FROM link_decisions
        WHERE record_l IN {mine} OR record_r IN {mine} ORDER BY decided_at, 1, 2""", [person_id] * 4)
    return {"person_id": person_id, "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "records": records, "incidents": incidents, "places": places, "links": links,
            "review_decisions": decisions, "seen_by": [e.as_json() for e in who_has_seen(warehouse, person_id)]}
