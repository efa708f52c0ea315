"""Events to forecast: where (projected coordinates) and when (a day, or a month), with a category.

Two inputs are read through the project's tabular reader, so bad rows are quarantined with a reason
rather than silently dropped: police.uk street files (a month each) and any CSV of points with an x,
a y and a date or timestamp column (``--kind points``), in any coordinate reference system.

Police-initiated categories (drugs, possession of weapons, stop-and-search) are left out by default:
their counts measure where police look, not where people are harmed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyproj

from safertogether.errors import BadRequestError, InputFormatError, MissingDataError
from safertogether.sources.files import expand_paths
from safertogether.sources.police_uk import read_police_uk_files
from safertogether.sources.spec import FieldSpec, SourceSpec
from safertogether.sources.tabular import read_files

Resolution = Literal["month", "day"]

#: Categories recorded mostly on police initiative (their counts follow patrol effort, not harm).
POLICE_INITIATED: Final = frozenset({"drugs", "possession of weapons", "stop and search", "stop-and-search"})

#: British National Grid: the working CRS of police.uk data.
BNG: Final = 27700

_EPOCH: Final = dt.date(1970, 1, 1)


@dataclass
class Events:
    """Points in a projected CRS, each with a day number (days since 1970-01-01) and a category.

    ``resolution`` says what the day means: ``"month"`` (police.uk: the first day of the month the crime
    was recorded in) or ``"day"``.
    """

    x: np.ndarray
    y: np.ndarray
    day: np.ndarray
    category: np.ndarray
    crs: pyproj.CRS
    resolution: Resolution
    sources: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  #: reason -> rows left out

    def __len__(self) -> int:
        return len(self.x)

    @property
    def metres_per_unit(self) -> float:
        return metres_per_unit(self.crs)

    def subset(self, keep: np.ndarray) -> Events:
        return Events(self.x[keep], self.y[keep], self.day[keep], self.category[keep], self.crs,
                      self.resolution, self.sources, dict(self.dropped))

    def first_day(self) -> dt.date:
        return day_to_date(int(self.day.min()))

    def last_day(self) -> dt.date:
        return day_to_date(int(self.day.max()))


def day_number(value: dt.date) -> int:
    return (value - _EPOCH).days


def day_to_date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(day))


def metres_per_unit(crs: pyproj.CRS) -> float:
    """How many metres one unit of the CRS's first axis is (0.3048 for international feet)."""
    if not crs.is_projected:
        raise BadRequestError(f"{crs.name} is not a projected CRS: cells must be squares in metres or feet")
    return float(crs.axis_info[0].unit_conversion_factor)


def read_police_uk_events(paths: Sequence[str | Path], *, include: Sequence[str] = (),
                          crs: int | str = BNG) -> Events:
    """police.uk street-crime files (files, folders or zips) as events in ``crs`` (default BNG).

    Args:
        include: police-initiated categories to keep anyway (e.g. ``["Drugs"]``), knowingly.
    """
    files = expand_paths(paths, keep=lambda f: (f.police_uk_name or ("", "", "street"))[2] == "street")
    if not files:
        raise InputFormatError(f"no police.uk street files under {', '.join(map(str, paths))}; give the "
                               "downloaded CSV files, their folder or the zip")
    tables, dropped = [], {"quarantined": 0}
    for outcome in read_police_uk_files(files):
        if isinstance(outcome, InputFormatError):
            raise outcome
        if outcome.kind != "street":
            raise InputFormatError(f"{outcome.name}: a police.uk {outcome.kind} file, not street crimes; "
                                   "give street files only")
        dropped["quarantined"] += outcome.quarantine.num_rows
        tables.append(outcome.rows.select(["month", "longitude", "latitude", "crime_type"]))
    rows = pa.concat_tables(tables)
    located = pc.and_(pc.is_valid(rows["longitude"]), pc.is_valid(rows["latitude"]))
    dropped["no location"] = rows.num_rows - pc.sum(located).as_py()
    rows = rows.filter(located)
    category = np.asarray(rows["crime_type"].to_pylist(), dtype=object)
    months = rows["month"].cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]").astype(np.int64)
    target = pyproj.CRS.from_user_input(crs)
    x, y = pyproj.Transformer.from_crs(4326, target, always_xy=True).transform(
        rows["longitude"].to_numpy(zero_copy_only=False), rows["latitude"].to_numpy(zero_copy_only=False))
    events = Events(np.asarray(x), np.asarray(y), months, category, target, "month", [f.name for f in files], dropped)
    return exclude_police_initiated(events, include)


def read_point_events(paths: Sequence[str | Path], *, x: str, y: str, date: str, crs: int | str,
                      category: str | None = None, date_formats: Sequence[str] = (),
                      category_name: str = "event", include: Sequence[str] = (),
                      project_to: int | str | None = None) -> Events:
    """A CSV of points (x, y, a date or timestamp; optionally a category column) as events.

    Coordinates are in ``crs``; a geographic CRS (longitude/latitude) is projected to ``project_to``
    or, without it, to the UTM zone of the points. Rows with a missing or unreadable coordinate or date
    are quarantined (counted in ``dropped``); a file lacking a named column is refused.
    """
    source_crs = _crs(crs)
    spec = _points_spec(x, y, date, category, date_formats)
    files = expand_paths(paths)
    tables, dropped = [], {"quarantined": 0}
    for outcome in read_files(files, [spec], "points", f"a CSV with columns {x}, {y} and {date}"):
        if isinstance(outcome, InputFormatError):
            raise outcome
        dropped["quarantined"] += outcome.quarantine.num_rows
        tables.append(outcome.rows)
    rows = pa.concat_tables(tables)
    if rows.num_rows == 0:
        raise MissingDataError(f"no readable rows in {', '.join(map(str, paths))}: every row was quarantined "
                               f"({dropped['quarantined']}); check --x, --y, --date and the date format")
    days = pc.cast(rows["date"], pa.timestamp("s")).cast(pa.date32()).to_numpy(zero_copy_only=False)
    xs, ys = rows["x"].to_numpy(zero_copy_only=False), rows["y"].to_numpy(zero_copy_only=False)
    target = source_crs
    if not source_crs.is_projected:
        target = _crs(project_to) if project_to is not None else _utm_of(source_crs, xs, ys)
        xs, ys = pyproj.Transformer.from_crs(source_crs, target, always_xy=True).transform(xs, ys)
    cats = (np.asarray(rows["category"].to_pylist(), dtype=object) if category
            else np.full(rows.num_rows, category_name, dtype=object))
    events = Events(np.asarray(xs, float), np.asarray(ys, float), days.astype("datetime64[D]").astype(np.int64),
                    cats, target, "day", [f.name for f in files], dropped)
    finite = np.isfinite(events.x) & np.isfinite(events.y)
    if not finite.all():
        events = events.subset(finite)
        events.dropped["coordinates outside the CRS"] = int((~finite).sum())
    return exclude_police_initiated(events, include)


def _points_spec(x: str, y: str, date: str, category: str | None, date_formats: Sequence[str]) -> SourceSpec:
    formats = list(date_formats) or ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y",
                                     "%d/%m/%Y %H:%M", "%m/%d/%Y"]
    fields = [FieldSpec(name="x", header=[x], type="number", required=True),
              FieldSpec(name="y", header=[y], type="number", required=True),
              FieldSpec(name="date", header=[date], type="timestamp", required=True, formats=formats)]
    if category:
        fields.append(FieldSpec(name="category", header=[category], required=True))
    return SourceSpec(name="points", target="forecast_points", fields=fields)


def _crs(value: int | str | None) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise BadRequestError(f"unknown CRS {value!r} ({exc}); give an EPSG code such as 2913 or 27700") from exc


def _utm_of(source: pyproj.CRS, xs: np.ndarray, ys: np.ndarray) -> pyproj.CRS:
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    ok = np.isfinite(xs) & np.isfinite(ys)
    if not ok.any():
        raise MissingDataError("no point has coordinates")
    lon, lat = float(np.median(xs[ok])), float(np.median(ys[ok]))
    found = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    if not found:
        raise BadRequestError(f"no UTM zone for ({lon}, {lat}); give --project-to EPSG")
    return pyproj.CRS.from_epsg(int(found[0].code))


def exclude_police_initiated(events: Events, include: Sequence[str] = ()) -> Events:
    """The events without police-initiated categories, except those named in ``include``."""
    kept = {c.strip().lower() for c in include}
    lowered = np.char.lower(events.category.astype(str))
    drop = np.isin(lowered, sorted(POLICE_INITIATED - kept))
    if not drop.any():
        return events
    out = events.subset(~drop)
    out.dropped["police-initiated (pass --include to keep)"] = int(drop.sum())
    return out


def select_categories(events: Events, categories: Sequence[str]) -> Events:
    """Only the named categories (case-insensitive); an unknown name is an error listing those present."""
    if not categories:
        return events
    wanted = {c.strip().lower() for c in categories}
    lowered = np.char.lower(events.category.astype(str))
    present = set(np.unique(lowered).tolist())
    unknown = sorted(wanted - present)
    if unknown:
        raise BadRequestError(f"no events of categories {unknown}; the files hold {sorted(present)}")
    return events.subset(np.isin(lowered, sorted(wanted)))
