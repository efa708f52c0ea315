"""Joint demand: what the services' incident logs say about working together.

From the partners' incident records in the warehouse (CAD exports mapped like any partner extract,
or the synthetic generator's): incidents per service, those flagged mental-health related and the
hours they take, incidents attended by more than one service (the linked ``joint_incidents``),
repeat locations, and co-responding opportunities — ambulance incidents where a fire station is
nearer than the nearest ambulance station, on the same travel times as coverage (the fitted fallback
model over the stored LSOAs round the incidents, the anchor curve only where none are stored).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from safertogether.bluelight.geography import to_bng
from safertogether.bluelight.stations import Stations
from safertogether.bluelight.traveltime import TravelTimes
from safertogether.errors import MissingDataError
from safertogether.store.warehouse import Warehouse

#: Incidents within this many metres count as one location (repeat-location analysis).
REPEAT_CELL_M = 50.0


def joint_demand(warehouse: Warehouse, stations: Stations | None = None, times: TravelTimes | None = None,
                 repeat_at: int = 3) -> dict[str, Any]:
    if not warehouse.scalar("SELECT count(*) FROM incident_records"):
        raise MissingDataError("no incident records: import partners' incident extracts first "
                               "(`safer synth partners`, then `safer import partner`)")
    incidents = warehouse.query_arrow(
        """SELECT coalesce(a.kind, i.agency) AS service, i.agency, i.incident_ref, i.kind, i.priority, i.started_at,
                  i.ended_at, i.longitude, i.latitude, i.mental_health
           FROM incident_records i LEFT JOIN agencies a ON a.agency = i.agency""").to_pandas()
    hours = (pd.to_datetime(incidents["ended_at"]) - pd.to_datetime(incidents["started_at"])).dt.total_seconds() / 3600
    incidents["hours"] = hours.where(hours >= 0)
    per_service = {}
    for service, rows in incidents.groupby("service"):
        # flagged by the agency, or logged as a mental-health incident
        mental = pd.Series([m is True or k == "mental-health" for m, k in zip(rows["mental_health"], rows["kind"],
                                                                                strict=True)], index=rows.index)
        per_service[str(service)] = {
            "incidents": len(rows), "mental_health": int(mental.sum()),
            "incidents_with_end_time": int(rows["hours"].notna().sum()),
            "mental_health_pct": round(100 * float(mental.mean()), 2),
            "mental_health_hours": round(float(rows.loc[mental, "hours"].sum()), 1),
            "mental_health_share_of_hours_pct": round(100 * float(rows.loc[mental, "hours"].sum()
                                                                  / max(rows["hours"].sum(), 1e-9)), 2)}
    return {"services": per_service, "joint": _joint(warehouse), "repeat_locations": _repeats(incidents, repeat_at),
            "co_responding": _co_responding(warehouse, incidents, stations, times) if stations else None}


def _joint(warehouse: Warehouse) -> dict[str, Any]:
    if not warehouse.scalar("SELECT count(*) FROM joint_incidents"):
        return {"note": "incidents not linked yet: run `safer link incidents`"}
    rows = warehouse.query(
        """SELECT joint_incident_id, string_agg(DISTINCT agency, '+' ORDER BY agency) AS agencies
           FROM joint_incidents GROUP BY joint_incident_id HAVING count(DISTINCT agency) > 1""")
    combos = pd.Series([r["agencies"] for r in rows], dtype=object).value_counts()
    return {"incidents_with_several_services": len(rows), "by_services": combos.to_dict()}


def _repeats(incidents: pd.DataFrame, at_least: int) -> dict[str, Any]:
    placed = incidents.dropna(subset=["longitude", "latitude"])
    easting, northing = to_bng(placed["longitude"].to_numpy(float), placed["latitude"].to_numpy(float))
    cells = pd.Series(list(zip((easting // REPEAT_CELL_M).astype(int), (northing // REPEAT_CELL_M).astype(int),
                               strict=True)))
    counts = cells.value_counts()
    repeat = counts[counts >= at_least]
    return {"cell_m": REPEAT_CELL_M, "at_least": at_least, "locations": len(repeat),
            "incidents_there": int(repeat.sum()), "share_pct": round(100 * float(repeat.sum()) / max(len(cells), 1), 2)}


def _co_responding(warehouse: Warehouse, incidents: pd.DataFrame, stations: Stations, times: TravelTimes | None
                   ) -> dict[str, Any]:
    """Ambulance incidents where the nearest fire station is nearer than the nearest ambulance station."""
    fire, ambulance = stations.of("fire"), stations.of("ambulance")
    calls = incidents[(incidents["service"] == "ambulance")].dropna(subset=["longitude", "latitude"])
    if fire.empty or ambulance.empty or calls.empty:
        return {"note": "needs fire and ambulance stations and ambulance incidents with coordinates"}
    xy = np.column_stack(to_bng(calls["longitude"].to_numpy(float), calls["latitude"].to_numpy(float)))
    if times is None:
        from safertogether.bluelight.inputs import travel_times_near

        times = travel_times_near(warehouse, xy)
    by_fire = times.matrix(fire[["easting", "northing"]].to_numpy(float), xy).min(axis=0)
    by_ambulance = times.matrix(ambulance[["easting", "northing"]].to_numpy(float), xy).min(axis=0)
    gain = by_ambulance - by_fire
    # Category 1 (cardiac arrests among them) is where a nearer fire crew matters: each priority apart.
    priorities = calls["priority"].fillna("unknown").astype(str).to_numpy()
    return {**_gain_summary(gain), "by_priority": {p: _gain_summary(gain[priorities == p])
                                                   for p in sorted(set(priorities))},
            "travel_times": times.about}


def _gain_summary(gain: np.ndarray) -> dict[str, Any]:
    nearer = gain > 0
    return {"ambulance_incidents": len(gain), "fire_nearer": int(nearer.sum()),
            "fire_nearer_pct": round(100 * float(nearer.mean()), 2) if len(gain) else 0.0,
            "median_minutes_saved_where_nearer": round(float(np.median(gain[nearer])), 2) if nearer.any() else 0}
