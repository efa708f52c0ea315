"""A warehouse of police.uk files alone answers for every LSOA they name; reference data can come later."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safertogether.api import create_app
from safertogether.api.schemas import AreaSummary
from safertogether.areas.load import import_area_lookup, import_boundaries, import_places, import_population
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.measures.maps import rate_map_geojson
from safertogether.measures.period import resolve_period
from safertogether.measures.summary import area_summary
from safertogether.store.warehouse import Warehouse, open_warehouse
from test_api import raw_rows

PERIOD = ("2021-01", "2021-12")


def city_sources(city_folder: Path, multiforce_folder: Path):
    """The files of the ``city_db`` fixture, so that warehouses can be compared with it."""
    return find_police_uk_files([city_folder]) + find_police_uk_files([multiforce_folder], forces=["city-of-london"])


@pytest.fixture(scope="module")
def crimes_only(tmp_path_factory, city_folder, multiforce_folder) -> Iterator[Warehouse]:
    warehouse = open_warehouse(tmp_path_factory.mktemp("police-uk-only") / "safer.duckdb")
    import_police_uk(warehouse, city_sources(city_folder, multiforce_folder))
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def crimes_only_client(crimes_only) -> Iterator[TestClient]:
    with TestClient(create_app(crimes_only), raise_server_exceptions=False) as client:
        yield client


def busiest_lsoa(folder: Path) -> tuple[str, str, int]:
    """The LSOA with most street crimes in 2021 by the raw files: code, name, crimes."""
    rows = [r for r in raw_rows(folder, *PERIOD) if r["LSOA code"]]
    (code, name), crimes = Counter((r["LSOA code"], r["LSOA name"]) for r in rows).most_common(1)[0]
    return code, name, crimes


def test_every_lsoa_in_the_files_is_an_area_with_its_name_and_force(crimes_only, city_folder, multiforce_folder):
    code, name, crimes = busiest_lsoa(city_folder)
    summary = area_summary(crimes_only, code, *PERIOD)
    assert summary["area"]["name"] == name and summary["area"]["force_id"] == "city-of-london"
    assert summary["crimes"] == crimes
    rows = raw_rows(city_folder, "2017-01", "2021-12") + [
        r for r in raw_rows(multiforce_folder, "2023-03", "2023-03") if r["Falls within"] == "City of London Police"]
    named = {r["LSOA code"] for r in rows if r["LSOA code"]}
    stored = {r["code"] for r in crimes_only.query("SELECT code FROM areas WHERE level = 'lsoa'")}
    assert stored == named


def test_answers_say_which_import_adds_rates_and_the_map(crimes_only_client, city_folder):
    code, _name, crimes = busiest_lsoa(city_folder)
    answer = crimes_only_client.get(f"/api/areas/{code}/summary", params={"from": PERIOD[0], "to": PERIOD[1]})
    assert answer.status_code == 200
    summary = AreaSummary.model_validate(answer.json())
    assert summary.crimes == crimes and summary.rate_per_1000 is None
    commands = {m.data: m.command for m in summary.missing_data}
    assert commands["population"].startswith("safer import population ")
    assert commands["lookup"].startswith("safer import lookup ")

    collection = crimes_only_client.get("/api/map/city-of-london.geojson").json()
    assert {m["data"] for m in collection["metadata"]["missing_data"]} == {"boundaries", "population", "places"}
    feature = next(f for f in collection["features"] if f["id"] == code)
    assert feature["geometry"] is None and feature["properties"]["rate_per_1000"] is None
    assert feature["properties"]["crimes"] > 0


def test_search_csv_and_the_police_uk_api_work(crimes_only_client, city_folder):
    code, _name, crimes = busiest_lsoa(city_folder)
    street = next(r["Location"].removeprefix("On or near ") for r in raw_rows(city_folder, *PERIOD)
                  if r["LSOA code"] == code and r["Location"].startswith("On or near "))
    found = crimes_only_client.get("/api/areas", params={"q": street}).json()["results"]
    assert code in {r["code"] for r in found}
    csv_text = crimes_only_client.get(f"/api/areas/{code}/crimes.csv",
                                      params={"from": PERIOD[0], "to": PERIOD[1]}).text
    assert len(csv_text.strip().splitlines()) == crimes + 1
    month = raw_rows(city_folder, "2021-06", "2021-06")
    answer = crimes_only_client.get("/police-uk/api/crimes-no-location",
                                    params={"category": "all-crime", "force": "city-of-london", "date": "2021-06"})
    assert answer.status_code == 200
    assert len(answer.json()) == sum(1 for r in month if not r["Longitude"]) > 0


def _snapshot(warehouse: Warehouse) -> dict[str, object]:
    """What users see: the areas, where each crime was placed, summaries at every level, the force map."""
    codes = ["city-of-london", "E01000001", "E02000001", "E09000001"]
    return {
        "areas": warehouse.query("SELECT * FROM areas ORDER BY ALL"),
        "placed": warehouse.query("SELECT lsoa_polygon, lsoa, count(*) FROM street_crimes GROUP BY ALL ORDER BY ALL"),
        "summaries": [area_summary(warehouse, code, *PERIOD) for code in codes],
        "map": rate_map_geojson(warehouse, "city-of-london",
                                resolve_period(warehouse, *PERIOD, force="city-of-london")),
    }


@pytest.mark.parametrize("order", [
    ("crimes", "boundaries", "lookup", "population", "places"),
    ("population", "places", "crimes", "lookup", "boundaries"),
])
def test_reference_data_after_the_crimes_gives_the_same_answers(order, tmp_path, data_dir, city_db, city_folder,
                                                                 multiforce_folder):
    boundaries = data_dir / "boundaries"
    steps = {
        "crimes": lambda w: import_police_uk(w, city_sources(city_folder, multiforce_folder)),
        "boundaries": lambda w: import_boundaries(w, boundaries / "lsoa-2011-ew.geojson"),
        "lookup": lambda w: import_area_lookup(w, boundaries / "lsoa-2011-police-force-lookup.csv"),
        "population": lambda w: import_population(w, boundaries / "lsoa-2011-census-population.csv"),
        "places": import_places,
    }
    warehouse = open_warehouse(tmp_path / "later.duckdb")
    for step in order:
        steps[step](warehouse)
    first = open_warehouse(city_db, read_only=True)  # reference data first, then the same crimes
    try:
        assert _snapshot(warehouse) == _snapshot(first)
    finally:
        warehouse.close()
        first.close()


def test_the_map_stays_valid_json_whatever_lsoa_code_a_file_gives(tmp_path):
    import datetime as dt
    import json

    from safertogether.measures.period import Period

    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
              "Last outcome category,Context\n")
    row = ('a,2023-01,Leicestershire Police,Leicestershire Police,-1.1,52.6,On or near X,"E01\\""",Charnwood 009E,'
           "Burglary,,\n")
    (tmp_path / "2023-01-leicestershire-street.csv").write_text(header + row, encoding="utf-8")
    warehouse = open_warehouse(tmp_path / "safer.duckdb")
    import_police_uk(warehouse, find_police_uk_files([tmp_path]))
    month = dt.date(2023, 1, 1)
    answer = json.loads(rate_map_geojson(warehouse, "leicestershire", Period(month, month)))
    warehouse.close()
    assert [f["id"] for f in answer["features"]] == ['E01\\"']
