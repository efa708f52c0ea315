"""A learned model: gradient-boosted trees with a Poisson loss on lagged counts.

Features per cell and period, all from periods before it: the last three counts, the mean of the last
year and of all history, the same counts summed over the eight neighbouring cells, the count a year
earlier and the period of the year (seasonality), the cell's position and any area covariates
(deprivation). scikit-learn's ``HistGradientBoostingRegressor`` is LightGBM's algorithm (histogram
boosting) and is already a dependency; with a Poisson loss it predicts an expected count directly.

Most cell-periods are zeros: all non-zero rows are kept and a sample of the zeros, each weighted by the
inverse of its sampling rate, so the fitted expectation is unchanged.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from safertogether.forecast.grid import neighbour_sum
from safertogether.forecast.models.base import History, Params

_SEASON = {"month": 12, "week": 52, "day": 7}
_YEAR = {"month": 12, "week": 52, "day": 364}
_RECENT = {"month": 12, "week": 13, "day": 28}


def features(history: History, periods: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(len(periods) * N, k) features of the cells in each target period (only counts before it are used)."""
    series, grid = history.series, history.series.grid
    horizon = series.horizon
    neighbours = neighbour_sum(grid, counts)
    cum = np.vstack([np.zeros((1, grid.n)), np.cumsum(counts, axis=0, dtype=np.float64)])
    ncum = np.vstack([np.zeros((1, grid.n)), np.cumsum(neighbours, axis=0, dtype=np.float64)])
    cx, cy = grid.centres()
    cx, cy = (cx - cx.mean()) / grid.size, (cy - cy.mean()) / grid.size
    rows = []
    for p in periods:
        recent = min(_RECENT[horizon], p)
        lag = [counts[p - k] if p - k >= 0 else np.zeros(grid.n) for k in (1, 2, 3)]
        year_ago = counts[p - _YEAR[horizon]] if p - _YEAR[horizon] >= 0 else np.full(grid.n, np.nan)
        season = _season_of(series, p, horizon)
        cols = [*lag, (cum[p] - cum[p - recent]) / max(recent, 1), cum[p] / max(p, 1),
                neighbours[p - 1], (ncum[p] - ncum[p - recent]) / max(recent, 1), ncum[p] / max(p, 1),
                year_ago, np.full(grid.n, season), cx, cy]
        if history.covariates is not None:
            cols += list(history.covariates.T)
        rows.append(np.column_stack(cols))
    return np.vstack(rows).astype(np.float32)


def _season_of(series: object, p: int, horizon: str) -> float:
    start = series.period_start(min(p, series.periods - 1))  # type: ignore[attr-defined]
    if horizon == "month":
        return float(start.month)
    if horizon == "week":
        return float(min(start.isocalendar()[1], 52))
    return float(start.weekday())


class BoostedTrees:
    name: ClassVar[str] = "gbm"

    def __init__(self, train_periods: int | None = None, max_rows: int = 50_000, seed: int = 0,
                 learning_rate: float = 0.1, max_iter: int = 80) -> None:
        self.train_periods, self.max_rows, self.seed = train_periods, max_rows, seed
        self.learning_rate, self.max_iter = learning_rate, max_iter

    def forecast(self, history: History) -> np.ndarray:
        from sklearn.ensemble import HistGradientBoostingRegressor

        counts = history.counts.astype(np.float64)
        origin = history.origin
        span = self.train_periods or {"month": 24, "week": 52, "day": 182}[history.series.horizon]
        targets = np.arange(max(1, origin - span), origin)
        if len(targets) < 2:
            return counts.mean(axis=0)
        x = features(history, targets, counts)
        y = counts[targets].ravel()
        rng = np.random.default_rng(self.seed + origin)
        keep, weight = _sample_zeros(y, self.max_rows, rng)
        model = HistGradientBoostingRegressor(loss="poisson", learning_rate=self.learning_rate,
                                              max_iter=self.max_iter, max_leaf_nodes=15, min_samples_leaf=40,
                                              l2_regularization=1.0, early_stopping=False, random_state=self.seed)
        # One thread: on a shared two-core machine OpenMP's threads wait on each other (a fit took 10x longer).
        with threadpool_limits(1):
            model.fit(x[keep], y[keep], sample_weight=weight)
        ahead = features(history, np.array([origin]), np.vstack([counts, np.zeros((1, counts.shape[1]))]))
        # Trees extrapolate through the log link: on Leicestershire a few cells got 10^4 times what any cell
        # ever had (expected/observed 11,094). No cell is expected above twice the largest count seen.
        return np.clip(model.predict(ahead), 0, 2 * max(float(y.max()), 1.0))

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        return [{}]


def _sample_zeros(y: np.ndarray, max_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on (every non-zero, a sample of zeros) and their weights (1 / sampling rate)."""
    nonzero = np.flatnonzero(y > 0)
    zeros = np.flatnonzero(y == 0)
    room = max(max_rows - len(nonzero), min(len(zeros), 10_000))
    rate = min(1.0, room / max(len(zeros), 1))
    chosen = zeros[rng.random(len(zeros)) < rate]
    keep = np.concatenate([nonzero, chosen])
    weight = np.concatenate([np.ones(len(nonzero)), np.full(len(chosen), 1 / rate)])
    return keep, weight
