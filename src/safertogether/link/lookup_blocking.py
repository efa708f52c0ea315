"""Which records a query is scored against: the model's blocking rules as in-memory sorted keys.

A blocking rule (``l.forename = r.forename AND l.surname = r.surname``) becomes one index: every record's
key (its codes of the rule's columns, as one integer) sorted once, so a query's candidates under the rule are
one binary search away. A rule whose two sides read different columns (forename against surname) is probed
with the query's columns in the rule's order; the rules here are symmetric, so one orientation suffices, and
an asymmetric one is indexed both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sqlglot
from sqlglot import exp

from safertogether.link.encoded_records import EncodedColumn
from safertogether.link.pair_conditions import UnsupportedConditionError

_MAX_KEY = 2**62


@dataclass(frozen=True)
class BlockingKey:
    """Records whose ``record_columns`` equal the query's ``query_columns``, pairwise, are candidates."""

    name: str
    record_columns: tuple[str, ...]
    query_columns: tuple[str, ...]


def keys_from_rules(rules: Mapping[str, str]) -> list[BlockingKey]:
    """One key per orientation of each rule (``name -> SQL``); a rule must be equalities joined by AND."""
    keys: dict[tuple[tuple[str, str], ...], BlockingKey] = {}
    for name, rule in rules.items():
        pairs = _equalities(rule)
        for orientation in (pairs, [(r, left) for left, r in pairs]):
            normal = tuple(sorted(orientation))
            if normal not in keys:
                keys[normal] = BlockingKey(name, tuple(p[0] for p in normal), tuple(p[1] for p in normal))
    return list(keys.values())


def _equalities(rule: str) -> list[tuple[str, str]]:
    """``l.a = r.b AND ...`` as [(a, b), ...] (left column, right column); IS [NOT] NULL tests are dropped."""
    def refuse() -> UnsupportedConditionError:
        return UnsupportedConditionError(f"the lookup indexes blocking rules made of l.column = r.column joined by "
                                         f"AND; {rule!r} is not one: use Splink's predict for this model")
    node = sqlglot.parse_one(rule, dialect="duckdb")
    parts = list(node.flatten()) if isinstance(node, exp.And) else [node]
    pairs = []
    for part in parts:
        part = part.unnest()
        if isinstance(part, exp.Is) or (isinstance(part, exp.Not) and isinstance(part.this.unnest(), exp.Is)):
            # "l.x IS NULL" only narrows a rule: keying on its equalities finds a superset of its candidates,
            # and every candidate is scored exactly, so the answers are the same.
            continue
        if not isinstance(part, exp.EQ) or not all(isinstance(s, exp.Column) for s in (part.this, part.expression)):
            raise refuse()
        sides = {part.this.table: part.this.name, part.expression.table: part.expression.name}
        if set(sides) != {"l", "r"}:
            raise refuse()
        pairs.append((sides["l"], sides["r"]))
    return pairs


@dataclass(frozen=True)
class KeyIndex:
    """Every record's key under one :class:`BlockingKey`, sorted, with the records in that order."""

    key: BlockingKey
    sizes: tuple[int, ...]
    sorted_keys: np.ndarray
    order: np.ndarray

    @classmethod
    def build(cls, key: BlockingKey, columns: Mapping[str, EncodedColumn]) -> KeyIndex:
        sizes = tuple(len(columns[c].values) for c in key.record_columns)
        if np.prod([float(s) for s in sizes]) >= _MAX_KEY:
            raise UnsupportedConditionError(f"blocking rule {key.name!r}: too many distinct values to index")
        combined = np.zeros(len(columns[key.record_columns[0]].codes), np.int64)
        present = np.ones(len(combined), bool)
        for column, size in zip(key.record_columns, sizes, strict=True):
            codes = columns[column].codes
            present &= codes >= 0
            combined = combined * size + codes
        order = np.flatnonzero(present).astype(np.int32)
        order = order[np.argsort(combined[order], kind="stable")]
        return cls(key, sizes, combined[order], order)

    def probe(self, codes: list[int]) -> np.ndarray:
        """The positions of the records whose key is the query's (none when a query value is missing or unknown)."""
        if any(code < 0 for code in codes):
            return self.order[:0]
        value = 0
        for code, size in zip(codes, self.sizes, strict=True):
            value = value * size + code
        lo, hi = np.searchsorted(self.sorted_keys, [value, value + 1])
        return self.order[lo:hi]

    def probe_each(self, codes: np.ndarray) -> list[np.ndarray]:
        """:meth:`probe` of a one-column key for each of many codes, in one binary search (a missing code
        finds nothing)."""
        if len(self.sizes) != 1:
            raise ValueError(f"{self.key.name}: probe_each is for one-column keys")
        lo, hi = (np.searchsorted(self.sorted_keys, codes + step).tolist() for step in (0, 1))
        return [self.order[a:b] if code >= 0 else self.order[:0]
                for a, b, code in zip(lo, hi, codes.tolist(), strict=True)]

    @property
    def nbytes(self) -> int:
        return int(self.sorted_keys.nbytes + self.order.nbytes)
