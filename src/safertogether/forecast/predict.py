"""Forecasting the period after the data ends, and the displacement check, from files.

A forecast here is what a backtest measured: the same preparation and models. The flagged cells carry
their explanation (:mod:`safertogether.forecast.explain`).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from safertogether.errors import BadRequestError, MissingDataError
from safertogether.forecast.context import read_harm_weights
from safertogether.forecast.models import MODELS, History
from safertogether.forecast.models.etas import GridEtas
from safertogether.forecast.prepare import Inputs, Prepared, harm_per_cell, prepare
from safertogether.forecast.series import Horizon, Series
from safertogether.model.attribution import ATTRIBUTION

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse


def with_next_period(series: Series) -> Series:
    """The series with one more (empty) period after its last: the one to forecast."""
    last = int(series.edges[-1])
    if series.base == "month":
        length = 1
    elif series.horizon == "month":
        start = series.period_start(series.periods - 1)
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        length = calendar.monthrange(following.year, following.month)[1]
    else:
        length = 7 if series.horizon == "week" else 1
    return dataclasses.replace(series, edges=np.append(series.edges, last + length))


@dataclasses.dataclass
class Forecast:
    prepared: Prepared
    series: Series
    history: History
    expected: np.ndarray
    harm: np.ndarray  #: expected harm (expected events x the cell's harm per event) or the expected events
    etas: GridEtas
    model: str = "etas"


def forecast_next(inputs: Inputs, *, horizon: Horizon, cell_m: float, mask: str | Path | None = None,
                  near_m: float = 500.0, model: str = "etas", harm_weights: Path | None = None,
                  related: Sequence[str | Path] = ()) -> Forecast:
    """Expected events (and harm) per cell in the period after the data ends."""
    from safertogether.forecast.patrols import expected_harm

    if model not in MODELS or model == "ensemble":
        raise BadRequestError(f"--model must be one of {', '.join(m for m in MODELS if m != 'ensemble')}")
    prepared = prepare(inputs, horizon=horizon, cell_m=cell_m, mask=mask, near_m=near_m, related=related)
    series = with_next_period(prepared.series)
    history = History(series, series.periods - 1, related=prepared.related)
    etas = GridEtas()
    expected = etas.forecast(history) if model == "etas" else MODELS[model]().forecast(history)
    if model != "etas":
        etas.forecast(history)  # for the explanation's near-repeat parameters
    weights = read_harm_weights(harm_weights) if harm_weights else None
    harm_sum, events = harm_per_cell(prepared, weights)
    harm = expected_harm(expected, harm_sum, events) if weights else expected
    return Forecast(prepared, series, history, expected, harm, etas, model)


def predict_next(inputs: Inputs, *, horizon: Horizon, cell_m: float, mask: str | Path | None, near_m: float,
                 model: str, coverage: float, out: Path, harm_weights: Path | None = None,
                 warehouse: Warehouse | None = None, related: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Write a GeoJSON of the flagged cells (expected count, harm, why) and return a summary; with a
    ``warehouse``, keep it there too for the signed-in API (:mod:`safertogether.forecast.stored`)."""
    from safertogether.forecast.explain import explain_cells
    from safertogether.forecast.metrics import cells_for, ranking

    if not 0 < coverage <= 1:
        raise BadRequestError("--coverage is a share of the study area, between 0 and 1 (e.g. 0.02)")
    made = forecast_next(inputs, horizon=horizon, cell_m=cell_m, mask=mask, near_m=near_m, model=model,
                         harm_weights=harm_weights, related=related)
    grid = made.series.grid
    flagged = ranking(made.harm, np.random.default_rng(0))[:cells_for(coverage, grid.n)]
    what = "a " + (inputs.categories[0].lower() if len(inputs.categories) == 1 else "crime")
    fit = made.etas.last_fit
    if fit is None:
        raise MissingDataError("the near-repeat model could not be fitted")
    why = explain_cells(made.history, flagged, fit, what=what)
    features = []
    for rank, (c, reason) in enumerate(zip(flagged, why, strict=True), start=1):
        polygon = grid.polygons(np.array([c]))[0]
        lon, lat = grid.to_wgs84(*np.asarray(polygon.exterior.coords).T)
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(shapely.Polygon(zip(lon, lat,
                                                                                                   strict=True))),
                         "properties": {"rank": rank, "expected": round(float(made.expected[c]), 4),
                                        "expected_harm": round(float(made.harm[c]), 3), **reason}})
    period = made.series.period_label(made.series.periods - 1)
    summary = {"period": period, "model": model, "cells": grid.n, "flagged": len(flagged),
               "expected_share": round(float(made.expected[flagged].sum() / max(made.expected.sum(), 1e-12)), 4),
               "near_repeat": fit.in_words(what, grid.size_m), "notes": made.prepared.notes}
    collection = {"type": "FeatureCollection", "features": features,
                  "properties": {**summary, "attribution": ATTRIBUTION["text"]}}
    out.write_text(json.dumps(collection), encoding="utf-8")
    if warehouse is not None:
        from safertogether.forecast.stored import store_output

        summary["stored_as"] = store_output(warehouse, "hotspots", collection, period=period, model=model)
    return summary


def displacement_from_files(inputs: Inputs, treated: Path, before_from: dt.date, after_from: dt.date,
                            after_to: dt.date, *, cell_m: float = 150.0) -> dict[str, Any]:
    """The displacement check with treated cells from polygons (any CRS) and periods given as dates.

    The period before is as long as ``before_from`` to ``after_from``; choose it as long as the one after.
    """
    from safertogether.forecast.displacement import displacement_check
    from safertogether.forecast.events import day_number
    from safertogether.forecast.grid import read_mask

    if not before_from < after_from <= after_to:
        raise BadRequestError("the dates must run --before-from < --after-from <= --after-to")
    prepared = prepare(inputs, horizon="month", cell_m=cell_m, near_m=1500.0)
    events, grid = prepared.events, prepared.grid
    area = read_mask(treated, events.crs)
    cx, cy = grid.centres()
    cells = np.flatnonzero(shapely.contains_xy(area, cx, cy))
    if len(cells) == 0:
        raise BadRequestError(f"{treated}: no {cell_m:g} m cell has its centre in the treated areas")
    cell = grid.cell_of(events.x, events.y)
    days = events.day
    counts = []
    for first, last in ((before_from, after_from), (after_from, after_to + dt.timedelta(days=1))):
        sel = (days >= day_number(first)) & (days < day_number(last)) & (cell >= 0)
        counts.append(np.bincount(cell[sel], minlength=grid.n).astype(float))
    return displacement_check(grid, counts[0], counts[1], cells)
