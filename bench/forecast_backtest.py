"""Hotspot forecast backtests on real data, beside anchors, and time and memory per forecast.

- Leicestershire police.uk (35 months): monthly horizon, 250 m cells in the force's area (the union of its
  LSOAs), the last 12 months as rolling origins, every model at every coverage level with bootstrap
  intervals, and the fairness check by IMD decile against Cambridge Crime Harm Index harm.
- Portland calls for service (NIJ 2017): burglary and theft of auto, weekly horizon, 150 m cells; the
  headline test span is the issue's default, the last year of the data (52 weekly origins), and the last 13
  weeks are run too, to set beside the anchor. A longer span, declared before any of its results were seen
  (2026-12-04, forecast5), is run beside them (``--only portland-long``): every weekly origin of the last
  three years (156 weeks from 2014-03-05), tuning on the 26 weeks before it, because a marginal interval
  over whole test windows narrows only with the number of windows (about 1.7x narrower than over 52).
  Anchors from the issue, measured with open_cp on this machine: best hit rate 0.145 at 5% (PAI 2.9) for
  burglary over 13 weeks (all-history counts: ``longrun_all``);
  grid ETAS 15-67 s per forecast; PEI* 0.83 at 0.5% on all calls (here: the two kinds of call together, the
  only ones shared).
- Every run picks its best baseline and "our model" on the tuning windows before its test span (never on the
  test span) and reports the chosen model against the best baseline, all-history counts, the previous period
  and KDE: a paired bootstrap interval of the difference and whether the marginal intervals overlap.
- A known self-exciting process: each model's hit rate as a share of the true rate's.
- Time and memory of one forecast (cold: no warm start) over the whole Leicestershire force grid (its LSOAs) at
  150 m and 250 m, and of one Portland weekly burglary forecast at 150 m, each model in a child process; the
  long-run mean is the in-run anchor, open_cp's grid ETAS (15-67 s per forecast) the issue's.

Usage: ``python bench/forecast_backtest.py [--data ../shared/data] [--out results.json] [--quick]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, run_child  # noqa: E402

ALL = ["previous", "longrun", "kde", "prospective", "etas", "gbm", "ensemble"]
#: The longer Portland test span, fixed before any of its results were seen: the last three years of weeks.
LONG_WEEKS = 156


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def _force_mask(data: Path, force: str) -> Any:
    from safertogether.forecast.context import force_area
    from safertogether.forecast.events import BNG

    with open(data / "boundaries" / "lsoa-2011-police-force-lookup.csv", encoding="utf-8") as handle:
        codes = {r["LSOA Code"] for r in csv.DictReader(handle) if r["Police_force"] == force}
    import pyproj

    return force_area(data / "boundaries" / "lsoa-2011-ew.geojson", codes, pyproj.CRS.from_epsg(BNG))


def _timed(call: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def leicestershire(data: Path, models: list[str], cell: float = 250.0) -> dict[str, Any]:
    from safertogether.forecast.backtest import BacktestSettings, backtest
    from safertogether.forecast.context import cell_deciles, read_harm_weights
    from safertogether.forecast.events import read_police_uk_events
    from safertogether.forecast.grid import build_grid
    from safertogether.forecast.series import make_series

    events = read_police_uk_events([data / "police-uk" / "leicestershire"])
    grid = build_grid(events, cell, _force_mask(data, "Leicestershire"), "Leicestershire's LSOAs")
    series = make_series(events, grid, "month")
    deciles = cell_deciles(grid, data / "boundaries" / "lsoa-2011-ew.geojson",
                           data / "deprivation" / "imd-2025-lsoa-2021.xlsx")
    weights = read_harm_weights(data / "harm" / "cchi_weights_by_category.csv")
    load = _load()
    report, wall, cpu = _timed(lambda: backtest(series, BacktestSettings(models=models), deciles=deciles,
                                                harm_weights=weights))
    report["load_before"] = load
    report.pop("maps", None)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **report}


def portland(data: Path, which: list[str], models: list[str], weeks: int = 52, related: bool = True
             ) -> dict[str, Any]:
    """A Portland run; with ``related``, the other kind of call (thefts of cars for burglaries and the other
    way round) is given as related events, which the trees may read if the tuning windows say so."""
    from safertogether.forecast.backtest import BacktestSettings, backtest
    from safertogether.forecast.prepare import Inputs, prepare

    files = {"burglary": "crimes_bur-2012-03-to-2017-02.csv", "vehicle": "crimes_veh-2012-03-to-2017-02.csv"}
    paths = [data / "portland-nij" / files[w] for w in which]
    others = [data / "portland-nij" / f for w, f in files.items() if w not in which] if related else []
    inputs = Inputs(paths, "points", "2913", "x_coordina", "y_coordina", "occ_date")
    end = dt.date(2017, 3, 1)
    test_from = end - dt.timedelta(weeks=weeks)
    prepared = prepare(inputs, horizon="week", cell_m=150, anchor=test_from, related=others)
    settings = BacktestSettings(models=models, test_from=test_from)
    load = _load()
    report, wall, cpu = _timed(lambda: backtest(prepared.series, settings, related=prepared.related))
    report["load_before"] = load
    report.pop("maps", None)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **report}


def synthetic(models: list[str]) -> dict[str, Any]:
    from safertogether.forecast.backtest import BacktestSettings, backtest
    from safertogether.forecast.series import make_series
    from safertogether.forecast.synthetic import SyntheticProcess, TrueRate, simulate, synthetic_grid

    process = SyntheticProcess(nx=60, ny=60, days=1400, theta=0.5, a=0.85, phi=0.4, background=0.002, seed=7)
    events, mu = simulate(process)
    last = events.last_day() + dt.timedelta(days=1)
    series = make_series(events, synthetic_grid(process), "week", anchor=last)
    settings = BacktestSettings(models=models, test_from=last - dt.timedelta(weeks=26))
    report = backtest(series, settings, extra=[TrueRate(process, mu)])
    report.pop("maps", None)
    return {"process": {"theta": process.theta, "a": process.a, "phi": process.phi}, **report}


#: Where one forecast is timed: the whole Leicestershire force grid (its LSOAs) at 150 m and 250 m, and a
#: Portland weekly burglary forecast at 150 m (the grid the backtest uses).
SPEED_PLACES = ("leicestershire-150", "leicestershire-250", "portland-burglary-150")


def _speed_series(data: Path, place: str) -> Any:
    from safertogether.forecast.predict import with_next_period

    if place.startswith("portland"):
        from safertogether.forecast.prepare import Inputs, prepare

        inputs = Inputs([data / "portland-nij" / "crimes_bur-2012-03-to-2017-02.csv"], "points", "2913",
                        "x_coordina", "y_coordina", "occ_date")
        return with_next_period(prepare(inputs, horizon="week", cell_m=150, anchor=dt.date(2017, 2, 22)).series)
    from safertogether.forecast.events import read_police_uk_events
    from safertogether.forecast.grid import build_grid
    from safertogether.forecast.series import make_series

    events = read_police_uk_events([data / "police-uk" / "leicestershire"])
    grid = build_grid(events, float(place.rsplit("-", 1)[1]), _force_mask(data, "Leicestershire"),
                      "Leicestershire's LSOAs")
    return with_next_period(make_series(events, grid, "month"))


def forecast_child(data: Path, model: str, place: str) -> None:
    """One cold forecast (no warm start) of the period after the data, in this process: its wall and CPU time
    and the process's peak memory (the series is built first and its memory reported apart)."""
    from safertogether.forecast.models import MODELS, History

    series = _speed_series(data, place)
    history = History(series, series.periods - 1)
    history.counts  # noqa: B018 - shared preparation, not the model's time
    before = peak_rss_mb()
    instance = MODELS[model](warm=False) if model == "etas" else MODELS[model]()
    _out, wall, cpu = _timed(lambda: instance.forecast(history))
    print(json.dumps({"model": model, "place": place, "cells": series.grid.n, "wall_s": round(wall, 3),
                      "cpu_s": round(cpu, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
                      "rss_before_mb": round(before, 1), "load": _load()}))


def speed(data: Path) -> list[dict[str, Any]]:
    """Every model's cold forecast in each place, one child process each; the long-run mean is the anchor."""
    out = []
    for place in SPEED_PLACES:
        for model in ALL[:6]:
            out.append(run_child([__file__, "--data", str(data), "--child", model, place]))
            row = out[-1]
            print(f"speed {place:<22} {row['model']:<12} {row['cells']} cells wall {row['wall_s']} s "
                  f"cpu {row['cpu_s']} s peak {row['peak_rss_mb']} MB (before the model {row['rss_before_mb']} MB) "
                  f"load {row['load']}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SAFER_DATA", "../shared/data")))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="Fewer models (no gbm, no ensemble)")
    parser.add_argument("--only", default="leicestershire,portland,synthetic,speed",
                        help="Comma-separated parts: leicestershire, portland (or one of portland_burglary_52w, "
                             "portland_vehicle_13w, ...), portland-long (156 weeks), portland-all, synthetic, "
                             "speed")
    parser.add_argument("--no-related", action="store_true",
                        help="Portland: no related events (the other kind of call) for the trees")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "PLACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        forecast_child(args.data, *args.child)
        return
    models = ALL[:5] if args.quick else ALL
    only = set(args.only.split(","))
    results: dict[str, Any] = {"load_at_start": _load(), "cores": os.cpu_count()}
    if "speed" in only:
        results["speed"] = speed(args.data)
        _save(args.out, results)
    if "synthetic" in only:
        results["synthetic"] = synthetic(models)
        _print("synthetic", results["synthetic"])
    for weeks in (52, 13, LONG_WEEKS):
        for kind, title in (("burglary", "burglary"), ("vehicle", "theft of auto")):
            key = f"portland_{kind}_{weeks}w"
            if ("portland" in only and weeks != LONG_WEEKS) or ("portland-long" in only and weeks == LONG_WEEKS) \
                    or key in only:
                results[key] = portland(args.data, [kind], models, weeks, related=not args.no_related)
                _print(f"portland {title}, {weeks} weeks", results[key])
                _save(args.out, results)
    if "portland-all" in only:
        results["portland_all"] = portland(args.data, ["burglary", "vehicle"], models)
        _print("portland both kinds", results["portland_all"])
    if "leicestershire" in only:
        results["leicestershire"] = leicestershire(args.data, models)
        _print("leicestershire", results["leicestershire"])
        _save(args.out, results)
    results["load_at_end"] = _load()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str))
    print(json.dumps({"load_at_start": results["load_at_start"], "load_at_end": results["load_at_end"]}))


def _save(out: Path | None, results: dict[str, Any]) -> None:
    if out:
        out.write_text(json.dumps(results, indent=1, default=str))


def _print(title: str, report: dict[str, Any]) -> None:
    print(f"== {title}: {report['data']['events']} events, {report['data']['cells']} cells, windows "
          f"{report['settings']['test_from']}..{report['settings']['test_to']} "
          f"({len(report['data']['test_windows'])}), "
          f"best baseline {report['best_baseline']}, chosen {report['chosen_model']} (on the tuning windows "
          f"{report['settings']['tuning_windows'][0]}..{report['settings']['tuning_windows'][-1]}: "
          f"{report['selection']['tuning_scores']}), wall {report.get('wall_s')} s cpu {report.get('cpu_s')} s, "
          f"load before {report.get('load_before')} after {_load()}")
    for row in report["results"]:
        extra = ""
        if "hit_rate_vs_best_baseline" in row:
            extra = f" vs-best {row['hit_rate_vs_best_baseline']} {row['hit_rate_vs_best_baseline_ci']}"
        if "perfect_share" in row:
            extra += f" perfect-share {row['perfect_share']} {row['perfect_share_ci']}"
        print(f"{row['model']:<12}{row['label']:>9} hit {row['hit_rate']} {row['hit_rate_ci']} pai {row['pai']} "
              f"{row['pai_ci']} pei* {row['pei_star']} {row['pei_star_ci']}{extra}")
    for name, model in report["models"].items():
        print(f"{name:<12} params {model['params']} log-score {model['log_score']} {model['log_score_ci']} "
              f"exp/obs {model['expected_over_observed']} s/forecast {model['seconds_per_forecast']} "
              f"cpu s/forecast {model.get('cpu_seconds_per_forecast')} "
              f"max {model['seconds_per_forecast_max']}")
        print(f"{'':<12} calibration (cells, expected, observed) "
              f"{[(c['cells'], round(c['expected'], 4), round(c['observed'], 4)) for c in model['calibration']]}")
    for ref, rows in ((report.get("headline") or {}).get("against") or {}).items():
        for r in rows:
            print(f"headline {report['chosen_model']} vs {ref:<12}{r['coverage']:>9} {r['ours']} {r['ours_ci']} vs "
                  f"{r['theirs']} {r['theirs_ci']} diff {r['difference']} {r['difference_ci']} "
                  f"paired-better {r['paired_better']} overlap {r['intervals_overlap']}")
    for name, fair in (report.get("fairness") or {}).items():
        if isinstance(fair, dict) and fair.get("warnings"):
            print(f"fairness {name}: {fair['warnings']}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
