"""Assigning stored points to the LSOA polygon that contains them.

police.uk publishes anonymised *snap points*: a few tens of thousands of locations stand for every
crime in a force. Each distinct point is matched once (vectorised with a shapely STRtree) and kept
in ``snap_points``; the rows then take their polygon in one UPDATE ... FROM join inside DuckDB.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely

from safertogether.store.warehouse import Warehouse

_TABLES_WITH_POINTS = {"street_crimes": "t.lsoa_code", "crime_outcomes": "t.lsoa_code", "stop_searches": "NULL"}


def assign_points(warehouse: Warehouse, import_id: int | None = None) -> int:
    """Set ``lsoa_polygon`` and ``lsoa`` on the rows of one import (or all rows); returns points matched.

    ``lsoa`` is the file's own LSOA code where it gives one (authoritative for counts), else the polygon's.
    """
    only = "AND import_id = $import_id" if import_id is not None else ""
    params = {"import_id": import_id} if import_id is not None else None
    if warehouse.has_rows("area_shapes"):
        new = warehouse.query_arrow(
            " UNION ".join(
                f"""SELECT DISTINCT longitude, latitude FROM {table} t WHERE longitude IS NOT NULL {only}
                    AND NOT EXISTS (SELECT 1 FROM snap_points s
                                    WHERE s.longitude = t.longitude AND s.latitude = t.latitude)"""
                for table in _TABLES_WITH_POINTS
            ),
            params,
        )
        if new.num_rows:
            codes = lsoa_of(warehouse, new.column("longitude").to_numpy(), new.column("latitude").to_numpy())
            warehouse.insert_arrow("snap_points", new.append_column("lsoa_code", codes))
    else:
        new = pa.table({"longitude": []})
    for table, own in _TABLES_WITH_POINTS.items():
        warehouse.execute(
            f"""UPDATE {table} t SET lsoa_polygon = s.lsoa_code, lsoa = coalesce({own}, s.lsoa_code)
                FROM snap_points s WHERE t.longitude = s.longitude AND t.latitude = s.latitude {only}""",
            params,
        )
        warehouse.execute(f"UPDATE {table} t SET lsoa = {own} WHERE lsoa IS NULL AND {own} IS NOT NULL {only}",
                          params)
    return new.num_rows


def lsoa_of(warehouse: Warehouse, longitude: np.ndarray, latitude: np.ndarray) -> pa.Array:
    """LSOA code of the stored polygon containing each point (null where none does)."""
    shapes = warehouse.query_arrow(
        """SELECT code, wkb FROM area_shapes WHERE level = 'lsoa'
           AND xmax >= $x0 AND xmin <= $x1 AND ymax >= $y0 AND ymin <= $y1""",
        {"x0": float(longitude.min()), "x1": float(longitude.max()),
         "y0": float(latitude.min()), "y1": float(latitude.max())},
    )
    codes = np.array(shapes.column("code").to_pylist(), dtype=object)
    tree = shapely.STRtree(shapely.from_wkb(shapes.column("wkb").to_numpy(zero_copy_only=False)))
    point_index, polygon_index = tree.query(shapely.points(longitude, latitude), predicate="intersects")
    found = np.full(len(longitude), None, dtype=object)
    # A point on a shared edge touches two polygons; keep the first.
    first = np.unique(point_index, return_index=True)[1]
    found[point_index[first]] = codes[polygon_index[first]]
    return pa.array(found, pa.string())


def reassign_all_points(warehouse: Warehouse) -> int:
    """Match every stored point again, after new boundaries."""
    warehouse.execute("DELETE FROM snap_points")
    return assign_points(warehouse)
