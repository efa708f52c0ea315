"""From files to a :class:`~safertogether.forecast.series.Series`: read events, draw the grid, bin in time.

The one path the CLI, the API and the benchmarks share, so a forecast on the command line is the
forecast the benchmark measured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from safertogether.errors import BadRequestError
from safertogether.forecast.events import Events, read_point_events, read_police_uk_events, select_categories
from safertogether.forecast.grid import Grid, build_grid, read_mask
from safertogether.forecast.series import Horizon, Series, counts_on, make_series

Kind = Literal["police-uk", "points"]


@dataclass
class Inputs:
    """Where the events are and how to read them (the command line's ``--events --kind --x ...``)."""

    paths: Sequence[str | Path]
    kind: Kind = "police-uk"
    crs: str | None = None
    x: str | None = None
    y: str | None = None
    date: str | None = None
    category: str | None = None
    categories: Sequence[str] = ()
    include: Sequence[str] = ()
    date_formats: Sequence[str] = ()
    category_name: str = "event"

    def read(self) -> Events:
        if self.kind == "police-uk":
            events = read_police_uk_events(self.paths, include=self.include, crs=self.crs or 27700)
        elif self.kind == "points":
            missing = [f"--{n}" for n in ("x", "y", "date", "crs") if getattr(self, n) is None]
            if missing:
                raise BadRequestError(f"--kind points needs {', '.join(missing)} (the columns holding each point's "
                                      "coordinates and date, and the coordinates' EPSG code)")
            events = read_point_events(self.paths, x=self.x, y=self.y, date=self.date, crs=self.crs,  # type: ignore[arg-type]
                                       category=self.category, date_formats=self.date_formats,
                                       category_name=self.category_name, include=self.include)
        else:
            raise BadRequestError(f"--kind must be police-uk or points, not {self.kind!r}")
        return select_categories(events, self.categories)


@dataclass
class Prepared:
    events: Events
    grid: Grid
    series: Series
    notes: list[str] = field(default_factory=list)
    related: np.ndarray | None = None  #: (periods, N) counts of the related events, inputs to the learned model


def prepare(inputs: Inputs, *, horizon: Horizon, cell_m: float, mask: str | Path | None = None,
            anchor: dt.date | None = None, near_m: float = 500.0, grid: Grid | None = None,
            related: Sequence[str | Path] = ()) -> Prepared:
    """Events on a grid in periods of ``horizon``; ``anchor`` is a day a week or day period begins on.

    ``related`` files (read like ``inputs``, every category) are counted on the same cells and periods:
    another kind of crime the learned model may read, never a target."""
    events = inputs.read()
    if grid is None:
        polygon = read_mask(mask, events.crs) if mask else None
        grid = build_grid(events, cell_m, polygon, str(mask or ""), near_m)
    if anchor is None and events.resolution == "day" and horizon != "month":
        anchor = events.last_day() + dt.timedelta(days=1)
    series = make_series(events, grid, horizon, anchor)
    notes = [f"{n:,} rows left out: {why}" for why, n in events.dropped.items() if n]
    if series.outside:
        notes.append(f"{series.outside:,} events outside the study area")
    counted = None
    if related:
        counted = counts_on(series, replace(inputs, paths=related, categories=()).read())
        notes.append(f"{int(counted.sum()):,} related events in the study area, inputs to the learned model")
    return Prepared(events, grid, series, notes, counted)


def harm_per_cell(prepared: Prepared, weights: dict[str, float] | None, upto_step: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Summed harm and number of events per cell, of events before ``upto_step`` (all by default)."""
    from safertogether.forecast.context import harm_of

    series = prepared.series
    keep = np.ones(len(series.step), bool) if upto_step is None else series.step < upto_step
    harm = harm_of(series.category[keep], weights)
    total = np.bincount(series.cell[keep], weights=harm, minlength=series.grid.n)
    events = np.bincount(series.cell[keep], minlength=series.grid.n).astype(float)
    return total, events
