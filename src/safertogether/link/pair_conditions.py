"""Splink's comparison-level conditions (DuckDB SQL) evaluated with numpy: one query against many records.

The lookup scores a call handler's details against the candidate records of one query. Splink would run its
SQL for that (the 0.44 s ``predict_between`` anchor); here each level's SQL condition is parsed once, when the
index is built, into numpy steps over the candidates, so the lookup computes the very levels the trained model
defines, with SQL's three-valued NULL logic. A condition using anything not handled here is refused when the
index is built (:class:`UnsupportedConditionError`), never answered differently from Splink.

The record is the left side of a pair (``name_l``) and the query the right (``name_r``). String similarities
are rapidfuzz's, the implementation DuckDB's own ``jaro_winkler_similarity`` derives from.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlglot
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Jaro, JaroWinkler, Levenshtein
from sqlglot import exp

from safertogether.errors import SaferError
from safertogether.link.encoded_records import EncodedColumn

#: (true, null) masks over the candidates: SQL's TRUE, FALSE and NULL.
Truth = tuple[np.ndarray, np.ndarray]
Condition = Callable[["QueryPairs"], Truth]
#: Where a condition is TRUE (neither FALSE nor NULL): all a comparison level's choice needs.
Test = Callable[["QueryPairs"], np.ndarray]
Number = Callable[["QueryPairs"], tuple[np.ndarray, np.ndarray]]

_FUNCTIONS: dict[str, Callable[..., float]] = {
    "jaro_winkler_similarity": JaroWinkler.similarity, "jaro_similarity": Jaro.similarity,
    "levenshtein": Levenshtein.distance, "damerau_levenshtein": DamerauLevenshtein.distance,
}
_NAMED: dict[type[exp.Expression], str] = {exp.JarowinklerSimilarity: "jaro_winkler_similarity",
                                           exp.Levenshtein: "levenshtein"}
_COMPARE: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.GTE: operator.ge, exp.GT: operator.gt, exp.LTE: operator.le, exp.LT: operator.lt,
    exp.EQ: operator.eq, exp.NEQ: operator.ne}
_FLIPPED: dict[type[exp.Expression], type[exp.Expression]] = {exp.GTE: exp.LTE, exp.GT: exp.LT, exp.LTE: exp.GTE,
                                                              exp.LT: exp.GT, exp.EQ: exp.EQ, exp.NEQ: exp.NEQ}


class UnsupportedConditionError(SaferError, ValueError):
    """A model's comparison uses SQL the lookup cannot compute exactly as Splink does."""


@dataclass
class QueryPairs:
    """One query against candidate records (positions into the encoded columns): what a condition reads."""

    columns: Mapping[str, EncodedColumn]
    positions: np.ndarray
    query: Mapping[str, str | None]
    _cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.positions)

    def codes(self, column: str) -> np.ndarray:
        key = ("codes", column)
        if key not in self._cache:
            self._cache[key] = self.columns[column].codes[self.positions]
        return self._cache[key]  # type: ignore[no-any-return]

    def distinct(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """The distinct codes among the candidates and each candidate's index into them."""
        key = ("distinct", column)
        if key not in self._cache:
            self._cache[key] = distinct_codes(self.codes(column))
        return self._cache[key]  # type: ignore[no-any-return]

    def prefetch(self, rows: np.ndarray, names: Mapping[str, int]) -> QueryPairs:
        """Take the candidates' codes from ``rows`` (their rows of a record-major matrix of codes, column
        ``names[c]`` holding ``c``): one gather of a few cache lines per record instead of one per column."""
        for name, j in names.items():
            self._cache[("codes", name)] = rows[:, j]
        return self

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = compute()
        return found


def distinct_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)``, at half its cost on the few hundred codes of one query
    (numpy 2's unique hashes first, which pays only for large arrays)."""
    ordered = np.sort(codes)
    keep = np.empty(len(ordered), bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    distinct = ordered[keep]
    return distinct, np.searchsorted(distinct, codes)


@dataclass(frozen=True)
class _Text:
    """A text operand: a record's column, the query's value of a column, or a literal."""

    side: str  # "record", "query" or "literal"
    name: str | None

    def query_value(self, pairs: QueryPairs) -> str | None:
        return pairs.query.get(self.name or "") if self.side == "query" else self.name


def compile_test(sql: str, columns: set[str]) -> Test:
    """Where one level's SQL condition is TRUE, over the candidates (``columns``: those the records and query
    hold), with the NULL masks worked out only where a NOT needs them (TRUE of an AND, an OR, a comparison
    never depends on which operands are NULL rather than FALSE)."""
    try:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise UnsupportedConditionError(f"cannot read the level condition {sql!r}: {exc}") from exc
    return _Compiler(sql, columns).test(tree)


def referenced_columns(sql: str) -> set[str]:
    """The record columns a condition reads (``forename_l`` and ``forename_r`` are both ``forename``)."""
    names = {c.name for c in sqlglot.parse_one(sql, dialect="duckdb").find_all(exp.Column)}
    return {n[:-2] for n in names if n.endswith(("_l", "_r"))}


class _Compiler:
    def __init__(self, sql: str, columns: set[str]) -> None:
        self.sql, self.columns = sql, columns

    def refuse(self, node: exp.Expression, why: str = "is not supported") -> UnsupportedConditionError:
        return UnsupportedConditionError(f"the lookup cannot compute {node.sql('duckdb')!r} in the model's level "
                                         f"{self.sql!r}: it {why}; use Splink's predict for this model")

    def truth(self, node: exp.Expression) -> Condition:
        if isinstance(node, exp.Paren):
            return self.truth(node.this)
        if isinstance(node, (exp.And, exp.Or)):
            return _and(self.truth(node.this), self.truth(node.expression)) if isinstance(node, exp.And) \
                else _or(self.truth(node.this), self.truth(node.expression))
        if isinstance(node, exp.Not):
            return _not(self.truth(node.this))
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            return _is_null(self.text(node.this))
        if type(node) in _COMPARE:
            return self.comparison(node)
        if isinstance(node, exp.ArrayOverlaps):
            return self.lists_overlap(node)
        if isinstance(node, exp.Boolean):
            value = bool(node.this)
            return lambda pairs: (np.full(pairs.size, value), np.zeros(pairs.size, bool))
        raise self.refuse(node)

    def test(self, node: exp.Expression) -> Test:
        """Where ``node`` is TRUE (see :func:`compile_test`)."""
        if isinstance(node, exp.Paren):
            return self.test(node.this)
        if isinstance(node, (exp.And, exp.Or)):
            a, b = self.test(node.this), self.test(node.expression)
            combine = np.logical_and if isinstance(node, exp.And) else np.logical_or
            return lambda pairs: combine(a(pairs), b(pairs))  # type: ignore[no-any-return]
        if isinstance(node, exp.EQ) and not (_is_number(node.this) or _is_number(node.expression)):
            left, right = self.text(node.this), self.text(node.expression)
            if {left.side, right.side} == {"record", "query"}:
                return _equal_to_query(left if left.side == "record" else right,
                                       right if left.side == "record" else left)
        full = self.truth(node)
        return lambda pairs: full(pairs)[0]

    def comparison(self, node: exp.Expression) -> Condition:
        left, right, kind = node.this, node.expression, type(node)
        if _is_number(left) and not _is_number(right):
            left, right, kind = right, left, _FLIPPED[kind]
        if _is_number(right):
            return _compare_number(self.number(left), float(right.this), _COMPARE[kind])
        if kind not in (exp.EQ, exp.NEQ):
            raise self.refuse(node, "compares text by order")
        equal = _equal(self.text(left), self.text(right))
        return equal if kind is exp.EQ else _not(equal)

    def lists_overlap(self, node: exp.Expression) -> Condition:
        """``list_has_any(x_l, x_r)`` over lists the index holds as "|"-joined strings (e.g. ``forename_names``)."""
        left, right = self.text(node.this), self.text(node.expression)
        if {left.side, right.side} != {"record", "query"} or left.name != right.name:
            raise self.refuse(node, "compares lists other than one column's, record against query")
        column = left.name or ""

        def run(pairs: QueryPairs) -> Truth:
            value = pairs.query.get(column)
            codes = pairs.codes(column)
            if value is None:
                return np.zeros(pairs.size, bool), np.ones(pairs.size, bool)
            wanted = set(value.split("|"))
            distinct, inverse = pairs.distinct(column)
            values = pairs.columns[column].values
            overlaps = np.array([code >= 0 and not wanted.isdisjoint(values[code].split("|")) for code in distinct],
                                bool)
            return overlaps[inverse], codes < 0

        return run

    def number(self, node: exp.Expression) -> Number:
        if isinstance(node, exp.Paren):
            return self.number(node.this)
        if isinstance(node, exp.Abs):
            inner = self.number(node.this)
            return lambda pairs: (lambda v: (np.abs(v[0]), v[1]))(inner(pairs))
        if isinstance(node, (exp.Sub, exp.Add)):
            a, b, sign = self.number(node.this), self.number(node.expression), -1 if isinstance(node, exp.Sub) else 1

            def combined(pairs: QueryPairs) -> tuple[np.ndarray, np.ndarray]:
                (av, an), (bv, bn) = a(pairs), b(pairs)
                return av + sign * bv, an | bn
            return combined
        if isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.INT, exp.DataType.Type.BIGINT):
            return _integer(self.text(node.this))
        return self.similarity(node)

    def similarity(self, node: exp.Expression) -> Number:
        name = _NAMED.get(type(node)) or (node.name.lower() if isinstance(node, exp.Anonymous) else None)
        if name not in _FUNCTIONS:
            raise self.refuse(node)
        arguments = [node.this, node.expression] if type(node) in _NAMED else list(node.expressions)
        if type(node) in _NAMED and any(node.args.get(k) is not None for k in node.args if k not in
                                        ("this", "expression")):
            raise self.refuse(node, "has arguments beyond its two strings")
        if len(arguments) != 2:
            raise self.refuse(node, "does not compare two strings")
        return _similarity(name, _FUNCTIONS[name], self.text(arguments[0]), self.text(arguments[1]))

    def text(self, node: exp.Expression) -> _Text:
        if isinstance(node, exp.Literal) and node.is_string:
            return _Text("literal", node.this)
        if isinstance(node, exp.Null):
            return _Text("literal", None)
        if isinstance(node, exp.Column) and not node.table and node.name[-2:] in ("_l", "_r"):
            column = node.name[:-2]
            if column not in self.columns:
                raise self.refuse(node, f"reads {column!r}, which the prepared records do not have")
            return _Text("record" if node.name.endswith("_l") else "query", column)
        raise self.refuse(node)


def _is_number(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string


def _and(a: Condition, b: Condition) -> Condition:
    def run(pairs: QueryPairs) -> Truth:
        (at, an), (bt, bn) = a(pairs), b(pairs)
        known_false = (~at & ~an) | (~bt & ~bn)
        return at & bt, (an | bn) & ~known_false
    return run


def _or(a: Condition, b: Condition) -> Condition:
    def run(pairs: QueryPairs) -> Truth:
        (at, an), (bt, bn) = a(pairs), b(pairs)
        true = at | bt
        return true, (an | bn) & ~true
    return run


def _not(a: Condition) -> Condition:
    def run(pairs: QueryPairs) -> Truth:
        true, null = a(pairs)
        return ~true & ~null, null
    return run


def _is_null(text: _Text) -> Condition:
    def run(pairs: QueryPairs) -> Truth:
        if text.side == "record":
            return pairs.codes(text.name or "") < 0, np.zeros(pairs.size, bool)
        return np.full(pairs.size, text.query_value(pairs) is None), np.zeros(pairs.size, bool)
    return run


def _equal(a: _Text, b: _Text) -> Condition:
    if a.side != "record" and b.side == "record":
        a, b = b, a

    def run(pairs: QueryPairs) -> Truth:
        if a.side == "record" and b.side == "record":
            left, right = _strings(pairs, a), _strings(pairs, b)
            null = (pairs.codes(a.name or "") < 0) | (pairs.codes(b.name or "") < 0)
            return (left == right) & ~null, null
        value = b.query_value(pairs)
        if a.side == "record":
            codes = pairs.codes(a.name or "")
            if value is None:
                return np.zeros(pairs.size, bool), np.ones(pairs.size, bool)
            return codes == pairs.columns[a.name or ""].code(value), codes < 0
        other = a.query_value(pairs)
        null = other is None or value is None
        return np.full(pairs.size, not null and other == value), np.full(pairs.size, null)
    return run


def _equal_to_query(record: _Text, query: _Text) -> Test:
    """Where a record's column equals the query's value: a NULL code (-1) or a value no record has (-2)
    never equals a code, and a query without the value makes it NULL everywhere."""
    def run(pairs: QueryPairs) -> np.ndarray:
        value = query.query_value(pairs)
        if value is None:
            return np.zeros(pairs.size, bool)
        return pairs.codes(record.name or "") == pairs.columns[record.name or ""].code(value)  # type: ignore[no-any-return]
    return run


def _strings(pairs: QueryPairs, text: _Text) -> np.ndarray:
    column = pairs.columns[text.name or ""]
    codes = pairs.codes(text.name or "")
    return np.where(codes >= 0, column.values[np.maximum(codes, 0)] if len(column.values) else None, None)


def _similarity(name: str, function: Callable[..., float], a: _Text, b: _Text) -> Number:
    if a.side != "record" and b.side == "record":
        a, b = b, a  # the functions here are symmetric

    def compute(pairs: QueryPairs) -> tuple[np.ndarray, np.ndarray]:
        value = b.query_value(pairs)
        if a.side == "record" and b.side != "record":
            codes = pairs.codes(a.name or "")
            if value is None:
                return np.zeros(pairs.size), np.ones(pairs.size, bool)
            distinct, inverse = pairs.distinct(a.name or "")
            strings = pairs.columns[a.name or ""].values[np.maximum(distinct, 0)]
            scores = process.cdist([value], list(strings), scorer=function, dtype=np.float64, workers=1)[0]
            return scores[inverse], codes < 0
        if a.side == "record":
            left, right = _strings(pairs, a), _strings(pairs, b)
            null = np.array([x is None or y is None for x, y in zip(left, right, strict=True)], bool)
            return np.array([function(x, y) if not n else 0.0 for x, y, n in zip(left, right, null, strict=True)],
                            float), null
        other = a.query_value(pairs)
        null = other is None or value is None
        return np.full(pairs.size, 0.0 if null else function(other, value)), np.full(pairs.size, null)

    key = (name, a.side, a.name, b.side, b.name)  # plain strings: hashed on every level that reads it
    return lambda pairs: pairs.cached(key, lambda: compute(pairs))  # type: ignore[no-any-return]


def _integer(text: _Text) -> Number:
    """CAST(text AS INTEGER) of digits (the parts of a date of birth); anything else is refused as SQL would fail."""
    def compute(pairs: QueryPairs) -> tuple[np.ndarray, np.ndarray]:
        if text.side == "record":
            codes = pairs.codes(text.name or "")
            table, valid = pairs.columns[text.name or ""].integers
            present = np.maximum(codes, 0)
            invalid = (codes >= 0) & ~valid[present]
            if invalid.any():  # fails as SQL's cast does
                int(pairs.columns[text.name or ""].values[codes[invalid][0]])
            return np.where(codes >= 0, table[present], 0.0), codes < 0
        value = text.query_value(pairs)
        return np.full(pairs.size, float(int(value)) if value is not None else 0.0), np.full(pairs.size, value is None)

    key = ("integer", text.side, text.name)
    return lambda pairs: pairs.cached(key, lambda: compute(pairs))  # type: ignore[no-any-return]


def _compare_number(number: Number, limit: float, compare: Callable[[Any, Any], Any]) -> Condition:
    def run(pairs: QueryPairs) -> Truth:
        values, null = number(pairs)
        return compare(values, limit) & ~null, null
    return run
