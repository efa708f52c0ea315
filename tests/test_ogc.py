"""OGC API - Features as GDAL (QGIS's reader) and a plain HTTP client see it, against the raw City of London files."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import httpx
import pyogrio
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import box as box_shape
from shapely.geometry import shape

from safertogether.api import create_app
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.store.warehouse import open_warehouse

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
CITY_BOX = (-0.1, 51.508, -0.08, 51.52)


@pytest.fixture(scope="module")
def street_rows(city_folder: Path, multiforce_folder: Path) -> list[dict[str, str]]:
    """Every street crime of the City warehouse, read from the CSV files with the csv module."""
    rows: list[dict[str, str]] = []
    for path in [*sorted(city_folder.glob("*-street.csv")), multiforce_folder / "2023-03-city-of-london-street.csv"]:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


@pytest.fixture(scope="module")
def ogc(city_server_process_url: str) -> httpx.Client:
    with httpx.Client(base_url=f"{city_server_process_url}/ogc", timeout=30) as client:
        yield client


def in_box(row: dict[str, str], box: tuple[float, ...]) -> bool:
    if not row["Longitude"]:
        return False
    x, y = float(row["Longitude"]), float(row["Latitude"])
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def test_gdal_lists_the_collections(city_server_process_url):
    layers = dict(map(tuple, pyogrio.list_layers(f"OAPIF:{city_server_process_url}/ogc")))
    assert layers == {"neighbourhoods": "Polygon", "crimes": "Point", "stop-and-search": "Point"}


def test_gdal_reads_a_month_in_a_box_with_the_csv_count(city_server_process_url, street_rows):
    frame = pyogrio.read_dataframe(f"OAPIF:{city_server_process_url}/ogc", layer="crimes", bbox=CITY_BOX,
                                   where="month = '2021-06'")
    expected = [r for r in street_rows if r["Month"] == "2021-06" and in_box(r, CITY_BOX)]
    assert len(frame) == len(expected) > 100
    assert Counter(frame["category"]) == Counter(r["Crime type"] for r in expected)
    assert str(frame.crs.to_epsg() or frame.crs) in ("4326", "OGC:CRS84") or "CRS84" in frame.crs.to_wkt()


def test_gdal_filters_by_category(city_server_process_url, street_rows):
    # GDAL sends the filter on to the server as ?category=Burglary (a queryable in the OpenAPI document)
    frame = pyogrio.read_dataframe(f"OAPIF:{city_server_process_url}/ogc", layer="crimes",
                                   where="category = 'Burglary'")
    assert len(frame) == sum(r["Crime type"] == "Burglary" for r in street_rows) > 0


@pytest.mark.parametrize(("datetime", "months"), [
    ("2021-06", {"2021-06"}),
    ("2021-06-15T10:00:00Z", {"2021-06"}),
    ("2021-01/2021-03", {"2021-01", "2021-02", "2021-03"}),
    ("2021-02-20/2021-03-01", {"2021-02", "2021-03"}),
    ("../2017-02", {"2017-01", "2017-02"}),
    ("2021-11/..", {"2021-11", "2021-12", "2023-03"}),
    ("2020", {f"2020-{m:02d}" for m in range(1, 13)}),
    ("2021-03-01T00:30:00+01:00", {"2021-02"}),
])
def test_datetime_selects_police_uk_months(ogc, street_rows, datetime, months):
    answer = ogc.get("/collections/crimes/items", params={"datetime": datetime, "limit": 1})
    assert answer.status_code == 200
    assert answer.json()["numberMatched"] == sum(r["Month"] in months for r in street_rows)


def test_category_by_slug_or_name_and_force(ogc, street_rows):
    expected = sum(r["Crime type"] == "Violence and sexual offences" and r["Month"] == "2021-06" for r in street_rows)
    for category in ("violent-crime", "Violence and sexual offences"):
        answer = ogc.get("/collections/crimes/items",
                         params={"category": category, "datetime": "2021-06", "force": "city-of-london"})
        assert answer.json()["numberMatched"] == expected > 0


def test_paging_returns_every_feature_exactly_once(ogc, street_rows):
    url, params = "/collections/crimes/items", {"datetime": "2021-01/2021-03", "limit": "97"}
    ids, features, pages = [], [], 0
    while url:
        page = ogc.get(url, params=params).json()
        params, pages = None, pages + 1
        assert page["numberReturned"] == len(page["features"]) <= 97
        ids += [f["id"] for f in page["features"]]
        features += page["features"]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    expected = [r for r in street_rows if r["Month"] in ("2021-01", "2021-02", "2021-03")]
    assert len(ids) == len(set(ids)) == len(expected) == page["numberMatched"]
    assert pages == -(-len(expected) // 97)
    assert Counter(f["properties"]["category"] for f in features) == Counter(r["Crime type"] for r in expected)


def test_british_national_grid_agrees_with_pyproj(ogc):
    params = {"datetime": "2021-06", "limit": 50}
    plain = ogc.get("/collections/crimes/items", params=params)
    grid = ogc.get("/collections/crimes/items", params={**params, "crs": BNG})
    assert plain.headers["content-crs"] == f"<{CRS84}>" and grid.headers["content-crs"] == f"<{BNG}>"
    transformer = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    pairs = [(a, b) for a, b in zip(plain.json()["features"], grid.json()["features"], strict=True) if a["geometry"]]
    assert len(pairs) > 40
    for a, b in pairs:
        assert a["id"] == b["id"]
        x, y = transformer.transform(*a["geometry"]["coordinates"])
        assert b["geometry"]["coordinates"] == pytest.approx([x, y], abs=0.01)


def test_a_bbox_in_british_national_grid(ogc, city_server_process_url, street_rows):
    box = (531500, 180800, 533000, 181800)
    transformer = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    expected = 0
    for row in street_rows:
        if row["Month"] == "2021-06" and row["Longitude"]:
            x, y = transformer.transform(float(row["Longitude"]), float(row["Latitude"]))
            expected += box[0] <= x <= box[2] and box[1] <= y <= box[3]
    answer = ogc.get("/collections/crimes/items", params={
        "datetime": "2021-06", "bbox": ",".join(map(str, box)), "bbox-crs": BNG, "crs": BNG, "limit": 10000})
    features = answer.json()["features"]
    assert len(features) == answer.json()["numberMatched"] == expected > 50
    assert all(box[0] <= f["geometry"]["coordinates"][0] <= box[2] for f in features)
    # GDAL asked for British National Grid sends bbox-crs and crs itself (QGIS in a BNG project does the same)
    frame = pyogrio.read_dataframe(f"OAPIF:{city_server_process_url}/ogc", layer="crimes", bbox=box,
                                   where="month = '2021-06'", CRS="EPSG:27700")
    assert len(frame) == expected and frame.crs.to_epsg() == 27700


def test_one_feature_by_its_id(ogc):
    first = ogc.get("/collections/crimes/items", params={"limit": 1}).json()["features"][0]
    answer = ogc.get(f"/collections/crimes/items/{first['id']}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/geo+json"
    feature = answer.json()
    assert feature["properties"] == first["properties"] and feature["geometry"] == first["geometry"]
    assert {link["rel"] for link in feature["links"]} >= {"self", "collection"}


def test_neighbourhood_counts_and_rate_match_the_raw_files(ogc, street_rows, data_dir):
    with open(data_dir / "boundaries" / "lsoa-2011-census-population.csv", encoding="utf-8-sig") as handle:
        residents = next(int(r[9].replace(",", "")) for r in csv.reader(handle) if r[6] == "E01000001")
    crimes = sum(r["LSOA code"] == "E01000001" and r["Month"].startswith("2021") for r in street_rows)
    feature = ogc.get("/collections/neighbourhoods/items/E01000001", params={"datetime": "2021-01/2021-12"}).json()
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert feature["properties"]["crimes"] == crimes
    assert feature["properties"]["population"] == residents
    assert feature["properties"]["rate_per_1000"] == round(crimes / residents * 1000, 2)
    default = ogc.get("/collections/neighbourhoods/items/E01000001").json()["properties"]
    assert (default["period_from"], default["period_to"]) == ("2022-04", "2023-03")


def test_stop_and_search_has_every_stop(ogc, multiforce_folder):
    with open(multiforce_folder / "2023-03-city-of-london-stop-and-search.csv", encoding="utf-8-sig") as handle:
        stops = list(csv.DictReader(handle))
    answer = ogc.get("/collections/stop-and-search/items", params={"limit": 10000}).json()
    assert answer["numberMatched"] == answer["numberReturned"] == len(stops)
    assert Counter(f["properties"]["object_of_search"] or "" for f in answer["features"]) == Counter(
        s["Object of search"] for s in stops)


def test_landing_page_conformance_and_openapi(ogc):
    for path in ("", "/"):
        links = {link["rel"]: link for link in ogc.get(path).json()["links"]}
        assert {"self", "service-desc", "conformance", "data"} <= set(links)
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    conforms = set(ogc.get("/conformance").json()["conformsTo"])
    for part in ("1/1.0/conf/core", "1/1.0/conf/geojson", "1/1.0/conf/oas30", "2/1.0/conf/crs"):
        assert f"http://www.opengis.net/spec/ogcapi-features-{part}" in conforms
    document = httpx.get(links["service-desc"]["href"]).json()
    assert document["openapi"].startswith("3.0")
    collection = ogc.get("/collections/crimes").json()
    assert BNG in collection["crs"] and "Open Government Licence v3.0" in collection["attribution"]
    assert "OS data" in ogc.get("/collections/neighbourhoods").json()["attribution"]


@pytest.mark.parametrize(("path", "status"), [
    ("/collections/crimes/items?colour=blue", 400),
    ("/collections/crimes/items?limit=0", 400),
    ("/collections/crimes/items?limit=ten", 400),
    ("/collections/crimes/items?bbox=1,2,3", 400),
    ("/collections/crimes/items?bbox=0,52,-1,51", 400),
    ("/collections/crimes/items?datetime=June", 400),
    ("/collections/crimes/items?crs=EPSG:3857", 400),
    ("/collections/crimes/items?category=jaywalking", 400),
    ("/collections/crimes/items?cursor=abc", 400),
    ("/collections/crimes/items/1?colour=blue", 400),
    ("/collections/lakes", 404),
    ("/collections/lakes/items", 404),
    ("/collections/crimes/items/99", 404),
    ("/collections/crimes/items/not-an-id", 404),
    ("/collections/neighbourhoods/items/E99999999", 404),
])
def test_error_answers(ogc, path, status):
    answer = ogc.get(path)
    assert answer.status_code == status
    assert answer.json()["error"]["status"] == status


def test_a_limit_above_the_maximum_is_served_as_the_maximum(ogc):
    answer = ogc.get("/collections/crimes/items", params={"limit": 50000})
    assert answer.status_code == 200 and answer.json()["numberReturned"] == 10000


def test_a_police_uk_only_warehouse_serves_its_crimes_and_names_the_missing_import(city_folder):
    warehouse = open_warehouse(":memory:")
    import_police_uk(warehouse, find_police_uk_files([city_folder], month_from="2021-12"))
    with TestClient(create_app(warehouse)) as client:
        assert client.get("/ogc/collections").status_code == 200
        crimes = client.get("/ogc/collections/crimes/items").json()
        assert crimes["numberMatched"] > 500 and crimes["numberReturned"] == 10
        missing = client.get("/ogc/collections/neighbourhoods/items")
        assert missing.status_code == 404 and "safer import boundaries" in missing.json()["error"]["message"]
    warehouse.close()


def test_neighbourhoods_count_one_category_and_page_by_code(ogc, street_rows, data_dir):
    burglaries = sum(r["LSOA code"] == "E01000001" and r["Month"].startswith("2021") and r["Crime type"] == "Burglary"
                     for r in street_rows)
    feature = ogc.get("/collections/neighbourhoods/items/E01000001",
                      params={"datetime": "2021", "category": "burglary"}).json()
    assert feature["properties"]["crimes"] == burglaries > 0
    url, params, codes = "/collections/neighbourhoods/items", {"limit": 7, "datetime": "2021"}, []
    while url:
        page = ogc.get(url, params=params).json()
        codes += [f["id"] for f in page["features"]]
        url, params = next((link["href"] for link in page["links"] if link["rel"] == "next"), None), None
    assert codes == sorted(set(codes)) and len(codes) == page["numberMatched"]
    with open(data_dir / "boundaries" / "lsoa-2011-police-force-lookup.csv", encoding="utf-8-sig") as handle:
        city = sorted(r["LSOA Code"] for r in csv.DictReader(handle) if r["Police_force"] == "City of London")
    assert codes == city  # the force's own LSOAs, as its map on the page shows them


def test_neighbourhoods_in_a_bbox_are_those_whose_polygon_meets_it(ogc):
    box = (-0.0975, 51.5175, -0.0970, 51.5180)  # a few tens of metres inside City of London 001A
    features = ogc.get("/collections/neighbourhoods/items", params={"bbox": ",".join(map(str, box))}).json()
    assert "E01000001" in {f["id"] for f in features["features"]}
    assert all(shape(f["geometry"]).intersects(box_shape(*box)) for f in features["features"])
