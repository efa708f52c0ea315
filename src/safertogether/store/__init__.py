"""The warehouse: an embedded DuckDB file by default, behind a narrow interface.

Business logic lives elsewhere; this package owns the schema, provenance, quarantine, and the
atomic, idempotent import of :class:`~safertogether.sources.ParsedFile` batches.
"""

from safertogether.store.warehouse import Warehouse, default_db_path, open_warehouse

__all__ = ["Warehouse", "default_db_path", "open_warehouse"]
