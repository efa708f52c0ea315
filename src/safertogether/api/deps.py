"""Dependencies shared by routes: the warehouse, settings and the caller's disclosure policy.

Async, though they wait for nothing: FastAPI runs a plain ``def`` dependency in its thread pool, which
cost ~15% of the server's CPU per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from safertogether.disclosure.policy import Policy
from safertogether.errors import AccessDeniedError
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

    Every caller is public for now, so every caller gets the deployment's public policy. When sign-in
    arrives (the sharing-and-audit issue), a signed-in analyst gets the exact policy here, and nothing
    else changes: routes and caches already take the policy from this dependency.
    """
    policy: Policy = request.app.state.public_policy
    return policy


DisclosureDep = Annotated[Policy, Depends(get_disclosure)]


async def records_published(policy: DisclosureDep) -> None:
    """Refuse record-level answers (police.uk's street-level crimes, stops) when the policy withholds them."""
    if policy.records == "withheld":
        raise AccessDeniedError(
            f"this server's disclosure policy ({policy.name}) publishes counts only, not individual records "
            "(anyone could recount the protected figures from them); use /api/areas/{code}/summary and "
            "/api/map/{force}.geojson, or police.uk itself")
