"""Assigning points to the LSOA polygon that contains them.

police.uk publishes anonymised *snap points*: a few tens of thousands of locations stand for every
crime in a force. Each distinct point is matched once (vectorised with a shapely STRtree) and the
answer is kept in ``snap_points``, so later months mostly hit that cache.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from safertogether.store.warehouse import Warehouse

_TABLES_WITH_POINTS = ("street_crimes", "crime_outcomes", "stop_searches")


class PointAssigner:
    """Finds the LSOA polygon of points, caching answers per snap point for one import."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._cache: dict[tuple[float, float], str | None] = {
            (r[0], r[1]): r[2]
            for r in warehouse.cursor.execute("SELECT longitude, latitude, lsoa_code FROM snap_points").fetchall()
        }
        self._new: dict[tuple[float, float], str | None] = {}
        self._tree: shapely.STRtree | None = None
        self._codes: np.ndarray | None = None
        self.has_shapes = warehouse.has_rows("area_shapes")

    def lsoa_of(self, longitude: pa.ChunkedArray, latitude: pa.ChunkedArray) -> pa.Array:
        """LSOA code of the polygon containing each point (null without coordinates or polygon)."""
        lon = longitude.to_numpy(zero_copy_only=False).astype(float)
        lat = latitude.to_numpy(zero_copy_only=False).astype(float)
        located = ~(np.isnan(lon) | np.isnan(lat))
        if not self.has_shapes or not located.any():
            return pa.nulls(len(lon), pa.string())
        pairs = np.column_stack([lon[located], lat[located]])
        unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
        missing = [i for i, (x, y) in enumerate(unique) if (x, y) not in self._cache]
        if missing:
            self._match(unique[missing])
        codes = np.array([self._cache[(x, y)] for x, y in unique], dtype=object)
        out = np.full(len(lon), None, dtype=object)
        out[located] = codes[inverse.ravel()]
        return pa.array(out, pa.string())

    def _match(self, points: np.ndarray) -> None:
        tree, codes = self._load_tree()
        geoms = shapely.points(points)
        point_index, polygon_index = tree.query(geoms, predicate="intersects")
        found = np.full(len(points), None, dtype=object)
        # A point on a shared edge touches two polygons; keep the first, as police.uk does.
        first = np.unique(point_index, return_index=True)[1]
        found[point_index[first]] = codes[polygon_index[first]]
        for (x, y), code in zip(points, found, strict=True):
            self._cache[(x, y)] = self._new[(x, y)] = code

    def _load_tree(self) -> tuple[shapely.STRtree, np.ndarray]:
        if self._tree is None or self._codes is None:
            shapes = self._warehouse.query_arrow("SELECT code, wkb FROM area_shapes WHERE level = 'lsoa'")
            self._codes = np.array(shapes.column("code").to_pylist(), dtype=object)
            self._tree = shapely.STRtree(shapely.from_wkb(shapes.column("wkb").to_numpy(zero_copy_only=False)))
        return self._tree, self._codes

    def with_lsoa(self, rows: pa.Table) -> pa.Table:
        """Add ``lsoa_polygon`` and ``lsoa`` (the file's own code where given, else the polygon's)."""
        polygon = self.lsoa_of(rows.column("longitude"), rows.column("latitude"))
        own = rows.column("lsoa_code") if "lsoa_code" in rows.column_names else None
        lsoa = pc.coalesce(own, polygon) if own is not None else polygon
        return rows.append_column("lsoa_polygon", polygon).append_column("lsoa", lsoa)

    def save(self) -> None:
        """Keep newly matched snap points for later imports (inside the caller's transaction)."""
        if not self._new:
            return
        keys = list(self._new)
        self._warehouse.insert_arrow(
            "snap_points",
            pa.table({
                "longitude": [k[0] for k in keys],
                "latitude": [k[1] for k in keys],
                "lsoa_code": list(self._new.values()),
            }),
        )
        self._new.clear()


def reassign_all_points(warehouse: Warehouse) -> int:
    """Match every stored point again (after new boundaries); returns the number of snap points."""
    warehouse.execute("DELETE FROM snap_points")
    assigner = PointAssigner(warehouse)
    points = warehouse.query_arrow(
        " UNION ".join(
            f"SELECT DISTINCT longitude, latitude FROM {t} WHERE longitude IS NOT NULL" for t in _TABLES_WITH_POINTS
        )
    )
    assigner.lsoa_of(points.column("longitude"), points.column("latitude"))
    assigner.save()
    for table in _TABLES_WITH_POINTS:
        own = "t.lsoa_code" if table != "stop_searches" else "NULL"
        warehouse.execute(
            f"""UPDATE {table} t SET lsoa_polygon = s.lsoa_code, lsoa = coalesce({own}, s.lsoa_code)
                FROM snap_points s WHERE t.longitude = s.longitude AND t.latitude = s.latitude"""
        )
    return points.num_rows
