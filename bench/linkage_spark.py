"""The person model on Spark (local mode) beside the same model on DuckDB, run in the same go on FEBRL3 and FEBRL4.

Each (data set, engine) runs in a child process, so its wall time and memory are its own. Memory is the peak of
the child and its descendants together (Spark's JVM is a child of Python), sampled every 0.2 s. The Spark time
includes starting the session (15-45 s on 2 shared cores), reported apart as ``session_s``. DuckDB is the anchor:
same records, model, training plan and fixed threshold (match weight 0). Usage:
``python bench/linkage_spark.py [--json] [--datasets febrl3 febrl4]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_child  # noqa: E402

ENGINES = ("duckdb", "spark")


class PeakMemory:
    """The largest resident memory of this process plus its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self.process, self.interval, self.peak, self._stop = psutil.Process(), interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for process in (self.process, *self.process.children(recursive=True)):
                with contextlib.suppress(psutil.Error):  # a process that ended between listing and reading
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def child(dataset: str, engine: str) -> dict[str, Any]:
    from safertogether.link.benchmark import measure_run
    from safertogether.link.model import link_records
    from safertogether.link.records import load_febrl

    memory = PeakMemory()
    started = time.perf_counter()
    session_s = 0.0
    if engine == "spark":
        from safertogether.link.spark import spark_session

        spark_session()
        session_s = time.perf_counter() - started
    run = link_records(load_febrl(dataset), engine=engine)
    report = measure_run(run, started=started).as_json()
    return {"dataset": dataset, "engine": engine, **{k: report[k] for k in (
                "precision", "recall", "f1", "blocking_recall", "blocked_pairs", "clusters")},
            "seconds": round(time.perf_counter() - started, 1), "session_s": round(session_s, 1),
            "peak_rss_mb": round(memory.stop_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--datasets", nargs="+", default=["febrl3", "febrl4"], choices=["febrl3", "febrl4"])
    parser.add_argument("--child", nargs=2, metavar=("DATASET", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    results = [run_child([__file__, "--child", dataset, engine]) for dataset in args.datasets for engine in ENGINES]
    if args.json:
        print(json.dumps({"results": results}, indent=2))
        return
    row = "{:8} {:7} {:>9} {:>7} {:>7} {:>10} {:>9} {:>8} {:>9} {:>8}"
    print(row.format("data set", "engine", "precision", "recall", "F1", "cluster F1", "pairs", "seconds", "session s",
                     "peak MB"))
    for r in results:
        clusters = f"{r['clusters']['f1']:.4f}" if r.get("clusters") else "-"
        print(row.format(r["dataset"], r["engine"], f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}",
                         clusters, r["blocked_pairs"], r["seconds"], r["session_s"] or "-", r["peak_rss_mb"]))
    print("Threshold: match weight 0, fixed in advance. DuckDB is the anchor (same model, plan and records). "
          "Peak MB: the process and its descendants (Spark's JVM).")


if __name__ == "__main__":
    main()
