"""The service's JSON documents: landing page, conformance, collections and queryables.

Links carry ``rel`` and ``type`` as OGC API - Features Part 1 asks, so clients (QGIS, GDAL) find
each resource by following them rather than by knowing our paths.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import orjson

from safertogether.measures.period import add_months
from safertogether.ogc.collections import COLLECTIONS, LICENCE_URL, Collection
from safertogether.ogc.crs import CRS84, SUPPORTED
from safertogether.ogc.neighbourhoods import MEMBERS_SQL
from safertogether.store.warehouse import Warehouse

JSON: Final = "application/json"
GEOJSON: Final = "application/geo+json"
OPENAPI: Final = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE: Final = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
)
QUERYABLES_REL: Final = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, **({"title": title} if title else {})}


def landing_page(base: str) -> dict[str, Any]:
    """The service's root: what it is and links to everything else."""
    return {
        "title": "Safer Together - OGC API - Features",
        "description": "police.uk street crime, stop and search and neighbourhood crime rates as features.",
        "attribution": COLLECTIONS["neighbourhoods"].attribution,
        "links": [
            link(base, "self", JSON, "This document"),
            link(f"{base}/api", "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(f"{base}/conformance", "conformance", JSON, "Conformance classes implemented"),
            link(f"{base}/collections", "data", JSON, "The feature collections"),
            link(LICENCE_URL, "license", "text/html", "Open Government Licence v3.0"),
        ],
    }


def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


def collections_document(warehouse: Warehouse, base: str) -> dict[str, Any]:
    return {
        "links": [link(f"{base}/collections", "self", JSON)],
        "collections": [collection_document(warehouse, c, base) for c in COLLECTIONS.values()],
        "crs": list(SUPPORTED),
    }


def collection_document(warehouse: Warehouse, collection: Collection, base: str) -> dict[str, Any]:
    """A collection's description: extent, CRSs, attribution and links to its items and queryables."""
    here = f"{base}/collections/{collection.id}"
    bbox, months = warehouse.memo("ogc extents", _extents)[collection.id]
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "attribution": collection.attribution,
        "itemType": "feature",
        "extent": {
            # Nothing loaded (or no boundaries, for neighbourhoods): no spatial extent rather than nulls.
            **({"spatial": {"bbox": [bbox], "crs": CRS84}} if None not in bbox else {}),
            "temporal": {"interval": [months], "trs": "http://www.opengis.net/def/uri/ISO-8601/0/Gregorian"},
        },
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
        "links": [
            link(here, "self", JSON),
            link(f"{here}/items", "items", GEOJSON, "The features (GeoJSON)"),
            link(f"{here}/queryables", QUERYABLES_REL, "application/schema+json", "Properties to filter on"),
            link(LICENCE_URL, "license", "text/html", "Open Government Licence v3.0"),
        ],
    }


def queryables_document(collection: Collection, base: str) -> dict[str, Any]:
    """The JSON Schema of the properties ``?name=value`` may filter on (Part 3)."""
    properties = {
        q.name: {"type": "string", "title": q.name, "description": q.description, **({"enum": list(q.enum)}
                                                                                     if q.enum else {})}
        for q in collection.queryables
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{collection.id}/queryables",
        "type": "object",
        "title": collection.title,
        "properties": properties,
        "additionalProperties": False,
    }


def _extents(warehouse: Warehouse) -> dict[str, tuple[list[float | None], list[str | None]]]:
    """Bounding box and months of every collection, computed once per version of the warehouse."""
    answer = {}
    for collection in COLLECTIONS.values():
        if collection.kind == "points":
            sql = f"""SELECT min(longitude), min(latitude), max(longitude), max(latitude), min(month), max(month)
                      FROM {collection.table}"""
        else:
            sql = f"""SELECT min(xmin), min(ymin), max(xmax), max(ymax),
                             (SELECT min(month) FROM force_months), (SELECT max(month) FROM force_months)
                      FROM area_shapes WHERE level = 'lsoa' AND code IN ({MEMBERS_SQL})"""
        *bbox, first, last = warehouse.row(sql)  # type: ignore[misc]
        answer[collection.id] = (list(bbox), [_instant(first), _instant(last, end=True)])
    return answer


def _instant(month: dt.date | None, end: bool = False) -> str | None:
    """The first (or last) second of a month in RFC 3339."""
    if month is None:
        return None
    if not end:
        return f"{month:%Y-%m-%d}T00:00:00Z"
    last = dt.datetime.combine(add_months(month, 1), dt.time()) - dt.timedelta(seconds=1)
    return f"{last:%Y-%m-%dT%H:%M:%S}Z"


def feature_collection(features: list[str], matched: int, links: list[dict[str, str]]) -> dict[str, Any]:
    """An items answer: the features (GeoJSON texts), counts, a time stamp and the paging links."""
    return {
        "type": "FeatureCollection",
        "features": orjson.Fragment(f"[{','.join(features)}]"),
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
