"""Grid ETAS: a background rate per cell plus near-repeat triggering, fitted by EM.

As in Mohler et al. 2015 (J. Am. Stat. Assoc. 110:1399), the rate in cell ``n`` at base step ``t`` is

    lambda[t, n] = mu[n] + theta * sum_{k>=1} g(k) * ((1 - phi) * C[t-k, n] + phi/8 * C[t-k, neighbours of n])

with a geometric kernel ``g(k) = (1 - a) a^(k-1)`` (the discrete exponential), ``theta`` the mean
number of events one event triggers and ``phi`` the share of them in the eight adjacent cells (the
near repeat; Mohler's grid model has phi = 0). The sums over the past are recursive filters along
time (``scipy.signal.lfilter``), run on the cells that had events only, so one EM step costs a few
passes over a (steps x active cells) array rather than a loop over pairs of events.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import signal, sparse

from safertogether.forecast.grid import Grid, neighbour_sum
from safertogether.forecast.models.base import History, Params


@dataclass
class EtasFit:
    """Fitted parameters: ``mu`` per cell (events per base step), ``theta``, ``a`` (per-step decay), ``phi``."""

    mu: np.ndarray
    theta: float
    a: float
    phi: float
    iterations: int
    log_likelihood: float
    base: str = "day"

    @property
    def mean_lag_steps(self) -> float:
        return 1 / (1 - self.a)

    def in_words(self, what: str = "an event", cell_m: float = 250.0) -> str:
        """The fitted near-repeat effect as a sentence an officer can check against experience."""
        unit = "days" if self.base == "day" else "months"
        reach = int(round(cell_m * 1.5 / 50) * 50)
        return (f"{what} raises the risk in its own {cell_m:g} m cell and those around it (within about {reach} m) "
                f"for about {self.mean_lag_steps:.0f} {unit}: on average it is followed by {self.theta:.2f} "
                f"more events, {100 * self.phi:.0f}% of them in the adjacent cells")


def _filters(a: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum_{k>=1} a^k x[..., t-k] and sum_{k>=1} k a^k x[..., t-k] along the last axis (time: contiguous,
    which filters twice as fast as along the first)."""
    h1 = signal.lfilter([0.0, a], [1.0, -a], x, axis=-1)
    h2 = signal.lfilter([0.0, a], [1.0, -2 * a, a * a], x, axis=-1)
    return h1, h2


def _adjacency(grid: Grid, active: np.ndarray) -> sparse.csr_matrix:
    """Which active cells (indices into grid.cells) touch which (the eight around each)."""
    flat = grid.cells[active]
    iy, ix = np.divmod(flat, grid.nx)
    rows, cols = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dx == dy == 0:
                continue
            ny_, nx_ = iy + dy, ix + dx
            ok = (ny_ >= 0) & (ny_ < grid.ny) & (nx_ >= 0) & (nx_ < grid.nx)
            target = ny_ * grid.nx + nx_
            at = np.searchsorted(flat, target)
            found = ok & (at < len(flat)) & (flat[np.minimum(at, len(flat) - 1)] == target)
            rows.append(np.flatnonzero(found))
            cols.append(at[found])
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(flat), len(flat)))


class _DenseSums:
    """The past-event sums at each (cell, step) with events, by filtering a (cells x steps) array.

    Cheap when there are few steps (months); the pair sums below are cheaper for days."""

    def __init__(self, counts: np.ndarray, adjacency: sparse.csr_matrix | None) -> None:
        self.stacked = np.vstack([counts, adjacency @ counts]) if adjacency is not None else counts
        self.width = counts.shape[0]
        self.col, self.t = np.nonzero(counts)
        self.neighbours = adjacency is not None

    def __call__(self, a: float) -> tuple[np.ndarray, ...]:
        h1, h2 = _filters(a, self.stacked)
        own1, own2 = h1[self.col, self.t], h2[self.col, self.t]
        if not self.neighbours:
            return own1, own2, np.zeros_like(own1), np.zeros_like(own1)
        return own1, own2, h1[self.width + self.col, self.t], h2[self.width + self.col, self.t]


class _PairSums:
    """The same sums from the pairs of (cell, step) entries in the same or an adjacent cell, at most
    ``max_lag`` steps apart: the work grows with the pairs, not with cells x steps."""

    def __init__(self, counts: np.ndarray, flat: np.ndarray, grid: Grid, max_lag: int, neighbours: bool) -> None:
        self.col, self.t = np.nonzero(counts)
        self.c = counts[self.col, self.t]
        steps = counts.shape[1] + 1
        keys = flat[self.col] * steps + self.t  # sorted: np.nonzero is row-major and flat is sorted
        iy, ix = np.divmod(flat[self.col], grid.nx)
        parts_i, parts_j, parts_own = [], [], []
        offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)] if neighbours else [(0, 0)]
        for dy, dx in offsets:
            ty, tx = iy + dy, ix + dx
            ok = np.flatnonzero((ty >= 0) & (ty < grid.ny) & (tx >= 0) & (tx < grid.nx))
            target = (ty[ok] * grid.nx + tx[ok]) * steps
            lo = np.searchsorted(keys, target + np.maximum(self.t[ok] - max_lag, 0), "left")
            hi = np.searchsorted(keys, target + self.t[ok], "left")
            length = hi - lo
            total = int(length.sum())
            j = np.repeat(lo, length) + np.arange(total) - np.repeat(np.cumsum(length) - length, length)
            parts_i.append(np.repeat(ok, length))
            parts_j.append(j)
            parts_own.append(np.full(total, dy == dx == 0))
        self.i, j = np.concatenate(parts_i), np.concatenate(parts_j)
        own = np.concatenate(parts_own)
        self.dt = (self.t[self.i] - self.t[j]).astype(np.float64)
        self.weight_own, self.weight_nb = self.c[j] * own, self.c[j] * ~own
        self.n = len(self.c)

    def __call__(self, a: float) -> tuple[np.ndarray, ...]:  # own1, own2, nb1, nb2
        decay = a**self.dt
        lagged = decay * self.dt
        return tuple(np.bincount(self.i, weight * factor, self.n) for weight in (self.weight_own, self.weight_nb)
                     for factor in (decay, lagged))


#: From how many base steps the pair sums are used (days: yes; months: the dense filter).
_PAIRS_FROM = 150


def fit_grid_etas(step: np.ndarray, cell: np.ndarray, steps: int, grid: Grid, *, neighbours: bool = True,
                  iterations: int = 300, tol: float = 1e-7, base: str = "day", start: EtasFit | None = None,
                  max_lag: int = 365) -> EtasFit:
    """Fit by EM on events (base step, cell index) over ``steps`` steps.

    Returns background rates for every study-area cell (zero where no event occurred). ``start`` (the
    fit at the previous origin) warm-starts EM: a rolling backtest then needs a few steps per origin.
    Over many steps (days), triggering is counted up to ``max_lag`` steps back (a year: with the decay
    fitted on real data, what lies beyond weighs less than a millionth).
    """
    active, col = np.unique(cell, return_inverse=True)
    counts = np.zeros((len(active), steps))  # cells x steps: time contiguous
    np.add.at(counts, (col, step), 1)
    if steps >= _PAIRS_FROM:
        sums: _DenseSums | _PairSums = _PairSums(counts, grid.cells[active], grid, max_lag, neighbours)
        col_v, c_v = sums.col, sums.c
    else:
        max_lag = steps
        sums = _DenseSums(counts, _adjacency(grid, active) if neighbours else None)
        col_v, c_v = sums.col, counts[sums.col, sums.t]
    per_step = counts.sum(axis=0)
    reach = np.minimum(steps - 1 - np.arange(steps), max_lag)
    width = len(active)
    if start is not None:
        mu = np.maximum(start.mu[active], 1e-9)
        theta, a, phi = start.theta, start.a, (start.phi if neighbours else 0.0)
    else:
        mu = counts.mean(axis=1) * 0.5 + 1e-9
        theta, a, phi = 0.3, (0.9 if base == "day" else 0.5), (0.3 if neighbours else 0.0)
    previous, loglik, done = -np.inf, -np.inf, 0
    for done in range(1, iterations + 1):  # noqa: B007 - the count is reported
        own1, own2, nb1, nb2 = sums(a)
        k = theta * (1 - a) / a
        trig_own, trig_nb = k * (1 - phi) * own1, k * phi * nb1 / 8
        lam = mu[col_v] + trig_own + trig_nb
        mass = float(np.sum(per_step * (1 - a**reach)))
        loglik = float(np.sum(c_v * np.log(lam)) - steps * mu.sum() - theta * mass)
        r_own, r_nb = np.sum(c_v * trig_own / lam), np.sum(c_v * trig_nb / lam)
        lag = np.sum(c_v * k * ((1 - phi) * own2 + phi * nb2 / 8) / lam)
        mu = np.bincount(col_v, weights=c_v * mu[col_v] / lam, minlength=width) / steps
        triggered = r_own + r_nb
        theta = float(np.clip(triggered / max(mass, 1e-12), 1e-6, 0.99))
        phi = float(np.clip(r_nb / max(triggered, 1e-12), 0.0, 1.0)) if neighbours else 0.0
        a = float(np.clip(1 - triggered / max(lag, 1e-12), 1e-3, 0.999))
        if abs(loglik - previous) <= tol * abs(loglik):
            break
        previous = loglik
    full_mu = np.zeros(grid.n)
    full_mu[active] = mu
    return EtasFit(full_mu, theta, a, phi, done, loglik, base)


def etas_expected(fit: EtasFit, grid: Grid, step: np.ndarray, cell: np.ndarray, start: int, ahead: int) -> np.ndarray:
    """Expected events per cell in base steps ``start .. start+ahead-1`` given the events before ``start``
    (the triggering by events inside the forecast period itself is left out)."""
    before = step < start
    weights = fit.a ** (start - step[before])  # a^k for an event k steps before
    own = np.bincount(cell[before], weights=weights, minlength=grid.n)
    adjacent = neighbour_sum(grid, own) / 8
    trig = fit.theta * (1 - fit.a**ahead) / fit.a * ((1 - fit.phi) * own + fit.phi * adjacent)
    return fit.mu * ahead + trig


class GridEtas:
    name: ClassVar[str] = "etas"

    def __init__(self, window: int | None = None, neighbours: bool = True, warm: bool = True,
                 background_m: float | None = None) -> None:
        self.window, self.neighbours, self.warm, self.background_m = window, neighbours, warm, background_m
        self.last_fit: EtasFit | None = None

    def forecast(self, history: History) -> np.ndarray:
        step, cell = history.events()
        start = history.start_step
        first = 0 if self.window is None else max(0, start - self.window)
        keep = step >= first
        fit = fit_grid_etas(step[keep] - first, cell[keep], start - first, history.series.grid,
                            neighbours=self.neighbours, base=history.series.base,
                            start=self.last_fit if self.warm else None)
        self.last_fit = fit
        if self.background_m:  # a smooth background (as Mohler et al. 2011's kernel), for sparse events
            from safertogether.forecast.models.kde import quartic_kernel, smooth

            grid = history.series.grid
            fit = dataclasses.replace(fit, mu=smooth(grid, fit.mu, quartic_kernel(self.background_m, grid.size_m)))
        return etas_expected(fit, history.series.grid, step[keep] - first, cell[keep], start - first,
                             history.steps_ahead)

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        windows = {"month": [12, None], "week": [365, 730], "day": [365, 730]}[horizon]
        return [{"window": w, "background_m": b} for w in windows for b in (None, 400.0)]
