"""The signed-in person-data API's own cost: a person's profile by API token, and a sign-in (#15).

A profile request authenticates its token, checks the refusal count, decides every record of the person
(Cedar), appends the audit entry (a commit), and serialises the answer. Anchor, in the same run: the
library's ``person_view`` for the same person and purpose (decision and audit append, no HTTP, no token,
no links or flags), so the difference is what the API and sign-in layer add. A sign-in is an argon2id
verification plus a session insert and two audit appends; its anchor is argon2-cffi's verification alone.

Requests go through Starlette's in-process TestClient, one at a time: latency, not throughput under load
(the caller lookup's bench measures concurrency). Synthetic partners only.

    python bench/people_api.py [--people 800] [--rounds 300] [--data ../shared/data] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from safertogether.access.agreements import load_agreements
from safertogether.access.policy import AccessRequest
from safertogether.access.users import add_user, issue_token
from safertogether.access.views import person_view
from safertogether.api import create_app
from safertogether.ingest import import_partner
from safertogether.link.people import link_people
from safertogether.model.access import User
from safertogether.sources.synth import SynthConfig, generate_partners
from safertogether.store.warehouse import Warehouse, open_warehouse

PASSWORD = "bench password of some length"
AGREEMENT = """agreements:
  - {agreement_id: ambulance-to-council, provider: east-midlands-ambulance, recipient: leicestershire-council,
     categories: [identity, contact], purposes: [safeguarding], lawful_basis: "UK GDPR Art. 6(1)(e)",
     valid_from: 2025-01-01, valid_to: 2099-01-01, approved_by: DPO, approved_on: 2024-12-01}
"""
USER = User(user_id="c1", name="Caseworker", agency="leicestershire-council", role="caseworker",
            clearance="OFFICIAL-SENSITIVE")


def _world(folder: Path, people: int, data: Path) -> Warehouse:
    generate_partners(SynthConfig(people=people, seed=11, data=data), folder / "partners")
    warehouse = open_warehouse(folder / "people.duckdb")
    import_partner(warehouse, sorted((folder / "partners").glob("*.yaml")))
    link_people(warehouse)
    (folder / "agreements.yaml").write_text(AGREEMENT)
    load_agreements(warehouse, folder / "agreements.yaml")
    add_user(warehouse, USER, PASSWORD)
    return warehouse


def _timed(rounds: int, call) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    """Wall seconds per call, and the process's CPU seconds (user+sys) over all of them."""
    times, cpu = [], time.process_time()
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times, time.process_time() - cpu


def _summary(times: list[float], cpu: float) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(statistics.quantiles(times, n=20)[18] * 1000, 2),
            "cpu_ms_per_call": round(cpu / len(times) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SAFER_DATA", "../shared/data")))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from argon2 import PasswordHasher

    with tempfile.TemporaryDirectory(prefix="safer-people-api-") as folder:
        warehouse = _world(Path(folder), args.people, args.data)
        person = warehouse.scalar("""SELECT person_id FROM person_ids GROUP BY 1 HAVING count(*) >= 3
            AND bool_or(agency = 'leicestershire-council') ORDER BY count(*) DESC, 1 LIMIT 1""")
        records = warehouse.scalar("SELECT count(*) FROM person_ids WHERE person_id = ?", [person])
        token = issue_token(warehouse, USER.user_id).token
        request = AccessRequest(USER, "safeguarding")
        with TestClient(create_app(warehouse)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            path = f"/api/people/persons/{person}?purpose=safeguarding"
            assert client.get(path, headers=headers).status_code == 200
            api = _summary(*_timed(args.rounds, lambda: client.get(path, headers=headers)))
            anchor = _summary(*_timed(args.rounds, lambda: person_view(warehouse, request, person)))
            sign_in_rounds = max(5, args.rounds // 20)
            body = {"user_id": USER.user_id, "password": PASSWORD}
            sign_in = _summary(*_timed(sign_in_rounds, lambda: client.post("/api/people/sign-in", json=body)))
            stored = warehouse.scalar("SELECT password_hash FROM users WHERE user_id = ?", [USER.user_id])
            hasher = PasswordHasher()
            argon2 = _summary(*_timed(sign_in_rounds, lambda: hasher.verify(stored, PASSWORD)))
        warehouse.close()
    figures = {"people": args.people, "records_of_the_person": records, "rounds": args.rounds,
               "profile_by_token": api, "anchor_person_view_library": anchor,
               "sign_in": sign_in, "anchor_argon2id_verify_alone": argon2, "load_average": os.getloadavg()}
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
