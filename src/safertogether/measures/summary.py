"""The neighbourhood summary: counts, rates, trend, force comparison, outcomes and stop-and-search."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from scipy import stats

from safertogether.areas.hierarchy import MEMBER_CONDITION, area, population
from safertogether.measures.period import Period, add_months, resolve_period
from safertogether.model.categories import crime_type_slug
from safertogether.store.warehouse import Warehouse

STOP_SEARCH_RATE_NOTE = (
    "Counts and shares only: rates of stop and search per ethnic group need Census population by "
    "ethnicity, which is not in the imported data, so none are given."
)


def _per_1000(count: float, residents: int | None) -> float | None:
    return round(count / residents * 1000, 2) if residents else None


def area_summary(
    warehouse: Warehouse, code: str, month_from: str | None = None, month_to: str | None = None
) -> dict[str, Any]:
    """Everything the neighbourhood page shows about one area for one period.

    Args:
        code: an LSOA, MSOA or local authority code, or a police.uk force id.
        month_from, month_to: ``YYYY-MM``; by default the latest 12 loaded months.
    """
    place = area(warehouse, code)
    force = place["code"] if place["level"] == "force" else place.get("force_id")
    period = resolve_period(warehouse, month_from, month_to, force=force)
    where = MEMBER_CONDITION[place["level"]]
    # One read of the monthly counts serves the categories, the monthly series and the trend.
    span = Period(min(period.start, add_months(period.end, -23)), period.end)
    counts = warehouse.query(
        f"""SELECT month, crime_type, sum(crimes)::BIGINT AS crimes FROM monthly_counts m
            WHERE {where} AND month BETWEEN $start AND $end GROUP BY ALL""",
        {"code": code, "start": span.start, "end": span.end},
    )
    loaded = {r["month"] for r in warehouse.query(
        """SELECT DISTINCT month FROM force_months
           WHERE ($force IS NULL OR force_id = $force) AND month BETWEEN $start AND $end""",
        {"force": force, "start": span.start, "end": span.end},
    )}
    categories = _categories(counts, period)
    total = sum(c["crimes"] for c in categories)
    residents = place["population"]
    compared = force is not None and place["level"] != "force"
    force_part = _force_comparison(warehouse, force, period, total, residents) if compared else None
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
        "monthly": _monthly(counts, loaded, period),
        "trend": trend(counts, loaded, period.end),
        "force_comparison": force_part,
        "outcomes": _outcomes(warehouse, where, {"code": code, "start": period.start, "end": period.end}),
        "stop_and_search": stop_and_search(warehouse, place["level"], code, period),
    }


def _in(period: Period, month: dt.date) -> bool:
    return period.start <= month <= period.end


def _categories(counts: list[dict[str, Any]], period: Period) -> list[dict[str, Any]]:
    totals: dict[str, int] = {}
    for row in counts:
        if _in(period, row["month"]):
            totals[row["crime_type"]] = totals.get(row["crime_type"], 0) + row["crimes"]
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [{"crime_type": crime_type, "crimes": crimes} for crime_type, crimes in ordered]


def _monthly(counts: list[dict[str, Any]], loaded: set[dt.date], period: Period) -> list[dict[str, Any]]:
    """Crimes per month of the period; None for a month the force has not published."""
    by_month: dict[dt.date, int] = {}
    for row in counts:
        by_month[row["month"]] = by_month.get(row["month"], 0) + row["crimes"]
    months = [add_months(period.start, i) for i in range(period.months)]
    return [{"month": f"{m:%Y-%m}", "crimes": by_month.get(m, 0) if m in loaded else None} for m in months]


def trend(counts: list[dict[str, Any]], loaded: set[dt.date], end: dt.date) -> dict[str, Any]:
    """The 12 months to ``end`` against the 12 before, with an exact conditional Poisson test.

    Given the two counts' total, the first is Binomial(total, 1/2) if the underlying rate did not
    change (equal 12-month exposures), so a two-sided binomial test gives the p-value. A month counts
    as loaded when the force published it, even if the area had no crime in it.
    """
    current = Period(add_months(end, -11), end)
    previous = current.previous()
    result: dict[str, Any] = {"current": current.as_json(), "previous": previous.as_json(),
                              "method": "exact conditional Poisson test (binomial, equal exposure)"}
    months = sum(1 for m in loaded if previous.start <= m <= current.end)
    if months < 24:
        return {**result, "available": False,
                "note": f"needs 24 loaded months up to {end:%Y-%m}; {months} found"}
    now = sum(r["crimes"] for r in counts if _in(current, r["month"]))
    before = sum(r["crimes"] for r in counts if _in(previous, r["month"]))
    p_value = stats.binomtest(now, now + before, 0.5).pvalue if now + before else 1.0
    return {
        **result, "available": True, "current_crimes": now, "previous_crimes": before,
        "change_pct": round((now - before) / before * 100, 1) if before else None,
        "p_value": round(float(p_value), 6), "significant": bool(p_value < 0.05),
        "direction": "no significant change" if p_value >= 0.05 else ("up" if now > before else "down"),
    }


def _force_comparison(
    warehouse: Warehouse, force: str, period: Period, total: int, residents: int | None
) -> dict[str, Any]:
    force_residents = population(warehouse, "force", force)
    rows = _force_categories(warehouse, warehouse.version, force, period)
    force_total = sum(r["crimes"] for r in rows)
    force_rate = _per_1000(force_total, force_residents)
    area_rate = _per_1000(total, residents)
    comparison: dict[str, Any] = {
        "force_id": force, "force_crimes": force_total, "force_population": force_residents,
        "force_rate_per_1000": force_rate,
        "category_rates": {r["crime_type"]: _per_1000(r["crimes"], force_residents) for r in rows},
    }
    if area_rate is not None and force_rate and residents:
        expected = force_total / force_residents * residents  # type: ignore[operator]
        p_value = 2 * min(stats.poisson.cdf(total, expected), stats.poisson.sf(total - 1, expected))
        comparison.update({
            "ratio_to_force": round(area_rate / force_rate, 3),
            "expected_crimes_at_force_rate": round(expected, 1),
            "p_value": round(min(1.0, float(p_value)), 6),
            "verdict": "similar to the force average" if p_value >= 0.05
            else ("higher than the force average" if total > expected else "lower than the force average"),
        })
    return comparison


@functools.lru_cache(maxsize=512)
def _force_categories(warehouse: Warehouse, _version: int, force: str, period: Period) -> list[dict[str, Any]]:
    """Crimes per category located in a force's LSOAs in a period: the baseline of every area's comparison.

    Counted like the areas themselves (by LSOA, whoever reported them), so that the rate has the same
    numerator as its denominator, the force's residents; a force without LSOAs in the lookup (British
    Transport Police) falls back to everything it reported. The same for every area, so kept.
    """
    return warehouse.query(
        """WITH force_lsoas AS (SELECT lsoa_code FROM lsoa_lookup WHERE force_id = $force)
           SELECT crime_type, sum(crimes)::BIGINT AS crimes FROM monthly_counts
           WHERE month BETWEEN $start AND $end
             AND CASE WHEN EXISTS (SELECT 1 FROM force_lsoas) THEN lsoa IN (SELECT lsoa_code FROM force_lsoas)
                      ELSE force_id = $force END
           GROUP BY crime_type""",
        {"force": force, "start": period.start, "end": period.end},
    )


def _outcomes(warehouse: Warehouse, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows = warehouse.query(
        f"""SELECT outcome, sum(crimes)::BIGINT AS crimes FROM monthly_outcomes m
            WHERE {where} AND month BETWEEN $start AND $end GROUP BY ALL ORDER BY crimes DESC, outcome""",
        params,
    )
    total = sum(r["crimes"] for r in rows)
    return [{**r, "share": round(r["crimes"] / total, 4)} for r in rows]


STOP_BREAKDOWNS = ("legislation", "outcome", "self_defined_ethnicity")


def stop_and_search(warehouse: Warehouse, level: str, code: str, period: Period) -> dict[str, Any]:
    """Stops by legislation, outcome and self-defined ethnicity: counts and shares (no rates)."""
    rows = warehouse.query(
        f"""SELECT {", ".join(f"GROUPING({f}) AS g_{f}" for f in STOP_BREAKDOWNS)}, {", ".join(STOP_BREAKDOWNS)},
                   count(*) AS stops
            FROM stop_searches m WHERE {MEMBER_CONDITION[level]} AND month BETWEEN $start AND $end
            GROUP BY GROUPING SETS ({", ".join(f"({f})" for f in STOP_BREAKDOWNS)})""",
        {"code": code, "start": period.start, "end": period.end},
    )
    breakdowns: dict[str, Any] = {}
    total = 0
    for field in STOP_BREAKDOWNS:
        mine = [{"value": r[field] or "Not stated", "stops": r["stops"]} for r in rows if r[f"g_{field}"] == 0]
        mine.sort(key=lambda r: (-r["stops"], r["value"]))
        total = sum(r["stops"] for r in mine)
        breakdowns[f"by_{field}"] = [{**r, "share": round(r["stops"] / total, 4)} for r in mine]
    return {"stops": total, **breakdowns, "note": STOP_SEARCH_RATE_NOTE}
