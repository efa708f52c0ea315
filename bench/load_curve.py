"""Latency against offered load for an HTTP route: a fixed number of clients, calls arriving at rising rates.

Two points (one closed loop, one paced rate) hide where a server's latency turns: this sweeps the offered load.
At each rate the calls arrive open-loop, as a Poisson process (call handlers' lookups are independent of
each other), and are served by at most ``clients`` at once (50 call handlers: a call that arrives when all 50
are busy waits its turn); latency is counted from each call's arrival, so queueing shows. The sweep stops one
rate past saturation (achieved throughput well under the offered rate, or a queue before the median call); then the
closed loop (every client sends its next call as soon as the last returns) gives the most the server does.

Each point reports p50/p95/p99, the achieved throughput, the server's and the client's CPU per call and the
machine's load average; the curve reports the highest rate whose p95 (and that of every lower rate) was
under the goal.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from _common import cpu_seconds

#: Call rates (per second, in total) offered by default; the sweep stops one past saturation.
DEFAULT_RATES = (10, 20, 40, 70, 100, 130, 160, 200, 250)
#: A point is saturated when it achieves under this share of the offered rate ...
SATURATED_SHARE = 0.85
#: ... or its p50 is over this many times the goal: a queue stands in front of the median call (past
#: saturation it grows without bound). Not the p95, which one spike of a shared machine can lift at any rate.
SATURATED_P50 = 5.0


@dataclass(frozen=True)
class Call:
    """One HTTP GET: the path, its query parameters and headers."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


def poisson_arrivals(rate: float, count: int, seed: int = 0) -> np.ndarray:
    """``count`` arrival times (seconds from the start) of a Poisson process of ``rate`` calls a second."""
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, count))


def even_arrivals(rate: float, count: int) -> np.ndarray:
    """``count`` arrivals exactly ``1 / rate`` seconds apart (the first at 0)."""
    return np.arange(count) / rate


async def drive(port: int, calls: Sequence[Call], clients: int, arrivals: np.ndarray | None = None) -> list[float]:
    """Each call sent once, at most ``clients`` in flight; each call's seconds from its arrival (``arrivals``,
    seconds from the start; None: closed loop, from when it is sent) to its answer read."""
    import aiohttp

    seconds: list[float] = []
    following = iter(range(len(calls)))
    started = time.perf_counter()

    async def client(session: aiohttp.ClientSession) -> None:
        for i in following:  # a shared iterator: a free client takes the next call due
            due = time.perf_counter() if arrivals is None else started + float(arrivals[i])
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            call = calls[i]
            async with session.get(f"http://127.0.0.1:{port}{call.path}", params=call.params,
                                   headers=call.headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{call.path} answered {response.status}")
            seconds.append(time.perf_counter() - due)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return seconds


def measured(port: int, calls: Sequence[Call], clients: int, arrivals: np.ndarray | None,
             server_cpu: Callable[[], float]) -> dict[str, Any]:
    """:func:`drive`, with the percentiles, the throughput, the server's and this process's CPU per call and
    the load average at the end."""
    server, client = server_cpu(), cpu_seconds()
    started = time.perf_counter()
    seconds = asyncio.run(drive(port, calls, clients, arrivals))
    wall = time.perf_counter() - started
    values = np.array(seconds) * 1000
    return {"calls": len(seconds),
            **{f"p{p}_ms": round(float(np.percentile(values, p)), 1) for p in (50, 95, 99)},
            "per_second": round(len(seconds) / wall, 1), "wall_s": round(wall, 1),
            "server_cpu_ms_per_call": round((server_cpu() - server) * 1000 / len(seconds), 2),
            "client_cpu_ms_per_call": round((cpu_seconds() - client) * 1000 / len(seconds), 2),
            "load_1min": round(os.getloadavg()[0], 1)}


def load_curve(port: int, calls_for: Callable[[int], list[Call]], clients: int, server_cpu: Callable[[], float],
               rates: Sequence[float] = DEFAULT_RATES, seconds: float = 10.0, min_calls: int = 150,
               goal_p95_ms: float = 50.0, seed: int = 0) -> dict[str, Any]:
    """Poisson arrivals at each rate (``max(min_calls, rate * seconds)`` calls, from ``calls_for(n)``), up to
    one rate past saturation, then the closed loop; and the highest rate whose p95 met the goal."""
    points = []
    for rate in rates:
        count = max(min_calls, int(rate * seconds))
        point = {"offered_per_s": rate, **measured(port, calls_for(count), clients,
                                                   poisson_arrivals(rate, count, seed), server_cpu)}
        points.append(point)
        if point["per_second"] < SATURATED_SHARE * rate or point["p50_ms"] > SATURATED_P50 * goal_p95_ms:
            break
    closed = measured(port, calls_for(max(min_calls, int(points[-1]["per_second"] * seconds))), clients, None,
                      server_cpu)
    return {"clients": clients, "arrivals": "Poisson", "goal_p95_ms": goal_p95_ms, "points": points,
            "closed_loop": closed, "max_rate_meeting_goal": rate_meeting_goal(points, goal_p95_ms)}


def rate_meeting_goal(points: Sequence[dict[str, Any]], goal_p95_ms: float) -> float | None:
    """The highest offered rate whose p95 was under the goal (None: none was). On a shared machine a lower
    rate may miss it where a higher one met it: :func:`curve_lines` names those."""
    met = [p["offered_per_s"] for p in points if p["p95_ms"] < goal_p95_ms]
    return max(met) if met else None


def curve_lines(name: str, curve: dict[str, Any]) -> list[str]:
    """The curve as a table of text lines, one per rate, then the closed loop and the rate meeting the goal."""
    lines = [f"  {name}: {curve['clients']} clients, {curve['arrivals']} arrivals",
             "    offered/s  achieved/s    p50     p95     p99 ms   server CPU ms/call  client  load"]
    for point in [*curve["points"], {**curve["closed_loop"], "offered_per_s": "closed"}]:
        lines.append(f"    {point['offered_per_s']!s:>9}  {point['per_second']:>10}  {point['p50_ms']:>6}  "
                     f"{point['p95_ms']:>6}  {point['p99_ms']:>7}   {point['server_cpu_ms_per_call']:>18}  "
                     f"{point['client_cpu_ms_per_call']:>6}  {point['load_1min']:>4}")
    met, goal = curve["max_rate_meeting_goal"], curve["goal_p95_ms"]
    following = [p["offered_per_s"] for p in curve["points"] if met is not None and p["offered_per_s"] > met]
    missed = [p["offered_per_s"] for p in curve["points"]
              if met is not None and p["offered_per_s"] < met and p["p95_ms"] >= goal]
    if met is None:
        lines.append(f"    highest rate with p95 under {goal:g} ms: none tried")
        return lines
    said = f"{met:g}/s" + (f", not at {following[0]:g}/s" if following else " (the highest rate tried)") + \
        (f"; missed at the lower {', '.join(f'{r:g}/s' for r in missed)} (the machine's other load)" if missed else "")
    lines.append(f"    highest rate with p95 under {goal:g} ms: {said}")
    return lines
