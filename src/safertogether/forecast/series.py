"""Events on the grid in time: a base step (a day, or a month for police.uk) and forecast periods.

A period (the horizon: a month, a week or a day) is a run of base steps; ``edges`` gives where each
begins. Weeks and days are counted from an anchor (the first test period's start), so that each test
period is a whole period; a partial period at either end of the data is left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np

from safertogether.errors import BadRequestError, MissingDataError
from safertogether.forecast.events import Events, day_number, day_to_date
from safertogether.forecast.grid import Grid

Horizon = Literal["month", "week", "day"]


@dataclass
class Series:
    """Events (sorted by base step) with their cell, and the forecast periods."""

    grid: Grid
    base: Literal["month", "day"]
    start: int  #: day number of base step 0
    steps: int  #: number of base steps
    step: np.ndarray  #: base step of each event
    cell: np.ndarray  #: cell (index into grid.cells) of each event
    category: np.ndarray
    horizon: Horizon
    edges: np.ndarray  #: base step where period p begins (length periods + 1)
    outside: int = 0  #: events outside the study area

    @property
    def periods(self) -> int:
        return len(self.edges) - 1

    def step_day(self, step: int | np.ndarray) -> np.ndarray:
        """Day number at which a base step begins."""
        step = np.asarray(step)
        if self.base == "day":
            return self.start + step
        first = np.datetime64(day_to_date(self.start), "M")
        return (first + step).astype("datetime64[D]").astype(np.int64)

    def period_start(self, p: int) -> dt.date:
        return day_to_date(int(self.step_day(int(self.edges[p]))))

    def period_label(self, p: int) -> str:
        start = self.period_start(p)
        return start.strftime("%Y-%m") if self.horizon == "month" else start.isoformat()

    def period_of_date(self, when: dt.date) -> int:
        """The first period beginning on or after ``when``."""
        days = self.step_day(self.edges[:-1])
        return int(np.searchsorted(days, day_number(when)))

    def counts(self, upto: int | None = None) -> np.ndarray:
        """(periods, N) event counts per period, of periods before ``upto``."""
        upto = self.periods if upto is None else upto
        period = np.searchsorted(self.edges, self.step, side="right") - 1
        keep = (period >= 0) & (period < upto)
        out = np.zeros((upto, self.grid.n), np.float32)
        np.add.at(out, (period[keep], self.cell[keep]), 1)
        return out

    def before(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps and cells of the events before base step ``step`` (training data, strictly earlier)."""
        k = np.searchsorted(self.step, step, side="left")
        return self.step[:k], self.cell[:k]


def counts_on(series: Series, events: Events) -> np.ndarray:
    """(periods, N) counts of other ``events`` (another kind of crime, say) in ``series``' cells and periods.

    Related events are inputs to a model, never its target: the learned model reads their recent and
    long-run densities (:mod:`~safertogether.forecast.models.features`)."""
    if events.crs != series.grid.crs:
        raise BadRequestError(f"the related events are in {events.crs.name}, the grid in {series.grid.crs.name}; "
                              "give both in the same CRS")
    cell = series.grid.cell_of(events.x, events.y)
    starts = series.step_day(series.edges)
    period = np.searchsorted(starts, events.day, side="right") - 1
    keep = (cell >= 0) & (period >= 0) & (period < series.periods)
    out = np.zeros((series.periods, series.grid.n), np.float32)
    np.add.at(out, (period[keep], cell[keep]), 1)
    return out


def make_series(events: Events, grid: Grid, horizon: Horizon, anchor: dt.date | None = None) -> Series:
    """Place events in cells and periods; ``anchor`` is a date on which a period begins (weeks, days)."""
    if events.resolution == "month" and horizon != "month":
        raise BadRequestError(f"these events carry a month only (police.uk): a {horizon}ly horizon needs dates; "
                              "use --horizon month")
    cell = grid.cell_of(events.x, events.y)
    inside = cell >= 0
    if not inside.any():
        raise MissingDataError("no event falls inside the study area; check the mask and the CRS")
    day, cell, category = events.day[inside], cell[inside], events.category[inside]
    first, last = day_to_date(int(day.min())), day_to_date(int(day.max()))
    if events.resolution == "month":
        base, start = "month", day_number(first.replace(day=1))
        step = _month_index(day) - _month_index(np.array([start]))[0]
        steps = int(step.max()) + 1
        edges = np.arange(steps + 1)
    else:
        base, start = "day", day_number(first)
        step = day - start
        steps = int(step.max()) + 1
        edges = _day_edges(first, last, horizon, anchor)
    order = np.argsort(step, kind="stable")
    series = Series(grid, base, start, steps, step[order], cell[order], category[order], horizon, edges,
                    int((~inside).sum()))
    if series.periods < 3:
        raise MissingDataError(f"the events span {series.periods} whole {horizon}s; a backtest needs several")
    return series


def _month_index(days: np.ndarray) -> np.ndarray:
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months


def _day_edges(first: dt.date, last: dt.date, horizon: Horizon, anchor: dt.date | None) -> np.ndarray:
    """Base-step (day) edges of whole periods between ``first`` and ``last`` inclusive."""
    start, end = day_number(first), day_number(last) + 1
    if horizon == "month":
        months = np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 2).astype("datetime64[D]")
        days = months.astype(np.int64)
    else:
        length = 7 if horizon == "week" else 1
        origin = day_number(anchor) if anchor else end
        k0 = -((origin - start) // length)
        days = origin + length * np.arange(k0, (end - origin) // length + 1)
    days = days[(days >= start) & (days <= end)]
    return days - start
