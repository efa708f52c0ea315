"""Point collections (street crimes, stop and search): one feature per row, keyed by provenance.

``file_id * 2**32 + row_number`` is unique, stable while the file is loaded, and orders rows as
they were published.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa
import shapely

from safertogether.ogc.collections import Collection
from safertogether.ogc.crs import CRS84, bbox_polygon, project_xy
from safertogether.ogc.plan import Plan, envelope_params, filter_conditions
from safertogether.ogc.query import ItemQuery

KEY_SHIFT: Final = 2**32
KEY: Final = f"(c.file_id * {KEY_SHIFT} + c.row_number)"


def points_plan(collection: Collection, query: ItemQuery) -> Plan:
    """Rows of ``collection.table`` in the months, bbox and queryable values asked for, in key order."""
    conditions, params = filter_conditions(collection, query)
    conditions.append(query.months.sql("c.month"))
    params.update(query.months.params())
    keep = None
    if query.bbox:
        conditions.append("c.longitude BETWEEN $x0 AND $x1 AND c.latitude BETWEEN $y0 AND $y1")
        params.update(envelope_params(query))
        if query.bbox_crs != CRS84:  # the envelope holds more than the box: test each point
            area = bbox_polygon(query.bbox, query.bbox_crs)
            keep = lambda t: shapely.intersects_xy(area, _xy(t, "x"), _xy(t, "y"))  # noqa: E731
    where = " AND ".join(conditions)
    keys_sql = f"""SELECT {KEY} AS id, c.longitude AS x, c.latitude AS y FROM {collection.table} c
                   WHERE {where} AND c.file_id >= $after // {KEY_SHIFT} AND {KEY} > $after
                   ORDER BY c.file_id, c.row_number LIMIT $n"""
    # DuckDB writes the JSON (in C++): several times faster than building it row by row in Python.
    properties = "{" + ", ".join(f"'{name}': {sql}" for name, sql in collection.properties) + "}"
    if query.crs == CRS84:
        point = "{'type': 'Point', 'coordinates': [c.longitude, c.latitude]}"
        geometry = f"CASE WHEN c.latitude IS NOT NULL THEN {point} END"
        columns = f"to_json({{'type': 'Feature', 'id': {KEY}, 'geometry': {geometry}, 'properties': {properties}}})"
        columns += " AS feature"
        features = _column_features
    else:
        columns = f"c.longitude AS x, c.latitude AS y, to_json({properties}) AS properties"
        features = lambda table: projected_features(table, query.crs)  # noqa: E731
    rows_sql = f"""SELECT {KEY} AS id, {columns} FROM {collection.table} c
                   WHERE {where} AND c.file_id BETWEEN $first // {KEY_SHIFT} AND $last // {KEY_SHIFT}
                         AND {KEY} BETWEEN $first AND $last"""
    return Plan(keys_sql, rows_sql, KEY, "c.file_id, c.row_number", params, -1, keep, features)


def _column_features(table: pa.Table) -> list[str]:
    features: list[str] = table.column("feature").to_pylist()
    return features


def _xy(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).to_numpy(zero_copy_only=False).astype(float)


def projected_features(table: pa.Table, crs: str) -> list[str]:
    """GeoJSON Feature texts with coordinates in ``crs``; a record without a location has a null geometry."""
    xs, ys = project_xy(_xy(table, "x"), _xy(table, "y"), crs)
    return [
        f'{{"type":"Feature","id":{fid},"geometry":{{"type":"Point","coordinates":[{x!r},{y!r}]}},'
        f'"properties":{p}}}' if x == x else f'{{"type":"Feature","id":{fid},"geometry":null,"properties":{p}}}'
        for fid, x, y, p in zip(table.column("id").to_pylist(), xs.tolist(), ys.tolist(),
                                table.column("properties").to_pylist(), strict=True)
    ]
