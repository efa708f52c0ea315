"""The index under disclosure control: an edition is computed from one policy's released counts.

Every public figure is made from released cells (:mod:`safertogether.disclosure`), and the index is no
exception: an edition built under a policy reads the released counts instead of the exact ones, so its
rates, scores, ranks and counts are sums of released cells. The exact edition (policy ``exact``) is what
signed-in analysts and the command line see; a public route only ever reads an edition of the caller's
policy, and never falls back to the exact one. Editions from before this table record no policy: they
were computed from the exact counts, and count as ``exact``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa

from safertogether.disclosure.policy import Policy
from safertogether.errors import BadRequestError
from safertogether.store.warehouse import Warehouse

EXACT: Final = "exact"


def policy_key(policy: Policy | None) -> str:
    """The name editions are kept under: ``exact`` for no policy or an exact one (as the answer cache keys)."""
    return EXACT if policy is None or policy.exact else policy.name


def editions_of(warehouse: Warehouse, policy: Policy | None, alias: str = "") -> tuple[str, list[Any]]:
    """A condition (and its parameters) keeping the editions computed under ``policy``'s released counts."""
    column = f"{alias}.edition_id" if alias else "edition_id"
    key = policy_key(policy)
    if not warehouse.table_exists("index_edition_policies"):
        return ("TRUE", []) if key == EXACT else ("FALSE", [])
    if key == EXACT:
        return (f"{column} NOT IN (SELECT edition_id FROM index_edition_policies WHERE policy <> 'exact')", [])
    return f"{column} IN (SELECT edition_id FROM index_edition_policies WHERE policy = ?)", [key]


def record_policy(warehouse: Warehouse, edition_id: int, policy: Policy | None) -> None:
    """Say which released counts an edition was computed from (inside the edition's transaction)."""
    described = policy.as_json() if policy is not None else {"name": EXACT, "rule": "exact"}
    warehouse.execute("INSERT INTO index_edition_policies VALUES (?, ?, ?)",
                      [edition_id, policy_key(policy), json.dumps(described, sort_keys=True)])


@contextlib.contextmanager
def released_ward_crimes(warehouse: Warehouse, policy: Policy | None) -> Iterator[str]:
    """The relation to read MPS ward crimes from: the table itself, or its cells released under ``policy``.

    The ward files' fine table is ward x month x category and offence; the policy's rule is applied to it
    as to police.uk's LSOA cells (a ward in place of an LSOA). Differential privacy is declared for
    police.uk's cells only (its budget is accounted per release of those), so it is refused here.
    """
    if policy is None or policy.exact:
        yield "ward_crimes"
        return
    if policy.rule == "dp":
        raise BadRequestError(f"policy {policy.name} adds differentially private noise to police.uk's cells only; "
                              "the borough index (MPS ward files) can be published under a suppress or round policy")
    from safertogether.disclosure.protect import protect_cells

    cells = warehouse.query_arrow(
        """SELECT ward_code AS lsoa, borough AS force_id, month,
                  coalesce(category, '') || chr(31) || coalesce(offence, '') AS key, sum(crimes)::BIGINT AS count
           FROM ward_crimes GROUP BY ALL ORDER BY 1, 2, 3, 4""")
    released = protect_cells(cells, policy).cells
    keys = released.column("key").to_pylist()
    table = pa.table({
        "ward_code": released.column("lsoa"), "borough": released.column("force_id"),
        "month": released.column("month"),
        "category": [k.split("\x1f", 1)[0] or None for k in keys],
        "offence": [k.split("\x1f", 1)[1] or None for k in keys],
        "crimes": pa.array([max(c or 0, 0) for c in released.column("count").to_pylist()], pa.int64())})
    with warehouse.registered("released_ward_crimes", table) as name:
        yield name
