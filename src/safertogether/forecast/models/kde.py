"""Retrospective kernel density: the long-run counts smoothed with a quartic kernel.

The classic hotspot map (Chainey, Tompson and Uhlig 2008): a quartic (biweight) kernel of bandwidth
``h`` spreads each cell's count over the cells whose centres are within ``h``; the mass is kept
within the study area, so the map is still an expected count per cell.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import signal

from safertogether.forecast.grid import Grid
from safertogether.forecast.models.base import History, Params, windows_for


def quartic_kernel(bandwidth_m: float, cell_m: float) -> np.ndarray:
    """Weights (1 - d²/h²)² on the cell lattice within ``h``, summing to 1."""
    radius = int(np.floor(bandwidth_m / cell_m))
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    d2 = (xx**2 + yy**2) * cell_m**2 / max(bandwidth_m, 1e-9) ** 2
    weights = np.where(d2 < 1, (1 - d2) ** 2, 0.0)
    return weights / weights.sum()


def smooth(grid: Grid, values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``values`` convolved with ``kernel``, the mass leaving the study area given back pro rata."""
    if kernel.size == 1:
        return np.asarray(values, np.float64)
    raster = grid.to_raster(np.asarray(values, np.float64))
    out = grid.from_raster(signal.fftconvolve(raster, kernel, mode="same"))
    out = np.clip(out, 0, None)
    total, kept = float(np.sum(values)), float(out.sum())
    return out * (total / kept) if kept > 0 else out


class KernelDensity:
    name: ClassVar[str] = "kde"

    def __init__(self, bandwidth_m: float = 400.0, window: int | None = None) -> None:
        self.bandwidth_m, self.window = bandwidth_m, window

    def forecast(self, history: History) -> np.ndarray:
        counts = history.counts if self.window is None else history.counts[-self.window:]
        grid = history.series.grid
        return smooth(grid, counts.mean(axis=0, dtype=np.float64), quartic_kernel(self.bandwidth_m, grid.size_m))

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        return [{"bandwidth_m": h, "window": w} for h in (300.0, 600.0) for w in windows_for(horizon)[1:]]
