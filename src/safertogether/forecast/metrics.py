"""How good a forecast was: hit rate, PAI, PEI*, log score and calibration, with bootstrap intervals.

- hit rate: the share of the period's events in the flagged cells;
- PAI (Chainey, Tompson and Uhlig 2008): hit rate divided by the share of the study area flagged;
- PEI* (as the NIJ 2017 Real-Time Crime Forecasting Challenge scored it): the events in the flagged
  cells divided by the most any choice of the same number of cells could have caught.

Cells are ranked by expected count; equal counts are ordered at random (seeded), so that a model that
says "zero" for most cells does not gain from the order cells happen to be stored in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
from scipy import special

COVERAGES: Final = (0.005, 0.01, 0.02, 0.05, 0.10)
#: Coverage levels of the curves in the report.
CURVE: Final = np.unique(np.concatenate([np.linspace(0.001, 0.02, 20), np.linspace(0.02, 0.3, 29)]))
#: Floor under an expected count in the log score (a zero forecast of a cell that had an event would be -inf).
FLOOR: Final = 1e-4


def ranking(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cell indices from the highest expected count down, ties in random order."""
    return np.lexsort((rng.random(len(expected)), -np.asarray(expected)))


def cells_for(coverage: float, n: int) -> int:
    return max(1, int(round(coverage * n)))


def window_scores(expected: np.ndarray, actual: np.ndarray, rng: np.random.Generator,
                  coverages: Sequence[float] = COVERAGES, boxes: int | None = None) -> dict[str, np.ndarray]:
    """Hit rate, PAI and PEI* at each coverage (and for ``boxes`` cells), the curve, and the log score."""
    n, total = len(actual), float(actual.sum())
    order = ranking(expected, rng)
    caught = np.concatenate([[0.0], np.cumsum(actual[order])])
    best = np.concatenate([[0.0], np.cumsum(np.sort(actual)[::-1])])
    counts = [cells_for(c, n) for c in coverages] + ([boxes] if boxes else [])
    k = np.minimum(np.array(counts), n)
    hit = caught[k] / total if total else np.full(len(k), np.nan)
    pei = np.where(best[k] > 0, caught[k] / np.maximum(best[k], 1e-12), np.nan)
    curve_k = np.array([cells_for(c, n) for c in CURVE])
    lam = np.maximum(np.asarray(expected, np.float64), FLOOR)
    log_score = np.sum(actual * np.log(lam) - lam - special.gammaln(actual + 1)) / n
    return {"hit_rate": hit, "pai": hit / (k / n), "pei_star": pei,
            "curve": caught[curve_k] / total if total else np.full(len(curve_k), np.nan),
            "log_score": np.array([log_score]), "expected_total": np.array([float(np.sum(expected))]),
            "actual_total": np.array([total])}


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, draws: int = 2000,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean over windows, resampling windows (axis 0) with replacement."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    picks = rng.integers(0, len(values), size=(draws, len(values)))
    means = values[picks].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def calibration(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean expected vs mean observed count in bins of expected count (deciles of the non-zero forecasts,
    plus the cells forecast as zero)."""
    expected, actual = np.ravel(expected), np.ravel(actual)
    edges = np.unique(np.quantile(expected[expected > 0], np.linspace(0, 1, bins + 1))) if (expected > 0).any() \
        else np.array([0.0])
    which = np.searchsorted(edges[1:-1], expected, side="right") if len(edges) > 2 else np.zeros(len(expected), int)
    which = np.where(expected > 0, which + 1, 0)
    out = []
    for b in np.unique(which):
        sel = which == b
        out.append({"cells": int(sel.sum()), "expected": float(expected[sel].mean()),
                    "observed": float(actual[sel].mean())})
    return out
