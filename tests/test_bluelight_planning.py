"""Blue-light planning: location models against brute force, the simulation against plain coverage, the CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from safertogether.bluelight import locate
from safertogether.bluelight.simulate import Demand, draw_calls, low_demand_check, run_once, simulate
from safertogether.bluelight.standards import load_standards
from safertogether.cli import app

runner = CliRunner()


def _instance(seed: int = 0, sites: int = 9, places: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    site_xy, place_xy = rng.uniform(0, 20, (sites, 2)), rng.uniform(0, 20, (places, 2))
    minutes = 2 + 1.5 * np.hypot(*(site_xy[:, None] - place_xy[None]).transpose(2, 0, 1))
    return minutes, rng.integers(1, 50, places).astype(float)


def _brute_force(minutes: np.ndarray, p: int, objective: locate.Objective, pinned: tuple[int, ...] = ()) -> float:
    return min(objective(minutes[list(c)].min(axis=0)) for c in itertools.combinations(range(len(minutes)), p)
               if set(pinned) <= set(c))


@pytest.mark.parametrize("statistic", ["mean", "p90", "within"])
def test_swap_heuristic_reaches_the_brute_force_optimum_on_small_instances(statistic):
    for seed in range(3):
        minutes, weights = _instance(seed)
        objective = locate.objective_for(statistic, weights, 12.0)
        found = locate.swap_heuristic(minutes, 3, objective, pinned=np.array([0]))
        assert 0 in found.sites and len(found.sites) == 3
        best = _brute_force(minutes, 3, objective, pinned=(0,))
        assert objective(locate.nearest(minutes, found.sites)) <= best + 0.5  # within half a minute/percent


def test_exact_mclp_matches_brute_force_and_reports_highs_own_status():
    minutes, weights = _instance(1)
    solution = locate.solve_exact("mclp", minutes, weights, radius=12.0, p=3)
    covered = lambda sites: weights[minutes[list(sites)].min(axis=0) <= 12.0].sum()  # noqa: E731
    best = max(covered(c) for c in itertools.combinations(range(len(minutes)), 3))
    assert len(solution.sites) == 3 and covered(solution.sites) == best
    assert solution.status == "Optimal"
    pinned = locate.solve_exact("mclp", minutes, weights, radius=12.0, p=3, pinned=np.array([5]))
    assert 5 in pinned.sites


def test_the_simulation_reproduces_coverage_at_low_demand_and_queues_at_high():
    minutes, weights = _instance(2)
    demand = Demand(5_000, weights, np.ones(len(weights), bool))
    check = low_demand_check(minutes, demand)
    assert check["passed"] and check["calls"] > 100
    busy = Demand(400_000, weights, np.ones(len(weights), bool), on_scene_mean_min=60)
    calls = draw_calls(busy, days=2, seed=1)
    response = run_once(calls, minutes, np.ones(len(minutes), int), 0.0)
    assert np.all(response >= minutes.min(axis=0)[calls.place] - 1e-9)
    assert np.mean(response) > np.mean(minutes.min(axis=0)[calls.place]) + 5  # units busy: calls wait


def test_common_random_numbers_make_identical_scenarios_identical():
    minutes, weights = _instance(3)
    demand = Demand(50_000, weights, np.ones(len(weights), bool))
    standards = tuple(s for s in load_standards() if s.service == "ambulance")
    result = simulate({"today": minutes, "same again": minutes.copy(), "fewer": minutes[:4]}, demand, standards,
                      days=3, replications=4)
    today, again = result["scenarios"]["today"], result["scenarios"]["same again"]
    assert today["standards"] == again["standards"]
    assert again["change_vs_first"]["ambulance_c1_mean"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert result["scenarios"]["fewer"]["standards"]["ambulance_c1_mean"]["mean"] > today["standards"][
        "ambulance_c1_mean"]["mean"]


STATIONS = ("name,service,longitude,latitude,pinned\n"
            "Bishopsgate,police,-0.0806,51.5166,true\n"
            "Snow Hill,police,-0.1046,51.5163,\n"
            "Dowgate,fire,-0.0921,51.5104,\n"
            "Shoreditch,fire,-0.0780,51.5265,\n"
            "Whitechapel,ambulance,-0.0600,51.5190,\n")


def test_plan_coverage_and_stations_on_the_city_of_london(reference_db, tmp_path):
    stations = tmp_path / "stations.csv"
    stations.write_text(STATIONS, encoding="utf-8")
    common = ["--db", str(reference_db), "--force", "city-of-london", "--stations", str(stations), "--json"]
    result = runner.invoke(app, ["plan", "coverage", *common, "--map", str(tmp_path / "map.geojson")])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["lsoas"] > 0 and found["services"]["police"]["stations"] == 2
    police = found["services"]["police"]["standards"][0]
    assert police["residents_within_pct"] == 100.0  # a square mile: everyone within 15 minutes
    assert "Open Government Licence" in found["attribution"]
    shown = json.loads((tmp_path / "map.geojson").read_text())
    assert len(shown["features"]) == found["lsoas"]
    plans = runner.invoke(app, ["plan", "stations", "--service", "police", "--share", "fire", "--choose", "2",
                                "--merge", "Bishopsgate,Snow Hill", *common])
    assert plans.exit_code == 0, plans.output
    scenarios = {s["scenario"]: s for s in json.loads(plans.stdout)["scenarios"]}
    assert scenarios["share police+fire"]["sites"] == 4
    assert scenarios["merge Bishopsgate + Snow Hill"]["sites"] == 1
    chosen = [s for name, s in scenarios.items() if name.startswith("choose 2")]
    assert len(chosen) == 2 and all(s["sites"] == 2 for s in chosen)
    unknown = runner.invoke(app, ["plan", "stations", "--service", "police", "--merge", "Nowhere,Snow Hill",
                                  *common])
    assert unknown.exit_code == 2 and "no station Nowhere" in unknown.output


def test_plan_simulate_reports_intervals_and_its_own_check(reference_db, tmp_path):
    stations = tmp_path / "stations.csv"
    stations.write_text(STATIONS, encoding="utf-8")
    result = runner.invoke(app, ["plan", "simulate", "--db", str(reference_db), "--force", "city-of-london",
                                 "--stations", str(stations), "--service", "police", "--share", "fire",
                                 "--days", "2", "--replications", "3", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["low_demand_check"]["passed"]
    assert set(found["scenarios"]) == {"today", "share police+fire"}
    interval = found["scenarios"]["today"]["standards"]["police_emergency"]
    assert interval["ci_low"] <= interval["mean"] <= interval["ci_high"]


def test_plan_without_stations_says_what_to_give(reference_db):
    result = runner.invoke(app, ["plan", "coverage", "--db", str(reference_db), "--force", "city-of-london"])
    assert result.exit_code == 2 and "--fire-list" in result.output


@pytest.mark.slow
def test_calibrate_scores_held_out_regions_beside_the_anchor(data_dir, tmp_path):
    from safertogether.bluelight.trees import load_trees

    saved = tmp_path / "model.npz"
    result = runner.invoke(app, ["plan", "calibrate", "--holdout", "NEAS", "--sample-lsoas", "3000", "--json",
                                 "--data", str(data_dir), "--save-model", str(saved)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert {"pairs", "median_abs_error_min", "p90_abs_error_min", "regions", "anchor"} <= set(found)
    assert set(found["regions"]) == {"NEAS"} and found["pairs"] > 500  # 733 NEAS pairs < 60 km in this sample
    assert found["median_abs_error_min"] < found["anchor"]["median_abs_error_min"]
    error = load_trees(saved).about["error"]  # the model coverage would use states the error just measured
    assert error["held_out"] == ["NEAS"] and error["p90_abs_error_min"] == found["p90_abs_error_min"]
    wrong = runner.invoke(app, ["plan", "calibrate", "--holdout", "XYZ", "--sample-lsoas", "500",
                                "--data", str(data_dir)])
    assert wrong.exit_code == 2 and "no ambulance region XYZ" in wrong.output


def test_a_set_cover_that_cannot_exist_says_so_rather_than_failing():
    minutes, weights = _instance(4)
    solution = locate.solve_exact("lscp", minutes, weights, radius=1.0, p=None)
    assert len(solution.sites) == 0 and solution.status == "Infeasible"


@pytest.mark.slow
def test_plan_demand_reads_the_partners_incident_logs(partners_synth, tmp_path):
    from safertogether.ingest import import_partner
    from safertogether.store.warehouse import open_warehouse

    db = tmp_path / "partners.duckdb"
    warehouse = open_warehouse(db)
    import_partner(warehouse, sorted(partners_synth.glob("*.yaml")))
    warehouse.close()
    stations = tmp_path / "stations.csv"
    stations.write_text("name,service,easting,northing\nWigston,fire,461000,298000\nEastern,fire,462000,304000\n"
                        "Leicester,ambulance,458000,304000\n", encoding="utf-8")
    result = runner.invoke(app, ["plan", "demand", "--db", str(db), "--stations", str(stations), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["services"]["police"]["mental_health"] > 0 and found["services"]["ambulance"]["incidents"] > 0
    assert found["repeat_locations"]["locations"] > 0
    assert 0 <= found["co_responding"]["fire_nearer_pct"] <= 100
    by_priority = found["co_responding"]["by_priority"]
    assert "C1" in by_priority  # category 1 (cardiac arrests) apart: where a nearer fire crew matters
    assert sum(p["ambulance_incidents"] for p in by_priority.values()) == found["co_responding"]["ambulance_incidents"]
    # the times coverage uses; this warehouse stores no LSOAs for the fitted model, and says what to import
    assert found["co_responding"]["travel_times"]["source"] == "curve"
    assert "safer import boundaries" in found["co_responding"]["travel_times"]["name"]
    open_warehouse(tmp_path / "empty.duckdb").close()
    empty = runner.invoke(app, ["plan", "demand", "--db", str(tmp_path / "empty.duckdb")])
    assert empty.exit_code == 2 and "no incident records" in empty.output
