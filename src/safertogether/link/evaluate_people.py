"""``safer link evaluate --truth DIR``: the stored people measured against the generator's truth.

Measured on what the warehouse holds (``person_ids``), so it scores exactly what users see, after
review decisions and incremental runs. Pairwise measures count pairs of records put together;
B-cubed measures (Bagga and Baldwin 1998) average, over records, how much of a record's cluster is
its true person and how much of its true person its cluster holds: one wrong merge of two large
clusters costs many pairs but few records, so the two views differ exactly where it matters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from safertogether.errors import MissingDataError
from safertogether.link.evaluate import BCubedScore, PairwiseScore
from safertogether.link.partners import record_key_sql

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse


@dataclass(frozen=True)
class PeopleEvaluation:
    """Pairwise and B-cubed measures of the stored people; :meth:`as_json` is the CLI's ``--json``."""

    records: int
    records_without_truth: int
    people_found: int
    true_people: int
    pairwise: PairwiseScore
    bcubed: BCubedScore
    run_id: int
    threshold: float

    @property
    def bcubed_f1(self) -> float:
        return self.bcubed.f1

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["pairwise"] = self.pairwise.as_json()
        del out["bcubed"]
        bcubed = self.bcubed.as_json()
        out.update(precision=out["pairwise"]["precision"], recall=out["pairwise"]["recall"],
                   f1=out["pairwise"]["f1"], bcubed_f1=bcubed["f1"], bcubed_precision=bcubed["precision"],
                   bcubed_recall=bcubed["recall"])
        return out


def evaluate_people(warehouse: Warehouse, truth_dir: Path) -> PeopleEvaluation:
    """Measure the last run's people against ``truth_dir/records.parquet`` (from ``safer synth partners``)."""
    path = truth_dir / "records.parquet"
    if not path.is_file():
        raise MissingDataError(f"{truth_dir}: no records.parquet here; give the truth folder that "
                               "`safer synth partners --out DIR` wrote (DIR/truth)")
    run = warehouse.row("SELECT run_id, threshold FROM link_runs ORDER BY run_id DESC LIMIT 1")
    if run is None:
        raise MissingDataError("no linkage run yet; run `safer link run` first")
    connection = duckdb.connect()
    connection.register("found", warehouse.query_arrow("SELECT record_key, person_id FROM person_ids"))
    connection.execute(f"""
        CREATE TABLE cells AS
        SELECT f.person_id AS cluster, CAST(t.person_id AS VARCHAR) AS entity, count(*) AS n
        FROM found f JOIN read_parquet(?) t ON {record_key_sql('t')} = f.record_key
        WHERE t.target = 'person_records' GROUP BY ALL""", [str(path)])
    records, unmatched = connection.execute(
        "SELECT (SELECT sum(n) FROM cells), (SELECT count(*) FROM found) - (SELECT sum(n) FROM cells)"
    ).fetchall()[0]
    if not records:
        raise MissingDataError(f"{path}: none of the linked records is in this truth; is it the truth of the "
                               "extracts that were imported?")
    tp, predicted, actual, people, true_people, b_precision, b_recall = connection.execute("""
        WITH clusters AS (SELECT cluster, sum(n) AS size FROM cells GROUP BY cluster),
             entities AS (SELECT entity, sum(n) AS size FROM cells GROUP BY entity)
        SELECT (SELECT sum(n * (n - 1) / 2) FROM cells),
               (SELECT sum(size * (size - 1) / 2) FROM clusters),
               (SELECT sum(size * (size - 1) / 2) FROM entities),
               (SELECT count(*) FROM clusters), (SELECT count(*) FROM entities),
               (SELECT sum(c.n * c.n / k.size) FROM cells c JOIN clusters k USING (cluster)) / ?,
               (SELECT sum(c.n * c.n / e.size) FROM cells c JOIN entities e USING (entity)) / ?""",
        [records, records]).fetchall()[0]
    pairwise = PairwiseScore(None, int(tp), int(predicted - tp), int(actual - tp))
    return PeopleEvaluation(int(records), int(unmatched), int(people), int(true_people), pairwise,
                            BCubedScore(float(b_precision), float(b_recall)), int(run[0]), float(run[1]))
