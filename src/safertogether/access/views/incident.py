"""A joint incident's face: every service's record of one event and the people in them, as one user may see them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, check_request
from safertogether.access.views.common import audited, decided, no_nulls, person_records_sql, shown_records

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

def incident_view(warehouse: Warehouse, request: AccessRequest, joint_incident_id: int,
                  policy: AccessPolicy | None = None) -> dict[str, Any]:
    """Every service's record of one joint incident, and the people in them, as the user may see them."""
    from safertogether.link.partners import record_key_sql

    subject = f"incident:{joint_incident_id}"
    incident_keys: set[str] = set()

    def decide() -> Decisions:
        check_request(request)
        incidents = warehouse.query(f"""
            SELECT {record_key_sql('i', 'incident_ref')} AS record_key, i.agency, i.incident_ref,
                   i.kind AS incident_kind, i.category AS incident_category, i.started_at AS incident_started_at
            FROM joint_incidents j JOIN incident_records i USING (agency, incident_ref)
            WHERE j.joint_incident_id = ? ORDER BY i.started_at, i.agency""", [joint_incident_id])
        incident_keys.update(r["record_key"] for r in incidents)
        people = warehouse.query(person_records_sql(
            "(p.agency, p.incident_ref) IN (SELECT agency, incident_ref FROM joint_incidents "
            "WHERE joint_incident_id = ?)"), [joint_incident_id]) if incidents else []
        return decided(warehouse, request, [no_nulls(r) for r in incidents + people], policy)

    shown = shown_records(audited(warehouse, request, "read-incident", subject, decide))
    return {"joint_incident_id": joint_incident_id,
            "records": [r for r in shown if r["record"] in incident_keys],
            "people": [r for r in shown if r["record"] not in incident_keys]}
