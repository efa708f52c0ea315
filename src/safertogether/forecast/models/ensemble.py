"""An ensemble: a weighted sum of the other models' expected counts.

The weights are fitted on the tuning windows (before the test span) to maximise the Poisson
likelihood of what happened, non-negative; a member that adds nothing gets weight zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from scipy import optimize

from safertogether.forecast.models.base import History, Model, Params


def fit_weights(forecasts: Sequence[np.ndarray], actuals: Sequence[np.ndarray]) -> np.ndarray:
    """Non-negative weights of ``len(forecasts[0])`` members: forecasts[w] is (members, N) for window w."""
    members = forecasts[0].shape[0]
    stacked_f = np.hstack(forecasts)  # (members, windows * N)
    stacked_y = np.concatenate(actuals)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        lam = np.maximum(w @ stacked_f, 1e-6)
        value = float(np.sum(lam) - np.sum(stacked_y * np.log(lam)))
        grad = stacked_f.sum(axis=1) - stacked_f @ (stacked_y / lam)
        return value, grad

    start = np.full(members, 1.0 / members)
    found = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(0, None)] * members)
    return np.asarray(found.x)


class Ensemble:
    name: ClassVar[str] = "ensemble"

    def __init__(self, members: Sequence[Model], weights: Sequence[float] | None = None) -> None:
        self.members = list(members)
        self.weights = np.asarray(weights if weights is not None else [1 / len(members)] * len(members))

    def forecast(self, history: History) -> np.ndarray:
        return sum((w * m.forecast(history) for m, w in zip(self.members, self.weights, strict=True) if w > 0),
                   start=np.zeros(history.series.grid.n))

    def describe(self) -> dict[str, float]:
        return {m.name: round(float(w), 4) for m, w in zip(self.members, self.weights, strict=True)}

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        return [{}]
