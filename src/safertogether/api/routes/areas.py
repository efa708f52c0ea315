"""Areas: search, summary, map GeoJSON and CSV extracts."""

from __future__ import annotations

import pathlib
import shutil
import tempfile
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from safertogether.api.cache import cached_answer
from safertogether.api.deps import DisclosureDep, WarehouseDep, records_published
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.api.schemas import AreaSummary
from safertogether.areas.hierarchy import area, search_areas
from safertogether.disclosure.policy import Policy
from safertogether.disclosure.relations import released_counts
from safertogether.measures.downloads import FORMATS, GisFormat, download_name, write_crimes_download
from safertogether.measures.extracts import crimes_csv
from safertogether.measures.maps import rate_map_geojson
from safertogether.measures.period import resolve_period
from safertogether.measures.summary import area_summary, summary_in_memory
from safertogether.store.warehouse import Warehouse

router = APIRouter(prefix="/api", dependencies=[Depends(rate_limit)], tags=["areas"], responses=ERROR_RESPONSES)

MonthFrom = Annotated[str | None, Query(alias="from", description="First month, YYYY-MM", max_length=20)]
MonthTo = Annotated[str | None, Query(alias="to", description="Last month, YYYY-MM (default: latest loaded)",
                                      max_length=20)]
AreaCode = Annotated[str, Path(description="LSOA, MSOA or local authority code, or a police.uk force id",
                                max_length=40)]
ForceId = Annotated[str, Path(description="police.uk force id, e.g. leicestershire", max_length=40)]


@router.get("/areas", summary="Find areas by code, name, local authority or street")
def find_areas(
    warehouse: WarehouseDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Code, name or street")],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    return {"query": q, "results": search_areas(warehouse, q, limit)}


@router.get("/areas/{code}", summary="One area with its parents and population")
def get_area(warehouse: WarehouseDep, code: AreaCode) -> dict[str, Any]:
    return area(warehouse, code)


@router.get("/areas/{code}/summary", response_class=Response,
            summary="Counts, rate, trend, force comparison, outcomes and stop-and-search of an area",
            responses={200: {"model": AreaSummary, "description": "The area's summary for the period"}})
async def get_summary(request: Request, warehouse: WarehouseDep, policy: DisclosureDep, code: AreaCode,
                      month_from: MonthFrom = None, month_to: MonthTo = None) -> Response:
    # Summaries come from the in-memory cubes (measures.cube): once they are built, cheaper made at once
    # than in a thread; building them (seconds, nationally) must not hold up the event loop.
    return await cached_answer(request, warehouse, summary_key(code, month_from, month_to, policy),
                               lambda: summary_body(warehouse, code, month_from, month_to, policy),
                               in_memory=summary_in_memory(warehouse, policy))


def summary_key(code: str, month_from: str | None, month_to: str | None,
                policy: Policy | None = None) -> tuple[str | None, ...]:
    return ("summary", policy_name(policy), code, month_from, month_to)


def summary_body(warehouse: Warehouse, code: str, month_from: str | None, month_to: str | None,
                 policy: Policy | None = None) -> bytes:
    """The summary answer as sent (under the caller's disclosure policy): shared by the route and by warming."""
    return orjson.dumps(area_summary(warehouse, code, month_from, month_to, policy))


@router.get("/areas/{code}/crimes.csv", summary="Every street crime of the area and period as CSV (streamed)",
            response_class=StreamingResponse, dependencies=[Depends(records_published)])
def get_crimes_csv(warehouse: WarehouseDep, code: AreaCode, month_from: MonthFrom = None,
                   month_to: MonthTo = None) -> StreamingResponse:
    place = area(warehouse, code)  # fail with 404 before the stream starts
    period = resolve_period(warehouse, month_from, month_to, force=place.get("force_id"))
    filename = f"crimes-{code}-{period.start:%Y-%m}-{period.end:%Y-%m}.csv"
    return StreamingResponse(crimes_csv(warehouse, place, period), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/areas/{code}/download", response_class=FileResponse,
            summary="Every street crime of the area and period as GeoPackage, FlatGeobuf or GeoParquet",
            responses={200: {"content": {f.media_type: {} for f in FORMATS.values()}}},
            dependencies=[Depends(records_published)])
def get_download(warehouse: WarehouseDep, code: AreaCode,
                 fmt: Annotated[GisFormat, Query(alias="format", description="gpkg, fgb or parquet")] = "gpkg",
                 month_from: MonthFrom = None, month_to: MonthTo = None) -> FileResponse:
    folder = tempfile.mkdtemp(prefix="safer-download-")
    try:
        written = write_crimes_download(warehouse, code, fmt, pathlib.Path(folder) / f"crimes{FORMATS[fmt].suffix}",
                                        month_from, month_to)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(written.path, media_type=FORMATS[fmt].media_type,
                        filename=download_name(written.place["code"], written.period, fmt),
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.get("/map/{force}.geojson", summary="Choropleth GeoJSON: crime rate per 1,000 residents per LSOA",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
async def get_map(request: Request, warehouse: WarehouseDep, policy: DisclosureDep, force: ForceId,
                  month_from: MonthFrom = None, month_to: MonthTo = None) -> Response:
    return await cached_answer(request, warehouse, map_key(force, month_from, month_to, policy),
                               lambda: map_body(warehouse, force, month_from, month_to, policy),
                               media_type="application/geo+json")


def map_key(force: str, month_from: str | None, month_to: str | None,
            policy: Policy | None = None) -> tuple[str | None, ...]:
    return ("map", policy_name(policy), force, month_from, month_to)


def map_body(warehouse: Warehouse, force: str, month_from: str | None, month_to: str | None,
             policy: Policy | None = None) -> bytes:
    """The map answer as sent (under the caller's disclosure policy): shared by the route and by warming."""
    with released_counts(warehouse, policy):
        return rate_map_geojson(warehouse, force, resolve_period(warehouse, month_from, month_to, force=force))


def policy_name(policy: Policy | None) -> str:
    """Cached answers are kept per disclosure policy: an analyst's exact answer is never served to the public."""
    return policy.name if policy and not policy.exact else "exact"
