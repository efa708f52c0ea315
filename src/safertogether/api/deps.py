"""Dependencies shared by routes: the warehouse and settings.

Async, though they wait for nothing: FastAPI runs a plain ``def`` dependency in its thread pool, which
cost ~15% of the server's CPU per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
