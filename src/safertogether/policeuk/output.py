"""JSON arrays built by DuckDB and streamed in chunks, so answers have no size cap.

Each query yields one JSON text per item (``to_json`` of a struct, built in SQL): serialising in
DuckDB keeps the Python work per request to joining strings, which matters at many requests a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from safertogether.store.warehouse import Warehouse

CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class JsonQuery:
    """SQL whose single column is the JSON text of each item of the answer, in order."""

    sql: str
    params: dict[str, Any]


@dataclass
class JsonArray:
    """An answer's first chunk, and the rest still to stream when it is larger than one chunk."""

    head: bytes
    rest: Iterator[bytes] | None

    @property
    def complete(self) -> bool:
        return self.rest is None

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        if self.rest is not None:
            yield from self.rest


def run_json_query(warehouse: Warehouse, query: JsonQuery, chunk_rows: int | None = None) -> JsonArray:
    """Run the query now (so errors surface before any byte is sent) and fetch the first chunk."""
    chunks = warehouse.stream_rows(query.sql, query.params, chunk_rows or CHUNK_ROWS)
    first = next(chunks, [])
    if len(first) < (chunk_rows or CHUNK_ROWS):
        chunks.close()
        return JsonArray(("[" + ",".join(r[0] for r in first) + "]").encode(), None)

    def rest() -> Iterator[bytes]:
        with contextlib.closing(chunks):
            for more in chunks:
                yield ("," + ",".join(r[0] for r in more)).encode()
            yield b"]"

    return JsonArray(("[" + ",".join(r[0] for r in first)).encode(), rest())


def empty_query() -> JsonQuery:
    """An answer of ``[]`` (an unknown location, say), built like any other."""
    return JsonQuery("SELECT '' WHERE FALSE", {})
