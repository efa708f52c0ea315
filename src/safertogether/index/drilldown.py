"""Drill-down for commanders and the commissioner's office: force -> local authority -> MSOA -> LSOA.

For an area and each area one level below it, over a period (the latest 12 months loaded by default):
crimes and rate per 1,000 residents a year with its exact interval, harm (days) with the range the
categories hide, the monthly trend, outcome rates (share of crimes whose latest outcome is a charge or
summons, share closed with no suspect identified: police.uk's latest outcome per crime), the stop-and-search
find rate (share of searches whose outcome was linked to the object searched for), the latest index score at
that level, and the funnel verdict: whether the area differs from its parent by more than chance. Each child
carries its code, so one click goes from a number to the areas and months behind it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from typing import Any, Final

import numpy as np

from safertogether.disclosure.policy import Policy
from safertogether.disclosure.relations import released_cells
from safertogether.errors import MissingDataError, NotFoundError
from safertogether.index.disclosure import editions_of
from safertogether.measures.cube import FIND_KEY
from safertogether.measures.harm import HarmWeights, default_harm_weights, harm_of_counts
from safertogether.measures.rates import funnel_verdict, garwood_interval
from safertogether.model.attribution import ATTRIBUTION
from safertogether.model.forces import FORCE_NAMES
from safertogether.store.warehouse import Warehouse

CHILD_LEVEL: Final = {"force": "lad", "lad": "msoa", "msoa": "lsoa", "lsoa": None}

#: Latest outcomes that mean a suspect was charged or summonsed (the case went to court).
CHARGED: Final = frozenset({
    "Awaiting court outcome", "Court result unavailable", "Suspect charged as part of another case",
    "Offender sent to prison", "Offender given suspended prison sentence", "Offender given community sentence",
    "Offender given conditional discharge", "Offender given absolute discharge", "Offender fined",
    "Offender given a fine", "Defendant found not guilty", "Defendant sent to Crown Court",
    "Offender deprived of property", "Offender ordered to pay compensation", "Offender otherwise dealt with",
    "Court case unable to proceed"})
NO_SUSPECT: Final = "Investigation complete; no suspect identified"

_MEMBERS: Final = """
    SELECT a.code AS lsoa, l.msoa_code AS msoa, l.lad_code AS lad, coalesce(a.force_id, c.force_id) AS force_code,
           a.population FROM areas a LEFT JOIN lsoa_lookup l ON l.lsoa_code = a.code
    LEFT JOIN crime_lsoas c ON c.code = a.code WHERE a.level = 'lsoa'"""


def drilldown(warehouse: Warehouse, code: str, months: int = 12, policy: Policy | None = None) -> dict[str, Any]:
    """The area and its children with their figures (see the module docstring), every count a sum of cells
    released under the disclosure ``policy`` (None: as counted) and the index from an edition under it."""
    level = _level_of(warehouse, code)
    last = warehouse.scalar("SELECT max(month) FROM force_months")
    if last is None:
        raise MissingDataError("no crimes in the warehouse; import them with `safer import police-uk FOLDER`")
    start = _months_back(last, months - 1)
    child = CHILD_LEVEL[level]
    with contextlib.ExitStack() as stack:
        relations = {dataset: stack.enter_context(released_cells(warehouse, policy, dataset))
                     for dataset in ("crimes", "outcomes", "stops")}
        rows = _figures(warehouse, level, code, child, start, last, relations, policy)
    parent = rows.pop(code, None)
    if parent is None:
        raise NotFoundError(f"{code} has no crimes in {start:%Y-%m}..{last:%Y-%m}")
    children = list(rows.values())
    _judge(children, parent, months)
    children.sort(key=lambda r: -(r["rate"] or 0))
    up = None if level == "force" else warehouse.scalar(
        "SELECT parent FROM areas WHERE code = ? AND level = ?", [code, level])
    names = _names(warehouse, [code, *(c["code"] for c in children), *([up] if up else [])])
    for row in (parent, *children):
        row["name"] = names.get(row["code"])
    return {"area": parent, "parent": {"code": up, "name": names.get(up)} if up else None, "level": level,
            "child_level": child, "from": f"{start:%Y-%m}", "to": f"{last:%Y-%m}",
            "children": children, "attribution": ATTRIBUTION,
            "notes": ["Outcomes are police.uk's latest outcome of each crime (later outcomes may still come).",
                      "Harm ranges show what the police.uk categories hide (see the methodology)."]}


def _names(warehouse: Warehouse, codes: list[str]) -> dict[str, str]:
    """Areas' names by code (a force's from the forces list, which the areas table names by id)."""
    rows = warehouse.query(f"SELECT code, any_value(name) AS name FROM areas WHERE code IN "
                           f"({', '.join('?' * len(codes))}) GROUP BY code", codes)
    found = {r["code"]: r["name"] for r in rows if r["name"]}
    return {c: name for c in codes if (name := FORCE_NAMES.get(c) or found.get(c))}


def _level_of(warehouse: Warehouse, code: str) -> str:
    if warehouse.scalar("SELECT 1 FROM force_months WHERE force_id = ? LIMIT 1", [code]):
        return "force"
    level = warehouse.scalar("SELECT level FROM areas WHERE code = ? AND level <> 'force' LIMIT 1", [code])
    if level is None:
        raise NotFoundError(f"{code} is not a force, local authority, MSOA or LSOA; find one with `safer areas`")
    return str(level)


def _months_back(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


def _figures(warehouse: Warehouse, level: str, code: str, child: str | None, start: dt.date, end: dt.date,
             relations: dict[str, str], policy: Policy | None) -> dict[str, dict[str, Any]]:
    """Per area (the area itself and its children): crimes by category and month, outcomes, stops, from the
    fine tables' (released) cells: ``relations`` names each one's relation."""
    # "force" is a keyword to PostgreSQL's parser: the force's column is force_code.
    column_of = {"force": "force_code"}
    mine = column_of.get(level, level)
    key = f"CASE WHEN {mine} = $code THEN $code END" if child is None else \
        f"CASE WHEN {child} IS NOT NULL THEN {child} END"
    members = f"SELECT lsoa, {key} AS child, population FROM ({_MEMBERS}) WHERE {mine} = $code"
    params = {"code": code, "start": start, "end": end}
    areas: dict[str, dict[str, Any]] = {}

    def area(name: str) -> dict[str, Any]:
        return areas.setdefault(name, {"code": name, "categories": {}, "months": {}, "outcomes": {}, "stops": 0,
                                       "finds": 0, "residents": 0})

    for scope in ("self", "child"):
        column = "$code" if scope == "self" else "child"
        grouping = f"SELECT {column} AS code, sum(population) AS residents FROM ({members}) WHERE {column} " \
                   "IS NOT NULL GROUP BY 1"
        for row in warehouse.query(grouping, {"code": code}):
            area(row["code"])["residents"] = int(row["residents"] or 0)
        for row in warehouse.query(f"""
                SELECT {column} AS code, m.key AS crime_type, strftime(m.month, '%Y-%m') AS month, sum(m.count) AS n
                FROM {relations["crimes"]} m JOIN ({members}) s ON s.lsoa = m.lsoa
                WHERE m.month BETWEEN $start AND $end AND {column} IS NOT NULL GROUP BY ALL""", params):
            found = area(row["code"])
            found["categories"][row["crime_type"]] = found["categories"].get(row["crime_type"], 0) + int(row["n"])
            found["months"][row["month"]] = found["months"].get(row["month"], 0) + int(row["n"])
        for row in warehouse.query(f"""
                SELECT {column} AS code, o.key AS outcome, sum(o.count) AS n FROM {relations["outcomes"]} o
                JOIN ({members}) s ON s.lsoa = o.lsoa WHERE o.month BETWEEN $start AND $end
                AND {column} IS NOT NULL GROUP BY ALL""", params):
            area(row["code"])["outcomes"][row["outcome"]] = int(row["n"])
        # Each stop is a cell under every breakdown: the legislation cells count stops once, the find cells finds.
        for row in warehouse.query(f"""
                SELECT {column} AS code, sum(t.count) FILTER (t.key LIKE 'legislation:%') AS stops,
                       sum(t.count) FILTER (t.key = '{FIND_KEY}:yes') AS finds
                FROM {relations["stops"]} t JOIN ({members}) s ON s.lsoa = t.lsoa
                WHERE t.month BETWEEN $start AND $end AND {column} IS NOT NULL GROUP BY 1""", params):
            area(row["code"]).update(stops=int(row["stops"] or 0), finds=int(row["finds"] or 0))
        if child is None:
            break
    _add_index_scores(warehouse, areas, policy)
    return {k: _summarised(v) for k, v in areas.items()}


def _add_index_scores(warehouse: Warehouse, areas: dict[str, dict[str, Any]], policy: Policy | None) -> None:
    codes = list(areas)
    if not codes:
        return
    condition, params = editions_of(warehouse, policy)
    for row in warehouse.query(f"""
            SELECT area, score, band, period FROM (
                SELECT area, score, band, period,
                       row_number() OVER (PARTITION BY area ORDER BY edition_id DESC, period DESC) AS newest
                FROM index_scores WHERE area IN ({', '.join('?' * len(codes))}) AND {condition}) latest
            WHERE newest = 1""", [*codes, *params]):
        areas[row["area"]]["index"] = {"score": row["score"], "band": row["band"], "period": row["period"]}


def _summarised(area: dict[str, Any]) -> dict[str, Any]:
    crimes = sum(n for c, n in area["categories"].items() if c != "Anti-social behaviour")
    harm = harm_of_counts(area["categories"], _weights())
    outcomes = area.pop("outcomes")
    judged = sum(outcomes.values())
    charged = sum(n for o, n in outcomes.items() if o in CHARGED)
    return {**area, "crimes": crimes, "asb": area["categories"].get("Anti-social behaviour", 0),
            "harm_days": round(harm.days, 1), "harm_low": round(harm.low, 1), "harm_high": round(harm.high, 1),
            "charged_share": round(charged / judged, 4) if judged else None,
            "no_suspect_share": round(outcomes.get(NO_SUSPECT, 0) / judged, 4) if judged else None,
            "find_rate": round(area["finds"] / area["stops"], 4) if area["stops"] else None,
            "months": dict(sorted(area["months"].items())), "index": area.get("index")}


def _judge(children: list[dict[str, Any]], parent: dict[str, Any], months: int) -> None:
    """Rates per 1,000 residents a year with exact intervals; each child's funnel verdict against its parent."""
    years = months / 12
    for row in [parent, *children]:
        low, high = garwood_interval(np.array([row["crimes"]]))
        exposure = row["residents"] * years / 1000
        row["rate"] = round(row["crimes"] / exposure, 2) if exposure else None
        row["rate_low"] = round(float(low[0]) / exposure, 2) if exposure else None
        row["rate_high"] = round(float(high[0]) / exposure, 2) if exposure else None
    if not parent["residents"]:
        return
    parent_rate = parent["crimes"] / (parent["residents"] * years)
    counts = np.array([c["crimes"] for c in children], dtype=float)
    expected = np.array([parent_rate * c["residents"] * years for c in children])
    for row, verdict in zip(children, funnel_verdict(counts, expected), strict=True):
        row["versus_parent"] = verdict if row["residents"] else "no residents"


@functools.cache
def _weights() -> HarmWeights:
    return default_harm_weights()
