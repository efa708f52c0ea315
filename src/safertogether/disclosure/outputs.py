"""What every public route discloses, declared in one place (and checked by tests/test_disclosure.py).

Kinds:
    counts     figures made from the released cells (they obey the policy's rule)
    records    police.uk's own records, as it publishes them (served only when the policy says as-published)
    reference  no counts of events: areas, names, documents, conformance, attribution
    quality    data-quality figures per force and month (import reconciliation, not a cross-tabulation of
               crimes by place; exact under every policy — see the note in the README)
    alerts     residents' subscriptions: the answer never carries an address or a count
    planning   blue-light coverage and scenarios per force area: residents per LSOA (Census), modelled travel
               minutes from public station sites, shares of residents within a standard; no event counts
    index      the Community Safety Index and its drill-down: rates and scores per area and year, made from
               the exact counts (police.uk publishes them all); NOT yet passed through the policy's rule, which
               they must be before partners' counts feed the index (see the README)
A new route must be declared here before the tests pass.
"""

from __future__ import annotations

from typing import Final, Literal

Kind = Literal["counts", "records", "reference", "quality", "alerts", "index", "planning"]

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
    ("GET", "/safety-index"): "reference",  # pages: their figures come from the API routes
    ("GET", "/drilldown"): "reference",
    ("GET", "/people"): "reference",  # the signed-in page holds no person data; it calls /api/people
    # A public (read-only) server has no person-data routes: only a 404 saying how to start one that has.
    ("GET", "/api/people/{rest:path}"): "reference",
    ("POST", "/api/people/{rest:path}"): "reference",
    ("GET", "/api/index"): "index",
    ("GET", "/api/index/areas/{code}"): "index",
    ("GET", "/api/index/drilldown/{code}"): "index",
    ("GET", "/api/index/map.geojson"): "index",
    ("GET", "/api/index/editions/{edition_id}/config"): "reference",
    ("GET", "/api/index/methodology"): "reference",
    ("GET", "/blue-light"): "reference",  # the commissioners' page: its figures come from /api/plan
    ("GET", "/api/plan/{force}/coverage"): "planning",
    ("GET", "/api/plan/{force}/coverage.geojson"): "planning",
    ("GET", "/api/plan/{force}/stations"): "reference",
    ("GET", "/api/plan/{force}/scenarios"): "planning",
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


#: Routes only a signed-in server has (its warehouse open for writing), with what they show. The person-data
#: routes (/api/people) answer through access/views.py's decisions; these answer by role.
SIGNED_IN_ROUTES: Final[dict[tuple[str, str], str]] = {
    # hotspot forecasts and patrol plans: no person, but where patrols will go (analysts and planners only)
    ("GET", "/api/forecasts/{kind}/latest"): "forecast",
    # live incidents between partners' dispatch systems: each agency posts as itself, reads what is addressed to it
    ("POST", "/api/exchange/messages"): "exchange",
    ("GET", "/api/exchange/messages"): "exchange",
}


def route_kind(method: str, path: str) -> Kind | None:
    """The declared kind of a route (None: undeclared)."""
    if path.startswith(RECORD_PREFIXES):
        return "records"
    return PUBLIC_ROUTES.get((method, path))
