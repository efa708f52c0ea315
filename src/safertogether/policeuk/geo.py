"""Where: the one-mile radius, custom polygons, and the index of snap points behind location ids.

Distances are great-circle (haversine) on a sphere of the Earth's mean radius. SQL narrows rows to a
latitude/longitude box first (cheap on DuckDB's min/max column statistics), then measures exactly.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from safertogether.errors import BadRequestError
from safertogether.policeuk import params
from safertogether.policeuk.ids import location_id_sql
from safertogether.policeuk.params import Area, Point
from safertogether.store.warehouse import Warehouse

EARTH_RADIUS_M = 6_371_008.8
ONE_MILE_M = 1609.344


def haversine_m(lat1: Any, lng1: Any, lat2: Any, lng2: Any) -> Any:
    """Great-circle distance in metres (scalars or numpy arrays)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


@dataclass(frozen=True)
class Where:
    """A SQL condition on a table aliased ``c`` and its parameters."""

    sql: str
    params: dict[str, Any]


def within_radius(point: Point, radius_m: float = ONE_MILE_M) -> Where:
    """Rows within ``radius_m`` of a point: a bounding box, then the exact haversine distance."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.001
    widest = min(90.0, abs(point.lat) + dlat)
    cos = math.cos(math.radians(widest))
    dlng = 180.0 if cos < 1e-9 else min(180.0, dlat / cos)
    distance = (
        f"2 * {EARTH_RADIUS_M} * asin(sqrt(least(1.0, pow(sin(radians(c.latitude - $lat) / 2), 2)"
        f" + cos(radians($lat)) * cos(radians(c.latitude)) * pow(sin(radians(c.longitude - $lng) / 2), 2))))"
    )
    return Where(
        f"""c.latitude BETWEEN $lat0 AND $lat1 AND c.longitude BETWEEN $lng0 AND $lng1
            AND {distance} <= $radius""",
        {
            "lat": point.lat,
            "lng": point.lng,
            "lat0": point.lat - dlat,
            "lat1": point.lat + dlat,
            "lng0": point.lng - dlng,
            "lng1": point.lng + dlng,
            "radius": radius_m,
        },
    )


def within_area(
    warehouse: Warehouse, table: str, area: Area, month_sql: str, params: dict[str, Any]
) -> Where:
    """Rows inside a polygon: the distinct snap points in its box, tested at once with shapely."""
    xmin, ymin, xmax, ymax = area.bounds
    points = warehouse.query_arrow(
        f"""SELECT DISTINCT c.latitude, c.longitude FROM {table} c
            WHERE {month_sql} AND c.latitude BETWEEN $ymin AND $ymax
                  AND c.longitude BETWEEN $xmin AND $xmax""",
        {**params, "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax},
    )
    lats = points.column("latitude").to_numpy()
    lngs = points.column("longitude").to_numpy()
    inside = shapely.intersects_xy(area.polygon, lngs, lats) if len(lats) else np.zeros(0, dtype=bool)
    return Where(
        """(c.latitude, c.longitude) IN (SELECT (unnest($in_lats::DOUBLE[]), unnest($in_lngs::DOUBLE[])))""",
        {"in_lats": lats[inside].tolist(), "in_lngs": lngs[inside].tolist()},
    )


def at_point(lat: float, lng: float) -> Where:
    return Where("c.latitude = $at_lat AND c.longitude = $at_lng", {"at_lat": lat, "at_lng": lng})


# --- the location index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationIndex:
    """Every snap point the warehouse knows (crimes, outcomes, stops), sorted by location id."""

    ids: np.ndarray
    lats: np.ndarray
    lngs: np.ndarray
    names: list[str]

    def find(self, location_id: int) -> list[tuple[float, float, str]]:
        """Snap points with this id (normally one; several only on a hash collision)."""
        start, stop = np.searchsorted(self.ids, [location_id, location_id + 1])
        return [(float(self.lats[i]), float(self.lngs[i]), self.names[i]) for i in range(start, stop)]

    def nearest(self, point: Point) -> tuple[float, float] | None:
        if not len(self.ids):
            return None
        i = int(np.argmin(haversine_m(point.lat, point.lng, self.lats, self.lngs)))
        return float(self.lats[i]), float(self.lngs[i])


#: Name of a stop's snap point: stop-and-search files carry no ``Location``, so a stop takes the name
#: police.uk gives crimes at the same point (the first alphabetically), or ``""`` when there are none.
POINT_NAMES_SQL = """SELECT latitude, longitude, min(location) AS location FROM (
        SELECT latitude, longitude, location FROM street_crimes WHERE latitude IS NOT NULL {filter}
        UNION ALL
        SELECT latitude, longitude, location FROM crime_outcomes WHERE latitude IS NOT NULL {filter})
    GROUP BY latitude, longitude"""

_index_lock = threading.Lock()
_indexes: dict[int, tuple[int, LocationIndex]] = {}


def location_index(warehouse: Warehouse) -> LocationIndex:
    """The index of a warehouse, built once per version (tens of ms per 100,000 points)."""
    version = warehouse.version
    cached = _indexes.get(warehouse.key)
    if cached and cached[0] == version:
        return cached[1]
    with _index_lock:
        cached = _indexes.get(warehouse.key)
        if cached and cached[0] == version:
            return cached[1]
        table = warehouse.query_arrow(
            f"""WITH named AS (
                    SELECT DISTINCT latitude, longitude, coalesce(location, '') AS location FROM street_crimes
                    WHERE latitude IS NOT NULL
                    UNION SELECT DISTINCT latitude, longitude, coalesce(location, '') FROM crime_outcomes
                    WHERE latitude IS NOT NULL),
                stop_points AS (
                    SELECT s.latitude, s.longitude, coalesce(n.location, '') AS location
                    FROM (SELECT DISTINCT latitude, longitude FROM stop_searches WHERE latitude IS NOT NULL) s
                    LEFT JOIN ({POINT_NAMES_SQL.format(filter="")}) n USING (latitude, longitude)),
                every AS (SELECT * FROM named UNION SELECT * FROM stop_points)
                SELECT {location_id_sql()} AS id, latitude, longitude, location FROM every ORDER BY id"""
        )
        index = LocationIndex(
            table.column("id").to_numpy(),
            table.column("latitude").to_numpy(),
            table.column("longitude").to_numpy(),
            table.column("location").to_pylist(),
        )
        _indexes[warehouse.key] = (version, index)
        return index


def place_filter(
    warehouse: Warehouse,
    table: str,
    lat: str | None,
    lng: str | None,
    poly: str | None,
    base: str,
    base_params: dict[str, Any],
) -> Where:
    """Rows inside ``poly`` when given, else within one mile of ``lat``/``lng``, as data.police.uk reads them."""
    area = params.parse_poly(poly)
    if area is not None:
        return within_area(warehouse, table, area, base, base_params)
    point = params.parse_point(lat, lng)
    if point is None:
        raise BadRequestError("give lat and lng (a one-mile radius) or poly=lat,lng:lat,lng:... (an area)")
    return within_radius(point)
