"""Schema versions, read and migrated: an ordered list of numbered steps from an empty warehouse up.

Opening a warehouse for writing reads the version it was written with (``meta.schema_version``),
applies every later migration in one transaction, and records each one applied, with its time, in
``schema_migrations``. A warehouse written by a newer version is refused and left alone. A step is
a function giving its statements (DDL, in DuckDB's dialect like all our SQL) for the warehouse it
migrates, so a step may also move data.

Tables added to :mod:`safertogether.store.schema` without a new version (created if missing) are
created on every opening for writing too; changing an existing table needs a numbered migration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from safertogether.errors import NewerWarehouseError
from safertogether.store import schema

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse


@dataclass(frozen=True)
class Migration:
    """One numbered step of the schema."""

    version: int
    description: str
    statements: Callable[[Warehouse], tuple[str, ...]]


# Version 3 made a partner extract's kind "<mapping> -> <target table>" (two mappings of one name filling
# different tables must not supersede each other). Files stored before keep superseding their newer
# extracts only if their kind is rewritten the same way: the target is the table holding their rows.
_PARTNER_KINDS_WITH_TARGET: Final = tuple(
    f"""UPDATE source_files SET kind = kind || ' -> {table}'
        WHERE kind NOT LIKE '% -> %' AND file_id IN (SELECT DISTINCT file_id FROM {table})"""
    for table in ("person_records", "incident_records"))

MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(1, "the spine: imports, provenance, quarantine, police.uk tables, areas",
              lambda _w: schema.spine_ddl()),
    Migration(2, "crime_lsoas, places, agencies and partners' record tables", lambda _w: schema.ddl_v2()),
    Migration(3, "linkage (link_runs, person_ids, person_links, person_id_events, link_decisions, places_linked, "
                 "record_places) and sharing_agreements; a partner extract's kind names its target table",
              lambda _w: schema.linkage_ddl() + _PARTNER_KINDS_WITH_TARGET),
    Migration(4, "audit_log.details: what a search asked, as typed (hashed with the entry when present)",
              lambda _w: (*schema.audit_ddl(), "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS details VARCHAR[]")),
)
assert [m.version for m in MIGRATIONS] == list(range(1, schema.SCHEMA_VERSION + 1)), "migrations out of step"

_BOOKKEEPING: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)""",
)


def stored_version(warehouse: Warehouse) -> int:
    """The schema version the warehouse was written with (0 when empty); a newer one than this code's is refused."""
    version = 0
    if warehouse.table_exists("meta"):
        stored = warehouse.scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        version = int(stored) if stored else 0
    if version > schema.SCHEMA_VERSION:
        raise NewerWarehouseError(
            f"{warehouse.where} was written by a newer Safer Together (schema {version}, this one reads up to "
            f"{schema.SCHEMA_VERSION}); upgrade safertogether to read it")
    return version


def migrate(warehouse: Warehouse, target: int = schema.SCHEMA_VERSION) -> list[int]:
    """Bring the warehouse from its stored version up to ``target`` in one transaction; the versions applied.

    At the current version, tables defined in the schema but missing are created too (see the module docstring).
    """
    with warehouse.transaction():
        for statement in _BOOKKEEPING:
            warehouse.execute(statement)
        current = stored_version(warehouse)
        applied = []
        for migration in MIGRATIONS:
            if current < migration.version <= target:
                for statement in migration.statements(warehouse):
                    warehouse.execute(statement)
                warehouse.upsert("schema_migrations", {"version": migration.version,
                                                       "description": migration.description,
                                                       "applied_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)})
                applied.append(migration.version)
        if target == schema.SCHEMA_VERSION:
            for statement in schema.ddl():
                warehouse.execute(statement)
        if applied or current == 0:
            warehouse.upsert("meta", {"key": "schema_version", "value": str(max(current, target))})
    return applied
