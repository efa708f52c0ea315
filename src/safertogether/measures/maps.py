"""Choropleth GeoJSON: crime rate per 1,000 residents for every LSOA of a force."""

from __future__ import annotations

from typing import Any

import orjson

from safertogether.areas.hierarchy import area
from safertogether.areas.places import map_labels
from safertogether.disclosure.relations import counts_relation
from safertogether.measures.missing import missing_reference_data
from safertogether.measures.period import Period
from safertogether.store.warehouse import Warehouse


def rate_map_geojson(warehouse: Warehouse, force: str, period: Period) -> bytes:
    """A FeatureCollection of the force's LSOAs with crimes, residents and rate per 1,000.

    Geometries are stored pre-simplified as GeoJSON text, so building the answer is a join and a
    string concatenation rather than a geometry operation. Without boundaries (or residents) the
    features are still listed, with a null geometry (or rate), and ``metadata.missing_data`` names
    the import that would add them.
    """
    area(warehouse, force)  # an unknown force is a 404, as elsewhere
    rows = warehouse.query(
        f"""WITH members AS (
               SELECT code FROM areas WHERE level = 'lsoa' AND force_id = $force
               UNION SELECT DISTINCT lsoa FROM {counts_relation()} WHERE force_id = $force AND lsoa IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM areas WHERE level = 'lsoa' AND force_id = $force)),
           counts AS (
               SELECT lsoa AS code, sum(crimes)::BIGINT AS crimes FROM {counts_relation()}
               WHERE month BETWEEN $start AND $end AND lsoa IN (SELECT code FROM members) GROUP BY lsoa)
           SELECT m.code, coalesce(a.name, s.name, m.code) AS name, coalesce(c.crimes, 0) AS crimes,
                  p.persons AS population, s.map_geojson, l.msoa_code AS msoa, l.lad_code AS lad
           FROM members m LEFT JOIN areas a ON a.code = m.code AND a.level = 'lsoa'
           LEFT JOIN area_shapes s ON s.code = m.code LEFT JOIN counts c ON c.code = m.code
           LEFT JOIN population p ON p.lsoa_code = m.code LEFT JOIN lsoa_lookup l ON l.lsoa_code = m.code
           ORDER BY m.code""",
        {"force": force, "start": period.start, "end": period.end},
    )
    features = []
    for row in rows:
        properties: dict[str, Any] = {
            "code": row["code"], "name": row["name"], "msoa": row["msoa"], "lad": row["lad"],
            "crimes": row["crimes"], "population": row["population"],
            "rate_per_1000": round(row["crimes"] / row["population"] * 1000, 2) if row["population"] else None,
        }
        geometry = (row["map_geojson"] or "null").encode()
        features.append(
            b'{"type":"Feature","id":' + orjson.dumps(row["code"]) + b',"properties":'
            + orjson.dumps(properties) + b',"geometry":' + geometry + b"}"
        )
    missing = [m for m in missing_reference_data(warehouse) if m["data"] in ("boundaries", "population", "places")]
    view = force_view(warehouse, force, period)
    meta = orjson.dumps({"force": force, **period.as_json(), "view": view,
                         "labels": map_labels(warehouse, force, view), "missing_data": missing})
    return b'{"type":"FeatureCollection","metadata":' + meta + b',"features":[' + b",".join(features) + b"]}"


def force_view(warehouse: Warehouse, force: str, period: Period) -> list[list[float]] | None:
    """[[west, south], [east, north]]: the force's own area, for the map to open on.

    The box of the force's LSOA polygons where the lookup and boundaries say which they are. Else
    (police.uk files alone) the box of where its crimes of the period are: police.uk files include
    crimes a force recorded far outside its area, and fitting the map to all of them shows the force
    as a small patch, so the box spans the 0.1-99.9% quantiles of the points, widened by a tenth on
    each side (not beyond the farthest point) to keep the edges.
    """
    own = warehouse.query(
        """SELECT min(xmin) AS west, min(ymin) AS south, max(xmax) AS east, max(ymax) AS north FROM area_shapes
           WHERE level = 'lsoa' AND code IN (SELECT lsoa_code FROM lsoa_lookup WHERE force_id = $force)""",
        {"force": force})[0]
    if own["west"] is not None:
        return [[round(own["west"], 5), round(own["south"], 5)], [round(own["east"], 5), round(own["north"], 5)]]
    row = warehouse.query(
        """SELECT quantile_cont(longitude, [0.001, 0.999]) AS x, quantile_cont(latitude, [0.001, 0.999]) AS y,
                  min(longitude) AS west, max(longitude) AS east, min(latitude) AS south, max(latitude) AS north
           FROM street_crimes WHERE force_id = $force AND month BETWEEN $start AND $end AND longitude IS NOT NULL""",
        {"force": force, "start": period.start, "end": period.end})[0]
    if row["x"] is None:
        return None
    (x0, x1), (y0, y1) = row["x"], row["y"]
    pad_x, pad_y = (x1 - x0) / 10, (y1 - y0) / 10
    return [[round(max(x0 - pad_x, row["west"]), 5), round(max(y0 - pad_y, row["south"]), 5)],
            [round(min(x1 + pad_x, row["east"]), 5), round(min(y1 + pad_y, row["north"]), 5)]]
