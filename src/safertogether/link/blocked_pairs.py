"""The blocked pairs of a deduplication, generated from the blocking rules by joins on one integer key per rule.

Splink joins each rule on its own fields (text: dates of birth, names, the ``agency:record_id`` keys) and
keeps a pair for its first rule only by re-testing every earlier rule on it. At a million partner records
that was 25 s of CPU for 6.8 M pairs (bench/partner_linkage.py). Here each record gets, per rule, the hash of
the fields the rule equates (NULL when one is missing, as the equality would not hold), records get a
number (in the table's order, at most 2**32 of them), and the pairs of all rules are one union grouped by
pair: the lowest rule number is the pair's ``match_key``, as Splink gives it. Same pairs, same keys; alone,
these steps took 15 s of CPU against Splink's 25 s (no end-to-end saving was seen yet under heavy load: see
the README).

Only rules that are conjunctions of ``l.a = r.b`` equalities and ``l.c IS NULL`` / ``r.c IS NULL`` tests
are taken apart; for any other rule :func:`blocked_pairs_sql` returns None and Splink blocks as before.
Two different values with one 64-bit hash would add a pair that no rule asks for (scored like any other,
so never a wrong link); at a million distinct keys that is one chance in ten million.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp


@dataclass(frozen=True)
class _Rule:
    """One blocking rule: the fields equated (left record's, right record's) and those that must be NULL."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    null_left: tuple[str, ...]
    null_right: tuple[str, ...]


def _side(column: exp.Expression) -> tuple[str, str] | None:
    """``l.name`` -> ("l", "name"); None for anything but a column of ``l`` or ``r``."""
    if isinstance(column, exp.Column) and column.table in ("l", "r"):
        return column.table, column.name
    return None


def _parse(rule: str) -> _Rule | None:
    """The rule's equalities and NULL tests, or None when it holds anything else."""
    try:
        tree = sqlglot.parse_one(rule, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    left: list[str] = []
    right: list[str] = []
    nulls: dict[str, list[str]] = {"l": [], "r": []}
    for term in tree.flatten() if isinstance(tree, exp.And) else [tree]:
        term = term.unnest()
        if isinstance(term, exp.EQ):
            a, b = _side(term.this), _side(term.expression)
            if a is None or b is None or a[0] == b[0]:
                return None
            (_, name_l), (_, name_r) = sorted([a, b])
            left.append(name_l)
            right.append(name_r)
        elif isinstance(term, exp.Is) and isinstance(term.expression, exp.Null) and _side(term.this):
            side, name = _side(term.this)  # type: ignore[misc]
            nulls[side].append(name)
        else:
            return None
    if not left:
        return None
    return _Rule(tuple(left), tuple(right), tuple(nulls["l"]), tuple(nulls["r"]))


def _key_sql(columns: tuple[str, ...]) -> str:
    present = " AND ".join(f'"{c}" IS NOT NULL' for c in columns)
    return f"CASE WHEN {present} THEN hash({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) END"


def blocked_pairs_sql(rules: list[str], table: str, unique_id: str = "unique_id") -> list[tuple[str, str]] | None:
    """Named SQL steps (name, SELECT) giving the table Splink's ``register_blocked_pairs_for_predict`` takes:
    ``match_key`` (the first rule that holds, as text), ``join_key_l`` < ``join_key_r`` (unique ids).

    None when a rule is not a conjunction of equalities and NULL tests (Splink's own blocking then).
    Each step reads the one before it by name; run them in order, each into a table.
    """
    parsed = [_parse(rule) for rule in rules]
    if not parsed or any(p is None for p in parsed):
        return None
    keys: dict[str, str] = {}  # key expression -> its column name, so rules sharing fields share a key
    joins = []
    for number, rule in enumerate(parsed):
        assert rule is not None
        key_l = keys.setdefault(_key_sql(rule.left), f"k{len(keys)}")
        key_r = keys.setdefault(_key_sql(rule.right), f"k{len(keys)}")
        nulls = [f'l."{c}" IS NULL' for c in rule.null_left] + [f'r."{c}" IS NULL' for c in rule.null_right]
        where = f" WHERE {' AND '.join(nulls)}" if nulls else ""
        joins.append(f"SELECT {number} AS rule, l.n AS n_l, r.n AS n_r FROM __blocking_keys l "
                     f"JOIN __blocking_keys r ON l.{key_l} = r.{key_r} AND l.n < r.n{where}")
    null_columns = sorted({c for rule in parsed if rule for c in (*rule.null_left, *rule.null_right)})
    key_columns = ", ".join(f"{sql} AS {name}" for sql, name in keys.items())
    extra = "".join(f', "{c}"' for c in null_columns)
    return [
        # Numbered in the table's order (no sort of a million text keys: 2 s of CPU at a million records):
        # each pair is (lower number, higher) in every rule, so the union groups it once whatever the order,
        # and the last step orients it by the ids themselves, as Splink does (unique_id_l < unique_id_r).
        ("__blocking_keys", f'SELECT row_number() OVER () AS n, "{unique_id}" AS id, '
                            f"{key_columns}{extra} FROM {table}"),
        # One 64-bit key per pair (two 32-bit numbers) groups faster than the two numbers as two keys.
        ("__blocked_numbers", f"SELECT min(rule) AS rule, pair >> 32 AS n_l, pair & 4294967295 AS n_r FROM "
                              f"(SELECT rule, (n_l << 32) | n_r AS pair FROM ({' UNION ALL '.join(joins)})) "
                              "GROUP BY pair"),
        ("__blocked_pairs", "SELECT CAST(b.rule AS VARCHAR) AS match_key, least(l.id, r.id) AS join_key_l, "
                            "greatest(l.id, r.id) AS join_key_r "
                            "FROM __blocked_numbers b JOIN __blocking_keys l ON l.n = b.n_l "
                            "JOIN __blocking_keys r ON r.n = b.n_r"),
    ]
