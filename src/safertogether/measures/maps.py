"""Choropleth GeoJSON: crime rate per 1,000 residents for every LSOA of a force."""

from __future__ import annotations

from typing import Any

import orjson

from safertogether.areas.hierarchy import area
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
        """WITH members AS (
               SELECT code FROM areas WHERE level = 'lsoa' AND force_id = $force
               UNION SELECT DISTINCT lsoa FROM monthly_counts WHERE force_id = $force AND lsoa IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM areas WHERE level = 'lsoa' AND force_id = $force)),
           counts AS (
               SELECT lsoa AS code, sum(crimes)::BIGINT AS crimes FROM monthly_counts
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
            b'{"type":"Feature","id":"' + row["code"].encode() + b'","properties":'
            + orjson.dumps(properties) + b',"geometry":' + geometry + b"}"
        )
    missing = [m for m in missing_reference_data(warehouse) if m["data"] in ("boundaries", "population")]
    meta = orjson.dumps({"force": force, **period.as_json(), "missing_data": missing})
    return b'{"type":"FeatureCollection","metadata":' + meta + b',"features":[' + b",".join(features) + b"]}"
