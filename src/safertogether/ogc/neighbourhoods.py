"""The neighbourhoods collection: LSOA polygons with crimes and rate per 1,000 residents for a period."""

from __future__ import annotations

from typing import Any, Final

import orjson
import pyarrow as pa
import shapely

from safertogether.disclosure.relations import counts_relation
from safertogether.measures.period import Period, month_text, resolve_period
from safertogether.ogc.collections import Collection
from safertogether.ogc.crs import bbox_polygon, project_geometries
from safertogether.ogc.months import MonthRange
from safertogether.ogc.plan import Plan, envelope_params, filter_conditions
from safertogether.ogc.query import ItemQuery
from safertogether.store.warehouse import Warehouse

#: The LSOAs the collection holds: those of every force with crimes loaded, as the page's force maps
#: show them (police.uk files also hold crimes a force recorded across its boundary; counted in another
#: force's LSOA, they would give it a rate from a fraction of its crimes). A force the lookup does not
#: cover (British Transport Police) brings the LSOAs its crimes are counted in.
MEMBERS_SQL: Final = """
    SELECT lsoa_code AS code FROM lsoa_lookup WHERE force_id IN (SELECT DISTINCT force_id FROM force_months)
    UNION SELECT DISTINCT lsoa FROM monthly_counts WHERE lsoa IS NOT NULL
        AND force_id NOT IN (SELECT DISTINCT force_id FROM lsoa_lookup WHERE force_id IS NOT NULL)"""


def area_period(warehouse: Warehouse, months: MonthRange) -> Period:
    """The period counted: the months asked for, open ends running to what is loaded (default: 12 months)."""
    if months.start is None and months.end is None:
        return resolve_period(warehouse, None, None)
    first, last = warehouse.row("SELECT min(month), max(month) FROM force_months")  # type: ignore[misc]
    if first is None:
        return resolve_period(warehouse, None, None)  # raises: nothing loaded
    return Period(months.start or first, months.end or last)


def neighbourhoods_plan(warehouse: Warehouse, collection: Collection, query: ItemQuery) -> Plan:
    """LSOAs by code; each page's counts are summed for its own LSOAs only (a national page stays cheap)."""
    warehouse.require("area_shapes", "boundaries", "run `safer import boundaries FILE` first")
    period = area_period(warehouse, query.months)
    conditions, params = filter_conditions(collection, query, skip=("category",))
    params.update({"p0": period.start, "p1": period.end})
    category = "TRUE"
    if "category" in query.filters:
        category, params["category"] = "list_contains($category, m.crime_type)", query.filters["category"]
    keep = None
    if query.bbox:  # envelopes overlap in SQL, then polygons are tested exactly
        conditions.append("s.xmax >= $x0 AND s.xmin <= $x1 AND s.ymax >= $y0 AND s.ymin <= $y1")
        params.update(envelope_params(query))
        area = bbox_polygon(query.bbox, query.bbox_crs)
        keep = lambda t: shapely.intersects(_shapes(t), area)  # noqa: E731
    where = " AND ".join(["s.level = 'lsoa'", *conditions])
    shapes = f"({MEMBERS_SQL}) members JOIN area_shapes s USING (code) LEFT JOIN lsoa_lookup l ON l.lsoa_code = s.code"
    keys_sql = f"SELECT s.code AS id, s.wkb FROM {shapes} WHERE {where} AND s.code > $after ORDER BY s.code LIMIT $n"
    rows_sql = f"""WITH counts AS (
                       SELECT m.lsoa AS code, sum(m.crimes)::BIGINT AS crimes FROM {counts_relation()} m
                       WHERE m.month BETWEEN $p0 AND $p1 AND {category} AND m.lsoa BETWEEN $first AND $last
                       GROUP BY 1)
                   SELECT s.code AS id, s.wkb, s.code, s.name, l.msoa_code AS msoa, l.lad_code AS lad,
                          l.force_id AS force, coalesce(c.crimes, 0) AS crimes, p.persons AS population,
                          round(coalesce(c.crimes, 0) * 1000.0 / nullif(p.persons, 0), 2) AS rate_per_1000
                   FROM {shapes} LEFT JOIN counts c ON c.code = s.code LEFT JOIN population p ON p.lsoa_code = s.code
                   WHERE {where} AND s.code BETWEEN $first AND $last"""
    extra = {"period_from": month_text(period.start), "period_to": month_text(period.end), "months": period.months}
    return Plan(keys_sql, rows_sql, "s.code", "s.code", params, "", keep,
                lambda table: _area_features(table, query.crs, extra))


def _shapes(table: pa.Table) -> Any:
    return shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))


def _area_features(table: pa.Table, crs: str, extra: dict[str, Any]) -> list[str]:
    texts = shapely.to_geojson(project_geometries(_shapes(table), crs)).tolist()
    properties = table.drop_columns(["id", "wkb"]).to_pylist()
    return [
        f'{{"type":"Feature","id":{orjson.dumps(p["code"]).decode()},"geometry":{text},'
        f'"properties":{orjson.dumps({**p, **extra}).decode()}}}'
        for text, p in zip(texts, properties, strict=True)
    ]
