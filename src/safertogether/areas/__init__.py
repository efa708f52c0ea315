"""Geography: boundaries, the LSOA -> MSOA -> local authority -> force hierarchy, point-in-polygon, grids.

Loading boundaries, lookups and population lives in :mod:`safertogether.areas.load`.
"""

from safertogether.areas.assign import AreaPlacement, reassign_all_points
from safertogether.areas.grid import bng_cells
from safertogether.areas.hierarchy import area, search_areas

__all__ = ["AreaPlacement", "area", "bng_cells", "reassign_all_points", "search_areas"]
