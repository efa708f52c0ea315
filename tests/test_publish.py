"""`safer publish`: the public datasets, reproducible, checksummed, policy-bound, with no person data."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from safertogether.disclosure.policy import load_policy
from safertogether.model.attribution import ATTRIBUTION
from safertogether.publish import PublicDataset, publish, register
from safertogether.publish.registry import DATASETS
from safertogether.publish.writer import PersonDataError
from safertogether.store.warehouse import open_warehouse


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def published(city_warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("published")
    publish(city_warehouse, out, load_policy("suppress-small-cells"))
    return out


def test_publish_writes_csv_and_geojson_per_level_with_a_manifest_that_checks(published):
    manifest = orjson.loads((published / "manifest.json").read_bytes())
    assert manifest["disclosure_policy"]["name"] == "suppress-small-cells"
    assert manifest["licence"]["attribution"] == ATTRIBUTION["text"] and "Open Government Licence v3.0" in \
        manifest["licence"]["name"]
    assert len(manifest["data_version"]) == 16
    names = {f["file"] for f in manifest["files"]}
    for level in ("lsoa", "msoa", "lad", "force"):
        assert {f"crime-counts-{level}.csv", f"crime-totals-{level}.csv", f"crime-totals-{level}.geojson"} <= names
    for entry in manifest["files"]:
        assert hashlib.sha256((published / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    sums = (published / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == len(manifest["files"])
    assert "Open Government Licence" in (published / "LICENCE.txt").read_text()


def test_published_lsoa_cells_obey_suppression_and_higher_levels_add_up(published):
    cells = _rows(published / "crime-counts-lsoa.csv")
    values = [int(r["crimes"]) for r in cells if r["crimes"]]
    assert all(v == 0 or v >= 3 for v in values)
    hidden = [r for r in cells if not r["crimes"]]
    assert hidden and all(r["hidden_cells"] == "1" for r in hidden)
    def by_month(level: str) -> dict[str, int]:
        summed: dict[str, int] = {}
        for r in _rows(published / f"crime-totals-{level}.csv"):
            summed[r["month"]] = summed.get(r["month"], 0) + int(r["crimes"] or 0)
        return summed

    assert by_month("lsoa") == by_month("msoa") == by_month("lad")  # every level adds up the same LSOA totals
    geo = orjson.loads((published / "crime-totals-lsoa.geojson").read_bytes())
    e01000001 = next(f for f in geo["features"] if f["id"] == "E01000001")
    assert e01000001["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "crimes_2021_12" in e01000001["properties"] and geo["attribution"] == ATTRIBUTION["text"]


def test_publishing_again_gives_identical_files(city_warehouse, published, tmp_path):
    publish(city_warehouse, tmp_path, load_policy("suppress-small-cells"))
    for path in published.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_dataset_with_a_person_column_is_refused_and_nothing_is_left_behind(city_warehouse, tmp_path):
    def leaky(warehouse, policy, level):
        return pa.table({"area": ["E01000001"], "area_name": ["x"], "surname": ["Smith"]})

    register(PublicDataset("leaky", "A mistake", {}, leaky, levels=("lsoa",)))
    try:
        with pytest.raises(PersonDataError, match="surname"):
            publish(city_warehouse, tmp_path / "out", load_policy("round-to-5"))
        assert list((tmp_path / "out").iterdir()) == []
    finally:
        DATASETS.pop("leaky")


def test_publish_under_dp_spends_epsilon_once_per_data_version(city_db, tmp_path):
    path = tmp_path / "city.duckdb"
    shutil.copy(city_db, path)
    warehouse = open_warehouse(path)
    try:
        first = publish(warehouse, tmp_path / "a", load_policy("dp-laplace"), levels=("lad",))
        again = publish(warehouse, tmp_path / "b", load_policy("dp-laplace"), levels=("lad",))
    finally:
        warehouse.close()
    assert first.manifest["releases"][0]["epsilon_spent"] == 1.0 and not first.manifest["releases"][0]["reused"]
    assert again.manifest["releases"][0]["reused"]
    lad = "crime-totals-lad.csv"
    assert (tmp_path / "a" / lad).read_bytes() == (tmp_path / "b" / lad).read_bytes()


def test_safer_publish_command_writes_the_datasets_and_refuses_an_unknown_policy(city_db, tmp_path):
    from typer.testing import CliRunner

    from safertogether.cli import app

    db = tmp_path / "city.duckdb"
    shutil.copy(city_db, db)
    runner = CliRunner()
    done = runner.invoke(app, ["publish", "--db", str(db), "--out", str(tmp_path / "out"), "--policy",
                               "round-to-5", "--level", "lad", "--json"])
    assert done.exit_code == 0, done.output
    manifest = orjson.loads(done.stdout[done.stdout.index("{"):])
    assert manifest["disclosure_policy"]["name"] == "round-to-5"
    rows = _rows(tmp_path / "out" / "crime-totals-lad.csv")
    assert rows and all(int(r["crimes"]) % 5 == 0 for r in rows)
    refused = runner.invoke(app, ["publish", "--db", str(db), "--out", str(tmp_path / "x"), "--policy", "nope"])
    assert refused.exit_code == 2 and "no policy file" in refused.output
