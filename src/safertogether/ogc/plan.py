"""How a collection is queried: a plan of two SQL steps, and the conditions every plan shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from safertogether.ogc.collections import Collection
from safertogether.ogc.crs import bbox_polygon
from safertogether.ogc.query import ItemQuery


@dataclass(frozen=True)
class Plan:
    """A collection query in two steps, so that sorting for a page touches narrow rows only.

    ``keys_sql`` finds the next keys (``id`` and whatever ``keep`` reads) after ``$after``, up to ``$n``;
    ``rows_sql`` reads the rows whose key (SQL ``key``) lies from ``$first`` to ``$last`` in full. When
    ``keep`` dropped some keys only ``$keys`` are read: binding a list of 10,000 keys costs more than the
    rest of the query, so it is done only then.
    """

    keys_sql: str
    rows_sql: str
    key: str
    order: str
    params: dict[str, Any]
    #: A value below every key.
    start: int | str
    #: Exact test of fetched keys (a bbox SQL can only narrow to its envelope); None when SQL is exact.
    keep: Callable[[pa.Table], np.ndarray] | None
    #: GeoJSON Feature texts of rows ``rows_sql`` read.
    features: Callable[[pa.Table], list[str]]


def filter_conditions(collection: Collection, query: ItemQuery, skip: tuple[str, ...] = ()) -> tuple[
        list[str], dict[str, Any]]:
    """SQL conditions and parameters of the queryables a request filters on."""
    conditions, params = [], {}
    for i, (name, values) in enumerate(query.filters.items()):
        queryable = collection.queryable(name)
        if queryable is not None and name not in skip:
            conditions.append(f"list_contains($q{i}, {queryable.column})")
            params[f"q{i}"] = values
    return conditions, params


def envelope_params(query: ItemQuery) -> dict[str, float]:
    """``$x0 $y0 $x1 $y1``: the longitude/latitude envelope of the request's bbox (empty without one)."""
    if not query.bbox:
        return {}
    return dict(zip(("x0", "y0", "x1", "y1"), bbox_polygon(query.bbox, query.bbox_crs).bounds, strict=True))
