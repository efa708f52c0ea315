"""Towns: found by name, written on the force map; the map opens on the force, not on its stray crimes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import orjson
import pytest

from safertogether.areas.hierarchy import search_areas
from safertogether.areas.load import import_places
from safertogether.errors import InputFormatError
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.measures.maps import rate_map_geojson
from safertogether.measures.period import resolve_period
from safertogether.sources.places import read_places
from safertogether.store.warehouse import Warehouse, open_warehouse

# Leicestershire Police's area, generously (Rutland's east edge is at -0.43).
FORCE_BOX = (-1.70, 52.35, -0.35, 53.05)


@pytest.fixture(scope="module")
def leicestershire(tmp_path_factory, data_dir) -> Iterator[Warehouse]:
    """police.uk files and places only: no boundaries, lookup or population."""
    warehouse = open_warehouse(tmp_path_factory.mktemp("places") / "safer.duckdb")
    import_police_uk(warehouse, find_police_uk_files([data_dir / "police-uk" / "leicestershire"]))
    import_places(warehouse)
    yield warehouse
    warehouse.close()


@pytest.mark.parametrize("town,district", [("Loughborough", "Charnwood"), ("Oakham", "Rutland"),
                                           ("melton mowbray", "Melton")])
def test_a_town_is_found_as_the_area_at_its_centre(leicestershire, town, district):
    results = search_areas(leicestershire, town)
    towns = [r for r in results if r["matched"] and r["matched"].endswith("(town centre)")]
    assert towns, f"{town} not found as a town: {results[:3]}"
    assert results[0] == towns[0]  # a town comes before streets named after it
    assert towns[0]["name"].startswith(district + " ") and towns[0]["force_id"] == "leicestershire"


def test_a_town_outside_the_loaded_forces_is_not_offered(leicestershire):
    assert not [r for r in search_areas(leicestershire, "Carlisle") if (r["matched"] or "").endswith("(town centre)")]


def test_the_map_opens_on_the_force_and_names_its_towns(leicestershire):
    period = resolve_period(leicestershire, None, None, force="leicestershire")
    metadata = orjson.loads(rate_map_geojson(leicestershire, "leicestershire", period))["metadata"]
    (west, south), (east, north) = metadata["view"]
    extent = leicestershire.query("SELECT min(longitude) AS w, max(longitude) AS e, min(latitude) AS s, "
                                  "max(latitude) AS n FROM street_crimes")[0]
    assert (extent["w"], extent["s"]) < FORCE_BOX[:2] and extent["e"] > FORCE_BOX[2]  # the files have strays
    assert FORCE_BOX[0] <= west < east <= FORCE_BOX[2] and FORCE_BOX[1] <= south < north <= FORCE_BOX[3]
    inside = leicestershire.scalar(
        "SELECT avg((longitude BETWEEN $w AND $e AND latitude BETWEEN $s AND $n)::INT) FROM street_crimes "
        "WHERE longitude IS NOT NULL AND month BETWEEN $start AND $end",
        {"w": west, "e": east, "s": south, "n": north, "start": period.start, "end": period.end})
    assert inside > 0.998
    names = {label["kind"]: set() for label in metadata["labels"]}
    for label in metadata["labels"]:
        names[label["kind"]].add(label["name"])
    assert {"Leicester", "Loughborough", "Hinckley", "Oakham"} <= names["town"]
    assert not names["town"] & {"Nottingham", "Derby", "Coventry", "Grantham", "Long Eaton"}  # over the border
    assert {"Charnwood", "Rutland", "Leicester", "Melton"} <= names["authority"]
    assert not names["authority"] & {"Wandsworth", "York"}  # where only a stray crime or two were recorded


def _dump_line(**fields: str) -> str:
    columns = ["2643567", "Loughborough", "Loughborough", "", "52.77", "-1.2", "P", "PPL", "GB", "", "ENG",
               "", "", "", "59317", "", "60", "Europe/London", "2020-01-01"]
    for index, value in fields.items():
        columns[int(index[1:])] = value
    return "\t".join(columns) + "\n"


def test_a_geonames_dump_is_read_and_hostile_ones_refused(tmp_path):
    good = tmp_path / "GB.txt"
    good.write_text(_dump_line() + _dump_line(c0="1", c1="A hill", c6="T"), encoding="utf-8")
    table = read_places(good)
    assert table.to_pylist() == [{"geonameid": 2643567, "name": "Loughborough", "longitude": -1.2,
                                  "latitude": 52.77, "population": 59317, "country": "GB"}]
    cases = {
        "short.txt": "2643567\tLoughborough\n",
        "badnumber.txt": _dump_line(c4="north"),
        "latin1.txt": _dump_line(c1="Caf\xe9").encode("latin-1"),
        "garbage.json": b'{"1": {"name": 3}',
        "wrongshape.json": json.dumps({"1": {"geonameid": 1}}),
        "elsewhere.txt": _dump_line(c8="FR"),
    }
    for name, content in cases.items():
        path = tmp_path / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        with pytest.raises(InputFormatError, match=name):
            read_places(path)
    with pytest.raises(InputFormatError, match="no such file"):
        read_places(tmp_path / "missing.txt")


def test_importing_places_twice_changes_nothing(fresh_warehouse):
    again = import_places(fresh_warehouse)  # the reference warehouse has them already
    assert [f.status for f in again.files] == ["unchanged"]
    assert fresh_warehouse.scalar("SELECT count(*) FROM places") > 5000
