"""Stable integer ids for things the bulk files do not number: locations (snap points) and crimes.

police.uk's API numbers each snap point (``location.street.id``, the ``location_id`` of the
``*-at-location`` methods) and each crime (``id``). The bulk files carry neither, so both are the first
31 bits of a SHA-256 of the row's own content: the same point or crime gets the same id after a
re-import or a republished month, and ids fit the signed 32-bit ints some clients use. One exception:
anti-social behaviour rows have no Crime ID, so their id includes the row's position in its file
and changes if police.uk republishes that month with rows added or removed above it. Every id is
computed in SQL (:func:`location_id_sql`, :func:`crime_id_sql`) and has a Python twin for checks.
"""

from __future__ import annotations

import hashlib


def _id(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) >> 1


def _id_sql(text_sql: str) -> str:
    return f"(('0x' || left(sha256({text_sql}), 8))::BIGINT >> 1)"


def location_key(latitude: float, longitude: float, location: str | None) -> str:
    """``"lat,lng|Location"`` with 6 decimals, as the bulk files publish snap points."""
    return f"{latitude:.6f},{longitude:.6f}|{location or ''}"


def location_id(latitude: float, longitude: float, location: str | None) -> int:
    """The id of a snap point and its ``Location`` text (``On or near ...``)."""
    return _id(location_key(latitude, longitude, location))


def location_id_sql(lat: str = "latitude", lng: str = "longitude", location: str = "location") -> str:
    """SQL for :func:`location_id` over columns (``NULL`` when the row has no coordinates)."""
    return _id_sql(f"printf('%.6f,%.6f|%s', {lat}, {lng}, coalesce({location}, ''))")


def crime_id(persistent_id: str) -> int:
    """The API ``id`` of a crime that has a Crime ID: it depends on that id alone."""
    return _id("crime|" + persistent_id)


def persistent_crime_id_sql(expr: str) -> str:
    """SQL for :func:`crime_id` of a Crime ID column."""
    return _id_sql(f"'crime|' || {expr}")


def crime_id_sql(alias: str = "c") -> str:
    """SQL for a crime's API ``id``; anti-social behaviour (no Crime ID) hashes its month, place and row."""
    return _id_sql(
        f"""CASE WHEN {alias}.crime_id IS NOT NULL AND {alias}.crime_id <> '' 
            THEN 'crime|' || {alias}.crime_id
            ELSE printf('asb|%s|%s|%s|%s|%s', strftime({alias}.month, '%Y-%m'),
                        coalesce(printf('%.6f,%.6f', {alias}.latitude, {alias}.longitude), ''),
                        coalesce({alias}.location, ''), {alias}.crime_type,
                        {alias}.row_number::VARCHAR) END"""
    )
