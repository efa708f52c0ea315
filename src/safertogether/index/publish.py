"""The index's public datasets for `safer publish`: the newest edition of each level under the policy.

The edition must have been built from the counts released under the publishing policy (`safer index build
--policy NAME`; see :mod:`safertogether.index.disclosure`): the exact edition is never published under a
policy that protects counts, and publishing stops with what to run when the policy's edition is missing.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from safertogether.disclosure.policy import Policy
from safertogether.index.cards import latest_edition
from safertogether.publish.registry import PublicDataset, register
from safertogether.store.warehouse import Warehouse

_COLUMNS: Final = {
    "area": "area code (LSOA 2011, MSOA, local authority or London borough)", "area_name": "area name",
    "period": "calendar year", "months": "months of crime data behind the figures (fewer than 12: annualised)",
    "residents": "residents (Census 2011 for LSOAs and their parents; ONS/GLA estimates for boroughs)",
    "score": "Community Safety Index: 100 = the base year's average area, 10 points per standard deviation, "
             "higher = safer", "band": "band of the score", "band_label": "the band in words",
    "objective": "objective half (recorded crime and harm per 1,000 residents)",
    "subjective": "subjective half (residents' survey), empty where there is none",
    "subjective_period": "the survey year the subjective half comes from",
    "rank": "rank (1 = safest)", "rank_low": "best rank under the alternative ways of building the index",
    "rank_high": "worst rank under the alternative ways", "ranked": "areas ranked",
    "poor_denominator": "residents are a poor denominator here (visitors and workers outnumber them)",
    "crimes": "crimes recorded (after disclosure control: a sum of released cells)",
    "edition_id": "the index edition (its configuration: /api/index/editions/{id}/config)",
}


def index_table(warehouse: Warehouse, policy: Policy, level: str) -> pa.Table | None:
    """The newest edition of ``level`` under ``policy``; None when no edition of that level was ever built."""
    if not warehouse.table_exists("index_editions") or not warehouse.scalar(
            "SELECT count(*) FROM index_editions WHERE level = ?", [level]):
        return None
    edition = latest_edition(warehouse, level, policy)  # raises, saying what to build, when missing
    columns = ", ".join(c for c in _COLUMNS if c != "edition_id")
    table = warehouse.query_arrow(f"SELECT {columns} FROM index_scores WHERE edition_id = ? ORDER BY area, period",
                                  [edition["edition_id"]])
    return table.append_column("edition_id", pa.repeat(pa.scalar(edition["edition_id"], pa.int64()), table.num_rows))


register(PublicDataset(
    name="safety-index", title="Community Safety Index per area and year: score, band, both halves, rank range",
    columns=_COLUMNS, build=index_table, levels=("lsoa", "msoa", "lad", "borough"), period_column="period"))
