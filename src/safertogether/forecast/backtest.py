"""Rolling-origin backtests: every model forecasts each test period from the periods before it.

The test span defaults to the last year of the data. Hyper-parameters (look-back windows, bandwidths)
are chosen on the tuning windows, the periods just before the test span, and never on the test span;
the ensemble's weights likewise, and so are the best baseline and the model to trust
(:mod:`~safertogether.forecast.selection`). Every forecast sees only events strictly before its period
(:class:`~safertogether.forecast.models.base.History`). Each model's mean over windows of each
measure comes with a bootstrap interval over windows, and every model is compared with the best
baseline window by window (a paired bootstrap of the difference). open_cp's all-history counts
(``longrun_all``) are scored beside the tuned long-run mean, as the issue's anchor.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from safertogether.errors import BadRequestError, MissingDataError
from safertogether.forecast import metrics, selection
from safertogether.forecast.models import BASELINES, MODELS, AllHistory, Ensemble, History, Model
from safertogether.forecast.series import Series

Progress = Callable[[int, int, str], None]

_YEAR = {"month": 12, "week": 52, "day": 365}
_TUNE = {"month": 6, "week": 26, "day": 28}
_MIN_TRAIN = {"month": 6, "week": 26, "day": 90}


@dataclass
class BacktestSettings:
    """What a backtest runs: which models, over which periods, scored at which coverages."""

    models: list[str] = field(default_factory=lambda: [n for n in MODELS])
    coverages: tuple[float, ...] = metrics.COVERAGES
    boxes: int = 20  #: a fixed number of patrol boxes (cells) scored beside the coverage levels
    test_from: dt.date | None = None
    test_to: dt.date | None = None
    tune_windows: int | None = None  #: periods before the test span to choose parameters on
    seed: int = 17
    draws: int = 2000
    fairness_coverage: float = 0.05  #: the flagged area judged by deprivation decile


@dataclass
class Plan:
    """The origins of a backtest: tuning windows then test windows (period indices)."""

    tune: list[int]
    test: list[int]


def plan_origins(series: Series, settings: BacktestSettings) -> Plan:
    horizon = series.horizon
    last = series.periods - 1
    first_test = (series.period_of_date(settings.test_from) if settings.test_from
                  else max(0, last + 1 - _YEAR[horizon]))
    end_test = last if settings.test_to is None else series.period_of_date(settings.test_to + dt.timedelta(1)) - 1
    tune_n = settings.tune_windows if settings.tune_windows is not None else _TUNE[horizon]
    min_train = min(_MIN_TRAIN[horizon], max(2, first_test - tune_n))
    first_test = max(first_test, min_train + tune_n)
    test = list(range(first_test, min(end_test, last) + 1))
    if not test:
        raise MissingDataError(f"no {horizon} is left to test on after {min_train + tune_n} for training and "
                               f"tuning (the data has {series.periods}); use longer data or an earlier --test-from")
    tune = list(range(max(min_train, first_test - tune_n), first_test))
    return Plan(tune, test)


class _Runner:
    """Forecasts by (model, params, origin), each computed once and timed."""

    def __init__(self, series: Series, covariates: np.ndarray | None, related: np.ndarray | None = None) -> None:
        self.series, self.covariates, self.related = series, covariates, related
        self.cache: dict[tuple[str, str, int], np.ndarray] = {}
        self.seconds: dict[tuple[str, str], list[float]] = {}  #: wall time per forecast
        self.cpu: dict[tuple[str, str], list[float]] = {}  #: CPU time (user + system) per forecast
        self._histories: dict[int, History] = {}

    def history(self, origin: int) -> History:
        if origin not in self._histories:
            # one at a time: memory
            self._histories = {origin: History(self.series, origin, self.covariates, self.related)}
        return self._histories[origin]

    def forecast(self, model: Model, key: str, origin: int) -> np.ndarray:
        index = (model.name, key, origin)
        if index not in self.cache:
            started = time.process_time(), time.perf_counter()
            self.cache[index] = np.asarray(model.forecast(self.history(origin)), np.float64)
            self.seconds.setdefault((model.name, key), []).append(time.perf_counter() - started[1])
            self.cpu.setdefault((model.name, key), []).append(time.process_time() - started[0])
        return self.cache[index]


def _key(params: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(params.items()))


def backtest(series: Series, settings: BacktestSettings | None = None, *, covariates: np.ndarray | None = None,
             related: np.ndarray | None = None, extra: Sequence[Model] = (), progress: Progress | None = None,
             deciles: np.ndarray | None = None,
             harm_weights: dict[str, float] | None = None) -> dict[str, Any]:
    """Run the backtest and return its report (JSON-ready; see :func:`results_table` for the rows).

    ``related`` holds (periods, N) counts of related events (:func:`~safertogether.forecast.series.counts_on`),
    which the learned model may read (a candidate chosen on the tuning windows). ``extra`` models (e.g. the
    true rate of a synthetic process) are scored beside the named ones, untuned, and a model named
    ``perfect`` among them is the reference for ``perfect_share``.
    """
    settings = settings or BacktestSettings()
    unknown = [m for m in settings.models if m not in MODELS]
    if unknown:
        raise BadRequestError(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    plan = plan_origins(series, settings)
    runner = _Runner(series, covariates, related)
    counts = series.counts()
    step = _Steps(progress, _work(settings, plan, series.horizon, related is not None))
    tuned = {name: _tune(name, series.horizon, plan.tune, runner, counts, settings, step)
             for name in settings.models if name != "ensemble"}
    chosen = {name: params for name, (params, _score) in tuned.items()}
    tuning = {name: score for name, (_params, score) in tuned.items()}
    models: dict[str, tuple[Model, str]] = {n: (MODELS[n](**p), _key(p)) for n, p in chosen.items()}
    if "ensemble" in settings.models:
        tuning["ensemble"] = _ensemble_tuning_score(models, plan.tune, runner, counts, settings)
        models["ensemble"] = (_fit_ensemble(models, plan.tune, runner, counts), "")
    if "longrun" in settings.models:
        models[AllHistory.name] = (AllHistory(), _key({"window": None}))
    for model in extra:
        models[model.name] = (model, "")
    scores: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in models}
    pooled: dict[str, list[np.ndarray]] = {name: [] for name in models}
    for origin in plan.test:
        actual = counts[origin]
        for name, (model, key) in models.items():
            step(f"{name} {series.period_label(origin)}")
            expected = (_ensemble_forecast(model, models, runner, origin) if isinstance(model, Ensemble)
                        else runner.forecast(model, key, origin))
            rng = np.random.default_rng([settings.seed, origin])  # the same tie order for every model
            scores[name].append(metrics.window_scores(expected, actual, rng, settings.coverages, settings.boxes))
            pooled[name].append(expected)
    report = _report(series, settings, plan, models, chosen, scores, pooled, counts, runner, tuning)
    report["maps"] = _maps(series, plan, pooled, counts)
    if deciles is not None:
        report["fairness"] = _fairness(series, settings, plan, pooled, deciles, harm_weights)
    return report


def _maps(series: Series, plan: Plan, pooled: dict[str, list[np.ndarray]], counts: np.ndarray,
          share: float = 0.05) -> dict[str, Any]:
    """The last test window: each model's top cells and where the events were (flat grid indices)."""
    grid = series.grid
    k = metrics.cells_for(share, grid.n)
    out: dict[str, Any] = {"window": series.period_label(plan.test[-1]), "share": share,
                           "grid": {"x0": grid.x0, "y0": grid.y0, "size": grid.size, "nx": grid.nx, "ny": grid.ny}}
    actual = counts[plan.test[-1]]
    hit = np.flatnonzero(actual)
    out["actual"] = [[int(grid.cells[c]), int(actual[c])] for c in hit]
    for name, forecasts in pooled.items():
        top = np.argsort(-forecasts[-1], kind="stable")[:k]
        out[name] = [[int(grid.cells[c]), round(float(forecasts[-1][c]), 4)] for c in top if forecasts[-1][c] > 0]
    return out


def _fairness(series: Series, settings: BacktestSettings, plan: Plan, pooled: dict[str, list[np.ndarray]],
              deciles: np.ndarray, harm_weights: dict[str, float] | None) -> dict[str, Any]:
    """Per model: the cells flagged at the fairness coverage (summed over test windows) by IMD decile,
    against the harm of the test windows' events."""
    from safertogether.forecast.context import harm_of
    from safertogether.forecast.fairness import fairness_by_decile

    first, last = int(series.edges[plan.test[0]]), int(series.edges[plan.test[-1] + 1])
    inside = (series.step >= first) & (series.step < last)
    harm = np.bincount(series.cell[inside], weights=harm_of(series.category[inside], harm_weights),
                       minlength=series.grid.n)
    k = metrics.cells_for(settings.fairness_coverage, series.grid.n)
    out: dict[str, Any] = {"coverage": settings.fairness_coverage,
                           "harm": "Cambridge Crime Harm Index days" if harm_weights else "event counts"}
    for name, forecasts in pooled.items():
        flagged = np.zeros(series.grid.n)
        for origin, expected in zip(plan.test, forecasts, strict=True):
            flagged[metrics.ranking(expected, np.random.default_rng([settings.seed, origin]))[:k]] += 1
        out[name] = fairness_by_decile(flagged, harm, deciles)
    return out


class _Steps:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, text: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, text)


def _work(settings: BacktestSettings, plan: Plan, horizon: str, related: bool) -> int:
    tuning = sum(len(_candidates(m, horizon, related)) for m in settings.models if m != "ensemble")
    return tuning * len(plan.tune) + (len(settings.models) + ("longrun" in settings.models)) * len(plan.test)


def _tune(name: str, horizon: str, origins: list[int], runner: _Runner, counts: np.ndarray,
          settings: BacktestSettings, step: _Steps) -> tuple[dict[str, Any], float]:
    """The candidate parameters with the best mean hit rate (over coverages) on the tuning windows,
    and that score."""
    candidates = _candidates(name, horizon, runner.related is not None)
    best, best_score = candidates[0], -np.inf
    for params in candidates:
        model = MODELS[name](**params)
        hits = []
        for origin in origins:
            step(f"tuning {name} {_key(params)}")
            hits.append(_tuning_hit_rate(runner.forecast(model, _key(params), origin), origin, counts, settings))
        score = float(np.nanmean(hits)) if hits else -np.inf
        if score > best_score + 1e-12:
            best, best_score = params, score
    return best, best_score


def _candidates(name: str, horizon: str, related: bool) -> list[dict[str, Any]]:
    """A model's candidate parameters; those reading related events only when there are some."""
    candidates = MODELS[name].candidates(horizon)  # type: ignore[attr-defined]
    return candidates if related else [c for c in candidates if not c.get("related")]


def _tuning_hit_rate(expected: np.ndarray, origin: int, counts: np.ndarray, settings: BacktestSettings) -> float:
    rng = np.random.default_rng([settings.seed, origin])
    return float(np.nanmean(metrics.window_scores(expected, counts[origin], rng, settings.coverages)["hit_rate"]))


def _ensemble_tuning_score(models: dict[str, tuple[Model, str]], origins: list[int], runner: _Runner,
                           counts: np.ndarray, settings: BacktestSettings) -> float:
    """The ensemble's tuning score, cross-fitted: weights from one half of the windows, scored on the other."""
    from safertogether.forecast.models.ensemble import fit_weights

    members = [n for n in models if n != "previous"] or list(models)
    forecasts = [np.vstack([runner.forecast(models[n][0], models[n][1], o) for n in members]) for o in origins]
    return selection.cross_fitted_score(forecasts, [counts[o] for o in origins], fit_weights,
                                        lambda expected, w: _tuning_hit_rate(expected, origins[w], counts, settings))


def _fit_ensemble(models: dict[str, tuple[Model, str]], origins: list[int], runner: _Runner,
                  counts: np.ndarray) -> Ensemble:
    members = [n for n in models if n != "previous"] or list(models)
    if not origins or not members:
        return Ensemble([models[n][0] for n in members])
    forecasts = [np.vstack([runner.forecast(models[n][0], models[n][1], o) for n in members]) for o in origins]
    from safertogether.forecast.models.ensemble import fit_weights

    weights = fit_weights(forecasts, [counts[o] for o in origins])
    return Ensemble([models[n][0] for n in members], weights)


def _ensemble_forecast(ensemble: Ensemble, models: dict[str, tuple[Model, str]], runner: _Runner,
                       origin: int) -> np.ndarray:
    started = time.perf_counter()
    out = np.zeros(runner.series.grid.n)
    for member, weight in zip(ensemble.members, ensemble.weights, strict=True):
        out += weight * runner.forecast(member, models[member.name][1], origin)
    runner.seconds.setdefault(("ensemble", ""), []).append(time.perf_counter() - started)
    return out


def _report(series: Series, settings: BacktestSettings, plan: Plan, models: dict[str, tuple[Model, str]],
            chosen: dict[str, dict[str, Any]], scores: dict[str, list[dict[str, np.ndarray]]],
            pooled: dict[str, list[np.ndarray]], counts: np.ndarray, runner: _Runner,
            tuning: dict[str, float]) -> dict[str, Any]:
    rng = np.random.default_rng(settings.seed)
    levels = [*settings.coverages, settings.boxes / series.grid.n]
    labels = [f"{c:.1%}" for c in settings.coverages] + [f"{settings.boxes} boxes"]
    per_window = {name: {m: np.vstack([w[m] for w in ws]) for m in ws[0]} for name, ws in scores.items()}
    baseline = selection.pick(tuning, BASELINES)
    ours = selection.pick(tuning, [n for n in settings.models if n not in BASELINES])
    rows, summary = [], {}
    for name, table in per_window.items():
        for j, level in enumerate(levels):
            row: dict[str, Any] = {"model": name, "coverage": round(level, 6), "label": labels[j],
                                   "horizon": series.horizon, "cells": metrics.cells_for(level, series.grid.n)
                                   if j < len(settings.coverages) else settings.boxes, "windows": len(plan.test)}
            for measure in ("hit_rate", "pai", "pei_star"):
                values = table[measure][:, j]
                row[measure] = _round(np.nanmean(values))
                row[f"{measure}_ci"] = _ci(values, rng, settings)
            if baseline and name != baseline:
                diff = table["hit_rate"][:, j] - per_window[baseline]["hit_rate"][:, j]
                row["hit_rate_vs_best_baseline"] = _round(np.nanmean(diff))
                row["hit_rate_vs_best_baseline_ci"] = _ci(diff, rng, settings)
            if "perfect" in per_window and name != "perfect":
                perfect = per_window["perfect"]["hit_rate"][:, j]
                # a window where the perfect model caught nothing says nothing of a share (it was 1e10 or so)
                ratio = np.where(perfect > 0, table["hit_rate"][:, j] / np.where(perfect > 0, perfect, 1), np.nan)
                row["perfect_share"] = _round(np.nanmean(ratio))
                row["perfect_share_ci"] = _ci(ratio, rng, settings)
            rows.append(row)
        model, key = models[name]
        times = runner.seconds.get((name, key), [])
        test_actual = np.concatenate([counts[o] for o in plan.test])
        test_expected = np.concatenate(pooled[name])
        summary[name] = {
            "params": model.describe() if isinstance(model, Ensemble) else chosen.get(name, {}),
            "log_score": _round(float(np.mean(table["log_score"]))),
            "log_score_ci": _ci(table["log_score"][:, 0], rng, settings),
            "expected_over_observed": _round(float(test_expected.sum() / max(test_actual.sum(), 1))),
            "calibration": metrics.calibration(test_expected, test_actual),
            "curve": [_round(v) for v in np.nanmean(table["curve"], axis=0)],
            "seconds_per_forecast": _round(float(np.mean(times))) if times else None,
            "seconds_per_forecast_max": _round(float(np.max(times))) if times else None,
            "cpu_seconds_per_forecast": _round(float(np.mean(cpu))) if (cpu := runner.cpu.get((name, key))) else None,
        }
    return {
        "horizon": series.horizon,
        "settings": {**asdict(settings), "test_from": series.period_label(plan.test[0]),
                     "test_to": series.period_label(plan.test[-1]),
                     "tuning_windows": [series.period_label(o) for o in plan.tune]},
        "data": {"cells": series.grid.n, "cell_m": series.grid.size_m, "crs": series.grid.crs.to_string(),
                 "study_area": series.grid.study_area, "area_km2": round(series.grid.n * series.grid.cell_area_km2, 2),
                 "events": int(len(series.step)), "events_outside_study_area": series.outside,
                 "periods": series.periods, "first_period": series.period_label(0),
                 "test_windows": [series.period_label(o) for o in plan.test]},
        "best_baseline": baseline,
        "chosen_model": ours,
        "selection": {"on": "tuning windows (before the test span)", "measure": "mean hit rate over the coverages",
                      "tuning_scores": {n: _round(v) for n, v in tuning.items()}},
        "headline": selection.headline(ours, baseline, per_window, labels, rng, settings.draws),
        "curve_coverage": [round(float(c), 4) for c in metrics.CURVE],
        "models": summary,
        "results": rows,
    }


def _ci(values: np.ndarray, rng: np.random.Generator, settings: BacktestSettings) -> list[float | None]:
    return [_round(v) for v in metrics.bootstrap_ci(values, rng, settings.draws)]


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 5)


def results_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    return list(report["results"])
