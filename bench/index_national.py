"""The Community Safety Index for every LSOA of England and Wales, on a synthetic year of national crime.

A year of ~6 million crimes is drawn into ``street_crimes`` of a warehouse holding the real boundaries,
lookup and Census population (all 34,753 LSOAs): each crime's LSOA with probability proportional to its
residents times a log-normal area effect (so some areas have many times the crime their residents
predict, as city centres do), its category from a national mix, its month uniform over 2023. The monthly
counts and areas are then derived as an import derives them (not timed). Measured, in a process of its
own: ``build_index`` at LSOA level (panel, rates, smoothing, funnel limits, harm, 96 sensitivity
scenarios, storing the edition): wall time, CPU time (user+sys) and peak memory. The anchor, in the same
run: a bare DuckDB aggregation of the same crimes to LSOA x category, the least any index must do.

    .venv/bin/python bench/index_national.py --data ../shared/data [--crimes 6000000] [--keep DIR]
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
from _common import build_reference_warehouse, run_child  # noqa: E402

#: Approximate national shares of police.uk categories (England and Wales, a recent year).
MIX = {"Violence and sexual offences": 0.30, "Anti-social behaviour": 0.18, "Criminal damage and arson": 0.08,
       "Public order": 0.07, "Other theft": 0.07, "Shoplifting": 0.06, "Vehicle crime": 0.06, "Burglary": 0.04,
       "Drugs": 0.03, "Other crime": 0.02, "Theft from the person": 0.02, "Bicycle theft": 0.01,
       "Robbery": 0.01, "Possession of weapons": 0.01}


def generate(db: Path, crimes: int) -> None:
    """Draw ``crimes`` crimes into the warehouse and derive its tables (see the module docstring)."""
    from safertogether.derived import refresh_derived_tables
    from safertogether.store.warehouse import open_warehouse

    total = sum(MIX.values())
    bounds, low = [], 0.0
    for category, share in MIX.items():
        bounds.append(f"SELECT {low / total} AS lo, '{category}' AS category")
        low += share
    warehouse = open_warehouse(db, memory_limit="2GB")
    with warehouse.transaction():
        warehouse.execute("SELECT setseed(0.16)")
        warehouse.execute("""
            CREATE TEMP TABLE lsoa_weights AS
            WITH w AS (SELECT a.code, coalesce(a.force_id, l.force_id, 'wales') AS force_id,
                              greatest(coalesce(a.population, 1500), 1) * exp(0.7 * sqrt(-2 * ln(random()))
                                  * cos(2 * pi() * random())) AS weight
                       FROM areas a LEFT JOIN lsoa_lookup l ON l.lsoa_code = a.code WHERE a.level = 'lsoa')
            SELECT code, force_id, (sum(weight) OVER (ORDER BY code) - weight) / sum(weight) OVER () AS lo FROM w""")
        warehouse.execute(f"CREATE TEMP TABLE mix AS {' UNION ALL '.join(bounds)}")
        warehouse.execute(f"""
            INSERT INTO street_crimes (crime_id, month, force_id, crime_type, lsoa_code, lsoa, file_id, row_number,
                                       import_id)
            WITH draws AS (SELECT n, random() AS u, random() AS v, CAST(floor(random() * 12) AS INTEGER) AS m
                           FROM range({crimes}) g(n))
            SELECT CAST(n AS VARCHAR), make_date(2023, m + 1, 1), w.force_id, c.category, w.code, w.code, 0, n, 0
            FROM draws d ASOF JOIN lsoa_weights w ON d.u >= w.lo ASOF JOIN mix c ON d.v >= c.lo""")
        refresh_derived_tables(warehouse, all_areas=True)
    warehouse.close()


def peak_mb() -> float:
    """This process's own peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that across ``execve``,
    so a child started after the parent generated the data would report the parent's peak as its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(db: Path) -> None:
    from safertogether.index.build import build_index
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(db)
    cpu, wall = os.times(), time.perf_counter()
    edition = build_index(warehouse, "lsoa")
    seconds, after = time.perf_counter() - wall, os.times()
    warehouse.close()
    print(json.dumps({"areas": len({r["area"] for r in edition.records}), "records": len(edition.records),
                      "scenarios": edition.scenarios, "seconds": seconds,
                      "cpu_seconds": (after.user - cpu.user) + (after.system - cpu.system),
                      "flagged": sum(r["poor_denominator"] for r in edition.records), "peak_rss_mb": peak_mb()}))


def anchor(db: Path) -> None:
    import duckdb

    connection = duckdb.connect(str(db), read_only=True)
    cpu, wall = os.times(), time.perf_counter()
    rows = connection.execute("""SELECT lsoa, crime_type, count(*) FROM street_crimes GROUP BY ALL""").fetchall()
    seconds, after = time.perf_counter() - wall, os.times()
    connection.close()
    print(json.dumps({"cells": len(rows), "seconds": seconds,
                      "cpu_seconds": (after.user - cpu.user) + (after.system - cpu.system),
                      "peak_rss_mb": peak_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--crimes", type=int, default=6_000_000)
    parser.add_argument("--keep", type=Path, help="Keep (and reuse) the warehouses in this folder")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--anchor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.anchor:
        (child if args.child else anchor)(args.child or args.anchor)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="safer-index-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    reference, db = work / "reference.duckdb", work / f"national-{args.crimes}.duckdb"
    try:
        if not reference.exists():
            build_reference_warehouse(reference, args.data)
        if not db.exists():
            shutil.copy(reference, db)
            started = time.perf_counter()
            generate(db, args.crimes)
            print(f"generated {args.crimes:,} crimes in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        load = os.getloadavg()
        bare = run_child([__file__, "--anchor", str(db)])
        built = run_child([__file__, "--child", str(db)])
        print(json.dumps({"crimes": args.crimes, "index": built, "anchor_bare_aggregation": bare,
                          "load_average_before": load, "load_average_after": os.getloadavg()}, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
