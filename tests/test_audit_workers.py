"""The audit chain under a shared server: several worker processes appending to PostgreSQL at once queue on a lock
in the database and never fork the chain; on a DuckDB file (one writing process) threads share one writer, and a
multi-worker server is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from typer.testing import CliRunner

from safertogether.access.audit import AuditEvent, append, check_audit_writers, verify
from safertogether.cli import app
from safertogether.errors import BadRequestError
from safertogether.store.warehouse import open_warehouse

runner = CliRunner()

WORKER = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from safertogether.access.audit import AuditEvent, append
    from safertogether.store.warehouse import open_warehouse

    url, go = sys.argv[1], Path(sys.argv[5])
    worker, threads, each = (int(a) for a in sys.argv[2:5])
    warehouse = open_warehouse(url)
    while not go.exists():  # every worker starts appending at once
        time.sleep(0.01)

    def work(thread):
        for i in range(each):
            append(warehouse, AuditEvent(f"user{worker}", "police", "lookup", "safeguarding", "allowed",
                                         [f"P{worker}-{thread}-{i}"]))

    running = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    warehouse.close()
""")


def _verify_cli(location: str) -> dict:
    done = runner.invoke(app, ["audit", "verify", "--db", location, "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_several_processes_appending_to_postgresql_keep_one_chain(postgres_server, tmp_path):
    url = postgres_server.create_database("audit_workers")
    open_warehouse(url).close()  # the schema, made once
    go = tmp_path / "go"
    workers, threads, each = 4, 4, 15
    processes = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(n), str(threads), str(each), str(go)])
                 for n in range(workers)]
    time.sleep(3)  # let them connect
    go.touch()
    for process in processes:
        assert process.wait(timeout=120) == 0
    report = _verify_cli(url)
    assert report["ok"] and report["entries"] == report["head_seq"] == workers * threads * each
    warehouse = open_warehouse(url)
    try:
        # One chain: every entry follows a different one, and every event was recorded once.
        assert warehouse.scalar("SELECT count(DISTINCT prev_hash) FROM audit_log") == workers * threads * each
        assert warehouse.scalar("SELECT count(DISTINCT subjects[1]) FROM audit_log") == workers * threads * each
        assert warehouse.scalar("SELECT count(DISTINCT actor_user) FROM audit_log") == workers
    finally:
        warehouse.close()


def test_appends_on_postgresql_wait_for_the_chain_lock_held_in_the_database(postgres_server):
    import psycopg

    url = postgres_server.create_database("audit_lock")
    warehouse = open_warehouse(url)
    try:
        append(warehouse, AuditEvent("u1", "police", "lookup", "safeguarding", "allowed", ["P1"]))
        done = threading.Event()
        with psycopg.connect(url) as other:  # another worker, mid-append
            other.execute("SELECT pg_advisory_xact_lock(hashtextextended('safertogether.audit_log', 0))")
            waiting = threading.Thread(target=lambda: (append(warehouse, AuditEvent(
                "u2", "police", "lookup", "safeguarding", "allowed", ["P2"])), done.set()))
            waiting.start()
            assert not done.wait(1.0), "the append went ahead while another writer held the chain"
        waiting.join(timeout=10)  # the other worker committed: the lock is free
        assert done.is_set() and verify(warehouse).entries == 2
    finally:
        warehouse.close()


def test_many_threads_on_duckdb_share_one_writer_and_the_count_is_exact(tmp_path):
    db = tmp_path / "audit.duckdb"
    warehouse = open_warehouse(db)
    try:
        threads = [threading.Thread(target=lambda n=n: [append(warehouse, AuditEvent(
            f"user{n}", "police", "lookup", "safeguarding", "allowed", [f"P{n}-{i}"])) for i in range(20)])
            for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        warehouse.close()
    report = _verify_cli(str(db))
    assert report["ok"] and report["entries"] == 240


def test_a_multi_worker_server_on_a_duckdb_file_is_refused(tmp_path):
    with pytest.raises(BadRequestError, match="--workers 1") as refused:
        check_audit_writers(tmp_path / "safer.duckdb", 2)
    assert "PostgreSQL" in str(refused.value)
    check_audit_writers(tmp_path / "safer.duckdb", 1)
    check_audit_writers("postgresql://safer@127.0.0.1:5432/safer", 4)
    served = runner.invoke(app, ["serve", "--db", str(tmp_path / "safer.duckdb"), "--workers", "2", "--person-data"])
    assert served.exit_code == 2 and "--workers 1" in served.stderr
