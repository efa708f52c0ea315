"""Street crimes and outcomes as data.police.uk serves them: crimes-street, crimes-at-location,
crimes-no-location, outcomes-at-location and outcomes-for-crime.

Every method returns a :class:`~safertogether.policeuk.output.JsonQuery` (or a dict for single
objects) after validating its parameters, so a bad request fails before any answer is streamed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from safertogether.errors import BadRequestError, MissingDataError, NotFoundError
from safertogether.policeuk import geo, params
from safertogether.policeuk.ids import crime_id_sql, location_id_sql, persistent_crime_id_sql
from safertogether.policeuk.output import JsonQuery, empty_query
from safertogether.policeuk.reference import (
    category_crime_types,
    check_force,
    latest_month,
    outcome_code_sql,
    outcome_name_sql,
    slug_sql,
)
from safertogether.store.warehouse import Warehouse

IMPORT_HINT = "import police.uk files with `safer import police-uk`"


def month_of(warehouse: Warehouse, date: str | None) -> dt.date:
    """The ``date`` parameter's month, or the latest month loaded when it is absent."""
    return params.parse_month(date) or latest_month(warehouse)


def _location_sql(loc: str) -> str:
    return f"""CASE WHEN {loc}.latitude IS NULL OR {loc}.longitude IS NULL THEN NULL ELSE
        {{'latitude': printf('%.6f', {loc}.latitude),
          'street': {{'id': {location_id_sql(f"{loc}.latitude", f"{loc}.longitude", f"{loc}.location")},
                      'name': coalesce({loc}.location, '')}},
          'longitude': printf('%.6f', {loc}.longitude)}} END"""


def _location_type_sql(loc: str) -> str:
    return f"""CASE WHEN {loc}.latitude IS NULL OR {loc}.longitude IS NULL THEN NULL
                    WHEN {loc}.reported_by = 'British Transport Police' THEN 'BTP' ELSE 'Force' END"""


def crime_struct_sql(c: str = "c", outcome_month: str | None = "o.outcome_month") -> str:
    """A street_crimes row as the API's Crime object (no ``outcome_status`` when ``outcome_month`` is None).

    ``outcome_status`` is the row's ``Last outcome category`` and the month the outcomes files record it
    (the crime's own month when they do not).
    """
    status = ""
    if outcome_month is not None:
        name = outcome_name_sql(f"{c}.last_outcome_category")
        status = f""", 'outcome_status': CASE WHEN {name} IS NULL THEN NULL ELSE
            {{'category': {name}, 'date': strftime(coalesce({outcome_month}, {c}.month), '%Y-%m')}} END"""
    return f"""{{'category': {slug_sql(f"{c}.crime_type")},
        'persistent_id': coalesce({c}.crime_id, ''),
        'location_subtype': '',
        'id': {crime_id_sql(c)},
        'location': {_location_sql(c)},
        'context': coalesce({c}.context, ''),
        'month': strftime({c}.month, '%Y-%m'),
        'location_type': {_location_type_sql(c)}{status}}}"""


def _crimes(where: str, query_params: dict[str, Any]) -> JsonQuery:
    name_o, name_h = outcome_name_sql("o.outcome_type"), outcome_name_sql("h.last_outcome_category")
    return JsonQuery(
        f"""WITH hits AS MATERIALIZED (
                    SELECT c.crime_id, c.month, c.latitude, c.longitude, c.location, c.crime_type,
                           c.reported_by,
                           c.last_outcome_category, c.context, c.file_id, c.row_number
                    FROM street_crimes c WHERE {where}),
                 last AS (SELECT o.crime_id, max(o.month) AS outcome_month
                          FROM crime_outcomes o JOIN hits h ON o.crime_id = h.crime_id
                          WHERE {name_o} = {name_h} GROUP BY o.crime_id)
            SELECT to_json({crime_struct_sql("c")}) FROM hits c LEFT JOIN last o ON o.crime_id = c.crime_id
            ORDER BY c.month, c.file_id, c.row_number""",
        query_params,
    )


def _category_filter(warehouse: Warehouse, category: str) -> tuple[str, dict[str, Any]]:
    types = category_crime_types(warehouse, category)
    if types is None:
        return "TRUE", {}
    return "list_contains($types::VARCHAR[], c.crime_type)", {"types": list(types)}


def crimes_street(
    warehouse: Warehouse,
    category: str,
    *,
    lat: str | None = None,
    lng: str | None = None,
    poly: str | None = None,
    date: str | None = None,
) -> JsonQuery:
    """Crimes of a category within a mile of a point, or inside a polygon, in one month (no 10,000 cap)."""
    warehouse.require("street_crimes", "street crimes", IMPORT_HINT)
    cat_sql, cat_params = _category_filter(warehouse, category)
    base = {"month": month_of(warehouse, date), **cat_params}
    base_sql = f"c.month = $month AND {cat_sql}"
    place = geo.place_filter(warehouse, "street_crimes", lat, lng, poly, base_sql, base)
    return _crimes(f"{base_sql} AND {place.sql}", {**base, **place.params})


def _point_of(
    warehouse: Warehouse, location_id: str | None, lat: str | None, lng: str | None
) -> tuple[geo.Where, list[tuple[float, float, str]]] | None:
    """The snap point(s) of a location_id, or the one nearest lat/lng; None when the id is unknown."""
    wanted = params.parse_location_id(location_id)
    index = geo.location_index(warehouse)
    if wanted is not None:
        found = index.find(wanted)
        if not found:
            return None
        lat0, lng0, _name = found[0]
        return geo.at_point(lat0, lng0), found
    point = params.parse_point(lat, lng)
    if point is None:
        raise BadRequestError("give location_id, or lat and lng (the nearest location is used)")
    nearest = index.nearest(point)
    return (geo.at_point(*nearest), []) if nearest else None


def crimes_at_location(
    warehouse: Warehouse,
    *,
    location_id: str | None = None,
    lat: str | None = None,
    lng: str | None = None,
    date: str | None = None,
) -> JsonQuery:
    """Crimes at one snap point: a location_id's, or the one nearest lat/lng (not a radius)."""
    warehouse.require("street_crimes", "street crimes", IMPORT_HINT)
    month = month_of(warehouse, date)
    found = _point_of(warehouse, location_id, lat, lng)
    if found is None:
        return empty_query()
    where, named = found
    name_sql = ""
    if named:  # a location_id names the point's Location text too
        name_sql = " AND list_contains($names::VARCHAR[], coalesce(c.location, ''))"
    return _crimes(
        f"c.month = $month AND {where.sql}{name_sql}",
        {"month": month, **where.params, **({"names": [n for *_, n in named]} if named else {})},
    )


def crimes_no_location(
    warehouse: Warehouse, *, category: str | None, force: str | None, date: str | None = None
) -> JsonQuery:
    """Crimes of a force the files publish without coordinates (``No location``)."""
    force_id = check_force(params.require("force", force))
    warehouse.require("street_crimes", "street crimes", IMPORT_HINT)
    cat_sql, cat_params = _category_filter(warehouse, params.require("category", category))
    return _crimes(
        f"c.month = $month AND c.force_id = $force AND c.latitude IS NULL AND {cat_sql}",
        {"month": month_of(warehouse, date), "force": force_id, **cat_params},
    )


# --- outcomes -----------------------------------------------------------------------------------------


def _outcome_struct_sql(o: str = "o") -> str:
    name = outcome_name_sql(f"{o}.outcome_type")
    return f"""{{'category': {{'code': {outcome_code_sql(name)}, 'name': {name}}},
                 'date': strftime({o}.month, '%Y-%m'), 'person_id': NULL}}"""


def _outcome_crime_struct_sql(o: str = "o", s: str = "s") -> str:
    """The crime of an outcomes row: place from the row, category and month from its street record
    (both null when that crime's street month is not loaded: the outcomes files do not carry them)."""
    return f"""{{'category': {slug_sql(f"{s}.crime_type")},
        'persistent_id': {o}.crime_id,
        'location_subtype': '',
        'location_type': {_location_type_sql(o)},
        'location': {_location_sql(o)},
        'context': coalesce({s}.context, ''),
        'month': strftime({s}.month, '%Y-%m'),
        'id': {persistent_crime_id_sql(f"{o}.crime_id")}}}"""


def outcomes_at_location(
    warehouse: Warehouse,
    *,
    location_id: str | None = None,
    lat: str | None = None,
    lng: str | None = None,
    poly: str | None = None,
    date: str | None = None,
) -> JsonQuery:
    """Outcomes recorded in a month at a location_id, within a mile of lat/lng, or inside poly."""
    warehouse.require(
        "crime_outcomes",
        "crime outcomes",
        "import police.uk *-outcomes.csv files with `safer import police-uk`",
    )
    month = month_of(warehouse, date)
    base_sql, base = "c.month = $month", {"month": month}
    if location_id not in (None, ""):
        wanted = params.parse_location_id(location_id)
        found = geo.location_index(warehouse).find(wanted) if wanted is not None else []
        if not found:
            return empty_query()
        place = geo.Where(
            geo.at_point(*found[0][:2]).sql + " AND list_contains($names::VARCHAR[], "
            "coalesce(c.location, ''))",
            {**geo.at_point(*found[0][:2]).params, "names": [n for *_, n in found]},
        )
    else:
        place = geo.place_filter(warehouse, "crime_outcomes", lat, lng, poly, base_sql, base)
    return JsonQuery(
        f"""WITH hits AS (SELECT c.* FROM crime_outcomes c WHERE {base_sql} AND {place.sql}),
                 street AS (SELECT crime_id, crime_type, month, context FROM street_crimes
                            WHERE crime_id IN (SELECT crime_id FROM hits)
                            QUALIFY row_number() OVER (PARTITION BY crime_id
                                                       ORDER BY month DESC, file_id DESC) = 1)
            SELECT to_json(struct_insert({_outcome_struct_sql("o")},
                                         crime := {_outcome_crime_struct_sql("o", "s")}))
            FROM hits o LEFT JOIN street s ON s.crime_id = o.crime_id
            ORDER BY o.file_id, o.row_number""",
        {**base, **place.params},
    )


def outcomes_for_crime(warehouse: Warehouse, persistent_id: str) -> dict[str, Any]:
    """A crime and its outcome history (oldest first) from the outcomes files; 404 when unknown."""
    wanted = persistent_id.strip()
    if not wanted:
        raise BadRequestError("persistent_id is required")
    crime = warehouse.scalar(
        f"""SELECT to_json({crime_struct_sql("c", None)}) FROM street_crimes c WHERE c.crime_id = $id
            ORDER BY c.month DESC, c.file_id DESC LIMIT 1""",
        {"id": wanted},
    )
    outcomes = warehouse.query(
        f"""SELECT to_json({_outcome_struct_sql("o")}) AS j FROM crime_outcomes o WHERE o.crime_id = $id
            ORDER BY o.month, o.file_id, o.row_number""",
        {"id": wanted},
    )
    if crime is None and outcomes:
        crime = warehouse.scalar(
            f"""SELECT to_json({_outcome_crime_struct_sql("o", "s")})
                FROM crime_outcomes o LEFT JOIN street_crimes s ON FALSE WHERE o.crime_id = $id
                ORDER BY o.month DESC LIMIT 1""",
            {"id": wanted},
        )
    if crime is None:
        if not warehouse.has_rows("street_crimes") and not warehouse.has_rows("crime_outcomes"):
            raise MissingDataError(f"no street crimes or outcomes in the warehouse; {IMPORT_HINT}")
        raise NotFoundError(f"no crime with persistent_id {wanted[:80]!r} in the loaded months")
    return {"crime": orjson.loads(crime), "outcomes": [orjson.loads(r["j"]) for r in outcomes]}
