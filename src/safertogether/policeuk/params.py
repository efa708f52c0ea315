"""Parsing the API's query parameters, with the 400 answers data.police.uk gives for malformed ones.

Routes take every parameter as text and parse it here, so a malformed value is a 400 with a message
that says what was expected (not a framework 422), as for data.police.uk's own clients. The few
malformed values data.police.uk is documented or seen to accept are accepted the same way and listed
in :data:`TOLERATED` (the OpenAPI descriptions and the README's table are written from it).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import shapely

from safertogether.errors import BadRequestError

_MONTH = re.compile(r"(\d{4})-(\d{2})")
MAX_POLYGON_POINTS = 10_000


@dataclass(frozen=True)
class Tolerance:
    """A malformed value that data.police.uk accepts, so we accept it too, and why we believe it does."""

    parameter: str
    value: str
    read_as: str
    evidence: str


TOLERATED = (
    Tolerance("date", "`date=undefined`", "the latest month",
              "JavaScript clients send it for a missing date (ukpd 1.2: `date=${date}`); ukpd's own tests, "
              "run against data.police.uk, expect the latest month's crimes back"),
    Tolerance("date", "`date=` (empty)", "the latest month",
              "documented: date is optional and the latest month is shown by default"),
    Tolerance("poly", "`poly` whose last point repeats its first", "the same polygon",
              "documented: the first and last points need not be the same; they are joined by a straight line"),
)
#: ``date`` values read as "no date given" (see :data:`TOLERATED`).
LATEST_MONTH_DATES = frozenset({"", "undefined"})


def tolerated(parameter: str) -> str:
    """The tolerated values of a parameter, as a sentence for its OpenAPI description."""
    cases = [f"{t.value} → {t.read_as}" for t in TOLERATED if t.parameter == parameter]
    return f" Accepted as data.police.uk accepts them: {'; '.join(cases)}." if cases else ""


def parse_month(text: str | None) -> dt.date | None:
    """``YYYY-MM`` -> the month's first day; ``None`` (use the latest month) when absent or tolerated."""
    if text is None or text.strip() in LATEST_MONTH_DATES:
        return None
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise BadRequestError(f"date must be a month as YYYY-MM, not {text!r}")
    return dt.date(int(match[1]), int(match[2]), 1)


def _number(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadRequestError(f"{name} must be a number, not {text!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRequestError(f"{name} must be between {low:g} and {high:g}, not {text!r}")
    return value


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float


def parse_point(lat: str | None, lng: str | None) -> Point | None:
    """``lat`` and ``lng`` (both or neither); ``None`` when neither is given."""
    if lat in (None, "") and lng in (None, ""):
        return None
    if lat in (None, "") or lng in (None, ""):
        raise BadRequestError("lat and lng must be given together")
    assert lat is not None and lng is not None
    return Point(_number("lat", lat, -90, 90), _number("lng", lng, -180, 180))


@dataclass(frozen=True)
class Area:
    """A custom area from ``poly=lat,lng:lat,lng:...`` (closed automatically)."""

    polygon: shapely.Polygon | shapely.MultiPolygon | shapely.GeometryCollection
    bounds: tuple[float, float, float, float]  # min lng, min lat, max lng, max lat


def parse_poly(text: str | None) -> Area | None:
    if text is None or text == "":
        return None
    pairs = [p for p in text.strip().strip(":").split(":")]
    if len(pairs) > MAX_POLYGON_POINTS:
        raise BadRequestError(f"poly may have at most {MAX_POLYGON_POINTS} points")
    points: list[tuple[float, float]] = []
    for pair in pairs:
        parts = pair.split(",")
        if len(parts) != 2:
            raise BadRequestError(f"poly must be lat,lng pairs separated by ':', not {pair[:40]!r}")
        lat, lng = _number("poly latitude", parts[0], -90, 90), _number("poly longitude", parts[1], -180, 180)
        points.append((lng, lat))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        raise BadRequestError("poly needs at least three distinct points")
    polygon = shapely.Polygon(points)
    if not polygon.is_valid:
        polygon = shapely.make_valid(polygon)
    if polygon.area == 0:
        raise BadRequestError("poly encloses no area (its points are in a line)")
    xmin, ymin, xmax, ymax = polygon.bounds
    return Area(polygon, (xmin, ymin, xmax, ymax))


def parse_location_id(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not re.fullmatch(r"\s*\d{1,12}\s*", text):
        raise BadRequestError(f"location_id must be a whole number, not {text[:40]!r}")
    return int(text)


def require(name: str, value: str | None) -> str:
    if value is None or value.strip() == "":
        raise BadRequestError(f"{name} is required")
    return value.strip()
