"""LSOAs as a graph of neighbours: which land joins which, and the way across it from centre to centre.

The 1 km land raster (:mod:`safertogether.bluelight.terrain`) bridges the Solent: at that resolution
the Isle of Wight touches the mainland, so the ferry pairs (+72 min on the real matrix) look like any
other. Here each LSOA is a node and two LSOAs are joined when their polygons lie within ``gap_m`` of
each other (500 m: rivers in towns and the clipped boundaries' slivers close, the Solent and the
Bristol Channel stay open), the edge as long as the straight line between their centres. The shortest
path from a site's LSOA then goes round water the polygons leave open, and pairs in different
components (an island without a fixed link) are named. Two more ways across say how built-up the way
is: the fewest LSOAs to cross (small LSOAs are towns) and the fewest residents to pass (each LSOA
entered counts its residents), since streets through towns are slow.

Like the raster, the graph is a feature, not a road model: the fallback model learns from the matrix
what its distances and times mean in minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from safertogether.bluelight.terrain import speed_kmh

#: Polygons closer than this are neighbours (metres). Chosen so the Isle of Wight stays an island.
GAP_M = 500.0


@dataclass
class LsoaGraph:
    """LSOA polygons and centres (BNG), and the neighbour graph under each weight: ``distance`` (km),
    ``time`` (proxy minutes), ``hops`` (LSOAs crossed), ``people`` (thousands of residents passed)."""

    polygons: np.ndarray
    centres: np.ndarray
    weights: dict[str, sparse.csr_matrix]

    def lsoa_of(self, xy: np.ndarray) -> np.ndarray:
        """Index of the LSOA each point lies in (the nearest centre for a point in none: sea, or outside)."""
        nearest = cKDTree(self.centres).query(xy)[1]
        point, polygon = shapely.STRtree(self.polygons).query(shapely.points(xy), predicate="within")
        nearest[point] = polygon
        return np.asarray(nearest)

    def from_sites(self, sites: np.ndarray, weight: str) -> np.ndarray:
        """The shortest way under ``weight`` from each site (rows) to every LSOA (columns); inf across water."""
        sources = np.unique(self.lsoa_of(sites), return_inverse=True)
        found = dijkstra(self.weights[weight], indices=sources[0])
        return np.asarray(found[sources[1].ravel()])


def build_lsoa_graph(polygons: np.ndarray, centres: np.ndarray, density: np.ndarray, residents: np.ndarray,
                     gap_m: float = GAP_M) -> LsoaGraph:
    """Join LSOAs whose polygons lie within ``gap_m``; edges weighted by centre-to-centre km, by minutes at
    the density speed proxy of the two ends, by one per LSOA and by the residents of the LSOA entered."""
    centres = np.asarray(centres, dtype=float)
    head, tail = shapely.STRtree(polygons).query(polygons, predicate="dwithin", distance=gap_m)
    once = head < tail
    head, tail = head[once], tail[once]
    km = np.hypot(*(centres[head] - centres[tail]).T) / 1000.0
    speed = speed_kmh(np.asarray(density, dtype=float))
    minutes = km * (60.0 / speed[head] + 60.0 / speed[tail]) / 2

    start, end = np.r_[head, tail], np.r_[tail, head]  # both ways

    def graph(weight: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix((weight, (start, end)), shape=(len(centres), len(centres)))

    entered = np.maximum(np.asarray(residents, dtype=float)[end], 1.0) / 1000.0  # never a zero-weight edge
    return LsoaGraph(polygons, centres, {"distance": graph(np.r_[km, km]), "time": graph(np.r_[minutes, minutes]),
                                         "hops": graph(np.ones(len(start))), "people": graph(entered)})
