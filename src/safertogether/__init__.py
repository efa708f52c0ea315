"""Safer Together: pool partners' community-safety records into one trustworthy picture of an area.

>>> import safertogether as st
>>> warehouse = st.open_warehouse(":memory:")
>>> warehouse.scalar("SELECT count(*) FROM street_crimes")
0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports

if TYPE_CHECKING:
    from safertogether.areas.hierarchy import search_areas
    from safertogether.measures.summary import area_summary
    from safertogether.store.warehouse import Warehouse, open_warehouse

__version__ = "0.1.0"

__all__ = ["Warehouse", "__version__", "area_summary", "open_warehouse", "search_areas"]

# Every `safer` command imports this package; most need neither SciPy (summaries) nor shapely and
# pyproj (areas), which took 0.6 s to import before any work began.
lazy_exports(globals(), {
    "Warehouse": "safertogether.store.warehouse",
    "open_warehouse": "safertogether.store.warehouse",
    "area_summary": "safertogether.measures.summary",
    "search_areas": "safertogether.areas.hierarchy",
})
