"""Towns and villages (the ``places`` table, from GeoNames) placed in the areas: search and map labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from safertogether.areas.assign import PointLocator
from safertogether.store.warehouse import Warehouse

# Without boundaries a place takes the LSOA of the nearest crime point within this distance (~1 km).
_NEAREST_DEGREES = 0.01


def towns_named(warehouse: Warehouse, text: str, limit: int = 5) -> list[dict[str, Any]]:
    """Places whose name is or starts with ``text``, exact names and bigger places first, with their area.

    A town is given as the MSOA holding its centre point (an LSOA where no lookup says its MSOA), and
    only where that area lies in a force with data loaded: a town elsewhere has nothing to show.
    """
    towns = warehouse.query(
        """SELECT name, longitude, latitude, population FROM places
           WHERE starts_with(lower(name), lower($q))
           ORDER BY lower(name) <> lower($q), population DESC NULLS LAST, name LIMIT $limit""",
        {"q": text, "limit": limit})
    if not towns:
        return []
    lsoas = lsoas_at(warehouse, np.array([t["longitude"] for t in towns]), np.array([t["latitude"] for t in towns]))
    areas = {row.pop("lsoa"): row for row in warehouse.query(
        """SELECT l.lsoa, a.code, a.name, a.level, a.force_id FROM (SELECT unnest($lsoas) AS lsoa) l
           JOIN areas a ON a.code = coalesce((SELECT msoa_code FROM lsoa_lookup WHERE lsoa_code = l.lsoa), l.lsoa)
                AND a.level IN ('msoa', 'lsoa') AND a.force_id IN (SELECT force_id FROM force_months)""",
        {"lsoas": [lsoa for lsoa in lsoas if lsoa is not None]})}
    return [{**areas[lsoa], "matched": f"{town['name']} (town centre)"}
            for town, lsoa in zip(towns, lsoas, strict=True) if lsoa in areas]


def lsoas_at(warehouse: Warehouse, longitude: np.ndarray, latitude: np.ndarray) -> list[str | None]:
    """The LSOA of each point: its polygon where boundaries are imported, else the nearest crime's."""
    if warehouse.has_rows("area_shapes"):
        # The polygons' search tree is built once per version of the warehouse (~0.1 s nationally).
        return warehouse.memo("lsoa locator", PointLocator).lsoa_of(longitude, latitude).to_pylist()
    return [warehouse.scalar(
        """SELECT lsoa FROM street_crimes WHERE lsoa IS NOT NULL
               AND longitude BETWEEN $x - $d AND $x + $d AND latitude BETWEEN $y - $d AND $y + $d
           ORDER BY (longitude - $x) ^ 2 + (latitude - $y) ^ 2, lsoa LIMIT 1""",
        {"x": float(x), "y": float(y), "d": _NEAREST_DEGREES}) for x, y in zip(longitude, latitude, strict=True)]


def map_labels(warehouse: Warehouse, force: str, view: list[list[float]] | None) -> list[dict[str, Any]]:
    """Names to write on a force's map: its local authorities, and the towns and villages inside it.

    A local authority is labelled at the mean centre of its LSOAs (their boxes where boundaries are
    imported, else their crimes' points); its name comes from the lookup, else from its LSOAs' names
    ("Charnwood 009E" lies in Charnwood). Towns carry their population, for the page to show more of
    them as the map zooms in.
    """
    authorities = warehouse.query(
        """WITH crimes AS (
               SELECT lsoa AS code, sum(crimes) AS crimes FROM monthly_counts WHERE force_id = $force GROUP BY 1),
           centres AS (
               SELECT a.code, any_value(a.name) AS name, any_value(k.crimes) AS crimes,
                      coalesce(any_value((s.xmin + s.xmax) / 2), avg(c.longitude)) AS longitude,
                      coalesce(any_value((s.ymin + s.ymax) / 2), avg(c.latitude)) AS latitude
               FROM areas a JOIN crimes k USING (code) LEFT JOIN area_shapes s ON s.code = a.code
               LEFT JOIN street_crimes c ON s.code IS NULL AND c.lsoa = a.code AND c.longitude IS NOT NULL
               WHERE a.level = 'lsoa' AND a.force_id = $force GROUP BY a.code)
           SELECT regexp_replace(coalesce(l.lad_name, regexp_extract(c.name, '^(.*) [0-9]{3}[A-Z]$', 1)),
                                 ' UA$', '') AS name, 'authority' AS kind,
                  round(avg(c.longitude), 5) AS longitude, round(avg(c.latitude), 5) AS latitude, NULL AS population
           FROM centres c LEFT JOIN lsoa_lookup l ON l.lsoa_code = c.code
           WHERE c.longitude IS NOT NULL GROUP BY 1
           -- not an authority where the force recorded only a stray crime or two
           HAVING name <> '' AND sum(c.crimes) >= 0.005 * (SELECT sum(crimes) FROM crimes)
           ORDER BY name""", {"force": force})
    return authorities + _towns_inside(warehouse, force, view)


def _towns_inside(warehouse: Warehouse, force: str, view: list[list[float]] | None) -> list[dict[str, Any]]:
    if view is None:
        return []
    (west, south), (east, north) = view
    towns = warehouse.query(
        """SELECT name, 'town' AS kind, longitude, latitude, population FROM places
           WHERE longitude BETWEEN $west AND $east AND latitude BETWEEN $south AND $north
           ORDER BY population DESC NULLS LAST, name LIMIT 400""",
        {"west": west, "east": east, "south": south, "north": north})
    if not towns:
        return towns
    if not warehouse.has_rows("area_shapes"):
        return _near_crimes(warehouse, force, towns)
    lsoas = lsoas_at(warehouse, np.array([t["longitude"] for t in towns]), np.array([t["latitude"] for t in towns]))
    members = {r["code"] for r in warehouse.query(
        "SELECT code FROM areas WHERE level = 'lsoa' AND force_id = $force", {"force": force})}
    return [town for town, lsoa in zip(towns, lsoas, strict=True) if lsoa in members]


# Without boundaries, a town is the force's if the force recorded crimes all around it: at least this
# share of all its crimes within a block of 3 x 3 cells of 0.02 degrees (~4 km) around the town. Towns
# just over the border, where the force recorded a few dozen stray crimes, fall well short.
_CELLS_PER_DEGREE = 50
_SHARE_AROUND_TOWN = 0.001


def _near_crimes(warehouse: Warehouse, force: str, towns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells = {(r["x"], r["y"]): r["crimes"] for r in warehouse.query(
        """SELECT round(longitude * $k)::INT AS x, round(latitude * $k)::INT AS y, count(*) AS crimes
           FROM street_crimes WHERE force_id = $force AND longitude IS NOT NULL GROUP BY ALL""",
        {"force": force, "k": _CELLS_PER_DEGREE})}
    least = _SHARE_AROUND_TOWN * sum(cells.values())

    def around(town: dict[str, Any]) -> int:
        x, y = round(town["longitude"] * _CELLS_PER_DEGREE), round(town["latitude"] * _CELLS_PER_DEGREE)
        return sum(cells.get((x + dx, y + dy), 0) for dx in (-1, 0, 1) for dy in (-1, 0, 1))

    return [town for town in towns if around(town) >= least]
