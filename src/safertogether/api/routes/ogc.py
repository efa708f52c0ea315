"""OGC API - Features under ``/ogc``: thin routes over :mod:`safertogether.ogc`.

Parameters are read from the raw query string: the standard wants unknown ones refused (400) and
queryables vary per collection, which a fixed FastAPI signature cannot express.
"""

from __future__ import annotations

import contextlib
import gzip

from fastapi import APIRouter, Depends, Request, Response

from safertogether.api.deps import DisclosureDep, WarehouseDep
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.disclosure.policy import Policy
from safertogether.disclosure.relations import released_counts
from safertogether.errors import AccessDeniedError
from safertogether.ogc import documents, service
from safertogether.ogc.collections import collection
from safertogether.ogc.openapi import openapi_document
from safertogether.ogc.service import Answer
from safertogether.store.warehouse import Warehouse

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(rate_limit)])
_SEE = " Parameters and formats: the service's own OpenAPI 3.0 document at /ogc/api."


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _params(request: Request) -> list[tuple[str, str]]:
    return request.query_params.multi_items()


def _send(answer: Answer, request: Request | None = None) -> Response:
    """The answer; a large one gzipped at level 1 for clients that accept it.

    A 10,000-feature page is 4 MB: level 1 takes it to 0.65 MB in 28 ms, where the app's GZip
    middleware (level 9, and it leaves answers with a Content-Encoding alone) spent 100 ms for 0.54 MB.
    """
    body, headers = answer.body, dict(answer.headers)
    if request is not None and len(body) > 64_000 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(body, media_type=answer.media_type, headers=headers)


@router.get("", summary="Landing page" + _SEE, response_class=Response)
@router.get("/", include_in_schema=False, response_class=Response)
def landing(request: Request) -> Response:
    return _send(service.json_answer(documents.landing_page(_base(request))))


@router.get("/conformance", summary="Conformance classes", response_class=Response)
def conformance() -> Response:
    return _send(service.json_answer(documents.conformance()))


@router.get("/api", summary="The service's OpenAPI 3.0 document", response_class=Response)
def api(request: Request) -> Response:
    return _send(service.json_answer(openapi_document(_base(request)), documents.OPENAPI))


@router.get("/collections", summary="Feature collections" + _SEE, response_class=Response)
def collections(request: Request, warehouse: WarehouseDep) -> Response:
    return _send(service.json_answer(documents.collections_document(warehouse, _base(request))))


@router.get("/collections/{collection_id}", summary="A feature collection", response_class=Response)
def describe_collection(request: Request, warehouse: WarehouseDep, collection_id: str) -> Response:
    found = collection(collection_id)
    return _send(service.json_answer(documents.collection_document(warehouse, found, _base(request))))


@router.get("/collections/{collection_id}/queryables", summary="Properties to filter on", response_class=Response)
def queryables(request: Request, collection_id: str) -> Response:
    document = documents.queryables_document(collection(collection_id), _base(request))
    return _send(service.json_answer(document, "application/schema+json"))


@router.get("/collections/{collection_id}/items", summary="Features, a page at a time" + _SEE,
            response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
def items(request: Request, warehouse: WarehouseDep, policy: DisclosureDep, collection_id: str) -> Response:
    with _disclosed(warehouse, policy, collection_id):
        return _send(service.items_answer(warehouse, collection_id, _params(request), _base(request)), request)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature", response_class=Response,
            responses={200: {"content": {"application/geo+json": {}}}})
def feature(request: Request, warehouse: WarehouseDep, policy: DisclosureDep, collection_id: str,
            feature_id: str) -> Response:
    with _disclosed(warehouse, policy, collection_id):
        return _send(service.feature_answer(warehouse, collection_id, feature_id, _params(request), _base(request)))


#: Collections of police.uk's records (each feature one crime or stop), withheld when the policy says so.
RECORD_COLLECTIONS = frozenset({"crimes", "stop-and-search"})


def _disclosed(warehouse: Warehouse, policy: Policy, collection_id: str) -> contextlib.AbstractContextManager[None]:
    """Counts from the policy's released cells; records refused when the policy withholds them."""
    if collection_id in RECORD_COLLECTIONS and policy.records == "withheld":
        raise AccessDeniedError(f"this server's disclosure policy ({policy.name}) publishes counts only; "
                                "the neighbourhoods collection has them")
    return released_counts(warehouse, policy)
