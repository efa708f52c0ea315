"""Coverage today: travel time from each LSOA to its nearest station, judged against each standard.

Places are the warehouse's LSOAs of one force area (centroid, residents, urban or rural by density);
demand is residents, or historical incidents per LSOA where a log is given. For each service every
standard of that service is reported with its own statistic, population-weighted, plus the share of
residents (and of demand) within the standard's target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from safertogether.bluelight.standards import URBAN_DENSITY, Standard
from safertogether.bluelight.stations import Stations
from safertogether.bluelight.traveltime import TravelTimes
from safertogether.errors import MissingDataError, NotFoundError
from safertogether.store.warehouse import Warehouse

#: Stations this far (km) outside the force's LSOAs may still be nearest to some of its places.
STATION_MARGIN_KM = 25.0


@dataclass
class Places:
    """LSOAs to serve: code, easting, northing, persons, urban flag, demand."""

    table: pd.DataFrame

    @property
    def xy(self) -> np.ndarray:
        return self.table[["easting", "northing"]].to_numpy(float)


def force_places(warehouse: Warehouse, force_id: str) -> Places:
    """The force's LSOAs with residents and centroids, from the warehouse (boundaries, lookup, population)."""
    table, _polygons = _lsoa_table(warehouse, "JOIN lsoa_lookup l ON l.lsoa_code = s.code WHERE s.level = 'lsoa' AND "
                                   "l.force_id = ?", [force_id])
    if table.empty:
        known = warehouse.scalar("SELECT count(*) FROM lsoa_lookup")
        if not known:
            raise MissingDataError("the warehouse has no area lookup: run `safer import boundaries`, "
                                   "`safer import lookup` and `safer import population` first")
        raise NotFoundError(f"no LSOAs of force '{force_id}' in the warehouse (see `safer areas`)")
    table["urban"] = table["persons"] / np.maximum(table["hectares"], 0.01) >= URBAN_DENSITY
    table["demand"] = table["persons"]
    return Places(table)


def lsoas_around(warehouse: Warehouse, places: Places, margin_km: float = 2 * STATION_MARGIN_KM
                 ) -> tuple[pd.DataFrame, np.ndarray]:
    """Every stored LSOA (any force) within ``margin_km`` of the places, and their polygons (BNG): the land
    and density the travel-time model reads, so a station over the force boundary is judged by its own
    surroundings and a road round an estuary outside the force is still seen."""
    from safertogether.bluelight.geography import to_wgs84

    (x0, y0), (x1, y1) = places.xy.min(axis=0) - margin_km * 1000, places.xy.max(axis=0) + margin_km * 1000
    lon, lat = to_wgs84(np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
    table, polygons = _lsoa_table(warehouse, "WHERE s.level = 'lsoa' AND s.xmax >= ? AND s.xmin <= ? AND s.ymax >= ? "
                                   "AND s.ymin <= ?", [float(min(lon)), float(max(lon)), float(min(lat)),
                                                       float(max(lat))])
    table["density"] = table["persons"] / np.maximum(table["hectares"], 0.01)
    return table, polygons


def _lsoa_table(warehouse: Warehouse, where: str, params: list[Any]) -> tuple[pd.DataFrame, np.ndarray]:
    """LSOA code, BNG centre (a point on the polygon), residents and hectares of the shapes ``where`` picks,
    and their polygons in BNG."""
    from safertogether.bluelight.geography import to_bng

    rows = warehouse.query_arrow(
        f"""SELECT s.code, s.wkb, coalesce(p.persons, 0) AS persons, p.hectares
           FROM area_shapes s LEFT JOIN population p ON p.lsoa_code = s.code {where}
           ORDER BY s.code""", params).to_pandas()
    shapes = shapely.from_wkb(rows["wkb"].to_numpy())
    centre = shapely.point_on_surface(shapes)
    easting, northing = to_bng(shapely.get_x(centre), shapely.get_y(centre))
    polygons = shapely.transform(shapes, lambda xy: np.column_stack(to_bng(xy[:, 0], xy[:, 1])))
    hectares = rows["hectares"].fillna(pd.Series(shapely.area(polygons) / 1e4)).to_numpy(float)
    table = pd.DataFrame({"lsoa": rows["code"], "easting": np.asarray(easting, dtype=float),
                          "northing": np.asarray(northing, dtype=float), "persons": rows["persons"].astype(float),
                          "hectares": hectares})
    return table, polygons


def nearby(stations: pd.DataFrame, places: Places, margin_km: float = STATION_MARGIN_KM) -> pd.DataFrame:
    """The stations within ``margin_km`` of the places' bounding box."""
    (x0, y0), (x1, y1) = places.xy.min(axis=0) - margin_km * 1000, places.xy.max(axis=0) + margin_km * 1000
    inside = stations["easting"].between(x0, x1) & stations["northing"].between(y0, y1)
    return stations[inside].reset_index(drop=True)


def standard_summary(standard: Standard, minutes: np.ndarray, places: Places) -> dict[str, Any]:
    """One standard's statistic over residents and over demand, and the shares within its target."""
    urban = places.table["urban"].to_numpy()
    within = minutes <= standard.targets(urban)
    persons, demand = places.table["persons"].to_numpy(float), places.table["demand"].to_numpy(float)
    value = standard.statistic_of(minutes, persons, urban)
    return {"standard": standard.id, "label": standard.label, "statistic": standard.statistic,
            "target": standard.target, "value_residents": round(value, 2),
            "value_demand": round(standard.statistic_of(minutes, demand, urban), 2),
            "met": standard.met(value),
            "residents_within_pct": round(100 * persons[within].sum() / max(persons.sum(), 1), 2),
            "demand_within_pct": round(100 * demand[within].sum() / max(demand.sum(), 1), 2)}


def coverage(places: Places, stations: Stations, standards: tuple[Standard, ...], times: TravelTimes
             ) -> dict[str, Any]:
    """Per service: nearest-station minutes per LSOA and every standard of the service judged on them."""
    services: dict[str, Any] = {}
    per_lsoa = places.table[["lsoa", "persons", "urban"]].copy()
    for service in sorted({s.service for s in standards}):
        here = nearby(stations.of(service), places)
        if here.empty:
            services[service] = {"stations": 0, "note": f"no {service} stations loaded near these places"}
            continue
        minutes = times.matrix(here[["easting", "northing"]].to_numpy(float), places.xy).min(axis=0)
        per_lsoa[f"{service}_minutes"] = minutes.round(2)
        services[service] = {"stations": len(here), "standards": [
            standard_summary(s, minutes, places) for s in standards if s.service == service]}
    return {"travel_times": times.about, "lsoas": len(places.table), "residents": int(places.table["persons"].sum()),
            "services": services, "per_lsoa": per_lsoa.to_dict("records")}
