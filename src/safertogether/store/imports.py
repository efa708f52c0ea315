"""Atomic, idempotent, reconciled imports of parsed files, with provenance and quarantine.

The rules, for any partner format:

* the same bytes again (same SHA-256) add nothing;
* a file publishing a (force, month) partition that is already loaded replaces that partition,
  and the replaced file stays in ``source_files`` marked ``superseded`` with its provenance;
* for every file, rows read = rows stored + rows quarantined;
* the whole batch commits together or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from safertogether.errors import InputFormatError
from safertogether.sources.parsed import QUARANTINED, ParsedFile
from safertogether.store.warehouse import Warehouse

#: Rows in one of DuckDB's row groups.
_ROW_GROUP = 122_880

#: Given a table and the name of a relation holding rows about to be inserted into it, a SELECT over
#: that relation giving the rows as they should be stored (for example with their areas added).
Placement = Callable[[Warehouse, str, str], str]



@dataclass
class FileReport:
    """What happened to one file."""

    name: str
    kind: str
    status: str
    rows_read: int = 0
    rows_stored: int = 0
    rows_quarantined: int = 0
    sha256: str = ""
    file_id: int | None = None
    replaced_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """A whole import: per-file reports and totals, as shown by the CLI and returned as JSON."""

    import_id: int | None
    files: list[FileReport]

    def totals(self) -> dict[str, int]:
        return {
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_stored": sum(f.rows_stored for f in self.files),
            "rows_quarantined": sum(f.rows_quarantined for f in self.files),
        }

    def as_json(self) -> dict[str, Any]:
        return {"import_id": self.import_id, "files": [asdict(f) for f in self.files], **self.totals()}


class ImportFailed(InputFormatError):
    """One or more files could not be read; nothing from the batch was stored."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def run_import(
    warehouse: Warehouse,
    items: Iterable[Any],
    read: Callable[[list[Any]], list[ParsedFile | InputFormatError]],
    *,
    label: str,
    place: Placement | None = None,
    finish: Callable[[Warehouse, int], None] | None = None,
    on_file: Callable[[FileReport], None] | None = None,
    batch_files: int = 8,
    batch_bytes: int = 64 * 1024 * 1024,
    read_ahead: int = 2,
    spill_rows: int = 1_000_000,
) -> ImportReport:
    """Read the items in batches with ``read`` and store the results in one transaction.

    A batch is up to ``batch_files`` items and, for items with a ``size``, ``batch_bytes`` (at least one
    item), so that the ``read_ahead`` batches held at once stay small whatever the files.

    ``read`` returns, for each item of a batch in order, its parsed file or the error that stopped
    it. Reading (parsing, validation) runs ``read_ahead`` batches ahead in worker threads while this
    thread stores; all writes stay on this thread, inside the transaction. Beyond ``spill_rows``
    pending rows are staged on disk (see :class:`PendingRows`); ``place`` adds columns to rows as
    they are inserted (see :data:`Placement`). Every item is tried even after a failure, so that all
    problems are reported together; any failure rolls the whole batch back and raises
    :class:`ImportFailed`. ``finish`` runs inside the transaction after the last file (derived
    tables), unless every file was already loaded.
    """
    reports: list[FileReport] = []
    problems: list[str] = []
    started = dt.datetime.now()
    with contextlib.ExitStack() as stack, warehouse.transaction():
        import_id = int(warehouse.scalar("SELECT nextval('import_ids')"))
        pending = PendingRows(warehouse, spill_rows, place)
        ledger = FileLedger(warehouse)
        stack.callback(pending.close)
        for batch in read_in_background(_batches(items, batch_files, batch_bytes), read, read_ahead):
            for outcome in batch:
                if isinstance(outcome, InputFormatError):
                    problems.append(str(outcome))
                    continue
                if problems:
                    reports.append(_unstored(outcome))
                    continue
                report = _store_file(warehouse, import_id, outcome, pending, ledger)
                reports.append(report)
                if on_file:
                    on_file(report)
        if problems:
            raise ImportFailed(problems)
        pending.flush()
        if finish and any(r.status != "unchanged" for r in reports):
            finish(warehouse, import_id)
        result = ImportReport(import_id, reports)
        totals = result.totals()
        warehouse.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [import_id, started, dt.datetime.now(), label, len(reports),
             totals["rows_read"], totals["rows_stored"], totals["rows_quarantined"]],
        )
    return result


def _batches(items: Iterable[Any], max_items: int, max_bytes: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    size = 0
    for item in items:
        item_size = getattr(item, "size", 0) or 0
        if batch and (len(batch) >= max_items or size + item_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def read_in_background(
    batches: Iterable[list[Any]],
    read: Callable[[list[Any]], list[ParsedFile | InputFormatError]],
    read_ahead: int,
) -> Iterator[list[ParsedFile | InputFormatError]]:
    """``read(batch)`` for each batch in order, at most ``read_ahead`` running ahead (bounded memory)."""
    with ThreadPoolExecutor(max_workers=max(1, read_ahead)) as pool:
        pending: deque[Future[list[ParsedFile | InputFormatError]]] = deque()
        for batch in batches:
            pending.append(pool.submit(read, batch))
            if len(pending) > read_ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _unstored(parsed: ParsedFile) -> FileReport:
    return FileReport(parsed.name, parsed.kind, "not stored: another file failed", parsed.rows_read)


class PendingRows:
    """Rows waiting to be inserted: kept in memory, spilled to Parquet beyond ``spill_rows``.

    DuckDB holds rows appended from Arrow inside an open transaction in memory (20 million rows
    took 9.6 GB), but streams an INSERT ... SELECT from Parquet within its memory limit. Small
    imports therefore go straight from Arrow; large ones are staged as Parquet in a temporary folder
    beside the warehouse and inserted in one statement per table at the end.

    ``place`` adds columns to rows as they are inserted, which is much cheaper than updating stored
    rows (an UPDATE makes DuckDB rewrite the columns at commit). Rows marked :data:`QUARANTINED` by
    their reader are skipped as the others are inserted.
    """

    def __init__(self, warehouse: Warehouse, spill_rows: int = 1_000_000, place: Placement | None = None) -> None:
        self._warehouse = warehouse
        self._spill_rows = spill_rows
        self._place = place
        self._tables: dict[str, list[pa.Table]] = {}
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._staged: dict[str, list[str]] = {}
        self._rows = 0
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def add(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            self._tables.setdefault(table, []).append(rows)
            self._rows += rows.num_rows
        if self._rows >= self._spill_rows:
            self._spill()

    def add_record(self, table: str, record: dict[str, Any]) -> None:
        """One row given as a dictionary (a file's own record); converted with the others at :meth:`flush`.

        Converting each alone cost ~2 ms: pyarrow infers every column's type and, on the way, tries
        to import an optional module per column.
        """
        self._records.setdefault(table, []).append(record)

    def _spill(self) -> None:
        if self._folder is None:
            where = self._warehouse.engine.staging_dir
            self._folder = tempfile.TemporaryDirectory(prefix=".safer-staging-", dir=where)
        for table, parts in self._tables.items():
            path = f"{self._folder.name}/{table}-{len(self._staged.get(table, []))}.parquet"
            pq.write_table(_unmarked(pa.concat_tables(parts, promote_options="permissive")), path, compression="zstd")
            self._staged.setdefault(table, []).append(path)
        self._tables.clear()
        self._rows = 0

    def flush(self) -> None:
        """Insert everything pending into the warehouse tables (inside the caller's transaction)."""
        for table, records in self._records.items():
            self._tables.setdefault(table, []).append(pa.Table.from_pylist(records))
        self._records.clear()
        if self._staged:
            self._spill()  # the rest joins the staged files: one source per table
        while self._tables:
            table, parts = self._tables.popitem()  # the parts can go once combined
            # One contiguous chunk: DuckDB then writes whole compressed row groups as it inserts.
            # Many small chunks (one per file) leave row groups that the commit's checkpoint
            # rewrites, which took as long as the insert itself (0.37 s for 302k rows).
            rows = pa.concat_tables(parts, promote_options="permissive")
            if rows.num_rows < rows.column(0).num_chunks * _ROW_GROUP // 2:
                rows = rows.combine_chunks()  # unless its chunks are large already (a large file's are)
            del parts
            with self._warehouse.registered("_pending_rows", rows):
                self._insert(table, "_pending_rows", rows.schema)
        for table, paths in self._staged.items():
            with self._warehouse.parquet_relation(paths) as staged:
                self._insert(table, staged, pq.read_schema(paths[0]))
        self._tables.clear()
        self._staged.clear()
        self._rows = 0

    def _insert(self, table: str, source: str, schema: pa.Schema) -> None:
        """Insert ``source``'s rows (its schema ``schema``) but those marked quarantined."""
        if QUARANTINED in schema.names:
            if self._place:  # its SQL names the relation it reads; a subquery in its place is not portable
                raise ValueError("rows marked quarantined cannot also be placed: read them without mark_rejected")
            kept = ", ".join(f'"{n}"' for n in schema.names if n != QUARANTINED)
            select = f"SELECT {kept} FROM {source} WHERE {QUARANTINED} IS NOT TRUE"
        else:
            select = self._place(self._warehouse, table, source) if self._place else f"SELECT * FROM {source}"
        self._warehouse.insert_select(table, select)

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()


def _unmarked(rows: pa.Table) -> pa.Table:
    """Rows without those marked quarantined, and without the mark (staged files then share one schema)."""
    if QUARANTINED not in rows.column_names:
        return rows
    return rows.filter(pc.invert(pc.fill_null(rows.column(QUARANTINED), False))).drop_columns([QUARANTINED])


class FileLedger:
    """What the warehouse already holds, read once per import: file fingerprints and partitions.

    Saves a few queries per file, which is most of the per-file cost of an archive of small files.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._by_sha = {r["sha256"]: r for r in warehouse.query(
            "SELECT DISTINCT ON (sha256) sha256, file_id, name, status FROM source_files ORDER BY sha256, file_id")}
        self._partitions = {(r["kind"], r["partition"]) for r in warehouse.query(
            "SELECT DISTINCT kind, unnest(partitions) AS partition FROM source_files WHERE status <> 'superseded'")}

    def earlier(self, sha256: str) -> dict[str, Any] | None:
        return self._by_sha.get(sha256)

    def overlaps(self, kind: str, partitions: list[str]) -> bool:
        return any((kind, p) in self._partitions for p in partitions)

    def record(self, parsed: ParsedFile, file_id: int, partitions: list[str]) -> None:
        self._by_sha[parsed.sha256] = {"file_id": file_id, "name": parsed.name, "status": "current"}
        self._partitions.update((parsed.kind, p) for p in partitions)


def _store_file(
    warehouse: Warehouse, import_id: int, parsed: ParsedFile, pending: PendingRows, ledger: FileLedger
) -> FileReport:
    earlier = ledger.earlier(parsed.sha256)
    if earlier:
        return FileReport(
            parsed.name, parsed.kind, "unchanged", parsed.rows_read, 0, 0, parsed.sha256,
            earlier["file_id"], notes=[f"identical to {earlier['name']} ({earlier['status']})"],
        )
    file_id = int(warehouse.scalar("SELECT nextval('file_ids')"))
    partitions = [":".join(values) for values in parsed.partitions]
    replaced = []
    if ledger.overlaps(parsed.kind, partitions):
        pending.flush()  # the rows it replaces may still be pending
        replaced = _replace_partitions(warehouse, parsed, file_id, partitions)
    ledger.record(parsed, file_id, partitions)
    pending.add_record("source_files", {
        "file_id": file_id, "import_id": import_id, "name": parsed.name, "sha256": parsed.sha256,
        "kind": parsed.kind, "bytes": parsed.size, "encoding": parsed.encoding, "rows_read": parsed.rows_read,
        "rows_stored": parsed.rows_stored, "rows_quarantined": parsed.quarantine.num_rows,
        "partitions": partitions, "status": "current", "loaded_at": dt.datetime.now(),
    })
    provenance = {"file_id": file_id, "import_id": import_id}
    pending.add(parsed.table, _with_constants(parsed.rows, provenance))
    pending.add("quarantine", _with_constants(parsed.quarantine, provenance))
    status = "replaced an earlier version" if replaced else "stored"
    return FileReport(
        parsed.name, parsed.kind, status, parsed.rows_read, parsed.rows_stored,
        parsed.quarantine.num_rows, parsed.sha256, file_id, replaced, parsed.notes,
    )


def _with_constants(rows: pa.Table, constants: dict[str, int]) -> pa.Table:
    for name, value in constants.items():
        rows = rows.append_column(name, pa.repeat(pa.scalar(value, pa.int64()), rows.num_rows))
    return rows


def _partition_key_sql(parsed: ParsedFile) -> str:
    """A stored row's partition as the text ``ParsedFile.partitions`` gives it (months as YYYY-MM, NULL as '')."""
    texts = (f"strftime({f}, '%Y-%m')" if f in parsed.partition_months else f"CAST({f} AS VARCHAR)"
             for f in parsed.partition_fields)
    return " || ':' || ".join(f"coalesce({text}, '')" for text in texts)


def _replace_partitions(warehouse: Warehouse, parsed: ParsedFile, file_id: int, partitions: list[str]) -> list[str]:
    """Delete earlier rows of the partitions this file publishes; mark emptied files superseded."""
    if not partitions or not parsed.partition_fields:
        return []
    table = parsed.table
    older = warehouse.query(
        "SELECT file_id, name FROM source_files WHERE kind = ? AND status <> 'superseded' AND file_id <> ? "
        "AND list_has_any(partitions, ?::VARCHAR[])",
        [parsed.kind, file_id, partitions],
    )
    if not older:
        return []
    older_ids = [o["file_id"] for o in older]
    warehouse.execute(
        f"DELETE FROM {table} WHERE list_contains(?::BIGINT[], file_id) "
        f"AND list_contains(?::VARCHAR[], {_partition_key_sql(parsed)})",
        [older_ids, partitions],
    )
    warehouse.execute(
        f"""UPDATE source_files SET
                status = CASE WHEN EXISTS (SELECT 1 FROM {table} t WHERE t.file_id = source_files.file_id)
                              THEN 'partly superseded' ELSE 'superseded' END,
                superseded_by = ?
            WHERE list_contains(?::BIGINT[], file_id)""",
        [file_id, older_ids],
    )
    return [o["name"] for o in older]
