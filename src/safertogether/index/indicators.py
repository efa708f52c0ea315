"""Indicator values per area and period: objective (crime rates, harm) and subjective (survey measures).

An objective indicator is computed four ways, for the sensitivity analysis: as counts or harm (the
configured measure) and as raw or smoothed rates. Which one the index scores is configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from safertogether.index.config import IndexConfig, ObjectiveIndicator, SubjectiveIndicator
from safertogether.index.panel import Panel, name_key
from safertogether.measures.harm import HarmWeights
from safertogether.measures.rates import PER, rates

Variant = tuple[str, str]  # (measure: "configured" | "counts", rates: "smoothed" | "raw")


@dataclass
class Indicator:
    theme: str
    part: str  # "objective" | "subjective"
    name: str
    label: str
    weight: float
    direction: float  # +1: a higher value is safer; -1: a higher value is less safe
    variants: dict[Variant, np.ndarray]  # areas x periods
    detail: dict[str, np.ndarray] = field(default_factory=dict)  # count, rate, low, high, harm..., funnel
    source_period: np.ndarray | None = None  # subjective: the survey year each value comes from

    def value(self, measure: str = "configured", rate: str = "smoothed") -> np.ndarray:
        return self.variants.get((measure, rate), self.variants[("configured", "smoothed")])


def objective_indicator(panel: Panel, theme: str, spec: ObjectiveIndicator, weights: HarmWeights,
                        usable: np.ndarray) -> Indicator:
    """Crimes of the indicator's categories per 1,000 residents a year (harm days where configured)."""
    shape = (len(panel.areas), len(panel.periods))
    count = np.zeros(shape)
    harm, harm_low, harm_high = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    wanted = set(spec.categories)
    for (category, offence), grid in panel.counts.items():
        if category not in wanted:
            continue
        count += grid
        days, low, high = _weights_per_area(panel, weights, category, offence)
        harm += grid * days[:, None]
        harm_low += grid * low[:, None]
        harm_high += grid * high[:, None]
    exposure = panel.residents * panel.years() / PER
    detail = {k: np.full(shape, np.nan) for k in ("rate", "low", "high", "smoothed", "expected")}
    detail["funnel"] = np.full(shape, "", dtype=object)
    for p in range(shape[1]):
        column = usable[:, p]
        if not column.any():
            continue
        found = rates(count[column, p], panel.residents[column, p], panel.years()[column, p], panel.groups[column])
        for key in ("rate", "low", "high", "smoothed", "expected"):
            detail[key][column, p] = getattr(found, key)
        detail["funnel"][column, p] = found.funnel
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(usable & (exposure > 0), exposure, np.nan)
        harm_rate = harm / safe
        per_crime = np.where(count > 0, harm / np.where(count > 0, count, 1), np.nan)
        group_per_crime = _group_mean(panel, per_crime, count)
        smoothed_harm = detail["smoothed"] * np.where(np.isfinite(per_crime), per_crime, group_per_crime)
    detail |= {"count": count, "harm": harm_rate, "harm_low": harm_low / safe, "harm_high": harm_high / safe}
    configured_raw = harm_rate if spec.measure == "harm" else detail["rate"]
    configured_smoothed = smoothed_harm if spec.measure == "harm" else detail["smoothed"]
    variants = {("configured", "raw"): configured_raw, ("configured", "smoothed"): configured_smoothed,
                ("counts", "raw"): detail["rate"], ("counts", "smoothed"): detail["smoothed"]}
    return Indicator(theme, "objective", spec.name, spec.label, spec.weight, -1.0, variants, detail)


def _weights_per_area(panel: Panel, weights: HarmWeights, category: str,
                      offence: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days, low and high per area: the offence's own weight where known (no range), else the category's for
    the area's force."""
    exact = weights.offence(category, offence) if offence else None
    if exact is not None:
        return np.full(len(panel.areas), exact), np.full(len(panel.areas), exact), np.full(len(panel.areas), exact)
    groups, member_of = np.unique(panel.groups.astype(str), return_inverse=True)
    per_group = np.zeros((3, len(groups)))
    for g, group in enumerate(groups):
        found = weights.of(category, group or None)
        if found:
            per_group[:, g] = (found.days, found.low, found.high)
    return per_group[0, member_of], per_group[1, member_of], per_group[2, member_of]


def _group_mean(panel: Panel, per_crime: np.ndarray, count: np.ndarray) -> np.ndarray:
    out = np.full(per_crime.shape, np.nan)
    for group in np.unique(panel.groups):
        member = panel.groups == group
        total = count[member].sum(axis=0)
        weighted = np.nansum(np.nan_to_num(per_crime[member]) * count[member], axis=0)
        out[member] = np.where(total > 0, weighted / np.where(total > 0, total, 1), 0.0)
    return out


def subjective_indicator(panel: Panel, theme: str, spec: SubjectiveIndicator,
                         config: IndexConfig) -> Indicator | None:
    """The mean of the listed survey measures an area has, per period; a period without a survey takes the
    latest earlier one up to ``survey_carry_forward`` years old (its year is kept, and shown). None when the
    survey data hold none of the measures."""
    keys = [name_key(m) for m in spec.measures if name_key(m) in panel.survey]
    if not keys:
        return None
    stacked = np.stack([panel.survey[k] for k in keys])
    present = np.isfinite(stacked).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # not nanmean: it warns where an area has none
        by_year = np.where(present > 0, np.nansum(stacked, axis=0) / present, np.nan)
    years = [int(y) for y in panel.survey_years]
    shape = (len(panel.areas), len(panel.periods))
    value = np.full(shape, np.nan)
    source = np.full(shape, "", dtype=object)
    for p, period in enumerate(panel.periods):
        for back in range(config.survey_carry_forward + 1):
            year = int(period) - back
            if year not in years:
                continue
            column = by_year[:, years.index(year)]
            fill = np.isnan(value[:, p]) & np.isfinite(column)
            value[fill, p] = column[fill]
            source[fill, p] = str(year)
    direction = 1.0 if spec.higher_is_safer else -1.0
    variants = {(m, r): value for m in ("configured", "counts") for r in ("smoothed", "raw")}
    return Indicator(theme, "subjective", spec.name, spec.label, spec.weight, direction, variants,
                     {"value": value}, source)
