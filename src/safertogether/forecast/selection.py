"""Choosing, before the test span, which model to trust and which baseline it must beat; then the headline.

A backtest that picks its best baseline, or its own best model, by looking at the test windows
flatters whichever it picks. Here both choices are made on the tuning windows only (the periods just
before the test span, where each model's parameters were also chosen): the best baseline is the
baseline with the highest mean hit rate there, and "our model" the non-baseline model with the
highest. The ensemble's weights are fitted on those same windows, so its tuning score is
cross-fitted (weights from one half of the windows, scored on the other, both ways round) to be
no more flattering than the others'.

The headline then compares the chosen model with the best baseline, with open_cp's all-history counts
(the issue's anchor) and with the previous period and KDE, window by window on the test span: a paired
bootstrap interval of the difference in hit rate, and whether the two marginal intervals overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from safertogether.forecast import metrics

#: Baselines every chosen model is also set against, beside the best one (when they were run).
REFERENCES = ("longrun_all", "previous", "kde")


def pick(scores: dict[str, float], names: Sequence[str]) -> str | None:
    """The name among ``names`` with the highest tuning score (None when none was run)."""
    present = [n for n in names if n in scores and np.isfinite(scores[n])]
    return max(present, key=lambda n: scores[n]) if present else None


def cross_fitted_score(forecasts: Sequence[np.ndarray], actuals: Sequence[np.ndarray],
                       fit: Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], np.ndarray],
                       score: Callable[[np.ndarray, int], float]) -> float:
    """Mean score of weights fitted on one half of the windows and applied to the other, both ways.

    ``forecasts[w]`` is (members, N) for window ``w``; ``score(expected, w)`` scores window ``w``.
    """
    n = len(forecasts)
    if n < 2:
        return float("nan")
    halves = (list(range(0, n // 2)), list(range(n // 2, n)))
    values = []
    for fit_on, score_on in (halves, halves[::-1]):
        weights = fit([forecasts[w] for w in fit_on], [actuals[w] for w in fit_on])
        values += [score(weights @ forecasts[w], w) for w in score_on]
    return float(np.mean(values))


def headline(chosen: str | None, best_baseline: str | None, per_window: dict[str, dict[str, np.ndarray]],
             labels: Sequence[str], rng: np.random.Generator, draws: int) -> dict[str, Any] | None:
    """The chosen model against the best baseline and the reference baselines, at every coverage."""
    if chosen is None or chosen not in per_window:
        return None
    references = [r for r in dict.fromkeys([best_baseline, *REFERENCES]) if r and r in per_window and r != chosen]
    ours = per_window[chosen]["hit_rate"]
    out: dict[str, Any] = {"model": chosen, "best_baseline": best_baseline, "against": {}}
    for ref in references:
        theirs = per_window[ref]["hit_rate"]
        rows = []
        for j, label in enumerate(labels):
            diff = ours[:, j] - theirs[:, j]
            ci_ours = metrics.bootstrap_ci(ours[:, j], rng, draws)
            ci_theirs = metrics.bootstrap_ci(theirs[:, j], rng, draws)
            low, high = metrics.bootstrap_ci(diff, rng, draws)
            rows.append({"coverage": label, "ours": _r(np.nanmean(ours[:, j])), "ours_ci": [_r(v) for v in ci_ours],
                         "theirs": _r(np.nanmean(theirs[:, j])), "theirs_ci": [_r(v) for v in ci_theirs],
                         "difference": _r(np.nanmean(diff)), "difference_ci": [_r(low), _r(high)],
                         "paired_better": bool(low > 0), "intervals_overlap": _overlap(ci_ours, ci_theirs)})
        out["against"][ref] = rows
    return out


def _overlap(one: tuple[float, float], other: tuple[float, float]) -> bool:
    return not (one[0] > other[1] or other[0] > one[1])


def _r(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 5)
