"""The index's inputs: harm weights, rates, configuration and the survey / ward / population readers.

Real files where a user meets them (the packaged CCHI weights, the MOPAC and MPS files), and every reader
fed malformed, truncated, mis-encoded, duplicated and hostile input.
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from safertogether.errors import InputFormatError
from safertogether.index.config import config_from_text, default_config_text, load_config
from safertogether.index.readers import import_survey, import_ward_crime
from safertogether.measures.harm import default_harm_weights, harm_of_counts, load_harm_weights
from safertogether.measures.rates import funnel_verdict, garwood_interval, rates
from safertogether.store.imports import ImportFailed
from safertogether.store.warehouse import open_warehouse

# --- harm -------------------------------------------------------------------------------------------------


def test_default_harm_weights_show_the_range_a_category_hides() -> None:
    weights = default_harm_weights()
    violence = weights.of("Violence and sexual offences")
    assert (violence.low, violence.high) == (10.0, 5475.0)  # harassment ... homicide
    assert violence.low < violence.days < violence.high
    burglary = weights.of("Burglary")
    assert (burglary.low, burglary.high) == (183.5, 273.5)
    assert weights.of("Anti-social behaviour") is None  # the nuisance domain: no sentencing weight
    assert weights.of("Shoplifting").days == 1.0
    # Each force's own offence mix where known: Leicestershire's violence differs from the national mix.
    assert weights.of("Violence and sexual offences", "leicestershire").days != violence.days
    assert "Cambridge Crime Harm Index" in weights.version


def test_harm_of_counts_ignores_asb_and_brackets_the_estimate() -> None:
    harm = harm_of_counts({"Burglary": 2, "Anti-social behaviour": 100, "Shoplifting": 3}, default_harm_weights())
    assert harm.low == 2 * 183.5 + 3 and harm.high == 2 * 273.5 + 3
    assert harm.low <= harm.days <= harm.high


def test_a_users_offence_level_table_replaces_the_default(tmp_path: Path) -> None:
    table = tmp_path / "our-weights.csv"
    table.write_text("category,offence_code,days,count\nBurglary,28E,300,10\nBurglary,30C,100,30\n"
                     "Violence and sexual offences,8N,365,1\n")
    weights = load_harm_weights([table])
    assert weights.of("Burglary").days == pytest.approx((300 * 10 + 100 * 30) / 40)
    assert (weights.of("Burglary").low, weights.of("Burglary").high) == (100, 300)
    assert weights.offence("Burglary", "28E") == 300
    assert weights.of("Shoplifting") is None  # a replacement, not a patch
    assert "our-weights.csv" in weights.version and weights.sha256 != default_harm_weights().sha256


@pytest.mark.parametrize(("content", "message"), [
    (b"category,cchi_days\nBurglary,lots\n", "not a number"),
    (b"category,cchi_days\nBurglary,-5\n", "negative"),
    (b"", "empty"),
    (b"\x00\x01\x02binary", "binary"),
    (b"category,cchi_days\nBurglary,244\nRobbery", "truncated"),
    (b"name,value\nx,1\n", "not a harm weights file"),
])
def test_bad_harm_tables_are_refused_with_what_to_do(tmp_path: Path, content: bytes, message: str) -> None:
    table = tmp_path / "weights.csv"
    table.write_bytes(content)
    with pytest.raises(InputFormatError, match=message):
        load_harm_weights([table])


def test_hostile_and_mis_encoded_harm_tables_are_only_data(tmp_path: Path) -> None:
    table = tmp_path / "weights.csv"
    table.write_bytes("category,cchi_days\n'); DROP TABLE x; --,3\nCaf\xe9 crime,2\n".encode("cp1252"))
    weights = load_harm_weights([table])
    assert weights.of("'); DROP TABLE x; --").days == 3
    assert weights.of("Café crime").days == 2


# --- rates ------------------------------------------------------------------------------------------------


def test_garwood_intervals_match_the_published_table() -> None:
    low, high = garwood_interval(np.array([0, 3, 10]))
    # Garwood (1936) / Ulm (1990): 0 -> (0, 3.689), 3 -> (0.619, 8.767), 10 -> (4.795, 18.390)
    assert np.allclose(low, [0, 0.6187, 4.7954], atol=1e-3)
    assert np.allclose(high, [3.6889, 8.7673, 18.3904], atol=1e-3)


def test_smoothing_pulls_small_areas_hardest_and_keeps_raw_rates() -> None:
    counts = np.array([0.0, 30.0, 300.0, 100.0, 10.0, 1.0])
    residents = np.array([100.0, 1000.0, 10000.0, 2000.0, 500.0, 50.0])
    found = rates(counts, residents, 1.0, np.array(["f"] * 6))
    force_rate = counts.sum() / residents.sum() * 1000
    assert np.allclose(found.rate, counts / residents * 1000)  # raw rates kept as they are
    between = (found.smoothed - force_rate) * (found.rate - force_rate) >= -1e-9
    assert between.all()  # each smoothed rate lies between its raw rate and the force's
    pulled = np.abs(found.smoothed - found.rate) / np.maximum(np.abs(found.rate - force_rate), 1e-9)
    assert pulled[5] > pulled[2]  # 50 residents are pulled harder than 10,000


def test_funnel_limits_call_an_area_different_only_beyond_chance() -> None:
    expected = np.array([100.0, 100.0, 100.0, 4.0])
    verdict = funnel_verdict(np.array([115.0, 140.0, 60.0, 13.0]), expected)
    assert list(verdict) == ["within", "higher", "lower", "higher"]
    assert stats.poisson.sf(139, 100) < 0.001 and stats.poisson.sf(12, 4) < 0.001  # beyond the 99.8% limits
    assert funnel_verdict(np.array([10.0]), np.array([4.0]))[0] == "within"  # P = 0.008: could be chance


# --- configuration ----------------------------------------------------------------------------------------


def test_the_default_configuration_loads_and_bad_ones_say_every_problem(tmp_path: Path) -> None:
    config, text = load_config()
    assert text == default_config_text() and config.scale.centre == 100 and config.scale.points_per_sd == 10
    assert [b.below for b in config.bands] == [70, 90, 110, 130, None]
    bad = default_config_text().replace("{below: 90,", "{below: 60,").replace("name: burglary_harm", "name: theft_rate")
    with pytest.raises(InputFormatError) as error:
        config_from_text(bad)
    assert "'below' must rise" in str(error.value) or "below" in str(error.value)
    assert "theft_rate" in str(error.value)
    with pytest.raises(InputFormatError, match="not YAML"):
        config_from_text("themes: [unclosed")


# --- readers ----------------------------------------------------------------------------------------------


@pytest.fixture
def warehouse(tmp_path: Path):  # type: ignore[no-untyped-def]
    w = open_warehouse(tmp_path / "w.duckdb")
    yield w
    w.close()


def test_a_long_survey_table_is_read_with_quarantine(warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    survey = tmp_path / "feel-safe.csv"
    survey.write_bytes("area,period,measure,value,respondents\n"
                       "E09000001,2023-12-31,Feel safe,0.81,120\n"
                       "E09000002,2023-12-31,Feel safe,lots,80\n"
                       "E09000003,,Feel safe,0.5,10\n"
                       "E09000004,2023-12-31,'); DROP TABLE survey_measures; --,0.4,\n"
                       "Caf\xe9,2023-12-31,Feel safe,0.6,5\n".encode("cp1252"))
    report = import_survey(warehouse, [survey])
    assert report.totals() == {"rows_read": 5, "rows_stored": 3, "rows_quarantined": 2}
    reasons = {r["reason"] for r in warehouse.query("SELECT reason FROM quarantine")}
    assert any("not a number" in r for r in reasons) and any("period" in r.lower() for r in reasons)
    stored = warehouse.query("SELECT survey, area, measure, value, respondents FROM survey_measures ORDER BY area")
    assert stored[0] == {"survey": "feel-safe", "area": "Café", "measure": "Feel safe", "value": 0.6,
                         "respondents": 5}
    assert any(r["measure"].startswith("');") for r in stored)
    assert import_survey(warehouse, [survey]).files[0].status == "unchanged"  # the same bytes add nothing


def test_a_truncated_or_binary_survey_is_refused_and_nothing_is_stored(warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    truncated = tmp_path / "s.csv"
    truncated.write_bytes(b"area,period,measure,value\nE09000001,2023-12-31,Feel safe,0.81\nE09000002,2023-1")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x00\xff" * 100)
    with pytest.raises(ImportFailed) as error:
        import_survey(warehouse, [truncated, binary])
    assert "truncated" in str(error.value) and "binary" in str(error.value)
    assert warehouse.scalar("SELECT count(*) FROM survey_measures") == 0


def test_the_pas_file_is_read_as_published(warehouse, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    pas = data_dir / "london" / "pas-borough-2014-2023.csv"
    report = import_survey(warehouse, [pas])
    assert report.totals()["rows_quarantined"] == 0
    assert report.totals()["rows_stored"] == len(pas.read_bytes().splitlines()) - 1
    row = warehouse.row("""SELECT value, reference_value, measure FROM survey_measures
                           WHERE area = 'Barking and Dagenham' AND period = DATE '2014-12-31'
                           AND measure LIKE '%Good Job%'""")
    assert row == (0.56, 0.67, '"Good Job" local')  # decimal commas and doubled quotes read right
    spellings = {r["area"] for r in warehouse.query("SELECT DISTINCT area FROM survey_measures "
                                                    "WHERE area ILIKE 'richmond%'")}
    assert spellings == {"Richmond upon Thames", "Richmond Upon Thames"}  # kept as published; merged by the index


def test_a_pas_style_file_with_a_bad_number_quarantines_that_row(warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pas = tmp_path / "pas.csv"
    pas.write_text('Date;Survey;Borough;Measure;Proportion;MPS\n31/12/2014;PAS;Barnet;"""Good Job"" local";0,67;0,67\n'
                   "31/12/2014;PAS;Bexley;Informed local;0,7x;0,5\n")
    report = import_survey(warehouse, [pas])
    assert (report.totals()["rows_stored"], report.totals()["rows_quarantined"]) == (1, 1)


def _ward_file(path: Path, months: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["MajorText", "MinorText", "WardName", "WardCode", "LookUp_BoroughName", *months])
        writer.writerows(rows)
    return path


def test_overlapping_ward_files_count_each_month_once_whatever_the_order(tmp_path: Path) -> None:
    ward = ["BURGLARY", "BURGLARY - RESIDENTIAL", "Ward, with comma", "E05000001", "Barnet"]
    early = _ward_file(tmp_path / "early.csv", ["202401", "202402"], [ward + ["5", "7"]])
    late = _ward_file(tmp_path / "late.csv", ["202402", "202403"], [ward + ["8", "2"]])  # February revised
    for order in ([early, late], [late, early]):
        with contextlib.closing(open_warehouse(tmp_path / f"{order[0].stem}.duckdb")) as w:
            import_ward_crime(w, order)
            months = {str(r["month"]): r["crimes"] for r in w.query("SELECT month, sum(crimes) AS crimes FROM "
                                                                    "ward_crimes GROUP BY 1")}
            assert months == {"2024-01-01": 5, "2024-02-01": 8, "2024-03-01": 2}
            assert w.scalar("SELECT category FROM ward_crimes LIMIT 1") == "Burglary"
            assert w.scalar("SELECT offence FROM ward_crimes LIMIT 1") == "Residential burglary"


def test_ward_rows_with_unknown_categories_or_counts_are_quarantined(warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ward = ["E05000001", "Barnet"]
    path = _ward_file(tmp_path / "w.csv", ["202401"], [
        ["THEFT", "SHOPLIFTING", "A", *ward, "3"], ["THEFT", "SHOPLIFTING", "B", *ward, "three"],
        ["NEW", "SOMETHING NEW", "C", *ward, "1"]])
    report = import_ward_crime(warehouse, [path])
    assert (report.files[0].rows_read, report.totals()["rows_quarantined"]) == (3, 2)
    reasons = " ".join(r["reason"] for r in warehouse.query("SELECT reason FROM quarantine"))
    assert "not a whole number" in reasons and "SOMETHING NEW" in reasons
    no_months = _ward_file(tmp_path / "n.csv", [], [["THEFT", "SHOPLIFTING", "A", *ward]])
    with pytest.raises(ImportFailed, match="no month columns"):
        import_ward_crime(warehouse, [no_months])


def test_the_borough_index_builds_and_serves_on_every_engine(warehouse_location: str, data_dir: Path,
                                                             tmp_path: Path) -> None:
    """The London path end to end on DuckDB and PostgreSQL: three boroughs' wards, the PAS, the populations."""
    from fastapi.testclient import TestClient

    from safertogether.api import create_app
    from safertogether.index.build import build_index
    from safertogether.index.readers import import_area_population

    london = data_dir / "london"
    lines = (london / "mps-ward-crime-202402-202601.csv").read_text().splitlines()
    wards = tmp_path / "wards.csv"
    wards.write_text("\n".join([lines[0], *[line for line in lines[1:] if any(
        f",{b}," in line for b in ("Barnet", "Camden", "Richmond upon Thames"))]]) + "\n")
    with contextlib.closing(open_warehouse(warehouse_location)) as warehouse:
        import_ward_crime(warehouse, [wards])
        import_survey(warehouse, [london / "pas-borough-2014-2023.csv"])
        import_area_population(warehouse, [london / "borough-population-1999-2050.csv"])
        edition = build_index(warehouse, "borough")
        assert {r["area_name"] for r in edition.records} == {"Barnet", "Camden", "Richmond upon Thames"}
        assert all(r["subjective"] is not None for r in edition.records)
        client = TestClient(create_app(warehouse))
        code = edition.records[0]["area"]
        card = client.get(f"/api/index/areas/{code}").json()
        assert card["area"] == code and card["themes"] and card["similar"]
        scores = client.get("/api/index").json()
        assert len(scores["areas"]) == 3 and scores["edition"]["edition_id"] == edition.edition_id
        # The public edition under a policy, from the ward cells released under it, on this engine too.
        from safertogether.disclosure.policy import load_policy
        from safertogether.settings import Settings

        public = build_index(warehouse, "borough", policy=load_policy("round-to-5"))
        assert all(r["crimes"] % 5 == 0 for r in public.records)
        rounded = TestClient(create_app(warehouse, Settings(disclosure_policy="round-to-5")))
        served = rounded.get("/api/index").json()
        assert served["edition"]["edition_id"] == public.edition_id
        assert {a["crimes"] for a in served["areas"]} <= {r["crimes"] for r in public.records}
        geo = rounded.get("/api/index/map.geojson", params={"level": "borough"}).json()
        assert geo["metadata"]["disclosure_policy"] == "round-to-5" and len(geo["features"]) == 3
