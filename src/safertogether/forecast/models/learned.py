"""A learned model: gradient-boosted trees with a Poisson loss on lagged counts.

Features per cell and period, all from periods before it: the last three counts, the mean of the last
year and of all history, the same counts summed over the eight neighbouring cells, the count a year
earlier and the period of the year (seasonality), the cell's position and any area covariates
(deprivation). scikit-learn's ``HistGradientBoostingRegressor`` is LightGBM's algorithm (histogram
boosting) and is already a dependency; with a Poisson loss it predicts an expected count directly.

Most cell-periods are zeros: all non-zero rows are kept and a sample of the zeros, each weighted by the
inverse of its sampling rate, so the fitted expectation is unchanged.

Calibration: boosted trees on sparse counts rank well but their expected counts were far off (on
Leicestershire a few cells got 10^4 times any count seen). So the trees are fitted on the training
periods but the last few (:data:`_HELD`), and a two-parameter Poisson recalibration
``lambda = exp(a) * prediction^b`` (Platt scaling for counts) is fitted on those held-out periods; both
use only periods before the origin. With ``b > 0`` the ranking, and so every hit rate, is unchanged;
only the expected counts (log score, calibration) move.

Why the trees' raw counts went wild (Leicestershire, monthly, 250 m): with a Poisson loss each leaf's
Newton step is ``sum(y - p) / (sum(p) + l2)``, and the hessian ``sum(p)`` of a leaf of cells forecast near
zero is tiny, so a leaf of a few dozen cells that each had an event stepped by e^4 per tree. The raw
forecasts of the held-out months summed to 10^6-10^8 against 25,000 crimes, the recalibration could only
squash them (``b`` about 0.4), and the log score was -0.43 against -0.21 for the long-run mean. The
``l2`` penalty is in hessian units, that is in counts, so a fixed value means different things on
different data; it is set to :data:`_SHRINK` average leaves' worth of counts (``_SHRINK *
min_samples_leaf * mean count per row``): a leaf's step is trusted only once it holds that much expected
mass. That is 50 on Leicestershire (mean 0.21 crimes per cell-month) and about 1 on Portland's weekly
burglaries (the old fixed value, where the trees were already calibrated).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from safertogether.forecast.grid import neighbour_sum
from safertogether.forecast.models.base import History, Params

_SEASON = {"month": 12, "week": 52, "day": 7}
_YEAR = {"month": 12, "week": 52, "day": 364}
_RECENT = {"month": 12, "week": 13, "day": 28}
#: Training periods held out from the trees to fit the recalibration on.
_HELD = {"month": 3, "week": 8, "day": 14}
#: The l2 penalty on leaf values, in average leaves' worth of counts (see the module's docstring).
_SHRINK = 6.0
_MIN_LEAF = 40


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
        counts = history.counts.astype(np.float64)
        origin = history.origin
        horizon = history.series.horizon
        span = self.train_periods or {"month": 24, "week": 52, "day": 182}[horizon]
        targets = np.arange(max(1, origin - span), origin)
        held = targets[-_HELD[horizon]:] if len(targets) >= 2 * _HELD[horizon] else targets[:0]
        fit_on = targets[:len(targets) - len(held)]
        if len(fit_on) < 2:
            return counts.mean(axis=0)
        model = self._fit(features(history, fit_on, counts), counts[fit_on].ravel(), origin)
        ahead = features(history, np.array([origin]), np.vstack([counts, np.zeros((1, counts.shape[1]))]))
        raw = np.maximum(model.predict(ahead), 1e-9)
        if len(held):
            a, b = recalibration(np.maximum(model.predict(features(history, held, counts)), 1e-9),
                                 counts[held].ravel())
            raw = np.exp(a) * raw**b
        # A last guard against extrapolation through the log link: no cell above twice the largest count seen.
        return np.clip(raw, 0, 2 * max(float(counts.max()), 1.0))

    def _fit(self, x: np.ndarray, y: np.ndarray, origin: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        rng = np.random.default_rng(self.seed + origin)
        keep, weight = _sample_zeros(y, self.max_rows, rng)
        model = HistGradientBoostingRegressor(loss="poisson", learning_rate=self.learning_rate,
                                              max_iter=self.max_iter, max_leaf_nodes=15,
                                              min_samples_leaf=_MIN_LEAF, l2_regularization=l2_penalty(y),
                                              early_stopping=False, random_state=self.seed)
        # One thread: on a shared two-core machine OpenMP's threads wait on each other (a fit took 10x longer).
        with threadpool_limits(1):
            model.fit(x[keep], y[keep], sample_weight=weight)
        return model

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        return [{}]


def l2_penalty(y: np.ndarray) -> float:
    """The trees' l2 penalty: :data:`_SHRINK` leaves of :data:`_MIN_LEAF` rows at the mean count per row."""
    return max(_SHRINK * _MIN_LEAF * float(np.mean(y)), 1e-3)


def recalibration(predicted: np.ndarray, observed: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` maximising the Poisson likelihood of ``observed`` under ``exp(a) * predicted^b``, ``b`` kept in
    [0.05, 2] (positive: the ranking is kept)."""
    from scipy import optimize

    log_p = np.log(predicted)
    total = float(observed.sum())
    if total <= 0:
        return float(np.log(1e-3)), 1.0

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        eta = params[0] + params[1] * log_p
        lam = np.exp(np.minimum(eta, 30))
        return float(np.sum(lam) - np.sum(observed * eta)), np.array([np.sum(lam - observed),
                                                                       np.sum((lam - observed) * log_p)])

    start = np.array([np.log(total / max(float(predicted.sum()), 1e-12)), 1.0])
    found = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(-30, 30), (0.05, 2.0)])
    return float(found.x[0]), float(found.x[1])


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
