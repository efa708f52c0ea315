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
from dataclasses import asdict, dataclass, field
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
    """Union-find over the record ids of the candidate pairs, each root knowing its group's agencies.

    A root is always the smallest id of its group (record ids are in time order), so numbering the
    groups by root numbers joint incidents in time order of their first record.
    """

    parent: dict[int, int] = field(default_factory=dict)
    agencies: dict[int, set[str]] = field(default_factory=dict)

    def find(self, node: int) -> int:
        parent = self.parent.setdefault(node, node)
        while parent != node:
            grandparent = self.parent[parent]
            self.parent[node], node, parent = grandparent, parent, grandparent
        return node

    def join(self, a: int, agency_a: str, b: int, agency_b: str) -> bool:
        """Join the groups of ``a`` and ``b`` unless they are one already or share an agency."""
        root_a, root_b = self.find(a), self.find(b)
        in_a, in_b = self.agencies.setdefault(root_a, {agency_a}), self.agencies.setdefault(root_b, {agency_b})
        if root_a == root_b or in_a & in_b:
            return False
        root_a, root_b = min(root_a, root_b), max(root_a, root_b)
        self.parent[root_b] = root_a
        self.agencies[root_a] = in_a | in_b
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
    with warehouse.pinned():  # the working tables belong to one session
        try:
            # Working tables of this cursor only; everything stays in DuckDB but the ids the clustering needs
            # (Arrow arrays built in Python would import pandas: seconds of start-up for the command).
            warehouse.execute(f"CREATE OR REPLACE TEMP TABLE incident_link_records AS {incident_records_sql()}")
            warehouse.execute(f"""CREATE OR REPLACE TEMP TABLE incident_link_pairs AS
                SELECT row_number() OVER (ORDER BY score DESC, id_l, id_r) - 1 AS row, *
                FROM ({candidate_pairs_sql(settings, 'incident_link_records')})""")
            columns = warehouse.row("SELECT list(row ORDER BY row), list(id_l ORDER BY row), "
                                    "list(agency_l ORDER BY row), list(id_r ORDER BY row), list(agency_r ORDER BY row) "
                                    "FROM incident_link_pairs WHERE score >= ?", [settings.threshold])
            ids, roots, best = _cluster(list(zip(*(column or [] for column in columns or ()), strict=True)))
            with warehouse.transaction():
                warehouse.execute("DELETE FROM joint_incidents")
                warehouse.execute(_INSERT_SQL, [ids, roots, best])
            records = warehouse.scalar("SELECT count(*) FROM incident_link_records")
            candidates = warehouse.scalar("SELECT count(*) FROM incident_link_pairs")
        finally:
            warehouse.execute("DROP TABLE IF EXISTS incident_link_pairs")
            warehouse.execute("DROP TABLE IF EXISTS incident_link_records")
    links = len(ids) - len(set(roots))
    return IncidentLinkReport(records=int(records), candidate_pairs=int(candidates), links=links,
                              joint_incidents=int(records) - links, multi_agency_incidents=len(set(roots)),
                              seconds=time.perf_counter() - started, settings=settings)


# The records the clustering joined, with their group's root and the pair (row) that joined them; every
# other record is a joint incident of its own. Numbered by root: in time order of each one's first record.
_INSERT_SQL = """
    INSERT INTO joint_incidents
    WITH assigned AS (SELECT unnest($1::BIGINT[]) AS id, unnest($2::BIGINT[]) AS root, unnest($3::BIGINT[]) AS best),
    grouped AS (SELECT r.id, r.agency, r.incident_ref, coalesce(a.root, r.id) AS root, a.best
                FROM incident_link_records r LEFT JOIN assigned a USING (id))
    SELECT g.agency, g.incident_ref, dense_rank() OVER (ORDER BY g.root), count(*) OVER (PARTITION BY g.root),
           p.score, o.agency, o.incident_ref, p.gap_minutes, p.gap_days, p.distance_m, p.place_evidence,
           p.kind_evidence, now()::TIMESTAMP
    FROM grouped g LEFT JOIN incident_link_pairs p ON p.row = g.best
    LEFT JOIN incident_link_records o ON o.id = CASE WHEN p.id_l = g.id THEN p.id_r ELSE p.id_l END"""


def _cluster(pairs: list[tuple[Any, ...]]) -> tuple[list[int], list[int], list[int]]:
    """Join pairs (row, id_l, agency_l, id_r, agency_r) best first, never two records of one agency in a group.

    Returns the records joined to another (ids), each one's group root, and the row of the best
    accepted pair that touches it.
    """
    groups = _Groups()
    best: dict[int, int] = {}
    for row, a, agency_a, b, agency_b in pairs:
        if groups.join(a, agency_a, b, agency_b):
            best.setdefault(a, row)
            best.setdefault(b, row)
    ids = sorted(best)
    return ids, [groups.find(i) for i in ids], [best[i] for i in ids]
