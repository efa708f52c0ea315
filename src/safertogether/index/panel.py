"""What the index is computed from: crimes per area, period and offence, residents, and survey measures.

A :class:`Panel` is arrays over areas x periods (calendar years), filled from the warehouse:

* ``lsoa``/``msoa``/``lad``: police.uk monthly counts summed over the LSOAs of each area, residents from
  the Census (``population``), grouped by force (smoothing and funnel limits compare an area with its
  force). Only forces with crime data loaded contribute areas.
* ``borough``: the MPS ward crime files summed to boroughs, residents from ``area_population`` for each
  year (ONS mid-year estimates where there are, else projections), one group (the Met).

A period's months are those its group published; a period with fewer than the configured minimum is left
out, and shorter ones are annualised (rates per 1,000 residents a year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safertogether.disclosure.policy import Policy
from safertogether.disclosure.relations import counts_relation, released_counts
from safertogether.errors import BadRequestError, MissingDataError
from safertogether.index.disclosure import released_ward_crimes
from safertogether.store.warehouse import Warehouse

LEVELS: Final = ("lsoa", "msoa", "lad", "borough")

#: Spellings of London boroughs that differ between publishers, after :func:`name_key`.
NAME_ALIASES: Final = {"city of westminster": "westminster"}

OffenceKey = tuple[str, str | None]  # (police.uk category, offence subgroup or code where known)


def name_key(name: str) -> str:
    """An area name as compared across files: case, '&' and spacing ignored ("Richmond Upon Thames")."""
    key = re.sub(r"\s+", " ", name.replace("&", " and ").casefold()).strip()
    return NAME_ALIASES.get(key, key)


@dataclass
class Panel:
    level: str
    areas: list[str]
    names: list[str]
    groups: np.ndarray  #: the force (or other group) each area is compared with
    periods: list[str]
    months: np.ndarray  #: areas x periods: months of crime data behind each figure
    residents: np.ndarray  #: areas x periods
    counts: dict[OffenceKey, np.ndarray]  #: areas x periods per (category, offence)
    survey: dict[str, np.ndarray] = field(default_factory=dict)  #: measure name_key -> areas x survey_years
    survey_years: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def index_of(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.areas)}

    def years(self) -> np.ndarray:
        return self.months / 12.0


def load_panel(warehouse: Warehouse, level: str, policy: Policy | None = None) -> Panel:
    """The panel of a level from the warehouse (see the module docstring), with crimes as released under
    the disclosure ``policy`` (None: as counted)."""
    if level not in LEVELS:
        raise BadRequestError(f"unknown level '{level}'; use one of {', '.join(LEVELS)}")
    if level == "borough":
        warehouse.require("ward_crimes", "MPS ward crimes", "import them with `safer index import-wards FILE...`")
        with released_ward_crimes(warehouse, policy) as wards:
            panel = _borough_panel(warehouse, wards)
    else:
        warehouse.require("monthly_counts", "police.uk crimes", "import them with `safer import police-uk FOLDER`")
        with released_counts(warehouse, policy):
            panel = _lsoa_panel(warehouse, level)
    _add_survey(warehouse, panel)
    return panel


def _grids(counts: pa.Table, areas: list[str], periods: list[str]) -> dict[OffenceKey, np.ndarray]:
    """Crimes per (category, offence) as areas x periods arrays, from rows of area, period, category,
    [offence,] crimes: vectorised (nationally ~0.5 million rows, which as Python dicts took seconds)."""
    a = pc.index_in(counts.column("area"), value_set=pa.array(areas, pa.string())).fill_null(-1).to_numpy()
    p = pc.index_in(counts.column("period").cast(pa.string()), value_set=pa.array(periods, pa.string())) \
        .fill_null(-1).to_numpy()
    crimes = counts.column("crimes").cast(pa.float64()).fill_null(0).to_numpy()  # PostgreSQL sums are numeric
    offence = counts.column("offence") if "offence" in counts.column_names else pa.nulls(counts.num_rows, pa.string())
    keys = pc.dictionary_encode(pc.binary_join_element_wise(
        counts.column("category"), offence.fill_null(_NO_OFFENCE), _SEPARATOR)).combine_chunks()
    index = keys.indices.to_numpy()
    kept = (a >= 0) & (p >= 0)
    cells = a * len(periods) + p
    grids = {}
    for k, key in enumerate(keys.dictionary.to_pylist()):
        rows = kept & (index == k)
        category, found = key.split(_SEPARATOR, 1)
        grids[(category, None if found == _NO_OFFENCE else found)] = np.bincount(
            cells[rows], weights=crimes[rows], minlength=len(areas) * len(periods)).reshape(len(areas), len(periods))
    return grids


_SEPARATOR: Final = "\x1f"
_NO_OFFENCE: Final = "\x00"


#: Every LSOA with its parents and the force it is compared with: the lookup's force, else (an LSOA the
#: lookup leaves without one, or Welsh LSOAs it does not list) the force that published its crimes.
_MEMBERS_SQL: Final = """
    SELECT a.code AS lsoa_code, a.name AS lsoa_name, l.msoa_code, l.msoa_name, l.lad_code, l.lad_name,
           coalesce(a.force_id, c.force_id) AS grp, a.population
    FROM areas a LEFT JOIN lsoa_lookup l ON l.lsoa_code = a.code LEFT JOIN crime_lsoas c ON c.code = a.code
    WHERE a.level = 'lsoa'"""


def _lsoa_panel(warehouse: Warehouse, level: str) -> Panel:
    warehouse.require("population", "residents per LSOA", "import them with `safer import population FILE`")
    column, name = f"{level}_code", f"{level}_name"
    members = f"({_MEMBERS_SQL}) members WHERE grp IN (SELECT DISTINCT force_id FROM force_months)"
    areas = warehouse.query(f"""
        SELECT {column} AS area, any_value({name}) AS name, mode(grp) AS grp, sum(population) AS residents
        FROM {members} AND nullif({column}, '') IS NOT NULL GROUP BY 1 ORDER BY 1""")
    if not areas:
        raise MissingDataError("no areas of the forces with crimes loaded; import the LSOA lookup "
                               "(`safer import lookup FILE`) and boundaries for them")
    months = warehouse.query("""SELECT force_id AS grp, CAST(year(month) AS VARCHAR) AS period,
                                       count(DISTINCT month) AS months FROM force_months GROUP BY 1, 2""")
    periods = sorted({m["period"] for m in months})
    counts = warehouse.query_arrow(f"""
        SELECT {column} AS area, CAST(year(m.month) AS VARCHAR) AS period, m.crime_type AS category,
               sum(m.crimes) AS crimes
        FROM {counts_relation()} m JOIN (SELECT lsoa_code, {column} FROM {members}) s ON s.lsoa_code = m.lsoa
        GROUP BY 1, 2, 3""")
    return _assemble(level, areas, periods, months, counts, None)


def _assemble(level: str, areas: list[dict], periods: list[str], months: list[dict], counts: pa.Table,
              residents_by_year: dict[tuple[str, str], float] | None) -> Panel:
    groups = np.array([a["grp"] or "" for a in areas], dtype=object)
    by_group = {(m["grp"], m["period"]): m["months"] for m in months}
    month_grid = np.array([[by_group.get((g, p), 0) for p in periods] for g in groups], dtype=float)
    if residents_by_year is None:
        residents = np.repeat(np.array([a["residents"] or 0 for a in areas], dtype=float)[:, None], len(periods), 1)
    else:
        residents = np.array([[residents_by_year.get((a["area"], p), 0.0) for p in periods] for a in areas])
    grids = _grids(counts, [a["area"] for a in areas], periods)
    return Panel(level, [a["area"] for a in areas], [a["name"] or a["area"] for a in areas], groups, periods,
                 month_grid.reshape(len(areas), len(periods)), residents, grids)


def _borough_panel(warehouse: Warehouse, wards: str) -> Panel:
    warehouse.require("area_population", "borough populations",
                      "import them with `safer index import-population FILE`")
    population = warehouse.query("""
        SELECT code, name, CAST(year AS VARCHAR) AS year,
               first(persons ORDER BY estimate NOT ILIKE '%MYE%', estimate) AS persons
        FROM area_population GROUP BY ALL""")
    code_of = {name_key(p["name"]): p["code"] for p in population}
    named = warehouse.query(f"SELECT DISTINCT borough FROM {wards} ORDER BY 1")
    matched = {b["borough"]: code_of.get(name_key(b["borough"])) for b in named}
    unmatched = sorted(b for b, c in matched.items() if c is None)
    rows = warehouse.query(f"""SELECT borough, CAST(year(month) AS VARCHAR) AS period, category, offence,
                                      sum(crimes) AS crimes FROM {wards} GROUP BY ALL""")
    counts = pa.Table.from_pylist([{**r, "area": matched[r["borough"]], "crimes": float(r["crimes"])}
                                   for r in rows if matched.get(r["borough"])])
    months = warehouse.query(f"""SELECT 'met' AS grp, CAST(year(month) AS VARCHAR) AS period,
                                        count(DISTINCT month) AS months FROM {wards} GROUP BY 1, 2""")
    periods = sorted({m["period"] for m in months})
    codes = sorted({c for c in matched.values() if c})
    names = {p["code"]: p["name"] for p in population}
    areas = [{"area": c, "name": names.get(c, c), "grp": "met", "residents": None} for c in codes]
    residents = {(p["code"], p["year"]): float(p["persons"]) for p in population}
    panel = _assemble("borough", areas, periods, months, counts, residents)
    if unmatched:
        panel.notes.append(f"ward crimes of {', '.join(unmatched)} left out: not a borough of the population file")
    return panel


def _add_survey(warehouse: Warehouse, panel: Panel) -> None:
    """Survey measures per area and year (the mean of the year's waves), matched by area code or by name.

    Names are compared by :func:`name_key`, so the PAS file's two spellings of Richmond upon Thames are one
    borough; measures are keyed by :func:`name_key` of their name too.
    """
    rows = warehouse.query("""SELECT area, area_name, CAST(year(period) AS VARCHAR) AS period, measure, value
                              FROM survey_measures""")
    if not rows:
        return
    by_code = panel.index_of()
    by_name = {name_key(n): i for i, n in enumerate(panel.names)}
    periods = sorted({r["period"] for r in rows})
    index = {p: i for i, p in enumerate(periods)}
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    unmatched = set()
    for row in rows:
        a = by_code.get(row["area"])
        a = a if a is not None else by_name.get(name_key(row["area_name"] or row["area"]))
        if a is None:
            unmatched.add(row["area"])
            continue
        key = name_key(row["measure"])
        if key not in sums:
            sums[key] = np.zeros((len(panel.areas), len(periods)))
            counts[key] = np.zeros((len(panel.areas), len(periods)))
        sums[key][a, index[row["period"]]] += float(row["value"])
        counts[key][a, index[row["period"]]] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        panel.survey = {k: np.where(counts[k] > 0, sums[k] / counts[k], np.nan) for k in sums}
    panel.survey_years = periods
    if unmatched and panel.survey:
        panel.notes.append(f"survey areas not among the {panel.level} areas: {len(unmatched)} "
                           f"(e.g. {sorted(unmatched)[0]})")
