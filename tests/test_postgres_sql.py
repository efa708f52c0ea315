"""The translation of our DuckDB-dialect SQL for PostgreSQL: each rewrite sqlglot alone does not make.

Run against a real server in tests/test_engines.py; here, the text of each rewrite, without one.
"""

from __future__ import annotations

import pytest

from safertogether.store.postgres_sql import named_params, numbered_placeholders, to_postgres


def _catalog(table: str) -> tuple[list[str], list[str]]:
    return {"link_decisions": (["record_l", "record_r", "decision"], ["record_l", "record_r"]),
            "street_crimes": (["lsoa", "location"], [])}[table]


@pytest.mark.parametrize(("duckdb", "postgres"), [
    ("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?::BIGINT",
     "SELECT a FROM t WHERE b = %(1)s AND c = '?' AND d = CAST(%(2)s AS BIGINT)"),
    ("INSERT OR REPLACE INTO link_decisions VALUES (?, ?, ?)",
     "INSERT INTO link_decisions (record_l, record_r, decision) VALUES (%(1)s, %(2)s, %(3)s) "
     "ON CONFLICT(record_l, record_r) DO UPDATE SET decision = excluded.decision"),
    ("SELECT a, b, count(*) FROM t GROUP BY ALL ORDER BY ALL",
     "SELECT a, b, COUNT(*) FROM t GROUP BY 1, 2 ORDER BY 1, 2, 3"),
    ("SELECT * FROM (SELECT 1)", "SELECT * FROM (SELECT 1) AS _subquery_0"),
    ("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'x'",
     "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'x'"),
    ("SELECT regexp_extract(s, '([a-z]+)$', 1) FROM t", "SELECT (REGEXP_MATCH(s, '([a-z]+)$'))[1] FROM t"),
    ("SELECT s FROM t WHERE s LIKE '100%' AND n % 2 = 0", "SELECT s FROM t WHERE s LIKE '100%%' AND MOD(n, 2) = 0"),
    ("SELECT strftime(d, '%Y-%m') FROM t", """SELECT TO_CHAR(d, 'YYYY"-"MM') FROM t"""),
    ("SELECT strftime(d, '%dT%H') FROM t", """SELECT TO_CHAR(d, 'DD"T"HH24') FROM t"""),
    ("SELECT to_json({'a': 1, 'b': {'c': x}})",
     "SELECT CAST(JSON_BUILD_OBJECT('a', 1, 'b', JSON_BUILD_OBJECT('c', x)) AS TEXT)"),
    ("SELECT printf('%.6f,%s', a, b)", "SELECT (CAST(ROUND(CAST(a AS DECIMAL), 6) AS TEXT) || ',' || CAST(b AS TEXT))"),
    ("SELECT round(x, 2), any_value(s.xmin) FROM s",
     "SELECT CAST(ROUND(CAST(x AS DECIMAL), 2) AS DOUBLE PRECISION), MIN(s.xmin_) FROM s"),
    ("SELECT (('0x' || left(sha256(a), 8))::BIGINT >> 1)",
     "SELECT (CAST(CAST('x' || LPAD(LEFT(ENCODE(SHA256(CONVERT_TO(a, 'UTF8')), 'hex'), 8), 16, '0') AS BIT(64)) "
     "AS BIGINT) >> 1)"),
    ("SELECT 1 FROM t WHERE (a, b) IN (SELECT (a, b) FROM h) AND (? IS NULL OR c = ?)",
     "SELECT 1 FROM t WHERE (a, b) IN (SELECT a, b FROM h) AND (CAST(%(1)s AS TEXT) IS NULL OR c = %(2)s)"),
    ("SELECT xmin, min(xmax) AS lo FROM area_shapes", "SELECT xmin_ AS xmin, MIN(xmax_) AS lo FROM area_shapes"),
    ("SELECT first(f ORDER BY n DESC), any_value(g), mode(h) FROM t",
     "SELECT (ARRAY_AGG(f ORDER BY n DESC NULLS LAST))[1], MIN(g), MODE() WITHIN GROUP (ORDER BY h) FROM t"),
    ("SELECT location[12:] FROM t WHERE contains(a, 'x') AND len(partitions) = 1",
     "SELECT SUBSTRING(location FROM 12) FROM t WHERE POSITION('x' IN a) > 0 AND CARDINALITY(partitions) = 1"),
])
def test_each_rewrite(duckdb, postgres):
    assert to_postgres(duckdb, _catalog) == [postgres]


def test_create_or_replace_drops_first_and_having_sees_the_expression_not_the_alias():
    assert to_postgres("CREATE OR REPLACE TABLE s AS SELECT lsoa, location[12:] AS street FROM street_crimes "
                       "GROUP BY lsoa, location HAVING street NOT IN (SELECT unnest($names))", _catalog) == [
        "DROP TABLE IF EXISTS s",
        "CREATE TABLE s AS SELECT lsoa, SUBSTRING(location FROM 12) AS street FROM street_crimes "
        "GROUP BY lsoa, location HAVING NOT SUBSTRING(location FROM 12) IN "
        "(SELECT UNNEST(CAST(%(names)s AS TEXT[])))"]


def test_positional_parameters_are_bound_by_the_names_their_places_got():
    assert numbered_placeholders("SELECT ?, '?', ?::INT -- ?") == "SELECT $1, '?', $2::INT -- ?"
    assert named_params(["a", 2]) == {"1": "a", "2": 2}
    assert named_params({"q": 1}) == {"q": 1}
    assert named_params(None) == {}
