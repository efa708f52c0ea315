"""Import of the Leicestershire police.uk files, with area assignment, against a bare DuckDB read_csv.

Prints wall time, rows/s and peak memory of the import (in a process of its own), and the time
DuckDB alone takes to read the same files into a table: in memory (the goal: the import within 2x
of it), and into a DuckDB file, which also pays for compressing the rows into storage as the
import must.

    .venv/bin/python bench/import_speed.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bare_load, build_reference_warehouse, cpu_seconds, peak_rss_mb, run_child  # noqa: E402


def child(db: Path, folder: Path) -> None:
    from safertogether.ingest import find_police_uk_files, import_police_uk
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(db)
    files = find_police_uk_files([folder])
    started, cpu = time.perf_counter(), cpu_seconds()
    report = import_police_uk(warehouse, files)
    warehouse.close()  # any checkpoint still owed is part of the import's cost
    seconds = time.perf_counter() - started
    print(json.dumps({"files": len(files), "rows": report.totals()["rows_read"], "seconds": seconds,
                      "cpu_seconds": cpu_seconds() - cpu, "peak_rss_mb": peak_rss_mb(),
                      "load_average": os.getloadavg()[0]}))


def bare_read(folder: Path, target: str) -> dict[str, float]:
    return bare_load(sorted(str(p) for p in folder.glob("*.csv")), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--child", nargs=2, metavar=("DB", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    folder = args.data / "police-uk" / "leicestershire"
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "reference.duckdb"
        build_reference_warehouse(reference, args.data)
        runs = []
        for i in range(args.repeat):
            db = Path(tmp) / f"run{i}.duckdb"
            shutil.copy(reference, db)
            runs.append(run_child([__file__, "--child", str(db), str(folder)]))
        bare = min((bare_read(folder, ":memory:") for _ in range(args.repeat)), key=lambda r: r["seconds"])
        stored = min((bare_read(folder, f"{tmp}/bare.duckdb") for _ in range(args.repeat)),
                     key=lambda r: r["seconds"])
    best = min(runs, key=lambda r: r["seconds"])
    print(f"files                 {best['files']}")
    print(f"rows                  {best['rows']:,}")
    every = ", ".join(f"{r['seconds']:.2f}" for r in runs) + "; CPU " + ", ".join(
        f"{r['cpu_seconds']:.2f}" for r in runs) + " s"
    print(f"import wall (best/{args.repeat})   {best['seconds']:.2f} s   (all: {every})")
    print(f"import rows/s         {best['rows'] / best['seconds']:,.0f}")
    print(f"import peak RSS       {max(r['peak_rss_mb'] for r in runs):,.0f} MB")
    print(f"bare DuckDB read_csv  {bare['seconds']:.2f} s in memory, {stored['seconds']:.2f} s into a file "
          f"({bare['rows']:,} rows)")
    loads = ", ".join(f"{r['load_average']:.1f}" for r in runs)
    print(f"bare read CPU         {bare['cpu_seconds']:.2f} s in memory, {stored['cpu_seconds']:.2f} s into a file; "
          f"load average {loads} after the imports "
          f"({os.cpu_count()} cores)")
    print(f"import / bare read    {best['seconds'] / bare['seconds']:.1f}x in memory (goal: within 2x), "
          f"{best['seconds'] / stored['seconds']:.1f}x into a file")


if __name__ == "__main__":
    main()
