"""The spine on a shared PostgreSQL server: the same imports give the same answers, byte for byte, as on DuckDB.

The DuckDB warehouse of the other tests (``city_db``) and a PostgreSQL database filled by the same library
calls from the same files are asked the same questions through the API and the CLI; any difference in an
answer is a defect of the engine seam (the SQL dialect lives in store/postgres_sql.py, nowhere else).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from safertogether.api.app import create_app
from safertogether.areas.load import import_area_lookup, import_boundaries, import_places, import_population
from safertogether.cli import app as cli
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.store.warehouse import Warehouse, open_warehouse

CENTRE = "lat=51.515&lng=-0.09"
SQUARE = "poly=51.51,-0.1:51.52,-0.1:51.52,-0.08:51.51,-0.08"

# One or more questions of every kind the public faces answer: areas, summaries, maps, quality, the
# police.uk-compatible API (points, polygons, locations, outcomes, stops) and the OGC API.
PATHS = (
    "/api/forces", "/api/meta", "/api/quality",
    "/api/areas?q=city", "/api/areas?q=E01000001", "/api/areas/E01000001",
    "/api/areas/E01000001/summary", "/api/areas/city-of-london/summary",
    "/api/areas/city-of-london/summary?from=2019-01&to=2019-12", "/api/areas/E01032739/crimes.csv?from=2021-01",
    "/api/map/city-of-london.geojson",
    "/police-uk/api/forces", "/police-uk/api/forces/city-of-london", "/police-uk/api/crime-categories?date=2021-06",
    "/police-uk/api/crimes-street-dates", "/police-uk/api/crime-last-updated",
    f"/police-uk/api/crimes-street/all-crime?{CENTRE}&date=2021-06",
    f"/police-uk/api/crimes-street/burglary?{SQUARE}&date=2021-06",
    "/police-uk/api/crimes-no-location?category=all-crime&force=city-of-london&date=2021-06",
    f"/police-uk/api/outcomes-at-location?{CENTRE}&date=2023-03",
    f"/police-uk/api/stops-street?{CENTRE}&date=2023-03",
    "/police-uk/api/stops-force?force=city-of-london&date=2023-03",
    "/police-uk/api/stops-no-location?force=city-of-london&date=2023-03",
    "/ogc/collections", "/ogc/collections/crimes/items?limit=5",
    "/ogc/collections/crimes/items?limit=3&bbox=-0.1,51.51,-0.08,51.52&datetime=2021-06-01/2021-06-30",
    "/ogc/collections/neighbourhoods/items?limit=2", "/ogc/collections/crimes/queryables",
)


@pytest.fixture(scope="module")
def city_postgres(postgres_server, data_dir: Path, city_folder: Path, multiforce_folder: Path) -> Iterator[Warehouse]:
    """The city_db warehouse's contents, imported the same way into a PostgreSQL database."""
    warehouse = open_warehouse(postgres_server.create_database("spine"))
    boundaries = data_dir / "boundaries"
    import_boundaries(warehouse, boundaries / "lsoa-2011-ew.geojson")
    import_area_lookup(warehouse, boundaries / "lsoa-2011-police-force-lookup.csv")
    import_population(warehouse, boundaries / "lsoa-2011-census-population.csv")
    import_places(warehouse)
    import_police_uk(warehouse, find_police_uk_files([city_folder]) + find_police_uk_files(
        [multiforce_folder], forces=["city-of-london"]))
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def postgres_client(city_postgres: Warehouse) -> Iterator[TestClient]:
    with TestClient(create_app(city_postgres), raise_server_exceptions=False) as client:
        yield client


def _answer(client: TestClient, path: str) -> tuple[int, object]:
    response = client.get(path)
    if "json" not in response.headers.get("content-type", ""):
        return response.status_code, response.text
    answer = response.json()
    if isinstance(answer, dict):
        answer.pop("timeStamp", None)  # OGC API: when the answer was made
    return response.status_code, answer


@pytest.mark.parametrize("path", PATHS)
def test_every_public_answer_is_the_same_on_postgresql(path, city_client, postgres_client):
    on_duckdb = _answer(city_client, path)
    assert on_duckdb[0] == 200, f"{path} fails on DuckDB: {on_duckdb}"
    assert _answer(postgres_client, path) == on_duckdb


def test_the_same_import_again_changes_nothing_on_postgresql(city_postgres, city_folder):
    before = city_postgres.scalar("SELECT count(*) FROM street_crimes")
    report = import_police_uk(city_postgres, find_police_uk_files([city_folder]))
    assert {f.status for f in report.files} == {"unchanged"}
    assert city_postgres.scalar("SELECT count(*) FROM street_crimes") == before > 38_000


@pytest.mark.parametrize("command", [["summary", "E01000001", "--json"], ["quality", "--json"],
                                     ["areas", "Aldgate", "--json"]])
def test_the_commands_answer_alike_on_both_engines(command, city_db, city_postgres, postgres_server):
    runner = CliRunner()
    on_duckdb = runner.invoke(cli, [*command, "--db", str(city_db)])
    on_postgres = runner.invoke(cli, [*command, "--db", postgres_server.url("spine")])
    assert on_duckdb.exit_code == 0, on_duckdb.output
    assert (on_postgres.exit_code, on_postgres.stdout) == (0, on_duckdb.stdout)


def test_an_area_exports_the_same_geopackage_from_postgresql(postgres_server, city_db, city_postgres, tmp_path):
    import pyogrio

    exported = []
    for name, db in (("duckdb", str(city_db)), ("postgresql", postgres_server.url("spine"))):
        out = tmp_path / f"{name}.gpkg"
        result = CliRunner().invoke(cli, ["export", "city-of-london", "--from", "2021-01", "--to", "2021-06",
                                          "--out", str(out), "--db", db])
        assert result.exit_code == 0, result.output
        exported.append(pyogrio.read_dataframe(out))
    on_duckdb, on_postgres = exported
    assert len(on_duckdb) > 1000
    assert on_postgres.equals(on_duckdb)
