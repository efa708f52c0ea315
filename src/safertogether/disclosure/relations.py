"""SQL that counts crimes reads ``counts_relation()`` rather than naming ``monthly_counts``.

Inside :func:`released_counts` that name is the released cells of a policy, registered for this thread, so a
query written once serves the exact figures (analysts, the library) and the public ones alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import pyarrow as pa
import pyarrow.compute as pc

from safertogether.disclosure.policy import Policy
from safertogether.store.warehouse import Warehouse

_COUNTS: ContextVar[str] = ContextVar("counts_relation", default="monthly_counts")
RELEASED: str = "released_monthly_counts"


def counts_relation() -> str:
    """The relation holding crimes per lsoa, force_id, month and crime_type (column ``crimes``) here and now."""
    return _COUNTS.get()


def released_counts_table(warehouse: Warehouse, policy: Policy) -> pa.Table:
    """The released cells shaped as ``monthly_counts`` (hidden and negative noisy cells as 0, as in the cubes)."""
    from safertogether.disclosure.releases import public_cells

    def build(w: Warehouse) -> pa.Table:
        cells = public_cells(w, policy, "crimes").cells
        return pa.table({"lsoa": cells.column("lsoa"), "force_id": cells.column("force_id"),
                         "month": cells.column("month"), "crime_type": cells.column("key"),
                         "crimes": pc.max_element_wise(pc.fill_null(cells.column("count"), 0), 0)})

    return build(warehouse)  # cheap: the cells are cached (see public_cells)


@contextlib.contextmanager
def released_counts(warehouse: Warehouse, policy: Policy | None) -> Iterator[None]:
    """For the block (in this thread), :func:`counts_relation` names the policy's released counts."""
    if policy is None or policy.exact:
        yield
        return
    with warehouse.registered(RELEASED, released_counts_table(warehouse, policy)) as name:
        token = _COUNTS.set(name)
        try:
            yield
        finally:
            _COUNTS.reset(token)


@contextlib.contextmanager
def released_cells(warehouse: Warehouse, policy: Policy | None, dataset: str) -> Iterator[str]:
    """A relation of ``dataset``'s fine table (lsoa, force_id, month, key, count) as released under ``policy``
    (hidden and negative noisy cells as 0, as in the cubes); the exact cells for no policy or an exact one."""
    from safertogether.disclosure.releases import public_cells
    from safertogether.measures.cube import CUBE_SQL

    if policy is None or policy.exact:
        yield f"({CUBE_SQL[dataset]})"
        return
    cells = public_cells(warehouse, policy, dataset).cells
    cells = cells.set_column(4, "count", pc.max_element_wise(pc.fill_null(cells.column("count"), 0), 0))
    with warehouse.registered(f"released_{dataset}_cells", cells) as name:
        yield name
