"""The collections the service offers, as data: what each holds, its properties and its queryables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from safertogether.errors import BadRequestError, NotFoundError
from safertogether.measures.period import parse_month
from safertogether.model.categories import CRIME_TYPE_SLUGS, LEGACY_CRIME_TYPE_SLUGS

OGL: Final = ("Contains public sector information licensed under the Open Government Licence v3.0. "
              "Data from data.police.uk.")
OS_DATA: Final = "Contains OS data © Crown copyright and database right."
LICENCE_URL: Final = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"


def category_names(text: str) -> list[str]:
    """The bulk-file ``Crime type`` values a police.uk slug or name stands for (case-insensitive)."""
    wanted = text.strip().lower()
    names = [name for name, slug in (CRIME_TYPE_SLUGS | LEGACY_CRIME_TYPE_SLUGS).items()
             if wanted in (slug, name.lower())]
    if not names:
        slugs = ", ".join(sorted(set(CRIME_TYPE_SLUGS.values())))
        raise BadRequestError(f"category='{text[:60]}' is not a police.uk category; use a slug ({slugs}) or name")
    return names


def month_values(text: str) -> list[dt.date]:
    """``2023-03`` as the DATE police.uk months are stored as (so ``month`` filters use the column's statistics)."""
    return [parse_month(text, "month")]


def _as_given(text: str) -> list[str]:
    return [text]


def _lowercase(text: str) -> list[str]:
    return [text.strip().lower()]


@dataclass(frozen=True)
class Queryable:
    """A property clients may filter on with ``?name=value`` (OGC API - Features Part 3 queryables)."""

    name: str
    column: str
    description: str
    values: Callable[[str], list[Any]] = _as_given
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collection:
    """One feature collection: points from a table of rows, or LSOA polygons with counts."""

    id: str
    title: str
    description: str
    kind: Literal["points", "areas"]
    geometry: Literal["Point", "Polygon"]
    attribution: str
    table: str = ""
    #: Property name -> SQL expression on the table (alias ``c``), in output order.
    properties: tuple[tuple[str, str], ...] = ()
    queryables: tuple[Queryable, ...] = field(default=())

    def queryable(self, name: str) -> Queryable | None:
        return next((q for q in self.queryables if q.name == name), None)


_FORCE = Queryable("force", "c.force_id", "police.uk force id, e.g. leicestershire", _lowercase)
_LSOA = Queryable("lsoa", "c.lsoa", "LSOA code the record is counted in, e.g. E01000001")
#: The same as datetime=YYYY-MM, for clients that filter on properties (GDAL, QGIS send property filters on).
_MONTH = Queryable("month", "c.month", "police.uk month, YYYY-MM", month_values)
_CATEGORY = Queryable("category", "c.crime_type", "Crime category: police.uk slug (burglary) or name (Burglary)",
                      category_names, tuple(CRIME_TYPE_SLUGS))

CRIMES = Collection(
    id="crimes", title="Street crimes",
    description="Crimes and anti-social behaviour as published by police.uk: one point per record at its "
                "anonymised snap point, dated by month. Records without a location have no geometry.",
    kind="points", geometry="Point", attribution=OGL, table="street_crimes",
    properties=(("crime_id", "nullif(c.crime_id, '')"), ("month", "strftime(c.month, '%Y-%m')"),
                ("category", "c.crime_type"), ("location", "c.location"), ("lsoa", "c.lsoa"),
                ("lsoa_name", "c.lsoa_name"), ("outcome", "c.last_outcome_category"), ("force", "c.force_id"),
                ("context", "nullif(c.context, '')")),
    queryables=(_CATEGORY, _FORCE, _LSOA, _MONTH,
                Queryable("outcome", "c.last_outcome_category", "Last outcome, as police.uk words it")),
)

STOPS = Collection(
    id="stop-and-search", title="Stop and search",
    description="Stops and searches as published by police.uk, at their anonymised locations.",
    kind="points", geometry="Point", attribution=OGL, table="stop_searches",
    properties=(("type", "c.type"), ("datetime", "strftime(c.datetime, '%Y-%m-%dT%H:%M:%SZ')"),
                ("month", "strftime(c.month, '%Y-%m')"), ("force", "c.force_id"), ("gender", "c.gender"),
                ("age_range", "c.age_range"), ("self_defined_ethnicity", "c.self_defined_ethnicity"),
                ("officer_defined_ethnicity", "c.officer_defined_ethnicity"), ("legislation", "c.legislation"),
                ("object_of_search", "c.object_of_search"), ("outcome", "c.outcome"),
                ("outcome_linked_to_object_of_search", "c.outcome_linked_to_object_of_search"),
                ("removal_of_more_than_just_outer_clothing", "c.removal_of_more_than_just_outer_clothing"),
                ("part_of_a_policing_operation", "c.part_of_a_policing_operation"), ("lsoa", "c.lsoa")),
    queryables=(_FORCE, _LSOA, _MONTH, Queryable("type", "c.type", "Person search, Vehicle search, ..."),
                Queryable("object_of_search", "c.object_of_search", "What was searched for"),
                Queryable("outcome", "c.outcome", "Outcome of the search")),
)

AREAS = Collection(
    id="neighbourhoods", title="Neighbourhoods (LSOAs) with crime counts and rates",
    description="The LSOAs of every force loaded, as polygons with the crimes recorded in them and the rate per "
                "1,000 residents (2011 Census) for a period: datetime picks the months (default: the latest 12 "
                "months loaded); category counts one category only.",
    kind="areas", geometry="Polygon", attribution=f"{OGL} {OS_DATA}",
    queryables=(Queryable("category", "m.crime_type", _CATEGORY.description, category_names,
                          tuple(CRIME_TYPE_SLUGS)),
                Queryable("force", "l.force_id", _FORCE.description, _lowercase),
                Queryable("msoa", "l.msoa_code", "MSOA code, e.g. E02000001"),
                Queryable("lad", "l.lad_code", "Local authority code, e.g. E06000016")),
)

COLLECTIONS: Final = {c.id: c for c in (AREAS, CRIMES, STOPS)}


def collection(collection_id: str) -> Collection:
    """The collection with this id, or :class:`NotFoundError` listing those there are."""
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFoundError(f"no collection '{collection_id[:60]}'; the collections are {', '.join(COLLECTIONS)}")
    return found
