"""Blue-light planning, measured: travel-time calibration, road network, location models, simulation.

    .venv/bin/python bench/bluelight.py [--data ../shared/data] [--calibrate] [--year]

Prints one JSON document. Each figure has wall and CPU seconds (user+sys; the machine is shared) and,
where the issue gives one, its anchor measured in the same run:
- calibration (``--calibrate``, minutes): the fallback model on held-out LAS, SWAS, EMAS beside the
  anchor curve t = a + b*km + c*sqrt(km) fitted and scored on the same split;
- the Rutland drive network (pyrosm) and a Leicestershire-scale many-to-many matrix (every
  Leicestershire LSOA's nearest node x 130 stations' nodes) with scipy's Dijkstra, beside networkx;
- each location model on the real fire stations and LSOAs of Leicestershire (time, HiGHS status, gap), on
  the travel times coverage uses (``inputs.travel_times``: the shipped fallback model, its build timed)
  and the swap heuristic beside the exact p-median; the anchor MCLP of 5,000 places x 200 sites;
- the simulation: 3 scenarios x 20 replications x 30 days (the anchor's shape), and with ``--year``
  a year of the county's demand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_reference_warehouse  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(call: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    wall, used = time.perf_counter(), cpu()
    value = call()
    return value, {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(cpu() - used, 3)}


def calibration(data: Path) -> dict[str, Any]:
    from safertogether.bluelight.calibrate import CalibrationInputs, calibrate_fallback

    result, timing = measured(lambda: calibrate_fallback(CalibrationInputs.in_data_folder(data)))
    keep = ("pairs", "median_abs_error_min", "p90_abs_error_min")
    return {**timing, **{k: result[k] for k in keep}, "regions": result["regions"],
            "anchor_curve": {k: result["anchor"][k] for k in keep}, "goal": {"median": 2.5, "p90": 6.0}}


def network_matrix(data: Path, places: Any, stations: Any) -> dict[str, Any]:
    import networkx as nx

    from safertogether.bluelight.network import read_network

    network, build = measured(lambda: read_network(data / "osm" / "rutland-2022-08.osm.pbf"))
    origins, _ = network.snap(places.xy, np.inf)
    sites, _ = network.snap(stations[["easting", "northing"]].to_numpy(float), np.inf)
    matrix, many = measured(lambda: network.times(origins, sites))
    graph = nx.from_scipy_sparse_array(network.graph, create_using=nx.DiGraph)
    sample = np.unique(origins)[:20]
    _, nx_time = measured(lambda: [nx.single_source_dijkstra_path_length(graph, int(s)) for s in sample])
    per_source = nx_time["wall_s"] / len(sample)
    return {"network_nodes": len(network.xy), "build": build,
            "matrix": {"origins": len(origins), "unique_origin_nodes": len(np.unique(origins)),
                       "destinations": len(sites), **many, "finite_share": round(float(np.isfinite(matrix).mean()), 3)},
            "anchor_networkx_same_matrix_estimated_wall_s": round(per_source * len(np.unique(origins)), 2)}


def location_models(places: Any, stations: Any, times: Any) -> dict[str, Any]:
    from safertogether.bluelight import locate

    minutes = times.matrix(stations[["easting", "northing"]].to_numpy(float), places.xy)
    weights = places.table["persons"].to_numpy(float)
    p = max(2, len(minutes) // 3)
    radius = float(minutes.min(axis=0).max()) + 0.5  # every place reachable: set cover is feasible
    found: dict[str, Any] = {"candidates": len(minutes), "places": minutes.shape[1], "p": p, "radius_min": radius}
    for model in ("lscp", "mclp", "backup", "pmedian"):
        solution, timing = measured(lambda m=model: locate.solve_exact(m, minutes, weights, radius, p,
                                                                       time_limit_s=120))
        nearest = locate.nearest(minutes, solution.sites)
        found[model] = {**timing, "sites": len(solution.sites), "status": solution.status, "mip_gap": solution.gap,
                        "covered_pct": round(100 * float(np.average(nearest <= radius, weights=weights)), 2),
                        "mean_min": round(float(np.average(nearest, weights=weights)), 3), "notes": solution.notes}
    mean = locate.objective_for("mean", weights, radius)
    swap, timing = measured(lambda: locate.swap_heuristic(minutes, p, mean))
    swapped = mean(locate.nearest(minutes, swap.sites))
    exact = found["pmedian"]["mean_min"] if found["pmedian"]["sites"] else None  # None: HiGHS gave no answer
    found["swap_pmedian"] = {**timing, "mean_min": round(swapped, 3),
                             "gap_vs_exact_pct": round(100 * (swapped / exact - 1), 3) if exact else None}
    return found


def mclp_anchor(time_limit_s: float = 60.0) -> dict[str, Any]:
    """The issue's 5,000 places x 200 sites MCLP: spopt's own model (integer coverage flags) beside ours.

    Places and sites uniform on a 50 km square, minutes = 2 + km, 20 sites. Radius 8 min (6 km; each
    place within reach of ~8 sites, at most ~84% coverable) is the hard regime where the LP bound is
    fractional and HiGHS stops at its (wall-clock) time limit; radius 12 min is the easy one.
    """
    from safertogether.bluelight import locate

    rng = np.random.default_rng(0)
    sites, places = rng.uniform(0, 50_000, (200, 2)), rng.uniform(0, 50_000, (5_000, 2))
    minutes = 2 + 0.06 * np.hypot(*(sites[:, None] - places[None]).transpose(2, 0, 1)) / 60
    weights = rng.integers(1, 100, 5000).astype(float)
    found: dict[str, Any] = {"places": 5000, "sites": 200, "p": 20, "time_limit_s": time_limit_s,
                             "issue_anchor_s": "1-5"}
    for radius in (8.0, 12.0):
        ours, timing = measured(lambda r=radius: locate.solve_exact("mclp", minutes, weights, r, 20,
                                                                    time_limit_s=time_limit_s))
        anchor, anchor_timing = measured(lambda r=radius: spopt_mclp_as_shipped(minutes, weights, r, time_limit_s))
        found[f"radius_{radius:g}_min"] = {
            "ours": {**timing, "status": ours.status, "mip_gap": ours.gap,
                     "covered_pct": covered_pct(minutes, weights, ours.sites, radius)},
            "anchor_spopt_own": {**anchor_timing, **anchor[1],
                                 "covered_pct": covered_pct(minutes, weights, anchor[0], radius)},
        }
    return found


def spopt_mclp_as_shipped(minutes: np.ndarray, weights: np.ndarray, radius: float, time_limit_s: float
                          ) -> tuple[np.ndarray, dict[str, Any]]:
    """spopt 0.7's MCLP with PuLP's HiGHS exactly as its documentation builds it: the anchor."""
    import warnings

    import pulp
    from spopt.locate import MCLP

    from safertogether.bluelight.locate import highs_status, quiet_stdout

    with quiet_stdout(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        built, build = measured(lambda: MCLP.from_cost_matrix(minutes.T, weights, radius, p_facilities=20))
        # spopt raises when PuLP's status is not Optimal; HiGHS's own status, read below, says why
        with contextlib.suppress(RuntimeError):
            built.solve(pulp.HiGHS(msg=False, timeLimit=time_limit_s))
    status, gap = highs_status(built.problem)
    sites = np.flatnonzero([(v.value() or 0.0) > 0.5 for v in built.fac_vars])
    return sites, {"build": build, "status": status, "mip_gap": gap}


def covered_pct(minutes: np.ndarray, weights: np.ndarray, sites: np.ndarray, radius: float) -> float | None:
    from safertogether.bluelight.locate import nearest

    return round(100 * float(np.average(nearest(minutes, sites) <= radius, weights=weights)), 2) if len(sites) else None


def simulation(places: Any, stations: Any, times: Any, days: float, calls_per_year: float) -> dict[str, Any]:
    from safertogether.bluelight.simulate import Demand, simulate
    from safertogether.bluelight.standards import load_standards

    xy = stations[["easting", "northing"]].to_numpy(float)
    scenarios = {"today": times.matrix(xy, places.xy),
                 "close a third": times.matrix(np.delete(xy, np.s_[::3], 0), places.xy),
                 "keep half": times.matrix(xy[::2], places.xy)}
    demand = Demand(calls_per_year, places.table["persons"].to_numpy(float), places.table["urban"].to_numpy())
    standards = tuple(s for s in load_standards() if s.service == "fire")
    result, timing = measured(lambda: simulate(scenarios, demand, standards, days, 20, 1))
    return {"scenarios": 3, "replications": 20, "days": days, "calls_per_year": calls_per_year, **timing,
            "fire_within_pct": {k: v["standards"]["fire_dwelling_first"] for k, v in result["scenarios"].items()},
            "issue_anchor_s_3x20x30_days": "3-7"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SAFER_DATA", "../shared/data")))
    parser.add_argument("--db", type=Path, help="A warehouse with boundaries, lookup and population (else built)")
    parser.add_argument("--calibrate", action="store_true", help="Also the national calibration (minutes)")
    parser.add_argument("--year", action="store_true", help="Also simulate a year of the county's demand")
    args = parser.parse_args()
    from safertogether.bluelight.coverage import force_places, nearby
    from safertogether.bluelight.inputs import travel_times
    from safertogether.bluelight.stations import read_home_office_fire
    from safertogether.store.warehouse import open_warehouse

    db = args.db
    if db is None:
        db = Path(tempfile.mkdtemp()) / "reference.duckdb"
        build_reference_warehouse(db, args.data)
    warehouse = open_warehouse(db, read_only=True)
    places = force_places(warehouse, "leicestershire")
    times, times_built = measured(lambda: travel_times(warehouse, places))
    warehouse.close()
    fire, read = measured(lambda: read_home_office_fire(
        args.data / "blue-light" / "fire" / "home-office-fire-stations-england.ods"))
    stations = nearby(fire.of("fire"), places)
    report: dict[str, Any] = {"load_average_at_start": os.getloadavg(), "force": "leicestershire",
                              "lsoas": len(places.table), "fire_stations_within_25_km": len(stations),
                              "read_home_office_list": read,
                              "travel_times": {"name": times.about["name"], "built": times_built}}
    report["network"] = network_matrix(args.data, places, stations)
    report["location_models"] = location_models(places, stations, times)
    report["mclp_anchor_5000x200"] = mclp_anchor()
    report["simulation_30_days"] = simulation(places, stations, times, 30, 8_000)
    if args.year:
        report["simulation_year"] = simulation(places, stations, times, 365, 8_000)
    if args.calibrate:
        report["calibration"] = calibration(args.data)
    report["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
