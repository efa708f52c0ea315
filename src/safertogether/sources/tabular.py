"""The one reader of tabular sources: any file a :class:`~safertogether.sources.spec.SourceSpec` describes.

A batch of files is read in two steps. Each file is decoded, its header matched to a spec (or the
one spec given) and parsed on its own; then the files of each spec are checked together in one
DuckDB query (one query per file cost ~10 ms of set-up, as much as checking 25,000 rows). A row that
cannot be used goes to quarantine with its reason; every other row is kept, typed. A file that
cannot be read at all is returned as its error, in its place.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safertogether.errors import InputFormatError
from safertogether.model.forces import force_id
from safertogether.sources.csv_table import CsvTable, read_csv_text
from safertogether.sources.files import SourceFile, sha256_hex
from safertogether.sources.parsed import QUARANTINE_SCHEMA, QUARANTINED, ParsedFile
from safertogether.sources.spec import SourceSpec
from safertogether.sources.text import decode_csv_bytes, header_fields, normalise_column
from safertogether.sources.validation_sql import validation_sql

#: The library functions a spec's derived field may name, each mapping one text value to another.
FUNCTIONS: dict[str, Callable[[str], str | None]] = {"police_force_id": force_id}


def read_files(
    sources: Sequence[SourceFile], specs: Sequence[SourceSpec], family: str, expected: str,
    known: Container[str] = frozenset(), mark_rejected: bool = False,
) -> list[ParsedFile | InputFormatError]:
    """Read files, each of the spec its header matches.

    ``family`` names the specs' kind of file in errors ("police.uk"), ``expected`` what a file should be.
    With ``mark_rejected`` (for the store only) the rows to quarantine stay in ``rows``, marked: see
    :class:`~safertogether.sources.parsed.ParsedFile`.

    A file whose SHA-256 is in ``known`` (already loaded) is only identified, not parsed: it has no
    new rows to offer, and skipping it makes re-running an import cheap.
    """
    opened: list[_OpenedFile | InputFormatError] = []
    for source in sources:
        try:
            opened.append(_open(source, specs, family, expected, known))
        except InputFormatError as exc:
            opened.append(exc)
    checked = _validate_together([o for o in opened if isinstance(o, _OpenedFile) and o.parsed is not None], specs,
                                 mark_rejected)
    return [o if isinstance(o, InputFormatError) else _parsed_file(o, checked.get(id(o))) for o in opened]


def spec_of_header(
    header: list[str], specs: Sequence[SourceSpec], name: str, family: str, expected: str
) -> SourceSpec:
    """The spec whose columns the (normalised) header carries, or an error saying what is missing."""
    for spec in specs:
        if spec.matches_header(header):
            return spec
    best = max(specs, key=lambda s: len(s.required_headers) - len(s.missing_headers(header)))
    if len(best.required_headers) - len(best.missing_headers(header)) < 3:
        raise InputFormatError(f"{name}: not a {family} file (header {header[:6]}...); expected {expected}")
    raise InputFormatError(f"{name}: looks like a {family} {best.name} file but lacks columns "
                           f"{best.missing_headers(header)}; expected {expected}")


@dataclass
class _OpenedFile:
    source: SourceFile
    sha256: str
    size: int
    encoding: str
    spec: SourceSpec
    parsed: CsvTable | None  # None: already loaded, not parsed

    @property
    def file_values(self) -> dict[str, str]:
        return self.spec.file_values(self.source.name.rsplit("/", 1)[-1])


def _open(
    source: SourceFile, specs: Sequence[SourceSpec], family: str, expected: str, known: Container[str]
) -> _OpenedFile:
    data = source.read_bytes()
    sha256 = sha256_hex(data)
    decoded = decode_csv_bytes(data, source.name, expected)
    spec, header = _spec_and_header(decoded.first_line, specs, source.name, family, expected)
    if sha256 in known:
        return _OpenedFile(source, sha256, len(data), decoded.encoding, spec, None)
    parsed = read_csv_text(decoded, header, source.name, spec.delimiter)
    _refuse_truncated(parsed, data, source.name)
    return _OpenedFile(source, sha256, len(data), decoded.encoding, spec, parsed)


def _spec_and_header(
    first_line: str, specs: Sequence[SourceSpec], name: str, family: str, expected: str
) -> tuple[SourceSpec, list[str]]:
    """The spec a file's header matches, and the header, split by each delimiter the specs use (commas first)."""
    delimiters = sorted({s.delimiter for s in specs}, key=lambda d: d != ",")
    failure: InputFormatError | None = None
    for delimiter in delimiters:
        header = [normalise_column(c) for c in header_fields(first_line, name, expected, delimiter)]
        of_delimiter = [s for s in specs if s.delimiter == delimiter]
        try:
            return spec_of_header(header, of_delimiter, name, family, expected), header
        except InputFormatError as exc:
            failure = failure or exc
    raise failure  # type: ignore[misc]


def _refuse_truncated(parsed: CsvTable, data: bytes, name: str) -> None:
    total = parsed.table.num_rows + len(parsed.unparseable)
    last_is_short = bool(parsed.unparseable) and parsed.unparseable[-1][0] == total
    if last_is_short and not data.rstrip(b" \t").endswith(b"\n"):
        raise InputFormatError(f"{name}: the file is truncated (its last line stops part-way); download it again")


def _parsed_file(opened: _OpenedFile, checked: tuple[pa.Table, pa.Table] | None) -> ParsedFile:
    spec, source = opened.spec, opened.source
    common = {"name": source.name, "sha256": opened.sha256, "kind": spec.name, "size": opened.size,
              "encoding": opened.encoding, "table": spec.target, "partition_fields": tuple(spec.partition),
              "partition_months": frozenset(spec.partition) & spec.month_fields}
    if checked is None:
        empty = pa.table({"row_number": pa.array([], pa.int64())})
        return ParsedFile(**common, rows=empty, quarantine=QUARANTINE_SCHEMA.empty_table())
    rows, quarantine = checked
    notes = [f"decoded as {opened.encoding}"] if opened.encoding != "utf-8" else []
    marked = (pc.sum(rows.column(QUARANTINED)).as_py() or 0) if QUARANTINED in rows.column_names else 0
    return ParsedFile(**common, rows=rows, quarantine=quarantine, partitions=_partitions(rows, opened),
                      notes=notes, marked=marked)


def _validate_together(
    files: list[_OpenedFile], specs: Sequence[SourceSpec], mark_rejected: bool = False
) -> dict[int, tuple[pa.Table, pa.Table]]:
    """Rows to store and rows to quarantine of each file (keyed by ``id``), one query per spec."""
    checked: dict[int, tuple[pa.Table, pa.Table]] = {}
    for spec in specs:
        of_spec = [f for f in files if f.spec is spec]
        if not of_spec:
            continue
        raw = pa.concat_tables([_with_all_columns(f, part) for part, f in enumerate(of_spec)])
        good, bad = _validate(spec, raw, mark_rejected)
        for f, rows, rejected in zip(of_spec, _split(good, len(of_spec)), _split(bad, len(of_spec)), strict=True):
            checked[id(f)] = (rows, _quarantine(f.parsed, rejected))  # type: ignore[arg-type]
    return checked


def _with_all_columns(opened: _OpenedFile, part: int) -> pa.Table:
    """The spec's fields by name from the file's columns (absent optional ones empty), trimmed where the
    spec says, with ``part`` (which file of the batch) and a ``file_<group>`` column per file-name value."""
    table, spec, parsed = opened.parsed.table, opened.spec, opened.parsed  # type: ignore[union-attr]
    present = {f.name: next((h for h in f.headers if h in table.column_names), None) for f in spec.fields}
    to_trim = [present[f.name] for f in spec.fields if f.trim and present[f.name] is not None]
    # Trimming releases the GIL: a large file's columns are trimmed on every core (0.2 s of 1M rows on one).
    trim = _threads().map if table.num_rows >= _TRIM_IN_THREADS else map
    trimmed = dict(zip(to_trim, trim(parsed.trimmed, to_trim), strict=True))
    columns = {f.name: (pa.repeat(pa.scalar("", pa.string()), table.num_rows) if present[f.name] is None
                        else trimmed[present[f.name]] if f.trim else table.column(present[f.name]))
               for f in spec.fields}
    columns["row_number"] = table.column("row_number")
    columns["part"] = pa.repeat(pa.scalar(part, pa.int32()), table.num_rows)
    values = opened.file_values
    for group in _file_groups(spec):
        columns[f"file_{group}"] = pa.repeat(pa.scalar(values.get(group), pa.string()), table.num_rows)
    return pa.table(columns)


def _file_groups(spec: SourceSpec) -> list[str]:
    return sorted({d.from_file for d in spec.derived if d.from_file})


def _validate(spec: SourceSpec, raw: pa.Table, mark_rejected: bool = False) -> tuple[pa.Table, pa.Table]:
    """The rows to store, typed, and the (part, row_number, reason) of those to quarantine.

    With ``mark_rejected`` one query checks every row, and the rows to quarantine stay in the rows,
    marked (the store skips them). Otherwise many rows take two queries, the rows to quarantine first:
    filtering a million checked rows in Arrow copied every value again (~0.4 s), which costs more than
    checking the rows to store twice. Fewer take one (each query costs ~10 ms to set up, and most
    batches have no row to quarantine).
    """
    db = _engine().cursor()
    db.register("raw", raw)
    checking = validation_sql(spec, dt.date.today())
    if mark_rejected:
        good, bad = _split_checked(db.sql(checking).to_arrow_table(), mark=True)
    elif raw.num_rows >= _TWO_QUERIES:
        bad = db.sql(f"SELECT part, row_number, reason FROM ({checking}) WHERE reason IS NOT NULL").to_arrow_table()
        only_good = " WHERE reason IS NULL" if bad.num_rows else ""
        good = db.sql(f"SELECT * EXCLUDE (reason) FROM ({checking}){only_good}").to_arrow_table()
    else:
        good, bad = _split_checked(db.sql(checking).to_arrow_table())
    db.close()
    for derived in spec.derived:
        if derived.function:
            good = good.append_column(derived.name, _apply(FUNCTIONS[derived.function],
                                                           good.column(derived.argument)))  # type: ignore[arg-type]
    return good, bad


#: From how many rows :func:`_validate` checks in two queries.
_TWO_QUERIES = 500_000


def _split_checked(checked: pa.Table, mark: bool = False) -> tuple[pa.Table, pa.Table]:
    """The checked rows to store and the (part, row_number, reason) of those to quarantine; with ``mark``,
    the rows to quarantine stay among the first, marked :data:`QUARANTINED`."""
    reasons = checked.column("reason")
    reasons_of = checked.select(["part", "row_number", "reason"])
    if reasons.null_count == checked.num_rows:  # nothing to quarantine: skip copying every column
        return checked.drop_columns(["reason"]), reasons_of.slice(0, 0)
    bad_mask = pc.is_valid(reasons)  # copy only the columns each side needs
    rows = checked.drop_columns(["reason"])
    rows = rows.append_column(QUARANTINED, bad_mask) if mark else rows.filter(pc.invert(bad_mask))
    return rows, reasons_of.filter(bad_mask)


def _apply(function: Callable[[str], str | None], column: pa.ChunkedArray) -> pa.Array:
    """``function`` of each value, called once per distinct value."""
    names = pc.dictionary_encode(column).combine_chunks()
    results = pa.array([function(n) for n in names.dictionary.to_pylist()], pa.string())
    return pc.take(results, names.indices)


#: From how many rows a file's columns are trimmed in threads.
_TRIM_IN_THREADS = 100_000


@functools.cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="safer-trim")


@functools.cache
def _engine() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB for validation; each call takes its own cursor, so threads may share it."""
    engine = duckdb.connect()
    # Times may carry an offset; parse them in UTC whatever the server's zone.
    engine.execute("SET GLOBAL TimeZone = 'UTC'").fetchall()
    return engine


def _split(table: pa.Table, parts: int) -> list[pa.Table]:
    """The rows of each part, in order, as zero-copy slices (one filter per part cost O(rows x parts))."""
    part = table.column("part").to_numpy()
    if not np.all(part[:-1] <= part[1:]):  # validation keeps the input order; should it ever not
        order = np.argsort(part, kind="stable")
        table, part = table.take(order), part[order]
    bounds = np.searchsorted(part, np.arange(parts + 1))
    rows = table.drop_columns(["part"])
    return [rows.slice(bounds[i], bounds[i + 1] - bounds[i]) for i in range(parts)]


def _quarantine(parsed: CsvTable, bad: pa.Table) -> pa.Table:
    numbers = bad.column("row_number").to_pylist()
    return pa.table(
        {
            "row_number": [n for n, _t, _r in parsed.unparseable] + numbers,
            "raw_text": [t for _n, t, _r in parsed.unparseable] + parsed.record_text(numbers),
            "reason": [r for _n, _t, r in parsed.unparseable] + bad.column("reason").to_pylist(),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _partitions(rows: pa.Table, opened: _OpenedFile) -> list[tuple[str, ...]]:
    """The partitions (values of the spec's partition fields) this file publishes; a revised file replaces
    these. A file without rows publishes the partition its name and the spec fix for every row, where
    they fix all of it (an empty snapshot of everything an agency holds replaces the previous one)."""
    fields = opened.spec.partition
    if not fields:
        return []
    if QUARANTINED in rows.column_names:
        rows = rows.select([*fields, QUARANTINED]).filter(pc.invert(rows.column(QUARANTINED)))
    distinct = rows.select(fields).group_by(fields).aggregate([]).to_pylist()
    months = opened.spec.month_fields
    found = {tuple(_partition_text(row[f], f in months) for f in fields) for row in distinct}
    fixed = _fixed_values(opened)
    if not found and all(f in fixed for f in fields):
        found = {tuple(fixed[f] for f in fields)}
    return sorted(found)


def _fixed_values(opened: _OpenedFile) -> dict[str, str]:
    """Values every row of the file has whatever its rows hold, as partition text: the groups of the file's
    name, and derived fields from the file's name or a default (not from another field or a function)."""
    named = opened.file_values
    fixed = dict(named)
    for derived in opened.spec.derived:
        if derived.function or derived.month_of:
            continue
        value = named.get(derived.from_file) if derived.from_file else None
        text = _fixed_text(value if value is not None else derived.default, derived.type)
        if text is not None:
            fixed.setdefault(derived.name, text)
    return fixed


def _fixed_text(value: str | None, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "integer":
        return str(int(value)) if value.strip().lstrip("+-").isdigit() else None
    if kind == "month":
        return value[:7]
    return value if kind in ("text", "date") else None


def _partition_text(value: object, month: bool) -> str:
    """A partition value as text, as the store compares it: months as YYYY-MM (as file names give them),
    dates as YYYY-MM-DD, no value as ''."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m") if month else value.isoformat()
    return str(value)
