"""Protecting the fine table of counts: one function per rule, and one entry point for all of them.

Cells are counts per LSOA x force x month x key (a crime category, an outcome, a stop-and-search
breakdown). A *group* is one LSOA, force and month: the cells of a group add up to the total published
beside them (the margin), so secondary suppression works within groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safertogether.disclosure.policy import Policy

CELL_COLUMNS = ("lsoa", "force_id", "month", "key", "count")


@dataclass(frozen=True)
class ProtectedCells:
    """The released cells (``count`` null where suppressed) and each group's published total."""

    cells: pa.Table   # lsoa, force_id, month, key, count
    totals: pa.Table  # lsoa, force_id, month, count (null where the total itself had to be hidden)


def protect_cells(
    table: pa.Table, policy: Policy, noise: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ProtectedCells:
    """Apply ``policy`` to a table with columns lsoa, force_id, month (DATE), key and count.

    ``noise`` draws the differential-privacy noise for rule ``dp`` (default: OpenDP's discrete Laplace
    with scale 1/epsilon); release accounting is the caller's (:mod:`.releases`).
    """
    table = table.select(list(CELL_COLUMNS))
    if policy.rule == "dp":
        table = dense_cells(table)
    groups = _group_ids(table)
    counts = table.column("count").to_numpy(zero_copy_only=False).astype(np.int64)
    hidden_total = np.zeros(int(groups.max()) + 1 if len(groups) else 0, dtype=bool)
    hidden = np.zeros(len(counts), dtype=bool)
    if policy.rule == "suppress":
        hidden, hidden_total = suppress(groups, counts, policy.parameters["threshold"])
        released = np.where(hidden, 0, counts)
    elif policy.rule == "round":
        base = policy.parameters["base"]
        released = (random_round(counts, base, cell_hashes(table, policy.parameters["seed"]))
                    if policy.parameters["mode"] == "random" else round_nearest(counts, base))
    elif policy.rule == "dp":
        # Not clamped at zero: clamping biases every sum upwards (on Leicestershire's mostly empty cells, by
        # more than the crimes themselves); unclamped noise keeps sums unbiased, so a cell may be negative.
        released = (noise or laplace_noise(policy.parameters["epsilon"]))(counts)
    else:
        released = counts
    # Totals: exact beside suppressed cells (secondary suppression protects them), else the sum of the
    # released cells, so that a total is never more exact than its cells.
    total_source = counts if policy.rule == "suppress" else released
    totals = np.bincount(groups, weights=total_source, minlength=len(hidden_total)).astype(np.int64)
    cells = table.set_column(4, "count", pa.array(released, pa.int64(), mask=hidden))
    first = _first_of_group(groups, len(hidden_total))
    group_rows = table.take(pa.array(first)).select(["lsoa", "force_id", "month"])
    return ProtectedCells(
        cells=cells.filter(pc.or_(pc.is_null(cells.column("count")), pc.not_equal(cells.column("count"), 0)))
        if policy.rule == "dp" else cells,
        totals=group_rows.append_column("count", pa.array(totals, pa.int64(), mask=hidden_total)),
    )


def suppress(groups: np.ndarray, counts: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """Hide cells from 1 to threshold-1, and more cells (or the total) where the total would reveal them.

    Zeros are published. Knowing a group's total and its published cells, one learns the sum S of its
    k hidden cells, each at least 1, so each lies in [1, S - (k - 1)]. The smallest further cells are hidden
    until k >= 2 and S - (k - 1) >= threshold: no hidden cell is then pinned below the threshold. A group
    with too few cells for that hides its total instead. Returns (hidden cells, hidden totals per group).
    """
    hidden = (counts > 0) & (counts < threshold)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    hidden_total = np.zeros(n_groups, dtype=bool)
    needs = np.unique(groups[hidden])
    if not len(needs):
        return hidden, hidden_total
    order = np.lexsort((counts, groups))  # by group, smallest count first
    starts = np.searchsorted(groups[order], np.arange(n_groups + 1))
    for g in needs:
        rows = order[starts[g]:starts[g + 1]]
        k = int(hidden[rows].sum())
        total = int(counts[rows][hidden[rows]].sum())
        for r in rows:
            if k >= 2 and total - (k - 1) >= threshold:
                break
            if not hidden[r] and counts[r] > 0:
                hidden[r] = True
                k += 1
                total += int(counts[r])
        else:
            if not (k >= 2 and total - (k - 1) >= threshold):
                hidden_total[g] = True
    return hidden, hidden_total


def round_nearest(counts: np.ndarray, base: int) -> np.ndarray:
    """To the nearest multiple of ``base``, halves up (base 5: 0-2 -> 0, 3-7 -> 5)."""
    return ((counts + base // 2) // base) * base


def random_round(counts: np.ndarray, base: int, uniforms: np.ndarray) -> np.ndarray:
    """Unbiased random rounding: up with probability remainder/base, so the expected value is the count.

    ``uniforms`` are per-cell draws in [0, 1) tied to the cell (:func:`cell_hashes`), so an unchanged cell
    rounds the same way in every release: releasing again gives no fresh draw to average away.
    """
    remainder = counts % base
    return counts - remainder + base * (uniforms < remainder / base)


def cell_hashes(table: pa.Table, seed: int) -> np.ndarray:
    """A uniform in [0, 1) per cell, from the seed and the cell's LSOA, force, month and key (SplitMix64)."""
    parts = [_column_hash(table.column(name)) for name in ("lsoa", "force_id", "key")]
    months = table.column("month").cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False)
    state = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        for part in (*parts, months.astype(np.uint64)):
            state = _splitmix(state ^ part)
    return (state >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _splitmix(x: np.ndarray | np.uint64) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _column_hash(column: pa.ChunkedArray) -> np.ndarray:
    import hashlib

    encoded = pc.dictionary_encode(column.cast(pa.string())).combine_chunks()
    words = [int.from_bytes(hashlib.blake2b((v or "").encode(), digest_size=8).digest(), "little")
             for v in encoded.dictionary.to_pylist()]
    indices = encoded.indices.fill_null(len(words)).to_numpy(zero_copy_only=False)
    return np.array([*words, 0], dtype=np.uint64)[indices]


def laplace_noise(epsilon: float, sensitivity: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    """OpenDP's discrete Laplace mechanism with scale sensitivity/epsilon over the whole vector of cells.

    One crime more or less changes one cell by one (L1 sensitivity 1), so the release is epsilon-DP;
    OpenDP's own privacy map checks that before any noise is drawn.
    """
    try:
        import opendp.prelude as dp
    except ImportError as exc:  # pragma: no cover - the dependency is in the lock
        raise RuntimeError("differential privacy needs OpenDP: pip install opendp") from exc

    dp.enable_features("contrib")

    def draw(counts: np.ndarray) -> np.ndarray:
        space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
        measurement = space >> dp.m.then_laplace(scale=sensitivity / epsilon)
        spent = measurement.map(d_in=sensitivity)
        if spent > epsilon * (1 + 1e-9):
            raise RuntimeError(f"OpenDP's privacy map gives epsilon {spent}, above the declared {epsilon}")
        return np.asarray(measurement(counts.tolist()), dtype=np.int64)

    return draw


def dense_cells(table: pa.Table) -> pa.Table:
    """Every LSOA x month x key cell, zeros included: noise must go on empty cells too, or a row's presence
    alone would say that something happened there. Months are those of the cells' force."""
    import duckdb

    con = duckdb.connect()
    con.register("cells", table)
    dense = con.sql(
        """WITH places AS (SELECT DISTINCT lsoa, force_id FROM cells),
                months AS (SELECT DISTINCT force_id, month FROM cells),
                keys AS (SELECT DISTINCT key FROM cells)
           SELECT p.lsoa, p.force_id, m.month, k.key, coalesce(c.count, 0)::BIGINT AS count
           FROM places p JOIN months m USING (force_id) CROSS JOIN keys k
           LEFT JOIN cells c ON c.lsoa IS NOT DISTINCT FROM p.lsoa AND c.force_id IS NOT DISTINCT FROM p.force_id
                AND c.month = m.month AND c.key = k.key
           ORDER BY p.lsoa NULLS LAST, p.force_id, m.month, k.key""").arrow()
    con.close()
    return dense.read_all() if hasattr(dense, "read_all") else dense


def _group_ids(table: pa.Table) -> np.ndarray:
    """An integer per distinct (lsoa, force_id, month), numbered in order of the combination."""
    if not table.num_rows:
        return np.empty(0, np.int64)
    lsoa = _codes(table.column("lsoa"))
    force = _codes(table.column("force_id"))
    month = table.column("month").cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False)
    combined = (lsoa * (int(force.max()) + 1) + force) * 1_000_000 + (month.astype(np.int64) + 500_000)
    return np.unique(combined, return_inverse=True)[1].astype(np.int64)


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)


def _first_of_group(groups: np.ndarray, n_groups: int) -> np.ndarray:
    return np.unique(groups, return_index=True)[1] if n_groups else np.empty(0, np.int64)
