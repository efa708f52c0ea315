"""Copy tables from one warehouse to another (a DuckDB file to a PostgreSQL server, say), batch by batch.

For moving what one analyst linked onto the partnership's shared server, and for benchmarks and tests that
run the same data on each engine. Each table is copied in one transaction of the target: whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse


def copy_tables(source: Warehouse, target: Warehouse, tables: Sequence[str],
                batch_rows: int = 100_000) -> dict[str, int]:
    """Append every row of each of ``tables`` (ours, never user input) from ``source`` to the same table of
    ``target``, which must have it (both are opened at the current schema); returns the rows copied per table."""
    copied = {}
    for table in tables:
        count = 0
        with target.transaction():
            for batch in source.stream_arrow(f"SELECT * FROM {table}", batch_rows=batch_rows):
                target.insert_arrow(table, pa.Table.from_batches([batch]))
                count += batch.num_rows
        copied[table] = count
    return copied
