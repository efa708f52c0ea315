"""Caller lookup at a million person records through access control and the audit log, 50 concurrent clients.

For each engine (a DuckDB file; PostgreSQL, a throwaway cluster on loopback with fsync off as in the tests):

* the anchor, measured in the same run on the same index and queries: the bare ``PersonIndex.lookup`` (no
  access decision, no audit), from the same number of concurrent clients;
* ``lookup_caller``: the index, the Cedar decision per owner agency and category for the asking user, the
  redaction, and one audit append per lookup (committed before the answer returns), users of three agencies
  taking turns.

Clients are threads of this process calling the library; then, through the API: the real app
(``create_app`` with person data, as ``safer serve --person-data`` runs it: one uvicorn worker on a DuckDB
file, ``--server-workers`` processes on PostgreSQL, each with its own person index) on loopback,
``GET /api/people/search`` signed in by API token as the users above, aiohttp clients in this process. The
HTTP anchor is a bare-index route added to the same app. Each is measured closed-loop (every client sends
its next call when the last returns: 50 calls always in flight) and paced (``--paced``: calls arrive at a
fixed total rate, as call handlers' lookups do; latency counted from each call's scheduled start, so a
queue shows). Wall latency per call is reported with the CPU time (user+sys) of the server and the client
and the machine's load average, since the machine's two cores are shared. Afterwards the audit chain is
verified and its count checked against the lookups made.

Then the load curve (``--sweep``, :mod:`load_curve`) of the search route and of the bare-index route, both through
the same server: Poisson arrivals at rising total rates served by the same 50 clients (a call arriving when all
are busy waits), one rate past saturation, then the closed loop; per rate p50/p95/p99, the achieved throughput,
the server's CPU per call, and the highest rate whose p95 was under 50 ms. The audit chain is verified again
after the HTTP phases (one entry per search made).

Then, on PostgreSQL, with several worker processes at once: audit appends per second (each process a few
threads, each append its own request) beside one process alone, and policy decisions per second (a
person's 20 records from four agencies decided per call, as bench/access_decisions.py) beside one process.

The set is made once under ``--dir`` (``safer synth partners``, ``safer import partner``, ``safer link run``,
as bench/person_lookup.py) and copied into PostgreSQL table by table (timed apart).

    .venv/bin/python bench/caller_lookup.py [--people 1700000] [--dir DIR] [--clients 50] [--queries 600]
        [--engines duckdb,postgresql] [--workers 4] [--server-workers 2] [--paced 20] [--json]
        [--sweep 10,20,40,...] [--sweep-seconds 10] [--curve-only]

The load curve alone, both engines (about 8-10 minutes on an idle machine once the set under --dir is made):

    .venv/bin/python bench/caller_lookup.py --curve-only --dir DIR
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _common import cpu_seconds, free_port  # noqa: E402
from load_curve import DEFAULT_RATES, curve_lines  # noqa: E402
from person_lookup import ensure_linked, ensure_set, make_queries  # noqa: E402

TODAY = dt.date(2026, 12, 3)
AGREEMENTS = """
agreements:
  - agreement_id: ambulance-to-council-safeguarding
    provider: east-midlands-ambulance
    recipient: leicestershire-council
    categories: [identity, contact]
    purposes: [safeguarding]
    lawful_basis: "UK GDPR Art. 6(1)(e); DPA 2018 Sch. 1 para 18"
    valid_from: 2025-04-01
    valid_to: 2027-03-31
    approved_by: "DPO, EMAS"
    approved_on: 2025-03-20
  - agreement_id: police-to-ambulance-emergency
    provider: leicestershire-police
    recipient: east-midlands-ambulance
    categories: [identity, contact]
    purposes: [emergency-response]
    lawful_basis: "UK GDPR Art. 6(1)(d)"
    valid_from: 2025-04-01
    valid_to: 2027-03-31
    approved_by: "DPO, Leicestershire Police"
    approved_on: 2025-03-20
  - agreement_id: council-to-police-crime
    provider: leicestershire-council
    recipient: leicestershire-police
    categories: [identity]
    purposes: [crime-prevention]
    lawful_basis: "DPA 2018 s. 31"
    valid_from: 2025-04-01
    valid_to: 2027-03-31
    approved_by: "DPO, Leicestershire County Council"
    approved_on: 2025-03-20
"""
#: (user id, agency, purpose): the clients take turns as these.
USERS = (("police-1", "leicestershire-police", "crime-prevention"),
         ("ambulance-1", "east-midlands-ambulance", "emergency-response"),
         ("council-1", "leicestershire-council", "safeguarding"))
#: What is copied into PostgreSQL: what the index, the decisions and the audit read.
COPIED = ("agencies", "person_records", "link_runs", "person_ids", "sharing_agreements")
SEARCH = "/api/people/search"
#: The audit log's last entry number before the first search, passed with the users' tokens.
AUDIT_HEAD = "audit_head"
#: The anchor's route: the bare index through the same app, no sign-in, decision or audit.
BARE = "/bench/bare"


def requests() -> list[Any]:
    from safertogether.access.policy import AccessRequest
    from safertogether.model.access import User

    return [AccessRequest(User(user_id=u, name=u, agency=a, role="call-handler", clearance="OFFICIAL-SENSITIVE"),
                          purpose, TODAY) for u, a, purpose in USERS]


def concurrent(pool: ThreadPoolExecutor, clients: int, queries: list[dict[str, Any]],
               call: Callable[[int, dict[str, Any]], Any]) -> dict:
    """Each of ``clients`` threads calls ``call`` for its share of the queries, one after another; every call's
    wall seconds, with the phase's wall and CPU seconds and the load average at its end. The threads are the
    pool's, kept from phase to phase (each holds a database session, as a server's worker threads do)."""
    ready = threading.Barrier(clients + 1)

    def client(n: int) -> list[float]:
        mine = []
        ready.wait()
        for i in range(n, len(queries), clients):
            started = time.perf_counter()
            call(i, queries[i])
            mine.append(time.perf_counter() - started)
        return mine

    futures = [pool.submit(client, n) for n in range(clients)]
    cpu, started = cpu_seconds(), time.perf_counter()
    ready.wait()
    seconds = [s for future in futures for s in future.result()]
    wall = time.perf_counter() - started
    values = np.array(seconds) * 1000
    return {"calls": len(seconds), **{f"p{p}_ms": round(float(np.percentile(values, p)), 1) for p in (50, 95, 99)},
            "per_second": round(len(seconds) / wall, 1), "wall_s": round(wall, 2),
            "cpu_s": round(cpu_seconds() - cpu, 2),
            "cpu_ms_per_call": round((cpu_seconds() - cpu) * 1000 / len(seconds), 2),
            "load_1min": round(os.getloadavg()[0], 1)}


def measure_engine(location: str, truth: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The library phases (unless ``--curve-only``), then those over HTTP; the audit chain verified after each."""
    from safertogether.access.audit import verify
    from safertogether.store.warehouse import open_warehouse

    results: dict[str, Any] = {}
    warehouse = open_warehouse(location)
    try:
        if args.curve_only:
            queries = make_queries(truth, _record_keys(warehouse), args.queries, args.seed)
        else:
            queries = in_process(warehouse, truth, args, results)
    finally:
        warehouse.close()
    if args.http:
        results["http"] = over_http(location, queries, args)
        warehouse = open_warehouse(location)  # the server has ended: a DuckDB file is free again
        try:
            report = verify(warehouse)
        finally:
            warehouse.close()
        before = results["http"].pop("audit_head")
        results["http"]["audit"] = {"verify_ok": report.ok, "entries_added": report.entries - before,
                                    "searches_made": results["http"].pop("searches_made"), "verify_s": report.seconds}
    return results


def _record_keys(warehouse: Any) -> set[str]:
    """The keys of the warehouse's person records (what the index holds), without building the index."""
    from safertogether.link.partners import SOURCE_TABLE, record_key_sql

    return set(warehouse.query_arrow(f"SELECT {record_key_sql()} AS k FROM {SOURCE_TABLE}").column(0).to_pylist())


def in_process(warehouse: Any, truth: Path, args: argparse.Namespace, results: dict[str, Any]
               ) -> list[dict[str, Any]]:
    """Threads of this process calling the library: the bare index, then ``lookup_caller``; the queries made."""
    from safertogether.access.audit import verify
    from safertogether.access.lookup import caller_index, lookup_caller

    started, cpu = time.perf_counter(), cpu_seconds()
    index = caller_index(warehouse)
    results["build"] = {"seconds": round(time.perf_counter() - started, 1), "cpu_s": round(cpu_seconds() - cpu, 1),
                        "records": index.stats.records, "people": index.stats.people}
    queries = make_queries(truth, set(index.shown["record_key"].to_pylist()), args.queries, args.seed)
    asked = requests()
    for q in queries[:5]:  # warm-up: imports, Cedar's parse, the first writer thread
        lookup_caller(warehouse, asked[0], q["name"], q["dob"], q["address"], q["postcode"], index=index)
    entries_before = verify(warehouse).entries
    found: list[int] = []
    bare_ranks: dict[int, int | None] = {}
    access_ranks: dict[int, int | None] = {}

    def bare(i: int, q: dict[str, Any]) -> None:
        answer = index.lookup(q["name"], q["dob"], q["address"], q["postcode"], limit=10)
        bare_ranks[i] = _rank_of_truth([[r.record_key for r in c.records] for c in answer], q["keys"])

    def through_access(i: int, q: dict[str, Any]) -> None:
        answer = lookup_caller(warehouse, asked[i % len(asked)], q["name"], q["dob"], q["address"], q["postcode"],
                               index=index)
        found.append(len(answer.candidates))
        access_ranks[i] = _rank_of_truth([[v.record_key for v in c.records] for c in answer.candidates], q["keys"])

    with ThreadPoolExecutor(args.clients) as pool:
        for _ in range(args.repeat):  # interleaved, so both meet the same load
            results.setdefault("anchor_bare_index", []).append(concurrent(pool, args.clients, queries, bare))
            results.setdefault("lookup_with_access_and_audit", []).append(
                concurrent(pool, args.clients, queries, through_access))
    report = verify(warehouse)
    results["audit"] = {"verify_ok": report.ok, "entries_added": report.entries - entries_before,
                        "lookups_made": args.repeat * len(queries), "verify_s": report.seconds}
    results["answers_with_a_candidate"] = round(float(np.mean([n > 0 for n in found])), 3)
    results["true_person_found"] = {"bare_index": _hits(bare_ranks), "with_access": _hits(access_ranks)}
    return queries


def _rank_of_truth(candidates: list[list[str]], truth: set[str]) -> int | None:
    """The place of the first candidate holding a record of the true person (None: not among them)."""
    return next((n for n, keys in enumerate(candidates) if truth.intersection(keys)), None)


def _hits(ranks: dict[int, int | None]) -> dict[str, float]:
    """Share of queries whose true person is among the first k candidates (against the generator's truth).
    Through access a user sees only what their agreements allow, so a true person may be rightly absent."""
    return {f"hit_at_{k}": round(float(np.mean([r is not None and r < k for r in ranks.values()])), 4)
            for k in (1, 5, 10)}


def copy_to_postgres(db: Path, url: str) -> dict[str, Any]:
    """The tables the lookup reads, from the DuckDB file into a new PostgreSQL database."""
    from safertogether.store.copy_tables import copy_tables
    from safertogether.store.warehouse import open_warehouse

    source, target = open_warehouse(db, read_only=True), open_warehouse(url)
    started = time.perf_counter()
    try:
        rows = copy_tables(source, target, COPIED)
        target.execute("ANALYZE")
    finally:
        source.close()
        target.close()
    return {"seconds": round(time.perf_counter() - started, 1), "rows": rows}


# ---------------------------------------------------------------------------------- over HTTP

def serve(location: str, port: int, tokens_file: str, workers: int = 1) -> None:
    """The real app with person data over the warehouse, its users signed in by API token (written to
    ``tokens_file``), the person index built before the port opens; plus ``/bench/bare``, the anchor.
    With ``workers`` > 1 (PostgreSQL only, as ``safer serve`` allows), each uvicorn worker process opens
    the warehouse and builds its own index before it accepts a call."""
    import uvicorn

    from safertogether.access.audit import check_audit_writers, read_head
    from safertogether.access.users import add_user, issue_token
    from safertogether.errors import BadRequestError
    from safertogether.store.warehouse import open_warehouse

    check_audit_writers(location, workers)
    warehouse = open_warehouse(location)
    tokens: dict[str, Any] = {}
    for request in requests():
        with contextlib.suppress(BadRequestError):  # made by an earlier run
            add_user(warehouse, request.user, "bench password of some length")
        tokens[request.user.user_id] = issue_token(warehouse, request.user.user_id).token
    tokens[AUDIT_HEAD] = read_head(warehouse)[0]  # the entries before the first search
    if workers > 1:
        warehouse.close()
        os.environ[BENCH_DB] = location
        Path(tokens_file).write_text(json.dumps(tokens))
        uvicorn.run("caller_lookup:bench_app", factory=True, host="127.0.0.1", port=port, workers=workers,
                    log_level="warning")
        return
    app = bench_app(location, warehouse)
    Path(tokens_file).write_text(json.dumps(tokens))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


BENCH_DB = "SAFER_BENCH_DB"


def bench_app(location: str | None = None, warehouse: Any = None) -> Any:
    """``create_app`` with person data, its person index built, and the bare-index route (the anchor)."""
    from safertogether.api import create_app
    from safertogether.api.routes.people import person_index
    from safertogether.settings import Settings
    from safertogether.store.warehouse import open_warehouse

    location = location or os.environ[BENCH_DB]
    warehouse = warehouse or open_warehouse(location)
    app = create_app(warehouse, Settings(db=location, person_data=True))
    index = person_index(app.state)  # before the port opens (one worker) or the worker accepts (several)

    @app.get(BARE)
    def bare(name: str | None = None, dob: str | None = None, address: str | None = None,
             postcode: str | None = None) -> list[dict[str, Any]]:
        return [c.as_json() for c in index.lookup(name, dob, address, postcode)]

    return app


def _calls(path: str, queries: list[dict[str, Any]], tokens: dict[str, str], count: int | None = None) -> list[Any]:
    """``count`` calls of ``path`` (default: one per query), cycling through the queries, the users taking turns."""
    from load_curve import Call

    users = [(u, purpose) for u, _, purpose in USERS]
    calls = []
    for i in range(len(queries) if count is None else count):
        q, (user, purpose) = queries[i % len(queries)], users[i % len(users)]
        params = {k: str(q[k]) for k in ("name", "dob", "address", "postcode") if q[k] is not None}
        calls.append(Call(path, {**params, "purpose": purpose}, {"Authorization": f"Bearer {tokens[user]}"}))
    return calls


def over_http(location: str, queries: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The same phases through the real app on loopback (one uvicorn worker on DuckDB, ``--server-workers``
    on PostgreSQL), aiohttp clients; then the load curve (``--sweep``) of both routes."""
    import asyncio

    import psutil
    from load_curve import drive, even_arrivals, load_curve, measured

    from safertogether.store.warehouse import is_server_url

    port = free_port()
    tokens_file = Path(tempfile.mkdtemp(prefix="safer-bench-")) / "tokens.json"
    workers = args.server_workers if is_server_url(location) else 1
    server = subprocess.Popen([sys.executable, __file__, "--serve", location, str(port), str(tokens_file),
                               str(workers)])
    try:
        tokens = _wait_for_server(server, port, tokens_file)
        audit_head = tokens.pop(AUDIT_HEAD)
        process = psutil.Process(server.pid)
        for path in (SEARCH, BARE):  # warm-up: each worker's first calls of each route
            asyncio.run(drive(port, _calls(path, queries[:10 * workers], tokens), 5))

        def server_cpu_seconds() -> float:
            return sum(sum(p.cpu_times()[:2]) for p in (process, *process.children(recursive=True)))

        results: dict[str, Any] = {"server_workers": workers, "client": "aiohttp, in the bench process",
                                   "route": f"GET {SEARCH} by API token", "searches_made": 10 * workers,
                                   "audit_head": audit_head}
        routes = [("anchor_bare_index", BARE), ("lookup_with_access_and_audit", SEARCH)]
        phases = [] if args.curve_only else [(name, path, None) for name, path in routes]
        if args.paced and not args.curve_only:
            phases += [(f"paced_{args.paced:g}_per_s_{name}", path, args.paced) for name, path in routes]
        for _ in range(args.repeat):
            for name, path, rate in phases:
                arrivals = even_arrivals(rate, len(queries)) if rate else None
                results.setdefault(name, []).append(
                    measured(port, _calls(path, queries, tokens), args.clients, arrivals, server_cpu_seconds))
                results["searches_made"] += len(queries) if path == SEARCH else 0
        for name, path in routes if args.sweep else ():
            results.setdefault("load_curve", {})[name] = load_curve(
                port, lambda n, path=path: _calls(path, queries, tokens, n), args.clients, server_cpu_seconds,
                args.sweep, args.sweep_seconds, seed=args.seed)
            curve = results["load_curve"][name]
            results["searches_made"] += sum(p["calls"] for p in [*curve["points"], curve["closed_loop"]]
                                            ) if path == SEARCH else 0
            print(json.dumps({"load_curve": {name: results["load_curve"][name]}}), file=sys.stderr, flush=True)
        return results
    finally:
        server.terminate()
        server.wait(timeout=60)


def _wait_for_server(server: subprocess.Popen[bytes], port: int, tokens_file: Path) -> dict[str, str]:
    """The users' tokens, once the bench server listens (it builds its person index first)."""
    import socket

    deadline = time.time() + 900
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return json.loads(tokens_file.read_text())  # type: ignore[no-any-return]
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("the bench server ended before it listened") from None
            time.sleep(1)
    raise RuntimeError("the bench server did not listen within 15 minutes")


# ---------------------------------------------------------------------------------- several worker processes

def worker(kind: str, url: str, n: int, threads: int, each: int, go: str) -> None:
    """One worker process: ``threads`` threads, each making ``each`` appends (or decisions); prints JSON."""
    from safertogether.access.audit import AuditEvent, append
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(url) if kind == "audit" else None
    work = _decision_work() if kind == "decide" else None
    if warehouse is not None:
        append(warehouse, AuditEvent(f"w{n}", "police", "lookup", "safeguarding", "allowed", [f"warm-{n}"]))
    while not Path(go).exists():
        time.sleep(0.005)

    def run(t: int) -> None:
        for i in range(each):
            if warehouse is not None:
                append(warehouse, AuditEvent(f"w{n}", "police", "lookup", "safeguarding", "allowed",
                                             [f"P{n}-{t}-{i}", f"leicestershire-police:R{i}"], ["x.address"]))
            else:
                work()

    running = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    cpu, started = cpu_seconds(), time.time()
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    print(json.dumps({"start": started, "end": time.time(), "done": threads * each, "cpu_s": cpu_seconds() - cpu}))
    if warehouse is not None:
        warehouse.close()


def _decision_work() -> Callable[[], Any]:
    from access_decisions import AGENCIES, _agreements, _records

    from safertogether.access.policy import AccessPolicy, AccessRequest
    from safertogether.model.access import User

    policy = AccessPolicy.default()
    user = User(user_id="c1", name="Caseworker", agency="council", role="caseworker", clearance="OFFICIAL-SENSITIVE")
    request = AccessRequest(user, "safeguarding", TODAY)
    records, agreements = _records(20), _agreements()
    policy.decide(request, records, AGENCIES, agreements)

    def cold() -> Any:  # every item asked of Cedar, as for a new user, purpose, day or agreement
        policy.forget_decisions()
        return policy.decide(request, records, AGENCIES, agreements)
    return cold


def in_processes(kind: str, url: str, processes: int, threads: int, each: int) -> dict[str, Any]:
    """``processes`` workers started together; the rate over the span from the first start to the last end."""
    go = Path(tempfile.mkdtemp(prefix="safer-go-")) / "go"
    children = [subprocess.Popen([sys.executable, __file__, "--worker", kind, url, str(n), str(threads), str(each),
                                  str(go)], stdout=subprocess.PIPE, text=True) for n in range(processes)]
    time.sleep(2 + processes)  # imports and connections, before the clock
    go.touch()
    reports = []
    for child in children:
        out, _ = child.communicate(timeout=900)
        if child.returncode:
            raise RuntimeError(f"a {kind} worker failed")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    span = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    done = sum(r["done"] for r in reports)
    return {"processes": processes, "threads_each": threads, "done": done, "per_second": round(done / span, 1),
            "wall_s": round(span, 2), "cpu_s": round(sum(r["cpu_s"] for r in reports), 2),
            "load_1min": round(os.getloadavg()[0], 1)}


def workers_on_postgres(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from safertogether.access.audit import verify
    from safertogether.store.warehouse import open_warehouse

    audit_url = url.rsplit("/", 1)[0] + "/audit_workers"
    results: dict[str, Any] = {}
    each = args.appends // (args.workers * 4)
    results["audit_appends_one_process"] = in_processes("audit", audit_url, 1, 4 * args.workers, each)
    results["audit_appends_workers"] = in_processes("audit", audit_url, args.workers, 4, each)
    warehouse = open_warehouse(audit_url)
    report = verify(warehouse)
    expected = 2 * 4 * args.workers * each + 1 + args.workers  # the two runs and each worker's warm-up append
    results["audit_verify"] = {"ok": report.ok, "entries": report.entries, "expected": expected,
                               "seconds": report.seconds}
    warehouse.close()
    decisions = args.decisions // args.workers
    results["decisions_one_process"] = in_processes("decide", url, 1, 1, decisions)
    results["decisions_workers"] = in_processes("decide", url, args.workers, 1, decisions)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_700_000, help="people in the county (~0.6 records each)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "safer-caller-bench")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--engines", default="duckdb,postgresql")
    parser.add_argument("--workers", type=int, default=4, help="worker processes for the PostgreSQL figures")
    parser.add_argument("--appends", type=int, default=4000)
    parser.add_argument("--decisions", type=int, default=4000)
    parser.add_argument("--http", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure through a minimal FastAPI app on loopback")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--server-workers", type=int, default=2,
                        help="uvicorn worker processes serving PostgreSQL (a DuckDB file is served by one)")
    parser.add_argument("--paced", type=float, default=20.0,
                        help="also send the HTTP calls at this total rate per second (0: closed-loop only)")
    parser.add_argument("--sweep", type=_rates, default=",".join(map(str, DEFAULT_RATES)),
                        help="the load curve: Poisson arrivals at these total rates per second, one past saturation, "
                             "then the closed loop, for the search route and the bare-index anchor ('': none)")
    parser.add_argument("--sweep-seconds", type=float, default=8.0,
                        help="seconds of arrivals at each rate of the load curve (at least 150 calls)")
    parser.add_argument("--curve-only", action="store_true",
                        help="only the load curve over HTTP (no library phases, no closed/paced phases, no "
                             "PostgreSQL worker figures): both engines in under ~10 minutes once the set is made")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve[0], int(args.serve[1]), args.serve[2], int(args.serve[3]))
    if args.worker:
        kind, url, n, threads, each, go = args.worker
        return worker(kind, url, int(n), int(threads), int(each), go)
    args.dir.mkdir(parents=True, exist_ok=True)
    db = ensure_set(args.dir, args.people, args.seed)
    ensure_linked(db)
    _load_agreements(db, args.dir)
    truth = args.dir / "partners" / "truth"
    figures: dict[str, Any] = {"clients": args.clients, "queries": args.queries, "cores": os.cpu_count()}
    engines = args.engines.split(",")
    if "duckdb" in engines:
        figures["duckdb"] = measure_engine(str(db), truth, args)
        print(json.dumps({"duckdb": figures["duckdb"]}), file=sys.stderr, flush=True)
    if "postgresql" in engines:
        from postgres_server import binaries, running_server

        bin_dir = binaries()
        if bin_dir is None:
            sys.exit("PostgreSQL is not installed: `make postgres` (Debian's package)")
        with running_server(bin_dir) as server:
            url = server.create_database("caller")
            server.create_database("audit_workers")
            figures["postgresql_copy"] = copy_to_postgres(db, url)
            print(json.dumps({"postgresql_copy": figures["postgresql_copy"]}), file=sys.stderr, flush=True)
            figures["postgresql"] = measure_engine(url, truth, args)
            print(json.dumps({"postgresql": figures["postgresql"]}), file=sys.stderr, flush=True)
            if not args.curve_only:
                figures["postgresql_workers"] = workers_on_postgres(url, args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    _print(figures)


def _rates(text: str) -> list[float]:
    return [float(rate) for rate in text.split(",") if rate.strip()]


def _load_agreements(db: Path, folder: Path) -> None:
    from safertogether.access.agreements import load_agreements
    from safertogether.store.warehouse import open_warehouse

    path = folder / "agreements.yaml"
    path.write_text(AGREEMENTS, encoding="utf-8")
    warehouse = open_warehouse(db)
    try:
        load_agreements(warehouse, path)
    finally:
        warehouse.close()


def _print(figures: dict[str, Any]) -> None:
    print(f"{figures['clients']} concurrent clients, {figures['queries']} queries per round, {figures['cores']} cores "
          "shared with other work")
    for engine in ("duckdb", "postgresql"):
        if engine not in figures:
            continue
        r = figures[engine]
        print(f"{engine}:")
        if "build" in r:
            print(f"  index of {r['build']['records']:,} records ({r['build']['people']:,} people) built in "
                  f"{r['build']['seconds']} s")
        if "http" in r:
            print(f"  http: {r['http']['server_workers']} uvicorn worker process(es)")
        for via, phases in (("library", r), ("http", r.get("http", {}))):
            for name in [k for k, v in phases.items() if isinstance(v, list)]:
                for run in phases[name]:
                    print(f"  {via:<7} {name:<30} p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms, "
                          f"p99 {run['p99_ms']} ms; "
                          f"{run['per_second']}/s; CPU ms a call {_cpu(run)}; load {run['load_1min']}")
        for name, curve in r.get("http", {}).get("load_curve", {}).items():
            print("\n".join(curve_lines(name, curve)))
        if "true_person_found" in r:
            print(f"  true person among the first 1/5/10 candidates: {r['true_person_found']}")
        for via, audit in (("library", r.get("audit")), ("http", r.get("http", {}).get("audit"))):
            if audit:
                made = audit.get("lookups_made", audit.get("searches_made"))
                print(f"  audit after the {via} phases: verify {'OK' if audit['verify_ok'] else 'FAILED'}, "
                      f"{audit['entries_added']} entries for {made} lookups")
    if "postgresql_workers" in figures:
        w = figures["postgresql_workers"]
        for name, run in w.items():
            print(f"  {name}: {run}")


def _cpu(run: dict[str, Any]) -> str:
    if "cpu_ms_per_call" in run:
        return str(run["cpu_ms_per_call"])
    return f"server {run['server_cpu_ms_per_call']}, client {run['client_cpu_ms_per_call']}"


if __name__ == "__main__":
    main()
