"""The learned model's features: the baselines' own outputs, at every past period at once.

NIJ 2017's winning entries beat kernel density by learning how to weigh several smoothed histories, not
by learning from raw lags alone. So the features of cell ``n`` in period ``p`` are what the baselines
would have forecast for it from the periods before ``p``:

- the counts smoothed with a quartic kernel (:func:`~safertogether.forecast.models.kde.quartic_kernel`)
  at several bandwidths (the cell alone, then :data:`BANDWIDTHS_M`): KDE maps, and long-run counts at
  several radii;
- each over several spans of time: all history (the long-run mean), the last year, and exponentially
  decayed means with several half-lives (:data:`HALF_LIVES`: the shortest is the previous period, the
  others the recent weighting of prospective hotspotting and ETAS's triggering);
- the count a year earlier and the period of the year (seasonality), and any area covariates;
- where related events are given (another kind of crime: thefts of cars beside burglaries), the same
  densities of those at :data:`RELATED_SPANS`: a cell's other crime marks it as a place where crime
  happens, with more events to estimate that from than the target's alone.

Everything is computed for all periods in one pass, vectorised: each bandwidth is one FFT convolution
of the (periods, ny, nx) stack, each time span a cumulative sum or a recursive filter along time
(``scipy.signal.lfilter``). A feature of period ``p`` only ever uses periods before ``p``, so training
rows (periods before the origin) and the forecast row (the origin) are built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from safertogether.forecast.grid import Grid
from safertogether.forecast.models.base import History
from safertogether.forecast.models.kde import quartic_kernel

#: Kernel bandwidths beside the cell itself.
BANDWIDTHS_M = (300.0, 600.0)
#: Half-lives (in periods) of the exponentially decayed means.
HALF_LIVES = {"month": (1, 3, 12), "week": (1, 4, 13, 52), "day": (1, 7, 28, 182)}
#: The time spans of the related events' features (a subset: each adds three columns).
RELATED_SPANS = ("all", "year", "half_life_1", "half_life_13")
_YEAR = {"month": 12, "week": 52, "day": 364}
#: Raster cells convolved at once (periods x bounding-box cells).
_CHUNK_CELLS = 2_000_000


def smoothed_stack(grid: Grid, counts: np.ndarray, bandwidth_m: float) -> np.ndarray:
    """(P, N) counts each convolved with a quartic kernel of ``bandwidth_m`` (mass leaving the area is lost)."""
    kernel = quartic_kernel(bandwidth_m, grid.size_m)[None]
    if kernel.size == 1:
        return counts
    out = np.empty(counts.shape, np.float32)
    # a few periods at a time: the FFT works in complex doubles over the whole bounding raster (a chunk
    # of 36 months of Leicestershire at 150 m took 4.5 GB at peak)
    chunk = max(1, _CHUNK_CELLS // (grid.nx * grid.ny))
    for start in range(0, counts.shape[0], chunk):
        raster = grid.to_raster(counts[start:start + chunk])
        out[start:start + chunk] = grid.from_raster(signal.fftconvolve(raster, kernel, mode="same", axes=(1, 2)))
    return out


def time_summaries(stack: np.ndarray, horizon: str, first: int = 0) -> list[np.ndarray]:
    """For (P, N) values: (P + 1 - first, N) float32 arrays whose row ``p - first`` summarises rows before
    ``p`` (all-history mean, last-year mean, decayed means).

    Each summary is cut to rows ``first..P`` and made float32 as soon as it is computed: holding all of
    them in float64 over every period was most of a cold Portland forecast's peak (826 MB)."""
    periods = stack.shape[0]
    p = np.arange(first, periods + 1, dtype=np.float64)[:, None]
    cum = np.vstack([np.zeros((1, stack.shape[1])), np.cumsum(stack, axis=0, dtype=np.float64)])
    year = _YEAR[horizon]
    back = np.maximum(np.arange(first, periods + 1) - year, 0)
    out = [(cum[first:] / np.maximum(p, 1)).astype(np.float32),
           ((cum[first:] - cum[back]) / np.clip(p, 1, year)).astype(np.float32)]
    del cum
    # time along the last axis, contiguous: the recursive filter runs twice as fast that way
    padded = np.hstack([stack.T, np.zeros((stack.shape[1], 1), stack.dtype)])
    for half_life in HALF_LIVES[horizon]:
        r = 0.5 ** (1 / half_life)
        # E[p] = r E[p-1] + (1-r) x[p-1], divided by the weight the short history could carry (1 - r^p)
        decayed = signal.lfilter(np.array([0.0, 1 - r], np.float32), np.array([1.0, -r], np.float32), padded)
        out.append((decayed[:, first:].T / np.maximum(1 - r**p, 1e-9)).astype(np.float32))
    return out


@dataclass
class FeatureTable:
    """Every feature of every (period, cell) from period ``first`` to the origin, as (P + 1 - first, N)
    arrays; ``rows`` gathers some by period number."""

    columns: list[np.ndarray]
    names: list[str]
    season: np.ndarray  #: (P + 1 - first,) period of the year
    covariates: np.ndarray | None
    first: int = 0

    def rows(self, periods: np.ndarray, cells: np.ndarray) -> np.ndarray:
        at = np.asarray(periods) - self.first
        if at.size and at.min() < 0:
            raise IndexError(f"period {int(at.min()) + self.first} is before the table's first, {self.first}")
        out = [c[at, cells] for c in self.columns] + [self.season[at].astype(np.float32)]
        if self.covariates is not None:
            out += list(self.covariates[cells].T.astype(np.float32))
        return np.column_stack(out)

    def monotonic(self) -> list[int]:
        """Constraints for the trees: more events before (near, long ago or recent) never lowers the forecast;
        the season and the covariates are free (one of the trees' two candidates, see
        :meth:`~safertogether.forecast.models.learned.BoostedTrees.candidates`)."""
        free = 1 + (0 if self.covariates is None else self.covariates.shape[1])
        return [1] * len(self.columns) + [0] * free

    def period(self, p: int) -> np.ndarray:
        """All cells of period ``p``."""
        cells = np.arange(self.columns[0].shape[1])
        return self.rows(np.full(len(cells), p), cells)


def feature_table(history: History, first: int = 0, related: bool = True) -> FeatureTable:
    """Features of periods ``first``..origin (inclusive) from the counts before the origin (only the
    periods a model trains on and forecasts are kept: memory), with the related events' where the history
    has some and ``related`` is set."""
    series, grid = history.series, history.series.grid
    counts = history.counts.astype(np.float32)
    horizon = series.horizon
    columns, names = _densities(grid, counts, horizon, first, "", None)
    if related and history.related_counts is not None:
        more, more_names = _densities(grid, history.related_counts.astype(np.float32), horizon, first, "related_",
                                      RELATED_SPANS)
        columns, names = columns + more, names + more_names
    year = _YEAR[horizon]
    year_ago = np.full((counts.shape[0] + 1, grid.n), np.nan, np.float32)
    if counts.shape[0] >= year:
        year_ago[year:] = counts[: counts.shape[0] + 1 - year]
    columns.append(year_ago[first:])
    names.append("year_ago")
    season = np.array([_season_of(series, p) for p in range(first, counts.shape[0] + 1)], np.float32)
    return FeatureTable(columns, [*names, "season"], season, history.covariates, first)


def _densities(grid: Grid, counts: np.ndarray, horizon: str, first: int, prefix: str,
               spans: tuple[str, ...] | None) -> tuple[list[np.ndarray], list[str]]:
    """The counts and their kernel densities, each summarised over every time span (or ``spans``)."""
    columns, names = [], []
    for bandwidth in (0.0, *BANDWIDTHS_M):
        stack = counts if bandwidth == 0 else smoothed_stack(grid, counts, bandwidth)
        for label, values in zip(_span_names(horizon), time_summaries(stack, horizon, first), strict=True):
            if spans is None or label in spans:
                columns.append(values)
                names.append(f"{prefix}{label}@{bandwidth:g}m")
    return columns, names


def quantile_edges(x: np.ndarray, bins: int = 255) -> list[np.ndarray]:
    """Per column of ``x`` (the rows the trees are fitted on), at most ``bins - 1`` edges at its quantiles
    (NaN left out).

    Unweighted on purpose: the fitted rows hold every cell-period that had an event and a sample of the
    rest, so their quantiles put most edges among the busy cells, whose order is every small-area hit rate
    (weighted by the zeros' sampling weights, the edges fell among the zeros and the busiest 0.5% of
    Leicestershire's cells shared a bin: hit rate 0.26 against 0.31 for the long-run mean). The trees'
    own binning does the same but slowly with weights (a sort per edge per column: 6 of a forecast's
    12 s); here it is one sort per column, and the trees then take the few distinct values as they are."""
    edges = []
    for column in x.T:
        values = np.sort(column[~np.isnan(column)])
        if len(values) == 0:
            edges.append(np.array([], np.float32))
            continue
        at = (len(values) * np.arange(1, bins) / bins).astype(np.int64)
        edges.append(np.unique(values[np.minimum(at, len(values) - 1)]))
    return edges


def binned(x: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """``x`` replaced by the index of its bin between ``edges`` (NaN kept: the trees learn where it goes)."""
    out = np.empty(x.shape, np.float32)
    for j, cut in enumerate(edges):
        out[:, j] = np.where(np.isnan(x[:, j]), np.nan, np.searchsorted(cut, x[:, j], side="left"))
    return out


def _span_names(horizon: str) -> list[str]:
    return ["all", "year", *(f"half_life_{h}" for h in HALF_LIVES[horizon])]


def _season_of(series: object, p: int) -> float:
    start = series.period_start(min(p, series.periods - 1))  # type: ignore[attr-defined]
    horizon = series.horizon  # type: ignore[attr-defined]
    if horizon == "month":
        return float(start.month)
    if horizon == "week":
        return float(min(start.isocalendar()[1], 52))
    return float(start.weekday())
