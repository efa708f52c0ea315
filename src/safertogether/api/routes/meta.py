"""What the warehouse holds: forces, months loaded, data quality, attribution."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from safertogether.api.cache import cached_answer
from safertogether.api.deps import DisclosureDep, SettingsDep, WarehouseDep
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.disclosure.relations import counts_relation, released_counts
from safertogether.measures.quality import quality_report
from safertogether.model.attribution import ATTRIBUTION
from safertogether.model.forces import force_name

router = APIRouter(prefix="/api", dependencies=[Depends(rate_limit)], tags=["meta"], responses=ERROR_RESPONSES)


@router.get("/forces", summary="Forces with data loaded, and their months")
def list_forces(warehouse: WarehouseDep, policy: DisclosureDep) -> list[dict[str, Any]]:
    # Totals from the released counts (all of a force's, wherever they are), so they obey the policy too.
    with released_counts(warehouse, policy):
        rows = warehouse.query(
            f"""SELECT f.force_id, strftime(min(f.month), '%Y-%m') AS first_month,
                       strftime(max(f.month), '%Y-%m') AS last_month,
                       (SELECT coalesce(sum(crimes), 0) FROM {counts_relation()} c
                        WHERE c.force_id = f.force_id)::BIGINT AS crimes
                FROM force_months f GROUP BY f.force_id ORDER BY f.force_id"""
        )
    return [{**r, "name": force_name(r["force_id"])} for r in rows]


@router.get("/meta", summary="Attribution, map settings, disclosure policy and what is loaded")
def meta(warehouse: WarehouseDep, settings: SettingsDep, policy: DisclosureDep) -> dict[str, Any]:
    return {
        "attribution": ATTRIBUTION,
        "tile_url": settings.tile_url,
        "latest_month": warehouse.scalar("SELECT strftime(max(month), '%Y-%m') FROM force_months"),
        "forces": list_forces(warehouse, policy),
        "disclosure_policy": policy.as_json(),
    }


@router.get("/quality", summary="Data quality per force and month", response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
async def quality(request: Request, warehouse: WarehouseDep) -> Response:
    return await cached_answer(request, warehouse, ("quality",), lambda: orjson.dumps(quality_report(warehouse)))
