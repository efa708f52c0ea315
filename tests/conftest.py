"""Shared fixtures: real data from ../shared/data (or $SAFER_DATA), warehouses built from it once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safertogether.api import create_app
from safertogether.areas.load import import_area_lookup, import_boundaries, import_places, import_population
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.store.warehouse import Warehouse, open_warehouse

# Helpers that tests run in other processes (a sitecustomize would patch this one if imported for doctests).
collect_ignore = ["hosts_entry", "js_clients"]
REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SAFER_DATA") or REPO.parent / "shared" / "data")
if not DATA.is_absolute():
    DATA = (REPO / DATA).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA.is_dir(), f"the shared data folder is missing: {DATA}; set SAFER_DATA"
    return DATA


@pytest.fixture(scope="session")
def city_folder(data_dir: Path) -> Path:
    return data_dir / "police-uk" / "city-of-london"


@pytest.fixture(scope="session")
def multiforce_folder(data_dir: Path) -> Path:
    return data_dir / "police-uk" / "2023-03-multiforce"


@pytest.fixture(scope="session")
def reference_db(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A warehouse with boundaries, the area lookup, population and places, and no crimes."""
    path = tmp_path_factory.mktemp("reference") / "reference.duckdb"
    warehouse = open_warehouse(path)
    boundaries = data_dir / "boundaries"
    import_boundaries(warehouse, boundaries / "lsoa-2011-ew.geojson")
    import_area_lookup(warehouse, boundaries / "lsoa-2011-police-force-lookup.csv")
    import_population(warehouse, boundaries / "lsoa-2011-census-population.csv")
    import_places(warehouse)
    warehouse.close()
    return path


@pytest.fixture(scope="session")
def city_db(tmp_path_factory: pytest.TempPathFactory, reference_db: Path, city_folder: Path,
            multiforce_folder: Path) -> Path:
    """Reference data plus 60 months of City of London street crime and its 2023-03 files of all kinds."""
    path = tmp_path_factory.mktemp("city") / "city.duckdb"
    shutil.copy(reference_db, path)
    warehouse = open_warehouse(path)
    sources = find_police_uk_files([city_folder]) + find_police_uk_files(
        [multiforce_folder], forces=["city-of-london"])
    import_police_uk(warehouse, sources)
    warehouse.close()
    return path


@pytest.fixture
def fresh_db(tmp_path: Path, reference_db: Path) -> Path:
    """A private copy of the reference warehouse, for tests that import."""
    path = tmp_path / "safer.duckdb"
    shutil.copy(reference_db, path)
    return path


@pytest.fixture
def fresh_warehouse(fresh_db: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(fresh_db)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def city_warehouse(city_db: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(city_db, read_only=True)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def city_client(city_warehouse: Warehouse) -> Iterator[TestClient]:
    with TestClient(create_app(city_warehouse), raise_server_exceptions=False) as client:
        yield client
