"""The review queue: pairs the model is unsure of, and reviewers' decisions that every later run respects.

A pair is uncertain when its match probability lies between the review floor and the threshold of
the last run and its two records were not joined anyway (through other pairs). A decision is "same"
(join them whatever the score) or "different" (never join them directly); it is kept in
``link_decisions`` and applied by the next ``safer link run`` (see :mod:`safertogether.link.people`).
A "different" pair still joined through other pairs is a conflict, listed for a second look.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from safertogether.errors import BadRequestError, MissingDataError, NotFoundError
from safertogether.link.partners import record_key_sql

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

Decision = Literal["same", "different"]
DECISIONS: Final = ("same", "different")

_RECORD_COLUMNS: Final = ("forename", "surname", "date_of_birth", "address", "postcode")


@dataclass(frozen=True)
class ReviewPair:
    """Two records the model is unsure about, with what a reviewer needs to judge them."""

    record_l: str
    record_r: str
    match_probability: float
    match_weight: float
    person_l: str
    person_r: str
    left: dict[str, Any]
    right: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _last_run(warehouse: Warehouse) -> tuple[float, float]:
    row = warehouse.row("SELECT threshold, review_floor FROM link_runs ORDER BY run_id DESC LIMIT 1")
    if row is None:
        raise MissingDataError("no linkage run yet; run `safer link run` first")
    return float(row[0]), float(row[1])


def review_queue(warehouse: Warehouse, limit: int = 20, conflicts: bool = False) -> list[ReviewPair]:
    """The undecided uncertain pairs, most probable first; or, with ``conflicts``, the contradicted decisions."""
    threshold, floor = _last_run(warehouse)
    details = ", ".join(f"{side}.{c} AS {side}_{c}" for side in ("a", "b") for c in _RECORD_COLUMNS)
    if conflicts:
        chosen = """SELECT d.record_l, d.record_r, coalesce(l.match_probability, 0) AS match_probability,
                           coalesce(l.match_weight, 0) AS match_weight
                    FROM link_decisions d LEFT JOIN person_links l USING (record_l, record_r)
                    JOIN person_ids pl ON pl.record_key = d.record_l JOIN person_ids pr ON pr.record_key = d.record_r
                    WHERE d.decision = 'different' AND pl.person_id = pr.person_id"""
        params: list[Any] = []
    else:
        chosen = """SELECT record_l, record_r, match_probability, match_weight FROM person_links l
                    WHERE match_probability >= ? AND match_probability < ?
                      AND NOT EXISTS (SELECT 1 FROM link_decisions d WHERE d.record_l = l.record_l
                                      AND d.record_r = l.record_r)"""
        params = [floor, threshold]
    rows = warehouse.query(f"""
        WITH chosen AS ({chosen})
        SELECT c.*, pl.person_id AS person_l, pr.person_id AS person_r, {details}
        FROM chosen c
        JOIN person_ids pl ON pl.record_key = c.record_l JOIN person_ids pr ON pr.record_key = c.record_r
        JOIN person_records a ON a.agency = pl.agency AND a.record_id = pl.record_id
        JOIN person_records b ON b.agency = pr.agency AND b.record_id = pr.record_id
        WHERE {'true' if conflicts else 'pl.person_id <> pr.person_id'}
        ORDER BY c.match_probability DESC, c.record_l, c.record_r LIMIT ?""", [*params, limit])
    return [ReviewPair(r["record_l"], r["record_r"], r["match_probability"], r["match_weight"], r["person_l"],
                       r["person_r"], _side(r, "a"), _side(r, "b")) for r in rows]


def _side(row: dict[str, Any], side: str) -> dict[str, Any]:
    return {c: (str(row[f"{side}_{c}"]) if row[f"{side}_{c}"] is not None else None) for c in _RECORD_COLUMNS}


def decide(warehouse: Warehouse, record_a: str, record_b: str, decision: str, reviewer: str | None = None,
           note: str | None = None) -> None:
    """Record a reviewer's decision on two records (either order); a later decision on the pair replaces it.

    Raises:
        BadRequestError: the decision is not "same" or "different", or the two records are one.
        NotFoundError: a record key (``agency:record_id``) is not in the warehouse.
    """
    if decision not in DECISIONS:
        raise BadRequestError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if record_a == record_b:
        raise BadRequestError("a decision needs two different records")
    for key in (record_a, record_b):
        if not warehouse.scalar(f"SELECT count(*) FROM person_records WHERE {record_key_sql()} = ?", [key]):
            raise NotFoundError(f"no person record {key!r}; records are named agency:record_id "
                                "(see `safer link review list`)")
    left, right = sorted((record_a, record_b))
    with warehouse.transaction():
        warehouse.execute("""INSERT OR REPLACE INTO link_decisions VALUES (?, ?, ?, ?, ?, now())""",
                          [left, right, decision, reviewer, note])
