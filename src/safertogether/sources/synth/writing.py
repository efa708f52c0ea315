"""Writing the extracts (CSV and Excel), their mapping files and the truth, byte for byte the same for a seed.

CSV goes through Arrow's writer (quoting only where needed). Excel workbooks are written by
openpyxl in write-only mode, one sheet per extract, then re-zipped with fixed timestamps: openpyxl
stamps the workbook's properties and each zip entry with the time of writing, and the same seed must
give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from safertogether.sources.synth.layout import Extract, render_column
from safertogether.sources.synth.records import Values

_FIXED_TIME: Final = dt.datetime(2000, 1, 1)


def extract_columns(extract: Extract, values: Values) -> dict[str, list[Any]]:
    """Header -> the column's cells, in the extract's column order."""
    unreadable = values.get("date_of_birth_unreadable")
    return {c.header: render_column(c, values[c.source], unreadable if c.source == "date_of_birth" else None)
            for c in extract.columns}


def write_csv(path: Path, columns: dict[str, list[Any]]) -> None:
    table = pa.table({h: pa.array(cells, pa.float64() if _numeric(cells) else pa.string())
                      for h, cells in columns.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def _numeric(cells: list[Any]) -> bool:
    return bool(cells) and all(c is None or isinstance(c, float) for c in cells)


def write_workbook(path: Path, sheets: Sequence[tuple[str, dict[str, list[Any]]]]) -> None:
    """An .xlsx with one sheet per (name, columns), dates as Excel dates."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    book.properties.created = book.properties.modified = _FIXED_TIME
    for name, columns in sheets:
        sheet = book.create_sheet(name)
        sheet.append(list(columns))
        for row in zip(*columns.values(), strict=True):
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fixed_zip_times(buffer.getvalue()))


def _fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every entry dated 1980-01-01 and the document's modified time fixed."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _fixed_core_times(content)
            target.writestr(zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0)), content,
                            compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _fixed_core_times(content: bytes) -> bytes:
    import re

    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)


def write_mapping(out: Path, extract: Extract) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{extract.name}.yaml"
    text = yaml.safe_dump(extract.mapping(extract.file), sort_keys=False, allow_unicode=True, width=120)
    path.write_text(f"# Mapping of a synthetic extract written by `safer synth partners`.\n{text}", encoding="utf-8")
    return path


def write_table(path: Path, columns: dict[str, np.ndarray]) -> None:
    """A truth table as Parquet (strings, integers, dates and floats as Arrow infers them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow_table(columns), path, compression="zstd")


def arrow_table(columns: dict[str, np.ndarray]) -> pa.Table:
    return pa.table({k: pa.array(v, pa.string()) if v.dtype == object else pa.array(v) for k, v in columns.items()})


class TableWriter:
    """A Parquet table written a part at a time (the truth of one agency's records, then the next's), so
    that no more than one part is held in memory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer: pq.ParquetWriter | None = None

    def write(self, columns: dict[str, np.ndarray]) -> None:
        table = arrow_table(columns)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table.cast(self._writer.schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
