"""GIS downloads (GeoPackage, FlatGeobuf, GeoParquet) read back with GDAL and GeoPandas: the CSV extract's rows."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import geopandas
import pyogrio
import pytest
from typer.testing import CliRunner

from safertogether.cli import app

PERIOD = {"from": "2021-01", "to": "2021-12"}


def read_back(path: Path) -> geopandas.GeoDataFrame:
    return geopandas.read_parquet(path) if path.suffix == ".parquet" else pyogrio.read_dataframe(path)


def rows_of(frame: geopandas.GeoDataFrame) -> Counter[tuple[str, ...]]:
    return Counter(zip(frame["crime_id"].fillna(""), frame["month"], frame["crime_type"],
                       frame["location"].fillna(""), strict=True))


@pytest.mark.parametrize(("fmt", "media_type"), [("gpkg", "application/geopackage+sqlite3"),
                                                 ("fgb", "application/vnd.flatgeobuf"),
                                                 ("parquet", "application/vnd.apache.parquet")])
def test_api_download_has_the_csv_extracts_rows(city_client, tmp_path, fmt, media_type):
    answer = city_client.get("/api/areas/city-of-london/download", params={**PERIOD, "format": fmt})
    assert answer.status_code == 200 and answer.headers["content-type"] == media_type
    assert "crimes-city-of-london-2021-01-2021-12." + fmt in answer.headers["content-disposition"]
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(answer.content)
    frame = read_back(path)
    extract = list(csv.DictReader(io.StringIO(city_client.get("/api/areas/city-of-london/crimes.csv",
                                                              params=PERIOD).text)))
    assert len(frame) == len(extract) > 5000
    assert rows_of(frame) == Counter((r["crime_id"], r["month"], r["crime_type"], r["location"]) for r in extract)
    assert frame.crs.to_epsg() == 4326
    located = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    assert len(located) == sum(bool(r["longitude"]) for r in extract)
    assert (located.geometry.x == located["longitude"]).all() and (located.geometry.y == located["latitude"]).all()


def test_cli_export_writes_an_lsoa_as_the_raw_files_have_it(city_db, city_folder, tmp_path):
    out = tmp_path / "lsoa.gpkg"
    result = CliRunner().invoke(app, ["export", "E01000001", "--format", "gpkg", "--out", str(out), "--db",
                                      str(city_db), "--from", "2021-01", "--to", "2021-12"])
    assert result.exit_code == 0, result.output
    raw = []
    for path in sorted(city_folder.glob("2021-*-street.csv")):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            raw += [r for r in csv.DictReader(handle) if r["LSOA code"] == "E01000001"]
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == len(raw) > 100 and f"{len(raw):,} crimes" in result.output
    assert Counter(frame["crime_type"]) == Counter(r["Crime type"] for r in raw)


def test_download_errors(city_client, city_db, tmp_path):
    assert city_client.get("/api/areas/E99999999/download").status_code == 404
    assert city_client.get("/api/areas/E01000001/download", params={"format": "shp"}).status_code == 422
    result = CliRunner().invoke(app, ["export", "E01000001", "--format", "shp", "--db", str(city_db),
                                      "--out", str(tmp_path / "x.shp")])
    assert result.exit_code == 2 and "gpkg, fgb, parquet" in result.output
    assert not (tmp_path / "x.shp").exists()
