"""Hot-spot patrol plans: compact boxes weighted by expected harm, visited briefly and often.

The Koper curve (Koper 1995, Justice Quarterly 12:649): a 10-15 minute visit deters for well beyond
the visit, and longer visits add little, so a plan visits each box for ``visit_minutes`` roughly every
``revisit_minutes``. The number of boxes follows from the patrol hours: each box takes
``visits x (visit + travel)`` minutes a shift. Boxes are squares of a walkable size (default 300 m),
chosen greedily by expected harm (expected events x Cambridge Crime Harm Index weight), without overlap.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from scipy import ndimage

from safertogether.errors import BadRequestError
from safertogether.forecast.grid import Grid

if TYPE_CHECKING:
    from safertogether.forecast.predict import Forecast
    from safertogether.store.warehouse import Warehouse


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


def plan_shift(grid: Grid, harm: np.ndarray, settings: PatrolSettings, label: str = "shift",
               explain: Callable[[np.ndarray], dict[str, Any]] | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS84) of the shift's boxes with their visit times and expected harm, and
    each box's reason in plain words when ``explain`` (see :func:`~safertogether.forecast.explain.box_explainer`)
    is given."""
    settings.check()
    boxes = choose_boxes(grid, harm, settings.boxes, settings.box_m)
    total = float(np.sum(harm))
    cx, cy = grid.centres()
    centres = np.array([[cx[b].mean(), cy[b].mean()] for b in boxes]) if boxes else np.zeros((0, 2))
    order = _tour(centres)
    start = dt.datetime.combine(dt.date(2000, 1, 1), dt.datetime.strptime(settings.shift_start, "%H:%M").time())
    ids = grid.ids()
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
                         "properties": {"box": rank + 1, "cells": [ids[c] for c in cells],
                                        "expected_harm": round(box_harm, 3),
                                        "share_of_harm": round(box_harm / total, 4) if total else 0.0,
                                        "visits": visits, "visit_minutes": settings.visit_minutes,
                                        "planned_minutes": settings.visit_minutes * settings.visits,
                                        **(_box_why(explain(cells), rank, box_harm, total) if explain else {})}})
    covered = sum(f["properties"]["expected_harm"] for f in features)
    area = sum(len(b) for b in boxes) * grid.cell_area_km2
    return {"type": "FeatureCollection", "features": features,
            "properties": {"shift": label, "start": settings.shift_start, "hours": settings.hours,
                           "boxes": len(features), "visits_per_box": settings.visits,
                           "expected_share_of_harm": round(covered / total, 4) if total else 0.0,
                           "share_of_area": round(area / max(grid.n * grid.cell_area_km2, 1e-12), 5),
                           "note": "expected harm = forecast events x Cambridge Crime Harm Index days; a police.uk "
                                   "category hides a wide range of harm"}}


def _box_why(reason: dict[str, Any], rank: int, box_harm: float, total: float) -> dict[str, Any]:
    """The explainer's reason with where the box stands in the plan put first."""
    chosen = f"box {rank + 1} of the plan: {box_harm / total:.1%} of the forecast's expected harm" if total else ""
    return {**reason, "why": f"{chosen}; {reason['why']}" if chosen else reason["why"]}


def write_plans(made: Forecast, shifts: list[PatrolSettings], out: Path, *, deciles: np.ndarray | None = None,
                harm_weights: dict[str, float] | None = None, warehouse: Warehouse | None = None) -> dict[str, Any]:
    """A plan per shift from a forecast, written to ``out`` (a GeoJSON each and a printable map), with the
    patrol time by deprivation decile against harm when ``deciles`` are given; kept in ``warehouse`` if given.

    Returns the summary: the period, model, each shift's figures and the fairness check (or None).
    """
    from safertogether.forecast.explain import box_explainer
    from safertogether.forecast.fairness import patrol_fairness

    what = "a crime" if made.series.base == "month" else "an event"
    explain = (box_explainer(made.history, made.expected, made.etas.last_fit, what=what) if made.etas.last_fit
               else None)
    out.mkdir(parents=True, exist_ok=True)
    period = made.series.period_label(made.series.periods - 1)
    plans, shown = [], []
    for settings in shifts:
        plan = plan_shift(made.series.grid, made.harm, settings, label=settings.shift_start, explain=explain)
        path = out / f"patrols-{settings.shift_start.replace(':', '')}.geojson"
        path.write_text(json.dumps(plan), encoding="utf-8")
        plans.append(plan)
        shown.append({"file": str(path), **plan["properties"]})
    (out / "patrols.html").write_text(printable_map(plans, period), encoding="utf-8")
    fairness = (patrol_fairness(made.prepared.series, plans, deciles, harm_weights)
                if deciles is not None else None)
    summary = {"period": period, "model": made.model, "shifts": shown, "fairness": fairness}
    if warehouse is not None:
        from safertogether.forecast.stored import patrols_geojson, store_output

        summary["stored_as"] = store_output(warehouse, "patrols", patrols_geojson(plans, summary), period=period,
                                            model=made.model)
    return summary


def minutes_per_cell(grid: Grid, plans: list[dict[str, Any]]) -> np.ndarray:
    """Planned patrol minutes in each cell over the plans (a box's minutes shared equally by its cells)."""
    index = {cell_id: i for i, cell_id in enumerate(grid.ids())}
    minutes = np.zeros(grid.n)
    for plan in plans:
        for feature in plan["features"]:
            cells = [index[c] for c in feature["properties"]["cells"]]
            minutes[cells] += feature["properties"]["planned_minutes"] / max(len(cells), 1)
    return minutes


def _wgs84(grid: Grid, geometry: shapely.Geometry) -> shapely.Geometry:
    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(grid.to_wgs84(xy[:, 0], xy[:, 1]))

    return shapely.transform(geometry, move)


def printable_map(plans: list[dict[str, Any]], period: str) -> str:
    """One printable page: each shift's boxes drawn to scale, numbered, with the visit times (inline SVG)."""
    import html

    from safertogether.model.attribution import ATTRIBUTION

    shapes = [shapely.geometry.shape(f["geometry"]) for p in plans for f in p["features"]]
    if not shapes:
        return "<!doctype html><p>No boxes: the forecast is empty.</p>"
    west, south, east, north = shapely.bounds(shapely.union_all(shapes))
    pad = max(east - west, north - south) * 0.05 + 1e-9
    west, south, east, north = west - pad, south - pad, east + pad, north + pad
    scale = 600 / max(east - west, north - south)
    sections = []
    for plan in plans:
        parts, rows = [f'<svg width="{(east - west) * scale:.0f}" height="{(north - south) * scale:.0f}" '
                       'style="border:1px solid #999">'], []
        for feature in plan["features"]:
            geometry = shapely.geometry.shape(feature["geometry"])
            props = feature["properties"]
            for polygon in getattr(geometry, "geoms", [geometry]):
                points = " ".join(f"{(x - west) * scale:.1f},{(north - y) * scale:.1f}"
                                  for x, y in polygon.exterior.coords)
                parts.append(f'<polygon points="{points}" fill="#d7301f" fill-opacity="0.5" stroke="#000"/>')
            cx, cy = geometry.centroid.x, geometry.centroid.y
            parts.append(f'<text x="{(cx - west) * scale:.1f}" y="{(north - cy) * scale:.1f}" '
                         f'font-size="12" text-anchor="middle">{props["box"]}</text>')
            rows.append(f"<tr><td>{props['box']}</td><td>{', '.join(props['visits'])}</td>"
                        f"<td>{props['share_of_harm']:.1%}</td><td>{cy:.5f}, {cx:.5f}</td>"
                        f"<td>{html.escape(props.get('why', ''))}</td></tr>")
        meta = plan["properties"]
        sections.append(f"<h2>Shift {html.escape(meta['shift'])}: {meta['boxes']} boxes, "
                        f"{meta['expected_share_of_harm']:.1%} of expected harm</h2>{''.join(parts)}</svg>"
                        "<table><tr><th>box</th><th>visits</th><th>share of harm</th><th>centre (lat, lon)</th>"
                        "<th>why</th></tr>"
                        f"{''.join(rows)}</table>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Patrol plan {period}</title>"
            "<style>body{font-family:system-ui,sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
            "@media print{h2{page-break-before:always}}</style></head><body>"
            f"<h1>Hot-spot patrol plan, {html.escape(period)}</h1>"
            "<p>Visit each box for the stated minutes at each time "
            "(the Koper curve: 10-15 minutes, about every two hours). North is up. Expected harm weights each "
            "forecast event by the Cambridge Crime Harm Index; a category hides a wide range of harm.</p>"
            f"{''.join(sections)}<footer><small>{html.escape(ATTRIBUTION['text'])}</small></footer></body></html>")
