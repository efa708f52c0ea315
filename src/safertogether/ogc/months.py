"""The ``datetime`` parameter read as police.uk months.

police.uk dates every record by month only, so an instant selects the month it falls in and an
interval every month it overlaps; open ends (``..`` or empty) run to the first or last month loaded.
Besides RFC 3339 (``2023-03-15``, ``2023-03-15T10:00:00Z``) a month ``2023-03`` and a year ``2023``
(January to December) are accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from safertogether.errors import BadRequestError

_INSTANT = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?)?)?$")


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
        return MonthRange(*_months_of(parts[0], text))
    if len(parts) != 2 or all(p in ("", "..") for p in parts):
        raise _bad(text)
    start = None if parts[0] in ("", "..") else _months_of(parts[0], text)[0]
    end = None if parts[1] in ("", "..") else _months_of(parts[1], text)[1]
    if start and end and start > end:
        raise BadRequestError(f"datetime='{text[:60]}' ends before it starts; swap the two ends")
    return MonthRange(start, end)


def _months_of(part: str, whole: str) -> tuple[dt.date, dt.date]:
    """The first and last month an instant covers (a year covers twelve)."""
    match = _INSTANT.match(part.strip())
    if not match or (match[2] and not 1 <= int(match[2]) <= 12):
        raise _bad(whole)
    if not match[2]:
        return dt.date(int(match[1]), 1, 1), dt.date(int(match[1]), 12, 1)
    try:
        if match[4]:  # a date-time: its month in UTC, the time zone police.uk months are read in
            instant = dt.datetime.fromisoformat(part.strip().upper()).astimezone(dt.UTC)
            month = dt.date(instant.year, instant.month, 1)
        else:
            month = dt.date(int(match[1]), int(match[2]), int(match[3] or 1)).replace(day=1)
    except ValueError:
        raise _bad(whole) from None
    return month, month


def _bad(text: str) -> BadRequestError:
    return BadRequestError(
        f"datetime='{text[:60]}' is not a date or interval; use 2023, 2023-03, 2023-03-15, 2023-03-15T00:00:00Z, "
        "or an interval such as 2022-04/2023-03, ../2023-03 or 2022-04/.."
    )
