"""The project's own API, checked against the raw police.uk files and its OpenAPI document."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from safertogether.api import create_app


def raw_rows(folder: Path, first: str, last: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob("*-street.csv")):
        if first <= path.name[:7] <= last:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                rows += list(csv.DictReader(handle))
    return rows


def assert_error(response, status: int) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert body["error"]["message"] and body["error"]["code"]


def test_search_finds_areas_by_street_code_and_name(city_client, city_folder):
    street = next(r["Location"] for r in raw_rows(city_folder, "2021-12", "2021-12")
                  if r["Location"].startswith("On or near ") and r["LSOA code"])
    found = city_client.get("/api/areas", params={"q": street.removeprefix("On or near ")}).json()["results"]
    assert any(r["matched"] == street.removeprefix("On or near ") and r["level"] == "lsoa" for r in found)
    assert city_client.get("/api/areas", params={"q": "E01000001"}).json()["results"][0]["code"] == "E01000001"
    by_name = city_client.get("/api/areas", params={"q": "city of london"}).json()["results"]
    assert {"E09000001", "E01000001"} <= {r["code"] for r in by_name}


def test_summary_counts_and_rate_match_the_raw_files(city_client, city_folder, data_dir):
    rows = [r for r in raw_rows(city_folder, "2021-01", "2021-12") if r["LSOA code"] == "E01000001"]
    with open(data_dir / "boundaries" / "lsoa-2011-census-population.csv", encoding="utf-8-sig") as handle:
        residents = next(int(r[9].replace(",", "")) for r in csv.reader(handle) if r[6] == "E01000001")
    summary = city_client.get("/api/areas/E01000001/summary", params={"from": "2021-01", "to": "2021-12"}).json()
    assert summary["crimes"] == len(rows)
    assert summary["population"] == residents
    assert summary["rate_per_1000"] == pytest.approx(len(rows) / residents * 1000, abs=0.01)
    by_type: dict[str, int] = {}
    for r in rows:
        by_type[r["Crime type"]] = by_type.get(r["Crime type"], 0) + 1
    assert {c["crime_type"]: c["crimes"] for c in summary["categories"]} == by_type
    assert [m["month"] for m in summary["monthly"]] == [f"2021-{m:02d}" for m in range(1, 13)]
    assert sum(m["crimes"] for m in summary["monthly"]) == len(rows)
    outcomes: dict[str, int] = {}
    for r in rows:
        if r["Crime type"] != "Anti-social behaviour":
            key = r["Last outcome category"] or "No outcome recorded"
            outcomes[key] = outcomes.get(key, 0) + 1
    assert {o["outcome"]: o["crimes"] for o in summary["outcomes"]} == outcomes


def test_trend_compares_twelve_months_with_the_twelve_before(city_client, city_folder):
    now = len(raw_rows(city_folder, "2021-01", "2021-12"))
    before = len(raw_rows(city_folder, "2020-01", "2020-12"))
    trend = city_client.get("/api/areas/city-of-london/summary", params={"to": "2021-12"}).json()["trend"]
    assert (trend["current_crimes"], trend["previous_crimes"]) == (now, before)
    assert trend["significant"] == (trend["p_value"] < 0.05)
    assert trend["direction"] in {"up", "down", "no significant change"}


def test_stop_and_search_and_outcomes_come_from_their_files(city_client, multiforce_folder):
    with open(multiforce_folder / "2023-03-city-of-london-stop-and-search.csv", encoding="utf-8-sig") as handle:
        stops = list(csv.DictReader(handle))
    summary = city_client.get("/api/areas/city-of-london/summary", params={"from": "2023-03", "to": "2023-03"}).json()
    part = summary["stop_and_search"]
    assert part["stops"] == len(stops)
    legislation = {r["value"]: r["stops"] for r in part["by_legislation"]}
    assert legislation.get("Misuse of Drugs Act 1971 (section 23)", 0) == sum(
        1 for s in stops if s["Legislation"] == "Misuse of Drugs Act 1971 (section 23)")
    assert "not" in part["note"] and "ethnicity" in part["note"]
    assert sum(o["crimes"] for o in summary["outcomes"]) > 0


def test_map_geojson_has_every_force_lsoa_with_its_rate(city_client):
    collection = city_client.get("/api/map/city-of-london.geojson", params={"from": "2021-01", "to": "2021-12"}).json()
    codes = {f["id"] for f in collection["features"]}
    assert "E01000001" in codes and len(codes) >= 5
    feature = next(f for f in collection["features"] if f["id"] == "E01000001")
    summary = city_client.get("/api/areas/E01000001/summary", params={"from": "2021-01", "to": "2021-12"}).json()
    assert feature["properties"]["crimes"] == summary["crimes"]
    assert feature["properties"]["rate_per_1000"] == summary["rate_per_1000"]
    assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_csv_download_streams_every_crime_of_the_area(city_client, city_folder):
    answer = city_client.get("/api/areas/city-of-london/crimes.csv", params={"from": "2017-01", "to": "2021-12"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == len(raw_rows(city_folder, "2017-01", "2021-12")) > 10_000
    assert rows[0]["month"] == "2017-01"


@pytest.mark.parametrize("url,status", [
    ("/api/areas/E09999999/summary", 404),
    ("/api/areas/E01000001/summary?from=2021-13", 400),
    ("/api/areas/E01000001/summary?from=2021-12&to=2021-01", 400),
    ("/api/areas/%3Cscript%3E/summary", 400),
    ("/api/areas?q=", 422),
    ("/api/areas?q=x&limit=100000", 422),
    ("/api/map/nowhere.geojson", 404),
    ("/api/nothing-here", 404),
])
def test_invalid_input_gets_one_json_error_shape(city_client, url, status):
    assert_error(city_client.get(url), status)


def test_no_data_yet_is_a_clear_404(fresh_warehouse):
    from fastapi.testclient import TestClient

    with TestClient(create_app(fresh_warehouse)) as client:
        answer = client.get("/api/areas/E01000001/summary")
    assert_error(answer, 404)
    assert "safer import police-uk" in answer.json()["error"]["message"]


def test_api_never_fails_with_a_server_error(city_warehouse):
    """Schemathesis generates requests from the OpenAPI document: none may get a 500 or a foreign error shape."""
    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(city_warehouse))
    operations = [result.ok() for result in api.include(path_regex="^/api/").get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call()
            assert response.status_code < 500, (case.path, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}

        check()


def test_warming_caches_the_default_view_the_route_would_give(city_warehouse, city_client):
    from safertogether.api.cache import ANSWERS, answer_key
    from safertogether.api.routes.areas import summary_key
    from safertogether.api.warm import areas_to_warm, warm

    order = areas_to_warm(city_warehouse, 100)
    assert order[0] == ("force", "city-of-london") and ("lsoa", "E01000001") in order
    assert warm(city_warehouse, 100) >= 0
    cached = ANSWERS.get(answer_key(city_warehouse, *summary_key("E01000001", None, None)))
    assert cached is not None
    assert city_client.get("/api/areas/E01000001/summary").json() == __import__("orjson").loads(cached.body)


def test_a_server_started_with_warming_answers_at_once(city_warehouse):
    from fastapi.testclient import TestClient

    from safertogether.settings import Settings

    with TestClient(create_app(city_warehouse, Settings(warm_cache=10))) as client:
        assert client.get("/api/areas/city-of-london/summary").status_code == 200


def test_force_average_counts_crimes_located_in_the_force_per_force_resident(city_client, city_folder, data_dir):
    with open(data_dir / "boundaries" / "lsoa-2011-police-force-lookup.csv", encoding="utf-8-sig") as handle:
        city_lsoas = {r["LSOA Code"] for r in csv.DictReader(handle) if r["Police_force"] == "City of London"}
    with open(data_dir / "boundaries" / "lsoa-2011-census-population.csv", encoding="utf-8-sig") as handle:
        residents = sum(int(r[9].replace(",", "")) for r in csv.reader(handle) if r[6] in city_lsoas)
    located = sum(1 for r in raw_rows(city_folder, "2021-01", "2021-12") if r["LSOA code"] in city_lsoas)
    summary = city_client.get("/api/areas/E01000001/summary", params={"from": "2021-01", "to": "2021-12"}).json()
    comparison = summary["force_comparison"]
    assert comparison["force_population"] == residents
    assert comparison["force_crimes"] == located
    assert comparison["force_rate_per_1000"] == pytest.approx(located / residents * 1000, abs=0.01)
    force = city_client.get("/api/areas/city-of-london/summary", params={"from": "2021-01", "to": "2021-12"}).json()
    assert force["force_comparison"] is None


@pytest.mark.parametrize("code,params", [
    ("E01000001", {"from": "2021-01", "to": "2021-12"}),
    ("city-of-london", {"from": "2023-03", "to": "2023-03"}),
    ("E09000001", {}),
])
def test_summary_answers_match_the_documented_schema(city_client, code, params):
    from safertogether.api.schemas import AreaSummary

    answer = city_client.get(f"/api/areas/{code}/summary", params=params)
    AreaSummary.model_validate(answer.json())
    documented = city_client.get("/openapi.json").json()["paths"]["/api/areas/{code}/summary"]["get"]
    assert "AreaSummary" in str(documented["responses"]["200"])
