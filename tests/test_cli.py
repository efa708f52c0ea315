"""The `safer` command as scripts call it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from safertogether.cli import app

runner = CliRunner()


def test_import_json_reports_per_file_and_totals(fresh_db, city_folder):
    first = runner.invoke(app, ["import", "police-uk", str(city_folder), "--db", str(fresh_db), "--json",
                                "--from", "2021-10"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert {"files", "rows_read", "rows_stored", "rows_quarantined"} <= set(report)
    assert len(report["files"]) == 3
    assert report["rows_read"] == report["rows_stored"] + report["rows_quarantined"] > 0
    again = json.loads(runner.invoke(app, ["import", "police-uk", str(city_folder), "--db", str(fresh_db),
                                           "--json", "--from", "2021-10"]).stdout)
    assert again["rows_stored"] == 0


def test_a_wrong_file_gets_one_clear_error_line_and_a_nonzero_exit(fresh_db, tmp_path):
    bad = tmp_path / "crimes.csv"
    bad.write_text("name,age\nann,3\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "police-uk", str(bad), "--db", str(fresh_db)])
    assert result.exit_code != 0
    assert "not a police.uk file" in result.output and "expected" in result.output
    missing = runner.invoke(app, ["import", "police-uk", str(tmp_path / "nowhere"), "--db", str(fresh_db)])
    assert missing.exit_code != 0 and "no such file" in missing.output


def test_bad_month_option_is_refused(fresh_db, city_folder):
    result = runner.invoke(app, ["import", "police-uk", str(city_folder), "--db", str(fresh_db), "--from", "May"])
    assert result.exit_code != 0 and "YYYY-MM" in result.output


def test_quality_json_and_html(city_db, tmp_path):
    page = tmp_path / "quality.html"
    result = runner.invoke(app, ["quality", "--db", str(city_db), "--json", "--html", str(page)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    months = {(m["force_id"], m["month"]) for m in report["months"]}
    assert ("city-of-london", "2021-12") in months
    assert {"force_id": "city-of-london", "month": "2022-01"} in report["missing_months"]
    text = page.read_text(encoding="utf-8")
    assert "Open Government Licence" in text and "Quarantined rows by file" in text
    assert report["quarantined_files"] == [] and "No row has been quarantined" in text


def test_summary_and_area_search(city_db):
    found = json.loads(runner.invoke(app, ["areas", "City of London 001A", "--db", str(city_db), "--json"]).stdout)
    assert found[0]["code"] == "E01000001"
    summary = runner.invoke(app, ["summary", "E01000001", "--db", str(city_db), "--from", "2021-01",
                                  "--to", "2021-12"])
    assert summary.exit_code == 0 and "City of London 001A" in summary.output and "per 1,000" in summary.output
    unknown = runner.invoke(app, ["summary", "E09999999", "--db", str(city_db)])
    assert unknown.exit_code != 0 and "no area" in unknown.output


def test_reading_a_warehouse_that_does_not_exist_says_how_to_make_one(tmp_path):
    result = runner.invoke(app, ["summary", "E01000001", "--db", str(tmp_path / "typo.duckdb")])
    assert result.exit_code != 0 and "no warehouse" in result.output and "safer import" in result.output
    assert not (tmp_path / "typo.duckdb").exists()


def test_importing_crimes_does_not_load_what_only_summaries_and_grids_need():
    """`safer import` starts without SciPy, pyproj, the web stack or Splink (Splink alone takes 0.55 s)."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, safertogether.cli, safertogether.ingest, safertogether.link; "
                               "print(*sorted(sys.modules))"],
        capture_output=True, text=True, check=True).stdout.split()
    heavy = {"scipy", "pyproj", "fastapi", "safertogether.measures.summary", "splink", "pandas", "recordlinkage"}
    assert heavy.isdisjoint(loaded)


def test_the_library_lists_and_gives_its_exports_though_they_load_late():
    import safertogether
    import safertogether.areas

    for package in (safertogether, safertogether.areas):
        assert set(package.__all__) <= set(dir(package))
        assert all(callable(getattr(package, name)) for name in package.__all__ if name != "__version__")


def test_serve_refuses_tls_without_a_root_port_and_workers_with_one(tmp_path, monkeypatch):
    for name in ("SAFER_DB", "SAFER_WARM_CACHE"):  # restored afterwards, whatever serve sets
        monkeypatch.delenv(name, raising=False)
    certificate = tmp_path / "data.police.uk.pem"
    alone = runner.invoke(app, ["serve", "--db", str(tmp_path / "x.duckdb"), "--ssl-certfile", str(certificate)])
    assert alone.exit_code == 2 and "need --police-uk-root PORT" in alone.stderr
    workers = runner.invoke(app, ["serve", "--police-uk-root", "8443", "--workers", "2"])
    assert workers.exit_code == 2 and "drop --workers" in workers.stderr
