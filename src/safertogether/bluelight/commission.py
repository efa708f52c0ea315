"""What a commissioner sees: coverage of a force area under the stored estate, and scenarios against it.

The planning API and page call these, over the warehouse's places and stored stations (see
:mod:`safertogether.bluelight.estate`) and the packaged standards. Everything returned is about places:
residents per LSOA (Census), modelled travel minutes, shares of residents within a standard. No incident
or person figure is used, so nothing here needs the disclosure policy's rule (declared as ``planning``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safertogether.bluelight.coverage import Places, coverage, force_places
from safertogether.bluelight.estate import stored_stations
from safertogether.bluelight.inputs import travel_times
from safertogether.bluelight.maps import lsoa_features
from safertogether.bluelight.scenarios import compare
from safertogether.bluelight.standards import Standard, load_standards
from safertogether.bluelight.traveltime import TravelTimes
from safertogether.errors import BadRequestError, NotFoundError
from safertogether.store.warehouse import Warehouse

ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence v3.0 (Home Office "
               "fire stations; ONS boundaries and population; contains OS data © Crown copyright and database "
               "right). Travel times are modelled: `travel_times` names the model and its error on regions it "
               "never saw.")
#: Map bands: travel minutes as a share of the standard's target (upper bound, label, colour).
BANDS: tuple[tuple[float, str, str], ...] = (
    (0.5, "within half the target", "#2166ac"),
    (0.75, "within three quarters of it", "#67a9cf"),
    (1.0, "within the target", "#d1e5f0"),
    (1.25, "up to a quarter over", "#fdae61"),
    (np.inf, "more than a quarter over", "#b2182b"),
)
#: The most sites a scenario may choose through the API (each choice is a location model solved on request).
MAX_CHOOSE = 60


def _places(warehouse: Warehouse, force: str) -> Places:
    return warehouse.memo(f"plan-places:{force}", lambda w: force_places(w, force))


def _times(warehouse: Warehouse, force: str) -> TravelTimes:
    places = _places(warehouse, force)
    return warehouse.memo(f"plan-times:{force}", lambda w: travel_times(w, places))


def _coverage(warehouse: Warehouse, force: str) -> dict[str, Any]:
    """Memoised per force; the places and travel times are memos of their own, shared with the scenarios."""
    places, times = _places(warehouse, force), _times(warehouse, force)
    return warehouse.memo(f"plan-coverage:{force}", lambda w: coverage(
        places, stored_stations(w), load_standards(), times))


def plan_coverage(warehouse: Warehouse, force: str) -> dict[str, Any]:
    """Every service's standards judged on the stored estate, for the force's LSOAs (no per-LSOA rows)."""
    result = _coverage(warehouse, force)
    return {**{k: v for k, v in result.items() if k != "per_lsoa"}, "force": force,
            "standards": [_describe(s) for s in load_standards()], "attribution": ATTRIBUTION}


def _describe(standard: Standard) -> dict[str, Any]:
    return standard.model_dump(include={"id", "service", "label", "statistic", "target", "share_pct", "source",
                                        "clock_start", "clock_stop"})


def standard_by_id(standard_id: str) -> Standard:
    standards = load_standards()
    found = next((s for s in standards if s.id == standard_id), None)
    if found is None:
        raise NotFoundError(f"no standard '{standard_id}'; the standards are {', '.join(s.id for s in standards)}")
    return found


def plan_coverage_map(warehouse: Warehouse, force: str, standard_id: str) -> dict[str, Any]:
    """The force's LSOAs (GeoJSON) with nearest-station minutes of the standard's service and their band."""
    standard = standard_by_id(standard_id)
    result = _coverage(warehouse, force)
    column = f"{standard.service}_minutes"
    rows = [r for r in result["per_lsoa"] if column in r]
    if not rows:
        raise NotFoundError(f"no {standard.service} stations stored near {force}: load some with "
                            "`safer plan load-stations`")
    urban = np.array([bool(r["urban"]) for r in rows])
    minutes = np.array([float(r[column]) for r in rows])
    target = standard.targets(urban)
    share = minutes / target
    band = np.searchsorted([b[0] for b in BANDS], share)
    properties = {r["lsoa"]: {"lsoa": r["lsoa"], "residents": int(r["persons"]), "urban": bool(r["urban"]),
                              "minutes": round(float(m), 1), "target": float(t), "within": bool(m <= t),
                              "band": BANDS[b][1], "colour": BANDS[b][2]}
                  for r, m, t, b in zip(rows, minutes, target, band, strict=True)}
    return {"type": "FeatureCollection", "features": lsoa_features(warehouse, properties),
            "metadata": {"force": force, "standard": _describe(standard), "travel_times": result["travel_times"],
                         "bands": [{"label": label, "colour": colour, "up_to_share_of_target":
                                    None if np.isinf(bound) else bound} for bound, label, colour in BANDS]},
            "attribution": ATTRIBUTION}


def plan_scenarios(warehouse: Warehouse, force: str, service: str, share: list[str] | None = None,
                   merges: list[tuple[str, str]] | None = None, choose_n: int | None = None,
                   exact: bool = False) -> dict[str, Any]:
    """Today and the asked-for scenarios (share, merge, choose N) on every standard of ``service``."""
    if choose_n is not None and not 1 <= choose_n <= MAX_CHOOSE:
        raise BadRequestError(f"choose between 1 and {MAX_CHOOSE} sites")
    result = compare(_places(warehouse, force), stored_stations(warehouse), load_standards(), _times(warehouse, force),
                     service, share=share, merges=merges, choose_n=choose_n, exact=exact)
    return {**result, "force": force, "attribution": ATTRIBUTION}


def plan_stations(warehouse: Warehouse, force: str) -> dict[str, Any]:
    """The stored stations that serve the force's places (within the margin), per service."""
    from safertogether.bluelight.coverage import nearby

    places, stations = _places(warehouse, force), stored_stations(warehouse)
    here = nearby(stations.table, places)
    return {"force": force, "stations": [
        {"station_id": r["station_id"], "name": r["name"], "service": r["service"], "pinned": bool(r["pinned"])}
        for r in here.sort_values(["service", "name"]).to_dict("records")], "attribution": ATTRIBUTION}
