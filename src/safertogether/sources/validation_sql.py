"""The one query that checks and types a batch of rows of any :class:`~safertogether.sources.spec.SourceSpec`.

The query reads relation ``raw`` (every field as trimmed text, plus ``part``, ``row_number`` and a
``file_<group>`` column per named group of the spec's file-name pattern) and returns the typed rows
with ``reason``: NULL for a row to store, else why it is quarantined. The first problem found is
the reason: unreadable typed values (in field order), then derived fields without a value, then
missing mandatory fields, then the coordinates. Every literal that comes from a spec is quoted
here, so a partner's mapping file cannot inject SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from safertogether.sources.spec import DerivedField, FieldSpec, FieldType, SourceSpec

_DOUBLE: Final = frozenset({"number", "longitude", "latitude"})

#: How a type's unreadable value is described in a quarantine reason.
_UNREADABLE: Final[dict[str, str]] = {
    "month": "unknown month", "date": "unknown date", "timestamp": "unknown date",
    "integer": "not a whole number", "number": "not a number", "boolean": "not true or false",
}


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def typed_sql(kind: FieldType, column: str, formats: list[str] | tuple[str, ...] = (),
              decimal_comma: bool = False) -> str:
    """The value of text ``column`` as ``kind``; NULL where it is empty or cannot be read as one.

    With ``decimal_comma`` a number is written 0,56: a comma is read as the decimal point (a point as well).
    """
    if kind == "month":
        return (f"CASE WHEN regexp_full_match({column}, '\\d{{4}}-\\d{{2}}') "
                f"THEN try_cast({column} || '-01' AS DATE) END")
    if kind in ("date", "timestamp"):
        parsed = f"try_strptime({column}, [{', '.join(literal(f) for f in formats)}])"
        return f"CAST({parsed} AS {'DATE' if kind == 'date' else 'TIMESTAMP'})"
    if kind in _DOUBLE:
        number = f"replace({column}, ',', '.')" if decimal_comma else column
        return f"try_cast(nullif({number}, '') AS DOUBLE)"
    if kind == "integer":
        return f"try_cast(nullif({column}, '') AS BIGINT)"
    if kind == "boolean":
        return f"try_cast(nullif({column}, '') AS BOOLEAN)"
    return column


def validation_sql(spec: SourceSpec, today: dt.date | None = None) -> str:
    """The checking query for ``spec`` (see the module docstring)."""
    next_year = (today or dt.date.today()).year + 1
    typed = ",\n        ".join(f"{_value_sql(f, spec.decimal_comma)} AS t_{f.name}" for f in spec.fields)
    derived = ",\n        ".join(f"{_derived_sql(d, spec)} AS t_{d.name}" for d in spec.derived if not d.function)
    reasons = [r for f in spec.fields for r in _unreadable_reasons(f, next_year)]
    reasons += [f"WHEN t_{d.name} IS NULL THEN {literal(d.missing_reason)}" for d in spec.derived
                if d.missing_reason and not d.function]
    reasons += [f"WHEN {f.name} = '' THEN {literal('missing mandatory field: ' + f.shown_as)}" for f in spec.fields
                if f.required and f.type == "text"]
    reasons += _coordinate_reasons(spec)
    stored = [f"t_{f.name} AS {f.name}" for f in spec.fields] + [
        f"t_{d.name} AS {d.name}" for d in spec.derived if not d.function]
    return f"""
WITH typed AS (
    SELECT *,
        {typed}
    FROM raw),
derived AS (SELECT *{', ' + derived if derived else ''} FROM typed)
SELECT part, row_number, {', '.join(stored)},
    CASE {' '.join(reasons) or 'WHEN false THEN NULL'} END AS reason
FROM derived"""


def _value_sql(field: FieldSpec, decimal_comma: bool = False) -> str:
    if field.type == "text":
        value = field.name if field.keep_empty else f"nullif({field.name}, '')"
        if field.codes is None:
            return value
        cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in field.codes.items())
        return f"CASE {field.name} {cases} END"
    return typed_sql(field.type, field.name, field.formats, decimal_comma)


def _unreadable_reasons(field: FieldSpec, next_year: int) -> list[str]:
    """Reasons for a value that is not of its type (empty counts as unreadable when the field is required)."""
    if field.type in ("longitude", "latitude") or (field.unreadable_as_empty and not field.required):
        return []  # checked as a pair, with the coordinates; or kept as empty
    if field.type == "text":
        if field.codes is None:
            return []
        return [f"WHEN {field.name} <> '' AND t_{field.name} IS NULL "
                f"THEN {_quoting(f'unknown code in {field.shown_as}', field.name)}"]
    unreadable = f"t_{field.name} IS NULL"
    if field.years and field.type in ("date", "month", "timestamp"):
        low, high = field.years
        unreadable += f" OR year(t_{field.name}) NOT BETWEEN {int(low)} AND {int(high) or next_year}"
    what = f"{_UNREADABLE[field.type]} in {field.shown_as}"
    given = "true" if field.required else f"{field.name} <> ''"
    return [f"WHEN {given} AND ({unreadable}) THEN {_quoting(what, field.name)}"]


def _quoting(message: str, column: str) -> str:
    """``message: 'value'`` as SQL, the value being the row's text in ``column``."""
    return f"{literal(message + ': ' + _QUOTE)} || {column} || {literal(_QUOTE)}"


_QUOTE: Final = "'"


def _derived_sql(derived: DerivedField, spec: SourceSpec) -> str:
    candidates = []
    if derived.from_file:
        candidates.append(typed_sql(derived.type, f"file_{derived.from_file}"))
    if derived.month_of:
        candidates.append(f"CAST(date_trunc('month', t_{derived.month_of}) AS DATE)")
    if derived.default is not None:  # read as its type (checked when the spec was loaded)
        default = literal(derived.default)
        candidates.append(f"CAST({default} AS {derived.type.upper()})" if derived.type in ("date", "timestamp")
                          else typed_sql(derived.type, default))
    return f"coalesce({', '.join(candidates)})" if len(candidates) > 1 else candidates[0]


def _coordinate_reasons(spec: SourceSpec) -> list[str]:
    point = spec.coordinates
    if point is None:
        return []
    x, y = point.longitude, point.latitude
    west, south, east, north = (float(v) for v in point.box)
    both = f"'(' || {x} || ', ' || {y} || ')'"
    return [
        f"WHEN ({x} = '') <> ({y} = '') THEN 'bad coordinates: only one of longitude and latitude is given'",
        f"WHEN {x} <> '' AND (t_{x} IS NULL OR t_{y} IS NULL) THEN 'bad coordinates: not numbers ' || {both}",
        f"WHEN t_{x} IS NOT NULL AND NOT (t_{x} BETWEEN {west} AND {east} AND t_{y} BETWEEN {south} AND {north}) "
        f"THEN {literal('bad coordinates: outside ' + point.box_name + ' ')} || {both}",
    ]
