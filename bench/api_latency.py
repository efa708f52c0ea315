"""Latency of the API under 50 concurrent clients on loopback, with the Leicestershire data.

Starts `safer serve` in its own process and drives it with aiohttp (cheap per request, so the
client does not starve the server of the 2 cores). Prints p50/p95/p99 and throughput per endpoint,
with the CPU seconds the client and the server used. Goal: p95 under 100 ms.

    .venv/bin/python bench/api_latency.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_leicestershire_warehouse, free_port, start_server  # noqa: E402

CENTRAL_LEICESTER = (52.6344, -1.1319)


async def drive(urls: list[str], clients: int, requests: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(urls[i % len(urls)])

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while not queue.empty():
            url = queue.get_nowait()
            started = time.perf_counter()
            async with session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return latencies, failures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(name: str, urls: list[str], server: psutil.Process, clients: int, requests: int) -> None:
    server_cpu = sum(server.cpu_times()[:2])
    client_cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    latencies, failures = asyncio.run(drive(urls, clients, requests))
    wall = time.perf_counter() - started
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    used_client = (client_after.ru_utime - client_cpu.ru_utime) + (client_after.ru_stime - client_cpu.ru_stime)
    used_server = sum(server.cpu_times()[:2]) - server_cpu
    ms = [x * 1000 for x in latencies]
    print(f"{name:<46} n={len(ms):>5} fail={failures:<3} p50={percentile(ms, 50):6.1f} ms  "
          f"p95={percentile(ms, 95):6.1f} ms  p99={percentile(ms, 99):6.1f} ms  {len(ms) / wall:6.0f} req/s  "
          f"cpu client {used_client:4.1f} s / server {used_server:4.1f} s in {wall:4.1f} s")


WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("p50=%.1f ms  p95=%.1f ms  p99=%.1f ms  %d requests, %d errors\\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
"""


def measure_with_wrk(name: str, url: str, clients: int, seconds: int, server: psutil.Process) -> None:
    """The same URL from wrk, a C load generator that leaves the cores to the server."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    server_cpu = sum(server.cpu_times()[:2])
    done = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "-s", script.name,
                           "-H", "Accept-Encoding: gzip", url], capture_output=True, text=True, check=True)
    used_server = sum(server.cpu_times()[:2]) - server_cpu
    rate = next((line.split()[1] for line in done.stdout.splitlines() if line.startswith("Requests/sec")), "?")
    print(f"{name:<46} wrk {done.stdout.strip().splitlines()[-1]}  {rate} req/s  server cpu {used_server:4.1f} s")
    Path(script.name).unlink()


def leicestershire_lsoas(db: Path) -> list[str]:
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(db, read_only=True)
    codes = [r["lsoa_code"] for r in warehouse.query(
        "SELECT lsoa_code FROM lsoa_lookup WHERE force_id = 'leicestershire' ORDER BY 1")]
    warehouse.close()
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--db", type=Path, help="an existing warehouse with Leicestershire loaded")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warm-wait", type=float, default=30.0, help="seconds to let start-up warming finish")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        if not args.db:
            build_leicestershire_warehouse(db, args.data)
        lsoas = leicestershire_lsoas(db)
        random.Random(1).shuffle(lsoas)
        port = free_port()
        process = start_server(db, port, args.workers)
        server = psutil.Process(process.pid)
        # `safer serve` computes the default view of every area in the background (~20 ms each).
        time.sleep(args.warm_wait)
        base = f"http://127.0.0.1:{port}"
        lat, lng = CENTRAL_LEICESTER
        try:
            print(f"{args.clients} concurrent clients, {args.workers} server worker(s), {psutil.cpu_count()} cores")
            custom = "from=2021-01&to=2021-12"
            cases = [
                ("summary, each LSOA once, custom period (cold)",
                 [f"{base}/api/areas/{c}/summary?{custom}" for c in lsoas], len(lsoas)),
                ("summary, same LSOAs again (cached)",
                 [f"{base}/api/areas/{c}/summary?{custom}" for c in lsoas], args.requests),
                ("summary, default period (warmed at start)",
                 [f"{base}/api/areas/{c}/summary" for c in lsoas], args.requests),
                ("map GeoJSON (force, 12 months)", [f"{base}/api/map/leicestershire.geojson"], args.requests),
                ("police.uk crimes-street 1 mile", [
                    f"{base}/police-uk/api/crimes-street/all-crime?lat={lat}&lng={lng}"], args.requests),
            ]
            for name, urls, count in cases:
                measure(name, urls, server, args.clients, count)
            if shutil.which("wrk"):
                for name, urls, _count in cases[3:]:
                    measure_with_wrk(name, urls[0], args.clients, 10, server)
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
