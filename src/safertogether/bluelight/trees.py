"""A fitted gradient-boosted model as plain arrays: stored without pickle, predicted with numpy alone.

The fallback travel-time model is fitted once on the national matrix (``safer plan calibrate
--save-model``) and shipped with the package, so coverage needs neither the matrix nor scikit-learn's
pickles (which run code when loaded and break across versions). Each tree is its nodes' split feature,
threshold, children and leaf value; a prediction walks every tree one level per step for all rows at once.
Only numeric splits without missing values are kept: the features here are never missing.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safertogether.errors import InputFormatError


@dataclass(frozen=True)
class Trees:
    """Trees laid end to end: node arrays, each tree's first node, the baseline and what the model is."""

    feature: np.ndarray    # int32 per node (-1 on leaves)
    threshold: np.ndarray  # float64 per node: go left when x <= threshold
    left: np.ndarray       # int32 per node, absolute index
    right: np.ndarray      # int32 per node, absolute index
    value: np.ndarray      # float64 per node (used on leaves)
    roots: np.ndarray      # int32 per tree
    baseline: float
    about: dict[str, Any]  # feature names, error on held-out regions, how it was fitted

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.about["features"])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Sum of every tree's leaf value plus the baseline, for ``rows`` (n x features, in ``features`` order)."""
        rows = np.asarray(rows, dtype=float)
        total = np.full(len(rows), self.baseline)
        index = np.arange(len(rows))
        for root in self.roots:
            node = np.full(len(rows), root, dtype=np.int64)
            inner = np.flatnonzero(self.feature[node] >= 0)
            while inner.size:
                here = node[inner]
                go_left = rows[index[inner], self.feature[here]] <= self.threshold[here]
                node[inner] = np.where(go_left, self.left[here], self.right[here])
                inner = inner[self.feature[node[inner]] >= 0]
            total += self.value[node]
        return total

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, feature=self.feature, threshold=self.threshold, left=self.left,
                            right=self.right, value=self.value, roots=self.roots,
                            baseline=np.array([self.baseline]), about=np.array(json.dumps(self.about)))


def from_sklearn(estimator: Any, about: dict[str, Any]) -> Trees:
    """The arrays of a fitted ``HistGradientBoostingRegressor`` (numeric features, no missing values)."""
    features, thresholds, lefts, rights, values, roots = [], [], [], [], [], []
    offset = 0
    for (predictor,) in estimator._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ValueError("categorical splits cannot be stored as plain trees")
        leaf = nodes["is_leaf"].astype(bool)
        features.append(np.where(leaf, -1, nodes["feature_idx"]).astype(np.int32))
        thresholds.append(nodes["num_threshold"].astype(float))
        lefts.append((nodes["left"].astype(np.int64) + offset).astype(np.int32))
        rights.append((nodes["right"].astype(np.int64) + offset).astype(np.int32))
        values.append(nodes["value"].astype(float))
        roots.append(offset)
        offset += len(nodes)
    return Trees(np.concatenate(features), np.concatenate(thresholds), np.concatenate(lefts),
                 np.concatenate(rights), np.concatenate(values), np.asarray(roots, dtype=np.int32),
                 float(np.ravel(estimator._baseline_prediction)[0]), about)


def load_trees(path: str | Path) -> Trees:
    """Read a model saved by :meth:`Trees.save`; no pickle is loaded (``allow_pickle=False``)."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as saved:
            trees = Trees(saved["feature"], saved["threshold"], saved["left"], saved["right"], saved["value"],
                          saved["roots"], float(saved["baseline"][0]), json.loads(str(saved["about"])))
    except (OSError, KeyError, ValueError, IndexError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFormatError(f"{path}: not a travel-time model saved by `safer plan calibrate --save-model` "
                               f"({exc})") from exc
    nodes = len(trees.value)
    for name in ("feature", "threshold", "left", "right"):
        if len(getattr(trees, name)) != nodes:
            raise InputFormatError(f"{path}: the model's node arrays differ in length; save it again")
    inner, position = trees.feature >= 0, np.arange(nodes)
    # children come after their parent (sklearn's pre-order), so a walk always ends: no cycle can be stored
    outside = (trees.left >= nodes) | (trees.right >= nodes) | (trees.left <= position) | (trees.right <= position)
    if (trees.feature >= len(trees.features)).any() or (inner & outside).any():
        raise InputFormatError(f"{path}: the model points outside itself; save it again")
    return trees
