"""A discrete-event simulation of one service's response: calls, dispatch, travel, on scene, return.

Each call arrives (Poisson, placed by demand), takes the nearest *available* unit (units wait at their
station; a call with no unit free waits for the first one back), which travels, stays on scene and
drives back. The response time runs from the call (plus a fixed handling delay) to arrival on scene.
Every scenario sees the same calls in replication *r* (common random numbers: the call stream is drawn
from seed *r* before any scenario runs), so differences between scenarios are not sampling noise.

Built-in check (:func:`low_demand_check`): with calls so rare that no two overlap, every response must
equal the plain travel time from the nearest station, i.e. the simulation reproduces coverage.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from safertogether.bluelight.standards import Standard


@dataclass(frozen=True)
class Demand:
    """How calls arise: yearly count over the places (weights), minutes on scene, handling delay."""

    calls_per_year: float
    weights: np.ndarray
    urban: np.ndarray
    on_scene_mean_min: float = 45.0
    handling_min: float = 0.0


@dataclass(frozen=True)
class Calls:
    """One replication's call stream: times (min), places, on-scene minutes."""

    time: np.ndarray
    place: np.ndarray
    on_scene: np.ndarray


def draw_calls(demand: Demand, days: float, seed: int) -> Calls:
    """The calls of one replication: drawn from ``seed`` alone, identical for every scenario."""
    rng = np.random.default_rng(seed)
    rate = demand.calls_per_year / (365.0 * 24 * 60)
    count = rng.poisson(rate * days * 24 * 60)
    times = np.sort(rng.uniform(0, days * 24 * 60, count))
    places = rng.choice(len(demand.weights), size=count, p=demand.weights / demand.weights.sum())
    return Calls(times, places, rng.exponential(demand.on_scene_mean_min, count))


def run_once(calls: Calls, minutes: np.ndarray, units_per_station: np.ndarray, handling: float) -> np.ndarray:
    """Response minutes of each call; ``minutes`` is stations x places travel time."""
    import simpy

    env = simpy.Environment()
    free = np.repeat(np.arange(len(minutes)), units_per_station).tolist()
    waiting: deque[int] = deque()
    response = np.full(len(calls.time), np.nan)

    def serve(call: int, station: int) -> Any:
        travel = minutes[station, calls.place[call]]
        response[call] = env.now - calls.time[call] + handling + travel
        yield env.timeout(handling + travel + calls.on_scene[call] + travel)
        if waiting:
            env.process(serve(waiting.popleft(), station))
        else:
            free.append(station)

    def arrivals() -> Any:
        for call, at in enumerate(calls.time):
            yield env.timeout(at - env.now)
            if free:
                best = min(range(len(free)), key=lambda i: minutes[free[i], calls.place[call]])
                env.process(serve(call, free.pop(best)))
            else:
                waiting.append(call)

    env.process(arrivals())
    env.run()
    return response


def simulate(scenarios: dict[str, np.ndarray], demand: Demand, standards: tuple[Standard, ...], days: float,
             replications: int, units_per_station: int = 1, seed: int = 0) -> dict[str, Any]:
    """Each scenario (stations x places minutes) over the same ``replications`` call streams."""
    per_scenario: dict[str, dict[str, list[float]]] = {name: {s.id: [] for s in standards} for name in scenarios}
    waits: dict[str, list[float]] = {name: [] for name in scenarios}
    for replication in range(replications):
        calls = draw_calls(demand, days, seed + replication)
        for name, minutes in scenarios.items():
            units = np.full(len(minutes), units_per_station)
            response = run_once(calls, minutes, units, demand.handling_min)
            urban = demand.urban[calls.place]
            for standard in standards:
                per_scenario[name][standard.id].append(
                    standard.statistic_of(response, np.ones_like(response), urban))
            nearest = minutes.min(axis=0)[calls.place] + demand.handling_min
            waits[name].append(float(np.mean(response - nearest)) if len(response) else 0.0)
    first = next(iter(per_scenario))
    return {"days": days, "replications": replications, "calls_per_year": demand.calls_per_year,
            "scenarios": {name: {"standards": {sid: _interval(values) for sid, values in stats.items()},
                                 # paired by replication: the same calls, so the difference's CI is narrow
                                 "change_vs_first": {sid: _interval(list(np.subtract(values, per_scenario[first][sid])))
                                                     for sid, values in stats.items()},
                                 "mean_delay_vs_nearest_min": _interval(waits[name])}
                          for name, stats in per_scenario.items()}}


def _interval(values: list[float]) -> dict[str, float]:
    """Mean and 95% confidence interval over replications (t distribution)."""
    from scipy import stats

    data = np.asarray(values, dtype=float)
    mean = float(np.mean(data))
    if len(data) < 2:
        return {"mean": round(mean, 2), "ci_low": round(mean, 2), "ci_high": round(mean, 2)}
    half = float(stats.t.ppf(0.975, len(data) - 1) * np.std(data, ddof=1) / np.sqrt(len(data)))
    return {"mean": round(mean, 2), "ci_low": round(mean - half, 2), "ci_high": round(mean + half, 2)}


def low_demand_check(minutes: np.ndarray, demand: Demand, calls: int = 300, seed: int = 0) -> dict[str, Any]:
    """Calls a week apart (no two overlap): every simulated response must equal the nearest travel time."""
    rare = Demand(calls_per_year=52.0, weights=demand.weights, urban=demand.urban,
                  on_scene_mean_min=demand.on_scene_mean_min, handling_min=0.0)
    drawn = draw_calls(rare, days=calls * 7.0, seed=seed)
    # a week apart exactly: no call can find its nearest unit still busy with the one before
    stream = Calls(np.arange(len(drawn.time)) * 7.0 * 24 * 60, drawn.place, drawn.on_scene)
    response = run_once(stream, minutes, np.ones(len(minutes), int), 0.0)
    expected = minutes.min(axis=0)[stream.place]
    worst = float(np.max(np.abs(response - expected))) if len(response) else 0.0
    return {"calls": len(response), "max_abs_difference_min": round(worst, 6), "passed": worst < 1e-6}
