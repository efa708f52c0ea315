"""The DuckDB warehouse: one file, opened by one writer (imports) or many readers (serving)."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb
import pyarrow as pa

from safertogether.errors import MissingDataError, NewerWarehouseError, WarehouseBusyError
from safertogether.store.schema import SCHEMA_VERSION, ddl

DEFAULT_DB = "safer.duckdb"
T = TypeVar("T")

# A process-unique key per opened warehouse, for caches (``id()`` values are reused after collection).
_warehouse_keys = itertools.count(1)


def default_db_path() -> Path:
    """``SAFER_DB`` when set, else ``safer.duckdb`` in the working directory."""
    return Path(os.environ.get("SAFER_DB") or DEFAULT_DB)


class Warehouse:
    """A DuckDB warehouse file.

    Queries may come from many threads: each thread gets its own cursor on the shared connection.
    Writes happen inside :meth:`transaction`, which commits everything or nothing.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path | None, read_only: bool) -> None:
        self._connection = connection
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        self._version = 0
        self.key = next(_warehouse_keys)
        self._memos: dict[str, tuple[int, Any]] = {}
        self._memo_lock = threading.Lock()

    @property
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor; a transaction belongs to the thread that began it."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._connection.cursor()
        return cursor

    def query(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a query as dictionaries."""
        result = self._cursor.execute(sql, params)
        names = [d[0] for d in result.description or []]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def row(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> tuple[Any, ...] | None:
        """The first row of a query as a tuple, or None (the whole result is read: DuckDB 2 needs that)."""
        rows = self._cursor.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def stream_rows(
        self, sql: str, params: dict[str, Any] | list[Any] | None = None, chunk_rows: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """A query's rows in chunks, on a cursor of its own (so other queries may run meanwhile).

        The query runs when the first chunk is asked for; the cursor closes when the chunks run out or
        the iterator is closed (an answer streamed to a client that went away).
        """
        cursor = self._connection.cursor()
        try:
            result = cursor.execute(sql, params)
            while chunk := result.fetchmany(chunk_rows):
                yield chunk
        finally:
            cursor.close()

    def stream_arrow(
        self, sql: str, params: dict[str, Any] | list[Any] | None = None, batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """A query's result as Arrow record batches, on a cursor of its own (see :meth:`stream_rows`)."""
        cursor = self._connection.cursor()
        try:
            yield from cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
        finally:
            cursor.close()

    @contextlib.contextmanager
    def registered(self, name: str, rows: pa.Table) -> Iterator[str]:
        """An Arrow table visible to this thread's queries as relation ``name`` for the block."""
        self._cursor.register(name, rows)
        try:
            yield name
        finally:
            # After a failed statement the transaction is aborted and unregister fails too: that
            # error would hide the one that matters. The next register of the name replaces it.
            with contextlib.suppress(duckdb.TransactionException):
                self._cursor.unregister(name)

    def query_arrow(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> pa.Table:
        """A query's result as an Arrow table (columnar, no per-row Python objects)."""
        return self._cursor.sql(sql, params=params).to_arrow_table()

    def scalar(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        rows = self._cursor.execute(sql, params).fetchall()
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> None:
        """Run a statement to completion (DuckDB 2 needs a result read to its end before the next)."""
        self._cursor.execute(sql, params).fetchall()

    def insert_arrow(self, table: str, rows: pa.Table, columns: list[str] | None = None) -> None:
        """Append an Arrow table's columns (by name) to a warehouse table."""
        column_list = ", ".join(columns or rows.column_names)
        with self.registered("_incoming", rows):
            self.execute(f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _incoming")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All writes inside commit together, or none do (also when the process is killed)."""
        self.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")
        self._version += 1

    @property
    def version(self) -> int:
        """Changes whenever this warehouse commits (for answer caches).

        Only one process may write a DuckDB file, and a read-only one sees no other writer, so the
        count of this object's own commits is enough.
        """
        return self._version

    def memo(self, name: str, build: Callable[[Warehouse], T]) -> T:
        """``build(self)``, computed once per version of the contents and shared by all threads.

        For what serving reads on every request and is cheap to hold: made on first use, made again
        after a commit changes the contents.
        """
        version, value = self._memos.get(name, (-1, None))
        if version != self._version:
            with self._memo_lock:
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
        """Close the file; the warehouse cannot be used afterwards."""
        self._connection.close()


def open_warehouse(
    path: str | Path | None = None, *, read_only: bool = False, memory_limit: str | None = None
) -> Warehouse:
    """Open (creating if needed) the warehouse file; ``":memory:"`` gives a throwaway one.

    ``memory_limit`` (or ``SAFER_MEMORY_LIMIT``, e.g. ``"3GB"``) caps DuckDB's memory; it spills to
    disk beyond it, which is how national-scale imports stay within a small machine.
    """
    target = Path(path) if path not in (None, ":memory:") else (None if path == ":memory:" else default_db_path())
    if read_only and target is not None and not target.exists():
        raise MissingDataError(
            f"no warehouse at {target}; create it with `safer import police-uk FOLDER --db {target}` or `safer demo`"
        )
    try:
        if target is None:
            connection = duckdb.connect(":memory:")
        elif read_only and target.exists():
            connection = duckdb.connect(str(target), read_only=True)
        else:
            connection = duckdb.connect(str(target))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusyError(
                f"{target} is in use by another process (is `safer serve` running?); stop it, then try again"
            ) from exc
        raise
    # Inserts may then run on all cores; every query that needs an order says ORDER BY.
    connection.execute("SET preserve_insertion_order = false").fetchall()
    connection.execute("SET GLOBAL TimeZone = 'UTC'").fetchall()
    limit = memory_limit or os.environ.get("SAFER_MEMORY_LIMIT")
    if limit:
        connection.execute("SET memory_limit = ?", [limit]).fetchall()
    warehouse = Warehouse(connection, target, read_only)
    try:
        if not (read_only and target is not None and target.exists()):
            _create_schema(warehouse)
            return warehouse
        older = _schema_version(warehouse) < SCHEMA_VERSION
    except BaseException:
        warehouse.close()
        raise
    if older:
        # Made by an older version: bring its schema up to date once (the new tables), then read it.
        warehouse.close()
        open_warehouse(target, memory_limit=memory_limit).close()
        return open_warehouse(target, read_only=True, memory_limit=memory_limit)
    return warehouse


def _schema_version(warehouse: Warehouse) -> int:
    """The schema version the file was written with; one newer than this code's is refused."""
    stored = warehouse.scalar(
        "SELECT max(value) FROM duckdb_tables() t, meta WHERE t.table_name = 'meta' AND key = 'schema_version'")
    version = int(stored) if stored else 0
    if version > SCHEMA_VERSION:
        raise NewerWarehouseError(
            f"{warehouse.path} was written by a newer Safer Together (schema {version}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade safertogether to read it")
    return version


def _create_schema(warehouse: Warehouse) -> None:
    """Create what is missing (tables are created if absent) and record this code's schema version."""
    with warehouse.transaction():
        warehouse.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        _schema_version(warehouse)
        for statement in ddl():
            warehouse.execute(statement)
        warehouse.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
