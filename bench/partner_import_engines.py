"""The partner extract of bench/partner_import.py imported into each engine: a DuckDB file and PostgreSQL.

PostgreSQL is a throwaway cluster on a loopback port (tests/postgres_server.py; Debian's package, `make
postgres`), fsync off as in the tests. The anchor, measured in the same run, is the bare DuckDB read of the
same file into a DuckDB file. Each import runs in a process of its own, engines interleaved.

    .venv/bin/python bench/partner_import_engines.py [--rows 200000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _common import bare_load, peak_rss_mb, run_child  # noqa: E402
from partner_import import generate  # noqa: E402


def child(location: str, mapping: str) -> None:
    from safertogether.ingest import import_partner
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(location)
    started = time.perf_counter()
    report = import_partner(warehouse, [Path(mapping)])
    warehouse.close()
    print(json.dumps({**report.totals(), "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--bare-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    if args.bare_child:
        return print(json.dumps(bare_load([args.bare_child[1]], args.bare_child[0])))
    from postgres_server import binaries, running_server

    bin_dir = binaries()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed: `make postgres` (Debian's package)")
    work = Path(tempfile.mkdtemp(prefix="safer-engines-"))
    try:
        extract = generate(work, args.rows)
        mapping = str(work / "people.yaml")
        results: dict[str, list[dict]] = {"duckdb": [], "postgresql": [], "bare": []}
        with running_server(bin_dir) as server:
            for n in range(args.repeat):
                results["duckdb"].append(run_child([__file__, "--child", str(work / f"import-{n}.duckdb"), mapping]))
                url = server.create_database(f"bench_{n}")
                results["postgresql"].append(run_child([__file__, "--child", url, mapping]))
                results["bare"].append(run_child([__file__, "--bare-child", str(work / f"bare-{n}.duckdb"),
                                                  str(extract)]))
        bare = min(results["bare"], key=lambda r: r["seconds"])
        print(f"extract               {args.rows:,} rows through a mapping file")
        print(f"bare DuckDB read_csv  {bare['seconds']:.2f} s into a file (the anchor, best of {args.repeat})")
        for engine in ("duckdb", "postgresql"):
            best = min(results[engine], key=lambda r: r["seconds"])
            print(f"{engine:<11} import   {best['seconds']:.2f} s (all: "
                  + ", ".join(f"{r['seconds']:.2f}" for r in results[engine])
                  + f"), {best['rows_read'] / best['seconds']:,.0f} rows/s, {best['seconds'] / bare['seconds']:.1f}x"
                  f" the bare read, peak RSS {best['peak_rss_mb']:,.0f} MB, stored {best['rows_stored']:,},"
                  f" quarantined {best['rows_quarantined']:,}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
