"""Area outlines for the published GeoJSON (see :mod:`safertogether.areas.outlines`)."""

from __future__ import annotations

from typing import Any

import orjson

from safertogether.areas.outlines import outlines
from safertogether.store.warehouse import Warehouse


def area_geometries(warehouse: Warehouse, level: str) -> dict[str, Any]:
    """GeoJSON geometry per area code at ``level`` (areas without boundaries are left out)."""
    return {code: orjson.loads(text) for code, text in sorted(outlines(warehouse, level).items())}
