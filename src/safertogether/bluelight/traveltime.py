"""Travel times from stations to places, by road network where one is given, else by the fallback curve.

Coverage, location models and the simulation all take a :class:`TravelTimes` and ask it for a
station x place matrix of minutes; they never care which model answered. The curve's default
coefficients are those ``safer plan calibrate`` fits on the national matrix (all regions, pairs under
60 km); the commands have no option yet to give other coefficients (pass ``CurveTimes((a, b, c))`` in code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from safertogether.bluelight.network import RoadNetwork

#: a + b*km + c*sqrt(km) fitted on the national LSOA-hospital matrix (pairs < 60 km, all regions).
NATIONAL_CURVE = (2.695, 0.3906, 4.919)


class TravelTimes(Protocol):
    name: str

    def matrix(self, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        """Minutes from each origin (rows) to each destination (columns); points in BNG metres."""
        ...


@dataclass(frozen=True)
class CurveTimes:
    """The straight-line curve ``a + b*km + c*sqrt(km)``: no network needed, errs by minutes (see calibrate)."""

    coefficients: tuple[float, float, float] = NATIONAL_CURVE
    name: str = "fallback curve a + b*km + c*sqrt(km)"

    def matrix(self, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        km = np.hypot(origins[:, None, 0] - destinations[None, :, 0], origins[:, None, 1] - destinations[None, :, 1])
        km = km / 1000.0
        a, b, c = self.coefficients
        return np.asarray(a + b * km + c * np.sqrt(km))


@dataclass
class NetworkTimes:
    """Shortest drive times over a road network; a point further than ``snap_m`` from it adds its straight
    line at ``access_kmh``."""

    network: RoadNetwork
    access_kmh: float = 20.0
    name: str = "road network"

    def matrix(self, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        origin_node, _ = self.network.snap(origins, np.inf)
        destination_node, _ = self.network.snap(destinations, np.inf)
        minutes = self.network.times(origin_node, destination_node)
        start = self._access(origins, origin_node)[:, None]
        return np.asarray(minutes + start + self._access(destinations, destination_node)[None, :])

    def _access(self, points: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        return np.asarray(np.hypot(*(points - self.network.xy[nodes]).T) / 1000 / self.access_kmh * 60)
