"""Outlines of areas for maps: LSOAs as stored, higher levels as the union of their LSOAs.

The warehouse holds LSOA polygons only (``safer import boundaries``). An MSOA, a local authority (a London
borough is one: E09 codes), or a force is drawn as the dissolve of its LSOAs through the lookup, so every
level's map agrees with the LSOA map exactly, and no second boundary file has to be kept in step.
Dissolving is kept per warehouse version and set of areas (a borough map of London: ~4,800 LSOAs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safertogether.store.warehouse import Warehouse

#: The lookup column naming each LSOA's area at a level (alias l for the lookup).
PARENT: Final = {"msoa": "l.msoa_code", "lad": "l.lad_code", "borough": "l.lad_code", "force": "l.force_id"}
#: Degrees (~50 m): outlines for a map of a county or a city, not for surveying.
SIMPLIFY: Final = 0.0005
#: Degrees (~2 m): generalised LSOA outlines leave hairline gaps between neighbours; closing by this much
#: removes them from a dissolved area without moving its outer edge visibly.
CLOSE_GAPS: Final = 0.00002


def outlines(warehouse: Warehouse, level: str, codes: Iterable[str] | None = None) -> dict[str, str]:
    """GeoJSON geometry text per area code at ``level`` (areas without LSOA boundaries are left out)."""
    if level != "lsoa" and level not in PARENT:
        raise ValueError(f"no outlines for level {level!r}")
    if not warehouse.table_exists("area_shapes") or not warehouse.has_rows("area_shapes"):
        return {}
    wanted = None if codes is None else sorted(set(codes))
    tag = "all" if wanted is None else hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
    return warehouse.memo(f"outlines {level} {tag}", lambda w: _outlines(w, level, wanted))


def _outlines(warehouse: Warehouse, level: str, wanted: list[str] | None) -> dict[str, str]:
    if level == "lsoa":
        rows = warehouse.query_arrow("SELECT code, map_geojson FROM area_shapes WHERE level = 'lsoa' ORDER BY code")
        rows = _only(rows, wanted)
        return {c: g for c, g in zip(rows.column("code").to_pylist(), rows.column("map_geojson").to_pylist(),
                                     strict=True) if g}
    return dissolved(warehouse, level, wanted)


def dissolved(warehouse: Warehouse, level: str, wanted: list[str] | None = None) -> dict[str, str]:
    """The union of each area's LSOAs, gaps closed and simplified, as GeoJSON text per area code."""
    import shapely

    table = warehouse.query_arrow(
        f"""SELECT {PARENT[level]} AS code, s.wkb FROM area_shapes s JOIN lsoa_lookup l ON l.lsoa_code = s.code
            WHERE s.level = 'lsoa' AND {PARENT[level]} IS NOT NULL ORDER BY code, s.code""")
    table = _only(table, wanted)
    codes = np.asarray(table.column("code").to_pylist(), dtype=object)
    shapes = shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))
    found = {}
    for code in dict.fromkeys(codes.tolist()):
        union = shapely.union_all(shapes[codes == code])
        closed = shapely.buffer(shapely.buffer(union, CLOSE_GAPS, quad_segs=2), -CLOSE_GAPS, quad_segs=2)
        found[code] = shapely.to_geojson(shapely.set_precision(shapely.simplify(closed, SIMPLIFY), 1e-5))
    return found


def _only(table: pa.Table, wanted: list[str] | None) -> pa.Table:
    if wanted is None:
        return table
    return table.filter(pc.is_in(table.column("code"), value_set=pa.array(wanted, pa.string())))
