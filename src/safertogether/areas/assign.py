"""Assigning points to the LSOA polygon that contains them.

police.uk publishes anonymised *snap points*: a few tens of thousands of locations stand for every
crime in a force. Each distinct point is matched once (vectorised with a shapely STRtree) and kept
in ``snap_points``; rows take their polygon from there by a join as they are inserted
(:func:`placed_rows`), or, after new boundaries, by one UPDATE ... FROM (:func:`reassign_all_points`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely

from safertogether.store.warehouse import Warehouse

# Tables whose rows have points, and the file's own LSOA code for a row where the format gives one.
_TABLES_WITH_POINTS = {"street_crimes": "t.lsoa_code", "crime_outcomes": "t.lsoa_code", "stop_searches": "NULL"}


def placed_rows(warehouse: Warehouse, table: str, incoming: str) -> str:
    """A SELECT giving the rows of relation ``incoming`` with ``lsoa_polygon`` and ``lsoa`` added.

    New snap points among them are matched to polygons first. ``lsoa`` is the file's own LSOA code
    where it gives one (authoritative for counts), else the polygon's. Rows of tables without
    points pass unchanged.
    """
    own = _TABLES_WITH_POINTS.get(table)
    if own is None:
        return f"SELECT * FROM {incoming}"
    _match_new_points(warehouse, f"SELECT DISTINCT longitude, latitude FROM {incoming} WHERE longitude IS NOT NULL")
    return f"""SELECT t.*, s.lsoa_code AS lsoa_polygon, coalesce({own}, s.lsoa_code) AS lsoa
               FROM {incoming} t LEFT JOIN snap_points s ON t.longitude = s.longitude AND t.latitude = s.latitude"""


def reassign_all_points(warehouse: Warehouse) -> int:
    """Match every stored point again, after new boundaries; returns the points matched."""
    warehouse.execute("DELETE FROM snap_points")
    matched = _match_new_points(warehouse, " UNION ".join(
        f"SELECT DISTINCT longitude, latitude FROM {table} WHERE longitude IS NOT NULL"
        for table in _TABLES_WITH_POINTS))
    for table, own in _TABLES_WITH_POINTS.items():
        warehouse.execute(
            f"""UPDATE {table} t SET lsoa_polygon = s.lsoa_code, lsoa = coalesce({own}, s.lsoa_code)
                FROM snap_points s WHERE t.longitude = s.longitude AND t.latitude = s.latitude""")
    return matched


def _match_new_points(warehouse: Warehouse, points_sql: str) -> int:
    """Add to ``snap_points`` the points of ``points_sql`` not matched before (none without boundaries)."""
    if not warehouse.has_rows("area_shapes"):
        return 0
    new = warehouse.query_arrow(
        f"""SELECT longitude, latitude FROM ({points_sql}) p WHERE NOT EXISTS
            (SELECT 1 FROM snap_points s WHERE s.longitude = p.longitude AND s.latitude = p.latitude)""")
    if new.num_rows:
        codes = lsoa_of(warehouse, new.column("longitude").to_numpy(), new.column("latitude").to_numpy())
        warehouse.insert_arrow("snap_points", new.append_column("lsoa_code", codes))
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
