"""The crime datasets: counts per area, month and category, and the total per area and month.

Both are sums of released LSOA cells (see :mod:`safertogether.disclosure`): a higher level's figure is
never more exact than the cells it adds up, so no difference of public figures reveals a hidden cell.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from safertogether.disclosure.policy import Policy
from safertogether.disclosure.releases import public_cells
from safertogether.publish.registry import PublicDataset, register
from safertogether.store.warehouse import Warehouse

#: SQL giving each LSOA's code at a level (alias c for the cells, l for the lookup).
_AREA: Final[dict[str, str]] = {
    "lsoa": "c.lsoa", "msoa": "l.msoa_code", "lad": "l.lad_code", "force": "coalesce(l.force_id, c.force_id)",
}
_NAME: Final[dict[str, str]] = {
    "lsoa": "coalesce(l.lsoa_name, a.name, c.lsoa)", "msoa": "any_value(l.msoa_name)",
    "lad": "any_value(l.lad_name)", "force": "NULL",
}


def _by_area(warehouse: Warehouse, table: pa.Table, level: str, select: str, group: str) -> pa.Table:
    area = _AREA[level]
    name = _NAME[level] if level != "lsoa" else f"any_value({_NAME['lsoa']})"
    with warehouse.registered("public_cells_", table) as cells:
        result = warehouse.query_arrow(
            f"""SELECT {area} AS area, {name} AS area_name, strftime(c.month, '%Y-%m') AS month, {select}
                FROM {cells} c LEFT JOIN lsoa_lookup l ON l.lsoa_code = c.lsoa
                LEFT JOIN areas a ON a.code = c.lsoa AND a.level = 'lsoa'
                WHERE {area} IS NOT NULL GROUP BY {area}, c.month{group} ORDER BY area, month{group}""")
    if level == "force":
        from safertogether.model.forces import force_name

        names = [force_name(code) for code in result.column("area").to_pylist()]
        result = result.set_column(1, "area_name", pa.array(names, pa.string()))
    return result


def crime_counts(warehouse: Warehouse, policy: Policy, level: str) -> pa.Table:
    cells = public_cells(warehouse, policy, "crimes").cells
    return _by_area(warehouse, cells, level,
                    "c.key AS category, sum(c.count)::BIGINT AS crimes, count(*) FILTER (c.count IS NULL) "
                    "AS hidden_cells", ", c.key")


def crime_totals(warehouse: Warehouse, policy: Policy, level: str) -> pa.Table:
    totals = public_cells(warehouse, policy, "crimes").totals
    return _by_area(warehouse, totals, level,
                    "sum(c.count)::BIGINT AS crimes, count(*) FILTER (c.count IS NULL) AS hidden_totals", "")


register(PublicDataset(
    name="crime-counts", title="Crimes per area, month and category",
    columns={"area": "area code (LSOA 2011, MSOA, local authority or police.uk force id)",
             "area_name": "area name", "month": "YYYY-MM", "category": "police.uk crime category",
             "crimes": "crimes recorded (after disclosure control: a sum of released LSOA cells)",
             "hidden_cells": "LSOA cells of this figure hidden by the policy (not included in crimes)"},
    build=crime_counts, geojson=False))  # a column per month and category would be too wide for GIS tools
register(PublicDataset(
    name="crime-totals", title="Crimes per area and month, all categories",
    columns={"area": "area code", "area_name": "area name", "month": "YYYY-MM",
             "crimes": "all crimes recorded (a sum of released LSOA totals)",
             "hidden_totals": "LSOA totals hidden by the policy (not included in crimes)"},
    build=crime_totals))
