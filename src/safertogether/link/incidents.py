"""Joint incidents: the records several services keep of one event, linked into one.

A road traffic collision may be in the police's, the fire service's and the ambulance service's logs,
each with its own reference, time and coordinates. :func:`link_incidents` finds candidate pairs of
records of different agencies and scores them (:mod:`.incident_pairs`), then joins them greedily, best
score first, into joint incidents holding **at most one record per agency**: a pair whose two groups
already share an agency is skipped. That constraint is what separates two events at one address on
one evening (two falls, a domestic incident and a later assault): each service's log has one record
per event, so the second police record must belong to another event. (Duplicate records of one event
within one agency — several 999 calls about one collision — are left to a deduplication step.)

The result replaces the table ``joint_incidents`` in one transaction: one row per incident record,
with its joint incident id (numbered in time order), the best link that joined it and that link's
evidence, so every link can be explained.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from safertogether.link.incident_pairs import candidate_pairs_sql, incident_records_sql
from safertogether.link.incident_settings import IncidentLinkSettings
from safertogether.store.warehouse import Warehouse


@dataclass(frozen=True)
class IncidentLinkReport:
    """What one run of :func:`link_incidents` did."""

    records: int
    candidate_pairs: int
    links: int
    joint_incidents: int
    multi_agency_incidents: int
    seconds: float
    settings: IncidentLinkSettings

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3), "settings": self.settings.as_json()}


@dataclass
class _Groups:
    """Union-find over record ids, each root knowing its group's agencies."""

    parent: list[int]
    agencies: list[set[str]]

    def find(self, node: int) -> int:
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def join(self, a: int, b: int) -> bool:
        """Join the groups of ``a`` and ``b`` unless they are one already or share an agency."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b or self.agencies[root_a] & self.agencies[root_b]:
            return False
        root_a, root_b = min(root_a, root_b), max(root_a, root_b)
        self.parent[root_b] = root_a
        self.agencies[root_a] |= self.agencies[root_b]
        return True


def link_incidents(warehouse: Warehouse, settings: IncidentLinkSettings | None = None) -> IncidentLinkReport:
    """Link the incident records of different agencies that describe one event into joint incidents.

    Args:
        warehouse: A warehouse opened for writing, holding ``incident_records`` (``safer import partner``).
        settings: Windows, threshold and kind compatibility; the defaults of :data:`SETTINGS`.

    Returns:
        An :class:`IncidentLinkReport`; the links are in the warehouse table ``joint_incidents``.
    """
    settings = settings or IncidentLinkSettings()
    started = time.perf_counter()
    warehouse.require("incident_records", "incident records",
                      "import partners' incident extracts with `safer import partner MAPPING.yaml`")
    try:
        # Working tables of this cursor only; everything stays in DuckDB but the ids the clustering needs
        # (Arrow arrays built in Python would import pandas: seconds of start-up for the command).
        warehouse.execute(f"CREATE OR REPLACE TEMP TABLE incident_link_records AS {incident_records_sql()}")
        warehouse.execute(f"""CREATE OR REPLACE TEMP TABLE incident_link_pairs AS
            SELECT row_number() OVER (ORDER BY score DESC, id_l, id_r) - 1 AS row, *
            FROM ({candidate_pairs_sql(settings, 'incident_link_records')})""")
        agencies: list[str] = warehouse.scalar("SELECT list(agency ORDER BY id) FROM incident_link_records") or []
        columns = warehouse.row("SELECT list(row ORDER BY row), list(id_l ORDER BY row), list(id_r ORDER BY row) "
                                "FROM incident_link_pairs WHERE score >= ?", [settings.threshold])
        pairs = list(zip(*(column or [] for column in columns or ()), strict=True))
        joint, best = _cluster(agencies, pairs)
        with warehouse.transaction():
            warehouse.execute("DELETE FROM joint_incidents")
            warehouse.execute(_INSERT_SQL, [joint, best])
        candidates = warehouse.scalar("SELECT count(*) FROM incident_link_pairs")
    finally:
        warehouse.execute("DROP TABLE IF EXISTS incident_link_pairs")
        warehouse.execute("DROP TABLE IF EXISTS incident_link_records")
    sizes = Counter(joint).values()
    return IncidentLinkReport(records=len(agencies), candidate_pairs=int(candidates),
                              links=len(agencies) - len(sizes), joint_incidents=len(sizes),
                              multi_agency_incidents=sum(1 for s in sizes if s > 1),
                              seconds=time.perf_counter() - started, settings=settings)


# Record i is element i + 1 of both lists: its joint incident, and the pair (row) that joined it.
_INSERT_SQL = """
    INSERT INTO joint_incidents
    WITH assigned AS (SELECT unnest(range(len($1))) AS id, unnest($1::BIGINT[]) AS joint_incident_id,
                             unnest($2::BIGINT[]) AS best)
    SELECT r.agency, r.incident_ref, a.joint_incident_id, count(*) OVER (PARTITION BY a.joint_incident_id),
           p.score, o.agency, o.incident_ref, p.gap_minutes, p.gap_days, p.distance_m, p.place_evidence,
           p.kind_evidence, now()::TIMESTAMP
    FROM assigned a JOIN incident_link_records r USING (id)
    LEFT JOIN incident_link_pairs p ON p.row = a.best
    LEFT JOIN incident_link_records o ON o.id = CASE WHEN p.id_l = a.id THEN p.id_r ELSE p.id_l END"""


def _cluster(agencies: list[str], pairs: list[tuple[Any, ...]]) -> tuple[list[int], list[int | None]]:
    """Join pairs (row, id_l, id_r) best first, never two records of one agency into one group.

    Returns each record's joint incident number (in time order of each one's first record: record ids
    are in time order) and the row of the best accepted pair that touches it (None: joined to none).
    """
    groups = _Groups(list(range(len(agencies))), [{agency} for agency in agencies])
    best: list[int | None] = [None] * len(agencies)
    for row, a, b in pairs:
        if groups.join(a, b):
            for record in (a, b):
                if best[record] is None:
                    best[record] = row
    number: dict[int, int] = {}
    joint = [number.setdefault(groups.find(i), len(number) + 1) for i in range(len(agencies))]
    return joint, best
