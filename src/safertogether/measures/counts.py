"""The monthly counts table that every area question is answered from."""

from __future__ import annotations

from safertogether.store.warehouse import Warehouse


def refresh_monthly_counts(warehouse: Warehouse) -> None:
    """Rebuild crimes per LSOA x force x month x category from the current street crimes.

    Rows without any LSOA (no location and no polygon) are kept under ``lsoa`` NULL so that
    force totals stay complete.
    """
    warehouse.execute("DELETE FROM monthly_counts")
    warehouse.execute(
        """INSERT INTO monthly_counts
           SELECT lsoa, force_id, month, crime_type, count(*) FROM street_crimes GROUP BY ALL"""
    )
    warehouse.execute("DELETE FROM force_months")
    warehouse.execute("INSERT INTO force_months SELECT force_id, month, sum(crimes) FROM monthly_counts GROUP BY ALL")
