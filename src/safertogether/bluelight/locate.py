"""Location models: which sites to open, exactly (spopt with HiGHS) or by a swap heuristic.

Every answer is re-scored from the chosen sites, never taken from the solver's own report: spopt 0.7
with HiGHS counts near-zero variable values as open sites (it reported 96.9% coverage where the truth
was 91.5%), so a site is open only if its value exceeds 0.5; and PuLP reports "Optimal" when HiGHS
merely hit its time limit, so the status given is HiGHS's own model status and MIP gap.

MCLP is given two helps spopt 0.7 lacks: its per-place coverage flags are continuous (the same optimum,
far less branching) and HiGHS starts from the greedy cover, so a time limit cannot leave a poor answer.

The swap heuristic (Teitz and Bart's vertex substitution) optimises any objective of the nearest-open
times: the mean (p-median), the 90th centile or the share within a target, i.e. the statistic the
standard measures. A p-median with a million assignment variables did not finish in 9 minutes here; a
swap heuristic gave a better answer in 0.2 s.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from safertogether.bluelight.standards import weighted_quantile

Objective = Callable[[np.ndarray], float]  # nearest-open minutes per place -> lower is better
Model = Literal["lscp", "mclp", "backup", "pmedian"]


@dataclass
class Solution:
    """Open sites (indices of the candidate rows) and how they were found."""

    sites: np.ndarray
    method: str
    seconds: float
    status: str = "heuristic"
    gap: float | None = None
    notes: list[str] = field(default_factory=list)


def nearest(minutes: np.ndarray, sites: np.ndarray) -> np.ndarray:
    return np.asarray(minutes[sites].min(axis=0)) if len(sites) else np.full(minutes.shape[1], np.inf)


def objective_for(statistic: str, weights: np.ndarray, target: np.ndarray | float) -> Objective:
    """Lower is better: mean minutes, 90th-centile minutes, or minus the share within target."""
    if statistic == "mean":
        return lambda m: float(np.average(m, weights=weights))
    if statistic == "p90":
        return lambda m: weighted_quantile(m, weights, 0.9)
    return lambda m: -float(np.average(m <= target, weights=weights))


def swap_heuristic(minutes: np.ndarray, p: int, objective: Objective, pinned: np.ndarray | None = None,
                   start: np.ndarray | None = None, max_rounds: int = 50) -> Solution:
    """Best single swaps (open one candidate, close one unpinned site) until none improves."""
    began = time.perf_counter()
    pinned = np.asarray(pinned if pinned is not None else [], dtype=int)
    free = np.setdiff1d(np.arange(len(minutes)), pinned)
    sites = np.asarray(start, dtype=int) if start is not None else _greedy(minutes, p, objective, pinned)
    best = objective(nearest(minutes, sites))
    for _ in range(max_rounds):
        improved = False
        for out in [s for s in sites if s not in set(pinned.tolist())]:
            rest = sites[sites != out]
            base = nearest(minutes, rest)
            for candidate in np.setdiff1d(free, sites):
                value = objective(np.minimum(base, minutes[candidate]))
                if value < best - 1e-9:
                    best, sites, improved = value, np.append(rest, candidate), True
                    break
            if improved:
                break
        if not improved:
            break
    return Solution(np.sort(sites), "swap heuristic", time.perf_counter() - began)


def _greedy(minutes: np.ndarray, p: int, objective: Objective, pinned: np.ndarray) -> np.ndarray:
    sites = list(pinned)
    current = nearest(minutes, np.asarray(sites, dtype=int))
    while len(sites) < p:
        options = np.setdiff1d(np.arange(len(minutes)), sites)
        scores = [objective(np.minimum(current, minutes[c])) for c in options]
        choice = options[int(np.argmin(scores))]
        sites.append(int(choice))
        current = np.minimum(current, minutes[choice])
    return np.asarray(sites, dtype=int)


def solve_exact(model: Model, minutes: np.ndarray, weights: np.ndarray, radius: float, p: int | None,
                pinned: np.ndarray | None = None, time_limit_s: float = 60.0) -> Solution:
    """An spopt model (candidates x places cost matrix) solved by HiGHS, with the real status."""
    began = time.perf_counter()
    # TODO: spopt 0.7 builds variables the way PuLP 3.3 deprecates; drop the filter with spopt >= 0.8
    with quiet_stdout(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        problem = _spopt_model(model, minutes.T, weights, radius, p, _predefined(len(minutes), pinned))
        # HiGHS prints its banner from C even with msg=False, which would break --json: hence quiet_stdout
        start = _greedy_start(problem, minutes, weights, radius, p, pinned) if model == "mclp" else None
        try:
            problem = problem.solve(_highs(time_limit_s, start))
        except RuntimeError as exc:  # spopt raises on a status other than Optimal (e.g. no cover exists)
            return Solution(np.array([], dtype=int), f"spopt {model.upper()} + HiGHS", time.perf_counter() - began,
                            str(exc).split(":")[-1].split(".")[0].strip() or "not solved", None, [str(exc)])
    sites = np.flatnonzero([(v.value() or 0.0) > 0.5 for v in problem.fac_vars])
    status, gap = highs_status(problem.problem)
    notes = []
    reported = sum(1 for clients in getattr(problem, "fac2cli", []) if len(clients)) or None
    if reported is not None and reported != len(sites):
        notes.append(f"spopt reported {reported} open sites; {len(sites)} have value > 0.5 (used)")
    return Solution(sites, f"spopt {model.upper()} + HiGHS", time.perf_counter() - began, status, gap, notes)


def _highs(time_limit_s: float, start: dict[Any, float] | None = None) -> Any:
    """PuLP's HiGHS, given ``start`` (variable -> value) as its first incumbent when there is one."""
    import pulp

    if start is None:
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s)

    class HighsFromStart(pulp.HiGHS):  # type: ignore[misc]  # PuLP is untyped
        def callSolver(self, lp: Any) -> None:
            values = [0.0] * lp.solverModel.getNumCol()
            for variable, value in start.items():
                values[variable.index] = value
            solution = lp.solverModel.getSolution()
            solution.col_value = values
            lp.solverModel.setSolution(solution)
            super().callSolver(lp)

    return HighsFromStart(msg=False, timeLimit=time_limit_s)


def _greedy_start(problem: Any, minutes: np.ndarray, weights: np.ndarray, radius: float, p: int | None,
                  pinned: np.ndarray | None) -> dict[Any, float]:
    """The greedy sites for weighted coverage within ``radius``, as values of spopt's MCLP variables.

    With 5,000 places x 200 sites and a radius where the LP bound is fractional, HiGHS built through
    PuLP stopped at its time limit on an incumbent covering 60.6% where 83% was reachable; starting from
    the greedy answer (within a few per cent of the optimum, in a fraction of a second) it cannot end worse.
    """
    pinned = np.asarray(pinned if pinned is not None else [], dtype=int)
    sites = _greedy(minutes, p or len(pinned), objective_for("within", weights, radius), pinned)
    covered = nearest(minutes, sites) <= radius
    opened = np.isin(np.arange(len(minutes)), sites)
    return {**{v: float(o) for v, o in zip(problem.fac_vars, opened, strict=True)},
            **{v: float(c) for v, c in zip(problem.cli_vars, covered, strict=True)}}


def _spopt_model(model: Model, cost: np.ndarray, weights: np.ndarray, radius: float, p: int | None,
                 predefined: np.ndarray | None) -> Any:
    """spopt wants places (clients) x candidates (facilities)."""
    from spopt import locate

    options: dict[str, Any] = {"predefined_facilities_arr": predefined} if predefined is not None else {}
    if model == "lscp":
        return locate.LSCP.from_cost_matrix(cost, radius, **options)
    if model == "mclp":
        return _coverage_flags_continuous(locate.MCLP.from_cost_matrix(cost, weights, radius, p_facilities=p,
                                                                       **options))
    if model == "backup":
        return locate.LSCPB.from_cost_matrix(cost, radius, solver=_highs(60.0), **options)
    return locate.PMedian.from_cost_matrix(cost, weights, p_facilities=p, **options)


def _coverage_flags_continuous(problem: Any) -> Any:
    """Declare spopt's per-place "covered" flags continuous in [0, 1] (spopt 0.7 makes them integer).

    Each flag is bounded by 1 and by the open sites within reach and is maximised, so with the sites
    integer every optimum has it at 0 or 1: the same optimum, but 5,000 places are 5,000 fewer integer
    variables for HiGHS to branch on. On the bench's 5,000 x 200 instance HiGHS reached a 1% gap in 5.8 s
    of CPU instead of 50.4 s; coverage is re-scored from the sites anyway.
    """
    import pulp

    for flag in problem.cli_vars:
        flag.cat = pulp.LpContinuous
    return problem


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _predefined(n: int, pinned: np.ndarray | None) -> np.ndarray | None:
    if pinned is None or not len(pinned):
        return None
    flags = np.zeros(n, dtype=bool)
    flags[pinned] = True
    return flags


def highs_status(problem: Any) -> tuple[str, float | None]:
    """HiGHS's own model status and MIP gap (PuLP says Optimal even on a time limit)."""
    model = getattr(problem, "solverModel", None)
    if model is None:
        return "unknown", None
    status = model.modelStatusToString(model.getModelStatus())
    info = model.getInfo()
    gap = getattr(info, "mip_gap", None)
    return status, (float(gap) if gap is not None and np.isfinite(gap) and gap < 1e10 else None)
