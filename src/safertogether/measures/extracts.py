"""Row-level extracts of an area's crimes, streamed in batches (no cap on size)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyarrow.csv as pacsv

from safertogether.areas.hierarchy import MEMBER_CONDITION
from safertogether.measures.period import Period
from safertogether.store.warehouse import Warehouse

EXTRACT_COLUMNS = (
    "crime_id", "month", "reported_by", "falls_within", "longitude", "latitude", "location", "lsoa_code",
    "lsoa_name", "crime_type", "last_outcome_category", "context", "lsoa",
)


def crimes_extract_query(place: dict[str, Any], period: Period) -> tuple[str, dict[str, Any]]:
    """SQL and parameters of every street crime in an area and period, as extracts list them."""
    sql = f"""SELECT {", ".join(EXTRACT_COLUMNS[:1])}, strftime(month, '%Y-%m') AS month,
                     {", ".join(EXTRACT_COLUMNS[2:])}
              FROM street_crimes m WHERE {MEMBER_CONDITION[place["level"]]} AND month BETWEEN $start AND $end
              ORDER BY month, file_id, row_number"""
    return sql, {"code": place["code"], "start": period.start, "end": period.end}


def crimes_csv(
    warehouse: Warehouse, place: dict[str, Any], period: Period, batch_rows: int = 50_000
) -> Iterator[bytes]:
    """CSV of every street crime in an area (as :func:`~safertogether.areas.area` returns it) and period.

    The header comes first, then batches of ``batch_rows`` rows, so no extract is too big to serve.
    """
    sql, params = crimes_extract_query(place, period)
    first = True
    for batch in warehouse.stream_arrow(sql, params, batch_rows):
        out = io.BytesIO()
        pacsv.write_csv(batch, out, pacsv.WriteOptions(include_header=first))
        first = False
        yield out.getvalue()
    if first:
        yield (",".join(EXTRACT_COLUMNS) + "\n").encode()
