"""police.uk bulk files: street crimes, outcomes and stop-and-search, told apart by their header.

Each row is validated in one vectorised DuckDB query. A row that cannot be used (no month, bad
coordinates, a missing mandatory field) goes to quarantine with its reason; everything else is
kept as published, typed. ``Crime type`` values police.uk does not use are kept and reported by
``safer quality`` rather than dropped.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safertogether.errors import InputFormatError
from safertogether.model.forces import force_id
from safertogether.sources.csv_table import CsvTable, read_csv_text
from safertogether.sources.files import SourceFile, sha256_hex
from safertogether.sources.parsed import QUARANTINE_SCHEMA, ParsedFile
from safertogether.sources.text import decode_csv_bytes, header_fields, normalise_column

Kind = Literal["street", "outcomes", "stop-and-search"]

EXPECTED = "a police.uk street, outcomes or stop-and-search CSV file"


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    columns: tuple[str, ...]
    mandatory: tuple[str, ...]


SPECS: Final[tuple[KindSpec, ...]] = (
    KindSpec(
        "street",
        ("crime_id", "month", "reported_by", "falls_within", "longitude", "latitude", "location",
         "lsoa_code", "lsoa_name", "crime_type", "last_outcome_category", "context"),
        ("month", "reported_by", "crime_type"),
    ),
    KindSpec(
        "outcomes",
        ("crime_id", "month", "reported_by", "falls_within", "longitude", "latitude", "location",
         "lsoa_code", "lsoa_name", "outcome_type"),
        ("crime_id", "month", "reported_by", "outcome_type"),
    ),
    KindSpec(
        "stop-and-search",
        ("type", "date", "part_of_a_policing_operation", "policing_operation", "latitude", "longitude",
         "gender", "age_range", "self_defined_ethnicity", "officer_defined_ethnicity", "legislation",
         "object_of_search", "outcome", "outcome_linked_to_object_of_search",
         "removal_of_more_than_just_outer_clothing"),
        ("type", "date"),
    ),
)

# Optional in real copies: older stop-and-search files lack the policing-operation columns.
_OPTIONAL: Final[frozenset[str]] = frozenset({"context", "policing_operation", "part_of_a_policing_operation"})

# Generous box around the UK, Channel Islands and Northern Ireland: police.uk snap points lie inside it.
UK_BOX: Final = {"lon_min": -8.75, "lon_max": 1.95, "lat_min": 49.1, "lat_max": 60.95}


def detect_kind(columns: list[str], name: str) -> KindSpec:
    """The police.uk file kind whose columns the header carries, or a clear error."""
    present = set(columns)
    for spec in SPECS:
        required = set(spec.columns) - _OPTIONAL
        if required <= present:
            return spec
    best = max(SPECS, key=lambda s: len(set(s.columns) & present))
    missing = sorted(set(best.columns) - _OPTIONAL - present)
    if len(set(best.columns) & present) < 3:
        raise InputFormatError(
            f"{name}: not a police.uk file (header {columns[:6]}...); expected {EXPECTED}"
        )
    raise InputFormatError(
        f"{name}: looks like a police.uk {best.kind} file but lacks columns {missing}; expected {EXPECTED}"
    )


def read_police_uk(source: SourceFile, known: Container[str] = frozenset()) -> ParsedFile:
    """Read one police.uk file (any of the three kinds) into rows to store and rows to quarantine."""
    [outcome] = read_police_uk_files([source], known)
    if isinstance(outcome, InputFormatError):
        raise outcome
    return outcome


def read_police_uk_files(
    sources: Sequence[SourceFile], known: Container[str] = frozenset()
) -> list[ParsedFile | InputFormatError]:
    """Read several police.uk files: each is parsed on its own, then each kind is validated in one query.

    One validation query per file costs ~10 ms of set-up, as much as validating 25,000 rows, so a
    batch is validated together. A file that cannot be read is returned as its error, in its place.
    A file whose SHA-256 is in ``known`` (already loaded) is only identified, not parsed: it has no
    new rows to offer, and skipping it makes re-running an import cheap.
    """
    opened: list[_OpenedFile | InputFormatError] = []
    for source in sources:
        try:
            opened.append(_open(source, known))
        except InputFormatError as exc:
            opened.append(exc)
    checked = _validate_together([o for o in opened if isinstance(o, _OpenedFile) and o.parsed is not None])
    return [o if isinstance(o, InputFormatError) else _parsed_file(o, checked.get(id(o))) for o in opened]


@dataclass
class _OpenedFile:
    source: SourceFile
    sha256: str
    size: int
    encoding: str
    spec: KindSpec
    parsed: CsvTable | None  # None: already loaded, not parsed


def _open(source: SourceFile, known: Container[str]) -> _OpenedFile:
    data = source.read_bytes()
    sha256 = sha256_hex(data)
    decoded = decode_csv_bytes(data, source.name, EXPECTED)
    header = [normalise_column(c) for c in header_fields(decoded.text, source.name, EXPECTED)]
    spec = detect_kind(header, source.name)
    if sha256 in known:
        return _OpenedFile(source, sha256, len(data), decoded.encoding, spec, None)
    parsed = read_csv_text(decoded, header, source.name)
    _refuse_truncated(parsed, data, source.name)
    return _OpenedFile(source, sha256, len(data), decoded.encoding, spec, parsed)


def _parsed_file(opened: _OpenedFile, checked: tuple[pa.Table, pa.Table] | None) -> ParsedFile:
    source = opened.source
    if checked is None:
        empty = pa.table({"row_number": pa.array([], pa.int64())})
        return ParsedFile(source.name, opened.sha256, opened.spec.kind, opened.size, opened.encoding, empty,
                          QUARANTINE_SCHEMA.empty_table())
    rows, quarantine = checked
    notes = [f"decoded as {opened.encoding}"] if opened.encoding != "utf-8" else []
    return ParsedFile(
        name=source.name,
        sha256=opened.sha256,
        kind=opened.spec.kind,
        size=opened.size,
        encoding=opened.encoding,
        rows=rows,
        quarantine=quarantine,
        partitions=_partitions(rows, source),
        notes=notes,
    )


def _refuse_truncated(parsed: CsvTable, data: bytes, name: str) -> None:
    total = parsed.table.num_rows + len(parsed.unparseable)
    last_is_short = bool(parsed.unparseable) and parsed.unparseable[-1][0] == total
    if last_is_short and not data.rstrip(b" \t").endswith(b"\n"):
        raise InputFormatError(
            f"{name}: the file is truncated (its last line stops part-way); download it again"
        )


def _validate_together(files: list[_OpenedFile]) -> dict[int, tuple[pa.Table, pa.Table]]:
    """Rows to store and rows to quarantine of each file (keyed by ``id``), one query per kind."""
    checked: dict[int, tuple[pa.Table, pa.Table]] = {}
    for spec in SPECS:
        of_kind = [f for f in files if f.spec.kind == spec.kind]
        if not of_kind:
            continue
        good, bad = _validate(spec, pa.concat_tables(
            [_with_all_columns(f.parsed.table, spec, part, f.source.police_uk_name)  # type: ignore[union-attr]
             for part, f in enumerate(of_kind)]))
        parts = zip(of_kind, _split(good, len(of_kind)), _split(bad, len(of_kind)), strict=True)
        for f, rows, rejected in parts:
            checked[id(f)] = (rows, _quarantine(f.parsed, rejected))  # type: ignore[arg-type]
    return checked


def _split(table: pa.Table, parts: int) -> list[pa.Table]:
    """The rows of each part, in order, as zero-copy slices (one filter per part cost O(rows x parts))."""
    part = table.column("part").to_numpy()
    if not np.all(part[:-1] <= part[1:]):  # validation keeps the input order; should it ever not
        order = np.argsort(part, kind="stable")
        table, part = table.take(order), part[order]
    bounds = np.searchsorted(part, np.arange(parts + 1))
    rows = table.drop_columns(["part"])
    return [rows.slice(bounds[i], bounds[i + 1] - bounds[i]) for i in range(parts)]


def _validate(spec: KindSpec, raw: pa.Table) -> tuple[pa.Table, pa.Table]:
    db = _engine().cursor()
    db.register("raw", raw)
    sql = _STREET_SQL if spec.kind == "street" else _OUTCOMES_SQL if spec.kind == "outcomes" else _STOPS_SQL
    checked = db.sql(sql.format(**UK_BOX, max_year=dt.date.today().year + 1)).to_arrow_table()
    db.close()
    reasons = checked.column("reason")
    if reasons.null_count == checked.num_rows:  # nothing to quarantine: skip copying every column
        good, bad = checked.drop_columns(["reason"]), checked.slice(0, 0)
    else:
        bad_mask = pc.is_valid(reasons)
        good, bad = checked.filter(pc.invert(bad_mask)).drop_columns(["reason"]), checked.filter(bad_mask)
    good = good if "force_id" in good.column_names else _with_force_ids(good)
    return good, bad.select(["part", "row_number", "reason"])


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


# Kept exactly as published: free text whose spacing is the publisher's.
_UNTRIMMED: Final = frozenset({"location", "context"})


def _with_all_columns(
    table: pa.Table, spec: KindSpec, part: int, named: tuple[str, str, str] | None
) -> pa.Table:
    """The kind's columns, missing optional ones as empty, values trimmed of surrounding whitespace.

    ``part`` tells the file apart within a batch; stop-and-search rows also carry the month and force
    of their file's name, as the rows themselves do not say them.
    """
    columns = {}
    for column in spec.columns:
        if column not in table.column_names:
            columns[column] = pa.array([""] * table.num_rows, pa.string())
        elif column in _UNTRIMMED:
            columns[column] = table.column(column)
        else:
            columns[column] = pc.utf8_trim_whitespace(table.column(column))
    columns["row_number"] = table.column("row_number")
    columns["part"] = pa.repeat(pa.scalar(part, pa.int32()), table.num_rows)
    if spec.kind == "stop-and-search":
        columns["file_month"] = pa.repeat(pa.scalar(named[0] if named else None, pa.string()), table.num_rows)
        columns["file_force"] = pa.repeat(pa.scalar(named[1] if named else None, pa.string()), table.num_rows)
    return pa.table(columns)


@functools.cache
def _engine() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB for validation; each call takes its own cursor, so threads may share it."""
    engine = duckdb.connect()
    # Stop-and-search times carry an offset; parse them in UTC whatever the server's zone.
    engine.execute("SET GLOBAL TimeZone = 'UTC'").fetchall()
    return engine


def _with_force_ids(table: pa.Table) -> pa.Table:
    names = pc.dictionary_encode(table.column("reported_by")).combine_chunks()
    ids = pa.array([force_id(n) for n in names.dictionary.to_pylist()], pa.string())
    return table.append_column("force_id", pc.take(ids, names.indices))


def _partitions(rows: pa.Table, source: SourceFile) -> list[tuple[str, str]]:
    """The (force id, month) pairs this file publishes; a revised file replaces these."""
    distinct = rows.select(["force_id", "month"]).group_by(["force_id", "month"]).aggregate([]).to_pylist()
    pairs = {(p["force_id"], p["month"].strftime("%Y-%m")) for p in distinct}
    named = source.police_uk_name
    if named and not pairs:
        pairs = {(named[1], named[0])}
    return sorted(pairs)


# Each query reads ``typed``: the raw strings plus lon, lat (DOUBLE) and month_date (DATE), parsed once.
_TYPED = """
WITH typed AS (
    SELECT *,
        try_cast(nullif(longitude, '') AS DOUBLE) AS lon,
        try_cast(nullif(latitude, '') AS DOUBLE) AS lat,
        CASE WHEN regexp_full_match(month, '\\d{{4}}-\\d{{2}}')
             THEN try_cast(month || '-01' AS DATE) END AS month_date
    FROM raw)"""

_COORD_REASON = """
        WHEN (longitude = '') <> (latitude = '')
            THEN 'bad coordinates: only one of longitude and latitude is given'
        WHEN longitude <> '' AND (lon IS NULL OR lat IS NULL)
            THEN 'bad coordinates: not numbers (' || longitude || ', ' || latitude || ')'
        WHEN lon IS NOT NULL AND NOT (lon BETWEEN {lon_min} AND {lon_max} AND lat BETWEEN {lat_min} AND {lat_max})
            THEN 'bad coordinates: outside the United Kingdom (' || longitude || ', ' || latitude || ')'"""

_MONTH_REASON = """
        WHEN month_date IS NULL OR year(month_date) NOT BETWEEN 2008 AND {max_year}
            THEN 'unknown month: ''' || month || ''''"""


def _mandatory_reasons(fields: dict[str, str]) -> str:
    return "".join(
        f"\n        WHEN {col} = '' THEN 'missing mandatory field: {label}'" for col, label in fields.items()
    )


_STREET_SQL = _TYPED + f"""
SELECT part, row_number,
    nullif(crime_id, '') AS crime_id, month_date AS month,
    reported_by AS reported_by, falls_within AS falls_within, lon AS longitude, lat AS latitude,
    location, nullif(lsoa_code, '') AS lsoa_code, nullif(lsoa_name, '') AS lsoa_name,
    crime_type AS crime_type, nullif(last_outcome_category, '') AS last_outcome_category,
    nullif(context, '') AS context,
    CASE {_MONTH_REASON}{_mandatory_reasons({"reported_by": "Reported by", "crime_type": "Crime type"})}{_COORD_REASON}
    END AS reason
FROM typed
"""

_OUTCOMES_SQL = _TYPED + f"""
SELECT part, row_number,
    crime_id AS crime_id, month_date AS month,
    reported_by AS reported_by, falls_within AS falls_within, lon AS longitude, lat AS latitude,
    location, nullif(lsoa_code, '') AS lsoa_code, nullif(lsoa_name, '') AS lsoa_name,
    outcome_type AS outcome_type,
    CASE {_MONTH_REASON}{_mandatory_reasons(
        {"crime_id": "Crime ID", "reported_by": "Reported by", "outcome_type": "Outcome type"})}{_COORD_REASON}
    END AS reason
FROM typed
"""

_STOP_TIME = "try_strptime(date, ['%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S'])"

# Stop-and-search files have no Month column; the typed CTE's month_date is unused for them.
_STOPS_SQL = _TYPED.replace("month", "NULL") + f"""
SELECT part, row_number,
    type AS type,
    CAST({_STOP_TIME} AS TIMESTAMP) AS datetime,
    CAST(coalesce(try_strptime(file_month, '%Y-%m'), date_trunc('month', {_STOP_TIME})) AS DATE) AS month,
    coalesce(file_force, 'unknown') AS force_id,
    try_cast(nullif(part_of_a_policing_operation, '') AS BOOLEAN) AS part_of_a_policing_operation,
    nullif(policing_operation, '') AS policing_operation, lon AS longitude, lat AS latitude,
    nullif(gender, '') AS gender, nullif(age_range, '') AS age_range,
    nullif(self_defined_ethnicity, '') AS self_defined_ethnicity,
    nullif(officer_defined_ethnicity, '') AS officer_defined_ethnicity,
    nullif(legislation, '') AS legislation, nullif(object_of_search, '') AS object_of_search,
    nullif(outcome, '') AS outcome,
    try_cast(nullif(outcome_linked_to_object_of_search, '') AS BOOLEAN) AS outcome_linked_to_object_of_search,
    try_cast(nullif(removal_of_more_than_just_outer_clothing, '') AS BOOLEAN)
        AS removal_of_more_than_just_outer_clothing,
    CASE
        WHEN {_STOP_TIME} IS NULL THEN 'unknown date: ''' || date || ''''
        WHEN year({_STOP_TIME}) NOT BETWEEN 2008 AND {{max_year}} THEN 'unknown date: ''' || date || ''''
        WHEN file_force IS NULL THEN 'unknown force: name the file YYYY-MM-<force>-stop-and-search.csv'
        {_mandatory_reasons({"type": "Type"})}{_COORD_REASON}
    END AS reason
FROM typed
"""
