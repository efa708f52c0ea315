"""Hot-spot patrol plans: compact boxes weighted by expected harm, visited briefly and often.

The Koper curve (Koper 1995, Justice Quarterly 12:649): a 10-15 minute visit deters for well beyond
the visit, and longer visits add little, so a plan visits each box for ``visit_minutes`` roughly every
``revisit_minutes``. The number of boxes follows from the patrol hours: each box takes
``visits x (visit + travel)`` minutes a shift. Boxes are squares of a walkable size (default 300 m),
chosen greedily by expected harm (expected events x Cambridge Crime Harm Index weight), without overlap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from scipy import ndimage

from safertogether.errors import BadRequestError
from safertogether.forecast.grid import Grid


@dataclass
class PatrolSettings:
    hours: float  #: officer hours of patrol available in the shift
    shift_start: str = "07:00"
    shift_hours: float = 8.0
    visit_minutes: float = 12.0
    revisit_minutes: float = 120.0
    travel_minutes: float = 10.0  #: between boxes, on foot
    box_m: float = 300.0

    def check(self) -> None:
        problems = []
        if self.hours <= 0:
            problems.append("--hours must be positive")
        if not 5 <= self.visit_minutes <= 30:
            problems.append("--visit-minutes should be 10-15 (the Koper curve); 5-30 is accepted")
        if self.revisit_minutes < self.visit_minutes or self.shift_hours <= 0:
            problems.append("--revisit-minutes must exceed the visit and the shift must have hours")
        try:
            dt.datetime.strptime(self.shift_start, "%H:%M")
        except ValueError:
            problems.append(f"shift start '{self.shift_start}' is not HH:MM")
        if problems:
            raise BadRequestError("; ".join(problems))

    @property
    def visits(self) -> int:
        return max(1, int(self.shift_hours * 60 // self.revisit_minutes))

    @property
    def boxes(self) -> int:
        return max(1, int(self.hours * 60 // (self.visits * (self.visit_minutes + self.travel_minutes))))


def expected_harm(expected: np.ndarray, cell_harm_sum: np.ndarray, cell_events: np.ndarray,
                  shrink: float = 5.0) -> np.ndarray:
    """Expected harm per cell: expected events x the cell's mean harm per past event, shrunk to the overall mean
    (``shrink`` pseudo-events), so one grave past event does not make a cell's every future event grave."""
    overall = float(cell_harm_sum.sum() / max(cell_events.sum(), 1))
    per_event = (cell_harm_sum + shrink * overall) / (cell_events + shrink)
    return expected * per_event


def choose_boxes(grid: Grid, harm: np.ndarray, count: int, box_m: float) -> list[np.ndarray]:
    """``count`` non-overlapping square boxes of about ``box_m`` (cell indices each), most harm first."""
    width = max(1, int(round(box_m / grid.size_m)))
    raster = grid.to_raster(np.asarray(harm, np.float64))
    index = grid.to_raster(np.arange(grid.n, dtype=np.float64), fill=-1).astype(np.int64)
    taken = np.zeros(raster.shape, bool)
    boxes = []
    for _ in range(count):
        window = ndimage.uniform_filter(raster, size=width, mode="constant") * width * width
        window[ndimage.uniform_filter(taken.astype(np.float64), size=width, mode="constant") > 1e-9] = -1
        best = np.unravel_index(int(np.argmax(window)), window.shape)
        if window[best] <= 0:
            break
        y0, x0 = best[0] - width // 2, best[1] - width // 2
        ys, xs = slice(max(y0, 0), y0 + width), slice(max(x0, 0), x0 + width)
        cells = index[ys, xs].ravel()
        taken[ys, xs] = True
        boxes.append(cells[cells >= 0])
    return boxes


def _tour(centres: np.ndarray) -> list[int]:
    """A nearest-neighbour walking order of the boxes, from the first."""
    if len(centres) == 0:
        return []
    order, left = [0], set(range(1, len(centres)))
    while left:
        here = centres[order[-1]]
        nxt = min(left, key=lambda j: float(np.hypot(*(centres[j] - here))))
        order.append(nxt)
        left.remove(nxt)
    return order


def plan_shift(grid: Grid, harm: np.ndarray, settings: PatrolSettings, label: str = "shift") -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS84) of the shift's boxes with their visit times and expected harm."""
    settings.check()
    boxes = choose_boxes(grid, harm, settings.boxes, settings.box_m)
    total = float(np.sum(harm))
    cx, cy = grid.centres()
    centres = np.array([[cx[b].mean(), cy[b].mean()] for b in boxes]) if boxes else np.zeros((0, 2))
    order = _tour(centres)
    start = dt.datetime.combine(dt.date(2000, 1, 1), dt.datetime.strptime(settings.shift_start, "%H:%M").time())
    features = []
    for rank, b in enumerate(order):
        cells = boxes[b]
        polygon = shapely.union_all(grid.polygons(cells))
        lon_lat = _wgs84(grid, polygon)
        offset = rank * (settings.visit_minutes + settings.travel_minutes) % settings.revisit_minutes
        visits = [(start + dt.timedelta(minutes=offset + v * settings.revisit_minutes)).strftime("%H:%M")
                  for v in range(settings.visits)]
        box_harm = float(np.sum(harm[cells]))
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(lon_lat),
                         "properties": {"box": rank + 1, "cells": [grid.ids()[c] for c in cells] if len(cells) < 50 else
                                        len(cells), "expected_harm": round(box_harm, 3),
                                        "share_of_harm": round(box_harm / total, 4) if total else 0.0,
                                        "visits": visits, "visit_minutes": settings.visit_minutes,
                                        "planned_minutes": settings.visit_minutes * settings.visits}})
    covered = sum(f["properties"]["expected_harm"] for f in features)
    area = sum(len(b) for b in boxes) * grid.cell_area_km2
    return {"type": "FeatureCollection", "features": features,
            "properties": {"shift": label, "start": settings.shift_start, "hours": settings.hours,
                           "boxes": len(features), "visits_per_box": settings.visits,
                           "expected_share_of_harm": round(covered / total, 4) if total else 0.0,
                           "share_of_area": round(area / max(grid.n * grid.cell_area_km2, 1e-12), 5),
                           "note": "expected harm = forecast events x Cambridge Crime Harm Index days; a police.uk "
                                   "category hides a wide range of harm"}}


def _wgs84(grid: Grid, geometry: shapely.Geometry) -> shapely.Geometry:
    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(grid.to_wgs84(xy[:, 0], xy[:, 1]))

    return shapely.transform(geometry, move)
