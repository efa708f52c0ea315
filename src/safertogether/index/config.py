"""The index as configuration: themes, indicators, weights, base period, scale, bands and sensitivity.

A :class:`IndexConfig` is read from YAML (the packaged ``default.yaml`` unless a user gives their own),
validated whole (every problem reported together), and stored verbatim with each built edition, so that
any published figure can be reproduced from the edition's own configuration.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safertogether.errors import InputFormatError
from safertogether.sources.spec import Identifier, spec_problems

Normalisation = Literal["zscore", "zscore_log", "percentile", "minmax"]
Aggregation = Literal["arithmetic", "geometric"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectiveIndicator(_Config):
    """Registered crime of some categories per 1,000 residents a year, as a count or as harm (days)."""

    name: Identifier
    label: str
    categories: list[str] = Field(min_length=1, description="police.uk categories (MPS files are translated)")
    measure: Literal["rate", "harm"] = Field("rate", description="harm: weighted by the harm weights")
    weight: float = Field(1.0, gt=0)


class SubjectiveIndicator(_Config):
    """A residents' survey measure (the mean of the listed measures an area has), a proportion or score."""

    name: Identifier
    label: str
    measures: list[str] = Field(min_length=1, description="Survey measure names, compared without regard to case")
    higher_is_safer: bool = True
    weight: float = Field(1.0, gt=0)


class Theme(_Config):
    name: Identifier
    label: str
    weight: float = Field(1.0, gt=0)
    objective: list[ObjectiveIndicator] = Field(default_factory=list)
    subjective: list[SubjectiveIndicator] = Field(default_factory=list)


class Band(_Config):
    below: float | None = Field(None, description="Scores below this (the last band: no bound)")
    name: str
    label: str


class Scale(_Config):
    centre: float = 100.0
    points_per_sd: float = Field(10.0, gt=0)


class Halves(_Config):
    objective: float = Field(0.5, ge=0)
    subjective: float = Field(0.5, ge=0)


class Denominator(_Config):
    ratio: float = Field(3.0, gt=0)
    footfall_share: float = Field(0.35, ge=0, le=1)
    extreme_ratio: float = Field(10.0, gt=0)
    min_residents: int = Field(100, ge=0)


class Sensitivity(_Config):
    normalisations: list[Normalisation] = Field(default_factory=lambda: ["zscore"])
    halves: list[tuple[float, float]] = Field(default_factory=lambda: [(0.5, 0.5)])
    aggregations: list[Aggregation] = Field(default_factory=lambda: ["arithmetic"])
    measures: list[Literal["configured", "counts"]] = Field(default_factory=lambda: ["configured"])
    rates: list[Literal["smoothed", "raw"]] = Field(default_factory=lambda: ["smoothed"])


class IndexConfig(_Config):
    name: str = "Community Safety Index"
    description: str = ""
    period: Literal["year"] = "year"
    min_months: int = Field(6, ge=1, le=12)
    base_period: str = Field("auto", pattern=r"^(auto|\d{4})$")
    scale: Scale = Scale()
    halves: Halves = Halves()
    rates: Literal["smoothed", "raw"] = "smoothed"
    transform: Literal["none", "log"] = "none"
    survey_carry_forward: int = Field(2, ge=0)
    bands: list[Band] = Field(min_length=1)
    themes: list[Theme] = Field(min_length=1)
    denominator: Denominator = Denominator()
    sensitivity: Sensitivity = Sensitivity()

    @model_validator(mode="after")
    def _consistent(self) -> IndexConfig:
        problems = []
        bounds = [b.below for b in self.bands]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            problems.append("bands: every band but the last needs 'below'; the last has none")
        elif bounds[:-1] != sorted(bounds[:-1]):  # type: ignore[type-var]
            problems.append("bands: 'below' must rise from band to band")
        names = [i.name for t in self.themes for i in [*t.objective, *t.subjective]] + [t.name for t in self.themes]
        problems += [f"'{n}' is named twice among themes and indicators" for n in sorted({n for n in names
                                                                                         if names.count(n) > 1})]
        problems += [f"theme '{t.name}' has no indicators" for t in self.themes if not (t.objective or t.subjective)]
        if self.halves.objective + self.halves.subjective <= 0:
            problems.append("halves: the objective and subjective weights cannot both be 0")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def band_of(self, score: float) -> Band:
        for band in self.bands:
            if band.below is None or score < band.below:
                return band
        return self.bands[-1]

    def as_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


@functools.cache
def default_config_text() -> str:
    return (importlib.resources.files("safertogether.index") / "default.yaml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None) -> tuple[IndexConfig, str]:
    """The configuration and its text as given (stored with the edition): the packaged default, or a file."""
    if path is None:
        text, where = default_config_text(), "the default index configuration"
    else:
        try:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"{path}: cannot be read as an index configuration ({exc})") from exc
    return config_from_text(text, where), text


def config_from_text(text: str, where: str = "the index configuration") -> IndexConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputFormatError(f"{where}: not YAML ({exc}); start from `safer index config`") from exc
    try:
        return IndexConfig.model_validate(data)
    except ValidationError as exc:
        raise InputFormatError(f"{where}: not a valid index configuration: {'; '.join(spec_problems(exc))}; "
                               "compare with `safer index config`") from exc


def config_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
