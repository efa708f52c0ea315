"""The incident exchange over HTTP: partners' dispatch systems post messages and read those addressed to them.

The platform is the hub of a joint control room: an agency's system (an account of role
:data:`~safertogether.bluelight.exchange_ledger.EXCHANGE_ROLES`) posts messages as its own agency only, and
reads the messages addressed to its agency from the position it read last. Messages carry locations and
free text about live incidents, so these routes are signed in, audited (every post, read and refusal) and
never cached, and exist only on the signed-in server, like the person-data routes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from safertogether.api.auth import CurrentUser, refusals
from safertogether.api.deps import WarehouseDep
from safertogether.api.routes.people import PRIVATE
from safertogether.errors import AccessDeniedError, BadRequestError
from safertogether.model.access import User
from safertogether.store.warehouse import Warehouse

router = APIRouter(prefix="/api/exchange", tags=["exchange"], responses={
    400: {"description": "Not a valid incident-exchange message (every problem named)"},
    401: {"description": "Not signed in (no, an expired or a revoked session or token)"},
    403: {"description": "Your role does not exchange incidents, or the message is not from your agency"}})


@router.post("/messages", summary="Post one incident-exchange message (create, update, close, acknowledge) "
                                  "from your agency", status_code=201)
async def post_message(request: Request, user: CurrentUser, warehouse: WarehouseDep) -> Response:
    """The message as JSON (the shape `safer exchange send` writes). 201 when kept, 200 when it was already;
    a message id reused with other contents is refused."""
    from safertogether.bluelight.exchange import read_message
    from safertogether.bluelight.exchange_ledger import MAX_LINE_BYTES, accept

    body = await request.body()  # read here, checked and stored off the event loop (the warehouse blocks)

    def keep() -> Response:
        _allowed(warehouse, user, "exchange-post")
        if len(body) > MAX_LINE_BYTES:
            raise BadRequestError(f"a message of {len(body):,} bytes (more than {MAX_LINE_BYTES:,}): not a message")
        message = read_message(body)
        if message.sender != user.agency:
            _audit(warehouse, user, "exchange-post", "denied", f"sender {message.sender} is not the user's agency")
            refusals.refused(user)
            raise AccessDeniedError(f"you may send messages as your own agency ({user.agency}) only, "
                                    f"not as {message.sender}")
        kept = accept(warehouse, message, f"api:{user.user_id}")
        _audit(warehouse, user, "exchange-post", "allowed", None, [message.message_id])
        return JSONResponse({"message_id": message.message_id, "kept": kept}, status_code=201 if kept else 200,
                            headers=PRIVATE)

    return await run_in_threadpool(keep)


@router.get("/messages", summary="The messages addressed to your agency, in the order they arrived")
def get_messages(user: CurrentUser, warehouse: WarehouseDep,
                 after: Annotated[int, Query(ge=0, description="The last seq you read [default: from the start]")] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> Response:
    from safertogether.bluelight.exchange_ledger import addressed_to

    _allowed(warehouse, user, "exchange-read")
    found = addressed_to(warehouse, str(user.agency), after, limit)
    _audit(warehouse, user, "exchange-read", "allowed", None, [m["message"]["message_id"] for m in found])
    answer: dict[str, Any] = {"agency": user.agency, "messages": found,
                              "next_after": found[-1]["seq"] if found else after}
    return JSONResponse(answer, headers=PRIVATE)


def _allowed(warehouse: Warehouse, user: User, action: str) -> None:
    from safertogether.bluelight.exchange_ledger import EXCHANGE_ROLES

    if user.role not in EXCHANGE_ROLES:
        _audit(warehouse, user, action, "denied", f"role {user.role} is not one of {', '.join(EXCHANGE_ROLES)}")
        refusals.refused(user)
        raise AccessDeniedError(f"the incident exchange is for the roles {', '.join(EXCHANGE_ROLES)}; yours is "
                                f"{user.role}")


def _audit(warehouse: Warehouse, user: User, action: str, outcome: Literal["allowed", "denied"], reason: str | None,
           subjects: list[str] | None = None) -> None:
    from safertogether.access.audit import AuditEvent, append

    append(warehouse, AuditEvent(user.user_id, user.agency, action, None, outcome, subjects or [], reason=reason))
