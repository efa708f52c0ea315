"""Stored hotspot forecasts and patrol plans, for signed-in analysts and patrol planners only.

A forecast names no person, but it shows where patrols will go: published, it would tell anyone where
police will and will not be. So these routes exist only on a server whose warehouse is open for writing
(the signed-in server, :mod:`safertogether.api.auth`), answer only users whose role is in
:data:`~safertogether.forecast.stored.FORECAST_ROLES`, audit every read and refusal, and are never
cached (``Cache-Control: no-store, private``). A public, read-only server has no such routes at all.
"""

from __future__ import annotations

from typing import Literal

import orjson
from fastapi import APIRouter, Response

from safertogether.api.auth import CurrentUser, refusals
from safertogether.api.deps import WarehouseDep
from safertogether.api.routes.people import PRIVATE
from safertogether.errors import AccessDeniedError, NotFoundError
from safertogether.model.access import User
from safertogether.store.warehouse import Warehouse

router = APIRouter(prefix="/api/forecasts", tags=["forecasts"], responses={
    401: {"description": "Not signed in (no, an expired or a revoked session or token)"},
    403: {"description": "Your role does not plan or analyse patrols"},
    404: {"description": "Nothing of this kind has been stored yet"}})


@router.get("/{kind}/latest", summary="The latest stored hotspot forecast or patrol plan, as GeoJSON")
def latest(kind: Literal["hotspots", "patrols"], user: CurrentUser, warehouse: WarehouseDep) -> Response:
    """Each flagged cell (hotspots) with its expected count, expected harm and why in plain words, or each
    patrol box (patrols) with its shift, visit times and share of harm, and the plan's fairness check."""
    from safertogether.forecast.stored import FORECAST_ROLES, latest_output

    if user.role not in FORECAST_ROLES:
        _audit(warehouse, user, kind, "denied", f"role {user.role} is not one of {', '.join(FORECAST_ROLES)}")
        refusals.refused(user)
        raise AccessDeniedError(f"stored forecasts are for the roles {', '.join(FORECAST_ROLES)}; yours is "
                                f"{user.role}")
    found = latest_output(warehouse, kind)
    if found is None:
        raise NotFoundError(f"no {kind} forecast is stored yet: make one with `safer "
                            f"{'forecast predict' if kind == 'hotspots' else 'plan patrols'} ... --store --db DB`")
    _audit(warehouse, user, kind, "allowed", None, [str(found["properties"]["output_id"])])
    return Response(orjson.dumps(found), media_type="application/geo+json", headers=PRIVATE)


def _audit(warehouse: Warehouse, user: User, kind: str, outcome: Literal["allowed", "denied"], reason: str | None,
           subjects: list[str] | None = None) -> None:
    from safertogether.access.audit import AuditEvent, append

    append(warehouse, AuditEvent(user.user_id, user.agency, f"read-forecast-{kind}", None, outcome,
                                 subjects or [], reason=reason))
