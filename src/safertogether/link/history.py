"""A person's cross-agency history: every record linked to them, with the incidents they were part of.

An id may have been retired by a merge since it was written down; it is followed to the id the person
now has (the merge with most records when an id's records went several ways), and the answer says so.
Person data: library and CLI only until access control guards it (the sharing-and-audit issue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from safertogether.errors import NotFoundError

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse


def current_person_id(warehouse: Warehouse, person_id: str) -> str:
    """The id ``person_id`` lives on as: itself if still held, else where its merges led."""
    seen = {person_id}
    while not warehouse.scalar("SELECT count(*) FROM person_ids WHERE person_id = ?", [person_id]):
        merged = warehouse.row("""
            SELECT other_person_id FROM person_id_events WHERE event = 'merged' AND person_id = ?
            ORDER BY run_id DESC, records DESC, other_person_id LIMIT 1""", [person_id])
        if merged is None or merged[0] in seen:
            raise NotFoundError(f"no person {person_id!r} (ids look like P0000123; `safer link run` gives them)")
        person_id = merged[0]
        seen.add(person_id)
    return person_id


def person_history(warehouse: Warehouse, person_id: str) -> dict[str, Any]:
    """Every record of the person, newest first, each with the incident it concerns where one is logged."""
    current = current_person_id(warehouse, person_id)
    records = warehouse.query("""
        SELECT p.agency, p.record_id, p.role, p.forename, p.middle_names, p.surname, p.date_of_birth, p.sex,
               p.address, p.postcode, p.recorded_on, i.kind AS incident_kind, i.started_at AS incident_started_at,
               p.incident_ref
        FROM person_ids k JOIN person_records p USING (agency, record_id)
        LEFT JOIN incident_records i ON i.agency = p.agency AND i.incident_ref = p.incident_ref
        WHERE k.person_id = ?
        ORDER BY p.recorded_on DESC NULLS LAST, p.agency, p.record_id""", [current])
    return {"person_id": current, "asked_for": person_id, "merged_from": person_id if current != person_id else None,
            "agencies": sorted({r["agency"] for r in records}), "records": records}
