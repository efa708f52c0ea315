"""LSOAs as a graph of neighbours: which land joins which, and the way across it from centre to centre.

The 1 km land raster (:mod:`safertogether.bluelight.terrain`) bridges the Solent: at that resolution
the Isle of Wight touches the mainland, so the ferry pairs (+72 min on the real matrix) look like any
other. Here each LSOA is a node and two LSOAs are joined when their polygons lie within ``gap_m`` of
each other (500 m: rivers in towns and the clipped boundaries' slivers close, the Solent and the
Bristol Channel stay open), the edge as long as the straight line between their centres. The shortest
path from a site's LSOA then goes round water the polygons leave open, through as many towns as the
LSOAs on the way, and pairs in different components (an island without a fixed link) are named.

Like the raster, the graph is a feature, not a road model: the fallback model learns from the matrix
what its distances and times mean in minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from safertogether.bluelight.terrain import speed_kmh

#: Polygons closer than this are neighbours (metres). Chosen so the Isle of Wight stays an island.
GAP_M = 500.0


@dataclass
class LsoaGraph:
    """LSOA polygons and centres (BNG), and the neighbour graph weighted by km and by proxy minutes."""

    polygons: np.ndarray
    centres: np.ndarray
    distance: sparse.csr_matrix
    time: sparse.csr_matrix
    component: np.ndarray

    def lsoa_of(self, xy: np.ndarray) -> np.ndarray:
        """Index of the LSOA each point lies in (the nearest centre for a point in none: sea, or outside)."""
        nearest = cKDTree(self.centres).query(xy)[1]
        point, polygon = shapely.STRtree(self.polygons).query(shapely.points(xy), predicate="within")
        nearest[point] = polygon
        return np.asarray(nearest)

    def from_sites(self, sites: np.ndarray, weight: str) -> np.ndarray:
        """Graph distance (km) or time (min) from each site (rows) to every LSOA (columns); inf across water."""
        sources = np.unique(self.lsoa_of(sites), return_inverse=True)
        found = dijkstra(self.distance if weight == "distance" else self.time, indices=sources[0])
        return np.asarray(found[sources[1].ravel()])


def build_lsoa_graph(polygons: np.ndarray, centres: np.ndarray, density: np.ndarray, gap_m: float = GAP_M
                     ) -> LsoaGraph:
    """Join LSOAs whose polygons lie within ``gap_m``; edges weighted by centre-to-centre km and by minutes
    at the density speed proxy of the two ends."""
    centres = np.asarray(centres, dtype=float)
    head, tail = shapely.STRtree(polygons).query(polygons, predicate="dwithin", distance=gap_m)
    once = head < tail
    head, tail = head[once], tail[once]
    km = np.hypot(*(centres[head] - centres[tail]).T) / 1000.0
    speed = speed_kmh(np.asarray(density, dtype=float))
    minutes = km * (60.0 / speed[head] + 60.0 / speed[tail]) / 2

    def symmetric(weight: np.ndarray) -> sparse.csr_matrix:
        n = len(centres)
        return sparse.csr_matrix((np.r_[weight, weight], (np.r_[head, tail], np.r_[tail, head])), shape=(n, n))

    distance = symmetric(km)
    return LsoaGraph(polygons, centres, distance, symmetric(minutes),
                     connected_components(distance, directed=False)[1])
