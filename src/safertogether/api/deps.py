"""Dependencies shared by routes: the warehouse, settings and the caller's disclosure policy.

Async, though they wait for nothing: FastAPI runs a plain ``def`` dependency in its thread pool, which
cost ~15% of the server's CPU per request.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safertogether.disclosure.policy import Policy
from safertogether.errors import AccessDeniedError, AuthenticationError
from safertogether.model.access import User
from safertogether.settings import Settings
from safertogether.store.warehouse import Warehouse


async def get_warehouse(request: Request) -> Warehouse:
    warehouse: Warehouse = request.app.state.warehouse
    return warehouse


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_disclosure(request: Request) -> Policy:
    """The disclosure policy that applies to this caller.

    The public get the deployment's public policy. A signed-in user (an API token, or the page's session
    cookie) whose role may see exact figures (``SAFER_EXACT_FIGURES_ROLES``, analysts by default) gets the
    figures as counted. A bearer token that is not valid is refused (401: an analyst must not mistake public
    figures for exact ones); a stale session cookie only means public figures. Answers made for a signed-in
    user are sent ``Cache-Control: no-store, private`` (:class:`DisclosureHeaders`), and the server's answer
    cache keys answers by policy, so an exact answer is never served to, or kept for, the public.
    """
    public: Policy = request.app.state.public_policy
    request.state.disclosure_policy = public.name
    if public.exact or not (request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE)):
        return public
    user = _signed_in_user(request)
    settings: Settings = request.app.state.settings
    if user is None or user.role not in settings.exact_figures_roles:
        return public
    request.state.disclosure_policy = EXACT_POLICY.name
    request.state.exact_figures_for = user.user_id
    return EXACT_POLICY


#: What a signed-in analyst sees: the figures as counted.
EXACT_POLICY: Final = Policy("exact", "exact", {}, "as-published", "figures as counted, for signed-in analysts")
SESSION_COOKIE: Final = "safer_session"


def _signed_in_user(request: Request) -> User | None:
    from safertogether.access.users import user_for_credentials

    authorization = request.headers.get("authorization", "")
    try:
        return user_for_credentials(request.app.state.warehouse, authorization,
                                    request.cookies.get(SESSION_COOKIE, ""))[0]
    except AuthenticationError:
        if authorization:
            raise  # a bearer token that is not valid: 401
        return None  # a stale session cookie: public figures


class DisclosureHeaders:
    """Says on every answer which policy its figures are under (``X-Disclosure-Policy``), and keeps answers
    made for a signed-in user out of every shared cache. Plain ASGI: a few microseconds per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                if state.get("disclosure_policy"):
                    headers = list(message.get("headers") or [])
                    headers.append((b"x-disclosure-policy", state["disclosure_policy"].encode()))
                    headers.append((b"vary", b"Authorization, Cookie"))
                    if state.get("exact_figures_for"):
                        headers = [h for h in headers if h[0].lower() != b"cache-control"]
                        headers.append((b"cache-control", b"no-store, private"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


DisclosureDep = Annotated[Policy, Depends(get_disclosure)]


async def records_published(policy: DisclosureDep) -> None:
    """Refuse record-level answers (police.uk's street-level crimes, stops) when the policy withholds them."""
    if policy.records == "withheld":
        raise AccessDeniedError(
            f"this server's disclosure policy ({policy.name}) publishes counts only, not individual records "
            "(anyone could recount the protected figures from them); use /api/areas/{code}/summary and "
            "/api/map/{force}.geojson, or police.uk itself")
