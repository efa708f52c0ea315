"""Does a forecast send attention where harm is, or beyond it? Shares by deprivation decile.

For each IMD decile: its share of the flagged area (and of patrol minutes, for a plan) against its
share of the harm recorded in the same period. A decile whose share of attention exceeds its share of
harm by more than the tolerance (both relative and absolute) raises a warning: the forecast, or the
recording it learnt from, concentrates attention there beyond what harm justifies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    from safertogether.forecast.series import Series

#: Periods of recorded harm a patrol plan is judged against: the year before the planned period.
_YEAR: Final = {"month": 12, "week": 52, "day": 365}


def fairness_by_decile(flagged: np.ndarray, harm: np.ndarray, decile: np.ndarray, patrol: np.ndarray | None = None,
                       *, ratio: float = 1.25, points: float = 0.05) -> dict[str, Any]:
    """Shares of flagged cells, harm (and patrol time) per decile (0 = decile unknown), with warnings.

    Args:
        flagged: boolean per cell.
        harm: harm (or counts) per cell over the period judged.
        decile: IMD decile per cell (1 most deprived .. 10; 0 unknown).
        ratio, points: warn when attention share > ratio x harm share and exceeds it by ``points``.
    """
    flagged = np.asarray(flagged, np.float64)  # booleans, or how often each cell was flagged
    rows, warnings = [], []
    total_flag, total_harm = max(float(flagged.sum()), 1e-12), max(float(np.sum(harm)), 1e-12)
    total_patrol = float(np.sum(patrol)) if patrol is not None else 0.0
    for d in range(0, 11):
        sel = decile == d
        if not sel.any():
            continue
        row = {"decile": d, "cells": int(sel.sum()), "flagged_share": round(float(flagged[sel].sum()) / total_flag, 4),
               "harm_share": round(float(np.sum(harm[sel])) / total_harm, 4)}
        if patrol is not None and total_patrol > 0:
            row["patrol_share"] = round(float(np.sum(patrol[sel])) / total_patrol, 4)
        rows.append(row)
        for what in ("flagged_share", "patrol_share"):
            share = row.get(what)
            if share is not None and d > 0 and share > ratio * row["harm_share"] and share - row["harm_share"] > points:
                label = "flagged area" if what == "flagged_share" else "patrol time"
                warnings.append(f"IMD decile {d}: {share:.0%} of the {label} but {row['harm_share']:.0%} of the harm; "
                                "attention there goes beyond what harm justifies")
    return {"deciles": rows, "warnings": warnings}


def patrol_fairness(series: Series, plans: list[dict[str, Any]], deciles: np.ndarray,
                    harm_weights: dict[str, float] | None) -> dict[str, Any]:
    """A patrol plan's share of patrol time (and of boxed area) by IMD decile against the share of the harm
    recorded in the year before the planned period, with the warnings of :func:`fairness_by_decile`.

    ``series`` holds the history only (not the planned period); ``plans`` are :func:`plan_shift`'s.
    """
    from safertogether.forecast.context import harm_of
    from safertogether.forecast.patrols import minutes_per_cell

    first = int(series.edges[max(0, series.periods - _YEAR[series.horizon])])
    recent = series.step >= first
    harm = np.bincount(series.cell[recent], weights=harm_of(series.category[recent], harm_weights),
                       minlength=series.grid.n)
    minutes = minutes_per_cell(series.grid, plans)
    result = fairness_by_decile(minutes > 0, harm, deciles, patrol=minutes)
    return {"harm": "Cambridge Crime Harm Index days" if harm_weights else "event counts",
            "harm_from": series.period_label(series.periods - min(series.periods, _YEAR[series.horizon])),
            "harm_to": series.period_label(series.periods - 1), "patrol_minutes": round(float(minutes.sum()), 1),
            **result}
