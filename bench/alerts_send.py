"""Digest generation and sending for 100,000 subscribers, against a local SMTP server (aiosmtpd).

Subscribers are spread over every LSOA, MSOA and local authority of Leicestershire (35 months imported),
a tenth of them asking for one category only. Timed: planning the month's digests into the outbox (a
digest per area and category choice, then one message per subscriber with its own unsubscribe link), and
delivering the outbox through one SMTP connection with the outbox updated as it goes. Anchor, in the same
run against the same server: bare smtplib sends of one fixed, pre-built message. The SMTP server is
aiosmtpd's Sink handler in a process of its own; its CPU time is reported beside ours.

    .venv/bin/python bench/alerts_send.py --data ../shared/data [--db leics.duckdb] [--subscribers 100000]
        [--alerts-db postgresql://...]   # subscriptions and outbox in PostgreSQL (schema safer_alerts)
        [--postgres]                     # the same, in a throwaway PostgreSQL cluster of the bench's own
"""

from __future__ import annotations

import argparse
import json
import os
import random
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port  # noqa: E402
from disclosure_cost import warehouse_with_leicestershire  # noqa: E402


def start_smtp_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.2)


def cpu_of(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def anchor(port: int, messages: int) -> dict[str, float]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@localhost", "b@example.org", "Crime in your area: October 2022"
    msg.set_content("42 crimes were recorded in your area in October 2022.\n" * 20)
    t0, c0 = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(messages):
            smtp.send_message(msg)
    seconds = time.perf_counter() - t0
    return {"messages": messages, "seconds": seconds, "per_second": messages / seconds,
            "cpu_seconds": time.process_time() - c0}


def subscribe_many(warehouse, store, count: int, seed: int) -> None:
    """Confirmed subscriptions (not timed): through the store, as the opt-in would leave them."""
    from safertogether.model.categories import CRIME_TYPE_SLUGS

    areas = [r["code"] for r in warehouse.query(
        "SELECT code FROM areas WHERE level IN ('lsoa', 'msoa', 'lad') AND force_id = 'leicestershire'")]
    rng = random.Random(seed)
    categories = sorted(CRIME_TYPE_SLUGS)
    for i in range(count):
        chosen = (rng.choice(categories),) if rng.random() < 0.1 else ()
        sid, _ = store.add(f"resident{i}@example.org", rng.choice(areas), chosen)
        store.set_status(sid, "confirmed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SAFER_DATA", "../shared/data")))
    parser.add_argument("--db", type=Path, help="a warehouse already holding Leicestershire (else imported)")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--anchor-messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alerts-db", help="where subscriptions live [default: a SQLite file]")
    parser.add_argument("--postgres", action="store_true", help="subscriptions in a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from postgres_server import binaries, running_server

        with running_server(binaries()) as cluster:
            args.alerts_db = cluster.create_database("alerts_bench")
            run(args)
        return
    run(args)


def run(args: argparse.Namespace) -> None:

    from safertogether.alerts.mailer import Mailer, SmtpServer
    from safertogether.alerts.service import AlertsConfig, deliver, plan_digests
    from safertogether.alerts.store import AlertStore
    from safertogether.disclosure.policy import load_policy

    secret = b"bench secret that is long enough to sign links"
    port = free_port()
    server = start_smtp_server(port)
    try:
        with tempfile.TemporaryDirectory(prefix="safer-alerts-bench-") as work:
            warehouse = warehouse_with_leicestershire(args.db, args.data, Path(work))
            store = AlertStore(args.alerts_db or Path(work) / "alerts.sqlite", secret)
            config = AlertsConfig(secret, "https://safer.example")
            t0 = time.perf_counter()
            subscribe_many(warehouse, store, args.subscribers, args.seed)
            setup_seconds = time.perf_counter() - t0
            anchor_cpu0 = cpu_of(server.pid)
            bare = anchor(port, args.anchor_messages)
            bare["server_cpu_seconds"] = cpu_of(server.pid) - anchor_cpu0
            policy = load_policy("suppress-small-cells")
            t0, c0 = time.perf_counter(), time.process_time()
            planned = plan_digests(warehouse, store, config, policy)
            plan = {"digests": planned, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
            server_cpu0 = cpu_of(server.pid)
            t0, c0 = time.perf_counter(), time.process_time()
            with Mailer(SmtpServer("127.0.0.1", port)) as mailer:
                sent, failed = deliver(store, config, mailer)
            seconds = time.perf_counter() - t0
            send = {"sent": sent, "failed": failed, "seconds": seconds, "per_second": sent / seconds,
                    "cpu_seconds": time.process_time() - c0, "server_cpu_seconds": cpu_of(server.pid) - server_cpu0}
            again = plan_digests(warehouse, store, config, policy)
            store.close()
            warehouse.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    total = plan["seconds"] + send["seconds"]
    report = {"subscribers": args.subscribers, "store": "postgresql" if args.alerts_db else "sqlite",
              "setup_seconds": setup_seconds, "plan": plan, "send": send,
              "end_to_end_per_second": sent / total, "planned_again": again, "anchor_bare_smtplib": bare,
              "load_average": os.getloadavg()}
    print(json.dumps(report, indent=2))
    print(f"{args.subscribers:,} subscribers ({report['store']}): digests planned in {plan['seconds']:.1f} s (CPU "
          f"{plan['cpu_seconds']:.1f} s), sent {sent:,} at {send['per_second']:.0f}/s "
          f"(CPU {send['cpu_seconds']:.1f} s, "
          f"server CPU {send['server_cpu_seconds']:.1f} s); end to end {report['end_to_end_per_second']:.0f}/s. "
          f"Anchor: bare smtplib {bare['per_second']:.0f}/s (CPU {bare['cpu_seconds']:.1f} s, server CPU "
          f"{bare['server_cpu_seconds']:.1f} s for {bare['messages']:,}). Planned again: {again}. "
          f"Load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
