"""A trained Splink model as numpy: each comparison's levels, their match weights and term-frequency adjustments.

The weights are read from Splink's own settings object built from the saved model (so a level without a
trained m takes Splink's default, as Splink's predict does), and each level's condition is compiled by
:mod:`safertogether.link.pair_conditions`. The score of a query against a record is then Splink's
``match_weight`` for that pair: the prior's weight, plus the weight of the level each comparison falls in,
plus the term-frequency adjustment of an exact match on a common or rare value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from safertogether.link.encoded_records import EncodedColumn
from safertogether.link.pair_conditions import QueryPairs, Test, compile_test, referenced_columns


@dataclass(frozen=True)
class TermFrequencyAdjustment:
    """Splink's ``weight * (log2(u of the exact level) - log2(max(tf_l, tf_r, minimum u)))``."""

    column: str
    weight: float
    log2_u_exact: float
    minimum_u: float


@dataclass(frozen=True)
class ScoredLevel:
    gamma: int
    label: str
    match_weight: float
    m_probability: float | None
    u_probability: float | None
    condition: Test | None  # where the pair is in this level, unless an earlier one took it; None: the ELSE level
    tf: TermFrequencyAdjustment | None


@dataclass(frozen=True)
class ScoredComparison:
    name: str
    columns: tuple[str, ...]
    levels: tuple[ScoredLevel, ...]

    @cached_property
    def weights(self) -> np.ndarray:
        """Each level's match weight, by level index."""
        return np.array([level.match_weight for level in self.levels])

    @cached_property
    def reads(self) -> frozenset[str]:
        """Every column the comparison's levels and term-frequency adjustments read."""
        return frozenset(self.columns) | {level.tf.column for level in self.levels if level.tf}

    def contribution(self, pairs: QueryPairs, columns: Mapping[str, EncodedColumn],
                     frequencies: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Each pair's level, and its term-frequency adjustment (0 where its level has none)."""
        index = self.level_of(pairs)
        adjustment = np.zeros(pairs.size)
        for i, level in enumerate(self.levels):
            if level.tf is not None and (index == i).any():
                adjustment = np.where(index == i, _tf_adjustment(level.tf, pairs, columns, frequencies), adjustment)
        return index, adjustment

    def level_of(self, pairs: QueryPairs) -> np.ndarray:
        """Each pair's level: the first whose condition is TRUE, else the last (the ELSE level)."""
        tests = []
        for level in self.levels:
            if level.condition is None:
                break
            tests.append(level.condition(pairs))
        tests.append(np.ones(pairs.size, bool))
        first = np.argmax(np.stack(tests), axis=0)
        return np.where(first == len(tests) - 1, len(self.levels) - 1, first)


@dataclass(frozen=True)
class PairScores:
    """Each candidate's total match weight, and per comparison its level (index) and tf adjustment; ``parts``
    holds each comparison's whole contribution (level weight plus adjustment), one column per comparison."""

    match_weight: np.ndarray
    levels: dict[str, np.ndarray]
    tf_adjustments: dict[str, np.ndarray]
    parts: np.ndarray


@dataclass(frozen=True)
class ModelScorer:
    prior_match_weight: float
    comparisons: tuple[ScoredComparison, ...]

    @property
    def columns(self) -> set[str]:
        """Every record column a comparison or tf adjustment reads."""
        return {c for comparison in self.comparisons for c in comparison.columns} | {
            level.tf.column for comparison in self.comparisons for level in comparison.levels if level.tf}

    def score(self, pairs: QueryPairs, columns: Mapping[str, EncodedColumn],
              frequencies: Mapping[str, np.ndarray]) -> PairScores:
        total = np.full(pairs.size, self.prior_match_weight)
        parts = np.empty((pairs.size, len(self.comparisons)))
        levels, adjustments = {}, {}
        for j, comparison in enumerate(self.comparisons):
            index, adjustment = comparison.contribution(pairs, columns, frequencies)
            parts[:, j] = comparison.weights[index] + adjustment
            total += parts[:, j]
            levels[comparison.name], adjustments[comparison.name] = index, adjustment
        return PairScores(total, levels, adjustments, parts)

    def rescore(self, pairs: QueryPairs, columns: Mapping[str, EncodedColumn], frequencies: Mapping[str, np.ndarray],
                known: np.ndarray, changed: set[str]) -> np.ndarray:
        """The match weights of ``pairs`` whose query differs from an earlier one only in the ``changed``
        columns: the comparisons reading none of them keep their contribution from then (``known``, the
        earlier :attr:`PairScores.parts` of the same records), the others are evaluated again. The sum is
        taken in the same order as :meth:`score`'s, so an unchanged query gives the very same floats."""
        total = np.full(pairs.size, self.prior_match_weight)
        for j, comparison in enumerate(self.comparisons):
            if changed.isdisjoint(comparison.reads):
                total += known[:, j]
                continue
            index, adjustment = comparison.contribution(pairs, columns, frequencies)
            total += comparison.weights[index] + adjustment
        return total


def _tf_adjustment(tf: TermFrequencyAdjustment, pairs: QueryPairs, columns: Mapping[str, EncodedColumn],
                   frequencies: Mapping[str, np.ndarray]) -> np.ndarray:
    codes = pairs.codes(tf.column)
    table = frequencies[tf.column]
    record = np.where(codes >= 0, table[np.maximum(codes, 0)], np.nan)
    code = columns[tf.column].code(pairs.query.get(tf.column))
    query = float(table[code]) if code >= 0 else math.nan
    left = np.where(np.isnan(record), query, record)
    right = record if math.isnan(query) else np.full(pairs.size, query)
    right = np.where(np.isnan(right), record, right)
    largest = np.fmax(np.fmax(left, right), tf.minimum_u)
    with np.errstate(divide="ignore", invalid="ignore"):
        adjusted = tf.weight * (tf.log2_u_exact - np.log2(largest))
    return np.where(np.isnan(left), 0.0, adjusted)


def scorer_from_model(model: dict[str, Any], record_columns: set[str]) -> ModelScorer:
    """The scorer of a model saved by ``linker.misc.save_model_to_json()``; refuses SQL it cannot compute."""
    from splink import SettingsCreator

    settings = SettingsCreator.from_path_or_dict(model).get_settings(model.get("sql_dialect", "duckdb"))
    comparisons = []
    for comparison in settings.comparisons:
        levels, columns = [], set()
        for level in comparison.comparison_levels:
            columns |= set() if level._is_else_level else referenced_columns(level.sql_condition)
            levels.append(_level(level, comparison.comparison_levels, record_columns))
        comparisons.append(ScoredComparison(comparison.output_column_name, tuple(sorted(columns)), tuple(levels)))
    prior = settings._probability_two_random_records_match
    return ModelScorer(math.log2(prior / (1 - prior)), tuple(comparisons))


def _level(level: Any, siblings: list[Any], record_columns: set[str]) -> ScoredLevel:
    tf = None
    if level.comparison_vector_value != -1 and level._has_tf_adjustments and level._tf_adjustment_weight != 0 \
            and not level._is_else_level:
        tf = TermFrequencyAdjustment(level._tf_adjustment_input_column.unquote().name, level._tf_adjustment_weight,
                                     math.log2(level._u_probability_corresponding_to_exact_match(siblings)),
                                     level._tf_minimum_u_value)
    null = level.is_null_level
    return ScoredLevel(
        gamma=level.comparison_vector_value, label=level.label_for_charts, match_weight=float(level._match_weight),
        m_probability=None if null else level.m_probability, u_probability=None if null else level.u_probability,
        condition=None if level._is_else_level else compile_test(level.sql_condition, record_columns), tf=tf)
