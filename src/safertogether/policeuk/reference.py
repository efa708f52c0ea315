"""Reference answers: forces, crime and outcome categories, available months, and what we cannot serve."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from safertogether.errors import MissingDataError, NotFoundError
from safertogether.model.categories import CRIME_TYPE_SLUGS, LEGACY_CRIME_TYPE_SLUGS, crime_type_slug
from safertogether.model.forces import FORCE_NAMES
from safertogether.store.warehouse import Warehouse

#: crime-categories as data.police.uk lists them (names are the bulk ``Crime type`` text).
CATEGORY_NAMES: Final[dict[str, str]] = {"all-crime": "All crime"} | {
    slug: name
    for name, slug in sorted(CRIME_TYPE_SLUGS.items(), key=lambda kv: (kv[1] == "other-crime", kv[1]))
}

#: Outcome code -> the name the API shows.
OUTCOME_NAMES: Final[dict[str, str]] = {
    "awaiting-court-result": "Awaiting court outcome",
    "court-result-unavailable": "Court result unavailable",
    "unable-to-proceed": "Court case unable to proceed",
    "local-resolution": "Local resolution",
    "no-further-action": "Investigation complete; no suspect identified",
    "deprived-of-property": "Offender deprived of property",
    "fined": "Offender fined",
    "absolute-discharge": "Offender given absolute discharge",
    "cautioned": "Offender given a caution",
    "drugs-possession-warning": "Offender given a drugs possession warning",
    "penalty-notice-issued": "Offender given a penalty notice",
    "community-penalty": "Offender given community sentence",
    "conditional-discharge": "Offender given conditional discharge",
    "suspended-sentence": "Offender given suspended prison sentence",
    "imprisoned": "Offender sent to prison",
    "other-court-disposal": "Offender otherwise dealt with",
    "compensation": "Offender ordered to pay compensation",
    "sentenced-in-another-case": "Suspect charged as part of another case",
    "charged": "Suspect charged",
    "not-guilty": "Defendant found not guilty",
    "sent-to-crown-court": "Defendant sent to Crown Court",
    "unable-to-prosecute": "Unable to prosecute suspect",
    "formal-action-not-in-public-interest": "Formal action is not in the public interest",
    "action-taken-by-another-organisation": "Action to be taken by another organisation",
    "further-investigation-not-in-public-interest": "Further investigation is not in the public interest",
    "further-action-not-in-public-interest": "Further action is not in the public interest",
    "under-investigation": "Under investigation",
    "status-update-unavailable": "Status update unavailable",
}

#: Bulk-file spellings (current and pre-2014) -> the API's outcome name.
OUTCOME_VARIANTS: Final[dict[str, str]] = {
    "No further action at this time": "Investigation complete; no suspect identified",
    "Offender given penalty notice": "Offender given a penalty notice",
    "Offender given community penalty": "Offender given community sentence",
    "Offender imprisoned": "Offender sent to prison",
    "Offender required to pay compensation": "Offender ordered to pay compensation",
    "Offender sentenced as part of another case": "Suspect charged as part of another case",
    "Suspect found not guilty": "Defendant found not guilty",
    "Suspect sent to Crown Court": "Defendant sent to Crown Court",
}

OUTCOME_CODES: Final[dict[str, str]] = {name: code for code, name in OUTCOME_NAMES.items()}

#: Stop-and-search ``Outcome`` text -> police.uk's ``outcome_object.id``.
STOP_OUTCOME_IDS: Final[dict[str, str]] = {
    "A no further action disposal": "bu-no-further-action",
    "Nothing found - no further action": "bu-no-further-action",
    "Summons / charged by post": "bu-summons",
    "Community resolution": "bu-community-resolution",
    "Arrest": "bu-arrest",
    "Suspect arrested": "bu-arrest",
    "Caution (simple or conditional)": "bu-caution",
    "Penalty Notice for Disorder": "bu-penalty-notice",
    "Khat or Cannabis warning": "bu-khat-or-cannabis-warning",
}

#: ``Crime type`` texts of each slug (legacy texts included), for filtering by category.
SLUG_CRIME_TYPES: Final[dict[str, tuple[str, ...]]] = {}
for _text, _slug in {**CRIME_TYPE_SLUGS, **LEGACY_CRIME_TYPE_SLUGS}.items():
    SLUG_CRIME_TYPES[_slug] = (*SLUG_CRIME_TYPES.get(_slug, ()), _text)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _case(expr: str, mapping: dict[str, str], otherwise: str) -> str:
    whens = " ".join(f"WHEN {_quote(k)} THEN {_quote(v)}" for k, v in mapping.items())
    return f"(CASE {expr} {whens} ELSE {otherwise} END)"


def slug_sql(expr: str) -> str:
    """SQL for :func:`crime_type_slug` of a ``Crime type`` column."""
    return _case(
        expr,
        {**CRIME_TYPE_SLUGS, **LEGACY_CRIME_TYPE_SLUGS},
        f"lower(regexp_replace(trim({expr}), '\\s+', '-', 'g'))",
    )


def outcome_name_sql(expr: str) -> str:
    """SQL normalising a bulk outcome text to the API's name (empty text -> NULL)."""
    return _case(f"nullif(trim({expr}), '')", OUTCOME_VARIANTS, f"nullif(trim({expr}), '')")


def outcome_code_sql(name_expr: str) -> str:
    """SQL for the outcome code of an API outcome name; unknown names get a slug of their text."""
    return _case(
        name_expr,
        OUTCOME_CODES,
        f"lower(regexp_replace(regexp_replace({name_expr}, '[^A-Za-z0-9]+', '-', 'g'), '^-|-$', '', 'g'))",
    )


def stop_outcome_id_sql(expr: str) -> str:
    """SQL for a stop's ``outcome_object.id``: known ids, else ``bu-`` and a slug of the text, else ``""``."""
    slug = f"lower(regexp_replace(regexp_replace({expr}, '[^A-Za-z0-9]+', '-', 'g'), '^-|-$', '', 'g'))"
    return _case(expr, STOP_OUTCOME_IDS, f"coalesce('bu-' || nullif({slug}, ''), '')")


# --- forces -----------------------------------------------------------------------------------------


def forces() -> list[dict[str, str]]:
    """Every territorial force, by name, without BTP (as data.police.uk lists them)."""
    listed = [{"id": fid, "name": name} for fid, name in FORCE_NAMES.items() if fid != "btp"]
    return sorted(listed, key=lambda f: f["name"])


def check_force(force: str) -> str:
    if force not in FORCE_NAMES:
        raise NotFoundError(f"unknown force {force!r}; GET forces lists the force ids")
    return force


def force(force_id: str) -> dict[str, Any]:
    """A force's details; the bulk files carry only its id and name, so the rest is null or empty."""
    check_force(force_id)
    return {
        "description": None,
        "url": None,
        "engagement_methods": [],
        "telephone": None,
        "id": force_id,
        "name": FORCE_NAMES[force_id],
    }


# --- categories and months -----------------------------------------------------------------------


def latest_month(warehouse: Warehouse) -> dt.date:
    """The newest month loaded (street crimes first): the default ``date`` of every method."""
    for table in ("street_crimes", "stop_searches", "crime_outcomes"):
        month = warehouse.scalar(f"SELECT max(month) FROM {table}")
        if month is not None:
            return month  # type: ignore[no-any-return]
    raise MissingDataError(
        "no police.uk records in the warehouse; import police.uk street, outcomes or "
        "stop-and-search files with `safer import police-uk`"
    )


def crime_categories(warehouse: Warehouse, month: dt.date) -> list[dict[str, str]]:
    """The standard list, plus any other category the loaded files use that month (clients check it)."""
    result = [{"url": slug, "name": name} for slug, name in CATEGORY_NAMES.items()]
    used = warehouse.query(
        "SELECT DISTINCT crime_type FROM street_crimes WHERE month = ? ORDER BY 1", [month]
    )
    for row in used:
        slug = crime_type_slug(row["crime_type"])
        if slug not in CATEGORY_NAMES and all(r["url"] != slug for r in result):
            result.append({"url": slug, "name": row["crime_type"]})
    return result


def category_crime_types(warehouse: Warehouse, slug: str) -> tuple[str, ...] | None:
    """``Crime type`` texts for a category slug; ``None`` for all-crime; 404 for an unknown slug."""
    if slug == "all-crime":
        return None
    if slug in SLUG_CRIME_TYPES:
        return SLUG_CRIME_TYPES[slug]
    texts = tuple(
        r["crime_type"]
        for r in warehouse.query("SELECT DISTINCT crime_type FROM street_crimes")
        if crime_type_slug(r["crime_type"]) == slug
    )
    if not texts:
        raise NotFoundError(f"unknown crime category {slug!r}; GET crime-categories lists them")
    return texts


def street_dates(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Months loaded, newest first, each with the forces that have stop-and-search data that month."""
    rows = warehouse.query(
        """WITH months AS (SELECT DISTINCT month FROM street_crimes
                           UNION SELECT DISTINCT month FROM stop_searches),
                stops AS (SELECT month, list(DISTINCT force_id ORDER BY force_id) AS forces
                          FROM stop_searches GROUP BY month)
           SELECT strftime(m.month, '%Y-%m') AS date, coalesce(s.forces, []) AS forces
           FROM months m LEFT JOIN stops s USING (month) ORDER BY m.month DESC"""
    )
    return [{"date": r["date"], "stop-and-search": list(r["forces"])} for r in rows]


def last_updated(warehouse: Warehouse) -> dict[str, str]:
    return {"date": latest_month(warehouse).strftime("%Y-%m-%d")}


# --- what the bulk files cannot answer -------------------------------------------------------------

NEIGHBOURHOOD_MISSING: Final = (
    "police.uk neighbourhood data (teams, boundaries, officers, events, priorities) is not part of the "
    "police.uk bulk files, and no Safer Together import provides it yet; it is published only by "
    "data.police.uk's neighbourhood methods"
)


def neighbourhood_missing(force_id: str | None = None) -> MissingDataError:
    if force_id is not None:
        check_force(force_id)
    return MissingDataError(NEIGHBOURHOOD_MISSING)


def force_people_missing(force_id: str) -> MissingDataError:
    check_force(force_id)
    return MissingDataError(
        "senior officers of a force are not in the police.uk bulk files, and no "
        "Safer Together import provides them yet"
    )
