"""Importing what the index reads besides police.uk: surveys, the MPS ward crime files, area populations.

Each is a source spec read by the generic tabular reader and stored by the generic import (provenance,
quarantine, the same bytes twice adding nothing, a republished partition replacing the earlier one):

* ``survey-long``: any survey as a long table (area, period, measure, value, respondents);
  ``survey-mopac-pas``: MOPAC's Public Attitude Survey file exactly as published (';', decimal commas).
* ``mps-ward-crime``: the Metropolitan Police's wide ward files. Two downloads overlap (2023-07 to
  2025-06 and 2024-02 to 2026-01 share 17 months); each month is a partition, so the later file's months
  replace the earlier file's, and no crime is counted twice. Files are stored oldest last month first,
  whatever order they are given in, so the most recent publication of a month wins.
* ``area-population``: residents per area and year (the GLA's borough file).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from safertogether.errors import InputFormatError
from safertogether.sources.files import SourceFile, expand_paths
from safertogether.sources.parsed import ParsedFile
from safertogether.sources.spec import FieldSpec, SourceSpec, load_spec
from safertogether.sources.tabular import read_files
from safertogether.sources.text import decode_csv_bytes, header_fields, normalise_column
from safertogether.store.imports import FileReport, ImportReport, run_import
from safertogether.store.warehouse import Warehouse

SURVEY_EXPECTED: Final = ("a survey CSV: a long table (area, period, measure, value[, respondents]) or the MOPAC "
                          "Public Attitude Survey file (Date;Survey;Borough;Measure;Proportion;MPS)")
WARD_EXPECTED: Final = ("an MPS ward crime CSV (MajorText, MinorText, WardName, WardCode, LookUp_BoroughName, "
                        "then one column per month YYYYMM)")
POPULATION_EXPECTED: Final = "a CSV of residents per area and year (Code, Name, Year, Population)"
_MONTH_COLUMN: Final = re.compile(r"^(\d{4})(\d{2})$")


@functools.cache
def index_spec(name: str) -> SourceSpec:
    """A packaged spec of the index's sources (``sources/specs/NAME.yaml``)."""
    return load_spec(str(importlib.resources.files("safertogether.sources") / "specs" / f"{name}.yaml"))


def _import(warehouse: Warehouse, sources: Sequence[SourceFile], read: Callable[[list[SourceFile]], list],
            label: str, on_file: Callable[[FileReport], None] | None) -> ImportReport:
    return run_import(warehouse, sources, read, label=label + " " + ", ".join(s.name for s in sources)[:400],
                      on_file=on_file)


def import_survey(warehouse: Warehouse, paths: Sequence[str | Path],
                  on_file: Callable[[FileReport], None] | None = None) -> ImportReport:
    """Import survey files (long tables or the MOPAC PAS file), told apart by their header."""
    specs = [index_spec("survey-mopac-pas"), index_spec("survey-long")]
    return _import(warehouse, expand_paths(paths),
                   lambda batch: read_files(batch, specs, "survey", SURVEY_EXPECTED), "survey", on_file)


def import_area_population(warehouse: Warehouse, paths: Sequence[str | Path],
                           on_file: Callable[[FileReport], None] | None = None) -> ImportReport:
    """Import residents per area and year (replacing an area's years when its file is republished)."""
    spec = [index_spec("borough-population")]
    return _import(warehouse, expand_paths(paths),
                   lambda batch: read_files(batch, spec, "population", POPULATION_EXPECTED), "population", on_file)


def import_ward_crime(warehouse: Warehouse, paths: Sequence[str | Path],
                      on_file: Callable[[FileReport], None] | None = None) -> ImportReport:
    """Import MPS ward crime files; overlapping months are taken from the file published last."""
    sources = expand_paths(paths)
    outcomes = [_read_ward_file(s) for s in sources]
    problems = [o for o in outcomes if isinstance(o, InputFormatError)]
    ordered = sorted((o for o in outcomes if isinstance(o, ParsedFile)), key=lambda p: max(p.partitions or [("",)]))
    items: list[ParsedFile | InputFormatError] = [*problems, *ordered]
    return run_import(warehouse, items, lambda batch: batch, label="mps-ward-crime", on_file=on_file, batch_files=1)


def _read_ward_file(source: SourceFile) -> ParsedFile | InputFormatError:
    """One wide file: a spec with a field per month column, read as any other, then unpivoted to months."""
    try:
        months = _month_columns(source)
        base = index_spec("mps-ward-crime")
        spec = base.model_copy(update={"fields": [*base.fields, *(
            FieldSpec(name=f"m{column}", header=[column], type="integer", required=True) for column in months)]})
        [parsed] = read_files([source], [spec], "MPS ward crime", WARD_EXPECTED)
    except InputFormatError as exc:
        return exc
    if isinstance(parsed, InputFormatError):
        return parsed
    return _unpivoted(parsed, months)


def _month_columns(source: SourceFile) -> list[str]:
    decoded = decode_csv_bytes(source.read_bytes()[:65536], source.name, WARD_EXPECTED)
    header = [normalise_column(c) for c in header_fields(decoded.first_line, source.name, WARD_EXPECTED)]
    months = [c for c in header if _MONTH_COLUMN.match(c) and 1 <= int(c[4:]) <= 12]
    if not months:
        raise InputFormatError(f"{source.name}: no month columns (YYYYMM) in the header; expected {WARD_EXPECTED}")
    return months


def _unpivoted(parsed: ParsedFile, months: list[str]) -> ParsedFile:
    """One row per ward, category and month; each month a partition of its own."""
    rows = parsed.rows
    fixed = rows.select(["row_number", "ward_code", "ward_name", "borough", "major", "minor", "category", "offence"])
    parts = []
    for column in months:
        month = pa.scalar(f"{column[:4]}-{column[4:]}-01").cast(pa.date32())
        parts.append(fixed.append_column("month", pa.repeat(month, rows.num_rows))
                     .append_column("crimes", rows.column(f"m{column}")))
    long = pa.concat_tables(parts) if parts else fixed
    offence = pc.if_else(pc.equal(long.column("offence"), ""), None, long.column("offence"))
    long = long.set_column(long.schema.get_field_index("offence"), "offence", offence)
    published = sorted({(f"{c[:4]}-{c[4:]}",) for c in months}) if rows.num_rows else []
    notes = [*parsed.notes, f"{rows.num_rows} records x {len(months)} months stored as {long.num_rows} ward-month rows"]
    return _WideFile(**{**vars(parsed), "rows": long, "partitions": published, "partition_fields": ("month",),
                        "partition_months": frozenset({"month"}), "notes": notes, "records": rows.num_rows})


@dataclass
class _WideFile(ParsedFile):
    """A wide file: each record read holds several months, stored as a row each."""

    records: int = 0

    @property
    def rows_read(self) -> int:
        return self.records + self.quarantine.num_rows
