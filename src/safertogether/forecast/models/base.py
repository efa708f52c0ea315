"""What every model sees and gives: the history before an origin, and an expected count per cell.

A model forecasts period ``origin`` from events strictly before it: ``History`` hands over only
those (the period counts before ``origin`` and the events before its first base step), so a model
cannot look ahead whatever it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from safertogether.forecast.series import Series


@dataclass
class History:
    """Everything before period ``origin`` of ``series``."""

    series: Series
    origin: int
    covariates: np.ndarray | None = None  #: (N, k) area covariates (e.g. deprivation), or None
    related: np.ndarray | None = None  #: (periods, N) counts of related events (inputs, never targets), or None
    _counts: np.ndarray | None = field(default=None, repr=False)

    @property
    def counts(self) -> np.ndarray:
        """(origin, N) counts of the periods before the origin."""
        if self._counts is None:
            self._counts = self.series.counts(self.origin)
        return self._counts

    @property
    def related_counts(self) -> np.ndarray | None:
        """(origin, N) counts of the related events in the periods before the origin, or None."""
        return None if self.related is None else self.related[: self.origin]

    @property
    def start_step(self) -> int:
        """First base step of the forecast period (every event used is before it)."""
        return int(self.series.edges[self.origin])

    @property
    def steps_ahead(self) -> int:
        """Base steps in the forecast period (7 for a week of days, 1 for a month of months)."""
        return int(self.series.edges[self.origin + 1] - self.series.edges[self.origin])

    def events(self) -> tuple[np.ndarray, np.ndarray]:
        """Base step and cell of every event before the forecast period."""
        return self.series.before(self.start_step)

    def recent_total(self, periods: int = 12) -> float:
        """Mean events per period over the last ``periods`` periods (to scale a score to counts)."""
        recent = self.counts[-periods:]
        return float(recent.sum() / max(len(recent), 1))


class Model(Protocol):
    """A forecaster: an expected count per study-area cell for the period at ``history.origin``."""

    name: ClassVar[str]

    def forecast(self, history: History) -> np.ndarray: ...


def scale_to_total(score: np.ndarray, total: float) -> np.ndarray:
    """A risk score turned into expected counts summing to ``total`` (a model that ranks gives a rate)."""
    score = np.clip(np.asarray(score, np.float64), 0, None)
    mass = score.sum()
    return score * (total / mass) if mass > 0 else np.full(score.shape, total / max(len(score), 1))


def windows_for(horizon: str) -> list[int | None]:
    """Candidate look-back windows (periods) for a horizon: about 3, 6 and 12 months, and all."""
    return {"month": [3, 6, 12, None], "week": [13, 26, 52, None], "day": [28, 91, 365, None]}[horizon]


Params = dict[str, Any]
