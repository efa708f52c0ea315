"""Real streets to house synthetic people in: the streets police.uk names in each LSOA of a force.

police.uk's ``Location`` is "On or near <street>" for a street, or "On or near <kind of place>"
("Supermarket", "Parking Area", "Petrol Station") where the crime's snap point is not on one. A
location counts as a street when its last word is a street type (Road, Close, Gate, ...) and it has
no "/" in it; road numbers ("A594") and named places are left out. Each (LSOA, street) keeps the
distinct snap points police.uk put on it, so a home's coordinates lie near the street's real points.

When the shared data has the ONS lookup, only the force's own LSOAs are kept (police.uk files also
carry crimes a force recorded just across its border); with the Census population file, LSOAs are
weighted by residents, else equally.

Postcodes are synthetic: one per (LSOA, street), ``QL<n> <d><LL>`` with ``n`` the street's MSOA and
the unit letters from the 20 that real postcodes use. No real UK postcode area begins with Q, so none
of these can be mistaken for — or match — a real postcode.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import numpy as np

from safertogether.errors import InputFormatError

STREET_TYPES: Final = frozenset({
    "Road", "Street", "Close", "Avenue", "Lane", "Way", "Drive", "Crescent", "Gardens", "Place", "Court",
    "Grove", "Walk", "Terrace", "Rise", "Hill", "Green", "View", "Mews", "Row", "Square", "Gate", "Vale",
    "Parade", "Boulevard", "End", "Fields", "Croft", "Chase", "Meadow", "Meadows", "Wharf", "Yard", "Park",
    "Approach", "Circle", "Hollow", "Brook", "Dale", "Paddock", "Spinney", "Nook", "Holt", "Lea", "Leys",
    "Bank", "Side", "Furlong"})

#: Unit letters real postcodes use (CIKMOV never appear there).
_UNIT_LETTERS: Final = "ABDEFGHJLNPQRSTUWXYZ"
_TRAILING_CODE = re.compile(r"\s+\d{3}[A-Z]$")


@dataclass(frozen=True)
class Streets:
    """One row per (LSOA, street); points flattened with ``point_start`` offsets into ``lon``/``lat``."""

    lsoa: np.ndarray
    town: np.ndarray
    name: np.ndarray
    postcode: np.ndarray
    weight: np.ndarray  # probability of a home being on this street
    point_start: np.ndarray
    point_count: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    def __len__(self) -> int:
        return len(self.name)


def is_street(name: str) -> bool:
    """Whether a police.uk location (without "On or near ") names a street."""
    words = name.split()
    return len(words) >= 2 and "/" not in name and words[-1] in STREET_TYPES


@functools.lru_cache(maxsize=4)
def load_streets(data: Path, force: str) -> Streets:
    """The streets of a force's LSOAs from ``data/police-uk/<force>/*-street.csv``, else from the force's files in
    any folder there (``*-<force>-street.csv``, e.g. one month of many forces). Kept for the next call: reading
    three years of a force's files takes seconds."""
    police_uk = data / "police-uk"
    files = sorted((police_uk / force).glob("*-street.csv")) or sorted(police_uk.glob(f"*/*-{force}-street.csv"))
    if not files:
        raise InputFormatError(f"no police.uk street files for {force} in {police_uk}: point --data at the "
                               "shared data folder and --force at one of its forces (e.g. leicestershire)")
    db = duckdb.connect()
    db.execute("SET enable_progress_bar = false")
    rows = db.execute(_POINTS_SQL, [[str(f) for f in files]]).fetchall()
    rows = [r for r in rows if is_street(r[2])]
    rows = _in_force(db, rows, data, force)
    if not rows:
        raise InputFormatError(f"no streets found in the police.uk files of {force}")
    return _streets(rows, _residents(db, data, {r[0] for r in rows}))


_POINTS_SQL: Final = """
SELECT "LSOA code", any_value("LSOA name"), trim(substr("Location", 12)) AS street,
       list(DISTINCT struct_pack(lon := "Longitude", lat := "Latitude")
            ORDER BY struct_pack(lon := "Longitude", lat := "Latitude"))
FROM read_csv(?, all_varchar = false, union_by_name = true)
WHERE "Location" LIKE 'On or near %' AND "LSOA code" IS NOT NULL AND "Longitude" IS NOT NULL
GROUP BY 1, 3 ORDER BY 1, 3"""


def _in_force(db: duckdb.DuckDBPyConnection, rows: list[tuple], data: Path, force: str) -> list[tuple]:
    lookup = data / "boundaries" / "lsoa-2011-police-force-lookup.csv"
    if not lookup.is_file():
        return rows
    wanted = force.replace("-", " ").lower()
    codes = {c for (c,) in db.execute(
        "SELECT \"LSOA Code\" FROM read_csv(?, header = true) WHERE lower(replace(Police_force, '-', ' ')) = ?",
        [str(lookup), wanted]).fetchall()}
    return [r for r in rows if r[0] in codes] if codes else rows


def _residents(db: duckdb.DuckDBPyConnection, data: Path, codes: set[str]) -> dict[str, float]:
    census = data / "boundaries" / "lsoa-2011-census-population.csv"
    if not census.is_file():
        return {}
    found = db.execute("SELECT column06, column09 FROM read_csv(?, header = false, skip = 1, all_varchar = true)",
                           [str(census)]).fetchall()
    return {code: float(persons.replace(",", "")) for code, persons in found if code in codes and persons}


def _streets(rows: list[tuple], residents: dict[str, float]) -> Streets:
    lsoa = np.array([r[0] for r in rows], dtype=object)
    per_lsoa = {code: int(n) for code, n in zip(*np.unique(lsoa, return_counts=True), strict=True)}
    weight = np.array([residents.get(r[0], 1500.0) / per_lsoa[r[0]] for r in rows])
    points = [r[3] for r in rows]
    counts = np.array([len(p) for p in points], dtype=np.int64)
    msoa = np.array([_TRAILING_CODE.sub("", r[1]) + r[1][-5:-1] for r in rows], dtype=object)
    return Streets(
        lsoa=lsoa, town=np.array([_TRAILING_CODE.sub("", r[1]) for r in rows], dtype=object),
        name=np.array([r[2] for r in rows], dtype=object), postcode=_postcodes(msoa),
        weight=weight / weight.sum(), point_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        point_count=counts, lon=np.array([p["lon"] for ps in points for p in ps]),
        lat=np.array([p["lat"] for ps in points for p in ps]),
    )


def _postcodes(msoa: np.ndarray) -> np.ndarray:
    """One synthetic postcode per street: the MSOA's district, then sector and unit in turn."""
    districts = {m: i + 1 for i, m in enumerate(sorted(set(msoa)))}
    seen: dict[str, int] = {}
    codes = []
    for m in msoa:
        k = seen.get(m, 0)
        seen[m] = k + 1
        letters = _UNIT_LETTERS[(k // 20) % 20] + _UNIT_LETTERS[k % 20]
        codes.append(f"QL{districts[m]} {(k // 400) % 10}{letters}")
    return np.array(codes, dtype=object)
