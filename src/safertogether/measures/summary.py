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
    params = {"code": code, "start": period.start, "end": period.end}
    categories = warehouse.query(
        f"""SELECT crime_type, sum(crimes)::BIGINT AS crimes FROM monthly_counts m
            WHERE {where} AND month BETWEEN $start AND $end GROUP BY crime_type ORDER BY crimes DESC""",
        params,
    )
    total = sum(c["crimes"] for c in categories)
    residents = place["population"]
    force_part = _force_comparison(warehouse, force, period, total, residents) if force else None
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
        "monthly": _monthly(warehouse, where, code, force, period),
        "trend": trend(warehouse, where, code, force, period.end),
        "force_comparison": force_part,
        "outcomes": _outcomes(warehouse, where, params),
        "stop_and_search": stop_and_search(warehouse, place["level"], code, period),
    }


def _monthly(warehouse: Warehouse, where: str, code: str, force: str | None, period: Period) -> list[dict[str, Any]]:
    rows = warehouse.query(
        f"""WITH months AS (SELECT CAST(range AS DATE) AS month FROM range($start, $end + INTERVAL 1 MONTH,
                                                                       INTERVAL 1 MONTH)),
                 here AS (SELECT month, sum(crimes) AS crimes FROM monthly_counts m
                          WHERE {where} AND month BETWEEN $start AND $end GROUP BY month),
                 loaded AS (SELECT DISTINCT month FROM force_months
                            WHERE ($force IS NULL OR force_id = $force) AND month BETWEEN $start AND $end)
            SELECT strftime(months.month, '%Y-%m') AS month,
                   CASE WHEN loaded.month IS NULL THEN NULL ELSE coalesce(here.crimes, 0) END::BIGINT AS crimes
            FROM months LEFT JOIN here USING (month) LEFT JOIN loaded USING (month) ORDER BY 1""",
        {"code": code, "force": force, "start": period.start, "end": period.end},
    )
    return rows


def trend(warehouse: Warehouse, where: str, code: str, force: str | None, end: dt.date) -> dict[str, Any]:
    """The 12 months to ``end`` against the 12 before, with an exact conditional Poisson test.

    Given the two counts' total, the first is Binomial(total, 1/2) if the underlying rate did not
    change (equal 12-month exposures), so a two-sided binomial test gives the p-value.
    """
    current = Period(add_months(end, -11), end)
    previous = current.previous()
    # A month counts as loaded when the force published it, even if this area had no crime then.
    rows = warehouse.query(
        f"""SELECT sum(crimes) FILTER (WHERE month BETWEEN $cs AND $ce) AS now,
                   sum(crimes) FILTER (WHERE month BETWEEN $ps AND $pe) AS before,
                   (SELECT count(DISTINCT month) FROM force_months
                    WHERE ($force IS NULL OR force_id = $force) AND month BETWEEN $ps AND $ce) AS months
            FROM monthly_counts m WHERE {where} AND month BETWEEN $ps AND $ce""",
        {"code": code, "force": force, "cs": current.start, "ce": current.end, "ps": previous.start,
         "pe": previous.end},
    )[0]
    result: dict[str, Any] = {"current": current.as_json(), "previous": previous.as_json(),
                              "method": "exact conditional Poisson test (binomial, equal exposure)"}
    if rows["months"] < 24:
        return {**result, "available": False,
                "note": f"needs 24 loaded months up to {end:%Y-%m}; {rows['months']} found"}
    now, before = int(rows["now"] or 0), int(rows["before"] or 0)
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
    """Crimes per category in a force and period: the same for every area of the force, so kept."""
    return warehouse.query(
        """SELECT crime_type, sum(crimes)::BIGINT AS crimes FROM monthly_counts
           WHERE force_id = $force AND month BETWEEN $start AND $end GROUP BY crime_type""",
        {"force": force, "start": period.start, "end": period.end},
    )


def _outcomes(warehouse: Warehouse, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows = warehouse.query(
        f"""SELECT coalesce(last_outcome_category, 'No outcome recorded') AS outcome, count(*) AS crimes
            FROM street_crimes m WHERE {where} AND month BETWEEN $start AND $end
              AND crime_type <> 'Anti-social behaviour'
            GROUP BY ALL ORDER BY crimes DESC""",
        params,
    )
    total = sum(r["crimes"] for r in rows)
    return [{**r, "share": round(r["crimes"] / total, 4)} for r in rows]


def stop_and_search(warehouse: Warehouse, level: str, code: str, period: Period) -> dict[str, Any]:
    """Stops by legislation, outcome and self-defined ethnicity: counts and shares (no rates)."""
    where = MEMBER_CONDITION[level]
    params = {"code": code, "start": period.start, "end": period.end}
    breakdowns = {}
    total = 0
    for field in ("legislation", "outcome", "self_defined_ethnicity"):
        rows = warehouse.query(
            f"""SELECT coalesce({field}, 'Not stated') AS value, count(*) AS stops FROM stop_searches m
                WHERE {where} AND month BETWEEN $start AND $end GROUP BY ALL ORDER BY stops DESC""",
            params,
        )
        total = sum(r["stops"] for r in rows)
        breakdowns[f"by_{field}"] = [{**r, "share": round(r["stops"] / total, 4)} for r in rows]
    return {"stops": total, **breakdowns, "note": STOP_SEARCH_RATE_NOTE}
