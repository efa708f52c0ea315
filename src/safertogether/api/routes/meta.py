"""What the warehouse holds: forces, months loaded, data quality, attribution."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from safertogether.api.cache import cached_answer
from safertogether.api.deps import SettingsDep, WarehouseDep
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.measures.quality import quality_report
from safertogether.model.attribution import ATTRIBUTION
from safertogether.model.forces import force_name

router = APIRouter(prefix="/api", dependencies=[Depends(rate_limit)], tags=["meta"], responses=ERROR_RESPONSES)


@router.get("/forces", summary="Forces with data loaded, and their months")
def list_forces(warehouse: WarehouseDep) -> list[dict[str, Any]]:
    rows = warehouse.query(
        """SELECT force_id, strftime(min(month), '%Y-%m') AS first_month,
                  strftime(max(month), '%Y-%m') AS last_month, sum(crimes)::BIGINT AS crimes
           FROM force_months GROUP BY force_id ORDER BY force_id"""
    )
    return [{**r, "name": force_name(r["force_id"])} for r in rows]


@router.get("/meta", summary="Attribution, map settings and what is loaded")
def meta(warehouse: WarehouseDep, settings: SettingsDep) -> dict[str, Any]:
    return {
        "attribution": ATTRIBUTION,
        "tile_url": settings.tile_url,
        "latest_month": warehouse.scalar("SELECT strftime(max(month), '%Y-%m') FROM force_months"),
        "forces": list_forces(warehouse),
    }


@router.get("/quality", summary="Data quality per force and month", response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
async def quality(request: Request, warehouse: WarehouseDep) -> Response:
    return await cached_answer(request, warehouse, ("quality",), lambda: orjson.dumps(quality_report(warehouse)))
