"""Stop and search as data.police.uk serves it.

Methods: stops-street, stops-at-location, stops-no-location and stops-force.
"""

from __future__ import annotations

from typing import Any

from safertogether.policeuk import geo, params
from safertogether.policeuk.crimes import month_of
from safertogether.policeuk.ids import location_id_sql
from safertogether.policeuk.output import JsonQuery, empty_query
from safertogether.policeuk.reference import check_force, stop_outcome_id_sql
from safertogether.store.warehouse import Warehouse

STOPS_HINT = "import police.uk *-stop-and-search.csv files with `safer import police-uk`"


def stop_struct_sql(s: str = "c", n: str = "n") -> str:
    """A stop_searches row as the API's Stop object; ``n`` holds the snap point's name (see geo)."""
    location = f"""CASE WHEN {s}.latitude IS NULL OR {s}.longitude IS NULL THEN NULL ELSE
        {{'latitude': printf('%.6f', {s}.latitude),
          'street': {{'id': {location_id_sql(f"{s}.latitude", f"{s}.longitude", f"{n}.location")},
                      'name': coalesce({n}.location, '')}},
          'longitude': printf('%.6f', {s}.longitude)}} END"""
    outcome = f"nullif(trim({s}.outcome), '')"
    return f"""{{'age_range': {s}.age_range,
        'officer_defined_ethnicity': {s}.officer_defined_ethnicity,
        'involved_person': coalesce({s}.type <> 'Vehicle search', TRUE),
        'self_defined_ethnicity': {s}.self_defined_ethnicity,
        'gender': {s}.gender,
        'legislation': {s}.legislation,
        'outcome_linked_to_object_of_search': {s}.outcome_linked_to_object_of_search,
        'datetime': strftime({s}.datetime, '%Y-%m-%dT%H:%M:%S+00:00'),
        'outcome_object': {{'id': coalesce({stop_outcome_id_sql(outcome)}, ''),
                            'name': coalesce({outcome}, '')}},
        'location': {location},
        'object_of_search': {s}.object_of_search,
        'operation': {s}.part_of_a_policing_operation,
        'outcome': coalesce({outcome}, ''),
        'type': {s}.type,
        'operation_name': {s}.policing_operation,
        'removal_of_more_than_outer_clothing': {s}.removal_of_more_than_just_outer_clothing}}"""


def _stops(where: str, query_params: dict[str, Any]) -> JsonQuery:
    names = geo.POINT_NAMES_SQL.format(
        filter="AND (latitude, longitude) IN (SELECT (latitude, longitude) FROM hits)"
    )
    return JsonQuery(
        f"""WITH hits AS (SELECT c.* FROM stop_searches c WHERE {where}),
                 n AS ({names})
            SELECT to_json({stop_struct_sql("c", "n")})
            FROM hits c LEFT JOIN n ON n.latitude = c.latitude AND n.longitude = c.longitude
            ORDER BY c.datetime, c.file_id, c.row_number""",
        query_params,
    )


def _require(warehouse: Warehouse) -> None:
    warehouse.require("stop_searches", "stop-and-search records", STOPS_HINT)


def stops_street(
    warehouse: Warehouse,
    *,
    lat: str | None = None,
    lng: str | None = None,
    poly: str | None = None,
    date: str | None = None,
) -> JsonQuery:
    """Stops within a mile of a point, or inside a polygon, in one month."""
    _require(warehouse)
    base = {"month": month_of(warehouse, date)}
    place = geo.place_filter(warehouse, "stop_searches", lat, lng, poly, "c.month = $month", base)
    return _stops(f"c.month = $month AND {place.sql}", {**base, **place.params})


def stops_at_location(warehouse: Warehouse, *, location_id: str | None, date: str | None = None) -> JsonQuery:
    """Stops at one snap point (its location_id, as in any answer's ``location.street.id``)."""
    wanted = params.parse_location_id(params.require("location_id", location_id))
    _require(warehouse)
    month = month_of(warehouse, date)
    found = geo.location_index(warehouse).find(wanted) if wanted is not None else []
    if not found:
        return empty_query()
    where = geo.at_point(*found[0][:2])
    return _stops(f"c.month = $month AND {where.sql}", {"month": month, **where.params})


def stops_no_location(warehouse: Warehouse, *, force: str | None, date: str | None = None) -> JsonQuery:
    """A force's stops published without coordinates."""
    force_id = check_force(params.require("force", force))
    _require(warehouse)
    return _stops(
        "c.month = $month AND c.force_id = $force AND c.latitude IS NULL",
        {"month": month_of(warehouse, date), "force": force_id},
    )


def stops_force(warehouse: Warehouse, *, force: str | None, date: str | None = None) -> JsonQuery:
    """All of a force's stops in a month, located or not (``[]`` when it published none that month)."""
    force_id = check_force(params.require("force", force))
    _require(warehouse)
    return _stops(
        "c.month = $month AND c.force_id = $force", {"month": month_of(warehouse, date), "force": force_id}
    )
