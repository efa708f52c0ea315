"""The data.police.uk-compatible API: under ``/police-uk/api/`` beside our own API (point a client's
base URL here), and at the root ``/api/`` of a port of its own for clients that cannot change their
base URL (:mod:`safertogether.api.police_uk_root`).

Thin routes over :mod:`safertogether.policeuk`: parameters arrive as text and are parsed by the
library (400 for malformed ones, as data.police.uk answers; tolerated where data.police.uk tolerates
them), arrays are cached per warehouse version and streamed when large.
"""

from __future__ import annotations

import inspect
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from safertogether.api.cache import ANSWERS, Entry, answer_key, entry_response
from safertogether.api.deps import WarehouseDep, records_published
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.errors import BadRequestError
from safertogether.policeuk import crimes, reference, stops
from safertogether.policeuk.output import JsonArray, JsonQuery, run_json_query
from safertogether.policeuk.params import tolerated
from safertogether.store.warehouse import Warehouse

TAG = "police.uk compatible"
BETTER = (
    "\n\nDifferences from data.police.uk, on purpose: no 10,000-item cap (large answers stream), "
    "every loaded month is available (not only the last 36), and no rate limit unless the server sets "
    "`SAFER_RATE_LIMIT_PER_SECOND`. Malformed parameters get 400 with "
    '`{"error": {"status", "code", "message"}}`.'
)
MAX_FORM_BYTES = 2 * 1024 * 1024

#: The methods without a prefix; :func:`compatible_router` mounts them (include them only through it).
routes = APIRouter()

DATE_HELP = "Month, YYYY-MM (default: the latest month loaded)." + tolerated("date")
POLY_HELP = "Custom area: lat,lng:lat,lng:... (closed automatically)." + tolerated("poly")
Date = Annotated[str | None, Query(description=DATE_HELP, max_length=50)]
Lat = Annotated[str | None, Query(description="Latitude (with lng: one-mile radius)", max_length=50)]
Lng = Annotated[str | None, Query(description="Longitude", max_length=50)]
Poly = Annotated[str | None, Query(description=POLY_HELP)]
LocationId = Annotated[
    str | None, Query(description="A location id (any answer's location.street.id)", max_length=50)
]
Force = Annotated[str | None, Query(description="Force id, as listed by forces", max_length=100)]
Category = Annotated[str | None, Query(description="Crime category slug, or all-crime", max_length=100)]

_FORM_BODY = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "lat": {"type": "string"},
                        "lng": {"type": "string"},
                        "poly": {"type": "string", "description": POLY_HELP},
                        "date": {"type": "string", "description": DATE_HELP},
                    },
                }
            }
        }
    }
}

def _answer_now(
    warehouse: Warehouse, full_key: tuple[Any, ...], build: Callable[[], JsonQuery]
) -> Entry | JsonArray:
    result = run_json_query(warehouse, build())
    if not result.complete:
        return result
    entry = ANSWERS.put(full_key, result.head)
    entry.gzipped()
    return entry


async def _array(
    request: Request, warehouse: Warehouse, build: Callable[[dict[str, str]], JsonQuery]
) -> Response:
    """Answer with a JSON array: from the cache (without leaving the event loop), freshly, or streamed."""
    values = await _parameters(request)
    full_key = answer_key(warehouse, request.url.path, tuple(sorted(values.items())))
    # Not build_once: a large answer is a one-time stream that concurrent callers cannot share.
    answer = ANSWERS.get(full_key) or await run_in_threadpool(
        _answer_now, warehouse, full_key, lambda: build(values)
    )
    if isinstance(answer, JsonArray):
        return StreamingResponse(answer.chunks(), media_type="application/json")
    return entry_response(request, answer)


async def _parameters(request: Request) -> dict[str, str]:
    """Query parameters, and for POST the form body's too (police.uk takes long polygons by POST)."""
    values = dict(request.query_params)
    if request.method == "POST":
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise BadRequestError(f"the form body may be at most {MAX_FORM_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise BadRequestError(f"the form body may be at most {MAX_FORM_BYTES} bytes")
        if body:
            values |= dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return values


# --- forces and reference ----------------------------------------------------------------------------


@routes.get("/forces", summary="All forces (except BTP), by name")
def list_forces() -> list[dict[str, str]]:
    return reference.forces()


@routes.get("/forces/{force_id}", summary="A force (description, url and contacts are not in the bulk files)")
def get_force(force_id: str) -> dict[str, Any]:
    return reference.force(force_id)


@routes.get("/forces/{force_id}/people", summary="Senior officers: not available (missing data)")
def get_force_people(force_id: str) -> list[dict[str, Any]]:
    raise reference.force_people_missing(force_id)


@routes.get("/crime-categories", summary="Crime categories of a month, with all-crime")
def crime_categories(warehouse: WarehouseDep, date: Date = None) -> list[dict[str, str]]:
    return reference.crime_categories(warehouse, crimes.month_of(warehouse, date))


@routes.get(
    "/crimes-street-dates",
    summary="Months available, newest first, with stop-and-search forces",
    description="Every loaded month, not only the last 36." + BETTER,
)
def crimes_street_dates(warehouse: WarehouseDep) -> list[dict[str, Any]]:
    return reference.street_dates(warehouse)


@routes.get("/crime-last-updated", summary="First day of the latest month loaded")
def crime_last_updated(warehouse: WarehouseDep) -> dict[str, str]:
    return reference.last_updated(warehouse)


# --- crimes, outcomes and stop and search: JSON arrays, from one table ----------------------------------

_STREET = (
    "Crimes of a category (or all-crime) within one mile of lat/lng (great-circle distance "
    "<= 1609.344 m), or inside poly, in a month. POST takes the same parameters as a form body." + BETTER
)
_OUTCOMES = (
    "Outcomes recorded in a month at a location id, within one mile of lat/lng, or inside poly. "
    "`crime.category` and `crime.month` are null when that crime's street month is not loaded "
    "(the outcomes files do not carry them)." + BETTER
)
_STOPS = (
    "Stops within one mile of lat/lng, or inside poly, in a month. A stop's `location.street.name` is "
    "the name police.uk gives crimes at the same snap point (the stop files carry none)." + BETTER
)
_PARAMETERS: dict[str, Any] = {"lat": Lat, "lng": Lng, "poly": Poly, "date": Date, "location_id": LocationId,
                               "force": Force, "category": Category}


@dataclass(frozen=True)
class ArrayMethod:
    """A police.uk method answering a JSON array: where it is, what it says of itself, and the library
    function answering it with the parameters it takes.

    Every such method answers the same way (:func:`_array`: cached, or streamed when large), so they are
    registered from :data:`ARRAY_METHODS` rather than written out one by one. The named parameters are
    declared for the documentation and their length checks; the answer reads them from the query, and
    for a ``form`` method (police.uk's POST for long polygons) from the form body too.
    """

    name: str
    path: str
    summary: str
    answer: Callable[..., JsonQuery]
    parameters: tuple[str, ...]
    description: str = BETTER
    form: bool = False

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


ARRAY_METHODS: tuple[ArrayMethod, ...] = (
    ArrayMethod("crimes_street", "/crimes-street/{category}", "Street-level crimes by point or area",
                crimes.crimes_street, ("lat", "lng", "poly", "date"), _STREET, form=True),
    ArrayMethod("crimes_at_location", "/crimes-at-location",
                "Crimes at a location id, or at the location nearest lat/lng", crimes.crimes_at_location,
                ("location_id", "lat", "lng", "date"), "Not a radius search: one snap point's crimes." + BETTER),
    ArrayMethod("crimes_no_location", "/crimes-no-location", "A force's crimes published without a location",
                crimes.crimes_no_location, ("category", "force", "date")),
    ArrayMethod("outcomes_at_location", "/outcomes-at-location", "Outcomes at a location, point or area",
                crimes.outcomes_at_location, ("location_id", "lat", "lng", "poly", "date"), _OUTCOMES, form=True),
    ArrayMethod("stops_street", "/stops-street", "Stop and search by point or area", stops.stops_street,
                ("lat", "lng", "poly", "date"), _STOPS, form=True),
    ArrayMethod("stops_at_location", "/stops-at-location", "Stop and search at a location id",
                stops.stops_at_location, ("location_id", "date")),
    ArrayMethod("stops_no_location", "/stops-no-location", "A force's stops published without a location",
                stops.stops_no_location, ("force", "date")),
    ArrayMethod("stops_force", "/stops-force", "All of a force's stops in a month", stops.stops_force,
                ("force", "date")),
)


def _register(method: ArrayMethod) -> None:
    """Add ``method``'s GET (and for a form method its POST) to :data:`routes`."""
    fixed = method.path_parameters

    async def answer(request: Request, warehouse: Warehouse, **path: str) -> Response:
        arguments = [path[name] for name in fixed]
        return await _array(request, warehouse, lambda p: method.answer(
            warehouse, *arguments, **{name: p.get(name) for name in method.parameters}))

    def endpoint(name: str, parameters: tuple[str, ...]) -> Callable[..., Any]:
        async def call(request: Request, warehouse: Warehouse, **values: str | None) -> Response:
            return await answer(request, warehouse, **{k: v for k, v in values.items() if k in fixed})

        keyword = inspect.Parameter.KEYWORD_ONLY
        call.__name__ = call.__qualname__ = name
        call.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter("request", keyword, annotation=Request),
            inspect.Parameter("warehouse", keyword, annotation=WarehouseDep),
            *(inspect.Parameter(n, keyword, annotation=str) for n in fixed),
            *(inspect.Parameter(n, keyword, annotation=_PARAMETERS[n], default=None) for n in parameters
              if n not in fixed)], return_annotation=Response)
        return call

    routes.get(method.path, summary=method.summary, description=method.description)(
        endpoint(method.name, method.parameters))
    if method.form:
        routes.post(method.path, summary=f"{method.summary} (form body)", description=method.description,
                    openapi_extra=_FORM_BODY)(endpoint(f"{method.name}_post", ()))


@routes.get(
    "/outcomes-for-crime/{persistent_id}",
    summary="A crime and its outcome history",
    description="Outcomes come from the loaded outcomes files, oldest first; 404 for an unknown crime.",
)
def outcomes_for_crime(warehouse: WarehouseDep, persistent_id: str) -> dict[str, Any]:
    return crimes.outcomes_for_crime(warehouse, persistent_id)


for _method in ARRAY_METHODS:
    _register(_method)


# --- neighbourhoods: not in the bulk files ------------------------------------------------------------

_MISSING = "Not available: " + reference.NEIGHBOURHOOD_MISSING + ". Answers 404 with code missing_data."


@routes.get(
    "/locate-neighbourhood",
    summary="Neighbourhood of a point: not available (missing data)",
    description=_MISSING,
)
def locate_neighbourhood(q: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, str]:
    raise reference.neighbourhood_missing()


@routes.get(
    "/{force}/neighbourhoods",
    summary="A force's neighbourhoods: not available (missing data)",
    description=_MISSING,
)
def neighbourhoods(force: str) -> list[dict[str, str]]:
    raise reference.neighbourhood_missing(force)


@routes.get(
    "/{force}/{neighbourhood}", summary="A neighbourhood: not available (missing data)", description=_MISSING
)
def neighbourhood(force: str, neighbourhood: str) -> dict[str, Any]:
    raise reference.neighbourhood_missing(force)


@routes.get(
    "/{force}/{neighbourhood}/{what}",
    summary="Neighbourhood boundary, people, events, priorities: not available (missing data)",
    description=_MISSING,
)
def neighbourhood_detail(force: str, neighbourhood: str, what: str) -> list[dict[str, Any]]:
    if what not in {"boundary", "people", "events", "priorities"}:
        raise StarletteHTTPException(404, f"no method {what!r}; use boundary, people, events or priorities")
    raise reference.neighbourhood_missing(force)


def compatible_router(prefix: str) -> APIRouter:
    """The methods under ``prefix``, with the rate limit and the error responses every method shares."""
    # police.uk's API serves its records: withheld as a whole when the disclosure policy withholds records.
    router = APIRouter(prefix=prefix, tags=[TAG], responses=ERROR_RESPONSES,
                       dependencies=[Depends(rate_limit), Depends(records_published)])
    router.include_router(routes)
    return router


#: Beside the project's own API, on the main port.
router = compatible_router("/police-uk/api")
