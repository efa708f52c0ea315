"""The service's own OpenAPI 3.0 document (``service-desc``; conformance class ``oas30``).

FastAPI's document is OpenAPI 3.1 and cannot list the per-collection queryables, so the OGC
service describes itself here; clients such as GDAL read ``limit``'s maximum from it.
"""

from __future__ import annotations

from typing import Any

from safertogether.ogc.collections import COLLECTIONS
from safertogether.ogc.crs import SUPPORTED
from safertogether.ogc.query import DEFAULT_LIMIT, MAX_LIMIT


def _parameter(name: str, description: str, schema: dict[str, Any], where: str = "query",
               **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": description,
            "schema": schema, **extra}


_PARAMETERS: dict[str, dict[str, Any]] = {
    "collectionId": _parameter("collectionId", "A collection id", {"type": "string", "enum": list(COLLECTIONS)},
                               "path"),
    "featureId": _parameter("featureId", "A feature id", {"type": "string"}, "path"),
    "limit": _parameter("limit", f"Features per page (larger values are served as {MAX_LIMIT})",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                        style="form", explode=False),
    "bbox": _parameter("bbox", "minx,miny,maxx,maxy (CRS84 unless bbox-crs says otherwise)",
                       {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                       style="form", explode=False),
    "bbox-crs": _parameter("bbox-crs", "CRS of bbox", {"type": "string", "format": "uri", "enum": list(SUPPORTED)}),
    "crs": _parameter("crs", "CRS of the answer's coordinates", {"type": "string", "format": "uri",
                                                                 "enum": list(SUPPORTED)}),
    "datetime": _parameter("datetime", "police.uk month(s): an instant (2023-03, 2023-03-15) selects its month, "
                           "an interval (2022-04/2023-03, ../2023-03) every month it overlaps", {"type": "string"},
                           style="form", explode=False),
    "cursor": _parameter("cursor", "Where a page starts: follow the next links", {"type": "string"}),
    "f": _parameter("f", "Format: GeoJSON only", {"type": "string", "enum": ["json"]}),
}
_ERRORS = {"400": {"description": "Invalid or unknown parameter"}, "404": {"description": "Not found"},
           "500": {"description": "Server error"}}


def _get(summary: str, operation: str, parameters: list[str], media_type: str = "application/json") -> dict[str, Any]:
    return {"get": {
        "summary": summary, "operationId": operation, "tags": ["OGC API - Features"],
        "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in parameters],
        "responses": {"200": {"description": summary, "content": {media_type: {"schema": {"type": "object"}}}},
                      **_ERRORS},
    }}


def openapi_document(base: str) -> dict[str, Any]:
    """OpenAPI 3.0 for the service rooted at ``base`` (e.g. ``http://127.0.0.1:8000/ogc``)."""
    queryables = sorted({q.name for c in COLLECTIONS.values() for q in c.queryables})
    parameters = dict(_PARAMETERS)
    for name in queryables:
        parameters[name] = _parameter(name, "Queryable (see /collections/{collectionId}/queryables)",
                                      {"type": "string"})
    items = ["collectionId", "limit", "bbox", "bbox-crs", "crs", "datetime", "cursor", "f", *queryables]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Safer Together - OGC API - Features", "version": "1.0.0",
                 "description": "police.uk open data (Open Government Licence v3.0) as OGC API - Features.",
                 "license": {"name": "OGL-UK-3.0",
                             "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"}},
        "servers": [{"url": base}],
        "paths": {
            "/": _get("Landing page", "getLandingPage", ["f"]),
            "/conformance": _get("Conformance classes", "getConformance", ["f"]),
            "/api": _get("This document", "getAPI", [], "application/vnd.oai.openapi+json;version=3.0"),
            "/collections": _get("Feature collections", "getCollections", ["f"]),
            "/collections/{collectionId}": _get("A feature collection", "describeCollection",
                                                ["collectionId", "f"]),
            "/collections/{collectionId}/queryables": _get("Queryables", "getQueryables", ["collectionId"],
                                                           "application/schema+json"),
            "/collections/{collectionId}/items": _get("Features", "getFeatures", items, "application/geo+json"),
            "/collections/{collectionId}/items/{featureId}": _get(
                "One feature", "getFeature", ["collectionId", "featureId", "crs", "datetime", "f", *queryables],
                "application/geo+json"),
        },
        "components": {"parameters": parameters},
    }
