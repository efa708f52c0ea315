"""The Community Safety Index on real data: Leicestershire LSOAs/MSOAs (objective only) and London boroughs.

What a resident, councillor or analyst would notice: the base-year average is 100, more crime lowers a
score, every rank lies inside its published range, the city centre is flagged, the two spellings of
Richmond are one borough, overlapping MPS files count a month once, and an edition reproduces itself.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from safertogether.api import create_app
from safertogether.cli import app
from safertogether.index.build import build_index, compute_index, edition_is_current
from safertogether.index.config import load_config
from safertogether.index.panel import load_panel
from safertogether.index.readers import import_area_population, import_survey, import_ward_crime
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.measures.harm import default_harm_weights
from safertogether.store.warehouse import Warehouse, open_warehouse

runner = CliRunner()
CITY_CENTRE = "E01032867"  # Leicester 041A: ~1,800 residents, ~2,800 crimes a year


@pytest.fixture(scope="module")
def leics_db(tmp_path_factory: pytest.TempPathFactory, reference_db: Path, data_dir: Path) -> Path:
    """Two whole years (2020, 2021) of Leicestershire street crime with the LSOA edition built."""
    path = tmp_path_factory.mktemp("leics") / "leics.duckdb"
    shutil.copy(reference_db, path)
    with contextlib.closing(open_warehouse(path)) as warehouse:
        import_police_uk(warehouse, find_police_uk_files([data_dir / "police-uk" / "leicestershire"],
                                                         month_from="2020-01", month_to="2021-12"))
        build_index(warehouse, "lsoa")
    return path


@pytest.fixture(scope="module")
def leics(leics_db: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(leics_db, read_only=True)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def london_db(tmp_path_factory: pytest.TempPathFactory, reference_db: Path, data_dir: Path) -> Path:
    """The borough index from the MPS ward files and the MOPAC survey, over the LSOA boundaries and lookup
    (from which the borough outlines are drawn)."""
    london = data_dir / "london"
    path = tmp_path_factory.mktemp("london") / "london.duckdb"
    shutil.copy(reference_db, path)
    with contextlib.closing(open_warehouse(path)) as warehouse:
        import_survey(warehouse, [london / "pas-borough-2014-2023.csv"])
        import_ward_crime(warehouse, sorted(london.glob("mps-ward-crime-*.csv")))
        import_area_population(warehouse, [london / "borough-population-1999-2050.csv"])
        build_index(warehouse, "borough")
    return path


@pytest.fixture(scope="module")
def london(london_db: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(london_db, read_only=True)
    yield warehouse
    warehouse.close()


def _scores(warehouse: Warehouse, level: str) -> list[dict]:
    edition = warehouse.scalar("SELECT max(edition_id) FROM index_editions WHERE level = ?", [level])
    return warehouse.query("SELECT * FROM index_scores WHERE edition_id = ? ORDER BY period, rank", [edition])


def test_the_base_year_average_is_100_and_bands_follow_the_scores(leics: Warehouse) -> None:
    rows = _scores(leics, "lsoa")
    base = [r["score"] for r in rows if r["period"] == "2020"]
    assert len(base) > 600 and abs(np.mean(base) - 100) < 0.01
    later = [r["score"] for r in rows if r["period"] == "2021"]
    assert abs(np.mean(later) - 100) > 0.01  # a later year is measured against the frozen base, not re-centred
    bands = {"much less safe": (-np.inf, 70), "less safe": (70, 90), "average": (90, 110), "safer": (110, 130),
             "much safer": (130, np.inf)}
    for r in rows:
        low, high = bands[r["band"]]
        assert low <= r["score"] < high
        assert r["subjective"] is None and r["objective"] == pytest.approx(r["score"], abs=0.01)  # objective only
    edition = leics.row("SELECT objective_only, notes FROM index_editions ORDER BY edition_id DESC LIMIT 1")
    assert edition[0] is True and any("objective only" in n for n in edition[1])


def test_every_rank_lies_in_its_published_range(leics: Warehouse) -> None:
    rows = _scores(leics, "lsoa")
    for r in rows:
        assert 1 <= r["rank_low"] <= r["rank"] <= r["rank_high"] <= r["ranked"]
    assert any(r["rank_high"] - r["rank_low"] > 20 for r in rows)  # the choices matter somewhere: say so
    safest = [r for r in rows if r["period"] == "2021"][0]
    assert safest["rank"] == 1 and safest["score"] == max(r["score"] for r in rows if r["period"] == "2021")


def test_more_crime_lowers_the_score_against_the_frozen_base(leics: Warehouse) -> None:
    config, text = load_config()
    panel = load_panel(leics, "msoa")
    before = compute_index(panel, config, text, default_harm_weights(), lambda _s: None)
    area = panel.areas[len(panel.areas) // 2]
    year = panel.periods.index("2021")
    raised = dict(panel.counts)
    key = ("Burglary", None)
    raised[key] = raised[key].copy()
    raised[key][panel.areas.index(area), year] += 60
    after = compute_index(dataclasses.replace(panel, counts=raised), config, text, default_harm_weights(),
                          lambda _s: None)

    def by(edition, period):  # type: ignore[no-untyped-def]
        return {r["area"]: r for r in edition.records if r["period"] == period}

    assert by(after, "2021")[area]["score"] < by(before, "2021")[area]["score"] - 1
    assert by(after, "2021")[area]["themes"]["burglary:objective"] < by(before, "2021")[area]["themes"][
        "burglary:objective"]
    base_after = {a: r["score"] for a, r in by(after, "2020").items()}
    assert base_after == {a: r["score"] for a, r in by(before, "2020").items()}
    others = [abs(by(after, "2021")[a]["score"] - r["score"]) for a, r in by(before, "2021").items() if a != area]
    assert max(others) < 0.5  # others move only as far as the force's smoothing prior moved


def test_the_city_centre_is_flagged_and_its_card_explains(leics: Warehouse) -> None:
    rows = {r["area"]: r for r in _scores(leics, "lsoa") if r["period"] == "2021"}
    assert rows[CITY_CENTRE]["poor_denominator"] is True
    assert sum(r["poor_denominator"] for r in rows.values()) < len(rows) / 20  # a flag, not a rule
    client = TestClient(create_app(leics))
    card = client.get(f"/api/index/areas/{CITY_CENTRE}").json()
    assert card["band"] == "much less safe" and card["subjective"] is None
    assert any("poor denominator" in n for n in card["notes"]) and any("Objective only" in n for n in card["notes"])
    assert [t["period"] for t in card["trend"]] == ["2020", "2021"]
    assert card["drivers"][0]["score"] == min(t["score"] for t in card["themes"])
    violence = next(i for i in card["indicators"] if i["indicator"] == "violence_harm")
    assert violence["harm_low"] < violence["harm"] < violence["harm_high"]  # the range the category hides
    assert violence["rate_low"] < violence["rate"] < violence["rate_high"] and violence["funnel"] == "higher"
    assert len(card["similar"]) == 5 and CITY_CENTRE not in {s["area"] for s in card["similar"]}
    assert "Open Government Licence" in card["attribution"]["text"] and "Cambridge" in card["harm_citation"]
    page = client.get("/api/index/methodology")
    assert page.status_code == 200 and "Cambridge Crime Harm Index" in page.text and "Open Government" in page.text
    geo = client.get("/api/index/map.geojson").json()
    assert len(geo["features"]) == len(rows) and all(f["geometry"] for f in geo["features"])
    assert client.get("/api/index/areas/E01999999").status_code == 404


def test_an_edition_reproduces_from_its_stored_configuration(leics_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(leics_db, copy)
    config = tmp_path / "edition.yaml"
    result = runner.invoke(app, ["index", "config", "--edition", "1", "--db", str(copy)])
    config.write_text(result.stdout)
    result = runner.invoke(app, ["index", "build", "--config", str(config), "--db", str(copy), "--json"])
    assert result.exit_code == 0, result.output
    rebuilt = json.loads(result.stdout)
    with contextlib.closing(open_warehouse(copy, read_only=True)) as warehouse:
        rows = warehouse.query("SELECT * FROM index_scores WHERE edition_id = 1")
    stored = {(r["area"], r["period"]): r for r in rows}
    assert len(rebuilt["records"]) == len(stored)
    for record in rebuilt["records"]:
        original = stored[(record["area"], record["period"])]
        assert (record["score"], record["band"], record["rank_low"], record["rank_high"]) == (
            original["score"], original["band"], original["rank_low"], original["rank_high"])
        assert {"area", "period", "score", "band", "objective", "subjective", "rank_low", "rank_high"} <= set(record)


def test_the_cli_refuses_a_bad_level_or_config_with_what_to_do(leics_db: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["index", "build", "--level", "street", "--db", str(leics_db), "--dry-run"])
    assert result.exit_code == 2 and "lsoa, msoa, lad, borough" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("themes: []\nbands: []\n")
    result = runner.invoke(app, ["index", "build", "--config", str(bad), "--db", str(leics_db), "--dry-run"])
    assert result.exit_code == 2 and "not a valid index configuration" in result.output


def test_london_boroughs_have_both_halves_and_richmond_once(london: Warehouse) -> None:
    rows = _scores(london, "borough")
    in_2023 = [r for r in rows if r["period"] == "2023"]
    assert len(in_2023) == 32  # the 32 Met boroughs (the City has its own police)
    richmond = [r for r in in_2023 if "Richmond" in r["area_name"]]
    assert len(richmond) == 1 and richmond[0]["subjective"] is not None  # both spellings of the PAS: one borough
    assert all(r["objective"] is not None and r["subjective"] is not None for r in in_2023)
    assert abs(np.mean([r["score"] for r in in_2023]) - 100) < 0.01
    later = [r for r in rows if r["period"] == "2025"]
    assert later and all(r["subjective_period"] == "2023" for r in later)  # the survey ends in 2023: said so
    westminster = next(r for r in in_2023 if r["area_name"] == "Westminster")
    assert westminster["poor_denominator"] is True
    assert any(r["objective"] - r["subjective"] > 15 for r in in_2023) or any(
        r["subjective"] - r["objective"] > 15 for r in in_2023)  # the halves disagree somewhere: shown side by side
    edition = london.row("SELECT objective_only FROM index_editions WHERE level = 'borough'")
    assert edition == (False,)


def test_overlapping_mps_files_count_a_month_once(london: Warehouse, data_dir: Path) -> None:
    later = data_dir / "london" / "mps-ward-crime-202402-202601.csv"
    with later.open(newline="") as f:
        reader = csv.DictReader(f)
        expected = sum(int(row["202406"]) for row in reader)
    stored = london.scalar("SELECT sum(crimes) FROM ward_crimes WHERE month = DATE '2024-06-01'")
    assert stored == expected
    months = london.scalar("SELECT count(DISTINCT month) FROM ward_crimes")
    assert months == 31  # 2023-07 .. 2026-01, each once


def test_offence_level_harm_narrows_the_range_in_london(london: Warehouse) -> None:
    edition = london.scalar("SELECT max(edition_id) FROM index_editions WHERE level = 'borough'")
    row = london.row("""SELECT harm, harm_low, harm_high FROM index_components
                        WHERE edition_id = ? AND indicator = 'violence_harm' AND period = '2024' LIMIT 1""", [edition])
    harm, low, high = row
    assert low == pytest.approx(harm) == pytest.approx(high)  # every MPS row names its offence: no range left


@pytest.mark.browser
def test_the_index_page_colours_the_map_by_band_and_opens_a_card(leics: Warehouse) -> None:
    from test_browser import chromium_page

    with chromium_page(create_app(leics)) as (url, page, errors):
        page.goto(f"{url}/safety-index")
        page.wait_for_function("window.indexMap && window.indexMap.loaded() && "
                               "window.indexMap.getLayer('index-fill')", timeout=30_000)
        assert page.locator("#index-legend li").count() == 5
        assert "neighbourhoods" in page.inner_text("#index-status")
        box = page.locator("#index-map canvas").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("#index-card h2", timeout=20_000)
        card = page.inner_text("#index-card")
        assert "Objective (recorded crime)" in card and "no survey here" in card and "Rank" in card
        assert "Open Government Licence" in page.inner_text("footer")
        page.goto(f"{url}/drilldown?code=leicestershire")
        page.wait_for_selector("body[data-state='loaded']", timeout=20_000)
        assert page.locator("#drill-table tbody tr").count() >= 8  # the force and its local authorities
        page.click("#drill-table tbody tr:nth-child(2) th a")  # one click down to a local authority's MSOAs
        page.wait_for_selector("body[data-state='loaded']", timeout=20_000)
        assert "(local authority)" in page.inner_text("#drill-table caption")
        page.click("#drill-table tbody tr:nth-child(2) button.months")  # a number to the months behind it
        assert page.locator("#drill-months li").count() == 12
    assert not errors, errors


def test_drilling_down_from_the_force_to_its_neighbourhoods(leics: Warehouse) -> None:
    client = TestClient(create_app(leics))
    force = client.get("/api/index/drilldown/leicestershire").json()
    assert force["level"] == "force" and force["child_level"] == "lad" and len(force["children"]) >= 7
    assert sum(c["crimes"] for c in force["children"]) <= force["area"]["crimes"]
    assert force["from"] == "2021-01" and force["to"] == "2021-12"
    city = next(c for c in force["children"] if c["code"] == "E06000016")  # Leicester
    assert city["versus_parent"] == "higher" and city["rate_low"] < city["rate"] < city["rate_high"]
    assert 0 < city["charged_share"] < city["no_suspect_share"] < 1  # most crimes close with no suspect
    assert city["harm_low"] < city["harm_days"] < city["harm_high"] and len(city["months"]) == 12
    assert force["area"]["name"] == "Leicestershire Police" and force["parent"] is None
    assert city["name"] == "Leicester UA"
    lsoas = client.get(f"/api/index/drilldown/{force['children'][0]['code']}").json()
    assert lsoas["child_level"] == "msoa" and lsoas["parent"] == {"code": "leicestershire",
                                                                   "name": "Leicestershire Police"}
    assert all(c["name"].startswith(lsoas["area"]["name"].removesuffix(" UA")) for c in lsoas["children"])
    lsoa = client.get(f"/api/index/drilldown/{CITY_CENTRE}").json()
    assert lsoa["children"] == [] and lsoa["area"]["index"]["band"] == "much less safe"
    assert client.get("/api/index/drilldown/nowhere").status_code == 404


def test_a_feel_safe_survey_slots_into_the_index(leics_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "survey.duckdb"
    shutil.copy(leics_db, copy)
    with contextlib.closing(open_warehouse(copy)) as warehouse:
        lsoas = [r["area"] for r in warehouse.query(
            "SELECT DISTINCT area FROM index_scores WHERE edition_id = 1 ORDER BY area LIMIT 40")]
        survey = tmp_path / "residents-survey.csv"
        lines = ["area,period,measure,value,respondents"]
        for i, code in enumerate(lsoas):
            for year in (2020, 2021):
                lines.append(f"{code},{year}-12-31,Feel safe,{0.5 + (i % 10) / 25:.2f},{100 + i}")
                lines.append(f"{code},{year}-12-31,ASB is a problem,{0.1 + (i % 7) / 30:.2f},{100 + i}")
        survey.write_text("\n".join(lines) + "\n")
        import_survey(warehouse, [survey])
        edition = build_index(warehouse, "lsoa")
    with_survey = [r for r in edition.records if r["area"] in set(lsoas)]
    without = [r for r in edition.records if r["area"] not in set(lsoas)]
    assert with_survey and all(r["subjective"] is not None for r in with_survey)
    assert all(r["subjective"] is None and r["score"] == r["objective"] for r in without)
    for r in with_survey:
        assert r["score"] == pytest.approx((r["objective"] + r["subjective"]) / 2, abs=0.02)  # 50/50 halves
        assert r["themes"]["feeling_safe:subjective"] is not None and r["themes"]["nuisance:subjective"] is not None
    assert not edition.objective_only
    assert max(r["themes"]["feeling_safe:subjective"] for r in with_survey) > 100 > min(
        r["themes"]["feeling_safe:subjective"] for r in with_survey)


def test_an_edition_is_current_until_newer_files_are_loaded(leics_db: Path, tmp_path: Path, data_dir: Path):
    """What `safer demo` asks before building the index again: an edition older than the data is stale."""
    path = tmp_path / "newer.duckdb"
    shutil.copy(leics_db, path)
    with contextlib.closing(open_warehouse(path)) as warehouse:
        assert edition_is_current(warehouse, "lsoa") and not edition_is_current(warehouse, "msoa")
        import_police_uk(warehouse, find_police_uk_files([data_dir / "police-uk" / "leicestershire"],
                                                         month_from="2022-01", month_to="2022-01"))
        assert not edition_is_current(warehouse, "lsoa")
        build_index(warehouse, "lsoa")
        assert edition_is_current(warehouse, "lsoa")
def test_london_boroughs_are_drawn_from_their_lsoas_on_the_map_and_in_the_download(
        london: Warehouse, data_dir: Path, tmp_path: Path) -> None:
    import shapely

    from safertogether.disclosure.policy import load_policy
    from safertogether.index.panel import name_key
    from safertogether.publish.writer import publish

    client = TestClient(create_app(london))
    geo = client.get("/api/index/map.geojson", params={"level": "borough"}).json()
    assert geo["metadata"]["level"] == "borough" and not geo["metadata"]["objective_only"]
    assert len(geo["features"]) == 32 and all(f["geometry"] for f in geo["features"])
    assert {f["properties"]["band"] for f in geo["features"]} <= {b["name"] for b in geo["metadata"]["bands"]}
    # An independent outline of each borough (the London Datastore's file, never read by the code): the
    # boroughs dissolved from ONS LSOAs cover the same ground.
    published = json.loads((data_dir / "london" / "boroughs.geojson").read_text())
    truth = {name_key(f["properties"]["name"]): shapely.geometry.shape(f["geometry"]) for f in published["features"]}
    overlaps = []
    for feature in geo["features"]:
        drawn = shapely.geometry.shape(feature["geometry"])
        other = truth[name_key(feature["properties"]["area_name"])]
        overlaps.append(shapely.area(shapely.intersection(drawn, other)) / shapely.area(shapely.union(drawn, other)))
        assert overlaps[-1] > 0.88, (feature["properties"]["area_name"], overlaps[-1])  # riverside: the Thames
    assert np.median(overlaps) > 0.95
    assert client.get("/api/index/map.geojson", params={"level": "msoa"}).status_code == 404  # none built
    out = publish(london, tmp_path / "public", load_policy("police-uk-as-published"), levels=("borough",))
    features = json.loads((out.out / "safety-index-borough.geojson").read_text())["features"]
    assert len(features) == 32 and all(f["geometry"] for f in features)
    assert {"score_2023", "subjective_2023", "objective_2023"} <= set(features[0]["properties"])


def test_the_borough_index_under_a_policy_is_made_of_released_ward_cells(london_db: Path, tmp_path: Path) -> None:
    from safertogether.disclosure.policy import load_policy

    copy = tmp_path / "london.duckdb"
    shutil.copy(london_db, copy)
    with contextlib.closing(open_warehouse(copy)) as warehouse:
        public = build_index(warehouse, "borough", policy=load_policy("round-to-5"))
        exact = {(r["area"], r["period"]): r["crimes"] for r in warehouse.query(
            "SELECT area, period, crimes FROM index_scores WHERE edition_id = 1")}
    assert public.records and all(r["crimes"] % 5 == 0 for r in public.records)
    assert sum(abs(r["crimes"] - exact[(r["area"], r["period"])]) for r in public.records) > 0
    with pytest.raises(Exception, match="suppress or round"), contextlib.closing(open_warehouse(copy)) as warehouse:
        build_index(warehouse, "borough", policy=load_policy("dp-laplace"))


@pytest.mark.browser
def test_the_index_page_shows_london_boroughs(london: Warehouse) -> None:
    from test_browser import chromium_page

    with chromium_page(create_app(london)) as (url, page, errors):
        page.goto(f"{url}/safety-index?level=borough")
        page.wait_for_function("window.indexMap && window.indexMap.loaded() && "
                               "window.indexMap.getLayer('index-fill')", timeout=30_000)
        assert "32 London boroughs" in page.inner_text("#index-status")
        drawn = page.evaluate("window.indexMap.querySourceFeatures('index').length")
        assert drawn >= 32
        box = page.locator("#index-map canvas").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # central London
        page.wait_for_selector("#index-card h2", timeout=20_000)
        card = page.inner_text("#index-card")
        assert "Subjective (residents' survey)" in card and "no survey here" not in card
    assert not errors, errors


def test_a_london_boroughs_card_comes_from_the_level_asked_for(london_db: Path, city_folder: Path,
                                                               tmp_path: Path) -> None:
    """Camden's code (E09000007) is a local authority in police.uk's index and a borough in the MPS ward files'
    one: the card of each level is that level's, as the page asks. (police.uk files of the Met are not in the
    shared data: six months of the City's files stand in for them, renamed, so Camden's LSOAs in them count.)"""
    db = tmp_path / "london.duckdb"
    shutil.copy(london_db, db)
    met = tmp_path / "met"
    met.mkdir()
    for month in range(7, 13):
        text = (city_folder / f"2021-{month:02d}-city-of-london-street.csv").read_text(encoding="utf-8-sig")
        (met / f"2021-{month:02d}-metropolitan-street.csv").write_text(
            text.replace("City of London Police", "Metropolitan Police Service"), encoding="utf-8")
    with contextlib.closing(open_warehouse(db)) as warehouse:
        import_police_uk(warehouse, find_police_uk_files([met]))
        build_index(warehouse, "lad")
    with contextlib.closing(open_warehouse(db, read_only=True)) as warehouse, \
            TestClient(create_app(warehouse)) as client:
        borough = client.get("/api/index/areas/E09000007?level=borough").json()
        lad = client.get("/api/index/areas/E09000007?level=lad").json()
        assert (borough["level"], borough["edition"]["level"]) == ("borough", "borough")
        assert (lad["level"], lad["edition"]["level"]) == ("lad", "lad")
        assert lad["crimes"] < borough["crimes"] / 10  # the City's few Camden streets against all of Camden
        assert client.get("/api/index/areas/E09000007?level=msoa").status_code == 404
    cli = runner.invoke(app, ["index", "card", "E09000007", "--level", "borough", "--db", str(db), "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["level"] == "borough"
