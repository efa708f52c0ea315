"""Reference tables (boundaries, lookups, population): replaced by key, with provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa

from safertogether.store.imports import FileReport, ImportReport
from safertogether.store.warehouse import Warehouse


def load_reference(
    warehouse: Warehouse,
    table: str,
    read_rows: Callable[[], pa.Table],
    *,
    key: str,
    kind: str,
    name: str,
    sha256: str,
    after: Callable[[Warehouse], None] | None = None,
) -> ImportReport:
    """Upsert the rows ``read_rows`` gives into ``table`` by ``key`` atomically.

    The same file twice changes nothing and is not even read again.
    """
    earlier = warehouse.scalar(
        "SELECT name FROM source_files WHERE sha256 = ? AND kind = ? LIMIT 1", [sha256, kind])
    if earlier is not None:
        return ImportReport(None, [FileReport(name, kind, "unchanged", sha256=sha256,
                                              notes=[f"identical to {earlier}"])])
    rows = read_rows()
    with warehouse.transaction():
        import_id = int(warehouse.scalar("SELECT nextval('import_ids')"))
        file_id = int(warehouse.scalar("SELECT nextval('file_ids')"))
        started = dt.datetime.now()
        with warehouse.registered("_incoming_keys", rows.select([key])):
            warehouse.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _incoming_keys)")
        warehouse.insert_arrow(table, rows.append_column("source", pa.repeat(pa.scalar(name), rows.num_rows)))
        warehouse.execute(
            "INSERT INTO source_files VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, 0, [], 'current', NULL, now())",
            [file_id, import_id, name, sha256, kind, rows.num_rows, rows.num_rows],
        )
        if after:
            after(warehouse)
        warehouse.execute(
            "INSERT INTO imports VALUES (?, ?, now(), ?, 1, ?, ?, 0)",
            [import_id, started, f"{kind} {name}", rows.num_rows, rows.num_rows],
        )
    return ImportReport(import_id, [FileReport(name, kind, "stored", rows.num_rows, rows.num_rows, 0, sha256, file_id)])
