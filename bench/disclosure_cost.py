"""What each disclosure policy costs in accuracy, on Leicestershire's 35 months of police.uk data.

For each policy the fine table (LSOA x month x category, every cell including empty ones: 740+ LSOAs x
35 months x 14 categories) is protected and compared with the exact counts: mean absolute error per cell,
share of cells changed, share hidden, the largest error, and the same for what a resident sees (an LSOA's
crimes over the latest 12 months, all categories). Anchor: building the exact table itself in the same
run. Policies run on the table in memory; a DP release here is drawn and thrown away (nothing recorded).

    .venv/bin/python bench/disclosure_cost.py --data ../shared/data [--db leics.duckdb] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_reference_warehouse  # noqa: E402


def policies() -> list:
    from safertogether.disclosure.policy import policy_from_dict

    specs = [
        ("suppress t=3", "suppress", {"threshold": 3}),
        ("suppress t=5", "suppress", {"threshold": 5}),
        ("round to 5 (nearest)", "round", {"base": 5}),
        ("random round to 5", "round", {"base": 5, "mode": "random", "seed": 20261203}),
        ("random round to 3", "round", {"base": 3, "mode": "random", "seed": 20261203}),
        ("dp epsilon 1", "dp", {"epsilon": 1.0, "budget": 1.0}),
        ("dp epsilon 0.1", "dp", {"epsilon": 0.1, "budget": 0.1}),
    ]
    return [policy_from_dict({"name": n, "rule": r, "parameters": p}) for n, r, p in specs]


def warehouse_with_leicestershire(db: Path | None, data: Path, work: Path):
    from safertogether.ingest import find_police_uk_files, import_police_uk
    from safertogether.store.warehouse import open_warehouse

    if db is not None:
        return open_warehouse(db, read_only=True)
    path = work / "leics.duckdb"
    build_reference_warehouse(path, data)
    warehouse = open_warehouse(path)
    import_police_uk(warehouse, find_police_uk_files([data / "police-uk" / "leicestershire"]))
    return warehouse


def cost(exact_table, released_table, months) -> dict[str, float]:
    exact = exact_table.column("count").to_numpy()
    released_col = released_table.column("count")
    hidden = released_col.is_null().to_numpy(zero_copy_only=False)
    released = released_col.fill_null(0).to_numpy()
    error = np.abs(released - exact)
    lsoa = exact_table.column("lsoa").to_pylist()
    month = exact_table.column("month").to_pylist()
    latest = set(sorted(set(month))[-months:])
    totals_exact: dict[str, int] = {}
    totals_released: dict[str, int] = {}
    for code, m, e, r in zip(lsoa, month, exact, released, strict=True):
        if code is not None and m in latest:
            totals_exact[code] = totals_exact.get(code, 0) + int(e)
            totals_released[code] = totals_released.get(code, 0) + int(r)
    te = np.array([totals_exact[c] for c in sorted(totals_exact)])
    tr = np.array([totals_released[c] for c in sorted(totals_exact)])
    return {
        "cell_mae": float(error.mean()), "cell_max_error": int(error.max()),
        "cells_changed_share": float((error > 0).mean()),
        "nonzero_cells_changed_share": float((error[exact > 0] > 0).mean()),
        "cells_hidden_share": float(hidden.mean()),
        "lsoa_12m_mae": float(np.abs(tr - te).mean()),
        "lsoa_12m_mean_relative_error": float((np.abs(tr - te) / np.maximum(te, 1)).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SAFER_DATA", "../shared/data")))
    parser.add_argument("--db", type=Path, help="a warehouse already holding Leicestershire (else imported)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from safertogether.disclosure.protect import dense_cells, laplace_noise, protect_cells
    from safertogether.disclosure.releases import exact_cells

    with tempfile.TemporaryDirectory(prefix="safer-disclosure-cost-") as work:
        warehouse = warehouse_with_leicestershire(args.db, args.data, Path(work))
        t0, c0 = time.perf_counter(), time.process_time()
        table = dense_cells(exact_cells(warehouse, "crimes"))
        anchor = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
        warehouse.close()
    nonzero = int((table.column("count").to_numpy() > 0).sum())
    results = []
    for policy in policies():
        t0, c0 = time.perf_counter(), time.process_time()
        noise = laplace_noise(policy.parameters["epsilon"]) if policy.rule == "dp" else None
        released = protect_cells(table, policy, noise).cells
        if policy.rule == "dp":  # the release leaves zero cells out: put them back to compare cell by cell
            released = dense_cells(released.filter(released.column("count").is_valid()))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        results.append({"policy": policy.name, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                        **{k: round(v, 4) for k, v in cost(table, released, 12).items()}})
    report = {"cells": table.num_rows, "nonzero_cells": nonzero, "crimes": int(sum(table.column("count").to_pylist())),
              "anchor_exact_table": anchor, "load_average": os.getloadavg(), "policies": results}
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['cells']:,} cells (LSOA x month x category), {nonzero:,} non-zero, {report['crimes']:,} crimes; "
          f"anchor: exact table built in {anchor['seconds']:.2f} s (CPU {anchor['cpu_seconds']:.2f} s); "
          f"load average {report['load_average'][0]:.1f}")
    header = ("policy", "s", "cpu s", "cell MAE", "max", "changed", "nonzero chg", "hidden", "LSOA-12m MAE",
              "LSOA-12m rel")
    print(" | ".join(header))
    for r in results:
        print(" | ".join(str(x) for x in (r["policy"], r["seconds"], r["cpu_seconds"], r["cell_mae"],
                                          r["cell_max_error"], r["cells_changed_share"],
                                          r["nonzero_cells_changed_share"], r["cells_hidden_share"],
                                          r["lsoa_12m_mae"], r["lsoa_12m_mean_relative_error"])))


if __name__ == "__main__":
    main()
