"""The audit log's speed: appends per second (one thread, several), and verifying a million entries.

Each figure is printed beside an anchor measured in the same run on the same warehouse file:

* appends: ``append()`` (hash, chain, group commit by the writer thread) against plain single-row
  INSERTs of the same rows, already hashed, one commit each, from the same number of threads;
* chaining: building entries (canonical JSON + SHA-256) in memory, no storage (FIELD-NOTES measured a
  SHA-256 chain over canonical JSON at 200k entries in 2.2 s);
* verify: ``verify()`` over N entries against streaming the same rows out of the warehouse unhashed,
  and ``verify_file()`` over their export against reading the file's lines.

    .venv/bin/python bench/audit_log.py [--entries 1000000] [--appends 2000] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb  # noqa: E402

from safertogether.access.audit import (  # noqa: E402
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    append,
    chain_entry,
    entries_table,
    export,
    verify,
    verify_file,
)
from safertogether.store.warehouse import Warehouse, open_warehouse  # noqa: E402

COLUMNS = ("seq, logged_at, actor_user, actor_agency, action, purpose, agreement_id, subjects, redacted, "
           "outcome, reason, prev_hash, hash")


def event(n: int) -> AuditEvent:
    return AuditEvent(actor_user=f"user{n % 50:03d}", actor_agency=("police", "ambulance", "council", "fire")[n % 4],
                      action=("read-person", "lookup", "read-place")[n % 3], purpose="safeguarding",
                      outcome="allowed" if n % 20 else "denied", reason=None if n % 20 else "no agreement",
                      subjects=[f"P{n % 100_000:07d}", f"police:R{n}"], redacted=["health"] if n % 2 else [],
                      agreement_id="ISA-2026-01")


def row(entry: AuditEntry) -> list[object]:
    return [entry.seq, entry.logged_at, entry.actor_user, entry.actor_agency, entry.action, entry.purpose,
            entry.agreement_id, list(entry.subjects), list(entry.redacted), entry.outcome, entry.reason,
            entry.prev_hash, entry.hash]


def in_threads(threads: int, total: int, work: Callable[[int], object]) -> float:
    """Seconds for ``threads`` threads to call ``work(i)`` for their share of ``range(total)``."""
    workers = [threading.Thread(target=lambda t=t: [work(i) for i in range(t, total, threads)])
               for t in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def appends(folder: Path, count: int, threads: int) -> dict[str, float]:
    """append() against plain one-row INSERTs (each its own commit) of the same, already-hashed rows."""
    w = open_warehouse(folder / "appends.duckdb")
    w.execute("""CREATE TABLE plain (seq BIGINT PRIMARY KEY, logged_at TIMESTAMP NOT NULL, actor_user VARCHAR,
        actor_agency VARCHAR, action VARCHAR NOT NULL, purpose VARCHAR, agreement_id VARCHAR,
        subjects VARCHAR[] NOT NULL, redacted VARCHAR[] NOT NULL, outcome VARCHAR NOT NULL, reason VARCHAR,
        prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL)""")  # audit_log's shape and key
    prepared, prev = [], GENESIS_HASH
    for n in range(1, count + 1):
        prepared.append(row(entry := chain_entry(event(n), n, prev, datetime(2026, 1, 1) + timedelta(seconds=n))))
        prev = entry.hash
    plain_sql = (f"INSERT INTO plain ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS VARCHAR[]), "
                 "CAST(? AS VARCHAR[]), ?, ?, ?, ?)")
    result: dict[str, float] = {}
    for n_threads in (1, threads):
        w.execute("DELETE FROM plain")
        plain = in_threads(n_threads, count, lambda i: w.execute(plain_sql, prepared[i]))
        chained = in_threads(n_threads, count, lambda i: append(w, event(i)))
        result[f"append_per_s_{n_threads}_threads"] = round(count / chained)
        result[f"plain_insert_per_s_{n_threads}_threads"] = round(count / plain)
    result["appended"] = w.scalar("SELECT count(*) FROM audit_log")
    result["verified_ok"] = verify(w).ok
    w.close()
    return result


def chaining(count: int) -> dict[str, float]:
    """Seconds (wall, CPU) to chain ``count`` entries in memory, no storage: the FIELD-NOTES figure's measure."""
    prev, started, cpu = GENESIS_HASH, time.perf_counter(), time.process_time()
    at = datetime(2026, 1, 1)
    for n in range(1, count + 1):
        prev = chain_entry(event(n), n, prev, at).hash
    return {"entries": count, "wall_s": round(time.perf_counter() - started, 2),
            "cpu_s": round(time.process_time() - cpu, 2)}


def build_chain(w: Warehouse, count: int, chunk: int = 100_000) -> float:
    """``count`` chained entries bulk-inserted (not timed as appends); returns the seconds taken."""
    prev, started, start_at = GENESIS_HASH, time.perf_counter(), datetime(2026, 1, 1)
    for first in range(1, count + 1, chunk):
        rows = []
        for n in range(first, min(first + chunk, count + 1)):
            entry = chain_entry(event(n), n, prev, start_at + timedelta(milliseconds=n))
            rows.append(row(entry))
            prev = entry.hash
        w.insert_arrow("audit_log", entries_table(rows))
    return time.perf_counter() - started


def verification(folder: Path, count: int) -> dict[str, float]:
    w = open_warehouse(folder / "verify.duckdb")
    built = build_chain(w, count)
    started, cpu = time.perf_counter(), time.process_time()
    scanned = sum(len(chunk) for chunk in w.stream_rows(f"SELECT {COLUMNS} FROM audit_log ORDER BY seq", None,
                                                         50_000))
    stream_seconds, stream_cpu = time.perf_counter() - started, time.process_time() - cpu
    cpu = time.process_time()
    report = verify(w)
    verify_cpu = time.process_time() - cpu
    out = folder / "audit.jsonl"
    started = time.perf_counter()
    export(w, out)
    export_seconds = time.perf_counter() - started
    w.close()
    started = time.perf_counter()
    with out.open("rb") as lines:
        read = sum(1 for _ in lines)
    read_seconds = time.perf_counter() - started
    cpu = time.process_time()
    file_report = verify_file(out)
    file_cpu = time.process_time() - cpu
    assert report.ok and file_report.ok and report.entries == scanned == read == count
    # CPU seconds beside wall seconds: on a shared machine the wall clock mostly measures the neighbours.
    return {"entries": count, "build_and_bulk_insert_s": round(built, 2), "verify_s": report.seconds,
            "verify_cpu_s": round(verify_cpu, 2), "anchor_stream_rows_s": round(stream_seconds, 2),
            "anchor_stream_rows_cpu_s": round(stream_cpu, 2), "export_s": round(export_seconds, 2),
            "verify_file_s": file_report.seconds, "verify_file_cpu_s": round(file_cpu, 2),
            "anchor_read_file_lines_s": round(read_seconds, 2), "export_mb": round(out.stat().st_size / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="Entries to verify")
    parser.add_argument("--appends", type=int, default=2000, help="Appends per timing")
    parser.add_argument("--threads", type=int, default=8, help="Threads appending at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        figures = {"appends": appends(folder, args.appends, args.threads),
                   "chain_in_memory": chaining(200_000),
                   "verify": verification(folder, args.entries), "peak_rss_mb": round(peak_rss_mb())}
    for part, value in figures.items():
        print(f"{part}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
