"""The ``datetime`` parameter read as police.uk months.

police.uk dates every record by month only, so an instant selects the month it falls in and an
interval every month it overlaps; open ends (``..`` or empty) run to the first or last month loaded.
Besides RFC 3339 (``2023-03-15``, ``2023-03-15T10:00:00Z``) a bare ``2023-03`` is accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from safertogether.errors import BadRequestError

_INSTANT = re.compile(
    r"^(\d{4})-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?)?$")


@dataclass(frozen=True)
class MonthRange:
    """First and last month selected, both included; None is an open end."""

    start: dt.date | None = None
    end: dt.date | None = None

    def sql(self, column: str) -> str:
        """A condition on a DATE column holding the first of each month (parameters $m0, $m1)."""
        parts = ([f"{column} >= $m0"] if self.start else []) + ([f"{column} <= $m1"] if self.end else [])
        return " AND ".join(parts) or "TRUE"

    def params(self) -> dict[str, dt.date]:
        return {k: v for k, v in (("m0", self.start), ("m1", self.end)) if v}


def parse_datetime(text: str | None) -> MonthRange:
    """``datetime`` as months; raises :class:`BadRequestError` naming the accepted forms."""
    if text is None or text.strip() == "":
        return MonthRange()
    parts = text.strip().split("/")
    if len(parts) == 1:
        month = _month_of(parts[0], text)
        return MonthRange(month, month)
    if len(parts) != 2 or all(p in ("", "..") for p in parts):
        raise _bad(text)
    start, end = (None if p in ("", "..") else _month_of(p, text) for p in parts)
    if start and end and start > end:
        raise BadRequestError(f"datetime='{text[:60]}' ends before it starts; swap the two ends")
    return MonthRange(start, end)


def _month_of(part: str, whole: str) -> dt.date:
    match = _INSTANT.match(part.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise _bad(whole)
    month = dt.date(int(match[1]), int(match[2]), 1)
    if match[3]:
        try:
            dt.date(month.year, month.month, int(match[3]))
        except ValueError:
            raise _bad(whole) from None
    return month


def _bad(text: str) -> BadRequestError:
    return BadRequestError(
        f"datetime='{text[:60]}' is not a date or interval; use 2023-03, 2023-03-15, 2023-03-15T00:00:00Z, "
        "or an interval such as 2022-04/2023-03, ../2023-03 or 2022-04/.."
    )
