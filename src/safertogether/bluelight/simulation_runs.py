"""The simulation over today and the scenarios: travel matrices built once, then :mod:`simulate`."""

from __future__ import annotations

from typing import Any

from safertogether.bluelight.coverage import Places, nearby
from safertogether.bluelight.scenarios import Scenario, merge
from safertogether.bluelight.simulate import Demand, low_demand_check, simulate
from safertogether.bluelight.standards import Standard
from safertogether.bluelight.stations import Stations
from safertogether.bluelight.traveltime import TravelTimes
from safertogether.errors import BadRequestError


def simulate_scenarios(places: Places, stations: Stations, standards: tuple[Standard, ...], times: TravelTimes,
                       service: str, calls_per_year: float, days: float, replications: int, units: int,
                       on_scene_min: float, share: list[str] | None = None,
                       merges: list[tuple[str, str]] | None = None, seed: int = 0) -> dict[str, Any]:
    judged = tuple(s for s in standards if s.service == service)
    today = nearby(stations.of(service), places)
    if today.empty or not judged:
        raise BadRequestError(f"no {service} stations or standards near these places")
    scenarios = [Scenario("today", today)]
    if share:
        scenarios.append(Scenario(f"share {'+'.join([service, *share])}", nearby(
            stations.table[stations.table["service"].isin([service, *share])], places)))
    primary = next((s for s in judged if s.statistic == "p90"), judged[0])
    scenarios += [merge(today, a, b, places, primary, times) for a, b in merges or []]
    matrices = {s.name: times.matrix(s.sites[["easting", "northing"]].to_numpy(float), places.xy) for s in scenarios}
    demand = Demand(calls_per_year, places.table["demand"].to_numpy(float), places.table["urban"].to_numpy(),
                    on_scene_mean_min=on_scene_min)
    result = simulate(matrices, demand, judged, days, replications, units, seed)
    result["low_demand_check"] = low_demand_check(matrices["today"], demand, seed=seed)
    result["travel_times"] = times.about
    return result
