"""Blue-light planning for commissioners: coverage of a force area today and under scenarios.

Figures about places only (residents per LSOA, modelled travel minutes, shares within a standard), from
the stored estate (``safer plan load-stations``) and the packaged standards; see bluelight.commission.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response

from safertogether.api.deps import WarehouseDep
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.bluelight import commission
from safertogether.errors import BadRequestError

router = APIRouter(prefix="/api/plan", dependencies=[Depends(rate_limit)], tags=["plan"],
                   responses=ERROR_RESPONSES)

Force = Annotated[str, Path(description="Police force area (force id, as /api/forces names it)", max_length=60,
                            pattern="^[a-z0-9-]{1,60}$")]
Service = Annotated[str, Query(description="The service whose response is judged",
                                pattern="^(police|fire|ambulance)$")]
Services = Annotated[list[str] | None, Query(description="Services sharing the estate with it (repeatable)")]
Merges = Annotated[list[str] | None, Query(description="Two stations merged into one: 'X,Y' (ids or names); "
                                                       "repeatable", max_length=10)]


@router.get("/{force}/coverage", summary="Each service's standards judged on today's estate: the statistic each "
                                          "standard measures and the share of residents within its target")
def get_coverage(warehouse: WarehouseDep, force: Force) -> dict[str, Any]:
    return commission.plan_coverage(warehouse, force)


@router.get("/{force}/coverage.geojson", summary="The force's LSOAs coloured by nearest-station travel time "
                                                  "against a standard's target (GeoJSON)",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
def get_coverage_map(warehouse: WarehouseDep, force: Force,
                     standard: Annotated[str, Query(description="A standard's id (see /coverage)", max_length=60,
                                                    pattern="^[a-z0-9_]{1,60}$")] = "ambulance_c1_p90",
                     ) -> Response:
    return Response(orjson.dumps(commission.plan_coverage_map(warehouse, force, standard)),
                    media_type="application/geo+json")


@router.get("/{force}/stations", summary="The stored stations serving the force area, per service")
def get_stations(warehouse: WarehouseDep, force: Force) -> dict[str, Any]:
    return commission.plan_stations(warehouse, force)


@router.get("/{force}/scenarios", summary="Today against sharing, merging or choosing N shared sites, on every "
                                           "standard of the service")
def get_scenarios(warehouse: WarehouseDep, force: Force, service: Service = "fire", share: Services = None,
                  merge: Merges = None,
                  choose: Annotated[int | None, Query(ge=1, le=commission.MAX_CHOOSE,
                                                      description="Choose N shared sites (pinned stay)")] = None,
                  exact: Annotated[bool, Query(description="Also solve choose-N exactly (MCLP, HiGHS)")] = False,
                  ) -> dict[str, Any]:
    pairs = []
    for text in merge or []:
        first, _, second = text.partition(",")
        if not first.strip() or not second.strip():
            raise BadRequestError(f"merge '{text}': give two stations as X,Y")
        pairs.append((first.strip(), second.strip()))
    shared = [s for s in share or [] if s != service]
    unknown = sorted(set(shared) - {"police", "fire", "ambulance"})
    if unknown:
        raise BadRequestError(f"share: no service {', '.join(unknown)} (police, fire or ambulance)")
    return commission.plan_scenarios(warehouse, force, service, shared or None, pairs, choose, exact)
