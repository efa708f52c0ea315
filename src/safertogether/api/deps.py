"""Dependencies shared by routes: the warehouse and settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from safertogether.settings import Settings
from safertogether.store.warehouse import Warehouse


def get_warehouse(request: Request) -> Warehouse:
    warehouse: Warehouse = request.app.state.warehouse
    return warehouse


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
