"""Coverage as a map: the force's LSOA polygons with nearest-station minutes per service (GeoJSON)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import shapely

from safertogether.store.warehouse import Warehouse


def lsoa_features(warehouse: Warehouse, properties: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """GeoJSON features (EPSG:4326) of the LSOAs keyed in ``properties``, each carrying its properties."""
    codes = pa.table({"code": pa.array(sorted(properties), pa.string())})
    with warehouse.registered("wanted_lsoas", codes) as wanted:
        shapes = warehouse.query_arrow(f"""SELECT code, wkb FROM area_shapes
                                           WHERE level = 'lsoa' AND code IN (SELECT code FROM {wanted})
                                           ORDER BY code""").to_pylist()
    return [{"type": "Feature", "geometry": json.loads(shapely.to_geojson(shapely.from_wkb(s["wkb"]))),
             "properties": properties[s["code"]]} for s in shapes]


def coverage_geojson(warehouse: Warehouse, result: dict[str, Any]) -> dict[str, Any]:
    """A FeatureCollection of the LSOAs in ``result['per_lsoa']`` with their minutes."""
    rows = {r["lsoa"]: {k: (bool(v) if k == "urban" else v) for k, v in r.items()} for r in result["per_lsoa"]}
    return {"type": "FeatureCollection", "features": lsoa_features(warehouse, rows),
            "attribution": result.get("attribution")}
