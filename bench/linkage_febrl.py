"""Linkage accuracy on FEBRL3 (deduplicate) and FEBRL4 (link two files), beside anchors run in the same go.

Each (data set, engine) runs in a child process, so its seconds and peak memory are its own:

- ``person``: our person model (``safertogether.link``), threshold fixed in advance at match weight 0;
- ``splink_example``: Splink's FEBRL example model (less ``soc_sec_id``), same training plan and threshold;
- ``recordlinkage_ecm``: recordlinkage's ECM classifier over the classic blocks.

Beside the fixed threshold, our model is also scored on FEBRL4 at the threshold that was best on FEBRL3
(chosen on one set, applied to the other). Usage: ``python bench/linkage_febrl.py [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, run_child  # noqa: E402

DATASETS = ("febrl3", "febrl4")
ENGINES = ("person", "splink_example", "recordlinkage_ecm")
# F1 / blocking recall measured on this machine before this model existed (FIELD-NOTES, issue 14).
PRIOR_ANCHORS = {"splink_example": {"febrl3": 0.987, "febrl4": 0.996},
                 "recordlinkage_ecm": {"febrl3": 0.987, "febrl4": 0.995},
                 "blocking_recall": {"febrl3": 0.976, "febrl4": 0.992}}


def child(dataset: str, engine: str, also_at: float | None) -> dict[str, Any]:
    from safertogether.link.baselines import recordlinkage_ecm, splink_example_settings
    from safertogether.link.benchmark import measure_run
    from safertogether.link.evaluate import blocking_recall, create_true_pairs, score_at
    from safertogether.link.model import link_records
    from safertogether.link.records import load_febrl

    started = time.perf_counter()
    records = load_febrl(dataset)
    if engine == "recordlinkage_ecm":
        table = recordlinkage_ecm(records)
        create_true_pairs(records)
        score = score_at(records.connection, table, 0.0)
        pairs = records.connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        figures = {**score.as_json(), "blocking_recall": round(blocking_recall(records.connection, table), 5),
                   "blocked_pairs": pairs, "oracle_best_threshold_on_this_set": None}
    else:
        settings = {"splink_example": {"settings": splink_example_settings}}.get(engine, {})
        run = link_records(records, **settings)
        report = measure_run(run, started=started).as_json()
        figures = {k: report[k] for k in ("precision", "recall", "f1", "blocking_recall", "blocked_pairs", "clusters",
                                          "oracle_best_threshold_on_this_set", "f1_across_thresholds")}
        if also_at is not None:
            figures["at_threshold_chosen_elsewhere"] = score_at(records.connection, run.predictions_table,
                                                                also_at).as_json()
    return {"dataset": dataset, "engine": engine, **figures, "seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(peak_rss_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", nargs=2, metavar=("DATASET", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--also-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.also_at)))
        return
    results: list[dict[str, Any]] = []
    chosen_on_febrl3: float | None = None
    for dataset in DATASETS:
        for engine in ENGINES:
            extra = ["--also-at", str(chosen_on_febrl3)] if engine == "person" and chosen_on_febrl3 is not None else []
            result = run_child([__file__, "--child", dataset, engine, *extra])
            if engine == "person" and dataset == "febrl3":
                chosen_on_febrl3 = result["oracle_best_threshold_on_this_set"]["threshold_match_weight"]
            results.append(result)
    if args.json:
        print(json.dumps({"results": results, "prior_anchors": PRIOR_ANCHORS,
                          "threshold_chosen_on_febrl3": chosen_on_febrl3}, indent=2))
        return
    _print(results, chosen_on_febrl3)


ROW = "{:8} {:18} {:>9} {:>7} {:>7} {:>9} {:>7} {:>6} {:>5} {:>9}  {}"


def _print(results: list[dict[str, Any]], chosen_on_febrl3: float | None) -> None:
    print(ROW.format("data set", "engine", "precision", "recall", "F1", "block rec", "pairs", "s", "MB", "oracle F1",
                     "prior F1 / block rec"))
    for r in results:
        oracle = r["oracle_best_threshold_on_this_set"]
        prior = f"{PRIOR_ANCHORS.get(r['engine'], {}).get(r['dataset'], '-')} / " \
                f"{PRIOR_ANCHORS['blocking_recall'][r['dataset']]}"
        print(ROW.format(r["dataset"], r["engine"], *_measures(r), f"{r['blocking_recall']:.4f}", r["blocked_pairs"],
                         f"{r['seconds']:.1f}", r["peak_rss_mb"], f"{oracle['f1']:.4f}" if oracle else "", prior))
        if r.get("clusters"):
            print(ROW.format("", "  clusters", *_measures(r["clusters"]), "", "", "", "", "",
                             f"({r['clusters']['clusters']} clusters)"))
        if r.get("at_threshold_chosen_elsewhere"):
            print(ROW.format("", "  at FEBRL3's best", *_measures(r["at_threshold_chosen_elsewhere"]), "", "", "", "",
                             "", f"(match weight {chosen_on_febrl3}, chosen on FEBRL3)"))
    print("Threshold: match weight 0 (probability 0.5), fixed in advance; oracle F1 = best threshold on the set "
          "itself (not an operating point); F1 across thresholds in --json.")


def _measures(figures: dict[str, Any]) -> list[str]:
    return [f"{figures[k]:.4f}" for k in ("precision", "recall", "f1")]


if __name__ == "__main__":
    main()
