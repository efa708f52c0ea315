"""Why a cell is flagged, in plain words: recent events nearby, its long-run level, and the near repeat.

Place-based only: the explanation speaks of events and places, never of people.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from safertogether.forecast.grid import neighbour_sum
from safertogether.forecast.models.base import History
from safertogether.forecast.models.etas import EtasFit, etas_expected


@dataclass
class _Context:
    """What every explanation draws on, computed once over the grid."""

    own_recent: np.ndarray  #: events in each cell in the recent span
    level: np.ndarray  #: mean events per period over the history
    etas: np.ndarray  #: the fitted near-repeat model's expected events
    background: np.ndarray  #: its long-run (background) part
    span: str
    unit: str
    near_repeat: str


def _context(history: History, fit: EtasFit, what: str, recent_steps: int | None) -> _Context:
    series, grid = history.series, history.series.grid
    step, cell = history.events()
    start = history.start_step
    recent_steps = recent_steps or (1 if series.base == "month" else 28)
    own_recent = np.bincount(cell[step >= start - recent_steps], minlength=grid.n).astype(float)
    return _Context(own_recent, history.counts.mean(axis=0),
                    etas_expected(fit, grid, step, cell, start, history.steps_ahead),
                    fit.mu * history.steps_ahead,
                    "last month" if series.base == "month" else f"last {recent_steps} days",
                    series.horizon, fit.in_words(what, grid.size_m))


def _near_repeat_share(context: _Context, cells: np.ndarray) -> float:
    expected = float(np.sum(context.etas[cells]))
    return 0.0 if expected <= 0 else max(0.0, 1 - float(np.sum(context.background[cells])) / expected)


def explain_cells(history: History, cells: np.ndarray, fit: EtasFit, *, what: str = "an event",
                  recent_steps: int | None = None) -> list[dict[str, Any]]:
    """One explanation per cell in ``cells`` (indices), from the history before the forecast period."""
    grid = history.series.grid
    context = _context(history, fit, what, recent_steps)
    near_recent = context.own_recent + neighbour_sum(grid, context.own_recent)
    level = context.level
    percentile = (np.argsort(np.argsort(level)) + 1) / grid.n
    ids = grid.ids()
    out = []
    for c in np.asarray(cells):
        share = _near_repeat_share(context, np.array([c]))
        reasons = [f"{int(near_recent[c])} events in or next to this cell in the {context.span} "
                   f"({int(context.own_recent[c])} in it)",
                   f"a long-run level of {level[c]:.2f} events a {context.unit}, higher than {percentile[c]:.0%} "
                   "of cells",
                   f"about {share:.0%} of its expected risk comes from recent events nearby (near repeats)",
                   context.near_repeat]
        out.append({"cell": ids[c], "recent_in_cell": int(context.own_recent[c]),
                    "recent_nearby": int(near_recent[c]), "long_run_per_period": round(float(level[c]), 3),
                    "long_run_percentile": round(float(percentile[c]), 3),
                    "near_repeat_share": round(share, 3), "why": "; ".join(reasons) + "."})
    return out


def box_explainer(history: History, expected: np.ndarray, fit: EtasFit, *, what: str = "an event",
                  recent_steps: int | None = None) -> Callable[[np.ndarray], dict[str, Any]]:
    """A function giving a patrol box (its cell indices) its reason in plain words: the events forecast in it,
    the recent events there, its long-run share of the area's events against its share of the area, and how
    much of its risk is near repeats. The grid-wide work is done once, here."""
    grid = history.series.grid
    context = _context(history, fit, what, recent_steps)
    all_level = max(float(context.level.sum()), 1e-12)

    def explain(cells: np.ndarray) -> dict[str, Any]:
        cells = np.asarray(cells)
        forecast, recent = float(np.sum(expected[cells])), int(np.sum(context.own_recent[cells]))
        level = float(np.sum(context.level[cells]))
        share = _near_repeat_share(context, cells)
        reasons = [f"{forecast:.1f} events expected in this box next {context.unit}",
                   f"{recent} events in it in the {context.span}",
                   f"over the whole history {level:.1f} events a {context.unit}, {level / all_level:.1%} of the "
                   f"area's events on {len(cells) / grid.n:.2%} of its area",
                   f"about {share:.0%} of its expected risk comes from recent events nearby (near repeats)",
                   context.near_repeat]
        return {"expected_events": round(forecast, 3), "recent_events": recent,
                "long_run_per_period": round(level, 3), "near_repeat_share": round(share, 3),
                "why": "; ".join(reasons) + "."}

    return explain
