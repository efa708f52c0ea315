"""The fallback travel-time model, for areas no road network covers, and its honest error.

Straight-line distance alone (``t = a + b*km + c*sqrt(km)``) errs by a regional offset (London slower,
the East Midlands faster than the national curve) and a tail of water crossings. The features here
come from the data itself: the straight line, the *surface* distance and time round the water and
through built-up areas (:mod:`safertogether.bluelight.terrain`), the density at both ends (own LSOA,
2, 5 and 10 km) and along the straight line (how built-up it is, and how far it strays from any LSOA
centroid: open country or sea), and the way across the LSOAs' neighbour graph
(:mod:`safertogether.bluelight.adjacency`: round water the polygons leave open, and whether the two ends
are on different land at all). A gradient-boosted model maps them to minutes. Calibration holds
whole ambulance regions out of the fit and scores only them, so the error is what a region without
data would see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from safertogether.bluelight.adjacency import LsoaGraph, build_lsoa_graph
from safertogether.bluelight.reference import ReferencePairs
from safertogether.bluelight.standards import URBAN_DENSITY
from safertogether.bluelight.terrain import Surface, build_surface

FEATURES = ("km", "sqrt_km", "surface_km", "detour", "surface_min", "origin_density", "site_density",
            "origin_local_density", "site_local_density", "origin_density_2km", "origin_density_10km",
            "site_density_2km", "site_density_10km", "origin_log_hectares", "line_mean_density", "line_max_density",
            "line_min_density", "line_urban_share", "line_gap_max_m", "graph_km", "graph_detour", "graph_min",
            "graph_hops", "graph_people_k", "across_water")


@dataclass
class FeatureSource:
    """What the features are computed from: the surface, the LSOA table (centroids, density) and the LSOAs'
    neighbour graph (``lsoas`` and the graph's nodes in the same order)."""

    surface: Surface
    lsoas: pd.DataFrame
    graph: LsoaGraph

    @classmethod
    def from_lsoas(cls, lsoas: pd.DataFrame, polygons: np.ndarray) -> FeatureSource:
        """The surface and graph of these LSOAs (``easting``, ``northing``, ``density``; polygons in BNG)."""
        density = lsoas["density"].to_numpy(float)
        return cls(build_surface(polygons, density), lsoas,
                   build_lsoa_graph(polygons, lsoas[["easting", "northing"]].to_numpy(float), density,
                                    lsoas["persons"].to_numpy(float)))

    def __post_init__(self) -> None:
        from scipy.spatial import cKDTree

        self._tree = cKDTree(self.lsoas[["easting", "northing"]].to_numpy(float))
        self._values = {"own": self.lsoas["density"].to_numpy(float), "5km": _local_density(self.lsoas),
                        "2km": _local_density(self.lsoas, 2000.0), "10km": _local_density(self.lsoas, 10000.0),
                        "log_hectares": np.log1p(self.lsoas["hectares"].to_numpy(float))}

    def density_near(self, xy: np.ndarray, local: bool = False, around: str | None = None) -> np.ndarray:
        """Density of the LSOA whose centroid is nearest each point (or of its 5 km neighbourhood, or of
        ``around``: "2km", "10km", "log_hectares")."""
        values = self._values[around or ("5km" if local else "own")]
        return np.asarray(values[self._tree.query(xy)[1]], dtype=float)

    def along(self, origin: np.ndarray, destination: np.ndarray) -> dict[str, np.ndarray]:
        """How built-up the straight line is: 2 km densities at nine points along it, and the furthest any
        of them is from an LSOA centroid (open country or sea)."""
        points = [origin + f * (destination - origin) for f in np.linspace(0.1, 0.9, 9)]
        found = [self._tree.query(p) for p in points]
        density = np.vstack([self._values["2km"][n] for _, n in found])
        return {"line_mean_density": density.mean(axis=0), "line_max_density": density.max(axis=0),
                "line_min_density": density.min(axis=0), "line_urban_share": (density >= URBAN_DENSITY).mean(axis=0),
                "line_gap_max_m": np.vstack([d for d, _ in found]).max(axis=0)}

    def features(self, origin: np.ndarray, destination: np.ndarray) -> pd.DataFrame:
        """The model's inputs for pairs of points (metres, BNG)."""
        sites, site_index = np.unique(destination, axis=0, return_inverse=True)
        site_index = site_index.ravel()
        distance = self.surface.from_sites(sites, "distance")
        time = self.surface.from_sites(sites, "time")
        ends, end_index = np.unique(origin, axis=0, return_inverse=True)
        end_index = end_index.ravel()
        cells = self.surface.cell_of(ends)[end_index]
        km = np.hypot(*(origin - destination).T) / 1000.0
        surface_km = distance[site_index, cells]
        surface_min = time[site_index, cells]
        cut_off = ~np.isfinite(surface_km)  # an island: the surface has no way across
        surface_km[cut_off] = km[cut_off] * 3
        surface_min[cut_off] = km[cut_off] * 3
        return pd.DataFrame({
            "km": km, "sqrt_km": np.sqrt(km), "surface_km": surface_km,
            "detour": surface_km / np.maximum(km, 1.0), "surface_min": surface_min,
            "origin_density": self.density_near(ends)[end_index],
            "site_density": self.density_near(sites)[site_index],
            "origin_local_density": self.density_near(ends, local=True)[end_index],
            "site_local_density": self.density_near(sites, local=True)[site_index],
            **{f"origin_density_{r}": self.density_near(ends, around=r)[end_index] for r in ("2km", "10km")},
            **{f"site_density_{r}": self.density_near(sites, around=r)[site_index] for r in ("2km", "10km")},
            "origin_log_hectares": self.density_near(ends, around="log_hectares")[end_index],
            **self.along(origin, destination),
            **self.across_graph(sites, site_index, ends, end_index, km),
        })

    def across_graph(self, sites: np.ndarray, site_index: np.ndarray, ends: np.ndarray, end_index: np.ndarray,
                     km: np.ndarray) -> dict[str, np.ndarray]:
        """The shortest ways over the LSOA neighbour graph (km, proxy minutes, LSOAs crossed, thousands of
        residents passed) and whether there is none: the two ends on different land (three times the
        straight line stands in for each way across)."""
        lsoa = self.graph.lsoa_of(ends)[end_index]
        way = {name: self.graph.from_sites(sites, weight)[site_index, lsoa] for name, weight in (
            ("graph_km", "distance"), ("graph_min", "time"), ("graph_hops", "hops"), ("graph_people_k", "people"))}
        across = ~np.isfinite(way["graph_km"])
        for values in way.values():
            values[across] = km[across] * 3
        return {**way, "graph_detour": way["graph_km"] / np.maximum(km, 1.0), "across_water": across.astype(float)}


def _local_density(lsoas: pd.DataFrame, radius_m: float = 5000.0) -> np.ndarray:
    """Residents per hectare within ``radius_m`` of each LSOA centroid: how urban its surroundings are."""
    from scipy.spatial import cKDTree

    xy = lsoas[["easting", "northing"]].to_numpy()
    pairs = cKDTree(xy).query_pairs(radius_m, output_type="ndarray")
    persons, hectares = lsoas["persons"].to_numpy(float), lsoas["hectares"].to_numpy(float)
    around = persons + np.bincount(pairs[:, 0], persons[pairs[:, 1]], len(xy)) + np.bincount(
        pairs[:, 1], persons[pairs[:, 0]], len(xy))
    area = hectares + np.bincount(pairs[:, 0], hectares[pairs[:, 1]], len(xy)) + np.bincount(
        pairs[:, 1], hectares[pairs[:, 0]], len(xy))
    return around / np.maximum(area, 1.0)


@dataclass
class FallbackModel:
    """A fitted model: minutes from features."""

    estimator: Any

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # as in fit_fallback: OpenMP threads spin against the shared cores
            return np.asarray(self.estimator.predict(features[list(FEATURES)]), dtype=float)


def fit_fallback(features: pd.DataFrame, minutes: np.ndarray, seed: int = 0, max_rows: int = 600_000
                 ) -> FallbackModel:
    """Gradient boosting (scikit-learn's histogram GBM, absolute-error loss) on a sample of the pairs.

    One OpenMP thread: with scikit-learn's default (every core) the same fit took 2-10 minutes instead of
    17-72 s on the 2 shared cores, its threads spinning against other processes.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(minutes), size=min(max_rows, len(minutes)), replace=False)
    estimator = HistGradientBoostingRegressor(loss="absolute_error", max_iter=300, learning_rate=0.1,
                                              max_leaf_nodes=63, random_state=seed)
    with threadpool_limits(1):
        estimator.fit(features.iloc[rows][list(FEATURES)], minutes[rows])
    return FallbackModel(estimator)


def curve_baseline(km: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """Least-squares ``a + b*km + c*sqrt(km)``: the issue's anchor model, coefficients."""
    design = np.column_stack([np.ones_like(km), km, np.sqrt(km)])
    return np.linalg.lstsq(design, minutes, rcond=None)[0]


def errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float | int]:
    """Median and 90th-percentile absolute error (minutes and % of the real time), and the pair count."""
    error = np.abs(predicted - actual)
    share = error / np.maximum(actual, 0.1)
    return {"pairs": int(len(actual)), "median_abs_error_min": round(float(np.median(error)), 2),
            "p90_abs_error_min": round(float(np.quantile(error, 0.9)), 2),
            "median_abs_error_pct": round(100 * float(np.median(share)), 1),
            "p90_abs_error_pct": round(100 * float(np.quantile(share, 0.9)), 1)}


def region_errors(predicted: np.ndarray, pairs: ReferencePairs) -> dict[str, dict[str, float | int]]:
    return {str(r): {**errors(predicted[pairs.region == r], pairs.minutes[pairs.region == r]),
                     "mean_error_min": round(float(np.mean(predicted[pairs.region == r]
                                                            - pairs.minutes[pairs.region == r])), 2)}
            for r in sorted(set(pairs.region))}
