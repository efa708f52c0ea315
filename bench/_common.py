"""Helpers shared by the benchmark scripts: building a warehouse, starting a server, measuring."""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process so far (user + sys, all threads): beside wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_child(args: list[str]) -> dict[str, object]:
    """Run ``python args...`` and parse the JSON it prints last (so its peak memory is its own)."""
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_or_run_child(
    parser: argparse.ArgumentParser, child: Callable[[Path, Path], None], bare_child: Callable[[Path, Path], None]
) -> argparse.Namespace | None:
    """The script's arguments; or, when it was started as one of its own child processes (``--child`` for
    the import, ``--bare-child`` for the bare DuckDB load, each with two paths), run that and return None."""
    parser.add_argument("--child", nargs=2, metavar=("DB", "SOURCE"), help=argparse.SUPPRESS)
    parser.add_argument("--bare-child", nargs=2, metavar=("DB", "SOURCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.bare_child:
        (child if args.child else bare_child)(*map(Path, args.child or args.bare_child))
        return None
    return args


def bare_load(files: list[str], target: str, memory_limit: str | None = None) -> dict[str, float]:
    """The machine's limit for an import: DuckDB's own ``read_csv`` of the files into a table, checkpointed.

    No validation, provenance or area placement; ``target`` is ``":memory:"`` or a file (then the rows
    are compressed into storage, as an import's must be).
    """
    import duckdb

    Path(target).unlink(missing_ok=True)
    connection = duckdb.connect(target)
    connection.execute("SET preserve_insertion_order = false").fetchall()
    if memory_limit:
        connection.execute("SET memory_limit = ?", [memory_limit]).fetchall()
    started, cpu = time.perf_counter(), cpu_seconds()
    connection.execute(f"CREATE TABLE t AS SELECT * FROM read_csv({files!r})").fetchall()
    connection.execute("CHECKPOINT").fetchall()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    rows = connection.execute("SELECT count(*) FROM t").fetchall()[0][0]
    connection.close()
    return {"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_rss_mb(),
            "load_average": os.getloadavg()[0]}


def build_reference_warehouse(db: Path, data: Path) -> None:
    """Boundaries, lookup and population: the set-up every import benchmark starts from (not timed)."""
    from safertogether.areas.load import import_area_lookup, import_boundaries, import_population
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(db)
    import_boundaries(warehouse, data / "boundaries" / "lsoa-2011-ew.geojson")
    import_area_lookup(warehouse, data / "boundaries" / "lsoa-2011-police-force-lookup.csv")
    import_population(warehouse, data / "boundaries" / "lsoa-2011-census-population.csv")
    warehouse.close()


def build_leicestershire_warehouse(db: Path, data: Path) -> None:
    """The reference tables plus the Leicestershire police.uk files: what serving benchmarks serve."""
    from safertogether.ingest import find_police_uk_files, import_police_uk
    from safertogether.store.warehouse import open_warehouse

    build_reference_warehouse(db, data)
    warehouse = open_warehouse(db)
    import_police_uk(warehouse, find_police_uk_files([data / "police-uk" / "leicestershire"]))
    warehouse.close()


def start_server(db: Path, port: int, workers: int = 1, *options: str) -> subprocess.Popen[bytes]:
    """``safer serve`` in a process of its own, once it accepts connections (``options`` are added)."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("safer")), "serve", "--db", str(db), "--port", str(port),
         "--workers", str(workers), *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start within 60 s")


class PhaseClock:
    """Wall and CPU seconds (user + sys, every thread of this process) of each named phase, with the load
    average (1 min) as it started: on a shared machine the CPU column is the comparable one.

    ``clock.start("blocking")`` ends the phase before it; :meth:`stop` ends the last. Usable as a
    ``progress`` callback of the library (called with each step's name as it starts).
    """

    def __init__(self) -> None:
        self.phases: list[dict[str, float | str]] = []
        self._open: tuple[str, float, float, float] | None = None

    def start(self, name: str) -> None:
        self.stop()
        self._open = (name, time.perf_counter(), cpu_seconds(), os.getloadavg()[0])

    __call__ = start

    def stop(self) -> None:
        if self._open is not None:
            name, wall, cpu, load = self._open
            self.phases.append({"phase": name, "wall_seconds": round(time.perf_counter() - wall, 2),
                                "cpu_seconds": round(cpu_seconds() - cpu, 2), "load_average": round(load, 1)})
            self._open = None
