"""Stations of the three services, from the lists that exist, each row checked like any other source.

* fire: the Home Office list (``.ods``, sheet STATIONS, BNG coordinates), read with the odf engine;
* police, fire or ambulance: a user's CSV (``sources/specs/stations.yaml``: name, service, and either
  easting/northing or longitude/latitude);
* OpenStreetMap points (``amenity=police|fire_station``, ``emergency=ambulance_station``) where nothing
  else exists.

Both tables go through the project's one tabular reader, so a bad row (no name, an unknown service,
no or impossible coordinates) is quarantined with its reason, never silently dropped or guessed.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from safertogether.bluelight.geography import to_bng
from safertogether.errors import InputFormatError
from safertogether.sources.files import SourceFile
from safertogether.sources.parsed import ParsedFile
from safertogether.sources.spec import SourceSpec, load_spec
from safertogether.sources.tabular import read_files

COLUMNS = ["station_id", "name", "service", "easting", "northing", "pinned", "source"]
#: Great Britain's extent in BNG metres: a station outside it is a typo or swapped coordinates.
BNG_BOX = (0.0, 0.0, 700_000.0, 1_300_000.0)
OSM_TAGS = {("amenity", "police"): "police", ("amenity", "fire_station"): "fire",
            ("emergency", "ambulance_station"): "ambulance", ("amenity", "ambulance_station"): "ambulance"}


@dataclass
class Stations:
    """Stations (one row each: COLUMNS) and the rows that could not be used, with their reasons."""

    table: pd.DataFrame
    quarantine: list[dict[str, object]] = field(default_factory=list)

    def of(self, service: str) -> pd.DataFrame:
        return self.table[self.table["service"] == service].reset_index(drop=True)

    def __add__(self, other: Stations) -> Stations:
        parts = [t for t in (self.table, other.table) if not t.empty]
        table = pd.concat(parts, ignore_index=True) if parts else self.table
        return Stations(table, self.quarantine + other.quarantine)


@functools.cache
def _spec(name: str) -> SourceSpec:
    return load_spec(str(importlib.resources.files("safertogether.sources") / "specs" / f"{name}.yaml"))


def read_station_csv(path: str | Path) -> Stations:
    """A user's station list (CSV): rows checked by the stations spec, bad ones quarantined."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(f"{path}: no such station file")
    source = SourceFile(str(path), path.stat().st_size, path.read_bytes)
    return _from_parsed(_read(source, _spec("stations"), "a station list (name, service, easting/northing "
                                                         "or longitude/latitude)"), str(path))


def read_home_office_fire(path: str | Path) -> Stations:
    """The Home Office list of fire stations (``.ods`` or ``.xlsx``, sheet STATIONS)."""
    path = Path(path)
    engine = "odf" if path.suffix.lower() == ".ods" else None
    try:
        frame = pd.read_excel(path, sheet_name="STATIONS", engine=engine, dtype=str)
    except ImportError as exc:
        raise InputFormatError(f"{path}: reading .ods needs odfpy: pip install 'safertogether[plan]'") from exc
    except (OSError, ValueError, KeyError, Exception) as exc:  # odf raises its own kinds for damaged files
        raise InputFormatError(f"{path}: cannot be read as the Home Office station list ({exc})") from exc
    text = io.StringIO()
    frame.to_csv(text, index=False, quoting=csv.QUOTE_MINIMAL)
    data = text.getvalue().encode("utf-8")
    source = SourceFile(str(path), len(data), lambda: data)
    return _from_parsed(_read(source, _spec("stations-home-office-fire"), "the Home Office fire station list"),
                        str(path))


def _read(source: SourceFile, spec: SourceSpec, expected: str) -> ParsedFile:
    [outcome] = read_files([source], [spec], "station", expected)
    if isinstance(outcome, InputFormatError):
        raise outcome
    return outcome


def _from_parsed(parsed: ParsedFile, source: str) -> Stations:
    rows = parsed.rows.to_pandas()
    quarantine = [{"source": source, **r} for r in parsed.quarantine.to_pylist()]
    easting = _column(rows, "easting")
    northing = _column(rows, "northing")
    lon, lat = _column(rows, "longitude"), _column(rows, "latitude")
    from_degrees = np.isnan(easting) & ~np.isnan(lon)
    if from_degrees.any():
        easting[from_degrees], northing[from_degrees] = to_bng(lon[from_degrees], lat[from_degrees])
    inside = ((easting >= BNG_BOX[0]) & (easting <= BNG_BOX[2]) & (northing >= BNG_BOX[1])
              & (northing <= BNG_BOX[3]))
    for i in np.flatnonzero(~inside):
        reason = ("no coordinates (easting/northing or longitude/latitude)" if np.isnan(easting[i])
                  else f"coordinates {easting[i]:.0f}, {northing[i]:.0f} are outside Great Britain's grid")
        quarantine.append({"source": source, "row_number": int(rows["row_number"].iloc[i]), "reason": reason,
                           "raw_text": str(rows["name"].iloc[i])})
    kept = rows[inside]
    ids = kept["station_id"] if "station_id" in kept else pd.Series([None] * len(kept), index=kept.index)
    table = pd.DataFrame({
        "station_id": [i if isinstance(i, str) and i else f"{s}:{n}" for i, s, n in
                       zip(ids, kept["service"], kept["name"], strict=True)],
        "name": kept["name"], "service": kept["service"], "easting": easting[inside], "northing": northing[inside],
        "pinned": [p is True for p in kept["pinned"]] if "pinned" in kept else False, "source": source,
    })
    return Stations(_unique_ids(table), quarantine)


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    return rows[name].to_numpy(dtype=float, na_value=np.nan) if name in rows else np.full(len(rows), np.nan)


def _unique_ids(table: pd.DataFrame) -> pd.DataFrame:
    """Two stations of one name (Home Office lists repeat some) get ids ``name``, ``name#2``."""
    table = table.reset_index(drop=True)
    if table.empty:
        return table
    seen = table.groupby("station_id").cumcount()
    table["station_id"] = np.where(seen > 0, table["station_id"] + "#" + (seen + 1).astype(str), table["station_id"])
    return table


def read_osm_stations(path: str | Path) -> Stations:
    """Stations tagged in OpenStreetMap: an Overpass JSON answer or an ``.osm.pbf`` extract."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            elements = json.loads(path.read_text(encoding="utf-8"))["elements"]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise InputFormatError(f"{path}: not an Overpass JSON answer ({exc})") from exc
        points = [(e.get("tags", {}), e.get("lon", e.get("center", {}).get("lon")),
                   e.get("lat", e.get("center", {}).get("lat"))) for e in elements if isinstance(e, dict)]
    else:
        from pyrosm import OSM

        pois = OSM(str(path)).get_pois(custom_filter={"amenity": ["police", "fire_station", "ambulance_station"],
                                                      "emergency": ["ambulance_station"]})
        if pois is None or pois.empty:
            return Stations(pd.DataFrame(columns=COLUMNS))
        centres = pois.geometry.representative_point()
        points = [({k: r.get(k) for k in ("amenity", "emergency", "name")}, x, y)
                  for r, x, y in zip(pois.to_dict("records"), centres.x, centres.y, strict=True)]
    rows = []
    for tags, lon, lat in points:
        service = next((s for (k, v), s in OSM_TAGS.items() if tags.get(k) == v), None)
        if service and lon is not None and lat is not None:
            rows.append({"name": tags.get("name") or f"unnamed {service} station", "service": service,
                         "lon": float(lon), "lat": float(lat)})
    frame = pd.DataFrame(rows, columns=["name", "service", "lon", "lat"])
    easting, northing = to_bng(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
    table = pd.DataFrame({"station_id": "osm:" + frame["name"], "name": frame["name"], "service": frame["service"],
                          "easting": easting, "northing": northing, "pinned": False, "source": str(path)})
    return Stations(_unique_ids(table))


def stations_arrow(stations: Stations) -> pa.Table:
    return pa.Table.from_pandas(stations.table[COLUMNS], preserve_index=False)
