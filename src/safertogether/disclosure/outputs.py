"""What every public route discloses, declared in one place (and checked by tests/test_disclosure.py).

Kinds:
    counts     figures made from the released cells (they obey the policy's rule)
    records    police.uk's own records, as it publishes them (served only when the policy says as-published)
    reference  no counts of events: areas, names, documents, conformance, attribution
    quality    data-quality figures per force and month (import reconciliation, not a cross-tabulation of
               crimes by place; exact under every policy — see the note in the README)
    alerts     residents' subscriptions: the answer never carries an address or a count
A new route must be declared here before the tests pass.
"""

from __future__ import annotations

from typing import Final, Literal

Kind = Literal["counts", "records", "reference", "quality", "alerts"]

#: Everything under these prefixes is police.uk's records API (withheld as a whole when records are).
RECORD_PREFIXES: Final = ("/police-uk/api",)

PUBLIC_ROUTES: Final[dict[tuple[str, str], Kind]] = {
    ("GET", "/"): "reference",  # the page: its figures come from the API routes below
    ("GET", "/quality"): "quality",
    ("GET", "/api/areas"): "reference",
    ("GET", "/api/areas/{code}"): "reference",
    ("GET", "/api/areas/{code}/summary"): "counts",
    ("GET", "/api/areas/{code}/crimes.csv"): "records",
    ("GET", "/api/areas/{code}/download"): "records",
    ("GET", "/api/map/{force}.geojson"): "counts",
    ("GET", "/api/areas/{code}/feed.atom"): "counts",
    ("GET", "/api/forces"): "counts",
    ("GET", "/api/meta"): "counts",
    ("GET", "/api/quality"): "quality",
    ("POST", "/api/alerts/subscriptions"): "alerts",
    ("GET", "/api/alerts/confirm"): "alerts",
    ("GET", "/api/alerts/unsubscribe"): "alerts",
    ("POST", "/api/alerts/unsubscribe"): "alerts",
    ("GET", "/ogc"): "reference",
    ("GET", "/ogc/"): "reference",
    ("GET", "/ogc/conformance"): "reference",
    ("GET", "/ogc/api"): "reference",
    ("GET", "/ogc/collections"): "reference",
    ("GET", "/ogc/collections/{collection_id}"): "reference",
    ("GET", "/ogc/collections/{collection_id}/queryables"): "reference",
    # Per collection: neighbourhoods are counts; crimes and stop-and-search are records (ogc routes check).
    ("GET", "/ogc/collections/{collection_id}/items"): "records",
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): "records",
}


def route_kind(method: str, path: str) -> Kind | None:
    """The declared kind of a route (None: undeclared)."""
    if path.startswith(RECORD_PREFIXES):
        return "records"
    return PUBLIC_ROUTES.get((method, path))
