"""A partner's extract (CSV or Excel) and the mapping file that says what its columns mean.

A mapping is a source spec (:mod:`safertogether.sources.spec`) plus where the file is and whose it
is. Its target must be one of the common record tables and every field one of that record's
columns; the file must carry every column the mapping names; and a date format must fit the dates
the file holds. Each of those is checked, and every problem reported, before anything is stored::

    name: ambulance-calls            # with the target, this kind of extract: a newer one replaces the older
    file: calls-2023.xlsx            # relative to the mapping file
    sheet: Calls                     # Excel only (default: the first sheet)
    agency: east-midlands-ambulance
    agency_name: East Midlands Ambulance Service
    agency_kind: ambulance
    target: incident_records
    fields:
      - {name: incident_ref, header: [CAD Number], required: true}
      - {name: started_at, header: [Call Time], type: timestamp, formats: ['%d/%m/%Y %H:%M']}
      - {name: priority, header: [Cat], codes: {'1': C1, '2': C2, '3': C3, '4': C4}}
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from safertogether.errors import InputFormatError
from safertogether.model.records import RECORD_TABLES, AgencyKind, columns
from safertogether.sources.files import SourceFile, sha256_hex
from safertogether.sources.parsed import ParsedFile
from safertogether.sources.spec import DerivedField, FieldSpec, Identifier, SourceSpec, spec_problems
from safertogether.sources.tabular import read_files

#: A date field whose values mostly do not parse has the wrong format, not bad rows.
_WRONG_FORMAT_SHARE = 0.5


class PartnerMapping(SourceSpec):
    """A source spec for one partner extract."""

    file: str = Field(description="The extract, relative to the mapping file")
    format: Literal["csv", "excel"] | None = Field(None, description="Default: from the file's extension")
    sheet: str | None = Field(None, description="Excel: the sheet (default: the first)")
    agency: Identifier | str = Field(description="Whose records these are")
    agency_name: str | None = None
    agency_kind: AgencyKind = "other"
    partition: list[Identifier] = Field(default_factory=lambda: ["agency"])

    @model_validator(mode="before")
    @classmethod
    def _agency_is_a_field(cls, data: Any) -> Any:
        """Every row is the agency's: a derived field with the agency as its value."""
        if isinstance(data, dict) and isinstance(data.get("agency"), str):
            derived = list(data.get("derived") or [])
            if not any(isinstance(d, dict) and d.get("name") == "agency" for d in derived):
                derived.append({"name": "agency", "default": data["agency"]})
            data = {**data, "derived": derived}
        return data

    @model_validator(mode="after")
    def _fields_are_columns_of_the_target(self) -> PartnerMapping:
        record = RECORD_TABLES.get(self.target)
        if record is None:
            raise ValueError(f"target '{self.target}' is not a record table; use one of {sorted(RECORD_TABLES)}")
        known = columns(record)
        unknown = [f.name for f in [*self.fields, *self.derived] if f.name not in known]
        if unknown:
            raise ValueError(f"fields {unknown} are not columns of {self.target} (its columns: {', '.join(known)})")
        required = [name for name, info in record.model_fields.items() if info.is_required() and name != "agency"]
        missing = [name for name in required if name not in {f.name for f in self.fields}]
        if missing:
            raise ValueError(f"{self.target} needs fields {missing}")
        # Else the insert fails on the first empty or unconvertible value, after every row was checked.
        problems = [f"field '{f.name}' must be required: true, as {self.target}.{f.name} cannot be empty"
                    for f in self.fields if f.name in required and not f.required]
        problems += [f"field '{f.name}' is {f.type} but {self.target}.{f.name} is {known[f.name]}: give it type "
                     f"{' or '.join(t for t, sql in _FITS.items() if sql == known[f.name])}"
                     for f in [*self.fields, *self.derived] if _stored_type(f) != known[f.name]]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def as_spec(self) -> SourceSpec:
        """The spec the reader applies (the mapping without where the file is and whose it is)."""
        return SourceSpec.model_validate(self.model_dump(include=set(SourceSpec.model_fields)))


#: The column type each field type is stored as.
_FITS: dict[str, str] = {"text": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "longitude": "DOUBLE",
                         "latitude": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "month": "DATE",
                         "timestamp": "TIMESTAMP"}


def _stored_type(field: FieldSpec | DerivedField) -> str:
    if isinstance(field, DerivedField) and field.function:
        return "VARCHAR"  # the library's functions map text to text
    return _FITS[field.type]


def load_mapping(path: str | Path) -> tuple[PartnerMapping, Path]:
    """A mapping file and the extract it describes; every problem in it reported at once."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        mapping = PartnerMapping.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputFormatError(f"{path}: cannot be read as a YAML mapping file ({exc})") from exc
    except ValidationError as exc:
        raise InputFormatError(f"{path}: not a valid mapping: {'; '.join(spec_problems(exc))}") from exc
    extract = (path.parent / mapping.file).resolve()
    if not extract.is_file():
        raise InputFormatError(f"{path}: the extract it names, {extract}, does not exist")
    return mapping, extract


def read_partner_extract(mapping: PartnerMapping, extract: Path) -> ParsedFile:
    """The extract's rows, checked against the mapping; a wrong date format fails the whole file.

    For the store: the rows to quarantine stay in ``rows``, marked (see :class:`ParsedFile`).
    """
    source = _as_csv_source(mapping, extract)
    [outcome] = read_files([source], [mapping.as_spec()], f"{mapping.agency} {mapping.name}",
                           f"the extract described by the mapping '{mapping.name}'", mark_rejected=True)
    if isinstance(outcome, InputFormatError):
        raise outcome
    _refuse_wrong_date_formats(mapping, outcome)
    # What was stored depends on the mapping as much as on the extract: one extract mapped to people and
    # to incidents, or re-read with a corrected mapping, is not "identical" to what is already loaded.
    outcome.sha256 = sha256_hex((outcome.sha256 + mapping.model_dump_json(exclude={"file", "description"})).encode())
    outcome.kind = partner_kind(mapping)
    if outcome.rows_read == 0:
        outcome.notes.append(_empty_extract_note(outcome))
    return outcome


def partner_kind(mapping: PartnerMapping) -> str:
    """What a later extract of the same kind supersedes: the mapping's name for its target table (two
    mappings of one name filling different tables are two kinds)."""
    return f"{mapping.name} -> {mapping.target}"


def _empty_extract_note(parsed: ParsedFile) -> str:
    """An empty extract is recorded; what it replaces is worth saying, as it may be a failed export."""
    if parsed.partitions:
        shown = ", ".join(":".join(p) for p in parsed.partitions)
        return f"no rows: as a full extract of {shown} it empties what earlier extracts of it stored"
    return "no rows: it replaces nothing (its partitions come from its rows)"


def _as_csv_source(mapping: PartnerMapping, extract: Path) -> SourceFile:
    kind = mapping.format or ("excel" if extract.suffix.lower() in (".xlsx", ".xlsm") else "csv")
    if kind == "csv":
        return SourceFile(str(extract), extract.stat().st_size, extract.read_bytes)
    data = _excel_as_csv(extract, mapping.sheet)
    return SourceFile(str(extract), len(data), lambda: data)


def _excel_as_csv(path: Path, sheet: str | None) -> bytes:
    """An Excel sheet as CSV text, cells as Excel shows them (dates ISO): the CSV path does the rest."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or non-Excel file
        raise InputFormatError(f"{path}: cannot be read as an Excel workbook ({exc})") from exc
    if sheet is not None and sheet not in book.sheetnames:
        raise InputFormatError(f"{path}: no sheet '{sheet}' (its sheets: {', '.join(book.sheetnames)})")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in book[sheet or book.sheetnames[0]].iter_rows(values_only=True):
        writer.writerow(["" if v is None else _cell_text(v) for v in row])
    book.close()
    return out.getvalue().encode("utf-8")


def _cell_text(value: Any) -> str:
    if hasattr(value, "isoformat"):
        text = value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
        return text.removesuffix(" 00:00:00")
    return str(value)


def _refuse_wrong_date_formats(mapping: PartnerMapping, parsed: ParsedFile) -> None:
    reasons = parsed.quarantine.column("reason").to_pylist()
    problems = []
    for field in mapping.fields:
        if field.type not in ("date", "timestamp"):
            continue
        failed = [r for r in reasons if r.startswith(f"unknown date in {field.shown_as}: ")]
        if failed and len(failed) > _WRONG_FORMAT_SHARE * parsed.rows_read:
            problems.append(f"{len(failed):,} of {parsed.rows_read:,} values of {field.shown_as} do not fit "
                            f"the formats {field.formats} (e.g. {failed[0].split(': ', 1)[1]})")
    if problems:
        raise InputFormatError(f"{parsed.name}: " + "; ".join(problems) + "; fix the mapping's formats")
