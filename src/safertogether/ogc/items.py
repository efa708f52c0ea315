"""Items of a collection as GeoJSON, a page at a time by keyset (never OFFSET).

Each page asks for the rows after the last key served, in key order, so page 1,000 of a national
table costs what page 1 does. Point records are keyed by their provenance: ``file_id * 2**32 +
row_number`` is unique, stable while the file is loaded, and orders rows as they were published.
Neighbourhoods are keyed by LSOA code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import orjson
import pyarrow as pa
import shapely

from safertogether.errors import BadRequestError, NotFoundError
from safertogether.measures.period import Period, month_text, resolve_period
from safertogether.ogc.collections import Collection
from safertogether.ogc.crs import CRS84, bbox_polygon, project_geometries, project_xy
from safertogether.ogc.months import MonthRange
from safertogether.ogc.query import ItemQuery
from safertogether.store.warehouse import Warehouse

KEY_SHIFT: Final = 2**32
#: The LSOAs the neighbourhoods collection holds: those of every force with crimes loaded, and any
#: other LSOA a loaded crime is counted in (police.uk files hold some recorded across a boundary).
MEMBERS_SQL: Final = """
    SELECT lsoa_code AS code FROM lsoa_lookup WHERE force_id IN (SELECT DISTINCT force_id FROM force_months)
    UNION SELECT DISTINCT lsoa FROM monthly_counts WHERE lsoa IS NOT NULL"""
_CODE: Final = re.compile(r"^[A-Za-z0-9]{1,20}$")


@dataclass(frozen=True)
class Page:
    """One page of features (GeoJSON objects, ready to serialise) and where the next one starts."""

    features: list[dict[str, Any]]
    number_matched: int
    next_cursor: str | None


@dataclass(frozen=True)
class _Plan:
    """A collection query: SQL selecting ``id`` plus geometry and property columns after ``$after``."""

    sql: str
    params: dict[str, Any]
    #: The key's SQL expression (the query has ``{key} > $after``) and a value below every key.
    key: str
    start: int | str
    #: Exact test of a fetched batch (a bbox that SQL can only narrow to its envelope); None when SQL is exact.
    keep: Callable[[pa.Table], np.ndarray] | None
    features: Callable[[pa.Table], list[dict[str, Any]]]


def items_page(warehouse: Warehouse, collection: Collection, query: ItemQuery) -> Page:
    """The page of ``collection``'s features that ``query`` asks for (``query.cursor`` is where it starts)."""
    plan = _plan(warehouse, collection, query)
    after = _cursor(collection, query.cursor) if query.cursor else plan.start
    table, more = _fetch(warehouse, plan, after, query.limit)
    next_cursor = str(table.column("id")[-1].as_py()) if more else None
    return Page(plan.features(table), _number_matched(warehouse, collection, query, plan), next_cursor)


def item(warehouse: Warehouse, collection: Collection, feature_id: str, query: ItemQuery) -> dict[str, Any]:
    """One feature by id, or :class:`NotFoundError`."""
    plan = _plan(warehouse, collection, query)
    try:
        key = _cursor(collection, feature_id)
    except BadRequestError:
        key = None
    if key is not None:
        sql = plan.sql.replace(f"{plan.key} > $after", f"{plan.key} = $after")
        table = warehouse.query_arrow(sql, {**plan.params, "after": key, "n": 1})
        if table.num_rows:
            return plan.features(table)[0]
    raise NotFoundError(f"no feature '{feature_id[:60]}' in collection '{collection.id}'")


def _fetch(warehouse: Warehouse, plan: _Plan, after: int | str, limit: int) -> tuple[pa.Table, bool]:
    """Up to ``limit`` rows after ``after`` passing ``plan.keep``, and whether more follow."""
    batches, kept = [], 0
    while True:
        batch = warehouse.query_arrow(plan.sql, {**plan.params, "after": after, "n": limit + 1})
        fetched = batch.num_rows
        if fetched:
            after = batch.column("id")[-1].as_py()
        if plan.keep is not None and fetched:
            batch = batch.filter(pa.array(plan.keep(batch)))
        batches.append(batch)
        kept += batch.num_rows
        if fetched <= limit or kept > limit:
            break
    table = pa.concat_tables(batches)
    return table.slice(0, limit), table.num_rows > limit


_COUNTS: dict[tuple[Any, ...], int] = {}


def _number_matched(warehouse: Warehouse, collection: Collection, query: ItemQuery, plan: _Plan) -> int:
    """Features matching the query on all pages; remembered per query, so paging counts once."""
    key = (warehouse.key, warehouse.version, collection.id, query.given)
    if key not in _COUNTS:
        if len(_COUNTS) > 1000:
            _COUNTS.clear()
        if plan.keep is None:
            count_sql = f"SELECT count(*) FROM ({plan.sql.replace('LIMIT $n', '')})"
            count = warehouse.scalar(count_sql, {**plan.params, "after": plan.start})
        else:
            table = warehouse.query_arrow(plan.sql.replace("LIMIT $n", ""), {**plan.params, "after": plan.start})
            count = int(plan.keep(table).sum()) if table.num_rows else 0
        _COUNTS[key] = int(count)
    return _COUNTS[key]


def _cursor(collection: Collection, text: str) -> int | str:
    if collection.kind == "areas":
        if _CODE.match(text):
            return text
    elif text.isdigit() and len(text) < 20:
        return int(text)
    raise BadRequestError(f"cursor='{text[:40]}' is not a position in '{collection.id}'; follow the next links")


def _plan(warehouse: Warehouse, collection: Collection, query: ItemQuery) -> _Plan:
    return _areas_plan(warehouse, collection, query) if collection.kind == "areas" else _points_plan(collection, query)


def _filters(collection: Collection, query: ItemQuery, skip: tuple[str, ...] = ()) -> tuple[list[str], dict[str, Any]]:
    conditions, params = [], {}
    for i, (name, values) in enumerate(query.filters.items()):
        queryable = collection.queryable(name)
        if queryable is not None and name not in skip:
            conditions.append(f"list_contains($q{i}, {queryable.column})")
            params[f"q{i}"] = values
    return conditions, params


def _envelope(query: ItemQuery) -> tuple[float, float, float, float] | None:
    return bbox_polygon(query.bbox, query.bbox_crs).bounds if query.bbox else None


# --- points: street crimes, stop and search -------------------------------------------------------

def _points_plan(collection: Collection, query: ItemQuery) -> _Plan:
    conditions, params = _filters(collection, query)
    conditions.append(query.months.sql("c.month"))
    params.update(query.months.params())
    keep = None
    if (envelope := _envelope(query)) is not None:
        conditions.append("c.longitude BETWEEN $x0 AND $x1 AND c.latitude BETWEEN $y0 AND $y1")
        params.update(zip(("x0", "y0", "x1", "y1"), envelope, strict=True))
        if query.bbox_crs != CRS84:
            area = bbox_polygon(query.bbox, query.bbox_crs)  # type: ignore[arg-type]
            keep = lambda t: shapely.intersects_xy(area, _xy(t, "x"), _xy(t, "y"))  # noqa: E731
    properties = ", ".join(f'{sql} AS "{name}"' for name, sql in collection.properties)
    key = f"(c.file_id * {KEY_SHIFT} + c.row_number)"
    sql = f"""SELECT {key} AS id, c.longitude AS x, c.latitude AS y, {properties}
              FROM {collection.table} c
              WHERE {" AND ".join(conditions)} AND c.file_id >= $after // {KEY_SHIFT} AND {key} > $after
              ORDER BY c.file_id, c.row_number LIMIT $n"""
    return _Plan(sql, params, key, -1, keep, lambda table: _point_features(table, query.crs))


def _xy(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).to_numpy(zero_copy_only=False).astype(float)


def _point_features(table: pa.Table, crs: str) -> list[dict[str, Any]]:
    xs, ys = project_xy(_xy(table, "x"), _xy(table, "y"), crs)
    ids = table.column("id").to_pylist()
    properties = table.drop_columns(["id", "x", "y"]).to_pylist()
    return [
        {"type": "Feature", "id": fid,
         "geometry": None if x != x else {"type": "Point", "coordinates": [x, y]},  # NaN: no location
         "properties": p}
        for fid, x, y, p in zip(ids, xs.tolist(), ys.tolist(), properties, strict=True)
    ]


# --- neighbourhoods: LSOA polygons with counts for a period ---------------------------------------

def area_period(warehouse: Warehouse, months: MonthRange) -> Period:
    """The period a neighbourhoods request counts: the months asked for, open ends to what is loaded."""
    if months.start is None and months.end is None:
        return resolve_period(warehouse, None, None)
    first, last = warehouse.query("SELECT min(month) AS a, max(month) AS b FROM force_months")[0].values()
    if first is None:
        return resolve_period(warehouse, None, None)  # raises: nothing loaded
    return Period(months.start or first, months.end or last)


def _areas_plan(warehouse: Warehouse, collection: Collection, query: ItemQuery) -> _Plan:
    period = area_period(warehouse, query.months)
    conditions, params = _filters(collection, query, skip=("category",))
    params.update({"p0": period.start, "p1": period.end})
    category = "TRUE"
    if "category" in query.filters:
        category, params["category"] = "list_contains($category, m.crime_type)", query.filters["category"]
    keep = None
    if (envelope := _envelope(query)) is not None:
        conditions.append("s.xmax >= $x0 AND s.xmin <= $x1 AND s.ymax >= $y0 AND s.ymin <= $y1")
        params.update(zip(("x0", "y0", "x1", "y1"), envelope, strict=True))
        area = bbox_polygon(query.bbox, query.bbox_crs)  # type: ignore[arg-type]
        keep = lambda t: shapely.intersects(shapely.from_wkb(t.column("wkb").to_numpy(zero_copy_only=False)), area)  # noqa: E731
    sql = f"""WITH members AS ({MEMBERS_SQL}),
              counts AS (
                  SELECT m.lsoa AS code, sum(m.crimes)::BIGINT AS crimes FROM monthly_counts m
                  WHERE m.month BETWEEN $p0 AND $p1 AND {category} GROUP BY 1)
              SELECT s.code AS id, s.wkb, s.code, s.name, l.msoa_code AS msoa, l.lad_code AS lad,
                     l.force_id AS force, coalesce(c.crimes, 0) AS crimes, p.persons AS population,
                     round(coalesce(c.crimes, 0) * 1000.0 / nullif(p.persons, 0), 2) AS rate_per_1000
              FROM members JOIN area_shapes s USING (code) LEFT JOIN counts c USING (code)
                   LEFT JOIN population p ON p.lsoa_code = s.code LEFT JOIN lsoa_lookup l ON l.lsoa_code = s.code
              WHERE s.level = 'lsoa' AND {" AND ".join(conditions) or "TRUE"} AND s.code > $after
              ORDER BY s.code LIMIT $n"""
    extra = {"period_from": month_text(period.start), "period_to": month_text(period.end), "months": period.months}
    return _Plan(sql, params, "s.code", "", keep, lambda table: _area_features(table, query.crs, extra))


def _area_features(table: pa.Table, crs: str, extra: dict[str, Any]) -> list[dict[str, Any]]:
    geometries = project_geometries(shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False)), crs)
    texts = shapely.to_geojson(geometries)
    properties = table.drop_columns(["id", "wkb"]).to_pylist()
    return [
        {"type": "Feature", "id": p["code"], "geometry": orjson.Fragment(text), "properties": {**p, **extra}}
        for text, p in zip(texts.tolist(), properties, strict=True)
    ]
