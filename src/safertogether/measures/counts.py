"""The monthly tables that every area question is answered from: counts, outcomes, months loaded."""

from __future__ import annotations

from safertogether.store.warehouse import Warehouse


def refresh_monthly_counts(warehouse: Warehouse) -> None:
    """Rebuild crimes per LSOA x force x month x category (and x latest outcome) from the street crimes.

    Rows without any LSOA (no location and no polygon) are kept under ``lsoa`` NULL so that
    force totals stay complete. ``force_months`` lists the months each force has published.
    """
    warehouse.execute("DELETE FROM monthly_counts")
    warehouse.execute(
        """INSERT INTO monthly_counts
           SELECT lsoa, force_id, month, crime_type, count(*) FROM street_crimes GROUP BY ALL"""
    )
    warehouse.execute("DELETE FROM monthly_outcomes")
    warehouse.execute(
        """INSERT INTO monthly_outcomes
           SELECT lsoa, force_id, month, coalesce(last_outcome_category, 'No outcome recorded'), count(*)
           FROM street_crimes WHERE crime_type <> 'Anti-social behaviour' GROUP BY ALL"""
    )
    warehouse.execute("DELETE FROM force_months")
    warehouse.execute("INSERT INTO force_months SELECT force_id, month, sum(crimes) FROM monthly_counts GROUP BY ALL")
