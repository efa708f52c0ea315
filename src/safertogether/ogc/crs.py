"""Coordinate reference systems the service offers (OGC API - Features Part 2: CRS by reference).

The warehouse stores longitude/latitude (WGS 84, the police.uk files' own); British National Grid
(EPSG:27700) is what UK analysts' projects use, so answers and bounding boxes may be in either.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from safertogether.errors import BadRequestError

CRS84: Final = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG: Final = "http://www.opengis.net/def/crs/EPSG/0/27700"
SUPPORTED: Final = (CRS84, BNG)
_ALIASES: Final = {
    CRS84: CRS84, "[OGC:CRS84]": CRS84, "OGC:CRS84": CRS84, "CRS84": CRS84,
    BNG: BNG, "[EPSG:27700]": BNG, "EPSG:27700": BNG,
}


def parse_crs(text: str | None, name: str) -> str:
    """The CRS URI a client named (the OGC URI, or the short ``EPSG:27700``/``OGC:CRS84`` forms)."""
    if text is None or text == "":
        return CRS84
    found = _ALIASES.get(text.strip())
    if found is None:
        raise BadRequestError(f"{name}='{text[:80]}' is not offered; use one of {', '.join(SUPPORTED)}")
    return found


@functools.cache
def _transformer(source: str, target: str) -> Any:
    from pyproj import Transformer  # 0.3 s to import: only when a projected CRS is asked for

    return Transformer.from_crs(_pyproj_name(source), _pyproj_name(target), always_xy=True)


def _pyproj_name(uri: str) -> str:
    return "OGC:CRS84" if uri == CRS84 else "EPSG:27700"


def project_xy(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude arrays in ``crs`` (NaN stays NaN)."""
    if crs == CRS84:
        return x, y
    px, py = _transformer(CRS84, crs).transform(x, y)
    missing = np.isnan(x) | np.isnan(y)  # PROJ answers inf for NaN
    return np.where(missing, np.nan, np.round(px, 2)), np.where(missing, np.nan, np.round(py, 2))


def project_geometries(geometries: np.ndarray, crs: str) -> np.ndarray:
    """Shapely geometries from longitude/latitude into ``crs`` (centimetres are plenty for 27700)."""
    if crs == CRS84:
        return geometries
    transformer = _transformer(CRS84, crs)
    projected = shapely.transform(geometries, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    return shapely.set_precision(projected, 0.01)


def bbox_polygon(bbox: tuple[float, ...], crs: str) -> BaseGeometry:
    """The area a ``bbox`` in ``crs`` covers, as a longitude/latitude polygon.

    A British National Grid rectangle is not a rectangle in longitude/latitude: its edges are
    densified before transforming, so the polygon follows them to well under a metre.
    """
    xmin, ymin, xmax, ymax = bbox
    box = shapely.box(xmin, ymin, xmax, ymax)
    if crs == CRS84:
        return box
    dense = shapely.segmentize(box, max(xmax - xmin, ymax - ymin) / 200 or 1.0)
    transformer = _transformer(crs, CRS84)
    return shapely.transform(dense, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
