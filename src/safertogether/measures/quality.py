"""Data quality of the imported police.uk files, per force and month."""

from __future__ import annotations

from typing import Any

from safertogether.model.categories import KNOWN_CRIME_TYPES
from safertogether.sources.police_uk import KINDS
from safertogether.store.warehouse import Warehouse

#: Column -> what it means, in the order reports show them.
CHECKS: dict[str, str] = {
    "rows": "street-level rows stored",
    "no_location": "rows without coordinates",
    "outside_force": "points outside the force's LSOAs (by polygon)",
    "lsoa_disagrees": "police.uk LSOA code differs from the polygon containing the point",
    "duplicate_crime_ids": "Crime IDs that appear more than once",
    "unknown_categories": "rows whose Crime type police.uk does not use",
    "outcomes_without_crime": "outcome rows whose Crime ID is not among the street crimes",
    "quarantined": "rows quarantined at import (see `safer quality --quarantine`)",
}


def quality_report(warehouse: Warehouse) -> dict[str, Any]:
    """Per force and month counts of each check, the gaps in each force's series, and totals."""
    known = sorted(KNOWN_CRIME_TYPES)
    months = warehouse.query(
        """WITH street AS (
               SELECT c.force_id, c.month, count(*) AS rows,
                      count(*) FILTER (WHERE c.longitude IS NULL) AS no_location,
                      count(*) FILTER (WHERE c.longitude IS NOT NULL AND has_lookup AND has_shapes
                                       AND (l.force_id IS DISTINCT FROM c.force_id)) AS outside_force,
                      count(*) FILTER (WHERE c.lsoa_code IS NOT NULL AND c.lsoa_polygon IS NOT NULL
                                       AND c.lsoa_code <> c.lsoa_polygon) AS lsoa_disagrees,
                      count(*) FILTER (WHERE NOT list_contains($known, c.crime_type)) AS unknown_categories
               FROM street_crimes c LEFT JOIN lsoa_lookup l ON l.lsoa_code = c.lsoa_polygon,
                    (SELECT EXISTS (SELECT 1 FROM lsoa_lookup) AS has_lookup,
                            EXISTS (SELECT 1 FROM area_shapes) AS has_shapes)
               GROUP BY ALL),
           dups AS (
               SELECT force_id, month, count(*) AS duplicate_crime_ids FROM (
                   SELECT force_id, month, crime_id FROM street_crimes WHERE crime_id IS NOT NULL
                   GROUP BY ALL HAVING count(*) > 1) GROUP BY ALL),
           orphans AS (
               SELECT o.force_id, o.month, count(*) AS outcomes_without_crime FROM crime_outcomes o
               WHERE NOT EXISTS (SELECT 1 FROM street_crimes s WHERE s.crime_id = o.crime_id) GROUP BY ALL),
           -- A quarantined row may lack a usable month; it is counted under its file's force and month
           -- when the file publishes exactly one (as police.uk's files do), else only in the file list
           -- (as partners' extracts, whose partitions are not force and month).
           quarantined AS (
               SELECT split_part(f.partitions[1], ':', 1) AS force_id,
                      CAST(split_part(f.partitions[1], ':', 2) || '-01' AS DATE) AS month, count(*) AS quarantined
               FROM quarantine q JOIN source_files f USING (file_id)
               WHERE f.status <> 'superseded' AND len(f.partitions) = 1 AND list_contains($police_uk, f.kind)
               GROUP BY ALL)
           SELECT force_id, strftime(month, '%Y-%m') AS month, coalesce(rows, 0) AS rows,
                  coalesce(no_location, 0) AS no_location, coalesce(outside_force, 0) AS outside_force,
                  coalesce(lsoa_disagrees, 0) AS lsoa_disagrees,
                  coalesce(duplicate_crime_ids, 0) AS duplicate_crime_ids,
                  coalesce(unknown_categories, 0) AS unknown_categories,
                  coalesce(outcomes_without_crime, 0) AS outcomes_without_crime,
                  coalesce(quarantined, 0)::BIGINT AS quarantined
           FROM street FULL JOIN dups USING (force_id, month) FULL JOIN orphans USING (force_id, month)
                FULL JOIN quarantined USING (force_id, month)
           ORDER BY force_id, month""",
        {"known": known, "police_uk": list(KINDS)},
    )
    return {
        "checks": CHECKS,
        "months": months,
        "missing_months": missing_months(warehouse),
        "unknown_categories": warehouse.query(
            "SELECT crime_type, count(*) AS rows FROM street_crimes "
            "WHERE NOT list_contains($known, crime_type) GROUP BY ALL ORDER BY rows DESC", {"known": known}),
        "quarantine_reasons": warehouse.query(
            """SELECT regexp_replace(q.reason, ' \\(.*$|: ''.*$', '') AS reason, count(*) AS rows
               FROM quarantine q JOIN source_files f USING (file_id) WHERE f.status <> 'superseded'
               GROUP BY ALL ORDER BY rows DESC"""),
        "quarantined_files": warehouse.query(
            """SELECT f.name AS file, f.kind, count(*) AS rows FROM quarantine q JOIN source_files f USING (file_id)
               WHERE f.status <> 'superseded' GROUP BY ALL ORDER BY rows DESC, file"""),
        "totals": {k: sum(m[k] for m in months) for k in CHECKS},
    }


def missing_months(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Months with no street file between a force's first and last loaded month."""
    return warehouse.query(
        """WITH spans AS (SELECT force_id, min(month) AS first, max(month) AS last FROM street_crimes GROUP BY ALL),
                expected AS (SELECT force_id, CAST(unnest(range(first, last + INTERVAL 1 MONTH, INTERVAL 1 MONTH))
                                                   AS DATE) AS month FROM spans)
           SELECT force_id, strftime(month, '%Y-%m') AS month FROM expected e
           WHERE NOT EXISTS (SELECT 1 FROM street_crimes s WHERE s.force_id = e.force_id AND s.month = e.month)
           ORDER BY ALL"""
    )


def quarantined_rows(warehouse: Warehouse, limit: int = 100) -> list[dict[str, Any]]:
    """The quarantined rows themselves, with their file, row number, original text and reason."""
    return warehouse.query(
        """SELECT f.name AS file, q.row_number, q.reason, q.raw_text FROM quarantine q
           JOIN source_files f USING (file_id) WHERE f.status <> 'superseded'
           ORDER BY f.name, q.row_number LIMIT $limit""",
        {"limit": limit},
    )
