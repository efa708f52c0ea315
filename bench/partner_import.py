"""A partner's 1-million-row extract through a mapping file, against a bare DuckDB read of the same file.

The extract is a person-records CSV in a partner's own layout (its own column names, dd/mm/yyyy dates,
a code list for sex and role), generated here with DuckDB from random values; 0.1% of its rows carry
an unreadable date, to be quarantined. The import (checks, code lists, provenance, quarantine, the
commit) runs in a process of its own, as does the bare read into a DuckDB file (no checks at all).
Goal, as for police.uk: the import within 2x of the bare read.

    .venv/bin/python bench/partner_import.py [--rows 1000000]
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

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bare_load, cpu_seconds, parse_or_run_child, peak_rss_mb, run_child  # noqa: E402

MAPPING = {
    "name": "council-people", "file": "people.csv", "agency": "county-council", "agency_kind": "council",
    "target": "person_records",
    "fields": [
        {"name": "record_id", "header": ["Client No"], "required": True},
        {"name": "forename", "header": ["Forename"]},
        {"name": "surname", "header": ["Family Name"], "required": True},
        {"name": "date_of_birth", "header": ["D.O.B."], "type": "date", "formats": ["%d/%m/%Y"]},
        {"name": "sex", "header": ["Gender"], "codes": {"1": "male", "2": "female", "9": "unknown"}},
        {"name": "address", "header": ["Address Line"]},
        {"name": "postcode", "header": ["Post Code"]},
        {"name": "role", "header": ["Client Type"], "codes": {"T": "tenant", "C": "complainant", "R": "referral"}},
        {"name": "recorded_on", "header": ["Opened"], "type": "date", "formats": ["%d/%m/%Y"]},
    ],
}


def generate(folder: Path, rows: int) -> Path:
    import duckdb

    path = folder / "people.csv"
    duckdb.connect().execute(f"""COPY (
        SELECT 'C' || lpad(i::VARCHAR, 8, '0') AS "Client No",
               ['Oliver','Amelia','Mohammed','Olivia','George','Isla','Harry','Ava'][1 + i % 8] AS "Forename",
               ['Smith','Jones','Patel','Taylor','Brown','Williams','Khan','Davies'][1 + (i // 8) % 8] AS "Family Name",
               CASE WHEN i % 1000 = 7 THEN '31/02/1980'
                    ELSE strftime(DATE '1930-01-01' + (i * 7919 % 30000)::INT, '%d/%m/%Y') END AS "D.O.B.",
               ['1','2','9'][1 + i % 3] AS "Gender",
               (1 + i % 200)::VARCHAR || ' ' || ['High Street','Station Road','Church Lane','Mill Road'][1 + i % 4]
                   AS "Address Line",
               'LE' || (1 + i % 19)::VARCHAR || ' ' || (i % 10)::VARCHAR || 'AB' AS "Post Code",
               ['T','C','R'][1 + i % 3] AS "Client Type",
               strftime(DATE '2020-01-01' + (i % 1500)::INT, '%d/%m/%Y') AS "Opened"
        FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')""")
    (folder / "people.yaml").write_text(yaml.safe_dump(MAPPING), encoding="utf-8")
    return path


def child(db: Path, mapping: Path) -> None:
    from safertogether.ingest import import_partner
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(db)
    started, cpu = time.perf_counter(), cpu_seconds()
    report = import_partner(warehouse, [mapping])
    warehouse.close()
    print(json.dumps({**report.totals(), "seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu,
                      "peak_rss_mb": peak_rss_mb(), "load_average": os.getloadavg()[0]}))


def bare_child(db: Path, extract: Path) -> None:
    print(json.dumps(bare_load([str(extract)], str(db))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parse_or_run_child(parser, child, bare_child)
    if args is None:
        return
    work = Path(tempfile.mkdtemp(prefix="safer-partner-"))
    try:
        extract = generate(work, args.rows)
        runs, bares = [], []
        for n in range(args.repeat):  # interleaved, so both see the machine in the same state
            runs.append(run_child([__file__, "--child", str(work / f"import-{n}.duckdb"), str(work / "people.yaml")]))
            bares.append(run_child([__file__, "--bare-child", str(work / f"bare-{n}.duckdb"), str(extract)]))
        best, bare = min(runs, key=lambda r: r["seconds"]), min(bares, key=lambda r: r["seconds"])
        size_mb = extract.stat().st_size / 1e6
        print(f"extract               {args.rows:,} rows, {size_mb:.0f} MB CSV, through a mapping file")
        print(f"import wall (best/{args.repeat})  {best['seconds']:.2f} s   (all: "
              + ", ".join(f"{r['seconds']:.2f}" for r in runs) + "; CPU "
              + ", ".join(f"{r['cpu_seconds']:.2f}" for r in runs) + " s)")
        print(f"rows stored           {best['rows_stored']:,}, quarantined {best['rows_quarantined']:,}")
        print(f"import rows/s         {best['rows_read'] / best['seconds']:,.0f}")
        print(f"import peak RSS       {best['peak_rss_mb']:,.0f} MB")
        print(f"bare DuckDB read_csv  {bare['seconds']:.2f} s into a file (best of {args.repeat}; all: "
              + ", ".join(f"{r['seconds']:.2f}" for r in bares) + "; CPU "
              + ", ".join(f"{r['cpu_seconds']:.2f}" for r in bares) + " s)")
        print("load average          " + ", ".join(f"{r['load_average']:.1f}" for r in [*runs, *bares])
              + f" after each run ({os.cpu_count()} cores)")
        print(f"import / bare read    {best['seconds'] / bare['seconds']:.1f}x (goal: within 2x)")
        median_cpu = sorted(r["cpu_seconds"] for r in runs)[len(runs) // 2]
        bare_cpu = sorted(r["cpu_seconds"] for r in bares)[len(bares) // 2]
        print(f"CPU, median of each   {median_cpu:.2f} s against {bare_cpu:.2f} s: {median_cpu / bare_cpu:.1f}x "
              "(what a loaded machine cannot blur)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
