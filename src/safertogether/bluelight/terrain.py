"""A coarse travel surface built from the LSOAs alone: where the land is and how built-up it is.

Straight-line distance misses the two things that make road times differ most: water (the Bristol
Channel, the Solent, estuaries and bays, which roads go round) and built-up areas (slow streets).
The union of LSOA polygons is a land mask and their population density a proxy for street speed, so a
grid of cells over them, each with a cost per kilometre, and Dijkstra over its 8-neighbour graph give
a *surface time* from any site to every cell: round the water, slower through towns. Gaps narrower
than ``bridge_m`` (rivers in towns, which the clipped polygons leave open) count as land.

The speeds are a proxy, not a road model: the fallback model uses the surface time and the surface
distance as features beside straight-line distance, and learns from the matrix how they map to minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

#: Street speed proxy by residents per hectare: (upper bound of density, km/h). Documented, not fitted.
SPEED_BY_DENSITY: tuple[tuple[float, float], ...] = ((1.0, 80.0), (5.0, 60.0), (20.0, 45.0), (50.0, 32.0),
                                                     (np.inf, 24.0))


@dataclass
class Surface:
    """A grid over the land: cell size (m), origin, land flags and minutes per km per cell."""

    cell_m: float
    x0: float
    y0: float
    shape: tuple[int, int]
    land: np.ndarray            # bool (rows, cols)
    minutes_per_km: np.ndarray  # float (rows, cols); inf on water
    _graphs: dict[str, sparse.csr_matrix] = field(default_factory=dict)

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        """Flat index of the nearest land cell to each point (a point in water snaps to the shore)."""
        col = np.clip(((xy[:, 0] - self.x0) / self.cell_m).astype(int), 0, self.shape[1] - 1)
        row = np.clip(((xy[:, 1] - self.y0) / self.cell_m).astype(int), 0, self.shape[0] - 1)
        flat = row * self.shape[1] + col
        wet = ~self.land.ravel()[flat]
        if wet.any():
            land_flat = np.flatnonzero(self.land.ravel())
            land_xy = np.column_stack([land_flat % self.shape[1], land_flat // self.shape[1]])
            tree = shapely.STRtree(shapely.points(land_xy))
            near = tree.nearest(shapely.points(np.column_stack([col[wet], row[wet]])))
            flat[wet] = land_flat[near]
        return flat

    def graph(self, weight: str) -> sparse.csr_matrix:
        """The 8-neighbour graph of land cells weighted by distance (km) or by surface time (min)."""
        if weight not in self._graphs:
            self._graphs[weight] = _grid_graph(self, weight)
        return self._graphs[weight]

    def from_sites(self, sites: np.ndarray, weight: str) -> np.ndarray:
        """Surface distance or time from each site (rows) to every cell (columns); inf where unreachable."""
        sources = np.unique(self.cell_of(sites), return_inverse=True)
        found = dijkstra(self.graph(weight), indices=sources[0])
        return np.asarray(found[sources[1]])


def speed_kmh(density: np.ndarray) -> np.ndarray:
    """The street speed proxy (km/h) for residents per hectare, from :data:`SPEED_BY_DENSITY`."""
    return np.select([density <= bound for bound, _ in SPEED_BY_DENSITY], [s for _, s in SPEED_BY_DENSITY])


def build_surface(polygons: np.ndarray, density: np.ndarray, cell_m: float = 1000.0, bridge_m: float = 300.0
                  ) -> Surface:
    """Rasterise the LSOA polygons (BNG) into land cells carrying their LSOA's speed proxy."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(polygons)
    cols, rows = int((xmax - xmin) // cell_m) + 1, int((ymax - ymin) // cell_m) + 1
    gx, gy = np.meshgrid(xmin + (np.arange(cols) + 0.5) * cell_m, ymin + (np.arange(rows) + 0.5) * cell_m)
    centres = shapely.points(gx.ravel(), gy.ravel())
    tree = shapely.STRtree(polygons)
    cell, polygon = tree.query(centres, predicate="dwithin", distance=bridge_m)
    first = np.full(centres.size, -1)
    first[cell[::-1]] = polygon[::-1]
    land = first >= 0
    speeds = speed_kmh(density)
    cost = np.full(centres.size, np.inf)
    cost[land] = 60.0 / speeds[first[land]]
    return Surface(cell_m, float(xmin), float(ymin), (rows, cols), land.reshape(rows, cols),
                   cost.reshape(rows, cols))


def _grid_graph(surface: Surface, weight: str) -> sparse.csr_matrix:
    rows, cols = surface.shape
    flat = np.arange(rows * cols).reshape(rows, cols)
    cost = surface.minutes_per_km
    step_km = surface.cell_m / 1000.0
    heads, tails, weights = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = flat[max(0, -dr):rows - max(0, dr), max(0, -dc):cols - max(0, dc)]
        b = flat[max(0, dr):rows - max(0, -dr) or None, max(0, dc):cols - max(0, -dc) or None]
        a, b = a.ravel(), b.ravel()
        both = surface.land.ravel()[a] & surface.land.ravel()[b]
        length = step_km * (np.sqrt(2.0) if dr and dc else 1.0)
        per_km = (cost.ravel()[a[both]] + cost.ravel()[b[both]]) / 2 if weight == "time" else 1.0
        heads.append(a[both])
        tails.append(b[both])
        weights.append(np.broadcast_to(length * per_km, a[both].shape).astype(float))
    head, tail, value = np.concatenate(heads), np.concatenate(tails), np.concatenate(weights)
    n = rows * cols
    return sparse.csr_matrix((np.r_[value, value], (np.r_[head, tail], np.r_[tail, head])), shape=(n, n))
