"""Which reference imports a warehouse lacks, for answers to say what would complete them."""

from __future__ import annotations

from typing import Any

from safertogether.model.reference_data import REFERENCE_DATA
from safertogether.store.warehouse import Warehouse


def missing_reference_data(warehouse: Warehouse) -> list[dict[str, str]]:
    """One entry (data, needed_for, command) per reference import the warehouse has no rows of.

    Held per warehouse version: summaries are made on the server's event loop and must not query.
    """
    return warehouse.memo("missing reference data", _missing)


def _missing(warehouse: Warehouse) -> list[dict[str, str]]:
    return [data.as_json() for data in REFERENCE_DATA.values() if not warehouse.has_rows(data.table)]


def missing_for_area(warehouse: Warehouse, place: dict[str, Any]) -> list[dict[str, str]]:
    """The missing imports that an area's summary would show more with (its residents, its parents)."""
    wanted = {"population"} if place["population"] is None else set()
    if place["level"] == "lsoa" and not any(parent["level"] == "msoa" for parent in place["parents"]):
        wanted.add("lookup")
    return [entry for entry in missing_reference_data(warehouse) if entry["data"] in wanted]
