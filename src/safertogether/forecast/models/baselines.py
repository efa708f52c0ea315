"""The baselines a method must beat: last period's counts and the long-run average."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from safertogether.forecast.models.base import History, Params, windows_for


class PreviousPeriod:
    """Next period will look like the last one."""

    name: ClassVar[str] = "previous"

    def forecast(self, history: History) -> np.ndarray:
        return history.counts[-1].astype(np.float64)

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        return [{}]


class LongRun:
    """The mean count per period over the last ``window`` periods (None: all history)."""

    name: ClassVar[str] = "longrun"

    def __init__(self, window: int | None = None) -> None:
        self.window = window

    def forecast(self, history: History) -> np.ndarray:
        counts = history.counts if self.window is None else history.counts[-self.window:]
        return counts.mean(axis=0, dtype=np.float64)

    @staticmethod
    def candidates(horizon: str) -> list[Params]:
        return [{"window": w} for w in windows_for(horizon)]


class AllHistory(LongRun):
    """The mean count over all history, untuned: open_cp's "all-history counts", the issue's anchor.

    Scored beside the tuned long-run mean (whose window is chosen on the tuning windows), never tuned.
    """

    name: ClassVar[str] = "longrun_all"

    def __init__(self) -> None:
        super().__init__(None)
