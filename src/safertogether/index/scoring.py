"""From indicator values to scores: normalise against the frozen base period, aggregate, rank.

The Wijkprofiel way (the default): each indicator becomes ``centre + points_per_sd x z``, with z its
standard score against the areas' base-period mean and standard deviation, signed so that higher is
safer; themes average their indicators, each half (objective, subjective) averages its themes, and the
index weighs the halves (50/50). The base period's mean and standard deviation are frozen in the edition,
so later periods move against a fixed yardstick and the base-period mean of every indicator is exactly
``centre``.

The alternatives (OECD/JRC *Handbook on Constructing Composite Indicators*, 2008, step 7): standard
scores of log rates, percentiles of the base distribution, min-max; geometric rather than arithmetic
means; other weights of the halves; counts rather than harm; raw rather than smoothed rates. Each area's
rank under every combination gives its rank range.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from safertogether.index.config import IndexConfig
from safertogether.index.indicators import Indicator


@dataclass(frozen=True)
class Scenario:
    normalisation: str = "zscore"
    halves: tuple[float, float] = (0.5, 0.5)
    aggregation: str = "arithmetic"
    measure: str = "configured"
    rates: str = "smoothed"


@dataclass
class Base:
    """The frozen yardstick of one indicator: its values over the areas in the base period."""

    values: np.ndarray
    _summaries: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    def summary(self, transform: str) -> dict[str, float]:
        """Mean, standard deviation, minimum and maximum of the (transformed) base values; stored with the edition."""
        if transform not in self._summaries:
            self._summaries[transform] = self._summary(transform)
        return self._summaries[transform]

    def _summary(self, transform: str) -> dict[str, float]:
        found = _transformed(self.values, transform)
        if not found.size:
            return {"mean": np.nan, "sd": np.nan, "min": np.nan, "max": np.nan, "areas": 0}
        return {"mean": float(found.mean()), "sd": float(found.std()), "min": float(found.min()),
                "max": float(found.max()), "areas": int(found.size)}


def base_of(values: np.ndarray) -> Base:
    return Base(np.sort(values[np.isfinite(values)]))


def _transformed(values: np.ndarray, transform: str) -> np.ndarray:
    return np.log1p(np.maximum(values, 0)) if transform == "log" else values


def normalised(values: np.ndarray, base: Base, direction: float, normalisation: str, transform: str,
               centre: float, points: float) -> np.ndarray:
    """Scores of one indicator (areas x periods) on the index scale, higher safer."""
    if normalisation == "zscore_log":
        normalisation, transform = "zscore", "log"
    n = base.values.size
    if not n:
        return np.full(values.shape, np.nan)
    if normalisation == "percentile":
        below = np.searchsorted(base.values, values, side="left")
        upto = np.searchsorted(base.values, values, side="right")
        pct = np.clip((below + upto) / (2.0 * n), 0.5 / n, 1 - 0.5 / n)
        z = stats.norm.ppf(pct)
    else:
        t = _transformed(values, transform)
        summary = base.summary(transform)
        if normalisation == "minmax":
            spread = summary["max"] - summary["min"]
            z = (t - summary["mean"]) / spread * 4 if spread > 0 else np.zeros(values.shape)
        else:
            z = (t - summary["mean"]) / summary["sd"] if summary["sd"] > 0 else np.zeros(values.shape)
    return np.where(np.isfinite(values), centre + points * direction * z, np.nan)


def weighted_mean(parts: list[np.ndarray], weights: list[float], aggregation: str = "arithmetic") -> np.ndarray:
    """The weighted mean of the parts present (NaN where none is); geometric means of scores floored at 1."""
    if not parts:
        return np.array([])
    stacked = np.stack(parts)
    w = np.array(weights, dtype=float).reshape((-1,) + (1,) * (stacked.ndim - 1)) * np.isfinite(stacked)
    total = w.sum(axis=0)
    values = np.log(np.maximum(np.nan_to_num(stacked, nan=1.0), 1.0)) if aggregation == "geometric" \
        else np.nan_to_num(stacked)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (values * w).sum(axis=0) / total
    mean = np.exp(mean) if aggregation == "geometric" else mean
    return np.where(total > 0, mean, np.nan)


@dataclass
class Scores:
    """Scores under one scenario: per indicator, per theme and half, and the index (areas x periods)."""

    indicators: dict[str, np.ndarray]
    themes: dict[tuple[str, str], np.ndarray]  # (theme, part) -> scores
    objective: np.ndarray
    subjective: np.ndarray
    index: np.ndarray


def score(indicators: list[Indicator], bases: dict[tuple[str, str, str], Base], config: IndexConfig,
          scenario: Scenario) -> Scores:
    """The index under a scenario; ``bases`` holds each indicator's base per (name, measure, rates)."""
    scale = config.scale
    transform = config.transform
    by_indicator = {}
    for ind in indicators:
        base = bases[(ind.name, scenario.measure, scenario.rates)]
        by_indicator[ind.name] = normalised(ind.value(scenario.measure, scenario.rates), base, ind.direction,
                                            scenario.normalisation, transform, scale.centre, scale.points_per_sd)
    themes: dict[tuple[str, str], np.ndarray] = {}
    theme_weights: dict[tuple[str, str], float] = {}
    for theme in config.themes:
        for part in ("objective", "subjective"):
            members = [i for i in indicators if i.theme == theme.name and i.part == part]
            if members:
                themes[(theme.name, part)] = weighted_mean([by_indicator[i.name] for i in members],
                                                           [i.weight for i in members], scenario.aggregation)
                theme_weights[(theme.name, part)] = theme.weight
    halves = {}
    for part in ("objective", "subjective"):
        keys = [k for k in themes if k[1] == part]
        shape = indicators[0].value().shape if indicators else (0, 0)
        halves[part] = weighted_mean([themes[k] for k in keys], [theme_weights[k] for k in keys],
                                     scenario.aggregation) if keys else np.full(shape, np.nan)
    index = weighted_mean([halves["objective"], halves["subjective"]], list(scenario.halves), scenario.aggregation)
    return Scores(by_indicator, themes, halves["objective"], halves["subjective"], index)


def ranks(index: np.ndarray) -> np.ndarray:
    """Rank of each area within each period, 1 = safest (highest score); 0 where there is no score."""
    out = np.zeros(index.shape, dtype=np.int64)
    for p in range(index.shape[1]):
        present = np.isfinite(index[:, p])
        if present.any():
            out[present, p] = stats.rankdata(-index[present, p], method="min").astype(np.int64)
    return out


def scenarios(config: IndexConfig) -> list[Scenario]:
    """The default scenario first, then every combination of the configured alternatives."""
    default = Scenario("zscore", (config.halves.objective, config.halves.subjective), "arithmetic",
                       "configured", config.rates)
    s = config.sensitivity
    grid = [Scenario(n, (float(h[0]), float(h[1])), a, m, r) for n, h, a, m, r in
            itertools.product(s.normalisations, s.halves, s.aggregations, s.measures, s.rates)]
    return [default, *[g for g in grid if g != default]]


def rank_ranges(indicators: list[Indicator], bases: dict[tuple[str, str, str], Base], config: IndexConfig,
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """Each area's best and worst rank over all scenarios (per period), and how many scenarios were run."""
    runs = scenarios(config)
    low = high = None
    for scenario in runs:
        found = ranks(score(indicators, bases, config, scenario).index)
        masked = np.where(found > 0, found, np.iinfo(np.int64).max)
        low = masked if low is None else np.minimum(low, masked)
        high = found if high is None else np.maximum(high, found)
    assert low is not None and high is not None
    return np.where(high > 0, low, 0), high, len(runs)
