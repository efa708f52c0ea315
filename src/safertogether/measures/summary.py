"""The neighbourhood summary: counts, rates, trend, force comparison, outcomes and stop-and-search."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from safertogether.areas.hierarchy import area, area_index_ready, population
from safertogether.measures.cube import STOP_BREAKDOWNS, SummaryCubes, summary_cubes, summary_cubes_ready
from safertogether.measures.missing import missing_for_area
from safertogether.measures.period import Period, add_months, month_text, resolve_period
from safertogether.model.categories import crime_type_slug
from safertogether.store.warehouse import Warehouse

if TYPE_CHECKING:
    from safertogether.disclosure.policy import Policy

STOP_SEARCH_RATE_NOTE = (
    "Counts and shares only: rates of stop and search per ethnic group need Census population by "
    "ethnicity, which is not in the imported data, so none are given."
)


def _per_1000(count: float, residents: int | None) -> float | None:
    return round(count / residents * 1000, 2) if residents else None


def area_summary(
    warehouse: Warehouse, code: str, month_from: str | None = None, month_to: str | None = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Everything the neighbourhood page shows about one area for one period.

    Args:
        code: an LSOA, MSOA or local authority code, or a police.uk force id.
        month_from, month_to: ``YYYY-MM``; by default the latest 12 loaded months.
        policy: the disclosure policy the figures are made under (None: exact, as counted).
    """
    place = area(warehouse, code)
    force = place["code"] if place["level"] == "force" else place.get("force_id")
    cubes = summary_cubes(warehouse, policy)
    latest = cubes.latest_month(force)
    if month_to is None and latest is not None:  # the default end, from memory rather than a query
        month_to = month_text(latest)
    period = resolve_period(warehouse, month_from, month_to, force=force)
    # One read of the monthly counts serves the categories, the monthly series and the trend.
    span = Period(min(period.start, add_months(period.end, -23)), period.end)
    crimes = cubes.crimes
    counts = crimes.matrix(crimes.rows_of_area(place["level"], code, cubes), span.start, span.end)
    per_month = counts.sum(axis=1)
    in_period = slice(span.months - period.months, None)
    loaded = {m for m in cubes.months_loaded.get(force, set()) if span.start <= m <= span.end}
    categories = _categories(crimes.keys, counts[in_period].sum(axis=0))
    total = sum(c["crimes"] for c in categories)
    residents = place["population"]
    compared = force is not None and place["level"] != "force"
    force_part = _force_comparison(warehouse, cubes, force, period, total, residents) if compared else None
    force_rates = force_part.pop("category_rates", {}) if force_part else {}
    for row in categories:
        row["slug"] = crime_type_slug(row["crime_type"])
        row["share"] = round(row["crimes"] / total, 4) if total else 0.0
        row["rate_per_1000"] = _per_1000(row["crimes"], residents)
        row["force_rate_per_1000"] = force_rates.get(row["crime_type"])
    return {
        "area": place,
        "period": period.as_json(),
        "crimes": total,
        "population": residents,
        "rate_per_1000": _per_1000(total, residents),
        "categories": categories,
        "monthly": _monthly(per_month[in_period], loaded, period),
        "trend": trend(per_month[-24:], loaded, period.end),
        "force_comparison": force_part,
        "outcomes": _outcomes(cubes, place["level"], code, period),
        "stop_and_search": stop_and_search(cubes, place["level"], code, period),
        "missing_data": missing_for_area(warehouse, place),
    }


def summary_in_memory(warehouse: Warehouse, policy: Policy | None = None) -> bool:
    """Whether what :func:`area_summary` reads is all in memory (a summary then needs no I/O)."""
    return summary_cubes_ready(warehouse, policy) and area_index_ready(warehouse)


def _categories(names: list[str], totals: np.ndarray) -> list[dict[str, Any]]:
    ordered = sorted(((names[i], int(totals[i])) for i in np.flatnonzero(totals)), key=lambda t: (-t[1], t[0]))
    return [{"crime_type": crime_type, "crimes": crimes} for crime_type, crimes in ordered]


def _monthly(per_month: np.ndarray, loaded: set[dt.date], period: Period) -> list[dict[str, Any]]:
    """Crimes per month of the period; None for a month the force has not published."""
    months = [add_months(period.start, i) for i in range(period.months)]
    return [{"month": month_text(m), "crimes": int(n) if m in loaded else None}
            for m, n in zip(months, per_month, strict=True)]


def trend(per_month: np.ndarray, loaded: set[dt.date], end: dt.date) -> dict[str, Any]:
    """The 12 months to ``end`` against the 12 before, with an exact conditional Poisson test.

    ``per_month`` holds the crimes of the 24 months to ``end``. Given the two counts' total, the
    first is Binomial(total, 1/2) if the underlying rate did not change (equal 12-month exposures),
    so a two-sided binomial test gives the p-value. A month counts as loaded when the force
    published it, even if the area had no crime in it.
    """
    current = Period(add_months(end, -11), end)
    previous = current.previous()
    result: dict[str, Any] = {"current": current.as_json(), "previous": previous.as_json(),
                              "method": "exact conditional Poisson test (binomial, equal exposure)"}
    months = sum(1 for m in loaded if previous.start <= m <= current.end)
    if months < 24:
        return {**result, "available": False,
                "note": f"needs 24 loaded months up to {end:%Y-%m}; {months} found"}
    now, before = int(per_month[-12:].sum()), int(per_month[:-12].sum())
    p_value = equal_rates_p_value(now, before)
    return {
        **result, "available": True, "current_crimes": now, "previous_crimes": before,
        "change_pct": round((now - before) / before * 100, 1) if before else None,
        "p_value": round(float(p_value), 6), "significant": bool(p_value < 0.05),
        "direction": "no significant change" if p_value >= 0.05 else ("up" if now > before else "down"),
    }


def equal_rates_p_value(now: int, before: int) -> float:
    """Two-sided exact test that two counts over equal exposures come from one Poisson rate.

    Given their total n, ``now`` is Binomial(n, 1/2) under the null; that distribution is symmetric, so
    the two-sided p-value (outcomes no more likely than the one seen) is twice the smaller tail. The
    same as ``scipy.stats.binomtest(now, n, 0.5).pvalue``, from the CDF ufunc in microseconds
    instead of milliseconds.

    >>> equal_rates_p_value(10, 10), round(equal_rates_p_value(30, 10), 6)
    (1.0, 0.002221)
    """
    n = now + before
    if n == 0 or 2 * now == n:
        return 1.0
    return float(min(1.0, 2 * special.bdtr(min(now, before), n, 0.5)))


def poisson_p_value(observed: int, expected: float) -> float:
    """Two-sided p-value of ``observed`` counts where a Poisson(``expected``) was expected.

    >>> round(poisson_p_value(20, 10.0), 6)
    0.006909
    """
    upper = special.pdtrc(observed - 1, expected) if observed > 0 else 1.0
    return float(min(1.0, 2 * min(special.pdtr(observed, expected), upper)))


def _force_comparison(
    warehouse: Warehouse, cubes: SummaryCubes, force: str, period: Period, total: int, residents: int | None
) -> dict[str, Any]:
    force_residents = population(warehouse, "force", force)
    # Counted like the areas themselves (by LSOA, whoever reported them), so that the rate has the
    # same numerator as its denominator, the force's residents.
    by_category = cubes.force_baseline(force, period.start, period.end)
    force_total = sum(by_category.values())
    force_rate = _per_1000(force_total, force_residents)
    area_rate = _per_1000(total, residents)
    comparison: dict[str, Any] = {
        "force_id": force, "force_crimes": force_total, "force_population": force_residents,
        "force_rate_per_1000": force_rate,
        "category_rates": {name: _per_1000(crimes, force_residents) for name, crimes in by_category.items()},
    }
    if area_rate is not None and force_rate and residents:
        expected = force_total / force_residents * residents  # type: ignore[operator]
        p_value = poisson_p_value(total, expected)
        comparison.update({
            "ratio_to_force": round(area_rate / force_rate, 3),
            "expected_crimes_at_force_rate": round(expected, 1),
            "p_value": round(p_value, 6),
            "verdict": "similar to the force average" if p_value >= 0.05
            else ("higher than the force average" if total > expected else "lower than the force average"),
        })
    return comparison


def _outcomes(cubes: SummaryCubes, level: str, code: str, period: Period) -> list[dict[str, Any]]:
    outcomes = cubes.outcomes
    totals = outcomes.totals(outcomes.rows_of_area(level, code, cubes), period.start, period.end)
    total = sum(totals.values())
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [{"outcome": name, "crimes": crimes, "share": round(crimes / total, 4)} for name, crimes in ordered]


def stop_and_search(cubes: SummaryCubes, level: str, code: str, period: Period) -> dict[str, Any]:
    """Stops by legislation, outcome and self-defined ethnicity: counts and shares (no rates)."""
    stops = cubes.stops
    totals = stops.totals(stops.rows_of_area(level, code, cubes), period.start, period.end)
    breakdowns: dict[str, Any] = {}
    total = 0
    for field in STOP_BREAKDOWNS:
        mine = [{"value": key.split(":", 1)[1], "stops": n} for key, n in totals.items()
                if key.startswith(field + ":")]
        mine.sort(key=lambda r: (-r["stops"], r["value"]))
        total = sum(r["stops"] for r in mine)
        breakdowns[f"by_{field}"] = [{**r, "share": round(r["stops"] / total, 4)} for r in mine]
    return {"stops": total, **breakdowns, "note": STOP_SEARCH_RATE_NOTE}
