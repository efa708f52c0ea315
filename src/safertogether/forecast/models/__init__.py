"""Hotspot models behind one interface: ``forecast(history) -> expected count per cell``."""

from __future__ import annotations

from typing import Final

from safertogether.forecast.models.base import History, Model
from safertogether.forecast.models.baselines import AllHistory, LongRun, PreviousPeriod
from safertogether.forecast.models.ensemble import Ensemble
from safertogether.forecast.models.etas import GridEtas
from safertogether.forecast.models.kde import KernelDensity
from safertogether.forecast.models.learned import BoostedTrees
from safertogether.forecast.models.prospective import ProspectiveHotspot

#: Every model by name, in the order reports list them (baselines first).
MODELS: Final = {m.name: m for m in (PreviousPeriod, LongRun, KernelDensity, ProspectiveHotspot, GridEtas,
                                     BoostedTrees, Ensemble)}
BASELINES: Final = ("previous", "longrun", "kde", "prospective")

__all__ = ["BASELINES", "MODELS", "AllHistory", "BoostedTrees", "Ensemble", "GridEtas", "History", "KernelDensity",
           "LongRun", "Model", "PreviousPeriod", "ProspectiveHotspot"]
