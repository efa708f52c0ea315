"""The common records partners' data is brought into: one definition each, from which the tables follow.

Every agency keeps its own spellings, codes and layouts; a mapping file (a source spec) says which of
its columns is which field here. A record keeps the agency's own reference (``record_id`` or
``incident_ref``), so that a person or an incident can always be traced back to the system it came from.

Person-level records are synthetic in this project (``safer synth partners``): no real personal data.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Final, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

AgencyKind = Literal["police", "fire", "ambulance", "council", "victim-service", "health", "other"]


class Record(BaseModel):
    """A row of a warehouse table; the table's columns are the fields, in order."""

    model_config = ConfigDict(extra="forbid")


class Agency(Record):
    agency: str = Field(description="Short identifier, e.g. leicestershire-police")
    name: str
    kind: AgencyKind


class PersonRecord(Record):
    """A person as one agency's system holds them: the input of linkage, never shown publicly."""

    record_id: str = Field(description="The agency's own reference for this person record")
    agency: str
    role: str | None = Field(None, description="victim, suspect, witness, missing person, patient, caller, ...")
    incident_ref: str | None = Field(None, description="The agency's reference of the incident it concerns")
    forename: str | None = None
    middle_names: str | None = None
    surname: str | None = None
    date_of_birth: dt.date | None = None
    sex: str | None = None
    address: str | None = Field(None, description="As recorded: one line or several joined")
    postcode: str | None = None
    phone: str | None = None
    recorded_on: dt.date | None = None


class IncidentRecord(Record):
    """An incident as one service logged it; the same event may be logged by several services."""

    incident_ref: str = Field(description="The agency's own reference for the incident")
    agency: str
    kind: str | None = Field(None, description="What happened, in our code list (e.g. domestic-abuse, fire)")
    category: str | None = Field(None, description="The agency's own finer category or code")
    priority: str | None = Field(None, description="e.g. ambulance categories C1-C4")
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    longitude: float | None = None
    latitude: float | None = None
    address: str | None = None
    postcode: str | None = None
    outcome: str | None = None
    domestic_abuse: bool | None = Field(None, description="Flagged as domestic abuse by the agency")
    mental_health: bool | None = Field(None, description="Flagged as involving mental health by the agency")


class Place(Record):
    """An address as one place, whichever agency wrote it and however (see safertogether.link.places)."""

    place_id: str = Field(description="'A' and 16 hex digits of a hash of the building's key: stable everywhere")
    kind: Literal["building", "street"] = Field(description="A numbered building, or a street without a number")
    house: str | None = None
    street: str
    town: str
    postcode: str | None = Field(None, description="The postcode most of its records give")
    lsoa_code: str | None = None
    placed_by: str | None = Field(None, description="How the LSOA was found: street and coordinates, street, "
                                                    "coordinates")
    longitude: float | None = Field(None, description="Mean of its incidents' logged coordinates")
    latitude: float | None = None
    person_records: int = 0
    incident_records: int = 0
    agencies: int = Field(0, description="How many agencies hold a record at this place")
    first_seen: dt.date | None = None
    last_seen: dt.date | None = None


#: Imported record tables and their record class: what a partner mapping may name as its target.
RECORD_TABLES: Final[dict[str, type[Record]]] = {
    "person_records": PersonRecord,
    "incident_records": IncidentRecord,
}

_SQL_TYPES: Final = {str: "VARCHAR", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", dt.date: "DATE",
                     dt.datetime: "TIMESTAMP"}


def columns(record: type[Record]) -> dict[str, str]:
    """Column name -> SQL type of a record class, in field order."""
    return {name: _sql_type(info.annotation) for name, info in record.model_fields.items()}


def _sql_type(annotation: object) -> str:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is list:
        return _sql_type(get_args(annotation)[0]) + "[]"
    if get_origin(annotation) is Literal:
        annotation = type(get_args(annotation)[0])
    return _SQL_TYPES[annotation]  # type: ignore[index]


def create_table_sql(table: str, record: type[Record], extra: str = "") -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a record class, with mandatory fields NOT NULL."""
    required = {name for name, info in record.model_fields.items() if info.is_required()}
    defined = [f"{name} {kind}{' NOT NULL' if name in required else ''}" for name, kind in columns(record).items()]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(defined + ([extra] if extra else []))})"
