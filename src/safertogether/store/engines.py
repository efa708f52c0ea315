"""The engine seam: what a warehouse needs of a database, and DuckDB's answer to it.

:class:`~safertogether.store.warehouse.Warehouse` is the one interface the rest of the package uses;
it holds an :class:`Engine` and keeps no engine-specific SQL of its own. SQL across the package is
written once, in DuckDB's dialect; an engine that speaks another (PostgreSQL, see
:mod:`safertogether.store.postgres`) translates each statement, and what no translation can express
(an upsert, an insert by column name, a bulk load of staged Parquet) is a method here, so that the
difference lives in one place and callers never branch on the engine (Splink's ``DatabaseAPI`` with a
dialect object is the model: ``splink/internals/database_api.py``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from safertogether.errors import WarehouseBusyError

Params = dict[str, Any] | Sequence[Any] | None


class Engine(Protocol):
    """What a warehouse asks of a database. Each thread works on a session of its own."""

    #: Short name, for messages and for tests that run on every engine: "duckdb", "postgresql".
    name: str
    #: Where the data lives, for messages (a file path, or a URL without its password).
    where: str
    #: A folder for files staged during an import (beside a warehouse file), or None for the temp folder.
    staging_dir: Path | None
    #: Whether several processes may write at once (a server), so that what a process last wrote may not be
    #: the latest any more; False where one process holds the writer's lock (a DuckDB file).
    shared_writers: bool

    def execute(self, sql: str, params: Params = None) -> None:
        """Run a statement to completion."""

    def fetch(self, sql: str, params: Params = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A query's column names and rows."""

    def fetch_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """A query's result as an Arrow table."""

    def stream_rows(self, sql: str, params: Params, chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        """A query's rows in chunks, on a session of its own (other queries may run meanwhile)."""

    def stream_arrow(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """A query's result as record batches, on a session of its own."""

    def registered(self, name: str, rows: pa.Table) -> contextlib.AbstractContextManager[str]:
        """An Arrow table visible to this thread's statements as relation ``name`` for the block."""

    def parquet_relation(self, paths: Sequence[str]) -> contextlib.AbstractContextManager[str]:
        """Staged Parquet files visible as one relation (SQL text usable after FROM) for the block."""

    def insert_select(self, table: str, select: str, params: Params = None) -> None:
        """Insert a query's rows into ``table``, matching columns by name (absent ones NULL)."""

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        """Insert ``row`` into ``table``, replacing the row with the same primary key if there is one."""

    def table_exists(self, table: str) -> bool:
        """Whether the warehouse holds a table of that name."""

    def serialised(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A block that runs alone among those serialised on ``name`` in every session and process that may
        write meanwhile, and commits as one. Where one process writes (DuckDB) nothing is taken: write the
        block as one statement, which is its own transaction."""

    def pinned(self) -> contextlib.AbstractContextManager[Any]:
        """A block whose statements on this thread all run on one session (a transaction needs that)."""

    def close(self) -> None:
        """Close every session."""


class DuckDBEngine:
    """An embedded DuckDB file (or a throwaway in-memory database): one connection, a cursor per thread."""

    name = "duckdb"
    shared_writers = False

    def __init__(self, path: Path | None, read_only: bool = False, memory_limit: str | None = None) -> None:
        import duckdb

        self._duckdb = duckdb
        self.where = str(path) if path else ":memory:"
        self.staging_dir = path.parent if path else None
        try:
            if path is None:
                self._connection = duckdb.connect(":memory:")
            else:
                self._connection = duckdb.connect(str(path), read_only=read_only and path.exists())
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseBusyError(
                    f"{path} is in use by another process (is `safer serve` running?); stop it, then try again"
                ) from exc
            raise
        # Inserts may then run on all cores; every query that needs an order says ORDER BY.
        self._connection.execute("SET preserve_insertion_order = false").fetchall()
        self._connection.execute("SET GLOBAL TimeZone = 'UTC'").fetchall()
        limit = memory_limit or os.environ.get("SAFER_MEMORY_LIMIT")
        if limit:
            self._connection.execute("SET memory_limit = ?", [limit]).fetchall()
        self._local = threading.local()

    @property
    def _cursor(self) -> Any:
        """This thread's cursor; a transaction belongs to the thread that began it."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._connection.cursor()
        return cursor

    def execute(self, sql: str, params: Params = None) -> None:
        # DuckDB 2 needs a result read to its end before the next statement.
        self._cursor.execute(sql, params).fetchall()

    def fetch(self, sql: str, params: Params = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        result = self._cursor.execute(sql, params)
        return [d[0] for d in result.description or []], result.fetchall()

    def fetch_arrow(self, sql: str, params: Params = None) -> pa.Table:
        return self._cursor.sql(sql, params=params).to_arrow_table()

    def stream_rows(self, sql: str, params: Params, chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        cursor = self._connection.cursor()
        try:
            result = cursor.execute(sql, params)
            while chunk := result.fetchmany(chunk_rows):
                yield chunk
        finally:
            cursor.close()

    def stream_arrow(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        cursor = self._connection.cursor()
        try:
            yield from cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
        finally:
            cursor.close()

    @contextlib.contextmanager
    def registered(self, name: str, rows: pa.Table) -> Iterator[str]:
        self._cursor.register(name, rows)
        try:
            yield name
        finally:
            # After a failed statement the transaction is aborted and unregister fails too: that
            # error would hide the one that matters. The next register of the name replaces it.
            with contextlib.suppress(self._duckdb.TransactionException):
                self._cursor.unregister(name)

    @contextlib.contextmanager
    def parquet_relation(self, paths: Sequence[str]) -> Iterator[str]:
        # DuckDB streams an INSERT ... SELECT from Parquet within its memory limit.
        yield "read_parquet([" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "])"

    def insert_select(self, table: str, select: str, params: Params = None) -> None:
        self.execute(f"INSERT INTO {table} BY NAME {select}", params)

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        self.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                     list(row.values()))

    def table_exists(self, table: str) -> bool:
        _, rows = self.fetch("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table])
        return bool(rows[0][0])

    @contextlib.contextmanager
    def serialised(self, name: str) -> Iterator[None]:
        # One process writes a DuckDB file, so no other process can be waiting, and the caller's one
        # writing statement is its own transaction; threads of this process that write the same rows
        # conflict (DuckDB's optimistic concurrency) and try again.
        yield

    def pinned(self) -> contextlib.AbstractContextManager[Any]:
        # Each thread has a cursor of its own for its whole life: every block is pinned already.
        return contextlib.nullcontext(self._cursor)

    def close(self) -> None:
        self._connection.close()
