"""Geography: boundaries, the LSOA -> MSOA -> local authority -> force hierarchy, point-in-polygon, grids.

Loading boundaries, lookups and population lives in :mod:`safertogether.areas.load`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports

if TYPE_CHECKING:
    from safertogether.areas.assign import AreaPlacement, reassign_all_points
    from safertogether.areas.grid import bng_cells
    from safertogether.areas.hierarchy import area, search_areas

__all__ = ["AreaPlacement", "area", "bng_cells", "reassign_all_points", "search_areas"]

# Importing one module of the package (an import needs only ``assign``) should not load pyproj.
lazy_exports(globals(), {
    "AreaPlacement": "safertogether.areas.assign",
    "reassign_all_points": "safertogether.areas.assign",
    "bng_cells": "safertogether.areas.grid",
    "area": "safertogether.areas.hierarchy",
    "search_areas": "safertogether.areas.hierarchy",
})
