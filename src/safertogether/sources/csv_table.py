"""Reading CSV text into an all-string Arrow table that keeps every record, good or bad.

Parsing with pyarrow is vectorised (a 300k-row file in ~0.1 s); records that do not have the
header's number of fields are handed back with their text and record number instead of being lost.
A large file is parsed on all cores first; only one with such records is parsed again on one, as
pyarrow numbers the records it cannot parse only then.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from safertogether.errors import InputFormatError
from safertogether.sources.text import DecodedText


@dataclass
class CsvTable:
    """All records of a CSV file: parsed ones (with ``row_number``) and unparseable ones."""

    table: pa.Table
    unparseable: list[tuple[int, str, str]]
    utf8: bytes  #: the file as UTF-8
    plain_ascii: bool = False  #: see :attr:`DecodedText.plain_ascii`

    def trimmed(self, column: str) -> pa.ChunkedArray:
        """A column with surrounding (Unicode) whitespace stripped from each value."""
        trim = pc.ascii_trim_whitespace if self.plain_ascii else pc.utf8_trim_whitespace
        return trim(self.table.column(column))

    def record_text(self, row_numbers: list[int]) -> list[str]:
        """The original text of the given records (re-serialised if records span lines).

        Lines are found as byte offsets (NumPy), not by splitting the text: a few bad rows of a
        million-row file should not cost a million Python strings.
        """
        if not row_numbers:
            return []
        ends = _newlines(self.utf8)
        starts, stops = np.concatenate(([0], ends + 1)), np.append(ends, len(self.utf8))
        if starts[-1] == len(self.utf8):  # the file ends with a newline: no line after it
            starts, stops = starts[:-1], stops[:-1]
        if len(starts) - 1 == self.table.num_rows + len(self.unparseable):
            return [self.utf8[starts[n]:stops[n]].decode("utf-8").rstrip("\r") for n in row_numbers]
        index = {n: i for i, n in enumerate(self.table.column("row_number").to_pylist())}
        rows = self.table.drop_columns(["row_number"]).take([index[n] for n in row_numbers]).to_pylist()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        return [_one_line(writer, out, list(r.values())) for r in rows]


def _newlines(data: bytes, block: int = 1 << 22) -> np.ndarray:
    """Offsets of the newlines, found a few MB at a time: one comparison of a 70 MB file at once
    spent ~0.2 s allocating its 70 MB answer."""
    view = np.frombuffer(data, np.uint8)
    found = [np.flatnonzero(view[at:at + block] == 0x0A) + at for at in range(0, len(view), block)]
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _one_line(writer: object, out: io.StringIO, values: list[object]) -> str:
    out.seek(0)
    out.truncate()
    writer.writerow(values)  # type: ignore[attr-defined]
    return out.getvalue().rstrip("\n")


def read_csv_text(decoded: DecodedText, columns: list[str], name: str, delimiter: str = ",") -> CsvTable:
    """Parse decoded CSV whose header is already known to be ``columns`` (normalised names)."""
    table: pa.Table | None = None
    unparseable: list[tuple[int, str, str]] = []
    if len(decoded.utf8) >= _BLOCKS << 20:  # small files stay on one thread: they are read several at once
        with contextlib.suppress(pa.ArrowInvalid):  # a record that does not parse: read again, numbered
            # Without a quote character no value can hold a newline: pyarrow then splits the file at any
            # newline, not only at those outside quotes (1.0 s of CPU rather than 1.7 s for a million rows).
            table = _parse(decoded.utf8, columns, threads=True, delimiter=delimiter,
                           newlines_in_values=b'"' in decoded.utf8)
    if table is None:
        table, unparseable = _parse_keeping_bad_records(decoded.utf8, columns, name, delimiter)
    table = table.append_column("row_number", pa.array(_valid_row_numbers(table.num_rows, unparseable)))
    return CsvTable(table, unparseable, decoded.utf8, decoded.plain_ascii)


#: A large file is parsed in this many blocks (pyarrow's default, 1 MB, made a million-row file 70 small
#: chunks, which every later step kept and the store had to copy into one: blocks of ~125k rows are as
#: large as DuckDB's row groups, so the store can insert them as they are).
_BLOCKS = 8


def _parse(
    utf8: bytes, columns: list[str], threads: bool, on_bad_record: Callable[[pacsv.InvalidRow], str] | None = None,
    delimiter: str = ",", newlines_in_values: bool = True,
) -> pa.Table:
    return pacsv.read_csv(
        pa.BufferReader(utf8),  # reads the bytes in place; a BytesIO is copied block by block
        read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1, use_threads=threads,
                                       block_size=max(1 << 20, len(utf8) // _BLOCKS)),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines_in_values,
                                           invalid_row_handler=on_bad_record),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string()),
                                             strings_can_be_null=False),
    )


def _parse_keeping_bad_records(
    utf8: bytes, columns: list[str], name: str, delimiter: str = ","
) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """One thread: pyarrow gives a bad record's number only then (and calls back into Python from it)."""
    unparseable: list[tuple[int, str, str]] = []

    def keep_bad_record(row: pacsv.InvalidRow) -> str:
        reason = f"unparseable line: {row.actual_columns} fields where the header has {row.expected_columns}"
        unparseable.append((row.number - 1, row.text, reason))
        return "skip"

    try:
        return _parse(utf8, columns, threads=False, on_bad_record=keep_bad_record, delimiter=delimiter), unparseable
    except pa.ArrowInvalid as exc:
        raise InputFormatError(f"{name}: the file cannot be parsed as CSV ({exc}); is it truncated?") from exc


def _valid_row_numbers(valid: int, unparseable: list[tuple[int, str, str]]) -> np.ndarray:
    all_numbers = np.arange(1, valid + len(unparseable) + 1, dtype=np.int64)
    if not unparseable:
        return all_numbers
    return np.setdiff1d(all_numbers, np.array([u[0] for u in unparseable], dtype=np.int64))
