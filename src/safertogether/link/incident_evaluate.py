"""Joint incidents measured against the generator's truth (``safer synth partners``' ``truth/records.parquet``).

A pair is two incident records; it is true when the truth gives both the same real incident, and
predicted when the linker put both in one joint incident. Only the evaluation reads the truth.
Pairwise precision, recall and F1 follow :class:`~safertogether.link.evaluate.PairwiseScore`; beside
them, the share of real incidents whose records form exactly one joint incident with nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safertogether.errors import MissingDataError
from safertogether.link.evaluate import PairwiseScore
from safertogether.store.warehouse import Warehouse


@dataclass(frozen=True)
class IncidentLinkEvaluation:
    """Pairwise measures of the joint incidents, and how many real incidents came out exactly right."""

    pairwise: PairwiseScore
    records: int
    real_incidents: int
    exact_incidents: int
    multi_agency_real_incidents: int
    multi_agency_exact: int

    def as_json(self) -> dict[str, Any]:
        return {**self.pairwise.as_json(), "records": self.records, "real_incidents": self.real_incidents,
                "exact_incidents": self.exact_incidents, "multi_agency_real_incidents":
                    self.multi_agency_real_incidents, "multi_agency_exact": self.multi_agency_exact}


def truth_sql(truth_dir: Path) -> str:
    """The real incident of every incident record the generator wrote (agency, incident_ref, incident_id)."""
    path = Path(truth_dir) / "records.parquet"
    if not path.is_file():
        raise MissingDataError(f"no {path}: give --truth the truth/ folder that `safer synth partners` wrote")
    quoted = str(path).replace("'", "''")
    return f"""SELECT agency, record_id AS incident_ref, incident_id FROM read_parquet('{quoted}')
               WHERE target = 'incident_records'"""


def score_pairs(warehouse: Warehouse, truth_dir: Path, pairs_sql: str) -> PairwiseScore:
    """Any predicted pairs (agency_l, ref_l, agency_r, ref_r; each pair once) counted against the truth.

    Only records of the warehouse's ``incident_records`` count, so that recall is over what was imported.
    """
    counts = warehouse.row(f"""
        WITH truth AS (SELECT t.* FROM ({truth_sql(truth_dir)}) t JOIN incident_records USING (agency, incident_ref)),
        predicted AS ({pairs_sql}),
        judged AS (
            SELECT l.incident_id = r.incident_id AS is_true FROM predicted p
            JOIN truth l ON l.agency = p.agency_l AND l.incident_ref = p.ref_l
            JOIN truth r ON r.agency = p.agency_r AND r.incident_ref = p.ref_r),
        actual AS (SELECT count(*) * (count(*) - 1) // 2 AS pairs FROM truth GROUP BY incident_id)
        SELECT (SELECT count(*) FILTER (WHERE is_true) FROM judged),
               (SELECT count(*) FILTER (WHERE NOT is_true) FROM judged),
               (SELECT coalesce(sum(pairs), 0) FROM actual)""")
    assert counts is not None
    true_positives, false_positives, actual = (int(c) for c in counts)
    return PairwiseScore(None, true_positives, false_positives, actual - true_positives)


def joint_pairs_sql() -> str:
    """The pairs the table ``joint_incidents`` implies: every two records of one joint incident."""
    return """SELECT l.agency AS agency_l, l.incident_ref AS ref_l, r.agency AS agency_r, r.incident_ref AS ref_r
              FROM joint_incidents l JOIN joint_incidents r ON l.joint_incident_id = r.joint_incident_id
               AND (l.agency, l.incident_ref) < (r.agency, r.incident_ref)
              WHERE l.records > 1"""


def evaluate_incident_links(warehouse: Warehouse, truth_dir: Path) -> IncidentLinkEvaluation:
    """Pairwise precision, recall and F1 of the last `safer link incidents` run against the truth.

    Args:
        warehouse: A warehouse holding ``joint_incidents``.
        truth_dir: The ``truth/`` folder the generator wrote beside the extracts.
    """
    linked = warehouse.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'joint_incidents'")
    if not linked or not warehouse.has_rows("joint_incidents"):
        raise MissingDataError(f"no joint incidents in {warehouse.path or 'the warehouse'}; "
                               "link them first with `safer link incidents`")
    pairwise = score_pairs(warehouse, truth_dir, joint_pairs_sql())
    row = warehouse.row(f"""
        WITH truth AS ({truth_sql(truth_dir)}),
        per_incident AS (
            SELECT t.incident_id, count(*) AS records, count(DISTINCT j.joint_incident_id) AS joints,
                   max(j.records) AS joint_size
            FROM truth t JOIN joint_incidents j USING (agency, incident_ref) GROUP BY t.incident_id)
        SELECT count(*), count(*) FILTER (WHERE joints = 1 AND joint_size = records),
               count(*) FILTER (WHERE records > 1),
               count(*) FILTER (WHERE records > 1 AND joints = 1 AND joint_size = records),
               (SELECT count(*) FROM joint_incidents)
        FROM per_incident""")
    assert row is not None
    real, exact, multi, multi_exact, records = (int(v) for v in row)
    return IncidentLinkEvaluation(pairwise, records, real, exact, multi, multi_exact)
