"""The Community Safety Index: scores of a level, an index card per area, the map by band, the methodology."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from safertogether.api.deps import DisclosureDep, WarehouseDep
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.index import cards
from safertogether.index.drilldown import drilldown

router = APIRouter(prefix="/api/index", dependencies=[Depends(rate_limit)], tags=["index"],
                   responses=ERROR_RESPONSES)

Level = Annotated[str | None, Query(description="lsoa, msoa, lad or borough [default: the newest edition's]",
                                    pattern="^(lsoa|msoa|lad|borough)$")]
Period = Annotated[str | None, Query(description="A year [default: the latest]", pattern=r"^\d{4}$")]
AreaCode = Annotated[str, Path(description="LSOA, MSOA, local authority or borough code", max_length=40,
                               pattern="^[A-Za-z0-9-]{1,40}$")]


@router.get("", summary="Every area's index score, band, halves and rank range in one period")
def get_scores(warehouse: WarehouseDep, policy: DisclosureDep, level: Level = None,
               period: Period = None) -> dict[str, Any]:
    return cards.index_scores(warehouse, level, period, policy)


@router.get("/areas/{code}", summary="An area's index card: score, band, halves, themes, trend, drivers, "
                                     "similar areas")
def get_card(warehouse: WarehouseDep, policy: DisclosureDep, code: AreaCode, period: Period = None,
             level: Level = None) -> dict[str, Any]:
    return cards.index_card(warehouse, code, period, policy=policy, level=level)


@router.get("/drilldown/{code}", summary="Force -> local authority -> MSOA -> LSOA: an area and the areas below it, "
                                         "with rates, harm, trend, outcome and find rates, index and funnel verdicts")
def get_drilldown(warehouse: WarehouseDep, policy: DisclosureDep, code: AreaCode,
                  months: Annotated[int, Query(ge=1, le=120, description="The latest N months loaded")] = 12,
                  ) -> dict[str, Any]:
    return drilldown(warehouse, code, months, policy)


@router.get("/map.geojson", summary="The areas of the newest edition (of a level) coloured by band (GeoJSON): "
                                   "LSOAs, or MSOAs, local authorities and London boroughs drawn from their LSOAs",
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
def get_map(warehouse: WarehouseDep, policy: DisclosureDep, level: Level = None, period: Period = None) -> Response:
    return Response(cards.band_map_geojson(warehouse, period, policy, level), media_type="application/geo+json")


@router.get("/editions/{edition_id}/config", response_class=PlainTextResponse,
            summary="The configuration (YAML) an edition was built from: build with it to reproduce every figure")
def get_config(warehouse: WarehouseDep, edition_id: Annotated[int, Path(ge=1)]) -> PlainTextResponse:
    return PlainTextResponse(cards.edition_config(warehouse, edition_id), media_type="application/yaml")


@router.get("/methodology", response_class=HTMLResponse,
            summary="How the index is made, for residents and councillors (HTML; ?format=md for Markdown)")
def get_methodology(fmt: Annotated[str, Query(alias="format", pattern="^(html|md)$")] = "html") -> Response:
    text = cards.methodology()
    if fmt == "md":
        return PlainTextResponse(text, media_type="text/markdown")
    return HTMLResponse(cards.methodology_html(text))
