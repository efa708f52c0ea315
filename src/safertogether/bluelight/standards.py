"""Response standards, read from data: clock, statistic, target per urban/rural grade, source.

A planning answer is only as good as the question it optimises: a station merge can leave the mean
travel time alone and worsen the 90th centile by minutes. So every coverage figure, location model and
simulation here is judged by the statistic the standard itself measures.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safertogether.errors import InputFormatError

Service = Literal["police", "fire", "ambulance"]

#: Residents per hectare above which an LSOA counts as urban for split standards (ONS's urban/rural
#: classification is by settlement; density is the proxy available from the Census table).
URBAN_DENSITY = 10.0


class Standard(BaseModel):
    """One standard: which service, what is timed, how the times are summarised, and the target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    service: Service
    label: str
    clock_start: str
    clock_stop: str
    statistic: Literal["mean", "p90", "within"]
    target: dict[Literal["all", "urban", "rural"], float] = Field(description="Minutes, overall or per grade")
    share_pct: float | None = Field(None, description="For `within`: the share that must arrive in time")
    source: str

    @model_validator(mode="after")
    def _complete(self) -> Standard:
        if "all" not in self.target and set(self.target) != {"urban", "rural"}:
            raise ValueError(f"standard {self.id}: give target 'all', or both 'urban' and 'rural'")
        if self.statistic == "within" and self.share_pct is None:
            raise ValueError(f"standard {self.id}: a 'within' standard needs share_pct")
        return self

    def targets(self, urban: np.ndarray) -> np.ndarray:
        """The target (minutes) that applies at each place."""
        if "all" in self.target:
            return np.full(urban.shape, self.target["all"], dtype=float)
        return np.where(urban, self.target["urban"], self.target["rural"])

    def statistic_of(self, minutes: np.ndarray, weights: np.ndarray, urban: np.ndarray) -> float:
        """The standard's own statistic of response times (weighted by people or incidents)."""
        if not len(minutes) or weights.sum() <= 0:
            return float("nan")
        if self.statistic == "mean":
            return float(np.average(minutes, weights=weights))
        if self.statistic == "p90":
            return weighted_quantile(minutes, weights, 0.9)
        return float(100 * np.average(minutes <= self.targets(urban), weights=weights))

    def met(self, value: float) -> bool:
        if self.statistic == "within":
            return value >= (self.share_pct or 0)
        return value <= self.target.get("all", max(self.target.values()))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])


@functools.cache
def _packaged() -> tuple[Standard, ...]:
    return load_standards(Path(__file__).with_name("standards.yaml"))


def load_standards(path: str | Path | None = None) -> tuple[Standard, ...]:
    """The standards in a YAML file (default: the packaged ARP, police and fire standards)."""
    if path is None:
        return _packaged()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return tuple(Standard.model_validate(s) for s in data["standards"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise InputFormatError(f"{path}: not a standards file (a YAML list under 'standards:'): {exc}") from exc
    except ValidationError as exc:
        raise InputFormatError(f"{path}: invalid standard: {exc.errors()[0]['msg']}") from exc
