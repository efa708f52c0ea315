"""A place's face: every agency's records at one place (repeat locations), as one user may see them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from safertogether.access.policy import AccessPolicy, AccessRequest, Decisions, check_request
from safertogether.access.views.common import audited, decided, no_nulls, shown_records

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

def place_view(warehouse: Warehouse, request: AccessRequest, place_id: str,
               policy: AccessPolicy | None = None) -> dict[str, Any]:
    """A place's records of every agency as the user may see them: people there and incidents logged there.

    Raises:
        NotFoundError: no such place, or nothing there the user may see (not told apart).
    """
    from safertogether.link.partners import record_key_sql

    place = warehouse.query("SELECT * FROM places_linked WHERE place_id = ?", [place_id])

    def decide() -> Decisions:
        check_request(request)
        records = [] if not place else warehouse.query(f"""
            SELECT r.record_key, p.agency, p.forename, p.surname, p.role, p.recorded_on
            FROM record_places r JOIN person_records p ON r.record_key = {record_key_sql('p')}
            WHERE r.place_id = ? AND r.record_table = 'person_records'
            UNION ALL
            SELECT r.record_key, i.agency, NULL, NULL, NULL, CAST(i.started_at AS DATE)
            FROM record_places r JOIN incident_records i ON r.record_key = {record_key_sql('i', 'incident_ref')}
            WHERE r.place_id = ? AND r.record_table = 'incident_records'""", [place_id, place_id])
        kinds = {r["record_key"]: r for r in warehouse.query(f"""
            SELECT {record_key_sql('i', 'incident_ref')} AS record_key, i.kind AS incident_kind,
                   i.category AS incident_category, i.started_at AS incident_started_at
            FROM record_places r JOIN incident_records i ON r.record_key = {record_key_sql('i', 'incident_ref')}
            WHERE r.place_id = ?""", [place_id])} if place else {}
        rows = [no_nulls({**r, **kinds.get(r["record_key"], {})}) for r in records]
        return decided(warehouse, request, rows, policy)

    decisions = audited(warehouse, request, "read-place", place_id, decide)
    shown = sorted(shown_records(decisions),
                   key=lambda r: str(r.get("recorded_on") or r.get("incident_started_at") or ""), reverse=True)
    agencies = sorted({r["agency"] for r in shown})
    incidents = [r for r in shown if "incident_kind" in r or "incident_started_at" in r]
    return {"place": {k: v for k, v in place[0].items() if k in ("place_id", "kind", "house", "street", "town",
                                                                  "postcode", "lsoa_code")},
            "records": shown, "agencies": agencies,
            "repeat_location": len(incidents) >= 3 or (len(agencies) >= 2 and len(shown) >= 3)}
