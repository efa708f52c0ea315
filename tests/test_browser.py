"""The neighbourhood page in real headless Chromium, served by uvicorn over the City of London data."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from shapely.geometry import shape

from conftest import free_port
from installed_wheel import wait_until_serving
from safertogether.store.warehouse import Warehouse, open_warehouse

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
FORCE = "city-of-london"
# A screenshot for people to look at after a run; the test does not read it.
SCREENSHOT = Path(os.environ.get("SAFER_SCREENSHOT") or Path(tempfile.gettempdir()) / "safer-page.png")


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = (f"{CHROMIUM} is missing; install it with "
               "`apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium`")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def chromium_page(app: object) -> Iterator[tuple[str, object, list[str]]]:
    """``app`` served on loopback and a Chromium page: its base URL, the page, and the page's script errors
    (a test asserts them empty after its checks)."""
    from playwright.sync_api import sync_playwright

    from conftest import running_server

    _require_chromium()
    with running_server(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield url, page, errors
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server_url(request: pytest.FixtureRequest) -> str:
    """The server under test: $SAFER_TEST_SERVER_URL when set (an installed wheel's `safer serve` in
    `make test-wheel`), else a real uvicorn server over the City of London data (conftest)."""
    if os.environ.get("SAFER_TEST_SERVER_URL"):
        return os.environ["SAFER_TEST_SERVER_URL"].rstrip("/")
    return request.getfixturevalue("city_server_url")


@pytest.fixture(scope="module")
def served_warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """The warehouse the server answers from, read-only ($SAFER_TEST_SERVER_DB with an external server)."""
    if not os.environ.get("SAFER_TEST_SERVER_URL"):
        yield request.getfixturevalue("city_warehouse")
        return
    assert os.environ.get("SAFER_TEST_SERVER_DB"), "SAFER_TEST_SERVER_URL needs SAFER_TEST_SERVER_DB too"
    warehouse = open_warehouse(os.environ["SAFER_TEST_SERVER_DB"], read_only=True)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server_url: str) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def api(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


def _wait_for_map(page) -> None:
    page.wait_for_function("window.saferMapReady === true && !!window.saferMap", timeout=20_000)


def _wait_for_area(page, code: str) -> None:
    page.wait_for_selector(f"#main[data-state='loaded'][data-area='{code}']", timeout=20_000)


def _shown_count(page, selector: str) -> int:
    return int(page.inner_text(selector).replace(",", ""))


def _street_in_one_lsoa(warehouse: Warehouse, lsoas: list[str]) -> tuple[str, str]:
    """A street of police.uk locations lying in one LSOA only, one of these; and that LSOA."""
    row = warehouse.query(
        """SELECT street, any_value(lsoa) AS lsoa FROM street_index
           GROUP BY street HAVING count(DISTINCT lsoa) = 1 AND length(street) > 8
              AND list_contains($lsoas, any_value(lsoa))
           ORDER BY sum(crimes) DESC, street LIMIT 1""",
        {"lsoas": lsoas},
    )
    assert row, "no City of London street in the street index"
    return row[0]["street"], row[0]["lsoa"]


def test_search_with_the_keyboard_shows_the_area(page, server_url, api, served_warehouse):
    lsoas = [f["id"] for f in api.get(f"/api/map/{FORCE}.geojson").json()["features"]]
    street, lsoa = _street_in_one_lsoa(served_warehouse, lsoas)
    page.goto(server_url + "/")
    _wait_for_map(page)
    assert page.evaluate("window.saferMap.querySourceFeatures('lsoa').length") > 0
    assert page.evaluate("window.saferMap.queryRenderedFeatures({layers: ['lsoa-fill']}).length") > 0
    assert page.locator("#legend-items li").count() >= 2
    assert "Open Government Licence" in page.inner_text("footer")

    # Type a street, reach the matching result with the arrow keys and choose it with Enter.
    page.fill("#search-input", street)
    target = page.locator(f"#search-results button[data-code='{lsoa}']")
    target.wait_for(timeout=10_000)
    page.press("#search-input", "ArrowDown")
    for _ in range(page.locator("#search-results button").count()):
        if page.evaluate("document.activeElement.dataset.code") == lsoa:
            break
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.code") == lsoa
    page.keyboard.press("Enter")
    _wait_for_area(page, lsoa)

    period = {"from": page.input_value("#from-month"), "to": page.input_value("#to-month")}
    summary = api.get(f"/api/areas/{lsoa}/summary", params=period).json()
    assert page.inner_text("#area-name") == summary["area"]["name"]
    assert _shown_count(page, "#stat-crimes") == summary["crimes"]
    assert page.locator("#breadcrumb a").count() == len(summary["area"]["parents"])
    assert page.locator("#trend-chart").count() == 1
    assert page.evaluate("Chart.getChart('trend-chart') !== undefined")
    assert page.locator("#category-body tr").count() == max(len(summary["categories"]), 1)
    assert "census" in page.inner_text("#stops-note").lower()
    csv_href = page.get_attribute("#csv-link", "href")
    assert csv_href == f"/api/areas/{lsoa}/crimes.csv?from={period['from']}&to={period['to']}"
    gpkg_href = page.get_attribute("#gis-links a[data-format=gpkg]", "href")
    assert gpkg_href == f"/api/areas/{lsoa}/download?from={period['from']}&to={period['to']}&format=gpkg"
    assert api.get(gpkg_href).headers["content-type"] == "application/geopackage+sqlite3"
    assert "Open Government Licence" in page.inner_text("footer")

    # A period with every month loaded: the numbers follow the selectors.
    page.select_option("#from-month", "2021-01")
    page.select_option("#to-month", "2021-12")
    page.wait_for_function("document.querySelector('#period-text').textContent.startsWith('January 2021')")
    _wait_for_area(page, lsoa)
    summary = api.get(f"/api/areas/{lsoa}/summary", params={"from": "2021-01", "to": "2021-12"}).json()
    assert summary["crimes"] > 0
    assert _shown_count(page, "#stat-crimes") == summary["crimes"]
    assert page.locator("#category-body tr").count() == len(summary["categories"])
    _wait_for_map(page)
    page.wait_for_timeout(200)  # let the chart canvases paint before the screenshot
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_clicking_a_neighbourhood_on_the_map_selects_it(page, server_url, api):
    geojson = api.get(f"/api/map/{FORCE}.geojson").json()
    codes = [f["id"] for f in geojson["features"]]
    assert len(codes) >= 2
    first = codes[0]
    page.goto(f"{server_url}/?area={first}")
    _wait_for_area(page, first)
    _wait_for_map(page)
    page.evaluate("window.saferMap.jumpTo({zoom: window.saferMap.getZoom() - 0.5})")  # room around the City
    page.wait_for_function("!window.saferMap.isMoving()")
    box = page.locator("#map canvas").bounding_box()
    assert box is not None

    def pixel(feature: dict) -> dict[str, float]:
        point = shape(feature["geometry"]).representative_point()
        return page.evaluate("([lng, lat]) => window.saferMap.project([lng, lat])", [point.x, point.y])

    def well_inside(xy: dict[str, float]) -> bool:
        return 0.15 * box["width"] < xy["x"] < 0.85 * box["width"] and \
            0.15 * box["height"] < xy["y"] < 0.85 * box["height"]

    others = [(f, pixel(f)) for f in geojson["features"] if f["id"] != first]
    feature, xy = next(((f, xy) for f, xy in others if well_inside(xy)), others[0])
    code = feature["id"]
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    _wait_for_area(page, code)
    assert page.inner_text("#area-name") == feature["properties"]["name"]
    assert page.evaluate("new URLSearchParams(location.search).get('area')") == code
    period = {"from": page.input_value("#from-month"), "to": page.input_value("#to-month")}
    summary = api.get(f"/api/areas/{code}/summary", params=period).json()
    assert _shown_count(page, "#stat-crimes") == summary["crimes"]
    # The breadcrumb leads up to the force, and following it shows the force.
    page.click(f"#breadcrumb a[data-code='{FORCE}']")
    _wait_for_area(page, FORCE)
    assert "Open Government Licence" in page.inner_text("footer")


def test_the_map_opens_on_the_force_with_place_names(page, server_url, served_warehouse):
    """police.uk files hold City crimes as far away as Derbyshire: the map must still open on the City."""
    force = served_warehouse.query(
        """SELECT min(xmin) AS w, min(ymin) AS s, max(xmax) AS e, max(ymax) AS n FROM area_shapes
           WHERE code IN (SELECT lsoa_code FROM lsoa_lookup WHERE force_id = $force)""", {"force": FORCE})[0]
    page.goto(server_url + "/")
    _wait_for_map(page)
    (west, south), (east, north) = page.evaluate("window.saferMap.getBounds().toArray()")
    lng, lat = page.evaluate("window.saferMap.getCenter().toArray()")
    assert force["w"] < lng < force["e"] and force["s"] < lat < force["n"]
    # The force fills the map: it is on screen, and the screen is not ten times wider than the force.
    assert west < force["w"] and east > force["e"] and south < force["s"] and north > force["n"]
    assert east - west < 10 * (force["e"] - force["w"])
    shown = page.evaluate(
        "[...document.querySelectorAll('.map-label')].filter((l) => !l.hidden).map((l) => l.textContent)")
    assert "City of London" in shown
    assert "GeoNames" in page.inner_text("footer")


def test_a_checkout_without_npm_says_so_at_start_up_and_on_the_page(browser, tmp_path):
    """`safer serve` from source without node_modules (an editable install before `npm ci`)."""
    source = tmp_path / "src"
    shutil.copytree(REPO / "src" / "safertogether", source / "safertogether",
                    ignore=shutil.ignore_patterns("node_modules", "vendor", "__pycache__"))
    open_warehouse(tmp_path / "empty.duckdb").close()
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-c", "from safertogether.cli import main; main()", "serve", "--warm", "0",
               "--db", str(tmp_path / "empty.duckdb"), "--port", url.rsplit(":", 1)[1]]
    server = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(source)}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until_serving(url, server)
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "/")
        assert "map and chart libraries" in page.locator("#libraries-missing").inner_text()
        page.evaluate("window.stillHere = true")
        page.focus("#search-input")
        page.keyboard.type("Bank")
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        assert page.evaluate("window.stillHere === true"), "Enter in the search box reloaded the page"
        assert page.url == url + "/"
        context.close()
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, stderr
    assert f"cd {source / 'safertogether' / 'web'} && npm ci" in warnings[0]


def test_a_page_over_police_uk_files_alone_says_which_import_adds_what(browser, tmp_path, city_folder):
    """No boundaries, lookup or population: the page still shows an area, and names the imports it lacks."""
    from conftest import running_server
    from safertogether.api import create_app
    from safertogether.ingest import find_police_uk_files, import_police_uk

    warehouse = open_warehouse(tmp_path / "police-uk-only.duckdb")
    import_police_uk(warehouse, find_police_uk_files([city_folder], month_from="2021-01", month_to="2021-12"))
    lsoa, name, crimes = warehouse.query(
        "SELECT lsoa_code, any_value(lsoa_name), count(*) FROM street_crimes WHERE lsoa_code IS NOT NULL "
        "GROUP BY 1 ORDER BY 3 DESC LIMIT 1")[0].values()
    try:
        with running_server(create_app(warehouse)) as url:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/?area={lsoa}")
            _wait_for_area(page, lsoa)
            assert page.inner_text("#area-name") == name
            assert _shown_count(page, "#stat-crimes") == crimes
            assert "safer import population" in page.inner_text("#missing-note")
            page.wait_for_selector("#map-note:not([hidden])", timeout=20_000)
            assert "safer import boundaries" in page.inner_text("#map-note")
            assert page.locator("#area-list-body tr").count() > 0  # the neighbourhoods are listed without a map
            context.close()
    finally:
        warehouse.close()
