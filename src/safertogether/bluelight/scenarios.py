"""Shared-estate scenarios a commissioner asks, each judged against today on every standard.

* ``share A,B``: services A and B respond from any of their stations (co-located crews);
* ``merge X,Y``: stations X and Y become one, at whichever of the two sites serves the standard better;
* ``choose N``: N shared sites from the candidates (today's stations of the named services), keeping
  pinned stations open — by an exact spopt model (MCLP at the standard's target) and by the swap
  heuristic optimising the standard's own statistic; both re-scored from the chosen sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from safertogether.bluelight import locate
from safertogether.bluelight.coverage import Places, nearby, standard_summary
from safertogether.bluelight.standards import Standard
from safertogether.bluelight.stations import Stations
from safertogether.bluelight.traveltime import TravelTimes
from safertogether.errors import BadRequestError


@dataclass
class Scenario:
    """A name, the sites a service responds from, and how they were found."""

    name: str
    sites: pd.DataFrame
    method: str = "given"
    details: dict[str, Any] | None = None


def _minutes(sites: pd.DataFrame, places: Places, times: TravelTimes) -> np.ndarray:
    return times.matrix(sites[["easting", "northing"]].to_numpy(float), places.xy)


def score(scenario: Scenario, places: Places, standards: list[Standard], times: TravelTimes) -> dict[str, Any]:
    nearest = _minutes(scenario.sites, places, times).min(axis=0)
    return {"scenario": scenario.name, "method": scenario.method, "sites": len(scenario.sites),
            **(scenario.details or {}),
            "standards": [standard_summary(s, nearest, places) for s in standards]}


def merge(today: pd.DataFrame, first: str, second: str, places: Places, standard: Standard,
          times: TravelTimes) -> Scenario:
    """Stations ``first`` and ``second`` become one, at the site of the two that serves ``standard`` better."""
    missing = [s for s in (first, second) if s not in set(today["station_id"]) | set(today["name"])]
    if missing:
        raise BadRequestError(f"no station {', '.join(missing)} among {len(today)} (give a station id or name)")
    pick = today["station_id"].isin([first, second]) | today["name"].isin([first, second])
    rest = today[~pick]
    options = [pd.concat([rest, today[pick].iloc[[i]]], ignore_index=True) for i in range(int(pick.sum()))]
    objective = locate.objective_for(standard.statistic, places.table["demand"].to_numpy(float),
                                     standard.targets(places.table["urban"].to_numpy()))
    best = min(options, key=lambda sites: objective(_minutes(sites, places, times).min(axis=0)))
    kept = set(best["station_id"]) - set(rest["station_id"])
    return Scenario(f"merge {first} + {second}", best, "best of the two sites", {"kept_site": sorted(kept)})


def choose(candidates: pd.DataFrame, n: int, places: Places, standard: Standard, times: TravelTimes,
           exact: bool = True, time_limit_s: float = 60.0) -> list[Scenario]:
    """N shared sites from ``candidates`` (pinned ones kept): exact MCLP and the statistic's swap heuristic."""
    pinned = np.flatnonzero(candidates["pinned"].to_numpy(bool))
    if n < len(pinned) or n > len(candidates):
        raise BadRequestError(f"choose {n}: needs between {len(pinned)} (pinned) and {len(candidates)} sites")
    minutes = _minutes(candidates, places, times)
    weights = places.table["demand"].to_numpy(float)
    urban = places.table["urban"].to_numpy()
    target = standard.targets(urban)
    found: list[Scenario] = []
    heuristic = locate.swap_heuristic(minutes, n, locate.objective_for(standard.statistic, weights, target), pinned)
    found.append(Scenario(f"choose {n} shared ({standard.statistic} swap)", candidates.iloc[heuristic.sites],
                          heuristic.method, {"seconds": round(heuristic.seconds, 3)}))
    if exact:
        radius = float(np.median(target))
        solution = locate.solve_exact("mclp", minutes, weights, radius, n, pinned, time_limit_s)
        found.append(Scenario(f"choose {n} shared (MCLP {radius:g} min)", candidates.iloc[solution.sites],
                              solution.method, {"seconds": round(solution.seconds, 3), "solver_status": solution.status,
                                                "mip_gap": solution.gap, "notes": solution.notes}))
    return found


def compare(places: Places, stations: Stations, standards: tuple[Standard, ...], times: TravelTimes, service: str,
            share: list[str] | None = None, merges: list[tuple[str, str]] | None = None,
            choose_n: int | None = None, exact: bool = True) -> dict[str, Any]:
    """Today and each asked-for scenario for ``service``, scored on every standard of that service."""
    judged = [s for s in standards if s.service == service]
    if not judged:
        raise BadRequestError(f"no standard for service '{service}' (services: "
                              f"{', '.join(sorted({s.service for s in standards}))})")
    today = nearby(stations.of(service), places)
    if today.empty:
        raise BadRequestError(f"no {service} stations near these places: load a station list")
    primary = next((s for s in judged if s.statistic == "p90"), judged[0])
    scenarios = [Scenario("today", today)]
    shared = nearby(stations.table[stations.table["service"].isin([service, *(share or [])])], places)
    if share:
        scenarios.append(Scenario(f"share {'+'.join([service, *share])}", shared, "union of the estates"))
    for first, second in merges or []:
        scenarios.append(merge(today, first, second, places, primary, times))
    if choose_n:
        scenarios += choose(shared.reset_index(drop=True), choose_n, places, primary, times, exact)
    results = [score(s, places, judged, times) for s in scenarios]
    baseline = {row["standard"]: row["value_residents"] for row in results[0]["standards"]}
    for result in results[1:]:
        for row in result["standards"]:
            row["change_vs_today"] = round(row["value_residents"] - baseline[row["standard"]], 2)
    return {"service": service, "optimised_for": primary.id, "travel_times": times.about, "scenarios": results}
