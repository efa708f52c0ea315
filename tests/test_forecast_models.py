"""Each hotspot model on synthetic data from a known process: it must find what the process put there."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from safertogether.forecast.backtest import BacktestSettings, backtest
from safertogether.forecast.grid import neighbour_sum
from safertogether.forecast.metrics import bootstrap_ci, calibration, window_scores
from safertogether.forecast.models import MODELS, History
from safertogether.forecast.models.etas import fit_grid_etas
from safertogether.forecast.models.kde import quartic_kernel
from safertogether.forecast.series import make_series
from safertogether.forecast.synthetic import SyntheticProcess, TrueRate, simulate, synthetic_grid


@pytest.fixture(scope="module")
def process() -> SyntheticProcess:
    return SyntheticProcess(nx=30, ny=30, days=1400, theta=0.45, a=0.85, phi=0.4, background=0.003, seed=3)


@pytest.fixture(scope="module")
def simulated(process: SyntheticProcess):  # type: ignore[no-untyped-def]
    events, mu = simulate(process)
    grid = synthetic_grid(process)
    return events, mu, grid


def test_etas_recovers_the_parameters_it_was_simulated_with(process, simulated) -> None:  # type: ignore[no-untyped-def]
    events, mu, grid = simulated
    step = events.day - events.day.min()
    fit = fit_grid_etas(step, grid.cell_of(events.x, events.y), int(step.max()) + 1, grid)
    assert fit.theta == pytest.approx(process.theta, abs=0.07)
    assert fit.a == pytest.approx(process.a, abs=0.05)
    assert fit.phi == pytest.approx(process.phi, abs=0.12)
    hot = mu > np.median(mu)
    assert fit.mu[hot].mean() == pytest.approx(mu[hot].mean(), rel=0.25)
    assert "days" in fit.in_words("a burglary", 250)


def test_etas_without_triggering_finds_almost_none() -> None:
    quiet = SyntheticProcess(nx=20, ny=20, days=1000, theta=0.0, background=0.01, seed=5)
    events, _mu = simulate(quiet)
    grid = synthetic_grid(quiet)
    step = events.day - events.day.min()
    fit = fit_grid_etas(step, grid.cell_of(events.x, events.y), int(step.max()) + 1, grid)
    assert fit.theta < 0.05


def test_neighbour_sum_counts_the_eight_around(simulated) -> None:  # type: ignore[no-untyped-def]
    _e, _m, grid = simulated
    values = np.zeros(grid.n)
    values[grid.nx * 5 + 5] = 1
    around = neighbour_sum(grid, values)
    assert around.sum() == 8 and around[grid.nx * 5 + 5] == 0


def test_quartic_kernel_sums_to_one_and_falls_with_distance() -> None:
    kernel = quartic_kernel(600, 150)
    assert kernel.sum() == pytest.approx(1)
    centre = kernel.shape[0] // 2
    assert kernel[centre, centre] > kernel[centre, centre + 1] > kernel[centre, centre + 3] >= 0


def test_every_model_gives_an_expected_count_per_cell_from_the_past_only(simulated) -> None:  # type: ignore[no-untyped-def]
    events, _mu, grid = simulated
    series = make_series(events, grid, "week", anchor=dt.date(2021, 1, 4))
    origin = series.periods - 5
    history = History(series, origin)
    future = series.counts()[origin:]
    for name, model in MODELS.items():
        if name == "ensemble":
            continue
        expected = model().forecast(history)
        assert expected.shape == (grid.n,) and np.all(expected >= 0) and np.isfinite(expected).all(), name
        # the totals are counts per week, not scores: within a factor of three of what happened
        assert 0.33 < expected.sum() / future.sum(axis=1).mean() < 3, name
    # a model cannot see the future: changing events after the origin changes nothing
    past = series.step < series.edges[origin]
    moved = dataclasses.replace(series, step=series.step[past], cell=series.cell[past],
                                category=series.category[past])
    for name in ("longrun", "etas", "prospective"):
        assert np.allclose(MODELS[name]().forecast(History(moved, origin)), MODELS[name]().forecast(history)), name


def test_metrics_against_hand_counts() -> None:
    actual = np.array([5, 0, 3, 0, 2, 0, 0, 0, 0, 0], float)
    expected = np.array([9, 8, 1, 0, 0, 0, 0, 0, 0, 0], float)  # picks cell 1 (no events) second
    scores = window_scores(expected, actual, np.random.default_rng(0), coverages=(0.1, 0.2))
    assert scores["hit_rate"].tolist() == [0.5, 0.5]
    assert scores["pai"].tolist() == [5.0, 2.5]
    assert scores["pei_star"].tolist() == [1.0, 5 / 8]
    low, high = bootstrap_ci(np.array([0.1, 0.2, 0.3]), np.random.default_rng(0))
    assert 0.1 <= low < 0.2 < high <= 0.3
    assert calibration(expected, actual)[0]["cells"] == 7  # the cells forecast as zero


def test_ties_are_broken_at_random_not_by_storage_order() -> None:
    actual = np.zeros(1000)
    actual[:10] = 1  # events in the first cells stored
    flat = np.zeros(1000)  # a model that knows nothing
    hit = window_scores(flat, actual, np.random.default_rng(1), coverages=(0.01,))["hit_rate"][0]
    assert hit < 0.5


def test_backtest_on_a_known_process_reaches_most_of_the_perfect_model(process, simulated) -> None:  # type: ignore[no-untyped-def]
    events, mu, grid = simulated
    series = make_series(events, grid, "week", anchor=dt.date(2021, 6, 7))
    settings = BacktestSettings(models=["longrun", "etas"], test_from=dt.date(2021, 6, 7),
                                test_to=dt.date(2021, 9, 5), draws=200)
    report = backtest(series, settings, extra=[TrueRate(process, mu)])
    rows = {(r["model"], r["label"]): r for r in report["results"]}
    assert report["data"]["test_windows"][0] == "2021-06-07"
    perfect = rows[("perfect", "5.0%")]["hit_rate"]
    etas = rows[("etas", "5.0%")]
    assert etas["perfect_share"] > 0.8
    assert etas["hit_rate_ci"][0] <= etas["hit_rate"] <= etas["hit_rate_ci"][1]
    assert perfect >= rows[("longrun", "5.0%")]["hit_rate"] - 0.02
    assert {"model", "coverage", "hit_rate", "pai", "pei_star", "pai_ci", "pei_star_ci"} <= set(etas)


def test_recalibration_recovers_a_known_distortion() -> None:
    from safertogether.forecast.models.learned import recalibration

    rng = np.random.default_rng(5)
    truth = rng.gamma(0.5, 0.2, 20_000)
    distorted = 30 * truth**1.6  # too high and too spread, in the same order
    a, b = recalibration(distorted, rng.poisson(truth).astype(float))
    assert b == pytest.approx(1 / 1.6, abs=0.08)
    fixed = np.exp(a) * distorted**b
    assert fixed.sum() / truth.sum() == pytest.approx(1, abs=0.05)
    assert np.array_equal(np.argsort(fixed), np.argsort(distorted))  # the ranking (every hit rate) is kept


def test_boosted_trees_expected_counts_match_what_happened(simulated) -> None:  # type: ignore[no-untyped-def]
    events, _mu, grid = simulated
    series = make_series(events, grid, "week", anchor=dt.date(2021, 1, 4))
    counts = series.counts()
    expected, actual = [], []
    for origin in range(series.periods - 8, series.periods - 2):
        expected.append(MODELS["gbm"]().forecast(History(series, origin)))
        actual.append(counts[origin])
    expected, actual = np.concatenate(expected), np.concatenate(actual)
    assert 0.8 < expected.sum() / actual.sum() < 1.25
    bins = calibration(expected, actual)
    top = bins[-1]  # the cells forecast highest: within a factor of two of what they had
    assert 0.5 < top["observed"] / top["expected"] < 2


def test_learned_features_are_the_baselines_outputs_from_the_past_only(simulated) -> None:  # type: ignore[no-untyped-def]
    from safertogether.forecast.models.features import feature_table

    events, _mu, grid = simulated
    series = make_series(events, grid, "week", anchor=dt.date(2021, 1, 4))
    origin = series.periods - 3
    history = History(series, origin)
    table = feature_table(history)
    row = dict(zip(table.names, table.period(origin).T, strict=False))
    # at the origin the all-history feature is the long-run mean, the decayed one of half-life 1 mostly last week
    assert np.allclose(row["all@0m"], MODELS["longrun"]().forecast(history), atol=1e-5)
    last = history.counts[-1]
    assert np.corrcoef(row["half_life_1@0m"], last)[0, 1] > 0.8
    # the 300 m density is the KDE of all history (away from the square's edges, where KDE gives back lost mass)
    kde = MODELS["kde"](bandwidth_m=300.0).forecast(history)
    iy, ix = np.divmod(grid.cells, grid.nx)
    inner = (iy > 2) & (iy < grid.ny - 3) & (ix > 2) & (ix < grid.nx - 3)
    assert np.corrcoef(row["all@300m"][inner], kde[inner])[0, 1] > 0.99
    # a period's features do not change when later periods do
    earlier = History(series, origin - 10)
    assert np.allclose(feature_table(earlier).period(origin - 20), table.period(origin - 20), equal_nan=True)
    # a table kept from a later period on (what the trees train on: memory) holds the same values there
    later = feature_table(history, first=origin - 30)
    assert np.array_equal(later.period(origin - 20), table.period(origin - 20), equal_nan=True)
    with pytest.raises(IndexError):
        later.period(origin - 31)


def test_quantile_bins_keep_the_order_of_values() -> None:
    from safertogether.forecast.models.features import binned, quantile_edges

    rng = np.random.default_rng(2)
    x = np.column_stack([rng.gamma(0.3, 1.0, 5000), rng.random(5000)]).astype(np.float32)
    x[:10, 1] = np.nan
    edges = quantile_edges(x, bins=16)
    assert all(len(e) <= 15 for e in edges)
    b = binned(x, edges)
    assert np.isnan(b[:10, 1]).all() and not np.isnan(b[10:]).any()
    order = np.argsort(x[:, 0])
    assert np.all(np.diff(b[order, 0]) >= 0)  # never out of order, only coarser


def test_learned_model_reaches_most_of_the_perfect_model_on_a_known_process(process, simulated) -> None:  # type: ignore[no-untyped-def]
    events, mu, grid = simulated
    series = make_series(events, grid, "week", anchor=dt.date(2021, 6, 7))
    settings = BacktestSettings(models=["longrun", "gbm"], test_from=dt.date(2021, 6, 7),
                                test_to=dt.date(2021, 8, 1), tune_windows=2, draws=200)
    report = backtest(series, settings, extra=[TrueRate(process, mu)])
    rows = {(r["model"], r["label"]): r for r in report["results"]}
    # the triggering spills into neighbouring cells: the trees learn it from the smoothed recent counts,
    # the long-run mean cannot (measured: 0.98 of the perfect model at 10% against 0.76)
    assert rows[("gbm", "10.0%")]["perfect_share"] > 0.9
    assert rows[("gbm", "10.0%")]["hit_rate"] > rows[("longrun", "10.0%")]["hit_rate"] + 0.05
    assert rows[("gbm", "5.0%")]["perfect_share"] > 0.75
    # at 1% some weeks the perfect model caught nothing: those weeks are left out of the share, not divided by ~0
    assert all(r["perfect_share"] is None or r["perfect_share"] < 3 for r in report["results"] if "perfect_share" in r)
    gbm = report["models"]["gbm"]
    assert 0.8 < gbm["expected_over_observed"] < 1.25


def test_related_events_that_lead_the_target_are_learned_from(simulated) -> None:  # type: ignore[no-untyped-def]
    from safertogether.forecast.series import counts_on

    events, _mu, grid = simulated
    series = make_series(events, grid, "week", anchor=dt.date(2021, 1, 4))
    # a related kind of event that happens a week before each target event, in the same place
    ahead = dataclasses.replace(events, day=events.day - 7, category=np.full(len(events), "theft", dtype=object))
    related = counts_on(series, ahead)
    counts = series.counts()
    assert np.array_equal(related[:-1], counts[1:])  # counted in the target's cells and weeks
    hits = {True: [], False: []}
    for origin in range(series.periods - 4, series.periods):
        history = History(series, origin, related=related)
        for reads in hits:
            expected = MODELS["gbm"](related=reads).forecast(history)
            rng = np.random.default_rng(origin)
            hits[reads].append(window_scores(expected, counts[origin], rng, (0.05,))["hit_rate"][0])
    # the trees that read the related events find next week's events; those that may not, cannot
    assert np.mean(hits[True]) > np.mean(hits[False]) + 0.2
    assert np.mean(hits[True]) > 0.8
