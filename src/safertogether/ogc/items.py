"""Items of a collection as GeoJSON, a page at a time by keyset (never OFFSET).

Each page asks for the keys after the last one served, in key order, so page 1,000 of a national
table costs what page 1 does; the rows of those keys are then read in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import orjson
import pyarrow as pa

from safertogether.errors import BadRequestError, NotFoundError
from safertogether.ogc.collections import Collection
from safertogether.ogc.neighbourhoods import neighbourhoods_plan
from safertogether.ogc.plan import Plan
from safertogether.ogc.points import points_plan
from safertogether.ogc.query import ItemQuery
from safertogether.store.warehouse import Warehouse

_CODE: Final = re.compile(r"^[A-Za-z0-9]{1,20}$")
_PARAMETER: Final = re.compile(r"\$(\w+)")


@dataclass(frozen=True)
class Page:
    """One page of features (each a GeoJSON Feature's text) and where the next one starts."""

    features: list[str]
    number_matched: int
    next_cursor: str | None


def items_page(warehouse: Warehouse, collection: Collection, query: ItemQuery) -> Page:
    """The page of ``collection``'s features that ``query`` asks for (``query.cursor`` is where it starts)."""
    plan = _plan(warehouse, collection, query)
    after = _key(collection, query.cursor) if query.cursor else plan.start
    keys, more = _page_keys(warehouse, plan, after, query.limit)
    next_cursor = str(keys[-1]) if more else None
    return Page(_features(warehouse, plan, keys), _number_matched(warehouse, collection, query, plan), next_cursor)


def item(warehouse: Warehouse, collection: Collection, feature_id: str, query: ItemQuery) -> dict[str, Any]:
    """One feature by id, or :class:`NotFoundError`."""
    plan = _plan(warehouse, collection, query)
    try:
        features = _features(warehouse, plan, [_key(collection, feature_id)])
    except BadRequestError:
        features = []
    if not features:
        raise NotFoundError(f"no feature '{feature_id[:60]}' in collection '{collection.id}'")
    found: dict[str, Any] = orjson.loads(features[0])
    return found


def _plan(warehouse: Warehouse, collection: Collection, query: ItemQuery) -> Plan:
    if collection.kind == "areas":
        return neighbourhoods_plan(warehouse, collection, query)
    return points_plan(collection, query)


def _run(warehouse: Warehouse, sql: str, params: dict[str, Any]) -> pa.Table:
    """``sql`` with the parameters it names (DuckDB refuses any it does not use)."""
    names = set(_PARAMETER.findall(sql))
    return warehouse.query_arrow(sql, {k: v for k, v in params.items() if k in names})


def _page_keys(warehouse: Warehouse, plan: Plan, after: int | str, limit: int) -> tuple[list[Any], bool]:
    """Up to ``limit`` keys after ``after`` passing ``plan.keep``, and whether more follow."""
    keys: list[Any] = []
    while True:
        batch = _run(warehouse, plan.keys_sql, {**plan.params, "after": after, "n": limit + 1})
        if not batch.num_rows:
            break
        after = batch.column("id")[-1].as_py()
        kept = batch if plan.keep is None else batch.filter(pa.array(plan.keep(batch)))
        keys += kept.column("id").to_pylist()
        if batch.num_rows <= limit or len(keys) > limit:
            break
    return keys[:limit], len(keys) > limit


def _features(warehouse: Warehouse, plan: Plan, keys: list[Any]) -> list[str]:
    if not keys:
        return []
    sql = plan.rows_sql
    if plan.keep is not None:
        sql += f" AND {plan.key} IN (SELECT unnest($keys))"
    rows = _run(warehouse, f"{sql} ORDER BY {plan.order}",
                {**plan.params, "keys": keys, "first": keys[0], "last": keys[-1]})
    return plan.features(rows)


_COUNTS: dict[tuple[Any, ...], int] = {}


def _number_matched(warehouse: Warehouse, collection: Collection, query: ItemQuery, plan: Plan) -> int:
    """Features matching the query on all pages; remembered per query, so paging counts once."""
    key = (warehouse.key, warehouse.version, collection.id, query.given)
    if key not in _COUNTS:
        if len(_COUNTS) > 1000:
            _COUNTS.clear()
        every = plan.keys_sql.replace("LIMIT $n", "")
        params = {**plan.params, "after": plan.start}
        if plan.keep is None:
            count = _run(warehouse, f"SELECT count(*) AS n FROM ({every})", params).column("n")[0].as_py()
        else:
            table = _run(warehouse, every, params)
            count = int(plan.keep(table).sum()) if table.num_rows else 0
        _COUNTS[key] = int(count)
    return _COUNTS[key]


def _key(collection: Collection, text: str) -> int | str:
    """A cursor or feature id as the collection's key (:class:`BadRequestError` when it cannot be one)."""
    if collection.kind == "areas":
        if _CODE.match(text):
            return text
    elif text.isdigit() and len(text) < 20:
        return int(text)
    raise BadRequestError(f"cursor='{text[:40]}' is not a position in '{collection.id}'; follow the next links")
