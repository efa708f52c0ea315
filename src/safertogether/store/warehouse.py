"""The warehouse: a DuckDB file (one writer, many readers) by default, or a shared PostgreSQL server."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import pyarrow as pa

from safertogether.errors import MissingDataError
from safertogether.store.engines import DuckDBEngine, Engine, Params
from safertogether.store.migrations import migrate, stored_version
from safertogether.store.schema import SCHEMA_VERSION

DEFAULT_DB = "safer.duckdb"
SERVER_SCHEMES = ("postgresql://", "postgres://")
T = TypeVar("T")

# A process-unique key per opened warehouse, for caches (``id()`` values are reused after collection).
_warehouse_keys = itertools.count(1)


def default_db_path() -> Path | str:
    """``SAFER_DB`` when set (a file, or a ``postgresql://`` URL), else ``safer.duckdb`` in the working directory."""
    chosen = os.environ.get("SAFER_DB") or DEFAULT_DB
    return chosen if is_server_url(chosen) else Path(chosen)


class Warehouse:
    """The warehouse, on whichever engine stands behind it (see :mod:`safertogether.store.engines`).

    Queries may come from many threads: each thread gets its own session on the engine.
    Writes happen inside :meth:`transaction`, which commits everything or nothing. SQL is written in
    DuckDB's dialect; an engine with another translates it.
    """

    def __init__(self, engine: Engine, path: Path | None, read_only: bool) -> None:
        self.engine = engine
        self.path = path
        self.read_only = read_only
        self._version = 0
        self.key = next(_warehouse_keys)
        self._memos: dict[str, tuple[int, Any]] = {}
        self._memo_lock = threading.Lock()  # guards _memo_locks only
        self._memo_locks: dict[str, threading.Lock] = {}

    @property
    def location(self) -> Path | str | None:
        """The file, or the server's URL (password included: for a second connection to the same database)."""
        return self.path if self.path is not None else getattr(self.engine, "url", None)

    @property
    def where(self) -> str:
        """Where the data lives, for messages: a file path or a server URL without its password."""
        return self.engine.where

    def query(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Rows of a query as dictionaries."""
        names, rows = self.engine.fetch(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def row(self, sql: str, params: Params = None) -> tuple[Any, ...] | None:
        """The first row of a query as a tuple, or None (the whole result is read: DuckDB 2 needs that)."""
        rows = self.engine.fetch(sql, params)[1]
        return rows[0] if rows else None

    def stream_rows(self, sql: str, params: Params = None, chunk_rows: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        """A query's rows in chunks, on a session of its own (so other queries may run meanwhile).

        The query runs when the first chunk is asked for; the session's cursor closes when the chunks
        run out or the iterator is closed (an answer streamed to a client that went away).
        """
        return self.engine.stream_rows(sql, params, chunk_rows)

    def stream_arrow(self, sql: str, params: Params = None, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        """A query's result as Arrow record batches, on a session of its own (see :meth:`stream_rows`)."""
        return self.engine.stream_arrow(sql, params, batch_rows)

    def registered(self, name: str, rows: pa.Table) -> contextlib.AbstractContextManager[str]:
        """An Arrow table visible to this thread's queries as relation ``name`` for the block."""
        return self.engine.registered(name, rows)

    def parquet_relation(self, paths: Sequence[str]) -> contextlib.AbstractContextManager[str]:
        """Parquet files staged by an import, visible as one relation (SQL after FROM) for the block."""
        return self.engine.parquet_relation(paths)

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """A query's result as an Arrow table (columnar, no per-row Python objects)."""
        return self.engine.fetch_arrow(sql, params)

    def scalar(self, sql: str, params: Params = None) -> Any:
        """The first column of the first row, or None."""
        rows = self.engine.fetch(sql, params)[1]
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Params = None) -> None:
        """Run a statement to completion."""
        self.engine.execute(sql, params)

    def insert_arrow(self, table: str, rows: pa.Table, columns: list[str] | None = None) -> None:
        """Append an Arrow table's columns (by name) to a warehouse table."""
        column_list = ", ".join(columns or rows.column_names)
        with self.registered("_incoming", rows):
            self.execute(f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _incoming")

    def insert_select(self, table: str, select: str, params: Params = None) -> None:
        """Insert a query's rows into ``table``, columns matched by name (those it lacks are NULL)."""
        self.engine.insert_select(table, select, params)

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        """Insert ``row`` (column -> value), replacing the stored row with the same primary key."""
        self.engine.upsert(table, row)

    def table_exists(self, table: str) -> bool:
        """Whether the warehouse holds a table of that name."""
        return self.engine.table_exists(table)

    def pinned(self) -> contextlib.AbstractContextManager[Any]:
        """A block whose statements (on this thread) all run on one session: for temporary tables, which
        belong to the session that made them (on PostgreSQL a statement otherwise borrows any pooled one)."""
        return self.engine.pinned()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All writes inside commit together, or none do (also when the process is killed)."""
        with self.engine.pinned():
            self.execute("BEGIN TRANSACTION")
            try:
                yield self
            except BaseException:
                self.execute("ROLLBACK")
                raise
            self.execute("COMMIT")
        self._version += 1

    def serialised(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A block of writes that runs alone among those serialised on ``name``, in any session or process:
        for appends that must see the last one committed (the audit chain).

        PostgreSQL: a transaction holding an advisory lock to its commit. A DuckDB file has one writing
        process, so nothing is taken: write the block as one statement (its own transaction); threads'
        conflicting writes fail and try again.
        It does not move :attr:`version`: what is appended this way (a log) is read by no memo.
        """
        return self.engine.serialised(name)

    @property
    def version(self) -> int:
        """Changes whenever this warehouse commits (for answer caches).

        Only one process may write a DuckDB file, and a read-only one sees no other writer, so the
        count of this object's own commits is enough. (On a shared PostgreSQL server other writers'
        commits are not seen here yet: its caches are per process.)
        """
        return self._version

    def memo(self, name: str, build: Callable[[Warehouse], T]) -> T:
        """``build(self)``, computed once per version of the contents and shared by all threads.

        For what serving reads on every request and is cheap to hold: made on first use, made again
        after a commit changes the contents. Each name has its own lock, so a build may ask for another
        memo (not for its own name) and memos of different names are built side by side.
        """
        version, value = self._memos.get(name, (-1, None))
        if version != self._version:
            with self._memo_lock:
                lock = self._memo_locks.setdefault(name, threading.Lock())
            with lock:
                version, value = self._memos.get(name, (-1, None))
                if version != self._version:
                    version, value = self._version, build(self)
                    self._memos[name] = (version, value)
        return cast(T, value)

    def memo_ready(self, name: str) -> bool:
        """Whether :meth:`memo` holds ``name`` for the current version (would answer without building)."""
        return self._memos.get(name, (-1, None))[0] == self._version

    def has_rows(self, table: str) -> bool:
        """Whether a warehouse table holds anything (``table`` is one of ours, never user input)."""
        return bool(self.scalar(f"SELECT EXISTS (SELECT 1 FROM {table})"))

    def require(self, table: str, what: str, how: str) -> None:
        """Raise :class:`MissingDataError` naming the import that provides ``what`` if ``table`` is empty."""
        if not self.has_rows(table):
            raise MissingDataError(f"no {what} in the warehouse; {how}")

    def close(self) -> None:
        """Close the file or the server's sessions; the warehouse cannot be used afterwards."""
        self.engine.close()


def open_warehouse(
    path: str | Path | None = None, *, read_only: bool = False, memory_limit: str | None = None
) -> Warehouse:
    """Open (creating if needed) the warehouse, migrating an older schema; ``":memory:"`` gives a throwaway one.

    ``path`` is a DuckDB file, or a ``postgresql://user@host:port/database`` URL for a shared server
    (also through ``SAFER_DB``). ``memory_limit`` (or ``SAFER_MEMORY_LIMIT``, e.g. ``"3GB"``) caps
    DuckDB's memory; it spills to disk beyond it, which is how national-scale imports stay within a
    small machine.
    """
    if path is None:
        path = default_db_path()
    if is_server_url(path):
        from safertogether.store.postgres import PostgresEngine

        warehouse = Warehouse(PostgresEngine(str(path)), None, read_only)
        return _migrated(warehouse, writable=not read_only)
    target = None if str(path) == ":memory:" else Path(path)
    if read_only and target is not None and not target.exists():
        raise MissingDataError(
            f"no warehouse at {target}; create it with `safer import police-uk FOLDER --db {target}` or `safer demo`"
        )
    writable = not (read_only and target is not None)
    warehouse = Warehouse(DuckDBEngine(target, read_only=not writable, memory_limit=memory_limit), target, read_only)
    if writable:
        return _migrated(warehouse, writable=True)
    try:
        older = stored_version(warehouse) < SCHEMA_VERSION
    except BaseException:
        warehouse.close()
        raise
    if older:
        # Made by an older version: migrate it once (a writer may do that), then read it.
        warehouse.close()
        open_warehouse(target, memory_limit=memory_limit).close()
        return open_warehouse(target, read_only=True, memory_limit=memory_limit)
    return warehouse


def is_server_url(path: str | Path) -> bool:
    """Whether ``path`` names a database server (``postgresql://...``) rather than a file."""
    return isinstance(path, str) and path.startswith(SERVER_SCHEMES)


def _migrated(warehouse: Warehouse, writable: bool) -> Warehouse:
    """The warehouse with its schema current: migrated when writable, or when older (a server has no writer's lock)."""
    try:
        if writable or stored_version(warehouse) < SCHEMA_VERSION:  # stored_version refuses a newer one
            migrate(warehouse)
    except BaseException:
        warehouse.close()
        raise
    return warehouse
