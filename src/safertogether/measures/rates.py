"""Rates that mean something: per 1,000 residents, with exact intervals, smoothing and funnel limits.

* Exact (Garwood) Poisson intervals for a count: an LSOA with 3 crimes has an interval 0.6-8.8, and
  saying so stops anyone over-reading it.
* Empirical-Bayes smoothing (Poisson-gamma, method of moments as in Marshall 1991, *Applied Statistics*
  40:283-294): each small area's rate is pulled towards its force's rate in proportion to how little its
  own count tells; both raw and smoothed rates are returned, never one in place of the other.
* Funnel-plot limits (Spiegelhalter 2005, *Statistics in Medicine* 24:1185-1202): an area is called
  different from its force only when its count lies outside the exact Poisson limits around the count the
  force's rate predicts for its residents (95% "warning", 99.8% "alarm" by default).
* Residents are a poor denominator where workers and visitors dominate (city centres, retail parks): such
  areas are flagged, by the rule in :func:`poor_denominator`, not silently ranked as the most dangerous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

PER: Final = 1000.0

#: Categories whose crimes follow footfall (shoppers, commuters, night-time visitors) more than residents.
FOOTFALL_CATEGORIES: Final = frozenset({"Shoplifting", "Theft from the person", "Other theft", "Bicycle theft"})


def garwood_interval(counts: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson limits of each count (Garwood 1936), as counts: ``(low, high)``; 0 has low 0."""
    from scipy import stats  # ~0.7 s to import: not at start-up (the API serves without it)

    k = np.asarray(counts, dtype=float)
    alpha = 1.0 - level
    low = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return low, high


@dataclass(frozen=True)
class Rates:
    """Per-area rates per 1,000 residents per year, with intervals, smoothing and the funnel verdict."""

    rate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    smoothed: np.ndarray
    expected: np.ndarray  #: the count the group's rate predicts for the area's residents
    funnel: np.ndarray  #: "higher", "lower" or "within" (the alarm limits), "no residents"


def rates(counts: np.ndarray, residents: np.ndarray, years: float | np.ndarray, groups: np.ndarray,
          level: float = 0.95, funnel_level: float = 0.998) -> Rates:
    """Rates of ``counts`` over ``residents`` x ``years``, smoothed and judged within each group (a force).

    Areas without residents get NaN rates and the verdict "no residents".
    """
    counts = np.asarray(counts, dtype=float)
    exposure = np.asarray(residents, dtype=float) * np.asarray(years, dtype=float) / PER
    has = exposure > 0
    safe = np.where(has, exposure, 1.0)
    low, high = garwood_interval(counts, level)
    smoothed = np.full(counts.shape, np.nan)
    expected = np.full(counts.shape, np.nan)
    for group in np.unique(groups):
        member = (groups == group) & has
        if member.any():
            smoothed[member], group_rate = _poisson_gamma(counts[member], exposure[member])
            expected[member] = group_rate * exposure[member]
    verdict = funnel_verdict(counts, expected, funnel_level)
    nan = np.where(has, 1.0, np.nan)
    return Rates(counts / safe * nan, low / safe * nan, high / safe * nan, smoothed, expected,
                 np.where(has, verdict, "no residents"))


def _poisson_gamma(counts: np.ndarray, exposure: np.ndarray) -> tuple[np.ndarray, float]:
    """Smoothed rates and the group rate: raw rates shrunk towards the group's by the prior's weight.

    Method of moments: prior mean m = sum(y)/sum(n); prior variance v = s2 - m/mean(n) (0 if negative, when
    the spread is no more than chance: every area then gets the group rate).
    """
    m = counts.sum() / exposure.sum()
    raw = counts / exposure
    s2 = float(np.sum(exposure * (raw - m) ** 2) / exposure.sum())
    v = max(0.0, s2 - m / exposure.mean())
    weight = v / (v + m / exposure) if v > 0 else np.zeros_like(raw)
    return m + weight * (raw - m), float(m)


def funnel_verdict(counts: np.ndarray, expected: np.ndarray, level: float = 0.998) -> np.ndarray:
    """"higher"/"lower" where the count lies outside the exact Poisson limits around ``expected``, else
    "within" (also where nothing is expected).

    A count is above the upper limit (the ``1 - a/2`` quantile) exactly when P(X >= count) <= a/2, and below
    the lower one exactly when P(X <= count) < a/2: tail probabilities, which SciPy computes at once, where
    quantiles are searched for (~10x slower for 35,000 areas).
    """
    from scipy import stats  # ~0.7 s to import: not at start-up (the API serves without it)

    known = np.isfinite(expected) & (expected > 0)
    mean = np.where(known, expected, 1.0)
    tail = (1 - level) / 2
    out = np.full(counts.shape, "within", dtype=object)
    out[known & (stats.poisson.sf(counts - 1, mean) <= tail)] = "higher"
    out[known & (stats.poisson.cdf(counts, mean) < tail)] = "lower"
    return out


def funnel_limits(expected: float, levels: tuple[float, ...] = (0.95, 0.998)) -> dict[str, tuple[int, int]]:
    """The exact Poisson funnel limits (counts) around an expected count, for drawing or explaining."""
    from scipy import stats  # ~0.7 s to import: not at start-up (the API serves without it)

    return {f"{level:.1%}": (int(stats.poisson.ppf((1 - level) / 2, expected)),
                             int(stats.poisson.ppf(1 - (1 - level) / 2, expected))) for level in levels}


@dataclass(frozen=True)
class DenominatorRule:
    """When residents are a poor denominator: crime far above what residents predict, led by footfall crime.

    An area is flagged when its crimes (all but anti-social behaviour) are at least ``ratio`` times what its
    force's rate predicts for its residents AND at least ``footfall_share`` of them are footfall categories
    (shoplifting, theft from the person, other theft, bicycle theft); or when they are at least
    ``extreme_ratio`` times that whatever the mix (a city centre's night-time violence is visitors' too); or
    when it has fewer than ``min_residents`` residents. A residential estate with much violence has a high
    ratio, but residents are its right denominator; a shopping street has a high ratio because visitors,
    not residents, are at risk. Leicester's city centre LSOA E01032867 (1,800 residents, ~2,800 crimes in
    2020: 25 times what its residents predict) is the kind of area this is for.
    """

    ratio: float = 3.0
    footfall_share: float = 0.35
    extreme_ratio: float = 10.0
    min_residents: int = 100


def poor_denominator(counts: np.ndarray, expected: np.ndarray, footfall: np.ndarray, residents: np.ndarray,
                     rule: DenominatorRule = DenominatorRule()) -> np.ndarray:
    """Whether each area's rate per resident misleads (see :class:`DenominatorRule`)."""
    counts = np.asarray(counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, counts / expected, np.inf)
        share = np.where(counts > 0, np.asarray(footfall, dtype=float) / counts, 0.0)
    return (((ratio >= rule.ratio) & (share >= rule.footfall_share)) | (ratio >= rule.extreme_ratio)
            | (np.asarray(residents) < rule.min_residents))
