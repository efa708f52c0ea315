"""Why a cell is flagged, in plain words: recent events nearby, its long-run level, and the near repeat.

Place-based only: the explanation speaks of events and places, never of people.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safertogether.forecast.grid import neighbour_sum
from safertogether.forecast.models.base import History
from safertogether.forecast.models.etas import EtasFit, etas_expected


def explain_cells(history: History, cells: np.ndarray, fit: EtasFit, *, what: str = "an event",
                  recent_steps: int | None = None) -> list[dict[str, Any]]:
    """One explanation per cell in ``cells`` (indices), from the history before the forecast period."""
    series, grid = history.series, history.series.grid
    step, cell = history.events()
    start = history.start_step
    recent_steps = recent_steps or (1 if series.base == "month" else 28)
    recent = step >= start - recent_steps
    own_recent = np.bincount(cell[recent], minlength=grid.n).astype(float)
    near_recent = own_recent + neighbour_sum(grid, own_recent)
    level = history.counts.mean(axis=0)
    percentile = (np.argsort(np.argsort(level)) + 1) / grid.n
    expected = etas_expected(fit, grid, step, cell, start, history.steps_ahead)
    background = fit.mu * history.steps_ahead
    span = "last month" if series.base == "month" else f"last {recent_steps} days"
    unit = series.horizon
    near_repeat = fit.in_words(what, grid.size_m)
    ids = grid.ids()
    out = []
    for c in np.asarray(cells):
        share = 0.0 if expected[c] <= 0 else float(1 - background[c] / expected[c])
        reasons = [f"{int(near_recent[c])} events in or next to this cell in the {span} "
                   f"({int(own_recent[c])} in it)",
                   f"a long-run level of {level[c]:.2f} events a {unit}, higher than {percentile[c]:.0%} of cells",
                   f"about {share:.0%} of its expected risk comes from recent events nearby (near repeats)",
                   near_repeat]
        out.append({"cell": ids[c], "recent_in_cell": int(own_recent[c]), "recent_nearby": int(near_recent[c]),
                    "long_run_per_period": round(float(level[c]), 3),
                    "long_run_percentile": round(float(percentile[c]), 3),
                    "near_repeat_share": round(share, 3), "why": "; ".join(reasons) + "."})
    return out
