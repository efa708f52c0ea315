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
import pandas as pd

from safertogether.bluelight import fallback
from safertogether.bluelight.geography import LsoaGeography, read_lsoa_geography
from safertogether.bluelight.network import DrivingModel, read_network
from safertogether.bluelight.pathfeatures import DensityGrid, density_grid
from safertogether.bluelight.reference import ReferencePairs, ReferencePaths, read_reference
from safertogether.bluelight.regional import lsoa_offsets, regional_features
from safertogether.bluelight.terrain import build_surface
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
                       seed: int = 0, step: Step = lambda _: None) -> dict[str, Any]:
    """Fit on every region but ``holdout``, score the held-out pairs under ``max_km``: model and anchor."""
    step("reading the matrix and the LSOAs")
    geography, pairs = load_pairs(inputs, sample_lsoas, seed)
    held = np.isin(pairs.region, list(holdout))
    unknown = sorted(set(holdout) - set(pairs.region))
    if unknown:
        raise BadRequestError(f"no ambulance region {', '.join(unknown)} in the matrix; "
                              f"the regions are {', '.join(sorted(set(pairs.region)))}")
    if held.all():
        raise BadRequestError("every region is held out: leave at least one to fit on")
    step("building the land and density surface")
    density = geography.table["density"].to_numpy()
    surface = build_surface(geography.polygons, density)
    grid = density_grid(geography.polygons, density)
    step("computing features for every pair")
    features = fallback.FeatureSource(surface, geography.table, grid).features(pairs.origin, pairs.destination)
    km = pairs.km
    # Nothing of a held-out region informs the fit: neither its LSOAs nor the sites inside it.
    lsoa_region = pd.Series(pairs.region, index=pairs.lsoa).groupby(level=0).first()
    site_region = _site_regions(geography.table, lsoa_region, pairs.destination)
    clean = ~held & ~np.isin(site_region, list(holdout))
    fit_on, scored = clean & (km < 2 * max_km), held & (km < max_km)
    a, b, c = fallback.curve_baseline(km[clean & (km < max_km)], pairs.minutes[clean & (km < max_km)])
    curve = a + b * km + c * np.sqrt(km)
    step("learning the regional offset from each region's neighbours")
    features = features.assign(**_regional(grid, geography.table, lsoa_region, pairs, curve, clean & (km < max_km),
                                           held, sorted(set(lsoa_region) - set(holdout))), curve=curve)
    step("fitting on the regions not held out")
    model = fallback.fit_fallback(features[fit_on], pairs.minutes[fit_on], seed=seed, max_rows=fit_rows)
    predicted = model.predict(features[scored])
    anchor = curve[scored]
    scored_pairs = pairs.subset(scored)
    return {
        "model": "gradient boosting on straight-line, land-surface, path-density, water, end and neighbours' "
                 "regional-offset features",
        "holdout": list(holdout), "max_km": max_km, "fitted_pairs": int(fit_on.sum()),
        "fitting_excludes": "every pair whose LSOA or site lies in a held-out region",
        **fallback.errors(predicted, scored_pairs.minutes),
        "regions": fallback.region_errors(predicted, scored_pairs),
        "anchor": {"model": "t = a + b*km + c*sqrt(km)", "coefficients": [round(float(v), 4) for v in (a, b, c)],
                   **fallback.errors(anchor, scored_pairs.minutes),
                   "regions": fallback.region_errors(anchor, scored_pairs)},
    }


def _site_regions(lsoas: pd.DataFrame, lsoa_region: pd.Series, sites: np.ndarray) -> np.ndarray:
    """The region of the LSOA whose centroid is nearest each site."""
    from scipy.spatial import cKDTree

    known = lsoas.loc[lsoas.index.isin(lsoa_region.index)]
    _, nearest = cKDTree(known[["easting", "northing"]].to_numpy(float)).query(sites)
    return lsoa_region.reindex(known.index).to_numpy()[nearest]


def _regional(grid: DensityGrid, lsoas: pd.DataFrame, lsoa_region: pd.Series, pairs: ReferencePairs,
              curve: np.ndarray, usable: np.ndarray, held: np.ndarray, fitting_regions: list[str]
              ) -> dict[str, np.ndarray]:
    """Neighbours' offsets: a fitting row's from the other fitting regions, a held-out row's from all of them."""
    log_ratio = np.log(np.maximum(pairs.minutes[usable], 1.0) / np.maximum(curve[usable], 1.0))
    offsets = lsoas[["easting", "northing"]].join(lsoa_region.rename("region"), how="inner")
    offsets["offset"] = lsoa_offsets(pairs.lsoa[usable], log_ratio).reindex(offsets.index)
    groups = np.where(held, "held out", pairs.region)
    sources = {"held out": fitting_regions, **{r: [s for s in fitting_regions if s != r] for r in fitting_regions}}
    return regional_features(grid, offsets, pairs.origin, pairs.destination, groups, sources)


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
