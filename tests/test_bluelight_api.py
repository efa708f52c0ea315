"""The commissioners' planning API and page: coverage and scenarios from the stored estate.

What a commissioner would notice: the estate loads once and every answer uses it, the map colours each
neighbourhood by its travel time against the standard's target (and says so in words), scenarios come
back side by side with their change against today, a bad request says what to do, and the page works by
keyboard with the licence shown.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from safertogether.api import create_app
from safertogether.cli import app
from safertogether.store.warehouse import open_warehouse

runner = CliRunner()
STATIONS = ("name,service,longitude,latitude,pinned\n"
            "Bishopsgate,police,-0.0806,51.5166,true\n"
            "Snow Hill,police,-0.1046,51.5163,\n"
            "Dowgate,fire,-0.0921,51.5104,\n"
            "Shoreditch,fire,-0.0780,51.5265,\n"
            "Whitechapel,ambulance,-0.0600,51.5190,\n"
            "Nowhere,police,,,\n")


@pytest.fixture(scope="module")
def plan_db(tmp_path_factory: pytest.TempPathFactory, reference_db: Path) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    path = folder / "plan.duckdb"
    shutil.copy(reference_db, path)
    stations = folder / "stations.csv"
    stations.write_text(STATIONS, encoding="utf-8")
    result = runner.invoke(app, ["plan", "load-stations", "--db", str(path), "--stations", str(stations), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["stations"] == {"ambulance": 1, "fire": 2, "police": 2} and found["quarantined"] == 1
    return path


@pytest.fixture(scope="module")
def client(plan_db: Path):
    warehouse = open_warehouse(plan_db, read_only=True)
    with TestClient(create_app(warehouse)) as client:
        yield client
    warehouse.close()


def test_coverage_judges_every_standard_on_the_stored_estate(client):
    found = client.get("/api/plan/city-of-london/coverage").json()
    assert found["lsoas"] > 0 and found["residents"] > 0 and "per_lsoa" not in found
    assert {s: v["stations"] for s, v in found["services"].items()} == {"ambulance": 1, "fire": 2, "police": 2}
    c1 = next(s for s in found["services"]["ambulance"]["standards"] if s["standard"] == "ambulance_c1_mean")
    assert c1["met"] == (c1["value_residents"] <= 7)
    police = found["services"]["police"]["standards"][0]
    assert police["residents_within_pct"] == 100.0  # a square mile, two stations: everyone within 15 minutes
    assert {s["id"] for s in found["standards"]} >= {"ambulance_c1_mean", "police_emergency"}
    assert "Open Government Licence" in found["attribution"]
    times = found["travel_times"]  # the fitted model, and how far it errs where it was not fitted
    assert times["source"] == "fallback model" and times["error"]["p90_abs_error_min"] > 0
    assert f"90th percentile {times['error']['p90_abs_error_min']:g} min" in times["summary"]


def test_the_map_colours_each_neighbourhood_against_the_target_in_words_too(client):
    answer = client.get("/api/plan/city-of-london/coverage.geojson", params={"standard": "ambulance_c1_mean"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/geo+json"
    found = answer.json()
    lsoas = client.get("/api/plan/city-of-london/coverage").json()["lsoas"]
    assert len(found["features"]) == lsoas
    bands = {b["label"]: b["colour"] for b in found["metadata"]["bands"]}
    for feature in found["features"]:
        p = feature["properties"]
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert p["within"] == (p["minutes"] <= p["target"]) and p["target"] == 7.0
        assert bands[p["band"]] == p["colour"]
    assert found["metadata"]["standard"]["source"].startswith("NHS England")


def test_scenarios_come_back_side_by_side_against_today(client):
    answer = client.get("/api/plan/city-of-london/scenarios", params=[
        ("service", "police"), ("share", "fire"), ("merge", "Bishopsgate,Snow Hill"), ("choose", "2")])
    assert answer.status_code == 200, answer.text
    scenarios = {s["scenario"]: s for s in answer.json()["scenarios"]}
    assert list(scenarios)[0] == "today"
    assert scenarios["share police+fire"]["sites"] == 4 and scenarios["merge Bishopsgate + Snow Hill"]["sites"] == 1
    merged = scenarios["merge Bishopsgate + Snow Hill"]["standards"][0]
    today = scenarios["today"]["standards"][0]
    assert merged["change_vs_today"] == pytest.approx(merged["value_residents"] - today["value_residents"], abs=0.01)
    assert merged["change_vs_today"] >= 0  # one site fewer is never faster
    assert any(name.startswith("choose 2") for name in scenarios)


@pytest.mark.parametrize(("path", "params", "status", "says"), [
    ("/api/plan/city-of-london/scenarios", {"service": "police", "merge": "Nowhere,Snow Hill"}, 400, "no station"),
    ("/api/plan/city-of-london/scenarios", {"service": "police", "merge": "Snow Hill"}, 400, "X,Y"),
    ("/api/plan/city-of-london/scenarios", {"service": "police", "share": "coastguard"}, 400, "no service"),
    ("/api/plan/city-of-london/scenarios", {"service": "police", "choose": "0"}, 422, ""),
    ("/api/plan/city-of-london/coverage.geojson", {"standard": "fire_nowhere"}, 404, "the standards are"),
    ("/api/plan/atlantis/coverage", {}, 404, "no LSOAs of force"),
])
def test_a_bad_request_says_what_to_do(client, path, params, status, says):
    answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert says in answer.text


def test_without_a_stored_estate_the_answer_says_how_to_load_one(reference_db):
    warehouse = open_warehouse(reference_db, read_only=True)
    try:
        answer = TestClient(create_app(warehouse)).get("/api/plan/city-of-london/coverage")
    finally:
        warehouse.close()
    assert answer.status_code in (404, 409, 503) and "safer plan load-stations" in answer.text


def test_the_commands_use_the_stored_estate_when_given_no_files(plan_db):
    result = runner.invoke(app, ["plan", "coverage", "--db", str(plan_db), "--force", "city-of-london", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["services"]["fire"]["stations"] == 2
    assert found["travel_times"]["source"] == "fallback model" and "median" in found["travel_times"]["summary"]


@pytest.mark.browser
def test_the_page_shows_coverage_and_compares_scenarios_by_keyboard(plan_db):
    from test_browser import chromium_page

    warehouse = open_warehouse(plan_db, read_only=True)
    try:
        with chromium_page(create_app(warehouse)) as (url, page, errors):
            page.goto(f"{url}/blue-light?force=city-of-london")
            page.wait_for_selector("body[data-state='loaded']", timeout=30_000)
            page.wait_for_function("window.planMap && window.planMap.loaded() && "
                                   "window.planMap.getLayer('coverage-fill')", timeout=30_000)
            assert page.locator("#plan-legend li").count() == 5
            assert page.locator("#plan-today tbody tr").count() >= 5
            assert "neighbourhoods of city-of-london" in page.inner_text("#plan-status")
            assert "regions it never saw (LAS, SWAS, EMAS)" in page.inner_text("#plan-times")
            # By keyboard: the service, a share box, then submit.
            page.focus("#scenario-service")
            page.keyboard.press("ArrowDown")  # fire -> police
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")  # police box -> fire box
            page.keyboard.press("Space")
            page.focus("#scenario-choose")
            page.keyboard.type("2")
            page.keyboard.press("Enter")
            page.wait_for_selector("#scenario-table table", timeout=30_000)
            header = page.inner_text("#scenario-table thead")
            assert "today" in header and "share police+fire" in header and "choose 2" in header
            assert "Open Government Licence" in page.inner_text("footer")
            # Printed for a decision paper: the tables, the model's error and the licence; no forms or map.
            assert page.is_visible("#plan-print") and not page.is_visible("#plan-printed")
            page.emulate_media(media="print")
            assert not page.is_visible("#scenario-form") and not page.is_visible("#plan-map")
            assert not page.is_visible("#plan-print")
            assert page.is_visible("#plan-today table") and page.is_visible("#scenario-table table")
            assert "never saw" in page.inner_text("#plan-times") and page.is_visible("#plan-times")
            assert "Force area city-of-london" in page.inner_text("#plan-printed")
            assert page.is_visible("footer") and page.pdf().startswith(b"%PDF")
    finally:
        warehouse.close()
    assert not errors, errors
