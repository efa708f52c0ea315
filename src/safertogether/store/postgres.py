"""A shared PostgreSQL server as the warehouse: ``open_warehouse("postgresql://user@host:port/db")``.

The driver is psycopg 3: it binds every Python value our statements pass (lists to arrays, dates,
None), and its COPY moves Arrow tables in as CSV that pyarrow writes in C++ (a row at a time from
Python would cost ~1 µs a value). ADBC's PostgreSQL driver ingests and fetches Arrow natively, but binds
parameters only as Arrow arrays (no list parameters, which our imports use) and is younger; results
are turned into Arrow here from psycopg's rows, typed by the columns' PostgreSQL types.

Sessions come from a pool (``psycopg_pool``, at most :data:`POOL_SIZE`, or ``SAFER_PG_POOL``): a
statement borrows one and gives it back, so a server's forty request threads share a few sessions (each
a process on the server) instead of holding one each for as long as the thread lives. A block that needs
one session throughout (:meth:`pinned`: a transaction, a temporary table, the audit chain's lock) holds
its session to the end of the block; a thread waits when all are lent. Sessions are autocommit;
:meth:`Warehouse.transaction` says BEGIN and COMMIT on its pinned session. Statements are translated
once each (see :mod:`safertogether.store.postgres_sql`) and kept.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from safertogether.errors import WarehouseUnavailableError
from safertogether.store.engines import Params
from safertogether.store.postgres_sql import SYSTEM_COLUMNS, named_params, to_postgres

#: PostgreSQL type of each Arrow type, for relations made from Arrow tables.
_PG_TYPES = {pa.bool_(): "BOOLEAN", pa.int8(): "SMALLINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER",
             pa.int64(): "BIGINT", pa.float32(): "REAL", pa.float64(): "DOUBLE PRECISION", pa.date32(): "DATE",
             pa.string(): "TEXT", pa.large_string(): "TEXT", pa.null(): "TEXT", pa.binary(): "BYTEA"}
#: Arrow type of each PostgreSQL type oid, for results; others arrive as Python objects pyarrow infers.
_ARROW_TYPES = {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 700: pa.float32(),
                701: pa.float64(), 25: pa.string(), 1043: pa.string(), 19: pa.string(), 1082: pa.date32(),
                1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC"), 17: pa.binary(),
                1009: pa.list_(pa.string()), 1015: pa.list_(pa.string()), 1016: pa.list_(pa.int64())}
_NUMERIC = 1700
#: Sessions a warehouse object keeps open at most (``SAFER_PG_POOL`` overrides): a server's request threads
#: wait for one beyond this; streams (:meth:`PostgresEngine.stream_rows`) open their own besides.
POOL_SIZE = 8


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise WarehouseUnavailableError(
            "a PostgreSQL warehouse needs psycopg: pip install 'safertogether[postgres]'") from exc
    return psycopg


def without_password(url: str) -> str:
    """The URL for messages: its password, if any, left out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresEngine:
    """A PostgreSQL database: pooled sessions, statements translated from DuckDB's dialect."""

    name = "postgresql"
    staging_dir = None
    shared_writers = True

    def __init__(self, url: str, pool_size: int | None = None) -> None:
        self._psycopg = _psycopg()
        self._url = self.url = url
        self.where = without_password(url)
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._lock = threading.Lock()
        self._translated = functools.lru_cache(maxsize=4096)(self._translate)
        self._forget(self._connect())  # refuse an unreachable server now, with its reason
        self._pool = _pool(url, pool_size or int(os.environ.get("SAFER_PG_POOL") or POOL_SIZE))

    def _connect(self) -> Any:
        """A session of its own, outside the pool (for streams, which hold theirs while the reader reads)."""
        try:
            session = self._psycopg.connect(self._url, autocommit=True)
        except self._psycopg.OperationalError as exc:
            raise WarehouseUnavailableError(
                f"cannot reach the PostgreSQL warehouse at {self.where}: {str(exc).strip()}; "
                "check the server is running and the URL (postgresql://user@host:port/database)") from exc
        _utc(session)
        with self._lock:
            self._sessions.append(session)
        return session

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Any]:
        """One session for the whole block, this thread's until it ends (nested blocks share it)."""
        held = getattr(self._local, "session", None)
        if held is not None:
            yield held
            return
        with self._pool.connection() as session:
            self._local.session = session
            try:
                yield session
            finally:
                self._local.session = None

    def _session(self) -> contextlib.AbstractContextManager[Any]:
        """The session this thread pinned, or one borrowed from the pool for a statement."""
        held = getattr(self._local, "session", None)
        return contextlib.nullcontext(held) if held is not None else self._pool.connection()

    def _translate(self, sql: str) -> tuple[str, ...]:
        return tuple(to_postgres(sql, self._table_layout))

    def _run(self, cursor: Any, sql: str, params: Params) -> None:
        """Run each statement of ``sql``, naming the statement in any error (Splink's way)."""
        bound = named_params(params)
        for statement in self._translated(sql):
            try:
                cursor.execute(statement, bound)
            except self._psycopg.Error as exc:
                exc.add_note(f"SQL (translated for PostgreSQL): {statement}")
                raise

    def execute(self, sql: str, params: Params = None) -> None:
        with self._session() as session, session.cursor() as cursor:
            self._run(cursor, sql, params)

    def fetch(self, sql: str, params: Params = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._session() as session, session.cursor() as cursor:
            self._run(cursor, sql, params)
            return [d.name for d in cursor.description or []], cursor.fetchall()

    def fetch_arrow(self, sql: str, params: Params = None) -> pa.Table:
        with self._session() as session, session.cursor() as cursor:
            self._run(cursor, sql, params)
            return _as_arrow(cursor.description or [], cursor.fetchall())

    def stream_rows(self, sql: str, params: Params, chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        # A session of its own, as DuckDB's own cursor, with a server-side cursor so rows arrive in chunks.
        session = self._connect()
        try:
            with session.transaction(), session.cursor(name="safer_stream") as cursor:
                self._run(cursor, sql, params)
                while chunk := cursor.fetchmany(chunk_rows):
                    yield chunk
        finally:
            self._forget(session)

    def stream_arrow(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        session = self._connect()
        try:
            with session.transaction(), session.cursor(name="safer_stream") as cursor:
                self._run(cursor, sql, params)
                while chunk := cursor.fetchmany(batch_rows):
                    yield from _as_arrow(cursor.description, chunk).to_batches()
        finally:
            self._forget(session)

    def _forget(self, session: Any) -> None:
        with self._lock:
            self._sessions.remove(session)
        session.close()

    @contextlib.contextmanager
    def registered(self, name: str, rows: pa.Table) -> Iterator[str]:
        # A temporary table of this (pinned) session, filled by COPY; dropped after the block.
        with self.pinned() as session:
            self._create_temporary(session, name, rows.schema)
            try:
                self._copy_in(session, name, rows)
                yield name
            finally:
                with contextlib.suppress(self._psycopg.Error):
                    session.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")

    @contextlib.contextmanager
    def parquet_relation(self, paths: Sequence[str]) -> Iterator[str]:
        name = "_staged_rows"
        schema = pq.read_schema(paths[0])
        with self.pinned() as session:
            self._create_temporary(session, name, schema)
            try:
                for path in paths:
                    for batch in pq.ParquetFile(path).iter_batches(batch_size=200_000):
                        self._copy_in(session, name, pa.Table.from_batches([batch]).cast(schema))
                yield name
            finally:
                with contextlib.suppress(self._psycopg.Error):
                    session.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")

    @staticmethod
    def _create_temporary(session: Any, name: str, schema: pa.Schema) -> None:
        session.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        columns = ", ".join(f'"{_stored(field.name)}" {_pg_type(field.type)}' for field in schema)
        session.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")

    @staticmethod
    def _copy_in(session: Any, name: str, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        buffer = io.BytesIO()
        pacsv.write_csv(_csv_ready(rows), buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        columns = ", ".join(f'"{_stored(c)}"' for c in rows.column_names)
        statement = f"COPY {name} ({columns}) FROM STDIN (FORMAT csv)"
        with session.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(buffer.getbuffer())

    def insert_select(self, table: str, select: str, params: Params = None) -> None:
        # The select's columns named, each cast to its column's type (DuckDB's BY NAME casts as it inserts).
        (query,) = self._translated(select)
        bound = named_params(params)
        with self._session() as session, session.cursor() as cursor:
            cursor.execute(f"SELECT * FROM ({query}) AS _by_name LIMIT 0", bound)
            given = [d.name for d in cursor.description]
            types = self._column_types(table)
            casts = ", ".join(f'CAST("{c}" AS {types[_stored(c)]})' for c in given)
            targets = ", ".join(f'"{_stored(c)}"' for c in given)
            statement = f"INSERT INTO {table} ({targets}) SELECT {casts} FROM ({query}) AS _by_name"
            try:
                cursor.execute(statement, bound)
            except self._psycopg.Error as exc:
                exc.add_note(f"SQL (translated for PostgreSQL): {statement}")
                raise

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        self.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                     list(row.values()))

    def table_exists(self, table: str) -> bool:
        with self._session() as session, session.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
            return bool(cursor.fetchone()[0])

    @contextlib.contextmanager
    def serialised(self, name: str) -> Iterator[None]:
        # A transaction-scoped advisory lock, taken first: released by COMMIT or ROLLBACK, also when the
        # session dies, so a killed worker never leaves the chain locked.
        with self.pinned() as session, session.transaction():
            session.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])
            yield

    def _table_layout(self, table: str) -> tuple[list[str], list[str]]:
        """A table's columns in order and its primary key columns, from the catalog."""
        with self._session() as session, session.cursor() as cursor:
            cursor.execute("""SELECT a.attname, coalesce(a.attnum = ANY(i.indkey), false)
                              FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
                              WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
                              ORDER BY a.attnum""", [table])
            rows = cursor.fetchall()
        return [r[0] for r in rows], [r[0] for r in rows if r[1]]

    def _column_types(self, table: str) -> dict[str, str]:
        with self._session() as session, session.cursor() as cursor:
            cursor.execute("""SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                              WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped""", [table])
            return dict(cursor.fetchall())

    def close(self) -> None:
        self._pool.close()
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


def _utc(session: Any) -> None:
    session.execute("SET TimeZone = 'UTC'")


def _pool(url: str, size: int) -> Any:
    """Sessions lent to threads for a statement or a pinned block; opened as needed, up to ``size``."""
    try:
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise WarehouseUnavailableError(
            "a PostgreSQL warehouse needs psycopg-pool: pip install 'safertogether[postgres]'") from exc
    return ConnectionPool(url, min_size=1, max_size=max(size, 1), kwargs={"autocommit": True}, configure=_utc,
                          open=True, name="safertogether")


def _stored(column: str) -> str:
    return SYSTEM_COLUMNS.get(column, column)


def _pg_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _pg_type(kind.value_type) + "[]"
    if pa.types.is_dictionary(kind):
        return _pg_type(kind.value_type)
    if pa.types.is_decimal(kind):
        return "NUMERIC"
    return _PG_TYPES[kind]


def _csv_ready(rows: pa.Table) -> pa.Table:
    """Columns CSV cannot carry as they are (lists, binary) as the text PostgreSQL reads for them."""
    for i, field in enumerate(rows.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            rows = rows.set_column(i, field.name, pa.array(
                [None if v is None else _array_literal(v) for v in rows.column(i).to_pylist()], pa.string()))
        elif pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            rows = rows.set_column(i, field.name, pa.array(
                [None if v is None else "\\x" + v.hex() for v in rows.column(i).to_pylist()], pa.string()))
        elif pa.types.is_dictionary(field.type):
            rows = rows.set_column(i, field.name, rows.column(i).cast(field.type.value_type))
    return rows


def _array_literal(values: list[Any]) -> str:
    def item(value: Any) -> str:
        if value is None:
            return "NULL"
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "{" + ",".join(item(v) for v in values) + "}"


def _as_arrow(description: Sequence[Any], rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in description]
    arrays = {}
    for column, values in zip(description, columns, strict=True):
        if column.type_code == _NUMERIC:
            values = [None if v is None else float(v) for v in values]
            arrays[column.name] = pa.array(values, pa.float64())
        else:
            arrays[column.name] = pa.array(values, _ARROW_TYPES.get(column.type_code))
    return pa.table(arrays) if arrays else pa.table({})
