"""The hand-over between a reader and the store."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass
class ParsedFile:
    """A source file read and validated: rows to store, rows to quarantine, and how it was read.

    ``rows`` and ``quarantine`` both carry ``row_number`` (1 = first record after the header), so that
    ``rows_read == rows.num_rows + quarantine.num_rows`` always holds.
    """

    name: str
    sha256: str
    kind: str
    size: int
    encoding: str
    rows: pa.Table
    quarantine: pa.Table
    table: str = ""  #: the warehouse table the rows go to
    partitions: list[tuple[str, ...]] = field(default_factory=list)
    partition_fields: tuple[str, ...] = ()  #: what a partition's values are values of
    partition_months: frozenset[str] = frozenset()  #: those of them that are months (compared as YYYY-MM)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.rows.num_rows + self.quarantine.num_rows


QUARANTINE_SCHEMA = pa.schema([("row_number", pa.int64()), ("raw_text", pa.string()), ("reason", pa.string())])
