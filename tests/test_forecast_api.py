"""Stored forecasts and patrol plans: kept by the commands, served signed in by role, absent from a public server;
and a patrol plan's time by deprivation decile against harm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from safertogether.access.audit import read_entries, verify
from safertogether.access.users import add_user, issue_token
from safertogether.api.app import create_app
from safertogether.cli import app
from safertogether.disclosure.outputs import SIGNED_IN_ROUTES
from safertogether.forecast.fairness import fairness_by_decile
from safertogether.forecast.grid import Grid
from safertogether.forecast.patrols import minutes_per_cell
from safertogether.model.access import User
from safertogether.store.warehouse import open_warehouse

runner = CliRunner()
ANALYST = User(user_id="ann", name="Ann Analyst", agency="city-of-london-police", role="analyst", clearance="SECRET")
HANDLER = User(user_id="cal", name="Cal Handler", agency="city-of-london-police", role="call-handler",
               clearance="SECRET")


@pytest.fixture(scope="module")
def stored(city_folder: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A warehouse holding a hotspot forecast and a patrol plan, made by the commands with --store."""
    where = tmp_path_factory.mktemp("forecasts")
    db = str(where / "safer.duckdb")
    predict = runner.invoke(app, ["forecast", "predict", "--events", str(city_folder), "--cell", "150", "--out",
                                  str(where / "hotspots.geojson"), "--store", "--db", db, "--json"])
    assert predict.exit_code == 0, predict.output
    patrols = runner.invoke(app, ["plan", "patrols", "--events", str(city_folder), "--out", str(where / "plan"),
                                  "--shift", "07:00=8", "--shift", "15:00=16", "--cell", "100", "--harm-weights",
                                  str(data_dir / "harm" / "cchi_weights_by_category.csv"), "--imd",
                                  str(data_dir / "deprivation" / "imd-2025-lsoa-2021.xlsx"), "--boundaries",
                                  str(data_dir / "boundaries" / "lsoa-2011-ew.geojson"), "--store", "--db", db,
                                  "--json"])
    assert patrols.exit_code == 0, patrols.output
    return {"db": db, "predict": json.loads(predict.stdout), "patrols": json.loads(patrols.stdout),
            "data_dir": data_dir, "city_folder": city_folder, "where": where}


@pytest.fixture(scope="module")
def signed_in(stored: dict[str, object]):  # type: ignore[no-untyped-def]
    warehouse = open_warehouse(str(stored["db"]))
    add_user(warehouse, ANALYST, "a long enough pass phrase")
    add_user(warehouse, HANDLER, "another long pass phrase")
    tokens = {u.user_id: issue_token(warehouse, u.user_id).token for u in (ANALYST, HANDLER)}
    with TestClient(create_app(warehouse), raise_server_exceptions=False) as client:
        yield client, tokens, warehouse
    warehouse.close()


def test_patrol_plan_reports_patrol_time_by_decile_against_harm(stored: dict[str, object]) -> None:
    fairness = stored["patrols"]["fairness"]  # type: ignore[index]
    rows = fairness["deciles"]
    assert fairness["harm"] == "Cambridge Crime Harm Index days"
    assert sum(r.get("patrol_share", 0) for r in rows) == pytest.approx(1, abs=0.01)
    assert sum(r["harm_share"] for r in rows) == pytest.approx(1, abs=0.01)
    assert any(r["decile"] > 0 and r.get("patrol_share", 0) > 0 for r in rows)  # City LSOAs have IMD deciles
    assert fairness["patrol_minutes"] == sum(s["boxes"] * s["visits_per_box"] * 12
                                             for s in stored["patrols"]["shifts"])  # type: ignore[index]


def test_patrol_plan_prints_the_deciles_and_refuses_half_the_inputs(stored: dict[str, object]) -> None:
    data_dir, city = stored["data_dir"], stored["city_folder"]
    args = ["plan", "patrols", "--events", str(city), "--out", str(stored["where"] / "printed"),  # type: ignore[operator]
            "--shift", "07:00=8", "--cell", "100", "--imd", str(data_dir / "deprivation" / "imd-2025-lsoa-2021.xlsx")]  # type: ignore[operator]
    half = runner.invoke(app, args)
    assert half.exit_code != 0 and "--boundaries" in half.output
    shown = runner.invoke(app, [*args, "--boundaries", str(data_dir / "boundaries" / "lsoa-2011-ew.geojson")])  # type: ignore[operator]
    assert shown.exit_code == 0, shown.output
    assert "Patrol time by IMD decile" in shown.output and "share of harm" in shown.output


def _square(n: int) -> Grid:
    import pyproj

    return Grid(0.0, 0.0, 100.0, 100.0, n, n, pyproj.CRS.from_epsg(27700), np.arange(n * n), "test")


def test_patrol_time_in_one_decile_beyond_its_harm_is_warned() -> None:
    grid = _square(10)
    ids = grid.ids()
    decile = np.repeat(np.arange(1, 11), 10)  # row r of the grid is decile r + 1
    plan = {"features": [{"properties": {"cells": [ids[0], ids[1]], "planned_minutes": 48}},
                         {"properties": {"cells": [ids[5]], "planned_minutes": 48}},
                         {"properties": {"cells": [ids[95]], "planned_minutes": 12}}]}
    minutes = minutes_per_cell(grid, [plan])
    assert minutes[0] == minutes[1] == 24 and minutes[5] == 48 and minutes.sum() == 108
    result = fairness_by_decile(minutes > 0, np.ones(grid.n), decile, patrol=minutes)
    assert any("decile 1" in w and "patrol time" in w for w in result["warnings"])
    assert not any("decile 10" in w and "patrol time" in w for w in result["warnings"])  # 11% of time, 10% harm


def test_signed_in_analyst_gets_the_latest_forecast_with_why(signed_in, stored) -> None:  # type: ignore[no-untyped-def]
    client, tokens, warehouse = signed_in
    answer = client.get("/api/forecasts/hotspots/latest", headers={"Authorization": f"Bearer {tokens['ann']}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/geo+json")
    assert "no-store" in answer.headers["cache-control"]
    body = answer.json()
    assert body["properties"]["output_id"] == stored["predict"]["stored_as"]
    assert body["features"] and all("raises the risk" in f["properties"]["why"] for f in body["features"])
    assert "Open Government Licence" in body["properties"]["attribution"]
    plan = client.get("/api/forecasts/patrols/latest", headers={"Authorization": f"Bearer {tokens['ann']}"}).json()
    assert {f["properties"]["shift"] for f in plan["features"]} == {"07:00", "15:00"}
    assert plan["properties"]["fairness"]["deciles"]
    reads = [e for e in read_entries(warehouse) if e.action.startswith("read-forecast")]
    assert {(e.actor_user, e.action, e.outcome) for e in reads} >= {("ann", "read-forecast-hotspots", "allowed"),
                                                                   ("ann", "read-forecast-patrols", "allowed")}
    assert verify(warehouse).ok


def test_anonymous_and_the_wrong_role_are_refused(signed_in) -> None:  # type: ignore[no-untyped-def]
    client, tokens, warehouse = signed_in
    anonymous = client.get("/api/forecasts/hotspots/latest")
    assert anonymous.status_code == 401 and "features" not in anonymous.text
    wrong_role = client.get("/api/forecasts/patrols/latest", headers={"Authorization": f"Bearer {tokens['cal']}"})
    assert wrong_role.status_code == 403 and "analyst" in wrong_role.json()["error"]["message"]
    assert client.get("/api/forecasts/crimes/latest",
                      headers={"Authorization": f"Bearer {tokens['ann']}"}).status_code == 422
    denied = [e for e in read_entries(warehouse) if e.action == "read-forecast-patrols" and e.outcome == "denied"]
    assert denied and denied[-1].actor_user == "cal"


def test_forecast_routes_are_declared_and_absent_from_a_public_server(signed_in, city_client) -> None:  # type: ignore[no-untyped-def]
    client, _tokens, _warehouse = signed_in
    paths = client.get("/openapi.json").json()["paths"]
    forecast_routes = {("GET", p) for p in paths if p.startswith("/api/forecasts")}
    assert forecast_routes and forecast_routes <= set(SIGNED_IN_ROUTES)
    public = city_client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith("/api/forecasts") for p in public)
    assert city_client.get("/api/forecasts/hotspots/latest").status_code == 404
