"""Prospective hotspotting (Bowers, Johnson and Pease 2004, Br. J. Criminol. 44:641).

Each recent event adds ``1/(1 + d) x 1/(1 + w)`` to the cells within the bandwidth, where ``d`` is
the distance in cells and ``w`` the age of the event in whole weeks; events older than the time
window add nothing. The score is a ranking; it is scaled to the mean count of the last year's
periods so that it is also an expected count.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import signal

from safertogether.forecast.models.base import History, Params, scale_to_total


def distance_weights(bandwidth_m: float, cell_m: float) -> np.ndarray:
    radius = int(np.floor(bandwidth_m / cell_m))
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    d = np.hypot(xx, yy)
    return np.where(d * cell_m <= bandwidth_m, 1 / (1 + d), 0.0)


class ProspectiveHotspot:
    name: ClassVar[str] = "prospective"

    def __init__(self, bandwidth_m: float = 400.0, weeks: int = 8) -> None:
        self.bandwidth_m, self.weeks = bandwidth_m, weeks

    def forecast(self, history: History) -> np.ndarray:
        series, grid = history.series, history.series.grid
        step, cell = history.events()
        event_day = series.step_day(step) + (15 if series.base == "month" else 0)  # a month's middle
        start_day = int(series.step_day(history.start_step))
        age_weeks = np.floor((start_day - event_day) / 7)
        recent = age_weeks < self.weeks
        weighted = np.bincount(cell[recent], weights=1 / (1 + age_weeks[recent]), minlength=grid.n)
        raster = grid.to_raster(weighted)
        score = grid.from_raster(signal.fftconvolve(raster, distance_weights(self.bandwidth_m, grid.size_m),
                                                    mode="same"))
        periods = {"month": 12, "week": 52, "day": 365}[series.horizon]
        return scale_to_total(np.where(score > 1e-9, score, 0), history.recent_total(periods))

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        weeks = (8, 26) if horizon == "month" else (4, 8, 16)
        return [{"bandwidth_m": h, "weeks": w} for h in (400.0, 800.0) for w in weeks]
