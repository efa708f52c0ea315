"""What a digest says: this month's crimes in an area against a typical month, in plain words.

*Typical* is the median of the previous 12 months that the force published. A month is called higher
or lower than typical only when chance alone would rarely give such a difference: a two-sided Poisson
test at the 5% level against the typical count (crime counts vary month to month like Poisson counts or
more, so this is generous to "about the same"). The same test picks the categories that rose or fell.
Figures come from the public (disclosure-controlled) counts, as on the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from safertogether.areas.hierarchy import area
from safertogether.disclosure.policy import Policy
from safertogether.measures.cube import summary_cubes
from safertogether.measures.period import add_months
from safertogether.model.attribution import ATTRIBUTION
from safertogether.store.warehouse import Warehouse

BASELINE_MONTHS: Final = 12
SIGNIFICANCE: Final = 0.05
TYPICAL_MEANS: Final = (
    "A typical month is the median of the previous 12 months. We say a count rose or fell only when the "
    "difference is larger than ordinary month-to-month chance would give 19 times in 20 (a Poisson test "
    "at the 5% level); smaller differences are normal variation.")


@dataclass(frozen=True)
class Change:
    name: str
    count: int
    typical: float | None  # None: no earlier month loaded to compare with
    direction: str  # "rose", "fell" or "" (within chance)


@dataclass(frozen=True)
class Digest:
    area: str
    area_name: str
    month: dt.date
    total: Change
    categories: list[Change] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"Crime in {self.area_name}: {self.month:%B %Y}"

    def sentence(self) -> str:
        """``42 crimes were recorded in your area in October 2022, 9 more than a typical month; burglary rose.``"""
        t = self.total
        n = f"{t.count:,} crime{'s' if t.count != 1 else ''} {'were' if t.count != 1 else 'was'}"
        if t.typical is None:
            return (f"{n} recorded in your area in {self.month:%B %Y}; there are no earlier months loaded to "
                    "compare it with yet.")
        difference = round(t.count - t.typical)
        if t.direction:
            than = f"{abs(difference):,} {'more' if difference > 0 else 'fewer'} than a typical month"
        else:
            than = f"about the same as a typical month ({_num(t.typical)})"
        moved = [f"{c.name.lower()} {c.direction}" for c in self.categories if c.direction]
        tail = f"; {_join(moved)}" if moved else ""
        return f"{n} recorded in your area in {self.month:%B %Y}, {than}{tail}."

    def details(self) -> list[str]:
        return [f"{c.name}: {c.count:,}"
                + (f" (typical {_num(c.typical)})" if c.typical is not None else "")
                + (f" - {c.direction}" if c.direction else "")
                for c in self.categories if c.count or c.typical]


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def direction(count: int, typical: float, alpha: float = SIGNIFICANCE) -> str:
    """``rose``/``fell`` when a two-sided Poisson test rejects "this month is typical", else ``""``."""
    from scipy import stats  # ~0.7 s to import: not at start-up (the API serves without it)

    if typical <= 0:
        return "rose" if count >= 3 else ""  # from nothing: three or more is unlikely by chance alone
    if count > typical and stats.poisson.sf(count - 1, typical) < alpha / 2:
        return "rose"
    if count < typical and stats.poisson.cdf(count, typical) < alpha / 2:
        return "fell"
    return ""


def area_digest(warehouse: Warehouse, code: str, policy: Policy, month: dt.date | None = None,
                categories: tuple[str, ...] = ()) -> Digest | None:
    """The digest of ``code`` for ``month`` (default: its force's latest month); None with no months loaded."""
    place = area(warehouse, code)
    force = place["code"] if place["level"] == "force" else place.get("force_id")
    cubes = summary_cubes(warehouse, policy)
    month = month or cubes.latest_month(force)
    if month is None:
        return None
    start = add_months(month, -BASELINE_MONTHS)
    counts = cubes.crimes.matrix(cubes.crimes.rows_of_area(place["level"], code, cubes), start, month)
    loaded = cubes.months_loaded.get(force, set())
    earlier = [i for i in range(BASELINE_MONTHS) if add_months(start, i) in loaded]
    keys = cubes.crimes.keys
    wanted = [i for i, k in enumerate(keys) if not categories or k in categories]

    def change(name: str, series: np.ndarray) -> Change:
        now = int(series[-1])
        if not earlier:
            return Change(name, now, None, "")
        typical = float(np.median(series[earlier]))
        return Change(name, now, typical, direction(now, typical))

    total = change("All crime", counts[:, wanted].sum(axis=1) if wanted else np.zeros(len(counts), np.int64))
    moved = [change(keys[i], counts[:, i]) for i in wanted]
    return Digest(place["code"], place.get("name") or place["code"], month, total,
                  sorted(moved, key=lambda c: (-c.count, c.name)))


def digest_text(digest: Digest, policy: Policy, unsubscribe_url: str | None = None, page_url: str | None = None,
                categories: tuple[str, ...] = ()) -> str:
    """The e-mail body: the sentence, the categories, what typical means, the policy, attribution, links."""
    lines = [digest.sentence(), ""]
    if categories:
        lines += [f"You asked about: {', '.join(categories)}.", ""]
    lines += [*digest.details(), "", TYPICAL_MEANS, "",
              f"How figures are protected before publication: {policy.describe()}.", ""]
    if page_url:
        lines += [f"More about your area: {page_url}", ""]
    lines += [ATTRIBUTION["text"], ATTRIBUTION["licence_url"]]
    if unsubscribe_url:
        lines += ["", f"To stop these e-mails: {unsubscribe_url}"]
    return "\n".join(lines) + "\n"
