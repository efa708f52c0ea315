"""British National Grid (EPSG:27700) square cells, the usual unit for hotspot modelling."""

from __future__ import annotations

import functools

import numpy as np
import pyproj


@functools.cache
def _to_bng() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4326, 27700, always_xy=True)


def bng_cells(longitude: np.ndarray, latitude: np.ndarray, size_m: int = 250) -> np.ndarray:
    """Cell id ``"E{easting}N{northing}S{size}"`` (south-west corner) for each WGS84 point; '' if missing.

    >>> str(bng_cells(np.array([-1.1340]), np.array([52.6365]), 250)[0])
    'E458500N304500S250'
    """
    easting, northing = _to_bng().transform(longitude, latitude)
    located = np.isfinite(easting) & np.isfinite(northing)
    east = (np.floor(np.where(located, easting, 0) / size_m) * size_m).astype(np.int64)
    north = (np.floor(np.where(located, northing, 0) / size_m) * size_m).astype(np.int64)
    cells = np.char.add(np.char.add(np.char.add("E", east.astype(str)), np.char.add("N", north.astype(str))),
                        f"S{size_m}")
    return np.where(located, cells, "")
