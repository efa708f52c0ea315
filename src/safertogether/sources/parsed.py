"""The hand-over between a reader and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa

#: A boolean column a reader may leave in ``rows``: true for a row that is in quarantine instead (see
#: :class:`ParsedFile`). The store skips those rows as it inserts the others.
QUARANTINED: Final = "_quarantined"


@dataclass
class ParsedFile:
    """A source file read and validated: rows to store, rows to quarantine, and how it was read.

    ``rows`` and ``quarantine`` both carry ``row_number`` (1 = first record after the header), so that
    ``rows_read == rows_stored + quarantine.num_rows`` always holds.

    Asked to (``mark_rejected`` of :func:`~safertogether.sources.tabular.read_files`, which only the store's
    importers do), a reader may keep the rejected rows in ``rows``, marked in column :data:`QUARANTINED`,
    rather than filter them out: filtering a million checked rows copies every value again and cost as much
    as checking them (~0.2-0.4 s of CPU), while the store's INSERT skips them for nothing. ``marked`` counts them.
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
    marked: int = 0  #: rows of ``rows`` marked :data:`QUARANTINED` (also in ``quarantine``)

    @property
    def rows_stored(self) -> int:
        return self.rows.num_rows - self.marked

    @property
    def rows_read(self) -> int:
        return self.rows_stored + self.quarantine.num_rows


QUARANTINE_SCHEMA = pa.schema([("row_number", pa.int64()), ("raw_text", pa.string()), ("reason", pa.string())])
