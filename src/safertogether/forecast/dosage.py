"""Delivered patrol dosage: GPS positions (a CSV) against a plan's boxes.

Time in a box is the time between consecutive fixes of the same unit that both fall in that box
(a gap longer than ``max_gap_minutes`` counts for nothing: the device was off or out of signal). A
visit is a run of fixes in a box, ended by leaving it for more than ``leave_minutes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from safertogether.errors import InputFormatError, MissingDataError
from safertogether.sources.files import expand_paths
from safertogether.sources.spec import FieldSpec, SourceSpec
from safertogether.sources.tabular import read_files

_TIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%d/%m/%Y %H:%M:%S",
                 "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"]


def read_plan(path: str | Path) -> tuple[list[shapely.Geometry], list[dict[str, Any]]]:
    """The boxes (WGS84 polygons) and their properties from a plan GeoJSON written by ``safer plan patrols``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        features = data["features"]
        shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputFormatError(f"{path}: not a patrol plan GeoJSON ({exc}); give a file safer plan patrols wrote") \
            from exc
    return shapes, [f.get("properties", {}) for f in features]


def read_track(paths: Sequence[str | Path], *, time: str = "time", x: str = "longitude", y: str = "latitude",
               unit: str | None = None, crs: int | str = 4326) -> pa.Table:
    """GPS fixes (unit, time, longitude, latitude in WGS84), bad rows quarantined by the tabular reader."""
    fields = [FieldSpec(name="time", header=[time], type="timestamp", required=True, formats=_TIME_FORMATS),
              FieldSpec(name="x", header=[x], type="number", required=True),
              FieldSpec(name="y", header=[y], type="number", required=True)]
    if unit:
        fields.append(FieldSpec(name="unit", header=[unit], required=True))
    spec = SourceSpec(name="gps-track", target="patrol_tracks", fields=fields)
    tables = []
    for outcome in read_files(expand_paths(paths), [spec], "GPS track", f"a CSV with columns {time}, {x}, {y}"):
        if isinstance(outcome, InputFormatError):
            raise outcome
        tables.append(outcome.rows)
    rows = pa.concat_tables(tables)
    if rows.num_rows == 0:
        raise MissingDataError("the track has no readable fixes; check --time, --x, --y and the time format")
    lon, lat = rows["x"].to_numpy(zero_copy_only=False), rows["y"].to_numpy(zero_copy_only=False)
    if pyproj.CRS.from_user_input(crs) != pyproj.CRS.from_epsg(4326):
        lon, lat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(lon, lat)
    units = rows["unit"] if unit else pa.array(["unit"] * rows.num_rows)
    seconds = pc.cast(rows["time"], pa.timestamp("s")).cast(pa.int64())
    return pa.table({"unit": units, "seconds": seconds, "longitude": lon, "latitude": lat})


def delivered_dosage(boxes: list[shapely.Geometry], properties: list[dict[str, Any]], track: pa.Table, *,
                     max_gap_minutes: float = 5.0, leave_minutes: float = 10.0) -> dict[str, Any]:
    """Planned against delivered visits and minutes per box, and the share of planned minutes delivered."""
    order = np.lexsort((track["seconds"].to_numpy(), np.asarray(track["unit"].to_pylist(), dtype=object)))
    unit = np.asarray(track["unit"].to_pylist(), dtype=object)[order]
    seconds = track["seconds"].to_numpy()[order].astype(np.float64)
    points = shapely.points(track["longitude"].to_numpy()[order], track["latitude"].to_numpy()[order])
    box_of = np.full(len(points), -1)
    tree = shapely.STRtree(boxes)
    point_i, box_i = tree.query(points, predicate="within")
    box_of[point_i] = box_i
    same = (unit[1:] == unit[:-1]) & (box_of[1:] == box_of[:-1]) & (box_of[:-1] >= 0)
    gap = np.diff(seconds) / 60
    counted = same & (gap <= max_gap_minutes)
    minutes = np.bincount(box_of[:-1][counted], weights=gap[counted], minlength=len(boxes)) if len(gap) else \
        np.zeros(len(boxes))
    visits = np.zeros(len(boxes), int)
    last_seen: dict[tuple[object, int], float] = {}
    for u, b, s in zip(unit, box_of, seconds, strict=True):
        if b < 0:
            continue
        if (u, b) not in last_seen or s - last_seen[(u, b)] > leave_minutes * 60:
            visits[b] += 1
        last_seen[(u, b)] = s
    rows = []
    for i, props in enumerate(properties):
        planned_visits = len(props.get("visits", []))
        planned = float(props.get("planned_minutes", 0))
        rows.append({"box": props.get("box", i + 1), "planned_visits": planned_visits,
                     "delivered_visits": int(visits[i]),
                     "planned_minutes": planned, "delivered_minutes": round(float(minutes[i]), 1),
                     "dosage": round(float(minutes[i]) / planned, 3) if planned else None})
    planned_total = sum(r["planned_minutes"] for r in rows)
    return {"boxes": rows, "planned_minutes": planned_total,
            "delivered_minutes": round(float(minutes.sum()), 1),
            "delivered_share": round(float(minutes.sum()) / planned_total, 3) if planned_total else None,
            "fixes": int(len(points)), "fixes_in_boxes": int((box_of >= 0).sum())}
