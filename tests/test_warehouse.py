"""Opening a warehouse written by another version of Safer Together."""

from __future__ import annotations

import duckdb
import pytest

from safertogether.errors import NewerWarehouseError
from safertogether.store.schema import SCHEMA_VERSION
from safertogether.store.warehouse import open_warehouse


def _written_as(path, version: str, drop: str | None = None) -> None:
    connection = duckdb.connect(str(path))
    connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [version])
    if drop:
        connection.execute(f"DROP TABLE {drop}")
    connection.close()


def test_an_older_warehouse_gets_the_new_tables_even_when_opened_to_read(tmp_path):
    path = tmp_path / "old.duckdb"
    open_warehouse(path).close()
    _written_as(path, "1", drop="places")  # version 1 had no places table
    warehouse = open_warehouse(path, read_only=True)
    try:
        assert warehouse.scalar("SELECT count(*) FROM places") == 0
        assert warehouse.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(SCHEMA_VERSION)
    finally:
        warehouse.close()


@pytest.mark.parametrize("read_only", [True, False])
def test_a_warehouse_from_a_newer_version_is_refused_and_left_alone(tmp_path, read_only):
    path = tmp_path / "new.duckdb"
    open_warehouse(path).close()
    _written_as(path, str(SCHEMA_VERSION + 1))
    with pytest.raises(NewerWarehouseError, match="newer Safer Together"):
        open_warehouse(path, read_only=read_only)
    connection = duckdb.connect(str(path), read_only=True)
    assert connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
        (str(SCHEMA_VERSION + 1),)]
    connection.close()
