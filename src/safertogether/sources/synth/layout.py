"""An agency's extract as data: its columns, formats and codes, from which both the file and its mapping follow.

One definition per extract keeps the file and the mapping file in step: the writer renders the
generated values through each :class:`Column` (code list, date format, capitals) and
:meth:`Extract.mapping` writes the :class:`~safertogether.sources.partner.PartnerMapping` that reads
them back. A column with no ``field`` is exported, as real systems export columns nobody asked for,
but not mapped.

Date formats are ``strftime`` formats; ``%-d`` is a day without its leading zero ("3 Feb 1985",
read back with ``%d``); ``excel`` writes native Excel dates, which the importer reads as ISO text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safertogether.model.records import AgencyKind
from safertogether.sources.spec import FieldType

#: What an unreadable date of birth looks like in every format (a legacy system's "no date" placeholder).
UNREADABLE_DATE: Final = "00/00/0000"
EXCEL: Final = "excel"
_EXCEL_FORMATS: Final = {"date": ["%Y-%m-%d"], "timestamp": ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]}


@dataclass(frozen=True)
class Column:
    """One column of an extract: its header, the generated value it shows, and how."""

    header: str
    source: str  # key of the generated values (see records.py); usually the field's name
    field: str | None = None  # the common record's field it maps to (None: exported, not mapped)
    type: FieldType = "text"
    format: str | None = None  # date/timestamp: strftime format, or "excel"
    codes: dict[str, str] | None = None  # published code -> ours (the mapping's code list)
    render: dict[str, str] | None = None  # generated value -> published (default: codes reversed)
    upper: bool = False
    required: bool = False

    def published(self) -> dict[str, str] | None:
        if self.render is not None:
            return self.render
        return {ours: theirs for theirs, ours in self.codes.items()} if self.codes else None

    def mapping_field(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.field, "header": [self.header]}
        if self.type != "text":
            spec["type"] = self.type
        if self.format:
            spec["formats"] = (_EXCEL_FORMATS[self.type] if self.format == EXCEL
                               else [self.format.replace("%-d", "%d")])
        if self.codes:
            spec["codes"] = dict(self.codes)
        if self.required:
            spec["required"] = True
        return spec


@dataclass(frozen=True)
class Agency:
    agency: str
    name: str
    kind: AgencyKind


@dataclass(frozen=True)
class Extract:
    """One file (or one sheet of a workbook) an agency exports."""

    name: str
    agency: Agency
    file: str  # relative to the output folder
    target: Literal["person_records", "incident_records"]
    columns: tuple[Column, ...]
    sheet: str | None = None
    defaults: dict[str, str] = field(default_factory=dict)  # fields every row has (a derived field)
    description: str = ""

    def column(self, source: str) -> Column:
        return next(c for c in self.columns if c.source == source)

    def mapping(self, relative_file: str) -> dict[str, Any]:
        """The mapping file's content (a PartnerMapping), the extract at ``relative_file``."""
        mapping: dict[str, Any] = {"name": self.name, "description": self.description, "file": relative_file}
        if self.sheet:
            mapping["sheet"] = self.sheet
        mapping |= {"agency": self.agency.agency, "agency_name": self.agency.name,
                    "agency_kind": self.agency.kind, "target": self.target,
                    "fields": [c.mapping_field() for c in self.columns if c.field]}
        if self.defaults:
            mapping["derived"] = [{"name": k, "default": v} for k, v in self.defaults.items()]
        return mapping


def render_column(column: Column, values: np.ndarray, unreadable: np.ndarray | None = None) -> list[Any]:
    """A column's cells: text for CSV (and Excel text), dates as ``datetime`` for Excel date columns."""
    if column.type in ("date", "timestamp"):
        return _render_dates(column, values, unreadable)
    if column.type in ("number", "longitude", "latitude"):
        return [None if v != v else round(float(v), 6) for v in values]
    published = column.published()
    texts = [("" if v is None else str(v)) for v in values]
    if published:
        texts = [published.get(t, t) if t else "" for t in texts]
    return [t.upper() for t in texts] if column.upper else texts


def _render_dates(column: Column, values: np.ndarray, unreadable: np.ndarray | None) -> list[Any]:
    unit = "D" if column.type == "date" else "s"
    stamps = values.astype(f"datetime64[{unit}]")
    if column.format == EXCEL:
        cells: list[Any] = [None if np.isnat(v) else v.item() for v in stamps]
    else:
        fmt = column.format or "%Y-%m-%d"
        array = pa.array(stamps.astype("datetime64[s]"), pa.timestamp("s"))
        texts = pc.strftime(array, format=fmt.replace("%-d", "%d"), locale="C").to_pylist()
        if "%-d" in fmt:
            texts = [t[1:] if t and t.startswith("0") and fmt.startswith("%-d") else t for t in texts]
        cells = ["" if t is None else (t.upper() if column.upper else t) for t in texts]
    if unreadable is not None:
        cells = [UNREADABLE_DATE if bad else c for c, bad in zip(cells, unreadable, strict=True)]
    return cells
