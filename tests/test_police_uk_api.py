"""The data.police.uk-compatible API, checked against the raw police.uk files and a real client.

Counts are computed independently from the CSV files (stdlib csv, a haversine written here, shapely),
never through the warehouse.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import shapely
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from police_api import PoliceAPI

from safertogether.api import create_app
from safertogether.api.police_uk_root import create_police_uk_app
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.model.forces import FORCE_NAMES
from safertogether.policeuk import ids, output, params
from safertogether.settings import Settings
from safertogether.store.warehouse import Warehouse

API = "/police-uk/api/"
REPO = Path(__file__).resolve().parent.parent
EARTH_RADIUS_M = 6_371_008.8
MILE_M = 1609.344
# Written out from data.police.uk's documentation, not imported from the model: the test checks the model.
SLUGS = {
    "Anti-social behaviour": "anti-social-behaviour",
    "Bicycle theft": "bicycle-theft",
    "Burglary": "burglary",
    "Criminal damage and arson": "criminal-damage-arson",
    "Drugs": "drugs",
    "Other crime": "other-crime",
    "Other theft": "other-theft",
    "Possession of weapons": "possession-of-weapons",
    "Public order": "public-order",
    "Robbery": "robbery",
    "Shoplifting": "shoplifting",
    "Theft from the person": "theft-from-the-person",
    "Vehicle crime": "vehicle-crime",
    "Violence and sexual offences": "violent-crime",
}
CENTRE = (51.5150, -0.0900)  # the City of London


# --- independent reading of the raw files ----------------------------------------------------------


def raw(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def street_2021_06(city_folder: Path) -> list[dict[str, str]]:
    return raw(city_folder, "2021-06-city-of-london-street.csv")


@pytest.fixture(scope="module")
def files_2023_03(multiforce_folder: Path) -> dict[str, list[dict[str, str]]]:
    return {
        kind: raw(multiforce_folder, f"2023-03-city-of-london-{kind}.csv")
        for kind in ("street", "outcomes", "stop-and-search")
    }


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2, dp, dl = map(math.radians, (lat1, lat2, lat2 - lat1, lng2 - lng1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def north_of(lat: float, lng: float, metres: float) -> tuple[float, float]:
    return lat + math.degrees(metres / EARTH_RADIUS_M), lng


def located(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["Latitude"] and r["Longitude"]]


def within_mile(rows: list[dict[str, str]], lat: float, lng: float) -> list[dict[str, str]]:
    return [
        r
        for r in located(rows)
        if distance_m(lat, lng, float(r["Latitude"]), float(r["Longitude"])) <= MILE_M
    ]


def inside(rows: list[dict[str, str]], ring: list[tuple[float, float]]) -> list[dict[str, str]]:
    polygon = shapely.Polygon([(lng, lat) for lat, lng in ring])
    return [
        r
        for r in located(rows)
        if polygon.intersects(shapely.Point(float(r["Longitude"]), float(r["Latitude"])))
    ]


def poly_param(ring: list[tuple[float, float]]) -> str:
    return ":".join(f"{lat},{lng}" for lat, lng in ring)


def square(lat: float, lng: float, half: float) -> list[tuple[float, float]]:
    return [
        (lat - half, lng - half),
        (lat + half, lng - half),
        (lat + half, lng + half),
        (lat - half, lng + half),
    ]


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(API + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


def assert_crime_shape(crime: dict[str, Any], located_: bool = True) -> None:
    assert set(crime) == {
        "category",
        "persistent_id",
        "location_subtype",
        "id",
        "location",
        "context",
        "month",
        "location_type",
        "outcome_status",
    }
    assert crime["category"] in SLUGS.values() and crime["location_subtype"] == ""
    assert isinstance(crime["id"], int) and 0 <= crime["id"] < 2**31
    assert (
        crime["persistent_id"] == ""
        if crime["category"] == "anti-social-behaviour"
        else len(crime["persistent_id"]) == 64
    )
    if located_:
        place = crime["location"]
        assert isinstance(place["latitude"], str) and len(place["latitude"].split(".")[1]) == 6
        assert isinstance(place["longitude"], str) and isinstance(place["street"]["id"], int)
        assert place["street"]["name"].startswith("On or near")
        assert crime["location_type"] == "Force"
    else:
        assert crime["location"] is None and crime["location_type"] is None
    status = crime["outcome_status"]
    assert status is None or (isinstance(status["category"], str) and len(status["date"]) == 7)


# --- reference methods --------------------------------------------------------------------------------


def test_forces_categories_dates(city_client: TestClient, city_folder: Path) -> None:
    forces = get(city_client, "forces")
    assert len(forces) == 44 and "btp" not in {f["id"] for f in forces}
    assert [f["name"] for f in forces] == sorted(f["name"] for f in forces)
    assert {f["id"]: f["name"] for f in forces} == {k: v for k, v in FORCE_NAMES.items() if k != "btp"}
    force = get(city_client, "forces/city-of-london")
    assert force["name"] == "City of London Police" and force["engagement_methods"] == []
    assert {"description", "url", "telephone", "id"} <= set(force)

    categories = get(city_client, "crime-categories")
    assert categories[0] == {"url": "all-crime", "name": "All crime"}
    assert {c["url"]: c["name"] for c in categories[1:]} == {v: k for k, v in SLUGS.items()}
    for month in ("2017-01", "2020-04"):
        used = {SLUGS[r["Crime type"]] for r in raw(city_folder, f"{month}-city-of-london-street.csv")}
        assert used <= {c["url"] for c in get(city_client, "crime-categories", date=month)}

    dates = get(city_client, "crimes-street-dates")
    assert dates[0] == {"date": "2023-03", "stop-and-search": ["city-of-london"]}
    assert [d["date"] for d in dates] == sorted((d["date"] for d in dates), reverse=True)
    assert len(dates) == 61 and dates[-1]["date"] == "2017-01"
    assert get(city_client, "crime-last-updated") == {"date": "2023-03-01"}


# --- crimes ---------------------------------------------------------------------------------------------


def test_crimes_street_by_point_matches_the_raw_file(city_client: TestClient, street_2021_06) -> None:
    lat, lng = CENTRE
    crimes = get(city_client, "crimes-street/all-crime", lat=lat, lng=lng, date="2021-06")
    expected = within_mile(street_2021_06, lat, lng)
    assert len(crimes) == len(expected) > 100
    for crime in crimes:
        assert_crime_shape(crime)
        assert crime["month"] == "2021-06"
    assert sorted(c["persistent_id"] for c in crimes) == sorted(r["Crime ID"] for r in expected)
    by_slug: dict[str, int] = {}
    for r in expected:
        by_slug[SLUGS[r["Crime type"]]] = by_slug.get(SLUGS[r["Crime type"]], 0) + 1
    for slug in ("violent-crime", "anti-social-behaviour", "other-theft"):
        answer = get(city_client, f"crimes-street/{slug}", lat=lat, lng=lng, date="2021-06")
        assert len(answer) == by_slug.get(slug, 0) and {c["category"] for c in answer} <= {slug}
    with_outcome = next(c for c in crimes if c["outcome_status"])
    row = next(r for r in expected if r["Crime ID"] == with_outcome["persistent_id"])
    assert with_outcome["outcome_status"]["category"] == row["Last outcome category"]


def test_default_date_is_the_latest_month(city_client: TestClient, files_2023_03) -> None:
    crimes = get(city_client, "crimes-street/all-crime", lat=CENTRE[0], lng=CENTRE[1])
    assert len(crimes) == len(within_mile(files_2023_03["street"], *CENTRE))
    assert {c["month"] for c in crimes} == {"2023-03"}


def test_one_mile_radius_edge(city_client: TestClient, street_2021_06) -> None:
    row = located(street_2021_06)[0]
    lat, lng = float(row["Latitude"]), float(row["Longitude"])

    def found_from(metres: float) -> bool:
        plat, plng = north_of(lat, lng, metres)
        assert distance_m(plat, plng, lat, lng) == pytest.approx(metres, abs=0.01)
        crimes = get(
            city_client, "crimes-street/all-crime", lat=f"{plat:.9f}", lng=f"{plng:.9f}", date="2021-06"
        )
        return any(
            float(c["location"]["latitude"]) == lat and float(c["location"]["longitude"]) == lng
            for c in crimes
        )

    assert found_from(1600)
    assert not found_from(1620)


def test_crimes_street_by_polygon_get_and_post(city_client: TestClient, street_2021_06) -> None:
    ring = [(51.510, -0.100), (51.520, -0.098), (51.518, -0.080), (51.509, -0.085)]
    expected = inside(street_2021_06, ring)
    by_get = get(city_client, "crimes-street/all-crime", poly=poly_param(ring), date="2021-06")
    response = city_client.post(
        API + "crimes-street/all-crime", data={"poly": poly_param(ring), "date": "2021-06"}
    )
    assert response.status_code == 200
    assert len(by_get) == len(response.json()) == len(expected) > 50
    assert sorted(c["id"] for c in by_get) == sorted(c["id"] for c in response.json())

    row = located(street_2021_06)[0]
    lat, lng = float(row["Latitude"]), float(row["Longitude"])

    def has_point(ring: list[tuple[float, float]]) -> bool:
        crimes = get(city_client, "crimes-street/all-crime", poly=poly_param(ring), date="2021-06")
        return any(
            float(c["location"]["latitude"]) == lat and float(c["location"]["longitude"]) == lng
            for c in crimes
        )

    assert has_point(square(lat, lng, 0.00002))  # about 2 m each side
    assert not has_point(square(lat + 0.00004, lng, 0.00002))  # the point is 2 m below the square


def test_crimes_at_location_and_no_location(city_client: TestClient, street_2021_06) -> None:
    row = located(street_2021_06)[5]
    lat, lng = float(row["Latitude"]), float(row["Longitude"])
    there = [
        r
        for r in street_2021_06
        if r["Latitude"] == row["Latitude"]
        and r["Longitude"] == row["Longitude"]
        and r["Location"] == row["Location"]
    ]
    location_id = ids.location_id(lat, lng, row["Location"])
    crimes = get(city_client, "crimes-at-location", location_id=location_id, date="2021-06")
    assert len(crimes) == len(there) >= 1
    assert {c["location"]["street"]["id"] for c in crimes} == {location_id}
    nearest = get(city_client, "crimes-at-location", lat=lat + 0.00001, lng=lng, date="2021-06")
    assert {c["id"] for c in crimes} <= {c["id"] for c in nearest}
    assert get(city_client, "crimes-at-location", location_id=12345, date="2021-06") == []

    no_location = get(
        city_client, "crimes-no-location", category="all-crime", force="city-of-london", date="2021-06"
    )
    expected = [r for r in street_2021_06 if not r["Latitude"]]
    assert len(no_location) == len(expected) > 0
    for crime in no_location:
        assert_crime_shape(crime, located_=False)
    assert get(city_client, "crimes-no-location", category="burglary", force="leicestershire") == []


def test_ids_are_stable_across_reimports(
    fresh_warehouse: Warehouse, city_client: TestClient, city_folder: Path
) -> None:
    import_police_uk(
        fresh_warehouse, find_police_uk_files([city_folder], month_from="2021-06", month_to="2021-06")
    )
    with TestClient(create_app(fresh_warehouse), raise_server_exceptions=False) as fresh:
        again = get(fresh, "crimes-street/all-crime", lat=CENTRE[0], lng=CENTRE[1])
    first = get(city_client, "crimes-street/all-crime", lat=CENTRE[0], lng=CENTRE[1], date="2021-06")
    assert sorted((c["id"], c["location"]["street"]["id"]) for c in again) == sorted(
        (c["id"], c["location"]["street"]["id"]) for c in first
    )


def test_large_answers_stream_in_chunks(
    city_client: TestClient, street_2021_06, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "CHUNK_ROWS", 50)
    ring = [(51.49, -0.13), (51.54, -0.13), (51.54, -0.06), (51.49, -0.06)]
    response = city_client.post(
        API + "crimes-street/all-crime", data={"poly": poly_param(ring), "date": "2021-06"}
    )
    assert response.status_code == 200 and "content-length" not in response.headers
    assert len(response.json()) == len(inside(street_2021_06, ring)) > 500


# --- outcomes ------------------------------------------------------------------------------------------


def test_outcomes(city_client: TestClient, files_2023_03) -> None:
    outcomes, street = files_2023_03["outcomes"], files_2023_03["street"]
    in_street = {r["Crime ID"] for r in street}
    counts: dict[str, int] = {}
    for r in outcomes:
        counts[r["Crime ID"]] = counts.get(r["Crime ID"], 0) + 1
    crime_id = max((c for c in counts if c in in_street), key=lambda c: counts[c])
    answer = get(city_client, f"outcomes-for-crime/{crime_id}")
    assert answer["crime"]["persistent_id"] == crime_id and "outcome_status" not in answer["crime"]
    assert answer["crime"]["month"] == "2023-03"
    rows = [r for r in outcomes if r["Crime ID"] == crime_id]
    assert len(answer["outcomes"]) == len(rows) == counts[crime_id]
    for outcome, r in zip(answer["outcomes"], rows, strict=True):
        assert outcome["date"] == "2023-03" and outcome["person_id"] is None
        assert set(outcome["category"]) == {"code", "name"} and outcome["category"]["code"]
        assert outcome["category"]["name"].replace(" a penalty", " penalty") == r["Outcome type"]

    near = get(city_client, "outcomes-at-location", lat=CENTRE[0], lng=CENTRE[1])
    assert len(near) == len(within_mile(outcomes, *CENTRE)) > 0
    assert {"category", "date", "person_id", "crime"} == set(near[0])
    assert "outcome_status" not in near[0]["crime"]


# --- stop and search --------------------------------------------------------------------------------


def test_stops(city_client: TestClient, files_2023_03) -> None:
    stops = files_2023_03["stop-and-search"]
    everything = get(city_client, "stops-force", force="city-of-london")
    assert len(everything) == len(stops)
    first = everything[0]
    assert first["datetime"].endswith("+00:00") and isinstance(first["involved_person"], bool)
    assert (
        set(first["outcome_object"]) == {"id", "name"} and first["outcome"] == first["outcome_object"]["name"]
    )
    assert {
        "age_range",
        "gender",
        "legislation",
        "object_of_search",
        "operation",
        "operation_name",
        "type",
        "self_defined_ethnicity",
        "officer_defined_ethnicity",
        "outcome_linked_to_object_of_search",
        "removal_of_more_than_outer_clothing",
        "location",
    } <= set(first)
    unlocated = get(city_client, "stops-no-location", force="city-of-london", date="2023-03")
    assert len(unlocated) == len(stops) - len(located(stops)) and all(
        s["location"] is None for s in unlocated
    )
    near = get(city_client, "stops-street", lat=CENTRE[0], lng=CENTRE[1])
    assert len(near) == len(within_mile(stops, *CENTRE)) > 0
    place = near[0]["location"]
    at = get(city_client, "stops-at-location", location_id=place["street"]["id"])
    assert len(at) == sum(
        1 for r in stops if r["Latitude"] == place["latitude"] and r["Longitude"] == place["longitude"]
    )
    assert get(city_client, "stops-force", force="leicestershire") == []


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("crimes-street/all-crime?lat=51.5&lng=-0.1&date=2021-13", 400, "bad_request"),
        ("crimes-street/all-crime?lat=51.5&lng=-0.1&date=June", 400, "bad_request"),
        ("crimes-street/all-crime?lat=951.5&lng=-0.1", 400, "bad_request"),
        ("crimes-street/all-crime?lat=north&lng=-0.1", 400, "bad_request"),
        ("crimes-street/all-crime?lat=51.5", 400, "bad_request"),
        ("crimes-street/all-crime", 400, "bad_request"),
        ("crimes-street/all-crime?poly=51.5,-0.1:51.6,-0.1", 400, "bad_request"),
        ("crimes-street/all-crime?poly=51.5;-0.1", 400, "bad_request"),
        ("crimes-street/made-up?lat=51.5&lng=-0.1", 404, "not_found"),
        ("crimes-at-location?date=2021-06", 400, "bad_request"),
        ("crimes-at-location?location_id=abc", 400, "bad_request"),
        ("crimes-no-location?category=all-crime", 400, "bad_request"),
        ("crimes-no-location?category=all-crime&force=atlantis", 404, "not_found"),
        ("crime-categories?date=2021", 400, "bad_request"),
        ("crime-categories?date=null", 400, "bad_request"),
        ("crimes-street/all-crime?lat=51.5&lng=-0.1&date=Undefined", 400, "bad_request"),
        ("forces/atlantis", 404, "not_found"),
        ("forces/city-of-london/people", 404, "missing_data"),
        ("outcomes-for-crime/" + "0" * 64, 404, "not_found"),
        ("stops-force", 400, "bad_request"),
        ("stops-at-location", 400, "bad_request"),
        ("stops-street?lng=1", 400, "bad_request"),
        ("locate-neighbourhood?q=51.5,-0.1", 404, "missing_data"),
        ("city-of-london/neighbourhoods", 404, "missing_data"),
        ("city-of-london/E1/boundary", 404, "missing_data"),
        ("atlantis/neighbourhoods", 404, "not_found"),
    ],
)
def test_errors(city_client: TestClient, path: str, status: int, code: str) -> None:
    assert_error(city_client.get(API + path), status, code)


@pytest.mark.parametrize("date", ["undefined", "", " undefined "])
@pytest.mark.parametrize(
    "path",
    [
        f"crimes-street/all-crime?lat={CENTRE[0]}&lng={CENTRE[1]}",
        f"stops-street?lat={CENTRE[0]}&lng={CENTRE[1]}",
        f"outcomes-at-location?lat={CENTRE[0]}&lng={CENTRE[1]}",
        "crimes-no-location?category=all-crime&force=city-of-london",
        "stops-force?force=city-of-london",
        "crime-categories",
    ],
)
def test_dates_data_police_uk_tolerates_mean_the_latest_month(city_client: TestClient, path: str, date: str) -> None:
    """ukpd sends ``date=undefined`` when no date is given; data.police.uk answers with the latest month."""
    answers = [
        city_client.get(API + path + ("&" if "?" in path else "?") + query)
        for query in ("", "date=" + urllib.parse.quote(date), "date=2023-03")
    ]
    assert [a.status_code for a in answers] == [200] * 3, answers[1].text
    assert answers[0].json() == answers[1].json() == answers[2].json()


def test_tolerated_values_are_documented(city_client: TestClient) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    operations = city_client.get("/openapi.json").json()["paths"]
    street = operations[API + "crimes-street/{category}"]["get"]["parameters"]
    described = {p["name"]: p.get("description", "") for p in street}
    for case in params.TOLERATED:
        assert f"| {case.value} | {case.read_as} | {case.evidence} |" in readme
        assert case.value in described[case.parameter]


def test_optional_rate_limit(city_warehouse: Warehouse) -> None:
    with TestClient(
        create_app(city_warehouse, Settings(rate_limit_per_second=1)), raise_server_exceptions=False
    ) as client:
        statuses = [client.get(API + "forces").status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and statuses[-1] == 429


def test_openapi_lists_the_methods_and_fuzzing_finds_no_500(city_warehouse: Warehouse) -> None:
    app = create_app(city_warehouse)
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    assert paths[API + "crimes-street/{category}"]["post"]["tags"] == ["police.uk compatible"]
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in api.include(path_regex="^/police-uk/").get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, (case.path, case.query, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}

        check()


# --- the open-source client against a real server -------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(city_warehouse: Warehouse) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(city_warehouse), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}/police-uk/api/"
    server.should_exit = True
    thread.join(10)


def test_police_api_client(server_url: str, street_2021_06, files_2023_03) -> None:
    api = PoliceAPI(base_url=server_url)
    assert len(api.get_forces()) == 44
    assert api.get_latest_date() == "2023-03"

    lat, lng = CENTRE
    crimes = api.get_crimes_point(lat, lng, date="2021-06")
    expected = within_mile(street_2021_06, lat, lng)
    assert len(crimes) == len(expected)
    assert sorted(c.persistent_id for c in crimes) == sorted(r["Crime ID"] for r in expected)
    assert {c.category.id for c in crimes} == {SLUGS[r["Crime type"]] for r in expected}
    assert all(isinstance(c.location.id, int) for c in crimes)

    ring = [(51.510, -0.100), (51.520, -0.098), (51.518, -0.080), (51.509, -0.085)]
    area = api.get_crimes_area(ring, date="2021-06")  # a POST with a form body
    assert len(area) == len(inside(street_2021_06, ring)) > 50

    outcomes = files_2023_03["outcomes"]
    with_outcomes = {o["Crime ID"] for o in outcomes}
    crime_id = next(r["Crime ID"] for r in files_2023_03["street"] if r["Crime ID"] in with_outcomes)
    crime = api.get_crime(crime_id)
    assert crime.persistent_id == crime_id and crime.month == "2023-03"
    assert [o.category.name.replace(" a penalty", " penalty") for o in crime.outcomes] == [
        o["Outcome type"] for o in outcomes if o["Crime ID"] == crime_id
    ]


# --- existing clients, unchanged, at the root of a port of their own (README: "Existing clients, unchanged") --

HOSTS_ENTRY = REPO / "tests" / "hosts_entry"
JS_CLIENTS = REPO / "tests" / "js_clients"
RING = [(51.510, -0.100), (51.520, -0.098), (51.518, -0.080), (51.509, -0.085)]
# What a user of the two Python clients writes: neither is told where the server is.
PYTHON_CLIENTS = """
import json, sys
import police_api, pyrozza

lat, lng, ring = json.loads(sys.argv[1])
police = police_api.PoliceAPI()  # http://data.police.uk/api/
rozza = pyrozza.Client()  # https://data.police.uk/api/
print(json.dumps({
    "latest_date": police.get_latest_date(),
    "area": [c.persistent_id for c in police.get_crimes_area(ring, date="2021-06")],
    "point_latest": [c.persistent_id for c in police.get_crimes_point(lat, lng)],
    "https_month": [c["persistent_id"] for c in rozza.street_level_crimes(lat=lat, lon=lng, date="2021-06")],
    "https_categories": rozza.crime_categories(),
}))
"""


@dataclass
class RootServer:
    folder: Path
    ports: dict[str, int]  # "443", "80" (the README's) and "main" -> the free ports used instead
    env: dict[str, str]


def readme_block(language: str) -> str:
    """The README example's first code block in ``language``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split("### Existing clients, unchanged", 1)[1].split(f"```{language}\n", 1)[1].split("```", 1)[0]


def readme_example() -> list[str]:
    """The shell commands of the README's example, continuation lines joined, comments dropped."""
    block = readme_block("sh")
    lines = (line.split("  # ")[0].strip() for line in block.replace("\\\n", " ").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def require(tool: str, hint: str) -> None:
    if shutil.which(tool) and (tool != "node" or (JS_CLIENTS / "node_modules" / "ukpd").is_dir()):
        return
    message = f"{tool} or its packages are missing: {hint}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(process: subprocess.Popen[bytes], ports: list[int], log: Path) -> None:
    deadline = time.monotonic() + 60
    for port in ports:
        while True:
            assert process.poll() is None, f"safer serve stopped: {log.read_text()}"
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)


def serve_command(line: str, ports: dict[str, int], db: Path) -> list[str]:
    """The README's `sudo .venv/bin/safer serve ...` with this venv's safer, free ports and the test warehouse."""
    words = shlex.split(line)
    words = words[words.index("serve"):]
    for i, word in enumerate(words[:-1]):
        if word in ("--police-uk-root", "--police-uk-root-http"):
            words[i + 1] = str(ports[words[i + 1]])
    return [str(Path(sys.executable).with_name("safer")), *words, "--db", str(db), "--port", str(ports["main"]),
            "--warm", "0"]


@pytest.fixture(scope="module")
def root_server(city_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RootServer]:
    """The README's example run as written, on free ports: certificate, `safer serve`, the clients' trust."""
    require("openssl", "install Debian's openssl")
    folder = tmp_path_factory.mktemp("data.police.uk")
    commands = readme_example()
    openssl = next(c for c in commands if c.startswith("openssl "))
    subprocess.run(shlex.split(openssl), cwd=folder, check=True, capture_output=True)
    ports = {"443": free_port(), "80": free_port(), "main": free_port()}
    serve = serve_command(next(c for c in commands if "safer serve " in c), ports, city_db)
    log = folder / "serve.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(serve, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # straight to the hosts entry
    for export in (c.removeprefix("export ") for c in commands if c.startswith("export ")):
        name, value = export.split("=", 1)
        env[name] = value.replace("$PWD", str(folder))
    env |= {"SAFER_TEST_PORTS": f"443={ports['443']},80={ports['80']}", "PYTHONPATH": str(HOSTS_ENTRY)}
    try:
        wait_for(process, list(ports.values()), log)
        yield RootServer(folder, ports, env)
    finally:
        process.terminate()
        process.wait(20)


@pytest.fixture(scope="module")
def behind_nginx(root_server: RootServer) -> Iterator[RootServer]:
    """The README's nginx server block in front of the root port, on free ports, as a hosts entry sees it."""
    require("nginx", "install Debian's nginx-light (`make proxy` does as root)")
    folder, ports = root_server.folder, {"443": free_port(), "80": free_port()}
    server = (
        readme_block("nginx")
        .replace("listen 80;", f"listen 127.0.0.1:{ports['80']};")
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{ports['443']} ssl;")
        .replace("/etc/ssl/", f"{folder}/")
        .replace("127.0.0.1:8001", f"127.0.0.1:{root_server.ports['80']}")  # the root port over plain HTTP
    )
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = " ".join(f"{kind}_temp_path {folder}/{kind};" for kind in kinds)
    (folder / "nginx.conf").write_text(
        f"daemon off; pid {folder}/nginx.pid; error_log {folder}/nginx.log;\n"
        # Workers may run as nobody, who cannot enter pytest's temporary folder: buffer in memory only.
        f"events {{}}\nhttp {{ access_log off; proxy_max_temp_file_size 0; {temp}\n{server}}}\n"
    )
    with open(folder / "nginx.log", "ab") as output:
        process = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(process, list(ports.values()), folder / "nginx.log")
        env = root_server.env | {"SAFER_TEST_PORTS": f"443={ports['443']},80={ports['80']}"}
        yield RootServer(folder, root_server.ports | ports, env)
    finally:
        process.terminate()
        process.wait(20)


def test_the_root_app_answers_as_the_mounted_one(city_warehouse: Warehouse, city_client: TestClient) -> None:
    with TestClient(create_police_uk_app(city_warehouse), raise_server_exceptions=False) as root:
        for path in ("forces", "crime-last-updated", f"stops-street?lat={CENTRE[0]}&lng={CENTRE[1]}&date=undefined"):
            assert root.get("/api/" + path).json() == city_client.get(API + path).json()
        assert_error(root.get("/api/crimes-street/all-crime?lat=51.5&lng=-0.1&date=2021-13"), 400, "bad_request")
        assert_error(root.get(API + "forces"), 404)
        assert all(path.startswith("/api/") for path in root.get("/openapi.json").json()["paths"])


def test_the_main_port_serves_as_before(root_server: RootServer) -> None:
    base = f"http://127.0.0.1:{root_server.ports['main']}"
    assert httpx.get(base + "/").status_code == 200
    assert httpx.get(base + API + "crime-last-updated").json() == {"date": "2023-03-01"}


def server_for(request: pytest.FixtureRequest, route: str) -> RootServer:
    server: RootServer = request.getfixturevalue("behind_nginx" if route == "nginx" else "root_server")
    return server


ROUTES = pytest.mark.parametrize("route", ["safer serve", "nginx"])


@ROUTES
def test_python_clients_unchanged(request, route: str, street_2021_06, files_2023_03) -> None:
    """police-api-client (plain HTTP) and pyrozza (HTTPS, the README's certificate) with no base URL."""
    argument = json.dumps([*CENTRE, RING])
    run = subprocess.run([sys.executable, "-c", PYTHON_CLIENTS, argument], env=server_for(request, route).env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    answers = json.loads(run.stdout)
    ids = lambda rows: sorted(r["Crime ID"] for r in rows)  # noqa: E731
    assert answers["latest_date"] == "2023-03"
    assert sorted(answers["area"]) == ids(inside(street_2021_06, RING))
    assert sorted(answers["point_latest"]) == ids(within_mile(files_2023_03["street"], *CENTRE))
    assert sorted(answers["https_month"]) == ids(within_mile(street_2021_06, *CENTRE))
    assert answers["https_categories"][0] == {"url": "all-crime", "name": "All crime"}


@ROUTES
def test_javascript_client_unchanged(request, route: str, street_2021_06, files_2023_03) -> None:
    """ukpd over HTTPS, sending date=undefined for its default month, as its tests do to data.police.uk."""
    require("node", "install Node.js and run `make setup` (npm ci in tests/js_clients)")
    run = subprocess.run(
        ["node", "--require", str(HOSTS_ENTRY / "hosts-entry.js"), "ukpd-answers.js", *map(str, CENTRE), "2021-06"],
        cwd=JS_CLIENTS, env=server_for(request, route).env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    answers = json.loads(run.stdout)
    assert isinstance(answers["latest"], list), answers["latest"]  # not an error for date=undefined
    ids = lambda rows: sorted(r["Crime ID"] for r in rows)  # noqa: E731
    assert sorted(c["persistent_id"] for c in answers["latest"]) == ids(within_mile(files_2023_03["street"], *CENTRE))
    assert {c["month"] for c in answers["latest"]} == {"2023-03"}
    assert sorted(c["persistent_id"] for c in answers["month"]) == ids(within_mile(street_2021_06, *CENTRE))
    assert len(answers["stops"]) == len(within_mile(files_2023_03["stop-and-search"], *CENTRE)) > 0
    assert len(answers["forces"]) == 44 and answers["force"]["name"] == "City of London Police"
    assert answers["lastUpdated"] == {"date": "2023-03-01"}
    assert answers["availability"][0]["date"] == "2023-03"
    assert answers["categories"][0] == {"url": "all-crime", "name": "All crime"}
