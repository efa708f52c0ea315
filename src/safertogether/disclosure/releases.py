"""Public cells from the warehouse, and the record of every release that spends a privacy budget.

Deterministic rules (suppress, round) are recomputed on demand: the same data and policy always give the
same cells. A differentially private release draws fresh noise, so it is drawn once per data version,
stored (``released_cells``, ``released_totals``) and reused; each draw spends the policy's epsilon, and the
sum spent by a policy never exceeds its declared budget (``disclosure_releases``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from safertogether.disclosure.policy import Policy
from safertogether.disclosure.protect import ProtectedCells, laplace_noise, protect_cells
from safertogether.errors import MissingDataError, SaferError
from safertogether.measures.cube import CUBE_SQL, STOP_CELLS_PER_STOP
from safertogether.store.warehouse import Warehouse

#: How many cells one event counts in: a stop is counted once under each breakdown (legislation, outcome,
#: ethnicity) and once under whether it found what it was for, so one stop more or less moves four cells; a
#: crime moves one.
SENSITIVITY: Final[dict[str, int]] = {"crimes": 1, "outcomes": 1, "stops": STOP_CELLS_PER_STOP}


class PrivacyBudgetError(SaferError, RuntimeError):
    """A release would spend more privacy budget than the policy declares."""


@dataclass(frozen=True)
class ReleaseRecord:
    release_id: str
    dataset: str
    data_version: str
    epsilon: float
    reused: bool


def data_version(warehouse: Warehouse) -> str:
    """A short hash of the source files the warehouse's current rows come from (superseded ones left out)."""
    digest = hashlib.sha256()
    for row in warehouse.query("SELECT sha256 FROM source_files WHERE status <> 'superseded' ORDER BY sha256"):
        digest.update(row["sha256"].encode())
    return digest.hexdigest()[:16]


def exact_cells(warehouse: Warehouse, dataset: str) -> pa.Table:
    """The fine table as counted: lsoa, force_id, month, key, count, sorted by LSOA (no LSOA last)."""
    return warehouse.query_arrow(CUBE_SQL[dataset])


def public_cells(warehouse: Warehouse, policy: Policy, dataset: str = "crimes") -> ProtectedCells:
    """The released cells of ``dataset`` under ``policy`` for the warehouse's current contents.

    Kept per warehouse version in a cache of this module's own, not :meth:`Warehouse.memo`: the cubes are
    built inside a memo from these cells, and the memo's lock is not re-entrant.
    """
    key = (warehouse.version, repr(policy), dataset)
    with _CACHE_LOCK:
        cache = _CACHE.setdefault(warehouse, {})
        if key not in cache:
            for stale in [k for k in cache if k[0] != warehouse.version]:
                del cache[stale]
            cache[key] = _public_cells(warehouse, policy, dataset)
        return cache[key]


_CACHE: weakref.WeakKeyDictionary[Warehouse, dict[tuple[int, str, str], ProtectedCells]] = \
    weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def _public_cells(warehouse: Warehouse, policy: Policy, dataset: str) -> ProtectedCells:
    if policy.rule != "dp":
        return protect_cells(exact_cells(warehouse, dataset), policy)
    release_id = _stored_release(warehouse, policy, dataset, data_version(warehouse))
    if release_id is None:
        raise MissingDataError(
            f"no differentially private release of {dataset} under policy {policy.name} for the current data; "
            f"run `safer publish --policy {policy.name} --out DIR` to draw one (it spends epsilon "
            f"{policy.parameters['epsilon']})")
    return _load_release(warehouse, release_id)


def release(warehouse: Warehouse, policy: Policy, dataset: str = "crimes") -> ReleaseRecord:
    """Make sure a release of ``dataset`` exists for the current data (a DP one drawn and recorded once)."""
    version = data_version(warehouse)
    if policy.rule != "dp":
        return ReleaseRecord(f"{policy.name}:{dataset}:{version}", dataset, version, 0.0, True)
    existing = _stored_release(warehouse, policy, dataset, version)
    if existing:
        return ReleaseRecord(existing, dataset, version, 0.0, True)
    epsilon = float(policy.parameters["epsilon"])
    spent = budget_spent(warehouse, policy)
    if spent + epsilon > float(policy.parameters["budget"]) + 1e-9:
        raise PrivacyBudgetError(
            f"policy {policy.name} has spent epsilon {spent:g} of its budget {policy.parameters['budget']:g}; "
            f"another release needs {epsilon:g}. Declare a new policy (and say why) or keep the last release.")
    noise = laplace_noise(epsilon, SENSITIVITY[dataset])
    protected = protect_cells(exact_cells(warehouse, dataset), policy, noise)
    release_id = f"{policy.name}:{dataset}:{version}:{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}"
    with warehouse.transaction():
        warehouse.insert_arrow("released_cells", _with_id(protected.cells, release_id))
        warehouse.insert_arrow("released_totals", _with_id(protected.totals, release_id))
        warehouse.execute(
            """INSERT INTO disclosure_releases VALUES ($id, $version, $policy, $rule, $dataset, $epsilon,
               $cells, now()::TIMESTAMP)""",
            {"id": release_id, "version": version, "policy": policy.name, "rule": policy.rule,
             "dataset": dataset, "epsilon": epsilon, "cells": protected.cells.num_rows})
    return ReleaseRecord(release_id, dataset, version, epsilon, False)


def budget_spent(warehouse: Warehouse, policy: Policy) -> float:
    """Epsilon spent so far by every release under the policy's name (all data versions: they overlap)."""
    return float(warehouse.scalar(
        "SELECT coalesce(sum(epsilon), 0) FROM disclosure_releases WHERE policy = $p", {"p": policy.name}))


def releases(warehouse: Warehouse) -> list[dict[str, Any]]:
    return warehouse.query("SELECT * EXCLUDE (release_id), release_id FROM disclosure_releases ORDER BY created_at")


def _stored_release(warehouse: Warehouse, policy: Policy, dataset: str, version: str) -> str | None:
    if not warehouse.table_exists("disclosure_releases"):
        return None
    row = warehouse.row(
        """SELECT release_id FROM disclosure_releases WHERE policy = $p AND dataset = $d AND data_version = $v
           ORDER BY created_at DESC LIMIT 1""", {"p": policy.name, "d": dataset, "v": version})
    return row[0] if row else None


def _load_release(warehouse: Warehouse, release_id: str) -> ProtectedCells:
    params = {"id": release_id}
    cells = warehouse.query_arrow(
        """SELECT lsoa, force_id, month, key, count FROM released_cells WHERE release_id = $id
           ORDER BY lsoa NULLS LAST, force_id, month, key""", params)
    totals = warehouse.query_arrow(
        "SELECT lsoa, force_id, month, count FROM released_totals WHERE release_id = $id", params)
    return ProtectedCells(cells, totals)


def _with_id(table: pa.Table, release_id: str) -> pa.Table:
    return table.add_column(0, "release_id", pa.array([release_id] * table.num_rows, pa.string()))
