"""Import semantics: atomic, idempotent, reconciled, revisions replace, zips equal folders."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from safertogether.errors import InputFormatError
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.store.imports import ImportFailed
from safertogether.store.warehouse import Warehouse, open_warehouse

CONTENT_COLUMNS = ("crime_id, month, force_id, longitude, latitude, location, lsoa_code, crime_type, "
                   "last_outcome_category, lsoa, row_number")


def snapshot(warehouse: Warehouse) -> dict[str, object]:
    """Everything a user could see change: row contents, files, imports, quarantine."""
    return {
        "crimes": warehouse.query(f"SELECT {CONTENT_COLUMNS} FROM street_crimes ORDER BY ALL"),
        "files": warehouse.query("SELECT file_id, sha256, status FROM source_files ORDER BY file_id"),
        "imports": warehouse.scalar("SELECT count(*) FROM imports"),
        "quarantine": warehouse.scalar("SELECT count(*) FROM quarantine"),
        "counts": warehouse.query("SELECT * FROM monthly_counts ORDER BY ALL"),
    }


def count_rows(path: Path) -> int:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in handle) - 1


def test_same_files_again_add_nothing(fresh_warehouse, city_folder):
    files = find_police_uk_files([city_folder], month_from="2021-01")
    first = import_police_uk(fresh_warehouse, files)
    before = snapshot(fresh_warehouse)
    second = import_police_uk(fresh_warehouse, files)
    assert first.totals()["rows_stored"] == sum(count_rows(Path(f.name)) for f in files)
    assert second.totals()["rows_stored"] == 0
    assert {f.status for f in second.files} == {"unchanged"}
    after = snapshot(fresh_warehouse)
    assert after["crimes"] == before["crimes"] and after["files"] == before["files"]


def test_a_new_month_appends(fresh_warehouse, city_folder):
    import_police_uk(fresh_warehouse, find_police_uk_files([city_folder], month_from="2021-11", month_to="2021-11"))
    before = fresh_warehouse.scalar("SELECT count(*) FROM street_crimes")
    import_police_uk(fresh_warehouse, find_police_uk_files([city_folder], month_from="2021-12"))
    added = count_rows(city_folder / "2021-12-city-of-london-street.csv")
    assert fresh_warehouse.scalar("SELECT count(*) FROM street_crimes") == before + added


def test_a_revised_month_replaces_the_earlier_one_and_keeps_its_provenance(fresh_warehouse, city_folder, tmp_path):
    original = city_folder / "2021-12-city-of-london-street.csv"
    import_police_uk(fresh_warehouse, find_police_uk_files([original]))
    lines = original.read_text(encoding="utf-8").splitlines(keepends=True)
    revised_lines = [lines[0]] + [line.replace("Under investigation", "Local resolution") for line in lines[1:-5]]
    revised = tmp_path / "republished" / original.name
    revised.parent.mkdir()
    revised.write_text("".join(revised_lines), encoding="utf-8")

    report = import_police_uk(fresh_warehouse, find_police_uk_files([revised]))

    assert report.files[0].status == "replaced an earlier version"
    assert fresh_warehouse.scalar("SELECT count(*) FROM street_crimes") == len(revised_lines) - 1
    assert fresh_warehouse.scalar(
        "SELECT count(*) FROM street_crimes WHERE last_outcome_category = 'Under investigation'") == 0
    files = fresh_warehouse.query("SELECT name, status, superseded_by FROM source_files "
                                  "WHERE kind = 'street' ORDER BY file_id")
    assert [f["status"] for f in files] == ["superseded", "current"]
    assert files[0]["name"] == str(original) and files[0]["superseded_by"] is not None


def test_every_file_reconciles_read_with_stored_and_quarantined(fresh_warehouse, city_folder, tmp_path):
    path = tmp_path / "2021-12-city-of-london-street.csv"
    lines = (city_folder / path.name).read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace("2021-12", "21-12")
    lines[9] = lines[9] + ",surplus"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_police_uk(fresh_warehouse, find_police_uk_files([path]))
    [only] = report.files
    assert (only.rows_read, only.rows_stored, only.rows_quarantined) == (len(lines) - 1, len(lines) - 3, 2)
    kept = fresh_warehouse.query("SELECT row_number, raw_text, reason FROM quarantine ORDER BY row_number")
    assert [k["row_number"] for k in kept] == [5, 9]
    assert kept[0]["raw_text"] == lines[5] and kept[0]["reason"].startswith("unknown month")
    stored = fresh_warehouse.query("SELECT row_number FROM street_crimes ORDER BY row_number")
    assert {r["row_number"] for r in stored} | {5, 9} == set(range(1, len(lines)))


def test_one_bad_file_stores_nothing_from_the_batch(fresh_warehouse, city_folder, tmp_path):
    import_police_uk(fresh_warehouse, find_police_uk_files([city_folder], month_from="2021-12"))
    before = snapshot(fresh_warehouse)
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(city_folder / "2021-11-city-of-london-street.csv", folder)
    (folder / "notes.csv").write_text("this,is\nnot,police.uk\n", encoding="utf-8")
    (folder / "2021-10-city-of-london-street.csv").write_bytes(b"\x00\x01binary")
    with pytest.raises(ImportFailed) as failed:
        import_police_uk(fresh_warehouse, find_police_uk_files([folder]))
    assert len(failed.value.problems) == 2
    assert snapshot(fresh_warehouse) == before


def test_a_killed_import_leaves_the_warehouse_unchanged(fresh_db, data_dir, tmp_path):
    warehouse = open_warehouse(fresh_db)
    import_police_uk(warehouse, find_police_uk_files([data_dir / "police-uk" / "city-of-london"],
                                                     month_from="2021-12"))
    before = snapshot(warehouse)
    warehouse.close()
    script = tmp_path / "import_and_hang.py"
    script.write_text(
        "import sys, time\n"
        "from safertogether.ingest import find_police_uk_files, import_police_uk\n"
        "from safertogether.store.warehouse import open_warehouse\n"
        "w = open_warehouse(sys.argv[1])\n"
        "files = find_police_uk_files([sys.argv[2]], month_to='2021-11')\n"
        "def on_file(report):\n"
        "    if report.rows_stored and on_file.n == 20:\n"
        "        print('MID-IMPORT', flush=True); time.sleep(600)\n"
        "    on_file.n += 1\n"
        "on_file.n = 0\n"
        "import_police_uk(w, files, on_file=on_file)\n"
    )
    process = subprocess.Popen([sys.executable, str(script), str(fresh_db),
                                str(data_dir / "police-uk" / "city-of-london")], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "MID-IMPORT"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
    reopened = open_warehouse(fresh_db)
    assert snapshot(reopened) == before
    reopened.close()


def _zip_folder(folder: Path, target: Path, month_dirs: bool = True) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob("*.csv")):
            name = f"{path.name[:7]}/{path.name}" if month_dirs else path.name
            archive.write(path, name)
    return target


def test_staging_large_imports_on_disk_stores_the_same_rows(reference_db, city_folder, tmp_path):
    in_memory, staged = tmp_path / "memory.duckdb", tmp_path / "staged.duckdb"
    # Two versions of one month in the same batch: the replacement must see the staged rows.
    original = city_folder / "2021-06-city-of-london-street.csv"
    revised = tmp_path / "revised" / original.name
    revised.parent.mkdir()
    revised.write_text("".join(original.read_text(encoding="utf-8").splitlines(keepends=True)[:-10]))
    files = find_police_uk_files([city_folder], month_from="2021-01") + find_police_uk_files([revised])
    for db, spill_rows in ((in_memory, 10_000_000), (staged, 2_000)):
        shutil.copy(reference_db, db)
        warehouse = open_warehouse(db)
        import_police_uk(warehouse, files, spill_rows=spill_rows)
        warehouse.close()
    a, b = open_warehouse(in_memory, read_only=True), open_warehouse(staged, read_only=True)
    assert snapshot(a)["crimes"] == snapshot(b)["crimes"]
    expected = sum(count_rows(Path(f.name)) for f in files) - count_rows(original)
    assert len(snapshot(b)["crimes"]) == expected
    assert not list(tmp_path.glob(".safer-staging-*"))


def test_a_zip_imports_exactly_like_its_folder(reference_db, city_folder, tmp_path):
    from_folder, from_zip = tmp_path / "folder.duckdb", tmp_path / "zip.duckdb"
    shutil.copy(reference_db, from_folder)
    shutil.copy(reference_db, from_zip)
    archive = _zip_folder(city_folder, tmp_path / "archive.zip")
    for db, path in ((from_folder, city_folder), (from_zip, archive)):
        warehouse = open_warehouse(db)
        import_police_uk(warehouse, find_police_uk_files([path]))
        warehouse.close()
    a, b = open_warehouse(from_folder, read_only=True), open_warehouse(from_zip, read_only=True)
    first, second = snapshot(a), snapshot(b)
    assert first["crimes"] == second["crimes"] and first["counts"] == second["counts"]
    assert [f["sha256"] for f in first["files"]] == [f["sha256"] for f in second["files"]]
    assert len(first["crimes"]) == sum(count_rows(p) for p in city_folder.glob("*.csv"))


def test_a_zip_can_be_taken_in_part_by_force_and_month(multiforce_folder, tmp_path):
    archive = _zip_folder(multiforce_folder, tmp_path / "archive.zip")
    files = find_police_uk_files([archive], forces=["Cheshire Constabulary", "btp"], month_from="2023-03",
                                 month_to="2023-03")
    assert sorted(Path(f.name.split("!")[1]).name for f in files) == [
        "2023-03-btp-stop-and-search.csv", "2023-03-btp-street.csv",
        "2023-03-cheshire-outcomes.csv", "2023-03-cheshire-stop-and-search.csv", "2023-03-cheshire-street.csv"]
    assert find_police_uk_files([archive], month_from="2023-04") == []


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_a_damaged_zip_gets_one_clear_error_and_stores_nothing(fresh_warehouse, city_folder, tmp_path, damage):
    archive = _zip_folder(city_folder, tmp_path / "archive.zip")
    data = archive.read_bytes()
    if damage == "truncate":
        archive.write_bytes(data[: len(data) // 2])
    else:
        middle = len(data) // 3
        archive.write_bytes(data[:middle] + bytes(4096) + data[middle + 4096:])
    before = snapshot(fresh_warehouse)
    with pytest.raises(InputFormatError, match="zip"):
        import_police_uk(fresh_warehouse, find_police_uk_files([archive]))
    assert snapshot(fresh_warehouse) == before


def test_the_same_file_twice_in_one_batch_is_stored_once(fresh_warehouse, city_folder, tmp_path):
    month = city_folder / "2021-12-city-of-london-street.csv"
    copy = tmp_path / "copy" / month.name
    copy.parent.mkdir()
    shutil.copy(month, copy)
    archive = _zip_folder(copy.parent, tmp_path / "again.zip")
    report = import_police_uk(fresh_warehouse, find_police_uk_files([month, copy, archive]))
    assert [f.status for f in report.files] == ["stored", "unchanged", "unchanged"]
    assert fresh_warehouse.scalar("SELECT count(*) FROM street_crimes") == count_rows(month)


def test_summaries_see_each_new_import_at_once(fresh_warehouse, city_folder):
    """Answers held in memory (area index, monthly cubes) are rebuilt when an import commits."""
    from safertogether.measures.summary import area_summary

    import_police_uk(fresh_warehouse, find_police_uk_files([city_folder], month_from="2021-11", month_to="2021-11"))
    before = area_summary(fresh_warehouse, "city-of-london", "2021-11", "2021-12")
    import_police_uk(fresh_warehouse, find_police_uk_files([city_folder], month_from="2021-12", month_to="2021-12"))
    after = area_summary(fresh_warehouse, "city-of-london", "2021-11", "2021-12")
    december = count_rows(city_folder / "2021-12-city-of-london-street.csv")
    assert [m["crimes"] is None for m in before["monthly"]] == [False, True]
    assert after["crimes"] == before["crimes"] + december
    assert after["monthly"][1]["crimes"] == december


def test_a_warehouse_with_only_stop_and_search_still_answers_summaries(fresh_warehouse, multiforce_folder):
    from safertogether.measures.summary import area_summary

    import_police_uk(fresh_warehouse, [s for s in find_police_uk_files([multiforce_folder], forces=["city-of-london"])
                                       if s.name.endswith("stop-and-search.csv")])
    busiest, stops = fresh_warehouse.query(
        "SELECT lsoa, count(*) AS n FROM stop_searches WHERE lsoa IS NOT NULL GROUP BY 1 ORDER BY n DESC LIMIT 1"
    )[0].values()
    summary = area_summary(fresh_warehouse, busiest, "2023-03", "2023-03")
    assert summary["crimes"] == 0 and summary["categories"] == []
    assert summary["stop_and_search"]["stops"] == stops > 0


def test_a_crime_import_leaves_areas_as_a_full_rebuild_would(fresh_warehouse, multiforce_folder):
    """Crime imports only touch the force rows of ``areas``; the result must equal rebuilding it all."""
    from safertogether.areas.hierarchy import refresh_areas

    def areas() -> list[dict[str, object]]:
        return fresh_warehouse.query("SELECT * FROM areas ORDER BY ALL")

    import_police_uk(fresh_warehouse, find_police_uk_files([multiforce_folder], forces=["city-of-london", "btp"]))
    import_police_uk(fresh_warehouse, find_police_uk_files([multiforce_folder], forces=["cheshire"]))
    imported = areas()
    with fresh_warehouse.transaction():
        refresh_areas(fresh_warehouse)
    forces = {a["code"]: a["population"] for a in imported if a["level"] == "force"}
    assert forces.keys() == {"btp", "cheshire", "city-of-london"}
    assert forces["btp"] is None and forces["cheshire"] > forces["city-of-london"] > 0  # BTP polices no LSOA
    assert imported == areas()


def test_a_crime_import_fills_an_areas_table_that_was_never_built(fresh_warehouse, multiforce_folder):
    """A warehouse made before ``areas`` existed gets the whole table, not only its forces, on the next import."""
    with fresh_warehouse.transaction():
        fresh_warehouse.execute("DELETE FROM areas")
    import_police_uk(fresh_warehouse, find_police_uk_files([multiforce_folder], forces=["city-of-london"]))
    levels = {r["level"]: r["n"] for r in fresh_warehouse.query("SELECT level, count(*) AS n FROM areas GROUP BY 1")}
    assert levels["force"] == 1 and levels["lsoa"] > 30_000 and levels["msoa"] > 0 and levels["lad"] > 0


def test_a_failed_insert_of_registered_rows_raises_its_own_error_not_the_aborted_transaction():
    import duckdb
    import pyarrow as pa

    warehouse = open_warehouse(":memory:")
    warehouse.execute("CREATE TABLE t (x BIGINT NOT NULL)")
    rows = pa.table({"x": pa.array([None], pa.int64())})
    with pytest.raises(duckdb.ConstraintException), warehouse.transaction(), warehouse.registered("_rows", rows):
        warehouse.execute("INSERT INTO t SELECT * FROM _rows")
    warehouse.close()
