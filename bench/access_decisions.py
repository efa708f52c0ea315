"""Access decisions per second: a person's cross-agency history decided item by item (#15, "policy decisions").

Each decision is one person of RECORDS records from four agencies, each record split into its data
categories, each item asked of Cedar once without an agreement and once per candidate agreement, then
redacted. Measured cold (the kept decisions dropped before each round: every item asked of Cedar, as for
a new user, purpose, day or agreement) and kept (the same request again: Cedar is not asked, the records
are still redacted one by one). Anchor, in the same run: cedarpy's own batch evaluation of exactly the
same requests and entities, prepared in advance (what the policy engine alone costs; the rest is ours).

    python bench/access_decisions.py [--records 20] [--rounds 2000] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time

import cedarpy

from safertogether.access.policy import AccessPolicy, AccessRequest
from safertogether.model.access import SharingAgreement, User

AGENCIES = {"police": "police", "ambulance": "ambulance", "council": "council", "victims": "victim-service"}


def _records(n: int) -> list[dict]:
    agencies = list(AGENCIES)
    return [{"record_key": f"{agencies[i % 4]}:R{i}", "agency": agencies[i % 4], "forename": "Leo",
             "surname": "Moore", "date_of_birth": dt.date(2007, 4, 8), "sex": "male", "address": "6 Briar Road",
             "postcode": "QL91 0DT", "role": "victim", "incident_ref": f"I{i}", "recorded_on": dt.date(2025, 6, 1)}
            for i in range(n)]


def _agreements() -> list[SharingAgreement]:
    return [SharingAgreement(agreement_id=f"{p}-to-council-{k}", version=1, provider=p, recipient="council",
                             categories=["identity", "contact"] if k else ["identity"], purposes=["safeguarding"],
                             lawful_basis="UK GDPR Art. 6(1)(e)", valid_from=dt.date(2025, 1, 1),
                             valid_to=dt.date(2027, 1, 1), approved_by="DPO", approved_on=dt.date(2024, 12, 1))
            for p in ("police", "ambulance", "victims") for k in range(2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    policy = AccessPolicy.default()
    user = User(user_id="c1", name="Caseworker", agency="council", role="caseworker", clearance="OFFICIAL-SENSITIVE")
    request = AccessRequest(user, "safeguarding", dt.date(2026, 12, 3))
    records, agreements = _records(args.records), _agreements()
    policy.decide(request, records, AGENCIES, agreements)  # parse the policies once, as a server does

    times, kept = [], []
    for _ in range(args.rounds):
        policy.forget_decisions()
        started = time.perf_counter()
        decisions = policy.decide(request, records, AGENCIES, agreements)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        policy.decide(request, records, AGENCIES, agreements)
        kept.append(time.perf_counter() - started)

    # The anchor: the same requests and entities, built once, evaluated by cedarpy alone.
    captured: dict = {}
    original = cedarpy.is_authorized_batch

    def capture(requests, policies, entities, *rest, **options):  # type: ignore[no-untyped-def]
        captured.update(requests=requests, policies=policies, entities=entities)
        return original(requests, policies, entities, *rest, **options)

    cedarpy.is_authorized_batch = capture
    policy.forget_decisions()
    policy.decide(request, records, AGENCIES, agreements)
    cedarpy.is_authorized_batch = original
    entities = cedarpy.Entities.from_json_str(json.dumps(captured["entities"]))
    anchor = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        original(captured["requests"], captured["policies"], entities)
        anchor.append(time.perf_counter() - started)

    requests = len(captured["requests"])
    figures = {
        "records_per_person": args.records, "cedar_requests_per_person": requests, "rounds": args.rounds,
        "visible_records": len(decisions.views), "withheld_records": len(decisions.withheld_records),
        "people_decided_per_second": round(args.rounds / sum(times), 1),
        "cedar_requests_per_second": round(args.rounds * requests / sum(times)),
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p95_ms": round(statistics.quantiles(times, n=20)[18] * 1000, 3),
        "kept_people_decided_per_second": round(args.rounds / sum(kept), 1),
        "kept_p50_ms": round(statistics.median(kept) * 1000, 3),
        "anchor_cedarpy_alone_p50_ms": round(statistics.median(anchor) * 1000, 3),
        "anchor_cedarpy_alone_requests_per_second": round(args.rounds * requests / sum(anchor)),
    }
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
