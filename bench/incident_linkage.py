"""Joint incidents at 100,000 people: pairwise precision, recall, F1 and wall time, beside a naive anchor.

The partners' extracts are generated (``safer synth partners``, by default seed 13, which the linker
was never run on while it was built: its windows were set on seed 7, and the one-sided date window
came from the errors on seed 11) and imported (neither timed), then, in the same process and on the
same warehouse:

- **linker**: ``link_incidents`` (candidate pairs, score, clustering with one record per agency,
  writing ``joint_incidents``), measured by ``evaluate_incident_links``;
- **anchor**: the rule many data-sharing projects start with, records of different agencies with the
  same postcode and starts within 60 minutes are the same incident (pairwise, no clustering).

    .venv/bin/python bench/incident_linkage.py --data ../shared/data [--people 100000] [--seed 13] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb  # noqa: E402

ANCHOR_PAIRS = """
    SELECT l.agency AS agency_l, l.incident_ref AS ref_l, r.agency AS agency_r, r.incident_ref AS ref_r
    FROM incident_records l JOIN incident_records r
      ON l.postcode = r.postcode AND l.agency < r.agency
     AND r.started_at BETWEEN l.started_at - INTERVAL 60 MINUTE AND l.started_at + INTERVAL 60 MINUTE"""


def measure(people: int, seed: int, data: Path, folder: Path) -> dict[str, object]:
    from safertogether.ingest import import_partner
    from safertogether.link.incident_evaluate import evaluate_incident_links, score_pairs
    from safertogether.link.incidents import link_incidents
    from safertogether.sources.synth import SynthConfig, generate_partners
    from safertogether.store.warehouse import open_warehouse

    out = folder / "partners"
    generate_partners(SynthConfig(people=people, seed=seed, data=data), out)
    warehouse = open_warehouse(folder / "partners.duckdb")
    import_partner(warehouse, sorted(out.glob("*.yaml")))
    report = link_incidents(warehouse)
    linker = evaluate_incident_links(warehouse, out / "truth")
    started = time.perf_counter()
    anchor_pairs = warehouse.query_arrow(ANCHOR_PAIRS)
    anchor_seconds = time.perf_counter() - started
    with warehouse.registered("anchor_pairs", anchor_pairs):
        anchor = score_pairs(warehouse, out / "truth", "SELECT * FROM anchor_pairs")
    warehouse.close()
    return {"people": people, "seed": seed, "records": report.records, "candidate_pairs": report.candidate_pairs,
            "joint_incidents": report.joint_incidents, "multi_agency_incidents": report.multi_agency_incidents,
            "linker": {**linker.as_json(), "seconds": round(report.seconds, 3)},
            "anchor": {**anchor.as_json(), "seconds": round(anchor_seconds, 3),
                       "rule": "same postcode, starts within 60 minutes"},
            "peak_rss_mb": round(peak_rss_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.people, args.seed, args.data.resolve(), Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['people']:,} people (seed {result['seed']}): {result['records']:,} incident records, "
          f"{result['candidate_pairs']:,} candidate pairs, {result['joint_incidents']:,} joint incidents "
          f"({result['multi_agency_incidents']:,} multi-agency); peak {result['peak_rss_mb']:,} MB")
    print(f"{'':>8} {'precision':>9} {'recall':>7} {'f1':>7} {'TP':>7} {'FP':>6} {'FN':>6} {'seconds':>8}")
    for name in ("linker", "anchor"):
        r = result[name]
        assert isinstance(r, dict)
        print(f"{name:>8} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} {r['true_positives']:>7,} "
              f"{r['false_positives']:>6,} {r['false_negatives']:>6,} {r['seconds']:>8.2f}")


if __name__ == "__main__":
    main()
