"""The authenticated person-data API: sign-in, person search, a person's, a place's and an incident's
profile, the review queue and the data protection officer's audit queries.

Every route here needs a signed-in user (:mod:`safertogether.api.auth`); every route returning person
data needs a stated ``purpose`` and answers through :mod:`safertogether.access.views`, which decides
each record and audits the read or the refusal before returning. Answers are built per request and
sent with ``Cache-Control: no-store, private``; nothing here goes through :mod:`safertogether.api.cache`.
An unknown id and one the user may not see get the same 404.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from safertogether.access import views
from safertogether.access.users import SESSION_HOURS, authenticate, end_session, start_session
from safertogether.api.auth import (
    SESSION_COOKIE,
    CurrentUser,
    Purpose,
    refusals,
    sign_in_failures,
    writable_or_refuse,
)
from safertogether.api.deps import WarehouseDep
from safertogether.errors import AccessDeniedError, AuthenticationError, NotFoundError
from safertogether.model.access import User

router = APIRouter(prefix="/api/people", tags=["people"], responses={
    401: {"description": "Not signed in (no, an expired or a revoked session or token)"},
    403: {"description": "Refused: no purpose, no agreement, too low a clearance, role, or CSRF token missing"},
    404: {"description": "No such person, place or incident that you may see (the two are not told apart)"}})
PRIVATE: Final = {"Cache-Control": "no-store, private", "Pragma": "no-cache", "Vary": "Cookie, Authorization"}
T = TypeVar("T")
_index_lock = threading.Lock()
_PERSON_ID = Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="A person id, e.g. P0000123")


def private(body: Any, status: int = 200) -> Response:
    """A JSON answer no cache may keep or share."""
    return Response(orjson.dumps(body, default=str), status_code=status, media_type="application/json",
                    headers=PRIVATE)


def _counted(user: User, answer: Callable[[], T]) -> T:
    """``answer()``, counting its refusals against the user (see :class:`safertogether.api.auth.RefusalWatch`)."""
    try:
        return answer()
    except (AccessDeniedError, NotFoundError):
        refusals.refused(user)
        raise


# ------------------------------------------------------------------------------------------ signing in

class SignIn(BaseModel):
    user_id: str = Field(max_length=200)
    password: str = Field(max_length=1000)


@router.post("/sign-in", summary="Sign in: sets the session cookie and returns the CSRF token")
def sign_in(details: SignIn, request: Request, warehouse: WarehouseDep) -> Response:
    writable_or_refuse(warehouse)
    sign_in_failures.check(warehouse, request)
    try:
        user = authenticate(warehouse, details.user_id, details.password)
    except AuthenticationError:
        sign_in_failures.failed(request)
        raise
    session = start_session(warehouse, user)
    response = private({"user": user.model_dump(), "csrf_token": session.csrf_token,
                        "expires_at": session.expires_at.isoformat() + "Z"})
    response.set_cookie(SESSION_COOKIE, session.cookie, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/", max_age=SESSION_HOURS * 3600)
    return response


@router.post("/sign-out", summary="End this session (needs the CSRF token)")
def sign_out(user: CurrentUser, request: Request, warehouse: WarehouseDep) -> Response:
    session = getattr(request.state, "session", None)
    if session is not None:
        end_session(warehouse, session.session_id)
    response = private({"signed_out": user.user_id})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", summary="Who is signed in, and the session's CSRF token")
def me(user: CurrentUser, request: Request) -> Response:
    session = getattr(request.state, "session", None)
    return private({"user": user.model_dump(), "csrf_token": session.csrf_token if session else None})


# ------------------------------------------------------------------------------------------ person data

@router.get("/search", summary="Candidate people for a name, date of birth and address (any may be missing): "
            "the caller lookup")
def search(request: Request, access: Purpose, warehouse: WarehouseDep,
           name: Annotated[str | None, Query(max_length=200)] = None,
           dob: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or DD/MM/YYYY")] = None,
           address: Annotated[str | None, Query(max_length=300)] = None,
           postcode: Annotated[str | None, Query(max_length=12)] = None,
           limit: Annotated[int, Query(ge=1, le=50)] = 10) -> Response:
    """Who the caller (or the person searched for) may be, best first, as this user may see them; audited."""
    from safertogether.access.lookup import lookup_caller

    found = _counted(access.user, lambda: lookup_caller(warehouse, access, name, dob, address, postcode,
                                                        limit=limit, index=person_index(request.app.state)))
    return private(found.as_json())


def person_index(state: Any) -> Any:
    """The server's person index (``state`` is the app's), rebuilt when a newer linkage run is stored; call it
    before serving to build it before the first search rather than during it."""
    from safertogether.link.lookup import PersonIndex

    warehouse = state.warehouse
    # Where this process is the only writer (a DuckDB file), a new run is one of its own commits.
    run = _latest_run(warehouse) if warehouse.engine.shared_writers else warehouse.memo("latest_run", _latest_run)
    held = getattr(state, "person_index", None)
    if held is None or held[0] != run:
        with _index_lock:  # one build, however many searches arrive meanwhile
            held = getattr(state, "person_index", None)
            if held is None or held[0] != run:
                held = state.person_index = (run, PersonIndex.build(warehouse))
    return held[1]


def _latest_run(warehouse: Any) -> Any:
    return warehouse.scalar("SELECT max(run_id) FROM link_runs")




@router.get("/persons/{person_id}", summary="A person's cross-agency timeline, links and flags")
def person(access: Purpose, warehouse: WarehouseDep, person_id: Annotated[str, _PERSON_ID]) -> Response:
    return private(_counted(access.user, lambda: views.person_profile(warehouse, access, person_id)))


@router.get("/places/{place_id}", summary="A place's records across services (repeat locations)")
def place(access: Purpose, warehouse: WarehouseDep,
          place_id: Annotated[str, Path(pattern=r"^A[0-9a-f]{16}$", description="e.g. A0123456789abcdef")]
          ) -> Response:
    return private(_counted(access.user, lambda: views.place_view(warehouse, access, place_id)))


@router.get("/places", summary="A place's records across services, by address")
def place_by_address(access: Purpose, warehouse: WarehouseDep,
                     address: Annotated[str, Query(min_length=3, max_length=300)]) -> Response:
    from safertogether.link.places import place_id_of

    # An address that names no place is asked for as a place no one is at: refused and audited alike.
    place_id = place_id_of(address) or "A0000000000000000"
    return private(_counted(access.user, lambda: views.place_view(warehouse, access, place_id)))


@router.get("/incidents/{joint_incident_id}", summary="Every service's record of one joint incident")
def incident(access: Purpose, warehouse: WarehouseDep,
             joint_incident_id: Annotated[int, Path(ge=0, le=2**62)]) -> Response:
    return private(_counted(access.user, lambda: views.incident_view(warehouse, access, joint_incident_id)))


@router.get("/review", summary="Uncertain links for a reviewer, each record as the reviewer may see it")
def review(access: Purpose, warehouse: WarehouseDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> Response:
    return private({"pairs": _counted(access.user, lambda: views.review_view(warehouse, access, limit))})


class ReviewDecision(BaseModel):
    record_a: str = Field(max_length=200)
    record_b: str = Field(max_length=200)
    decision: str = Field(description="same or different", max_length=20)
    note: str | None = Field(None, max_length=2000)


@router.post("/review/decisions", summary="Accept (same) or reject (different) an uncertain link")
def review_decision(access: Purpose, warehouse: WarehouseDep, decision: ReviewDecision) -> Response:
    _counted(access.user, lambda: views.decide_review(warehouse, access, decision.record_a, decision.record_b,
                                                      decision.decision, decision.note))
    return private({"recorded": decision.model_dump()})


# ------------------------------------------------------------------------------------------ audit queries

@router.get("/audit/persons/{person_id}", summary="Who has seen a person's data (data protection officer)")
def who_has_seen(user: CurrentUser, warehouse: WarehouseDep, person_id: Annotated[str, _PERSON_ID]) -> Response:
    entries = _counted(user, lambda: views.who_has_seen_view(warehouse, user, person_id))
    return private({"person_id": person_id, "entries": entries})


@router.get("/audit/persons/{person_id}/export",
            summary="Everything held about a person, for a subject access request (data protection officer)")
def subject_access(user: CurrentUser, warehouse: WarehouseDep, person_id: Annotated[str, _PERSON_ID]) -> Response:
    from safertogether.access.subject_access import subject_access_export

    return private(_counted(user, lambda: subject_access_export(warehouse, user, person_id)))


@router.get("/audit/break-glass", summary="Every break-glass read and its reason, for review (data protection officer)")
def break_glass(user: CurrentUser, warehouse: WarehouseDep) -> Response:
    return private({"entries": _counted(user, lambda: views.break_glass_reads(warehouse, user))})


@router.get("/audit/mine", summary="Your own access history")
def my_history(user: CurrentUser, warehouse: WarehouseDep,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    return private({"user_id": user.user_id, "entries": views.own_history(warehouse, user, limit)})
