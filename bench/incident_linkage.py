"""Joint incidents at 100,000 people: pairwise precision, recall, F1 and wall time, beside a naive anchor.

The partners' extracts are generated (``safer synth partners``, by default seed 13, which the linker
was never run on while it was built: its windows were set on seed 7, and the one-sided date window
came from the errors on seed 11) and imported (neither timed), then, in the same process and on the
same warehouse:

- **linker**: ``link_incidents`` (candidate pairs, score, clustering with one record per agency,
  writing ``joint_incidents``), measured by ``evaluate_incident_links``;
- **anchor**: the rule many data-sharing projects start with, records of different agencies with the
  same postcode and starts within 60 minutes are the same incident (pairwise, no clustering).

Both are measured again after the coordinates of a share of the records (30% by default, chosen by a
hash of the reference) are removed, as when some services' systems export none.

    .venv/bin/python bench/incident_linkage.py --data ../shared/data [--people 100000] [--seed 13] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb  # noqa: E402

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

ANCHOR_PAIRS = """
    SELECT l.agency AS agency_l, l.incident_ref AS ref_l, r.agency AS agency_r, r.incident_ref AS ref_r
    FROM incident_records l JOIN incident_records r
      ON l.postcode = r.postcode AND l.agency < r.agency
     AND r.started_at BETWEEN l.started_at - INTERVAL 60 MINUTE AND l.started_at + INTERVAL 60 MINUTE"""


def measure(people: int, seed: int, data: Path, folder: Path, without_coordinates: float) -> dict[str, object]:
    from safertogether.ingest import import_partner
    from safertogether.sources.synth import SynthConfig, generate_partners
    from safertogether.store.warehouse import open_warehouse

    out = folder / "partners"
    generate_partners(SynthConfig(people=people, seed=seed, data=data), out)
    warehouse = open_warehouse(folder / "partners.duckdb")
    import_partner(warehouse, sorted(out.glob("*.yaml")))
    full = link_and_anchor(warehouse, out / "truth")
    # As if some services' systems exported no coordinates: address and postcode must do.
    warehouse.execute("UPDATE incident_records SET longitude = NULL, latitude = NULL "
                      "WHERE hash(agency || incident_ref) % 1000 < ?", [round(without_coordinates * 1000)])
    stripped = link_and_anchor(warehouse, out / "truth")
    warehouse.close()
    return {"people": people, "seed": seed, **full.pop("report"), "anchor_rule": "same postcode, starts within 60 "
            "minutes", "measured": {"all coordinates": full, f"{without_coordinates:.0%} without coordinates":
                                   {k: v for k, v in stripped.items() if k != "report"}},
            "peak_rss_mb": round(peak_rss_mb())}


def link_and_anchor(warehouse: Warehouse, truth: Path) -> dict[str, dict[str, object]]:
    from safertogether.link.incident_evaluate import evaluate_incident_links, score_pairs
    from safertogether.link.incidents import link_incidents

    report = link_incidents(warehouse)
    linker = evaluate_incident_links(warehouse, truth)
    started = time.perf_counter()
    anchor_pairs = warehouse.query_arrow(ANCHOR_PAIRS)
    anchor_seconds = time.perf_counter() - started
    with warehouse.registered("anchor_pairs", anchor_pairs):
        anchor = score_pairs(warehouse, truth, "SELECT * FROM anchor_pairs")
    counts = {k: v for k, v in report.as_json().items() if k not in ("seconds", "settings", "links")}
    return {"report": counts, "linker": {**linker.as_json(), "seconds": round(report.seconds, 3)},
            "anchor": {**anchor.as_json(), "seconds": round(anchor_seconds, 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--without-coordinates", type=float, default=0.3,
                        help="Share of records whose coordinates are removed for the second measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.people, args.seed, args.data.resolve(), Path(tmp), args.without_coordinates)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['people']:,} people (seed {result['seed']}): {result['records']:,} incident records, "
          f"{result['candidate_pairs']:,} candidate pairs, {result['joint_incidents']:,} joint incidents "
          f"({result['multi_agency_incidents']:,} multi-agency); peak {result['peak_rss_mb']:,} MB")
    print(f"{'':>36} {'precision':>9} {'recall':>7} {'f1':>7} {'TP':>7} {'FP':>6} {'FN':>6} {'seconds':>8}")
    measured = result["measured"]
    assert isinstance(measured, dict)
    for condition, runs in measured.items():
        for name, r in runs.items():
            print(f"{name + ', ' + condition:>36} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} "
                  f"{r['true_positives']:>7,} {r['false_positives']:>6,} {r['false_negatives']:>6,} "
                  f"{r['seconds']:>8.2f}")


if __name__ == "__main__":
    main()
