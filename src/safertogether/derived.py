"""Tables derived from imported rows, rebuilt inside the importing transaction."""

from __future__ import annotations

from safertogether.areas.hierarchy import (
    areas_below_force_missing,
    refresh_areas,
    refresh_crime_areas,
    refresh_street_index,
)
from safertogether.measures.counts import refresh_monthly_counts
from safertogether.store.warehouse import Warehouse


def refresh_derived_tables(warehouse: Warehouse, *, all_areas: bool = False) -> None:
    """Rebuild what is computed from crimes; the forces in ``areas`` last, as they are those found in the counts.

    Crimes change only the LSOAs they name and the force rows of ``areas``; ``all_areas`` rebuilds every
    level (after new boundaries), as does a warehouse whose ``areas`` were never built.
    """
    refresh_monthly_counts(warehouse)
    refresh_street_index(warehouse)
    if all_areas or areas_below_force_missing(warehouse):
        refresh_areas(warehouse)
    else:
        refresh_crime_areas(warehouse)
