"""Synthetic events from a known self-exciting process, to test that the models recover what they should.

The process is the grid ETAS of :mod:`safertogether.forecast.models.etas` simulated step by step:
background rates (a few hot cells on a low floor) plus triggering with known ``theta``, ``a`` and
``phi``. Because the truth is known, the true conditional rate is the best possible forecast (the
"perfect model"); the backtest reports each model's hit rate as a share of its hit rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyproj

from safertogether.forecast.events import Events, day_number
from safertogether.forecast.grid import Grid, neighbour_sum
from safertogether.forecast.models.base import History, Params
from safertogether.forecast.models.etas import EtasFit, etas_expected


@dataclass
class SyntheticProcess:
    nx: int = 40
    ny: int = 40
    cell_m: float = 250.0
    days: int = 1500
    theta: float = 0.4
    a: float = 0.85
    phi: float = 0.4
    background: float = 0.004  #: events per cell per day, mean over cells
    hot_share: float = 0.05  #: share of cells that are hot
    hot_factor: float = 15.0  #: their background relative to the rest
    seed: int = 1
    start: dt.date = dt.date(2018, 1, 1)

    def background_rates(self, rng: np.random.Generator) -> np.ndarray:
        n = self.nx * self.ny
        rates = np.ones(n)
        rates[rng.choice(n, max(1, int(self.hot_share * n)), replace=False)] = self.hot_factor
        return rates * (self.background * n / rates.sum())


def simulate(process: SyntheticProcess) -> tuple[Events, np.ndarray]:
    """Events (in BNG metres, at day resolution) and the true background rate per cell (row-major)."""
    rng = np.random.default_rng(process.seed)
    n = process.nx * process.ny
    mu = process.background_rates(rng)
    grid = _full_grid(process)
    carry, coeff = np.zeros(n), process.theta * (1 - process.a) / process.a
    steps, cells = [], []
    for t in range(process.days):
        rate = mu + coeff * ((1 - process.phi) * carry + process.phi * neighbour_sum(grid, carry) / 8)
        counts = rng.poisson(rate)
        hit = np.flatnonzero(counts)
        steps.append(np.full(counts[hit].sum(), t))
        cells.append(np.repeat(hit, counts[hit]))
        carry = process.a * (carry + counts)
    step, cell = np.concatenate(steps), np.concatenate(cells)
    iy, ix = np.divmod(cell, process.nx)
    x = (ix + rng.random(len(cell))) * process.cell_m
    y = (iy + rng.random(len(cell))) * process.cell_m
    day = day_number(process.start) + step
    return Events(x + 400_000, y + 300_000, day.astype(np.int64), np.full(len(x), "burglary", dtype=object),
                  pyproj.CRS.from_epsg(27700), "day", ["synthetic"]), mu


def _full_grid(process: SyntheticProcess) -> Grid:
    return Grid(400_000.0, 300_000.0, process.cell_m, process.cell_m, process.nx, process.ny,
                pyproj.CRS.from_epsg(27700), np.arange(process.nx * process.ny), "the synthetic square")


def synthetic_grid(process: SyntheticProcess) -> Grid:
    """The grid the process was simulated on (give it to the backtest so cells line up)."""
    return _full_grid(process)


class TrueRate:
    """The perfect model: the true conditional rate of the process, given the events so far."""

    name = "perfect"

    def __init__(self, process: SyntheticProcess, mu: np.ndarray) -> None:
        self.fit = EtasFit(mu, process.theta, process.a, process.phi, 0, 0.0)

    def forecast(self, history: History) -> np.ndarray:
        step, cell = history.events()
        return etas_expected(self.fit, history.series.grid, step, cell, history.start_step, history.steps_ahead)

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        return [{}]
