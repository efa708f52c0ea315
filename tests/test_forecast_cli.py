"""`safer forecast` and `safer plan patrols|dosage` as a user runs them, on real police.uk and Portland files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from safertogether.cli import app
from safertogether.forecast.displacement import displacement_check
from safertogether.forecast.fairness import fairness_by_decile
from safertogether.forecast.grid import Grid

runner = CliRunner()


@pytest.fixture(scope="module")
def portland(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two years of Portland burglaries (feet, EPSG:2913), as published."""
    out = tmp_path_factory.mktemp("portland") / "burglary.csv"
    with open(data_dir / "portland-nij" / "crimes_bur-2012-03-to-2017-02.csv", encoding="utf-8") as src:
        lines = [line for i, line in enumerate(src) if i == 0 or line.startswith(("2015", "2016"))]
    out.write_text("".join(lines), encoding="utf-8")
    return out


def _points(path: Path, *extra: str) -> list[str]:
    return ["--events", str(path), "--kind", "points", "--crs", "2913", "--x", "x_coordina", "--y", "y_coordina",
            "--date", "occ_date", *extra]


def test_police_uk_backtest_reports_every_model_and_coverage_with_intervals(city_folder: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["forecast", "backtest", "--events", str(city_folder), "--horizon", "month",
                                 "--cell", "250", "--models", "previous,longrun,kde,etas,ensemble", "--json",
                                 "--html", str(html)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["data"]["test_windows"]) == 12  # the last year by default
    assert report["settings"]["tuning_windows"][-1] < report["data"]["test_windows"][0]
    rows = report["results"]
    assert {r["model"] for r in rows} == {"previous", "longrun", "kde", "etas", "ensemble", "longrun_all"}
    assert report["chosen_model"] in ("etas", "ensemble") and report["best_baseline"] in ("previous", "longrun", "kde")
    assert set(report["headline"]["against"]) >= {"longrun_all", "previous", "kde"}
    assert {r["label"] for r in rows} == {"0.5%", "1.0%", "2.0%", "5.0%", "10.0%", "20 boxes"}
    for row in rows:
        for measure in ("hit_rate", "pai", "pei_star"):
            low, high = row[f"{measure}_ci"]
            assert low <= row[measure] <= high
        assert 0 <= row["hit_rate"] <= 1 and 0 <= row["pei_star"] <= 1
    assert any("police-initiated" in n for n in report["notes"])
    page = html.read_text(encoding="utf-8")
    assert "Open Government Licence" in page and "<polyline" in page and "<rect" in page


def test_points_in_feet_take_cells_in_metres(portland: Path) -> None:
    result = runner.invoke(app, ["forecast", "backtest", *_points(portland, "--horizon", "week", "--cell", "150",
                                 "--models", "longrun,prospective,etas", "--test-from", "2016-10-03", "--json")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["data"]["cell_m"] == 150 and report["data"]["crs"] == "EPSG:2913"
    # 150 m cells: the study area is a whole number of 0.0225 km2 cells
    assert report["data"]["area_km2"] == pytest.approx(report["data"]["cells"] * 0.0225, rel=1e-6)
    assert report["data"]["test_windows"][0] == "2016-10-03"
    assert report["models"]["etas"]["seconds_per_forecast"] < 20


def test_a_mask_in_another_crs_limits_the_cells(portland: Path, tmp_path: Path) -> None:
    mask = tmp_path / "mask.geojson"  # a box around central Portland, in longitude and latitude
    mask.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [[[-122.70, 45.50], [-122.60, 45.50],
                                                                      [-122.60, 45.56], [-122.70, 45.56],
                                                                      [-122.70, 45.50]]]}}]}))
    result = runner.invoke(app, ["forecast", "backtest", *_points(portland, "--horizon", "month", "--cell", "250",
                                 "--models", "longrun", "--mask", str(mask), "--json")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["data"]
    # about 7.8 km x 6.7 km
    assert 40 < data["area_km2"] < 60 and data["events_outside_study_area"] > 0


def test_bad_input_gets_a_clear_error(portland: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["forecast", "backtest", "--events", str(portland), "--kind", "points"])
    assert missing.exit_code == 2 and "--x" in missing.output and "--crs" in missing.output
    wrong_column = runner.invoke(app, ["forecast", "backtest", *_points(portland)[:-1], "when"])
    assert wrong_column.exit_code == 2 and "when" in wrong_column.output
    daily_from_months = runner.invoke(app, ["forecast", "backtest", "--events", str(portland), "--horizon", "week",
                                            "--cell", "-5", *_points(portland)[2:]])
    assert daily_from_months.exit_code == 2 and "--cell" in daily_from_months.output
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    assert runner.invoke(app, ["forecast", "backtest", *_points(binary)]).exit_code == 2


def test_hostile_and_malformed_rows_are_left_out_and_counted(portland: Path, tmp_path: Path) -> None:
    lines = portland.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines, "=cmd|' /C calc'!A0,7650000,680000,1,1,1,1,1,1,1,1",
                              "2016-13-45,7650000,680000,1,1,1,1,1,1,1,1",
                              "2016-05-05,not-a-number,680000,1,1,1,1,1,1,1,1",
                              "2016-05-05,7650000"]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["forecast", "backtest", *_points(bad, "--horizon", "month", "--models", "longrun",
                                                                  "--json")])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any(n.startswith("4 rows left out: quarantined") for n in notes), notes
    truncated = tmp_path / "truncated.csv"
    truncated.write_text("\n".join(lines[:500]) + "\n2016-05-05,76500", encoding="utf-8")
    cut = runner.invoke(app, ["forecast", "backtest", *_points(truncated)])
    assert cut.exit_code == 2 and "truncated" in cut.output


def test_police_uk_months_refuse_a_weekly_horizon(city_folder: Path) -> None:
    result = runner.invoke(app, ["forecast", "backtest", "--events", str(city_folder), "--horizon", "week"])
    assert result.exit_code == 2 and "month" in result.output


def test_predict_explains_each_flagged_cell(portland: Path, tmp_path: Path) -> None:
    out = tmp_path / "forecast.geojson"
    result = runner.invoke(app, ["forecast", "predict", *_points(portland, "--horizon", "week", "--cell", "150",
                                 "--out", str(out), "--coverage", "0.01", "--category-column", "call_group_type",
                                 "--json")])
    assert result.exit_code == 0, result.output
    cells = json.loads(out.read_text())["features"]
    assert cells and all("raises the risk" in c["properties"]["why"] for c in cells)
    assert cells[0]["properties"]["expected"] >= cells[-1]["properties"]["expected"]


def test_predict_with_related_events_reads_them(portland: Path, data_dir: Path, tmp_path: Path) -> None:
    """Thefts of cars given as related events: counted on the burglaries' grid, and the trees forecast with them."""
    out, plain = tmp_path / "with.geojson", tmp_path / "without.geojson"
    common = ["--horizon", "week", "--cell", "150", "--coverage", "0.01", "--model", "gbm", "--json"]
    related = ["--related", str(data_dir / "portland-nij" / "crimes_veh-2012-03-to-2017-02.csv")]
    for path, extra in ((out, related), (plain, [])):
        result = runner.invoke(app, ["forecast", "predict", *_points(portland, "--out", str(path), *common, *extra)])
        assert result.exit_code == 0, result.output
    with_related = [c["properties"]["expected"] for c in json.loads(out.read_text())["features"]]
    without = [c["properties"]["expected"] for c in json.loads(plain.read_text())["features"]]
    assert with_related and len(with_related) == len(without) and with_related != without


def test_patrol_plan_and_the_dosage_delivered(city_folder: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", "patrols", "--events", str(city_folder), "--out", str(out), "--shift",
                                 "07:00=8", "--shift", "15:00=16", "--cell", "100", "--harm-weights",
                                 str(data_dir / "harm" / "cchi_weights_by_category.csv"), "--json"])
    assert result.exit_code == 0, result.output
    shifts = json.loads(result.stdout)["shifts"]
    assert [s["boxes"] for s in shifts] == [5, 10]  # 8 h: 480 min / (4 visits x (12 + 10) min) = 5.5
    assert 0 < shifts[0]["expected_share_of_harm"] < shifts[1]["expected_share_of_harm"] <= 1
    plan = json.loads((out / "patrols-0700.geojson").read_text())
    first = plan["features"][0]
    assert first["properties"]["visits"][:2] == ["07:00", "09:00"]
    for feature in plan["features"]:  # every box says why it is in the plan, in plain words
        props = feature["properties"]
        assert props["why"].startswith(f"box {props['box']} of the plan: {props['share_of_harm']:.1%}")
        assert f"{props['expected_events']:.1f} events expected in this box next month" in props["why"]
        assert "a crime raises the risk" in props["why"] and props["recent_events"] >= 0
    printed = (out / "patrols.html").read_text()
    assert "Open Government Licence" in printed and "events expected in this box" in printed
    # a unit walks box 1 for 12 minutes (a fix a minute), then leaves
    import shapely

    box = shapely.geometry.shape(first["geometry"])
    inside = box.representative_point()
    track = tmp_path / "track.csv"
    with open(track, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["device", "time", "longitude", "latitude"])
        for minute in range(13):
            writer.writerow(["A1", f"2022-01-01 07:{minute:02d}:00", inside.x, inside.y])
        writer.writerow(["A1", "2022-01-01 07:20:00", inside.x + 0.05, inside.y])
        writer.writerow(["A1", "2022-01-01 07:21:00", "garbage", inside.y])
    dosage = runner.invoke(app, ["plan", "dosage", "--plan", str(out / "patrols-0700.geojson"), "--track", str(track),
                                 "--unit", "device", "--json"])
    assert dosage.exit_code == 0, dosage.output
    delivered = json.loads(dosage.stdout)
    assert delivered["boxes"][0]["delivered_minutes"] == 12 and delivered["boxes"][0]["delivered_visits"] == 1
    assert delivered["boxes"][1]["delivered_minutes"] == 0


def _square(n: int) -> Grid:
    import pyproj

    return Grid(0.0, 0.0, 100.0, 100.0, n, n, pyproj.CRS.from_epsg(27700), np.arange(n * n), "test")


def test_fairness_warns_when_attention_goes_beyond_harm() -> None:
    decile = np.repeat(np.arange(1, 11), 10)
    harm = np.ones(100)  # harm spread evenly
    flagged = decile <= 2  # attention all in the two most deprived deciles
    result = fairness_by_decile(flagged, harm, decile)
    assert len(result["warnings"]) == 2 and "decile 1" in result["warnings"][0]
    assert not fairness_by_decile(harm > 0, harm, decile)["warnings"]


def test_displacement_rings_see_crime_move_next_door() -> None:
    grid = _square(40)
    rng = np.random.default_rng(0)
    before = rng.poisson(5, grid.n).astype(float)
    after = rng.poisson(5, grid.n).astype(float)
    treated = np.array([20 * 40 + 20, 20 * 40 + 21])
    after[treated] = 0
    ring = np.array([19 * 40 + 20, 21 * 40 + 20, 20 * 40 + 19, 20 * 40 + 22, 19 * 40 + 21, 21 * 40 + 21])
    after[ring] += 15  # what was stopped in the treated cells happened next door
    result = displacement_check(grid, before, after, treated, rings_m=(150.0, 300.0))
    assert result["rings"][0]["ratio"] > 1.5 and "displacement" in result["reading"]
    assert result["treated_vs_control"]["ratio"] < 0.2
