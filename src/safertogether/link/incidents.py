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
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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
    records = warehouse.query_arrow(incident_records_sql()).sort_by("id")
    with warehouse.registered("records", records):
        candidates = warehouse.query_arrow(f"SELECT * FROM ({candidate_pairs_sql(settings)}) "
                                           "ORDER BY score DESC, id_l, id_r")
    pairs = candidates.filter(pc.greater_equal(candidates.column("score"), settings.threshold))
    groups, accepted = _cluster(records.column("agency").to_pylist(), pairs)
    table = _joint_table(records, pairs, groups, accepted)
    with warehouse.transaction():
        warehouse.execute("DELETE FROM joint_incidents")
        with warehouse.registered("joined", table):
            warehouse.execute("""
                INSERT INTO joint_incidents
                SELECT j.agency, j.incident_ref, j.joint_incident_id,
                       count(*) OVER (PARTITION BY j.joint_incident_id) AS records, j.score,
                       j.linked_agency, j.linked_ref, j.gap_minutes, j.gap_days, j.distance_m, j.place_evidence,
                       j.kind_evidence, now()::TIMESTAMP FROM joined j""")
    sizes = table.group_by("joint_incident_id").aggregate([("agency", "count")]).column("agency_count").to_pylist()
    return IncidentLinkReport(records=len(records), candidate_pairs=candidates.num_rows, links=int(sum(accepted)),
                              joint_incidents=len(sizes), multi_agency_incidents=sum(1 for s in sizes if s > 1),
                              seconds=time.perf_counter() - started, settings=settings)


def _cluster(agencies: list[str], pairs: pa.Table) -> tuple[_Groups, list[bool]]:
    """Join pairs best first (they arrive sorted), never two records of one agency into one group."""
    groups = _Groups(list(range(len(agencies))), [{agency} for agency in agencies])
    accepted = [groups.join(a, b) for a, b in zip(pairs.column("id_l").to_pylist(),
                                                  pairs.column("id_r").to_pylist(), strict=True)]
    return groups, accepted


_EVIDENCE = ("score", "gap_minutes", "gap_days", "distance_m", "place_evidence", "kind_evidence")


def _joint_table(records: pa.Table, pairs: pa.Table, groups: _Groups, accepted: list[bool]) -> pa.Table:
    """One row per record: its joint incident id and the best accepted link that touches it."""
    n = records.num_rows
    roots = [groups.find(i) for i in range(n)]
    number: dict[int, int] = {}
    for root in roots:  # ids in time order of each joint incident's first record (record ids are in time order)
        number.setdefault(root, len(number) + 1)
    best: list[int | None] = [None] * n
    other: list[int | None] = [None] * n
    for row, (a, b) in enumerate(zip(pairs.column("id_l").to_pylist(), pairs.column("id_r").to_pylist(),
                                     strict=True)):
        if accepted[row]:
            for this, that in ((a, b), (b, a)):
                if best[this] is None:  # pairs arrive best first
                    best[this], other[this] = row, that
    agency, ref = records.column("agency").to_pylist(), records.column("incident_ref").to_pylist()
    columns: dict[str, list[Any]] = {
        "agency": agency, "incident_ref": ref, "joint_incident_id": [number[r] for r in roots],
        "linked_agency": [None if o is None else agency[o] for o in other],
        "linked_ref": [None if o is None else ref[o] for o in other]}
    for name in _EVIDENCE:
        values = pairs.column(name).to_pylist()
        columns[name] = [None if row is None else values[row] for row in best]
    return pa.table(columns)
