"""Choropleth GeoJSON: crime rate per 1,000 residents for every LSOA of a force."""

from __future__ import annotations

from typing import Any

import orjson

from safertogether.errors import MissingDataError
from safertogether.measures.period import Period
from safertogether.store.warehouse import Warehouse


def rate_map_geojson(warehouse: Warehouse, force: str, period: Period) -> bytes:
    """A FeatureCollection of the force's LSOAs with crimes, residents and rate per 1,000.

    Geometries are stored pre-simplified as GeoJSON text, so building the answer is a join and a
    string concatenation rather than a geometry operation.
    """
    warehouse.require("area_shapes", "boundaries", "run `safer import boundaries FILE` first")
    rows = warehouse.query(
        """WITH members AS (
               SELECT lsoa_code AS code FROM lsoa_lookup WHERE force_id = $force
               UNION SELECT DISTINCT lsoa FROM monthly_counts WHERE force_id = $force AND lsoa IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM lsoa_lookup WHERE force_id = $force)),
           counts AS (
               SELECT lsoa AS code, sum(crimes)::BIGINT AS crimes FROM monthly_counts
               WHERE month BETWEEN $start AND $end AND lsoa IN (SELECT code FROM members) GROUP BY lsoa)
           SELECT s.code, s.name, coalesce(c.crimes, 0) AS crimes, p.persons AS population, s.map_geojson,
                  l.msoa_code AS msoa, l.lad_code AS lad
           FROM members JOIN area_shapes s USING (code) LEFT JOIN counts c USING (code)
           LEFT JOIN population p ON p.lsoa_code = s.code LEFT JOIN lsoa_lookup l ON l.lsoa_code = s.code
           ORDER BY s.code""",
        {"force": force, "start": period.start, "end": period.end},
    )
    if not rows:
        raise MissingDataError(f"no boundaries for force '{force}'; import boundaries and the area lookup")
    features = []
    for row in rows:
        properties: dict[str, Any] = {
            "code": row["code"], "name": row["name"], "msoa": row["msoa"], "lad": row["lad"],
            "crimes": row["crimes"], "population": row["population"],
            "rate_per_1000": round(row["crimes"] / row["population"] * 1000, 2) if row["population"] else None,
        }
        features.append(
            b'{"type":"Feature","id":"' + row["code"].encode() + b'","properties":'
            + orjson.dumps(properties) + b',"geometry":' + row["map_geojson"].encode() + b"}"
        )
    meta = orjson.dumps({"force": force, **period.as_json()})
    return b'{"type":"FeatureCollection","metadata":' + meta + b',"features":[' + b",".join(features) + b"]}"
