"""Travel times from stations to places, by road network where one is given, else by the fallback model.

Coverage, location models and the simulation all take a :class:`TravelTimes` and ask it for a
station x place matrix of minutes; they never care which model answered, and each says what it is and
how far it is known to err (``about``), which coverage shows beside its figures. The source is chosen
in one place, :func:`safertogether.bluelight.inputs.travel_times`: the road network when one is given,
else :class:`ModelTimes`, the fallback model ``safer plan calibrate --save-model`` fitted on the
national matrix and shipped with the package. :class:`CurveTimes` is the issue's anchor curve, kept
for benchmarks and comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from safertogether.bluelight.network import RoadNetwork

if TYPE_CHECKING:
    from safertogether.bluelight.fallback import FeatureSource
    from safertogether.bluelight.trees import Trees

#: a + b*km + c*sqrt(km) fitted on the national LSOA-hospital matrix (pairs < 60 km, all regions).
NATIONAL_CURVE = (2.695, 0.3906, 4.919)


#: The fallback model shipped with the package (``safer plan calibrate --save-model`` writes it).
MODEL_FILE = Path(__file__).with_name("fallback_model.npz")


class TravelTimes(Protocol):
    name: str

    @property
    def about(self) -> dict[str, Any]:
        """What answered and its known error against the real matrix (``None`` where not measured)."""
        ...

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

    @property
    def about(self) -> dict[str, Any]:
        return {"source": "curve", "name": self.name, "coefficients": list(self.coefficients),
                "error": CURVE_ERROR, "summary": summary(self.name, CURVE_ERROR)}


#: The anchor curve on the held-out regions (``safer plan calibrate``: LAS, SWAS, EMAS, pairs < 60 km).
CURVE_ERROR = {"held_out": ["LAS", "SWAS", "EMAS"], "pairs": 153_472, "median_abs_error_min": 4.63,
               "p90_abs_error_min": 11.55}


def summary(name: str, error: dict[str, Any] | None) -> str:
    """One sentence a reader of coverage needs: what the times are and how far they are known to err."""
    if not error:
        return (f"{name}; its error is not measured here (`safer plan calibrate --network FILE` checks a "
                "network against the real LSOA-to-hospital matrix)")
    return (f"{name}; on ambulance regions it never saw ({', '.join(error['held_out'])}) it differs from real "
            f"LSOA-to-hospital road times by a median {error['median_abs_error_min']:g} min and a 90th percentile "
            f"{error['p90_abs_error_min']:g} min. Those times include the time to set off and arrive (pairs "
            f"under 1 km take a median {MATRIX_FLOOR_MIN:g} min), so short journeys read long")


#: The real matrix's median minutes for LSOA-hospital pairs under 1 km apart: time that is not driving.
MATRIX_FLOOR_MIN = 7.9


@dataclass
class ModelTimes:
    """The fitted fallback model (:mod:`safertogether.bluelight.fallback`) over a land and density surface.

    Rows of a matrix are stations (the model's *site* end, as hospitals were in the matrix it learnt
    from) and columns places or incidents (its *LSOA* end).
    """

    trees: Trees
    source: FeatureSource
    name: str = "fallback model (gradient boosting on distance, land surface, LSOA graph and density)"
    _cache: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False)

    def matrix(self, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        origins, destinations = np.asarray(origins, float), np.asarray(destinations, float)
        if not len(origins) or not len(destinations):
            return np.zeros((len(origins), len(destinations)))
        key = origins.tobytes() + b"|" + destinations.tobytes()
        if key not in self._cache:
            site = np.repeat(origins, len(destinations), axis=0)
            end = np.tile(destinations, (len(origins), 1))
            features = self.source.features(end, site)[list(self.trees.features)].to_numpy(float)
            minutes = np.maximum(self.trees.predict(features), 0.0)
            self._cache = {key: minutes.reshape(len(origins), len(destinations))}
        return self._cache[key]

    @property
    def about(self) -> dict[str, Any]:
        error = self.trees.about.get("error")
        return {"source": "fallback model", "name": self.name, "error": error,
                "fitted": self.trees.about.get("fitted"), "summary": summary(self.name, error)}


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

    @property
    def about(self) -> dict[str, Any]:
        name = f"{self.name} ({len(self.network.xy):,} nodes)"
        return {"source": "road network", "name": name, "error": None, "summary": summary(name, None)}

    def _access(self, points: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        return np.asarray(np.hypot(*(points - self.network.xy[nodes]).T) / 1000 / self.access_kmh * 60)
