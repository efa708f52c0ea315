"""Shared fixtures: real data from ../shared/data (or $SAFER_DATA), warehouses built from it once."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from postgres_server import Server, binaries
from postgres_server import running_server as running_postgres
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


ENGINES = ("duckdb", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """A PostgreSQL cluster of the test session's own, on a free loopback port (see tests/postgres_server.py)."""
    bin_dir = binaries()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; CI must run the PostgreSQL tests (make postgres installs it)")
        pytest.skip("PostgreSQL is not installed (Debian's postgresql package: `make postgres`); "
                    "the PostgreSQL half of the engine tests is skipped")
    with running_postgres(bin_dir) as server:
        yield server


_databases = iter(range(1, 1_000_000))


@pytest.fixture(params=ENGINES)
def warehouse_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new empty warehouse goes, on each engine: a DuckDB file, or a new PostgreSQL database."""
    if request.param == "duckdb":
        return str(tmp_path / "safer.duckdb")
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"test_{next(_databases)}")


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


@pytest.fixture(scope="session")
def city_index_db(tmp_path_factory: pytest.TempPathFactory, city_db: Path) -> Path:
    """The City of London warehouse with its LSOA index built twice: from the exact counts (edition 1) and
    from the counts released under round-to-5 (edition 2)."""
    from safertogether.disclosure.policy import load_policy
    from safertogether.index.build import build_index

    path = tmp_path_factory.mktemp("city-index") / "city.duckdb"
    shutil.copy(city_db, path)
    warehouse = open_warehouse(path)
    build_index(warehouse, "lsoa")
    build_index(warehouse, "lsoa", policy=load_policy("round-to-5"))
    warehouse.close()
    return path


@pytest.fixture(scope="session")
def city_index_warehouse(city_index_db: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(city_index_db, read_only=True)
    yield warehouse
    warehouse.close()


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free loopback port, in a background thread; yields its URL."""
    port = free_port()
    config = uvicorn.Config(app=app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-test-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def city_server_url(city_warehouse: Warehouse) -> Iterator[str]:
    """The app over the City of London warehouse, served by uvicorn (for clients that need a real URL)."""
    with running_server(create_app(city_warehouse)) as url:
        yield url


@pytest.fixture(scope="session")
def city_server_process_url(city_db: Path) -> Iterator[str]:
    """``safer serve`` over the City of London warehouse in a process of its own.

    For clients that hold the GIL while they wait for the answer (GDAL through pyogrio): against a
    server thread in the same process they would wait for ever.
    """
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("safer")), "serve", "--db", str(city_db), "--port", str(port),
         "--warm", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"safer serve did not start: {process.communicate()[1].decode()[-2000:]}")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.communicate(timeout=10)


# Synthetic partners for linkage and access tests: a seed the person model was not tuned on (tuning used 7).
PARTNERS_PEOPLE = 4_000
PARTNERS_SEED = 11
# Agencies imported first; the rest arrive later and are linked incrementally.
FIRST_AGENCIES = ("police", "ambulance")


def partner_mappings(synth: Path, first: bool) -> list[Path]:
    """The mapping files of the agencies imported first (``first``) or later."""
    return [m for m in sorted(synth.glob("*.yaml")) if m.name.startswith(FIRST_AGENCIES) == first]


@pytest.fixture(scope="session")
def partners_synth(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    from safertogether.sources.synth import SynthConfig, generate_partners

    out = tmp_path_factory.mktemp("synth") / "partners"
    generate_partners(SynthConfig(people=PARTNERS_PEOPLE, seed=PARTNERS_SEED, data=data_dir), out)
    return out


@pytest.fixture(scope="session")
def linked_partners(partners_synth: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A warehouse linked after police and ambulance, then linked again after everyone else (incrementally)."""
    from safertogether.ingest import import_partner
    from safertogether.link.evaluate_people import evaluate_people
    from safertogether.link.people import link_people

    db = tmp_path_factory.mktemp("linked") / "linked.duckdb"
    warehouse = open_warehouse(db)
    import_partner(warehouse, partner_mappings(partners_synth, first=True))
    first = link_people(warehouse)
    first_ids = {r["record_key"]: r["person_id"]
                 for r in warehouse.query("SELECT record_key, person_id FROM person_ids")}
    first_quality = evaluate_people(warehouse, partners_synth / "truth")
    import_partner(warehouse, partner_mappings(partners_synth, first=False))
    second = link_people(warehouse)
    warehouse.close()
    return {"db": db, "first": first, "second": second, "first_ids": first_ids, "first_quality": first_quality}


def linked_copy_with_agreements(linked_partners: dict[str, object], folder: Path, agreements: str) -> Warehouse:
    """A writable copy of the linked partners' warehouse with the sharing agreements of ``agreements`` (YAML)."""
    from safertogether.access.agreements import load_agreements

    copy = folder / "linked.duckdb"
    shutil.copy(linked_partners["db"], copy)  # type: ignore[arg-type]
    opened = open_warehouse(copy)
    (folder / "agreements.yaml").write_text(agreements)
    load_agreements(opened, folder / "agreements.yaml")
    return opened
