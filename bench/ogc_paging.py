"""Paging a force-year of crimes through OGC API - Features, against reading the same rows into GeoJSON.

Serves the Leicestershire warehouse with `safer serve` (its own process), then follows the `next`
links of `/ogc/collections/crimes/items` for the force's latest 12 months at the maximum page size,
checking every feature arrives exactly once. The anchor, measured in the same run, is the floor any
server pays: the same rows read straight from DuckDB and serialised as one GeoJSON document, with no
HTTP and no paging. GDAL's OAPIF driver (what QGIS uses) reading the same force-year is timed too.

    .venv/bin/python bench/ogc_paging.py --data ../shared/data [--db EXISTING.duckdb]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_leicestershire_warehouse, free_port, start_server  # noqa: E402

FORCE = "leicestershire"


def force_year(db: Path) -> tuple[str, str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as connection:
        last = connection.sql("SELECT max(month) FROM force_months WHERE force_id = $f",
                              params={"f": FORCE}).fetchall()[0][0]
    first = last.replace(year=last.year - 1, month=last.month % 12 + 1) if last.month < 12 else last.replace(month=1)
    return f"{first:%Y-%m}", f"{last:%Y-%m}"


def page_through(base: str, period: tuple[str, str], limit: int, gzip: bool) -> dict[str, Any]:
    """Follow the next links to the end; the ids must be unique and as many as numberMatched."""
    headers = {} if gzip else {"Accept-Encoding": "identity"}
    url: str | None = f"{base}/ogc/collections/crimes/items"
    params: dict[str, Any] | None = {"force": FORCE, "datetime": f"{period[0]}/{period[1]}", "limit": limit}
    ids: set[int] = set()
    pages = received = 0
    started, cpu = time.perf_counter(), time.process_time()
    with httpx.Client(timeout=120, headers=headers) as client:
        while url:
            answer = client.get(url, params=params)
            answer.raise_for_status()
            received += answer.num_bytes_downloaded
            page = orjson.loads(answer.content)
            ids.update(f["id"] for f in page["features"])
            pages, params = pages + 1, None
            url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert len(ids) == page["numberMatched"], (len(ids), page["numberMatched"])
    return {"features": len(ids), "pages": pages, "seconds": seconds, "mb": received / 1e6, "client_cpu": cpu}


def anchor(db: Path, period: tuple[str, str]) -> dict[str, Any]:
    """The same rows from DuckDB straight into one GeoJSON FeatureCollection: one query, no HTTP, no paging.

    DuckDB writes each feature's JSON itself (the fastest way to GeoJSON we found); Python joins them.
    """
    import duckdb

    started, cpu = time.perf_counter(), time.process_time()
    with duckdb.connect(str(db), read_only=True) as connection:
        features = connection.sql(
            """SELECT to_json({'type': 'Feature', 'id': file_id * 4294967296 + row_number,
                               'geometry': CASE WHEN latitude IS NOT NULL
                                           THEN {'type': 'Point', 'coordinates': [longitude, latitude]} END,
                               'properties': {'crime_id': nullif(crime_id, ''), 'month': strftime(month, '%Y-%m'),
                                              'category': crime_type, 'location': location, 'lsoa': lsoa,
                                              'lsoa_name': lsoa_name, 'outcome': last_outcome_category,
                                              'force': force_id, 'context': nullif(context, '')}}) AS feature
               FROM street_crimes WHERE force_id = $f AND month BETWEEN $a::DATE AND $b::DATE
               ORDER BY file_id, row_number""",
            params={"f": FORCE, "a": f"{period[0]}-01", "b": f"{period[1]}-01"}).to_arrow_table()
    texts = features.column("feature").to_pylist()
    body = f'{{"type":"FeatureCollection","features":[{",".join(texts)}]}}'.encode()
    return {"features": len(texts), "seconds": time.perf_counter() - started, "mb": len(body) / 1e6,
            "cpu": time.process_time() - cpu}


def gdal_read(base: str) -> dict[str, Any]:
    """GDAL's OAPIF driver reading the force's crimes, every month (GDAL sends no datetime of its own)."""
    import pyogrio

    started = time.perf_counter()
    frame = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer="crimes", where=f"force = '{FORCE}'")
    return {"features": len(frame), "seconds": time.perf_counter() - started}


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--db", type=Path, help="an existing warehouse with Leicestershire loaded")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=10_000, help="features per page")
    parser.add_argument("--no-gdal", action="store_true", help="skip the GDAL OAPIF read")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "leicestershire.duckdb"
            build_leicestershire_warehouse(db, args.data)
        period = force_year(db)
        port = free_port()
        process = start_server(db, port, 1, "--warm", "0")
        server = psutil.Process(process.pid)
        base = f"http://127.0.0.1:{port}"
        try:
            page_through(base, period, args.limit, gzip=False)  # first use: extents, imports, caches
            report(base, db, period, args, server)
        finally:
            process.terminate()
            process.wait(timeout=30)


def report(base: str, db: Path, period: tuple[str, str], args: argparse.Namespace, server: psutil.Process) -> None:
    print(f"force-year            {FORCE} {period[0]} to {period[1]}, pages of {args.limit:,}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    floor = best([anchor(db, period) for _ in range(args.repeat)])
    print(f"{'anchor: DuckDB -> one GeoJSON document':<41}{floor['features']:,} features in {floor['seconds']:.2f} s "
          f"= {floor['features'] / floor['seconds']:,.0f} features/s ({floor['mb']:.1f} MB); CPU {floor['cpu']:.2f} s "
          f"= {floor['features'] / floor['cpu']:,.0f} features per CPU second")
    for gzip in (False, True):
        cpu = sum(server.cpu_times()[:2])
        runs = [page_through(base, period, args.limit, gzip) for _ in range(args.repeat)]
        used = (sum(server.cpu_times()[:2]) - cpu) / args.repeat
        run = best(runs)
        rate, floor_rate = run["features"] / run["seconds"], floor["features"] / floor["seconds"]
        label = f"HTTP paging ({'gzip' if gzip else 'identity'})"
        print(f"{label:<41}{run['features']:,} features, {run['pages']} pages in {run['seconds']:.2f} s = "
              f"{rate:,.0f} features/s ({run['mb']:.1f} MB sent); {rate / floor_rate:.2f}x the anchor's rate; "
              f"server CPU {used:.2f} s/run = {run['features'] / used:,.0f} features per CPU second; "
              f"client CPU {run['client_cpu']:.2f} s")
    if not args.no_gdal:
        cpu = sum(server.cpu_times()[:2])
        read = gdal_read(base)
        used = sum(server.cpu_times()[:2]) - cpu
        print(f"{'GDAL OAPIF (all months)':<41}{read['features']:,} features in {read['seconds']:.2f} s "
              f"= {read['features'] / read['seconds']:,.0f} features/s; server CPU {used:.2f} s")


if __name__ == "__main__":
    main()
