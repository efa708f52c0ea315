"""What the project's API returns, as models for the OpenAPI document (answers are built by the library).

Routes that serve cached bytes declare these as their documented response; a test checks that real
answers validate against them, so the document cannot drift from what is sent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["lsoa", "msoa", "lad", "force"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AreaRef(_Model):
    code: str
    name: str | None
    level: Level


class Area(AreaRef):
    parent: str | None = Field(description="Code of the area one level up, if any")
    force_id: str | None
    population: int | None = Field(description="Usual residents, Census 2011")
    parents: list[AreaRef] = Field(description="From the next level up to the police force")
    level_name: str


class PeriodOut(_Model):
    first: str = Field(alias="from", description="YYYY-MM")
    last: str = Field(alias="to", description="YYYY-MM")
    months: int


class CategoryCount(_Model):
    crime_type: str = Field(description="police.uk's Crime type")
    crimes: int
    slug: str = Field(description="police.uk's category slug, e.g. violent-crime")
    share: float
    rate_per_1000: float | None
    force_rate_per_1000: float | None


class MonthCount(_Model):
    month: str
    crimes: int | None = Field(description="None when the force has not published this month")


class Trend(_Model):
    current: PeriodOut
    previous: PeriodOut
    method: str
    available: bool
    note: str | None = None
    current_crimes: int | None = None
    previous_crimes: int | None = None
    change_pct: float | None = None
    p_value: float | None = None
    significant: bool | None = None
    direction: Literal["up", "down", "no significant change"] | None = None


class ForceComparison(_Model):
    force_id: str
    force_crimes: int
    force_population: int | None
    force_rate_per_1000: float | None
    ratio_to_force: float | None = None
    expected_crimes_at_force_rate: float | None = None
    p_value: float | None = None
    verdict: str | None = None


class OutcomeCount(_Model):
    outcome: str
    crimes: int
    share: float


class StopCount(_Model):
    value: str
    stops: int
    share: float


class StopAndSearch(_Model):
    stops: int
    by_legislation: list[StopCount]
    by_outcome: list[StopCount]
    by_self_defined_ethnicity: list[StopCount]
    note: str


class MissingData(_Model):
    data: Literal["population", "boundaries", "lookup"] = Field(description="The reference data not imported")
    needed_for: str = Field(description="What the answer would show with it")
    command: str = Field(description="The import that adds it")


class AreaSummary(_Model):
    """Everything the neighbourhood page shows about one area and period."""

    area: Area
    period: PeriodOut
    crimes: int
    population: int | None
    rate_per_1000: float | None
    categories: list[CategoryCount]
    monthly: list[MonthCount]
    trend: Trend
    force_comparison: ForceComparison | None
    outcomes: list[OutcomeCount]
    stop_and_search: StopAndSearch
    missing_data: list[MissingData] = Field(description="Reference imports that would complete this answer")
