"""What every planning command loads: the force's places, the stations, the standards, the travel times."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from safertogether.bluelight.coverage import Places, force_places, lsoas_around
from safertogether.bluelight.network import DrivingModel, read_network
from safertogether.bluelight.standards import Standard, load_standards
from safertogether.bluelight.stations import (
    COLUMNS,
    Stations,
    read_home_office_fire,
    read_osm_stations,
    read_station_csv,
)
from safertogether.bluelight.traveltime import MODEL_FILE, ModelTimes, NetworkTimes, TravelTimes
from safertogether.errors import MissingDataError
from safertogether.store.warehouse import Warehouse


@dataclass(frozen=True)
class PlanInputs:
    """Where the stations, standards and roads come from (paths; none is required but one station list)."""

    force: str
    fire_list: Path | None = None
    station_csvs: tuple[Path, ...] = ()
    osm_stations: Path | None = None
    standards: Path | None = None
    network: Path | None = None
    emergency_factor: float = 1.0
    demand: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def station_files(self) -> bool:
        return bool(self.fire_list or self.station_csvs or self.osm_stations)


def load_stations(inputs: PlanInputs) -> Stations:
    """Every station list given; OpenStreetMap points only for services no list provides."""
    stations = Stations(pd.DataFrame(columns=COLUMNS))
    if inputs.fire_list:
        stations = stations + read_home_office_fire(inputs.fire_list)
    for path in inputs.station_csvs:
        stations = stations + read_station_csv(path)
    if inputs.osm_stations:
        osm = read_osm_stations(inputs.osm_stations)
        have = set(stations.table["service"])
        stations = stations + Stations(osm.table[~osm.table["service"].isin(have)])
    if stations.table.empty:
        raise MissingDataError("no stations: give --fire-list (the Home Office .ods), --stations CSV or "
                               "--osm-stations FILE")
    return stations


def travel_times(warehouse: Warehouse, places: Places, network: Path | None = None, emergency_factor: float = 1.0,
                 model_file: Path = MODEL_FILE) -> TravelTimes:
    """The one place a travel-time source is chosen: the road network when one is given, else the fallback
    model fitted on the national matrix, reading land and density from the stored LSOAs around ``places``."""
    if network is not None:
        return NetworkTimes(read_network(network, DrivingModel(emergency_factor=emergency_factor)))
    from safertogether.bluelight.fallback import FeatureSource
    from safertogether.bluelight.trees import load_trees

    trees = load_trees(model_file)
    lsoas, polygons = lsoas_around(warehouse, places)
    if lsoas.empty:
        from safertogether.bluelight.traveltime import CurveTimes

        return CurveTimes(name="fallback curve a + b*km + c*sqrt(km) (no LSOAs stored round these places for "
                               "the fitted model: `safer import boundaries` and `safer import population`)")
    return ModelTimes(trees, FeatureSource.from_lsoas(lsoas, polygons))


def travel_times_near(warehouse: Warehouse, xy: np.ndarray) -> TravelTimes:
    """:func:`travel_times` round points that are not a force's LSOAs (incidents, in BNG metres)."""
    return travel_times(warehouse, Places(pd.DataFrame({"easting": xy[:, 0], "northing": xy[:, 1]})))


def load_all(warehouse: Warehouse, inputs: PlanInputs) -> tuple[Places, Stations, tuple[Standard, ...], TravelTimes]:
    """The places, stations (the files given, else the warehouse's stored estate), standards and times."""
    from safertogether.bluelight.estate import stored_stations

    places = force_places(warehouse, inputs.force)
    if inputs.demand is not None:
        places = with_demand(places, inputs.demand)
    stations = load_stations(inputs) if inputs.station_files else stored_stations(warehouse)
    times = travel_times(warehouse, places, inputs.network, inputs.emergency_factor)
    return places, stations, load_standards(inputs.standards), times


def with_demand(places: Places, path: Path) -> Places:
    """Historical demand per LSOA from a CSV of incidents (an ``lsoa`` or ``lsoa_code`` column, one row each)."""
    from safertogether.errors import InputFormatError

    try:
        frame = pd.read_csv(path, dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputFormatError(f"{path}: cannot be read as an incident CSV ({exc})") from exc
    column = next((c for c in frame.columns if c.lower() in ("lsoa", "lsoa_code", "lsoa11cd")), None)
    if column is None:
        raise InputFormatError(f"{path}: no lsoa / lsoa_code column to count incidents by")
    counts = frame[column].value_counts()
    table = places.table.copy()
    table["demand"] = table["lsoa"].map(counts).fillna(0).astype(float)
    return Places(table)
