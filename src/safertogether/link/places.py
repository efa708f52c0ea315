"""Addresses linked across agencies into places, each placed in its LSOA: a place's cross-agency history.

Every person record and incident record with an address is given a place: the building (house
number, street, town) once the address is taken apart and its street type spelled out
(:mod:`safertogether.link.addresses`), so "Flat 2, 14 Hobill Close", "2/14 Hobill Cl" and
"14B HOBILL CLOSE" are one place, with the flat kept beside the link. An address with a street but no
number (a road traffic collision on "Gotham Street") is a street-level place. A place's id is a hash
of its key: the same address has the same id in every run and every warehouse, without bookkeeping.

A place's LSOA comes from the coordinates its incidents were logged at (the LSOA most of them fall
in, when boundaries are imported), else from the street: police.uk's street names per LSOA (the
street index), within the district the address names, choosing the LSOA with most crimes on it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

import duckdb
import numpy as np
import pyarrow as pa

from safertogether.errors import NotFoundError
from safertogether.link.addresses import address_parts_sql, street_parts_sql
from safertogether.link.partners import record_key_sql
from safertogether.link.records import registered

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

# (record table, the columns read from it, key of a record, its date, longitude, latitude) for each table
# whose rows carry an address.
_SOURCES: Final = (
    ("person_records", "agency, record_id, recorded_on, address, postcode", record_key_sql(),
     "recorded_on", "NULL::DOUBLE", "NULL::DOUBLE"),
    ("incident_records", "agency, incident_ref, started_at, longitude, latitude, address, postcode",
     record_key_sql(reference="incident_ref"), "CAST(started_at AS DATE)", "longitude", "latitude"),
)


@dataclass(frozen=True)
class PlacesReport:
    """What :func:`link_places` stored."""

    records: int
    records_placed: int
    places: int
    places_with_lsoa: int
    multi_agency_places: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _records_sql() -> str:
    parts = address_parts_sql("address")
    union = " UNION ALL ".join(
        f"SELECT '{table}' AS record_table, {key} AS record_key, agency, {day} AS day, address, "
        f"nullif(regexp_replace(upper(postcode), '[^A-Z0-9]', '', 'g'), '') AS postcode, "
        f"{lon} AS longitude, {lat} AS latitude FROM {table}"
        for table, _columns, key, day, lon, lat in _SOURCES)
    street = street_parts_sql("address_line")
    return f"""
        WITH raw AS ({union}),
        lines AS (SELECT *, {parts['address_line']} AS address_line, {parts['town']} AS town FROM raw),
        parts AS (SELECT *, {street['house']} AS house, {street['flat']} AS flat, {street['street']} AS street
                  FROM lines)
        SELECT record_table, record_key, agency, day, postcode, longitude, latitude, house, flat, street, town,
               'A' || substr(md5(concat_ws('|', coalesce(house, ''), street, town)), 1, 16) AS place_id
        FROM parts WHERE street IS NOT NULL AND town IS NOT NULL"""


def link_places(warehouse: Warehouse) -> PlacesReport:
    """Link every person and incident record's address to a place, place each in its LSOA, and store both.

    Writes ``places`` (one row per place) and ``record_places`` (one row per record with a place)
    in one transaction, replacing the previous ones.
    """
    started = time.perf_counter()
    connection = duckdb.connect()
    records = 0
    for table, columns, *_ in _SOURCES:
        rows = warehouse.query_arrow(f"SELECT {columns} FROM {table}")
        records += rows.num_rows
        connection.register(table, rows)
    connection.execute(f"CREATE TABLE linked AS {_records_sql()}")
    connection.execute("""
        CREATE TABLE place_rows AS
        SELECT place_id,
               CASE WHEN any_value(house) IS NULL THEN 'street' ELSE 'building' END AS kind,
               any_value(house) AS house, any_value(street) AS street, any_value(town) AS town,
               mode(postcode) AS postcode, avg(longitude) AS longitude, avg(latitude) AS latitude,
               count(*) FILTER (WHERE record_table = 'person_records') AS person_records,
               count(*) FILTER (WHERE record_table = 'incident_records') AS incident_records,
               count(DISTINCT agency) AS agencies, min(day) AS first_seen, max(day) AS last_seen
        FROM linked GROUP BY place_id""")
    lsoas = _lsoas(warehouse, connection)
    connection.register("lsoas", lsoas)
    places = connection.sql("""
        SELECT p.place_id, p.kind, p.house, p.street, p.town, p.postcode, l.lsoa_code, l.placed_by,
               p.longitude, p.latitude, p.person_records, p.incident_records, p.agencies, p.first_seen, p.last_seen
        FROM place_rows p LEFT JOIN lsoas l USING (place_id)""").to_arrow_table()
    links = connection.sql("SELECT record_table, record_key, place_id, flat FROM linked").to_arrow_table()
    with warehouse.transaction():
        warehouse.execute("DELETE FROM places_linked")
        warehouse.execute("DELETE FROM record_places")
        warehouse.insert_arrow("places_linked", places)
        warehouse.insert_arrow("record_places", links)
    with_lsoa = sum(1 for code in places.column("lsoa_code").to_pylist() if code)
    multi = sum(1 for n in places.column("agencies").to_pylist() if n > 1)
    return PlacesReport(int(records), links.num_rows, places.num_rows, with_lsoa, multi,
                        round(time.perf_counter() - started, 3))


def _lsoas(warehouse: Warehouse, connection: duckdb.DuckDBPyConnection) -> pa.Table:
    """place_id -> LSOA code and how it was found, as an Arrow table.

    A street often crosses several LSOAs and logged coordinates fall either side of a border, so
    both are used: among the LSOAs the street runs through (in the district the address names), the
    one the coordinates fall in if it is one of them ("street and coordinates"), else the one with
    most crimes on the street ("street"); with no street known, the coordinates alone ("coordinates").
    On seed 7 of the generator the street alone placed 89.7% of places right, coordinates first 86.2%.
    """
    connection.execute("CREATE TABLE point_lsoas (place_id VARCHAR, lsoa_code VARCHAR)")
    connection.execute("CREATE TABLE streets (street VARCHAR, district VARCHAR, lsoa VARCHAR, crimes BIGINT)")
    if warehouse.has_rows("area_shapes"):
        from safertogether.areas.assign import lsoa_of

        points = connection.execute("""
            SELECT place_id, longitude, latitude FROM linked
            WHERE longitude IS NOT NULL AND latitude IS NOT NULL""").fetchnumpy()
        codes = lsoa_of(warehouse, np.asarray(points["longitude"]), np.asarray(points["latitude"]))
        with registered(connection, "points", pa.table({"place_id": points["place_id"], "lsoa_code": codes})):
            connection.execute("INSERT INTO point_lsoas SELECT * FROM points WHERE lsoa_code IS NOT NULL")
    if warehouse.has_rows("street_index"):
        with registered(connection, "index", warehouse.query_arrow("""
                SELECT lower(s.street) AS street, lower(a.name) AS district, s.lsoa, s.crimes
                FROM street_index s JOIN areas l ON l.code = s.lsoa AND l.level = 'lsoa'
                JOIN areas a ON a.code = l.parent AND a.level = 'msoa'""")):
            connection.execute("INSERT INTO streets SELECT * FROM index")
    return connection.sql("""
        WITH by_street AS (
            SELECT p.place_id, s.lsoa, s.crimes, s.lsoa IN (SELECT lsoa_code FROM point_lsoas x
                                                           WHERE x.place_id = p.place_id) AS seen_there
            FROM place_rows p JOIN streets s ON s.street = p.street AND starts_with(s.district, p.town)),
        street_choice AS (
            SELECT place_id, arg_max(lsoa, (seen_there, crimes)) AS lsoa_code,
                   CASE WHEN bool_or(seen_there) THEN 'street and coordinates' ELSE 'street' END AS placed_by
            FROM by_street GROUP BY place_id)
        SELECT * FROM street_choice
        UNION ALL
        SELECT place_id, mode(lsoa_code), 'coordinates' FROM point_lsoas
        WHERE place_id NOT IN (SELECT place_id FROM street_choice) GROUP BY place_id""").to_arrow_table()


def place_history(warehouse: Warehouse, address: str) -> dict[str, Any]:
    """A place and every record of every agency at it, newest first (person data: library and CLI only).

    ``address`` is written as any agency might ("2/14 Hobill Cl, Blaby"); it is taken apart exactly as
    the records' addresses were.
    """
    place_id = place_id_of(address)
    if place_id is None:
        raise NotFoundError(f"{address!r}: give at least a street and a town, e.g. '14 Hobill Close, Blaby'")
    place = warehouse.query("SELECT * FROM places_linked WHERE place_id = ?", [place_id])
    if not place:
        raise NotFoundError(f"no record of any agency at {address!r} (place {place_id}); has `safer link places` "
                            "run since the last import?")
    history = warehouse.query(f"""
        SELECT r.record_table, r.record_key, r.flat, p.role, p.forename, p.surname, p.recorded_on AS day,
               NULL AS kind, NULL AS category, pi.person_id
        FROM record_places r JOIN person_records p ON r.record_key = {record_key_sql('p')}
        LEFT JOIN person_ids pi ON pi.record_key = r.record_key
        WHERE r.place_id = ? AND r.record_table = 'person_records'
        UNION ALL
        SELECT r.record_table, r.record_key, r.flat, NULL, NULL, NULL, CAST(i.started_at AS DATE), i.kind,
               i.category, NULL
        FROM record_places r JOIN incident_records i ON r.record_key = {record_key_sql('i', 'incident_ref')}
        WHERE r.place_id = ? AND r.record_table = 'incident_records'
        ORDER BY day DESC NULLS LAST, record_key""", [place_id, place_id])
    return {"place": place[0], "records": history}


def place_id_of(address: str) -> str | None:
    """The place id an address written as any agency might is read as (as the records' were), or None."""
    connection = duckdb.connect()
    connection.register("person_records", _one_address(address))
    connection.register("incident_records", _no_incident())
    found = connection.execute(f"SELECT place_id FROM ({_records_sql()})").fetchall()
    return str(found[0][0]) if found else None


def _one_address(address: str) -> pa.Table:
    return pa.table({"agency": ["query"], "record_id": ["1"], "recorded_on": pa.array([None], pa.date32()),
                     "address": [address], "postcode": pa.array([None], pa.string())})


def _no_incident() -> pa.Table:
    return pa.table({"agency": pa.array([], pa.string()), "incident_ref": pa.array([], pa.string()),
                     "started_at": pa.array([], pa.timestamp("us")), "longitude": pa.array([], pa.float64()),
                     "latitude": pa.array([], pa.float64()), "address": pa.array([], pa.string()),
                     "postcode": pa.array([], pa.string())})
