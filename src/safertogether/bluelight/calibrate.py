"""``safer plan calibrate``: how far a travel-time model is from the real matrix, on regions it never saw.

Whole ambulance regions (``ambo22`` codes) are held out of fitting and scored; the default holds out
London, the South West and the East Midlands (the issue's anchor), scoring pairs under ``max_km``.
The anchor curve ``t = a + b*km + c*sqrt(km)`` is fitted and scored on the same split in the same run,
so every answer carries its own baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safertogether.bluelight import fallback
from safertogether.bluelight.geography import LsoaGeography, read_lsoa_geography
from safertogether.bluelight.network import DrivingModel, read_network
from safertogether.bluelight.reference import ReferencePairs, ReferencePaths, read_reference
from safertogether.errors import BadRequestError

DEFAULT_HOLDOUT = ("LAS", "SWAS", "EMAS")
Step = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationInputs:
    """The reference matrix and the LSOA geography it is joined to."""

    reference: ReferencePaths
    boundaries: Path
    population: Path

    @classmethod
    def in_data_folder(cls, data: str | Path) -> CalibrationInputs:
        data = Path(data)
        return cls(ReferencePaths.in_folder(data / "blue-light" / "ambulance"),
                   data / "boundaries" / "lsoa-2011-ew.geojson",
                   data / "boundaries" / "lsoa-2011-census-population.csv")


def load_pairs(inputs: CalibrationInputs, sample_lsoas: int | None = None, seed: int = 0
               ) -> tuple[LsoaGeography, ReferencePairs]:
    geography = read_lsoa_geography(inputs.boundaries, inputs.population)
    pairs = read_reference(inputs.reference, geography.centroids)
    if sample_lsoas:
        chosen = np.random.default_rng(seed).choice(np.unique(pairs.lsoa), size=sample_lsoas, replace=False)
        pairs = pairs.subset(np.isin(pairs.lsoa, chosen))
    return geography, pairs


def calibrate_fallback(inputs: CalibrationInputs, holdout: Sequence[str] = DEFAULT_HOLDOUT,
                       max_km: float = 60.0, sample_lsoas: int | None = None, fit_rows: int = 200_000,
                       seed: int = 0, step: Step = lambda _: None, save_model: Path | None = None) -> dict[str, Any]:
    """Fit on every region but ``holdout``, score the held-out pairs under ``max_km``: model and anchor.

    With ``save_model``, the model is then fitted again on every region (the same features and settings)
    and written there with the held-out error just measured: what coverage uses and states.
    """
    step("reading the matrix and the LSOAs")
    geography, pairs = load_pairs(inputs, sample_lsoas, seed)
    held = np.isin(pairs.region, list(holdout))
    unknown = sorted(set(holdout) - set(pairs.region))
    if unknown:
        raise BadRequestError(f"no ambulance region {', '.join(unknown)} in the matrix; "
                              f"the regions are {', '.join(sorted(set(pairs.region)))}")
    if held.all():
        raise BadRequestError("every region is held out: leave at least one to fit on")
    step("building the land and density surface and the LSOA neighbour graph")
    source = fallback.FeatureSource.from_lsoas(geography.table, geography.polygons)
    step("computing features for every pair")
    features = source.features(pairs.origin, pairs.destination)
    km = pairs.km
    fit_on, scored = ~held & (km < 2 * max_km), held & (km < max_km)
    step("fitting on the regions not held out")
    model = fallback.fit_fallback(features[fit_on], pairs.minutes[fit_on], seed=seed, max_rows=fit_rows)
    predicted = model.predict(features[scored])
    a, b, c = fallback.curve_baseline(km[fit_on & (km < max_km)], pairs.minutes[fit_on & (km < max_km)])
    anchor = a + b * km[scored] + c * np.sqrt(km[scored])
    scored_pairs = pairs.subset(scored)
    result = {
        "model": ("gradient boosting on straight-line, land-surface, LSOA-graph, density and along-the-line "
                  "density features"),
        "holdout": list(holdout), "max_km": max_km, "fitted_pairs": int(fit_on.sum()),
        **fallback.errors(predicted, scored_pairs.minutes),
        "regions": fallback.region_errors(predicted, scored_pairs),
        "anchor": {"model": "t = a + b*km + c*sqrt(km)", "coefficients": [round(float(v), 4) for v in (a, b, c)],
                   **fallback.errors(anchor, scored_pairs.minutes),
                   "regions": fallback.region_errors(anchor, scored_pairs)},
    }
    if save_model is not None:
        step("fitting on every region and saving the model")
        everywhere = km < 2 * max_km
        final = fallback.fit_fallback(features[everywhere], pairs.minutes[everywhere], seed=seed, max_rows=fit_rows)
        error = {"held_out": list(holdout), "max_km": max_km,
                 **{k: result[k] for k in ("pairs", "median_abs_error_min", "p90_abs_error_min")}}
        about = {"features": list(fallback.FEATURES), "error": error,
                 "fitted": {"regions": "all", "pairs_under_km": 2 * max_km, "seed": seed,
                            "rows": min(fit_rows, int(everywhere.sum()))}}
        from safertogether.bluelight.trees import from_sklearn

        from_sklearn(final.estimator, about).save(save_model)
        result["saved_model"] = str(save_model)
    return result


def calibrate_network(inputs: CalibrationInputs, network_file: str | Path, snap_m: float = 300.0,
                      model: DrivingModel | None = None, step: Step = lambda _: None) -> dict[str, Any]:
    """The road model's error over the matrix pairs whose both ends lie within ``snap_m`` of the network."""
    step("reading the road network")
    network = read_network(network_file, model)
    step("reading the matrix and the LSOAs")
    _geography, pairs = load_pairs(inputs)
    origin_node, origin_on = network.snap(pairs.origin, snap_m)
    site_node, site_on = network.snap(pairs.destination, snap_m)
    routable = origin_on & site_on
    result: dict[str, Any] = {"network": str(network_file), "nodes": len(network.xy), "snap_m": snap_m,
                              "pairs_in_matrix": len(pairs)}
    if not routable.any():
        return {**result, "pairs": 0, "median_abs_error_min": None, "p90_abs_error_min": None, "regions": {},
                "note": "no LSOA-hospital pair has both ends on this network: give a larger extract"}
    step(f"routing {int(routable.sum()):,} pairs")
    chosen = pairs.subset(routable)
    sites = np.unique(site_node[routable])
    table = network.times(origin_node[routable], sites)
    predicted = table[np.arange(len(table)), np.searchsorted(sites, site_node[routable])]
    reached = np.isfinite(predicted)
    chosen, predicted = chosen.subset(reached), predicted[reached]
    ratio = float(np.median(chosen.minutes / np.maximum(predicted, 0.1)))
    return {**result, **fallback.errors(predicted, chosen.minutes), "unreachable_pairs": int((~reached).sum()),
            "mean_error_min": round(float(np.mean(predicted - chosen.minutes)), 2),
            "median_ratio_real_to_model": round(ratio, 3),
            "regions": fallback.region_errors(predicted, chosen)}
