"""The regional offset, learnt from the neighbours: how much slower than the national curve nearby places are.

Road times differ by region by more than density explains (the West and East Midlands run ~4 minutes
faster than the national curve at every density, London ~3 minutes slower). A held-out region cannot
give its own offset, but its neighbours can: each LSOA's median log ratio of real to curve minutes is
smoothed over ~10 and ~25 km of *other* regions' LSOAs, and read at a pair's origin, site and midpoint.

To be honest the features of a fitting row are computed the way a held-out row's are: without its own
region (leave-region-out), so the model learns how far to trust a neighbours' offset, not its own.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import ndimage

from safertogether.bluelight.pathfeatures import DensityGrid

SIGMAS_KM = (10.0, 25.0)
REGIONAL_FEATURES = tuple(f"{name}_{s:g}km" for s in SIGMAS_KM
                          for name in ("offset_origin", "offset_site", "offset_middle", "offset_support"))


def lsoa_offsets(lsoa: np.ndarray, log_ratio: np.ndarray) -> pd.Series:
    """Each LSOA's median log(real / curve minutes) over its pairs."""
    return pd.Series(log_ratio).groupby(lsoa).median()


def _field(grid: DensityGrid, xy: np.ndarray, values: np.ndarray, sigma_km: float) -> tuple[np.ndarray, np.ndarray]:
    size = grid.land.size
    cells = grid.flat(xy)
    total = np.bincount(cells, values, size).reshape(grid.land.shape)
    count = np.bincount(cells, minlength=size).astype(float).reshape(grid.land.shape)
    sigma = sigma_km * 1000.0 / grid.cell_m
    total, count = ndimage.gaussian_filter(total, sigma), ndimage.gaussian_filter(count, sigma)
    return (total / np.maximum(count, 1e-3)).ravel(), np.log1p(count.ravel() * 1000)


def regional_features(grid: DensityGrid, offsets: pd.DataFrame, origin: np.ndarray, destination: np.ndarray,
                      groups: np.ndarray, sources: dict[str, Iterable[str]]) -> dict[str, np.ndarray]:
    """Neighbours' offsets at each pair's ends and middle.

    ``offsets``: one row per LSOA with easting, northing, region and offset (NaN where unknown);
    ``groups`` names each pair's group, and ``sources[group]`` the regions whose LSOAs may inform it.
    """
    cells = {"origin": grid.flat(origin), "site": grid.flat(destination),
             "middle": grid.flat((origin + destination) / 2)}
    out = {name: np.full(len(origin), np.nan) for name in REGIONAL_FEATURES}
    for group, regions in sources.items():
        rows = groups == group
        usable = offsets["region"].isin(list(regions)).to_numpy() & offsets["offset"].notna().to_numpy()
        xy = offsets.loc[usable, ["easting", "northing"]].to_numpy(float)
        for sigma in SIGMAS_KM:
            field, support = _field(grid, xy, offsets.loc[usable, "offset"].to_numpy(float), sigma)
            for end, where in cells.items():
                out[f"offset_{end}_{sigma:g}km"][rows] = field[where[rows]]
            out[f"offset_support_{sigma:g}km"][rows] = support[cells["origin"][rows]]
    return out
