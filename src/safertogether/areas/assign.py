"""Assigning points to the LSOA polygon that contains them.

police.uk publishes anonymised *snap points*: a few tens of thousands of locations stand for every
crime in a force. Each distinct point is matched once (vectorised with a shapely STRtree) and kept
in ``snap_points``; rows take their polygon from there by a join as they are inserted
(:class:`AreaPlacement`), or, after new boundaries, by one UPDATE ... FROM (:func:`reassign_all_points`).
"""

from __future__ import annotations

import concurrent.futures
import threading

import numpy as np
import pyarrow as pa
import shapely

from safertogether.store.warehouse import Warehouse

# Tables whose rows have points, and the file's own LSOA code for a row where the format gives one.
_TABLES_WITH_POINTS = {"street_crimes": "t.lsoa_code", "crime_outcomes": "t.lsoa_code", "stop_searches": "NULL"}


class PointLocator:
    """The LSOA polygon containing each point, from a search tree over every stored LSOA polygon.

    The tree (~0.1 s for England and Wales) is built on first use, or earlier in a thread of its own
    after :meth:`start`, so that an import reads its files meanwhile. That thread sees committed
    polygons only: a caller that has just changed them in its transaction does not start it.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._lock = threading.Lock()
        self._index: concurrent.futures.Future[tuple[np.ndarray, shapely.STRtree]] | None = None

    def start(self) -> None:
        """Begin building the tree in the background, if not begun."""
        with self._lock:
            if self._index is None:
                building = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="safer-lsoa-tree")
                self._index = building.submit(_lsoa_index, self._warehouse)
                building.shutdown(wait=False)

    def wait(self) -> None:
        """Let a background build finish (the warehouse cannot close while it reads)."""
        if self._index is not None:
            concurrent.futures.wait([self._index])

    def lsoa_of(self, longitude: np.ndarray, latitude: np.ndarray) -> pa.Array:
        """LSOA code of the polygon containing each point (null where none does)."""
        with self._lock:
            if self._index is None:
                self._index = concurrent.futures.Future()
                self._index.set_result(_lsoa_index(self._warehouse))
        codes, tree = self._index.result()
        point_index, polygon_index = tree.query(shapely.points(longitude, latitude), predicate="intersects")
        found = np.full(len(longitude), None, dtype=object)
        # A point on a shared edge touches two polygons; keep the first.
        first = np.unique(point_index, return_index=True)[1]
        found[point_index[first]] = codes[polygon_index[first]]
        return pa.array(found, pa.string())


def _lsoa_index(warehouse: Warehouse) -> tuple[np.ndarray, shapely.STRtree]:
    shapes = warehouse.query_arrow("SELECT code, wkb FROM area_shapes WHERE level = 'lsoa'")
    codes = np.array(shapes.column("code").to_pylist(), dtype=object)
    return codes, shapely.STRtree(shapely.from_wkb(shapes.column("wkb").to_numpy(zero_copy_only=False)))


def lsoa_of(warehouse: Warehouse, longitude: np.ndarray, latitude: np.ndarray) -> pa.Array:
    """LSOA code of the stored polygon containing each point (null where none does)."""
    return PointLocator(warehouse).lsoa_of(longitude, latitude)


class AreaPlacement:
    """Adds ``lsoa_polygon`` and ``lsoa`` to rows as an import inserts them (a ``store.imports.Placement``).

    Use it as a context manager around the import: leaving waits for the polygons' tree. Call
    :meth:`prepare` once rows are coming, to build the tree while they are read.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._locator = PointLocator(warehouse)

    def prepare(self) -> None:
        self._locator.start()

    def __enter__(self) -> AreaPlacement:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._locator.wait()

    def __call__(self, warehouse: Warehouse, table: str, incoming: str) -> str:
        """A SELECT giving the rows of relation ``incoming`` with ``lsoa_polygon`` and ``lsoa`` added.

        New snap points among them are matched to polygons first. ``lsoa`` is the file's own LSOA
        code where it gives one (authoritative for counts), else the polygon's. Rows of tables
        without points pass unchanged.
        """
        own = _TABLES_WITH_POINTS.get(table)
        if own is None:
            return f"SELECT * FROM {incoming}"
        _match_new_points(warehouse, self._locator,
                          f"SELECT DISTINCT longitude, latitude FROM {incoming} WHERE longitude IS NOT NULL")
        return f"""SELECT t.*, s.lsoa_code AS lsoa_polygon, coalesce({own}, s.lsoa_code) AS lsoa
                   FROM {incoming} t LEFT JOIN snap_points s
                   ON t.longitude = s.longitude AND t.latitude = s.latitude"""


def reassign_all_points(warehouse: Warehouse) -> int:
    """Match every stored point again, after new boundaries; returns the points matched."""
    warehouse.execute("DELETE FROM snap_points")
    matched = _match_new_points(warehouse, PointLocator(warehouse), " UNION ".join(
        f"SELECT DISTINCT longitude, latitude FROM {table} WHERE longitude IS NOT NULL"
        for table in _TABLES_WITH_POINTS))
    for table, own in _TABLES_WITH_POINTS.items():
        warehouse.execute(
            f"""UPDATE {table} t SET lsoa_polygon = s.lsoa_code, lsoa = coalesce({own}, s.lsoa_code)
                FROM snap_points s WHERE t.longitude = s.longitude AND t.latitude = s.latitude""")
    return matched


def _match_new_points(warehouse: Warehouse, locator: PointLocator, points_sql: str) -> int:
    """Add to ``snap_points`` the points of ``points_sql`` not matched before (none without boundaries)."""
    if not warehouse.has_rows("area_shapes"):
        return 0
    new = warehouse.query_arrow(
        f"""SELECT longitude, latitude FROM ({points_sql}) p WHERE NOT EXISTS
            (SELECT 1 FROM snap_points s WHERE s.longitude = p.longitude AND s.latitude = p.latitude)""")
    if new.num_rows:
        codes = locator.lsoa_of(new.column("longitude").to_numpy(), new.column("latitude").to_numpy())
        warehouse.insert_arrow("snap_points", new.append_column("lsoa_code", codes))
    return new.num_rows
