"""National scale: generate a police.uk-format archive of 20 million rows and import it.

The archive is laid out as police.uk's download (one folder per month, one street file per force
and month). Rows are real Leicestershire rows re-labelled for 40 forces and 10 months, so points,
LSOAs and categories are realistic and police.uk's snap-point reuse is preserved. The import runs
in a process of its own with DuckDB capped at 3 GB; goal: peak memory under 4 GB. Beside it, in the
same run, a bare DuckDB load of the same archive into a file (same cap, own process): the import's
distance from what this machine can do at all.

    .venv/bin/python bench/national_scale.py --data ../shared/data [--rows 20000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bare_load, build_reference_warehouse, parse_or_run_child, peak_rss_mb, run_child  # noqa: E402

FORCES = 40
MONTHS = 10


def generate(archive: Path, data: Path, rows: int) -> int:
    """Write FORCES x MONTHS street files with ``rows`` rows in all; returns the rows written."""
    import duckdb

    from safertogether.model.forces import FORCE_NAMES

    forces = list(FORCE_NAMES.items())[:FORCES]
    per_file = rows // (FORCES * MONTHS)
    connection = duckdb.connect()
    template = str(data / "police-uk" / "leicestershire" / "*.csv")
    connection.execute(f"CREATE TABLE template AS SELECT * FROM read_csv('{template}', all_varchar=true)")
    connection.execute("CREATE TABLE numbered AS SELECT row_number() OVER () - 1 AS i, * FROM template")
    size = connection.execute("SELECT count(*) FROM numbered").fetchall()[0][0]
    written = 0
    for m in range(MONTHS):
        month = f"2023-{m + 1:02d}"
        (archive / month).mkdir(parents=True, exist_ok=True)
        for f, (fid, name) in enumerate(forces):
            path = archive / month / f"{month}-{fid}-street.csv"
            offset = (f * MONTHS + m) * per_file
            connection.execute(
                f"""COPY (
                    SELECT CASE WHEN "Crime ID" IS NULL THEN NULL
                                ELSE md5('{fid}{month}' || g.n) || md5(g.n || '{fid}{month}') END AS "Crime ID",
                           '{month}' AS "Month", '{name}' AS "Reported by", '{name}' AS "Falls within",
                           "Longitude", "Latitude", "Location", "LSOA code", "LSOA name", "Crime type",
                           "Last outcome category", "Context"
                    FROM range({per_file}) g(n) JOIN numbered t ON t.i = ({offset} + g.n) % {size}
                ) TO '{path}' (HEADER, DELIMITER ',')"""
            )
            written += per_file
    return written


def child(db: Path, archive: Path) -> None:
    from safertogether.ingest import find_police_uk_files, import_police_uk
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(db, memory_limit="3GB")
    files = find_police_uk_files([archive])
    started = time.perf_counter()
    report = import_police_uk(warehouse, files)
    seconds = time.perf_counter() - started
    stored = warehouse.scalar("SELECT count(*) FROM street_crimes")
    warehouse.close()
    print(json.dumps({"files": len(files), "rows_read": report.totals()["rows_read"], "rows_stored": stored,
                      "seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


def bare_child(db: Path, archive: Path) -> None:
    files = sorted(str(p) for p in archive.rglob("*.csv"))
    print(json.dumps(bare_load(files, str(db), memory_limit="3GB")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--keep", type=Path, help="keep the generated archive and warehouse here")
    args = parse_or_run_child(parser, child, bare_child)
    if args is None:
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="safer-national-"))
    try:
        archive, db = work / "archive", work / "national.duckdb"
        started = time.perf_counter()
        rows = generate(archive, args.data, args.rows)
        generated = time.perf_counter() - started
        size_gb = sum(p.stat().st_size for p in archive.rglob("*.csv")) / 1e9
        build_reference_warehouse(db, args.data)
        result = run_child([__file__, "--child", str(db), str(archive)])
        bare = run_child([__file__, "--bare-child", str(work / "bare.duckdb"), str(archive)])
        print(f"archive               {result['files']} files, {rows:,} rows, {size_gb:.1f} GB "
              f"(generated in {generated:.0f} s)")
        print(f"rows stored           {result['rows_stored']:,} of {result['rows_read']:,} read")
        print(f"import wall           {result['seconds']:.0f} s")
        print(f"import rows/s         {result['rows_read'] / result['seconds']:,.0f}")
        print(f"import peak RSS       {result['peak_rss_mb']:,.0f} MB   (goal: under 4,096 MB)")
        print(f"bare DuckDB load      {bare['seconds']:.0f} s into a file ({bare['rows']:,} rows, "
              f"peak RSS {bare['peak_rss_mb']:,.0f} MB)")
        print(f"import / bare load    {result['seconds'] / bare['seconds']:.2f}x")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
