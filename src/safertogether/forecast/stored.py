"""Forecasts and patrol plans kept in the warehouse, so the signed-in API can serve the latest.

A hotspot forecast or a patrol plan says where patrols will go: it is operationally sensitive though
it names no person, so it is kept in the warehouse (not published) and served only to signed-in users
whose role plans or analyses patrols (:data:`FORECAST_ROLES`, checked by the API).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Final, Literal

from safertogether.errors import BadRequestError
from safertogether.store.warehouse import Warehouse

Kind = Literal["hotspots", "patrols"]
KINDS: Final = ("hotspots", "patrols")
#: Roles that may read stored forecasts and patrol plans.
FORECAST_ROLES: Final = ("analyst", "supervisor", "patrol-planner")


def store_output(warehouse: Warehouse, kind: Kind, geojson: dict[str, Any], *, period: str, model: str) -> str:
    """Keep a forecast's or a plan's GeoJSON; returns its id."""
    if kind not in KINDS:
        raise BadRequestError(f"a stored forecast output is one of {', '.join(KINDS)}, not {kind!r}")
    output_id = uuid.uuid4().hex
    warehouse.execute("INSERT INTO forecast_outputs VALUES (?, ?, ?, ?, ?, ?)",
                      [output_id, kind, period, model, dt.datetime.now(dt.UTC).replace(tzinfo=None),
                       json.dumps(geojson)])
    return output_id


def latest_output(warehouse: Warehouse, kind: Kind) -> dict[str, Any] | None:
    """The most recently stored output of ``kind`` as GeoJSON, with its id, period, model and time; or None."""
    row = warehouse.row("SELECT output_id, period, model, created_at, geojson FROM forecast_outputs WHERE kind = ? "
                        "ORDER BY created_at DESC, output_id LIMIT 1", [kind])
    if row is None:
        return None
    output_id, period, model, created_at, text = row
    geojson = json.loads(text)
    geojson.setdefault("properties", {}).update({"output_id": output_id, "kind": kind, "period": period,
                                                 "model": model, "stored_at": f"{created_at.isoformat()}Z"})
    return geojson


def patrols_geojson(plans: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """Every shift's boxes in one FeatureCollection (each box says its shift), the plan's summary as properties."""
    features = [{**f, "properties": {"shift": plan["properties"]["shift"], **f["properties"]}}
                for plan in plans for f in plan["features"]]
    return {"type": "FeatureCollection", "features": features, "properties": summary}
