"""What lies along the straight line between two points and around its ends, from the LSOAs alone.

The curve ``a + b*km + c*sqrt(km)`` treats every kilometre alike. A kilometre through a city costs more
minutes than one across farmland, and one over water costs a detour (or a ferry). So the line from an
LSOA to a site is sampled every ~``km/SAMPLES`` and each sample is looked up on a 1 km grid of
residents per hectare (smoothed over ~3 km, the scale of a town's street network) and of land (the
union of the LSOA polygons): the features are the kilometres in each density band and over water.
Beside them, each end's surroundings at 1, 3 and 8 km, the LSOA's own area (a large rural LSOA's
centroid lies far from its roads) and how many LSOAs a site is the nearest site of (a big hospital
sits in a city).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage

#: Residents per hectare (smoothed over ~3 km) bounding the density bands the line's kilometres fall in.
BANDS = (0.5, 2.0, 8.0, 25.0, 60.0)
SAMPLES = 40
SCALES_KM = (1.0, 3.0, 8.0)
PATH_FEATURES = (*(f"km_band{k}" for k in range(len(BANDS) + 1)), "km_water", "line_log_density")
END_FEATURES = (*(f"{end}_log_density_{s:g}km" for s in SCALES_KM for end in ("origin", "site")),
                "origin_log_hectares", "site_log_served")


@dataclass
class DensityGrid:
    """A grid over England and Wales: land flags and smoothed residents per hectare at each scale."""

    x0: float
    y0: float
    cell_m: float
    land: np.ndarray                      # bool (rows, cols)
    density: dict[float, np.ndarray]      # scale (km) -> residents per ha over land, (rows, cols)

    def flat(self, xy: np.ndarray) -> np.ndarray:
        rows, cols = self.land.shape
        col = np.clip(((xy[..., 0] - self.x0) / self.cell_m).astype(int), 0, cols - 1)
        row = np.clip(((xy[..., 1] - self.y0) / self.cell_m).astype(int), 0, rows - 1)
        return row * cols + col

    def at(self, xy: np.ndarray, scale_km: float) -> np.ndarray:
        return np.asarray(self.density[scale_km].ravel()[self.flat(xy)])


def density_grid(polygons: np.ndarray, density: np.ndarray, cell_m: float = 1000.0) -> DensityGrid:
    """Rasterise the LSOA polygons (BNG) by cell centre and smooth residents over land at each scale."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(polygons)
    cols, rows = int((xmax - xmin) // cell_m) + 1, int((ymax - ymin) // cell_m) + 1
    gx, gy = np.meshgrid(xmin + (np.arange(cols) + 0.5) * cell_m, ymin + (np.arange(rows) + 0.5) * cell_m)
    centres = shapely.points(gx.ravel(), gy.ravel())
    cell, polygon = shapely.STRtree(polygons).query(centres, predicate="intersects")
    owner = np.full(centres.size, -1)
    owner[cell] = polygon
    land = (owner >= 0).reshape(rows, cols)
    hectares = cell_m * cell_m / 1e4
    persons = np.where(owner >= 0, density[np.maximum(owner, 0)] * hectares, 0.0).reshape(rows, cols)
    smoothed = {}
    for scale in SCALES_KM:
        sigma = scale * 1000.0 / cell_m
        around = ndimage.gaussian_filter(persons, sigma)
        share_land = ndimage.gaussian_filter(land.astype(float), sigma)
        smoothed[scale] = around / np.maximum(share_land, 0.05) / hectares
    return DensityGrid(float(xmin), float(ymin), cell_m, land, smoothed)


def path_features(grid: DensityGrid, origin: np.ndarray, destination: np.ndarray, chunk: int = 200_000
                  ) -> dict[str, np.ndarray]:
    """Kilometres of each straight line per density band and over water, and its mean log density."""
    n = len(origin)
    km = np.hypot(*(origin - destination).T) / 1000.0
    out = np.zeros((n, len(PATH_FEATURES)))
    steps = (np.arange(SAMPLES) + 0.5) / SAMPLES
    land = grid.land.ravel()
    dense = grid.density[3.0].ravel()
    for start in range(0, n, chunk):
        o, d = origin[start:start + chunk], destination[start:start + chunk]
        cells = grid.flat(o[:, None, :] + (d - o)[:, None, :] * steps[None, :, None])
        piece = km[start:start + chunk, None] / SAMPLES
        around = dense[cells]
        band = np.searchsorted(BANDS, around)
        for k in range(len(BANDS) + 1):
            out[start:start + chunk, k] = ((band == k) * piece).sum(axis=1)
        out[start:start + chunk, len(BANDS) + 1] = ((~land[cells]) * piece).sum(axis=1)
        out[start:start + chunk, len(BANDS) + 2] = np.log1p(around).mean(axis=1)
    return dict(zip(PATH_FEATURES, out.T, strict=True))


def end_features(grid: DensityGrid, origin: np.ndarray, destination: np.ndarray, origin_hectares: np.ndarray
                 ) -> dict[str, np.ndarray]:
    """Each end's surroundings, the origin LSOA's size and how many of the origins each site is nearest to."""
    from scipy.spatial import cKDTree

    found: dict[str, np.ndarray] = {}
    for scale in SCALES_KM:
        found[f"origin_log_density_{scale:g}km"] = np.log1p(grid.at(origin, scale))
        found[f"site_log_density_{scale:g}km"] = np.log1p(grid.at(destination, scale))
    found["origin_log_hectares"] = np.log(np.maximum(origin_hectares, 0.01))
    sites, site_index = np.unique(destination, axis=0, return_inverse=True)
    ends = np.unique(origin, axis=0)
    _, nearest = cKDTree(sites).query(ends)
    found["site_log_served"] = np.log1p(np.bincount(nearest, minlength=len(sites)))[site_index.ravel()]
    return found
