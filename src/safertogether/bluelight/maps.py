"""Coverage as a map: the force's LSOA polygons with nearest-station minutes per service (GeoJSON)."""

from __future__ import annotations

import json
from typing import Any

import shapely

from safertogether.store.warehouse import Warehouse


def coverage_geojson(warehouse: Warehouse, result: dict[str, Any]) -> dict[str, Any]:
    """A FeatureCollection (EPSG:4326) of the LSOAs in ``result['per_lsoa']`` with their minutes."""
    rows = {r["lsoa"]: r for r in result["per_lsoa"]}
    shapes = warehouse.query_arrow("SELECT code, wkb FROM area_shapes WHERE level = 'lsoa'").to_pylist()
    features = [{"type": "Feature", "geometry": json.loads(shapely.to_geojson(shapely.from_wkb(s["wkb"]))),
                 "properties": {k: (bool(v) if k == "urban" else v) for k, v in rows[s["code"]].items()}}
                for s in shapes if s["code"] in rows]
    return {"type": "FeatureCollection", "features": features, "attribution": result.get("attribution")}
