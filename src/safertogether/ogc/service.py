"""Answers of the OGC API - Features service as bytes and headers, for any web framework to send."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from safertogether.errors import BadRequestError
from safertogether.ogc.collections import collection
from safertogether.ogc.documents import GEOJSON, JSON, feature_collection, link
from safertogether.ogc.items import item, items_page
from safertogether.ogc.query import parse_item_query
from safertogether.store.warehouse import Warehouse

#: Parameters a single feature accepts besides queryables (datetime, category: what a neighbourhood counts).
FEATURE_PARAMETERS = ("crs", "f", "datetime")


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str = GEOJSON
    headers: dict[str, str] = field(default_factory=dict)


def items_answer(warehouse: Warehouse, collection_id: str, params: list[tuple[str, str]], base: str) -> Answer:
    """A page of a collection's features with ``self``, ``collection`` and (unless last) ``next`` links."""
    found = collection(collection_id)
    query = parse_item_query(found, params)
    page = items_page(warehouse, found, query)
    here = f"{base}/collections/{found.id}"
    links = [link(_url(f"{here}/items", params), "self", GEOJSON, "This page"),
             link(here, "collection", JSON, found.title)]
    if page.next_cursor is not None:
        links.append(link(_url(f"{here}/items", [*query.given, ("cursor", page.next_cursor)]), "next", GEOJSON,
                          "Next page"))
    document = feature_collection(page.features, page.number_matched, links)
    return Answer(orjson.dumps(document), headers={"Content-Crs": f"<{query.crs}>"})


def feature_answer(warehouse: Warehouse, collection_id: str, feature_id: str, params: list[tuple[str, str]],
                   base: str) -> Answer:
    """One feature with ``self`` and ``collection`` links."""
    found = collection(collection_id)
    accepted = [*FEATURE_PARAMETERS, *(q.name for q in found.queryables)]
    unknown = [k for k, _ in params if k not in accepted]
    if unknown:
        raise BadRequestError(f"unknown parameter(s) {', '.join(unknown)}; a feature accepts {', '.join(accepted)}")
    query = parse_item_query(found, params)
    feature: dict[str, Any] = item(warehouse, found, feature_id, query)
    here = f"{base}/collections/{found.id}"
    feature["links"] = [link(_url(f"{here}/items/{urllib.parse.quote(feature_id)}", params), "self", GEOJSON),
                        link(here, "collection", JSON, found.title)]
    return Answer(orjson.dumps(feature), headers={"Content-Crs": f"<{query.crs}>"})


def json_answer(document: dict[str, Any], media_type: str = JSON) -> Answer:
    return Answer(orjson.dumps(document), media_type)


def _url(path: str, params: Iterable[tuple[str, str]]) -> str:
    query = urllib.parse.urlencode(list(params))
    return f"{path}?{query}" if query else path
