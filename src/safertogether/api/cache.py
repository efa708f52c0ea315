"""A small in-memory cache of whole answers, keyed by the warehouse's version.

Answers only change when data is imported, and popular questions (a neighbourhood's summary, the
force map, one mile around a city centre this month) repeat; serving them from memory, already
gzipped, keeps latency flat under load.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from safertogether.store.warehouse import Warehouse

T = TypeVar("T")


@dataclass
class Entry:
    body: bytes
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=1, mtime=0)
        return self._gzipped


class AnswerCache:
    """Least-recently-used answers up to ``max_bytes`` in total; bigger answers are not kept."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024, max_entry_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, body: bytes) -> Entry:
        entry = Entry(body)
        if len(body) > self.max_entry_bytes:
            return entry
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._entries[key] = entry
            self._size += len(body)
            while self._size > self.max_bytes and self._entries:
                _key, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped.body)
        return entry


ANSWERS = AnswerCache()


def answer_key(warehouse: Warehouse, *parts: Hashable) -> tuple[Hashable, ...]:
    """A cache key that changes whenever the warehouse's contents may have changed."""
    return (warehouse.key, warehouse.version, *parts)


def entry_response(request: Request, entry: Entry, media_type: str = "application/json") -> Response:
    """The cached body, gzipped (once, then kept) when the client accepts it and it is worth it."""
    if "gzip" in request.headers.get("accept-encoding", "") and len(entry.body) > 2000:
        return Response(entry.gzipped(), media_type=media_type,
                        headers={"Vary": "Accept-Encoding", "Content-Encoding": "gzip"})
    return Response(entry.body, media_type=media_type, headers={"Vary": "Accept-Encoding"})


_building: dict[tuple[Hashable, ...], asyncio.Future[Any]] = {}


async def build_once(full_key: tuple[Hashable, ...], build: Callable[[], T], in_memory: bool = False) -> T:
    """Run ``build`` in a worker thread; concurrent callers with the same key share the one result.

    Without this, the first burst of clients asking the same question would each compute it. An
    answer made ``in_memory`` (about a millisecond of Python, no I/O) is made on the event loop
    instead: handing it to a thread costs more than making it, as threads wait for the GIL.
    """
    pending = _building.get(full_key)
    if pending is not None:
        return cast(T, await asyncio.shield(pending))
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    _building[full_key] = future
    try:
        result = build() if in_memory else await run_in_threadpool(build)
        future.set_result(result)
        return result
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # mark retrieved: the waiters (if any) re-raise it
        raise
    finally:
        del _building[full_key]


async def cached_answer(
    request: Request, warehouse: Warehouse, key: tuple[Hashable, ...], build: Callable[[], bytes],
    media_type: str = "application/json", in_memory: bool = False,
) -> Response:
    """Answer from memory when the same question was asked of the same data; else build it (see
    :func:`build_once` for ``in_memory``)."""
    full_key = answer_key(warehouse, *key)
    entry = ANSWERS.get(full_key) or await build_once(full_key, lambda: _built(full_key, build), in_memory)
    return entry_response(request, entry, media_type)


def _built(full_key: tuple[Hashable, ...], build: Callable[[], bytes]) -> Entry:
    entry = ANSWERS.put(full_key, build())
    entry.gzipped()
    return entry
