"""Area outlines for the published GeoJSON: LSOAs as stored, higher levels as the union of their LSOAs."""

from __future__ import annotations

from typing import Any, Final

import orjson

from safertogether.store.warehouse import Warehouse

_PARENT: Final = {"msoa": "l.msoa_code", "lad": "l.lad_code", "force": "l.force_id"}
#: Degrees (~50 m): outlines for a map of a county, not for surveying.
SIMPLIFY: Final = 0.0005


def area_geometries(warehouse: Warehouse, level: str) -> dict[str, Any]:
    """GeoJSON geometry per area code at ``level`` (areas without boundaries are left out)."""
    if not warehouse.table_exists("area_shapes") or not warehouse.has_rows("area_shapes"):
        return {}
    if level == "lsoa":
        rows = warehouse.query("SELECT code, map_geojson FROM area_shapes WHERE level = 'lsoa' ORDER BY code")
        return {r["code"]: orjson.loads(r["map_geojson"]) for r in rows if r["map_geojson"]}
    import shapely

    table = warehouse.query_arrow(
        f"""SELECT {_PARENT[level]} AS code, s.wkb FROM area_shapes s JOIN lsoa_lookup l ON l.lsoa_code = s.code
            WHERE s.level = 'lsoa' AND {_PARENT[level]} IS NOT NULL ORDER BY code, s.code""")
    codes = table.column("code").to_pylist()
    shapes = shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))
    groups: dict[str, list[Any]] = {}
    for code, shape in zip(codes, shapes, strict=True):
        groups.setdefault(code, []).append(shape)
    return {code: orjson.loads(shapely.to_geojson(shapely.simplify(shapely.union_all(parts), SIMPLIFY)))
            for code, parts in groups.items()}
