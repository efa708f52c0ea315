"""Monthly counts held in memory as NumPy arrays, so that any area and period is answered at once.

From DuckDB, a summary for a period nobody had asked for before took eight small queries (~11 ms
of work, ~18 ms of server CPU with the HTTP around it), and 50 residents asking at once waited
~0.7 s. The monthly tables are small — one row per LSOA, month and category: 107,480 rows for
Leicestershire's 35 months; by estimate some 25 million for ten years of England and Wales, at 16
bytes a row here ~0.4 GB — so the server keeps them as arrays sorted by LSOA and sums slices of
them. They are built once per warehouse version, on first use, and shared by all threads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safertogether.store.warehouse import Warehouse

if TYPE_CHECKING:
    from safertogether.disclosure.policy import Policy


def month_index(month: dt.date) -> int:
    """Months since year 0: consecutive months are consecutive integers."""
    return month.year * 12 + month.month - 1


@dataclass
class MonthlyCube:
    """Counts by LSOA x force x month x key (a crime type, an outcome...), one row per combination.

    Rows are sorted by LSOA, so an LSOA's rows are one slice; rows without an LSOA come last.
    """

    lsoa_ids: dict[str, int]
    keys: list[str]
    forces: list[str]
    force: np.ndarray
    month: np.ndarray
    key: np.ndarray
    count: np.ndarray
    starts: np.ndarray
    _rows: dict[Hashable, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> MonthlyCube:
        """From columns lsoa, force_id, month (DATE), key and count, sorted by lsoa with nulls last."""
        lsoa = pc.dictionary_encode(table.column("lsoa")).combine_chunks()
        force = pc.dictionary_encode(table.column("force_id")).combine_chunks()
        key = pc.dictionary_encode(table.column("key")).combine_chunks()
        months = table.column("month")
        lsoa_index = lsoa.indices.fill_null(-1).to_numpy().astype(np.int32)
        codes = lsoa.dictionary.to_pylist()
        return cls(
            lsoa_ids={code: i for i, code in enumerate(codes)},
            keys=key.dictionary.to_pylist(),
            forces=force.dictionary.to_pylist(),
            force=force.indices.fill_null(-1).to_numpy().astype(np.int16),
            month=pc.add(pc.multiply(pc.year(months), 12), pc.subtract(pc.month(months), 1))
            .to_numpy().astype(np.int32),
            key=key.indices.to_numpy().astype(np.int16),
            count=table.column("count").to_numpy().astype(np.int64),
            # Where each LSOA id's slice starts (ids are numbered in sorted order of first sight).
            starts=np.searchsorted(lsoa_index[lsoa_index >= 0], np.arange(len(codes) + 1)),
        )

    def rows_of_lsoa(self, code: str) -> np.ndarray:
        """Row numbers of one LSOA: a slice, too cheap to keep."""
        i = self.lsoa_ids.get(code)
        return np.arange(self.starts[i], self.starts[i + 1]) if i is not None else np.empty(0, np.int64)

    def rows_of_lsoas(self, name: Hashable, codes: Iterable[str]) -> np.ndarray:
        """Row numbers of the given LSOAs, kept under ``name``: areas are asked about again."""
        rows = self._rows.get(name)
        if rows is None:
            slices = [self.rows_of_lsoa(c) for c in codes]
            rows = self._rows[name] = np.concatenate(slices).astype(np.int32) if slices else np.empty(0, np.int32)
        return rows

    def rows_of_force(self, force: str) -> np.ndarray:
        """Row numbers of everything the force reported, wherever it is."""
        name = ("reported by", force)
        rows = self._rows.get(name)
        if rows is None:
            index = self.forces.index(force) if force in self.forces else -2
            rows = self._rows[name] = np.flatnonzero(self.force == index).astype(np.int32)
        return rows

    def rows_of_area(self, level: str, code: str, cubes: SummaryCubes) -> np.ndarray:
        """Row numbers of an area: its LSOAs' rows, or for a force everything it reported."""
        if level == "force":
            return self.rows_of_force(code)
        if level == "lsoa":
            return self.rows_of_lsoa(code)
        return self.rows_of_lsoas((level, code), cubes.member_lsoas(level, code))

    def _in_period(self, rows: np.ndarray, start: dt.date, end: dt.date) -> np.ndarray:
        months = self.month[rows]
        return rows[(months >= month_index(start)) & (months <= month_index(end))]

    def totals(self, rows: np.ndarray, start: dt.date, end: dt.date) -> dict[str, int]:
        """The count of each key over the period, keys with none left out."""
        chosen = self._in_period(rows, start, end)
        sums = np.bincount(self.key[chosen], weights=self.count[chosen], minlength=len(self.keys))
        return {self.keys[i]: int(sums[i]) for i in np.flatnonzero(sums)}

    def matrix(self, rows: np.ndarray, start: dt.date, end: dt.date) -> np.ndarray:
        """Counts as a months x keys array over the period (row 0 is ``start``; columns follow ``keys``)."""
        chosen = self._in_period(rows, start, end)
        width = len(self.keys)
        first = month_index(start)
        cells = (self.month[chosen] - first).astype(np.int64) * width + self.key[chosen]
        months = month_index(end) - first + 1
        sums = np.bincount(cells, weights=self.count[chosen], minlength=months * width)
        return sums.astype(np.int64).reshape(months, width)  # (months, 0) when nothing of the kind is loaded


@dataclass
class SummaryCubes:
    """What every area summary reads, held in memory: counts, outcomes, stops and months loaded."""

    crimes: MonthlyCube
    outcomes: MonthlyCube
    stops: MonthlyCube
    lsoas_of: dict[tuple[str, str], list[str]]  # (level, code) -> member LSOAs
    months_loaded: dict[str | None, set[dt.date]]  # force (None: any) -> months it published
    force_baselines: dict[tuple[str, dt.date, dt.date], dict[str, int]] = field(default_factory=dict)

    #: Force baselines kept at most (one per force and period asked for); beyond, they start again.
    MAX_BASELINES = 4096

    def member_lsoas(self, level: str, code: str) -> list[str]:
        return [code] if level == "lsoa" else self.lsoas_of.get((level, code), [])

    def latest_month(self, force: str | None) -> dt.date | None:
        """The latest month loaded for the force (any force when None)."""
        months = self.months_loaded.get(force)
        return max(months) if months else None

    def force_baseline(self, force: str, start: dt.date, end: dt.date) -> dict[str, int]:
        """Crimes per category located in a force's LSOAs (or, a force without any, that it reported).

        The same for every area of the force, so kept.
        """
        key = (force, start, end)
        found = self.force_baselines.get(key)
        if found is None:
            if len(self.force_baselines) >= self.MAX_BASELINES:
                self.force_baselines.clear()
            lsoas = self.lsoas_of.get(("force", force))
            rows = self.crimes.rows_of_lsoas(("located in", force), lsoas) if lsoas else \
                self.crimes.rows_of_force(force)
            found = self.force_baselines[key] = self.crimes.totals(rows, start, end)
        return found


_CRIMES_SQL = """SELECT lsoa, force_id, month, crime_type AS key, crimes AS count FROM monthly_counts
                 ORDER BY lsoa NULLS LAST"""
_OUTCOMES_SQL = """SELECT lsoa, force_id, month, outcome AS key, crimes AS count FROM monthly_outcomes
                   ORDER BY lsoa NULLS LAST"""
#: Stop-and-search counts per breakdown: key "field:value", a missing value counted as "Not stated".
STOP_BREAKDOWNS = ("legislation", "outcome", "self_defined_ethnicity")
# One SELECT per breakdown, joined by UNION ALL: DuckDB's UNPIVOT says the same, but PostgreSQL has none.
#: Whether a search found what it was for (police.uk's outcome_linked_to_object_of_search): key "find:yes",
#: "find:no" or "find:Not stated", so that find rates are sums of released cells too.
FIND_KEY: Final = "find"
_FIND_SQL = f"""
    SELECT lsoa, force_id, month, '{FIND_KEY}:' || CASE WHEN outcome_linked_to_object_of_search THEN 'yes'
        WHEN outcome_linked_to_object_of_search IS NULL THEN 'Not stated' ELSE 'no' END AS key, count(*) AS count
    FROM stop_searches GROUP BY 1, 2, 3, 4"""
_STOPS_SQL = "\nUNION ALL\n".join([*(f"""
    SELECT lsoa, force_id, month, '{field}:' || coalesce(nullif({field}, ''), 'Not stated') AS key, count(*) AS count
    FROM stop_searches GROUP BY 1, 2, 3, 4""" for field in STOP_BREAKDOWNS), _FIND_SQL]) + "\nORDER BY lsoa NULLS LAST"
#: Cells one stop is counted in: once under each breakdown and once under find.
STOP_CELLS_PER_STOP: Final = len(STOP_BREAKDOWNS) + 1


#: The fine tables the cubes hold (lsoa, force_id, month, key, count): what disclosure control protects.
CUBE_SQL: Final[dict[str, str]] = {"crimes": _CRIMES_SQL, "outcomes": _OUTCOMES_SQL, "stops": _STOPS_SQL}


def summary_cubes(warehouse: Warehouse, policy: Policy | None = None) -> SummaryCubes:
    """The cubes of the warehouse's current contents (built on first use; ~0.3 s for a force).

    With a disclosure ``policy`` other than exact, the cubes hold the released cells
    (:func:`safertogether.disclosure.releases.public_cells`), so every figure made from them is too.
    """
    return warehouse.memo(_cubes_name(policy), lambda w: _build(w, policy))


def _cubes_name(policy: Policy | None) -> str:
    return _CUBES if policy is None or policy.exact else f"{_CUBES} {policy.name}"


def summary_cubes_ready(warehouse: Warehouse, policy: Policy | None = None) -> bool:
    """Whether the cubes of the current contents are built (so a summary needs no I/O)."""
    return warehouse.memo_ready(_cubes_name(policy))


_CUBES = "summary cubes"


def _cells(warehouse: Warehouse, name: str, policy: Policy | None) -> pa.Table:
    if policy is None or policy.exact:
        return warehouse.query_arrow(CUBE_SQL[name])
    from safertogether.disclosure.releases import public_cells

    cells = public_cells(warehouse, policy, name).cells
    # Hidden cells count as none; differentially private cells can be negative (unbiased noise), which a
    # page cannot show (shares, rates): here they count as none too (the published datasets keep them).
    return cells.set_column(4, "count", pc.max_element_wise(pc.fill_null(cells.column("count"), 0), 0))


def _build(warehouse: Warehouse, policy: Policy | None = None) -> SummaryCubes:
    lsoas_of: dict[tuple[str, str], list[str]] = {}
    for row in warehouse.query_arrow(
            "SELECT lsoa_code, msoa_code, lad_code, force_id FROM lsoa_lookup ORDER BY lsoa_code").to_pylist():
        for level, code in (("msoa", row["msoa_code"]), ("lad", row["lad_code"]), ("force", row["force_id"])):
            if code:
                lsoas_of.setdefault((level, code), []).append(row["lsoa_code"])
    months_loaded: dict[str | None, set[dt.date]] = {None: set()}
    for row in warehouse.query("SELECT DISTINCT force_id, month FROM force_months"):
        months_loaded.setdefault(row["force_id"], set()).add(row["month"])
        months_loaded[None].add(row["month"])
    return SummaryCubes(
        crimes=MonthlyCube.from_arrow(_cells(warehouse, "crimes", policy)),
        outcomes=MonthlyCube.from_arrow(_cells(warehouse, "outcomes", policy)),
        stops=MonthlyCube.from_arrow(_cells(warehouse, "stops", policy)),
        lsoas_of=lsoas_of,
        months_loaded=months_loaded,
    )
