"""Safer Together: pool partners' community-safety records into one trustworthy picture of an area.

>>> import safertogether as st
>>> warehouse = st.open_warehouse(":memory:")
>>> warehouse.scalar("SELECT count(*) FROM street_crimes")
0
"""

from safertogether.areas.hierarchy import search_areas
from safertogether.measures.summary import area_summary
from safertogether.store.warehouse import Warehouse, open_warehouse

__version__ = "0.1.0"

__all__ = ["Warehouse", "__version__", "area_summary", "open_warehouse", "search_areas"]
