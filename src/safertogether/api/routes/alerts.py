"""Alerts: subscribe (double opt-in), confirm and unsubscribe links, and an Atom feed per area."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response

from safertogether.alerts.feed import area_feed
from safertogether.alerts.mailer import Mailer, SmtpServer
from safertogether.alerts.service import AlertsConfig, confirm, subscribe, unsubscribe
from safertogether.alerts.store import AlertStore
from safertogether.api.cache import cached_answer
from safertogether.api.deps import DisclosureDep, SettingsDep, WarehouseDep
from safertogether.api.errors import ERROR_RESPONSES
from safertogether.api.limits import rate_limit
from safertogether.errors import MissingDataError
from safertogether.settings import Settings

router = APIRouter(prefix="/api", dependencies=[Depends(rate_limit)], tags=["alerts"], responses=ERROR_RESPONSES)


def alerts_config(settings: Settings) -> AlertsConfig:
    if settings.alerts_secret is None:
        raise MissingDataError("alerts are not set up on this server; set SAFER_ALERTS_SECRET (and SAFER_SMTP)")
    return AlertsConfig(settings.alerts_secret.get_secret_value().encode(), settings.public_url,
                        settings.alerts_sender)


def _store(request: Request, settings: Settings, config: AlertsConfig) -> AlertStore:
    store: AlertStore | None = getattr(request.app.state, "alert_store", None)
    if store is None:
        warehouse = request.app.state.warehouse
        store = request.app.state.alert_store = AlertStore(settings.alerts_location(warehouse.location),
                                                           config.secret)
    return store


@router.post("/alerts/subscriptions", status_code=202, summary="Ask for monthly e-mails about an area")
def post_subscription(
    request: Request, warehouse: WarehouseDep, settings: SettingsDep,
    email: Annotated[str, Body(max_length=320)], area: Annotated[str, Body(max_length=40)],
    categories: Annotated[list[str], Body(max_length=20)] | None = None,
) -> dict[str, Any]:
    config = alerts_config(settings)
    if not settings.smtp:
        raise MissingDataError("alerts cannot send e-mail from this server; set SAFER_SMTP=HOST:PORT")
    with Mailer(SmtpServer.parse(settings.smtp)) as mailer:
        subscribe(warehouse, _store(request, settings, config), config, mailer, email, area,
                  tuple(categories or ()))
    # Never echo the address: the answer is the same whoever asks.
    return {"status": "pending", "message": "Check your e-mail for a link to confirm (valid for 48 hours)."}


@router.get("/alerts/confirm", summary="Confirm a subscription (the link in the confirmation e-mail)")
def get_confirm(request: Request, settings: SettingsDep, token: str) -> dict[str, Any]:
    config = alerts_config(settings)
    found = confirm(_store(request, settings, config), config, token)
    return {"status": "confirmed", "area": found.area,
            "message": "Thank you: you will get an e-mail after each month's figures are published."}


@router.get("/alerts/unsubscribe", summary="Stop e-mails (the link in every e-mail)")
def unsubscribe_link(request: Request, settings: SettingsDep, token: str) -> dict[str, Any]:
    config = alerts_config(settings)
    unsubscribe(_store(request, settings, config), config, token)
    return {"status": "unsubscribed", "message": "You will get no more e-mails from us."}


@router.post("/alerts/unsubscribe", summary="Stop e-mails: one-click unsubscribe (RFC 8058, List-Unsubscribe-Post)")
def unsubscribe_one_click(request: Request, settings: SettingsDep, token: str) -> dict[str, Any]:
    return unsubscribe_link(request, settings, token)


@router.get("/areas/{code}/feed.atom", summary="Atom feed of an area's monthly crime digest",
            response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}})
async def get_feed(request: Request, warehouse: WarehouseDep, settings: SettingsDep, policy: DisclosureDep,
                   code: Annotated[str, Path(max_length=40)]) -> Response:
    name = policy.name if not policy.exact else "exact"
    return await cached_answer(request, warehouse, ("feed", name, code),
                               lambda: area_feed(warehouse, code, policy, settings.public_url.rstrip("/")),
                               media_type="application/atom+xml")
