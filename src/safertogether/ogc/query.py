"""Parameters of an items request, validated together (every problem reported in one answer)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from safertogether.errors import BadRequestError
from safertogether.ogc.collections import Collection
from safertogether.ogc.crs import CRS84, parse_crs
from safertogether.ogc.months import MonthRange, parse_datetime

#: Part 1's recommended default and maximum page size; a larger ``limit`` is served as the maximum.
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 10_000
#: Parameters every collection's items accept besides its queryables (``cursor`` is our paging key).
STANDARD: Final = ("limit", "bbox", "bbox-crs", "crs", "datetime", "cursor", "f")
FORMATS: Final = ("json", "geojson", "application/json", "application/geo+json")


@dataclass(frozen=True)
class ItemQuery:
    """What a client asked of a collection's items."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    bbox: tuple[float, ...] | None = None
    bbox_crs: str = CRS84
    crs: str = CRS84
    months: MonthRange = MonthRange()
    #: Queryable name -> the stored values it selects.
    filters: dict[str, list[Any]] = field(default_factory=dict)
    #: The parameters as given, minus the cursor: the next page's link repeats them.
    given: tuple[tuple[str, str], ...] = ()


def parse_item_query(collection: Collection, params: Iterable[tuple[str, str]]) -> ItemQuery:
    """Validate every parameter; raise one :class:`BadRequestError` listing all that are wrong."""
    given = dict(params)
    problems: list[str] = []
    unknown = [k for k in given if k not in STANDARD and collection.queryable(k) is None]
    if unknown:
        allowed = ", ".join([*STANDARD, *(q.name for q in collection.queryables)])
        problems.append(f"unknown parameter(s) {', '.join(unknown)}; this collection accepts {allowed}")
    values = {name: _attempt(problems, parse, given[name]) for name, parse in _PARSERS.items() if name in given}
    filters = {q.name: _attempt(problems, q.values, given[q.name]) for q in collection.queryables
               if q.name in given}
    if given.get("f", "json") not in FORMATS:
        problems.append(f"f='{given['f'][:40]}' is not offered; this service answers GeoJSON (f=json)")
    bbox_crs = values.get("bbox-crs") or CRS84
    bbox = _attempt(problems, lambda b: _check_bbox(b, bbox_crs), values["bbox"]) if values.get("bbox") else None
    if problems:
        raise BadRequestError("; ".join(problems))
    return ItemQuery(
        limit=values.get("limit") or DEFAULT_LIMIT, cursor=given.get("cursor") or None, bbox=bbox,
        bbox_crs=bbox_crs, crs=values.get("crs") or CRS84, months=values.get("datetime") or MonthRange(),
        filters=filters, given=tuple((k, v) for k, v in given.items() if k != "cursor"),
    )


def _attempt(problems: list[str], parse: Callable[[Any], Any], text: Any) -> Any:
    """``parse(text)``, or None with the problem noted (so that every problem is reported at once)."""
    try:
        return parse(text)
    except BadRequestError as exc:
        problems.append(str(exc))
        return None


def parse_limit(text: str) -> int:
    """``limit`` as an integer of at least 1; above :data:`MAX_LIMIT` the maximum is served (Part 1)."""
    try:
        value = int(text)
    except ValueError:
        raise BadRequestError(f"limit='{text[:40]}' is not an integer; use 1 to {MAX_LIMIT}") from None
    if value < 1:
        raise BadRequestError(f"limit={value} is below 1; use 1 to {MAX_LIMIT}")
    return min(value, MAX_LIMIT)


def parse_bbox(text: str) -> tuple[float, ...]:
    """Four (or six, with heights) numbers: lower-left then upper-right corner."""
    try:
        numbers = tuple(float(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise BadRequestError(f"bbox='{text[:80]}' is not 4 or 6 numbers; use minx,miny,maxx,maxy")
    return numbers


def _check_bbox(bbox: tuple[float, ...], crs: str) -> tuple[float, ...]:
    xmin, ymin, xmax, ymax = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
    if ymin > ymax or xmin > xmax:
        raise BadRequestError(f"bbox={','.join(f'{n:g}' for n in bbox)}: the lower corner comes first "
                              "(and a box across the antimeridian is not supported)")
    if crs == CRS84 and not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise BadRequestError("bbox is outside longitude -180..180, latitude -90..90; for British National "
                              "Grid metres add bbox-crs=http://www.opengis.net/def/crs/EPSG/0/27700")
    return (xmin, ymin, xmax, ymax)


_PARSERS: Final = {
    "limit": parse_limit,
    "bbox": parse_bbox,
    "crs": lambda text: parse_crs(text, "crs"),
    "bbox-crs": lambda text: parse_crs(text, "bbox-crs"),
    "datetime": parse_datetime,
}
