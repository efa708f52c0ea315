"""The area hierarchy (LSOA -> MSOA -> local authority -> force) and finding areas as residents name them."""

from __future__ import annotations

import re
from typing import Any, Final

from safertogether.areas.places import towns_named
from safertogether.errors import BadRequestError, NotFoundError
from safertogether.model.forces import force_name
from safertogether.store.warehouse import Warehouse

LEVELS: Final = ("lsoa", "msoa", "lad", "force")
LEVEL_NAMES: Final = {"lsoa": "neighbourhood (LSOA)", "msoa": "MSOA", "lad": "local authority", "force": "police force"}

# LSOAs as police.uk files name them: the code and name their rows give, and the force that published
# most of their crimes (ties go to the first force id), so that crimes alone make areas.
CRIME_LSOAS_SQL: Final = """
    SELECT code, min(name) AS name, first(force_id ORDER BY crimes DESC, force_id) AS force_id
    FROM (SELECT lsoa_code AS code, min(lsoa_name) AS name, force_id, count(*) AS crimes FROM street_crimes
          WHERE nullif(lsoa_code, '') IS NOT NULL GROUP BY lsoa_code, force_id)
    GROUP BY code
"""

# One row per area at every level below force. An LSOA's name, parents and force come from the ONS lookup;
# one the lookup does not list takes its name from the boundaries, else from the police.uk files, and its
# force from the files (a force's stray crimes do not move an LSOA the lookup places elsewhere).
# Materialised, with forces and populations, as the ``areas`` table by :func:`refresh_areas`.
_LSOA_AREAS_SQL: Final = """
    SELECT lsoa_code AS code, lsoa_name AS name, 'lsoa' AS level, msoa_code AS parent, force_id FROM lsoa_lookup
    UNION ALL
    SELECT s.code, s.name, 'lsoa', NULL, c.force_id FROM area_shapes s LEFT JOIN crime_lsoas c USING (code)
        WHERE s.level = 'lsoa' AND s.code NOT IN (SELECT lsoa_code FROM lsoa_lookup)
    UNION ALL
    SELECT code, name, 'lsoa', NULL, force_id FROM crime_lsoas
        WHERE code NOT IN (SELECT lsoa_code FROM lsoa_lookup)
          AND code NOT IN (SELECT code FROM area_shapes WHERE level = 'lsoa')
"""

AREAS_SQL: Final = _LSOA_AREAS_SQL + """    UNION ALL
    SELECT msoa_code, any_value(msoa_name), 'msoa', any_value(lad_code), any_value(force_id) FROM lsoa_lookup
        WHERE msoa_code <> '' GROUP BY msoa_code
    UNION ALL
    SELECT lad_code, any_value(lad_name), 'lad', mode(force_id), mode(force_id) FROM lsoa_lookup
        WHERE lad_code <> '' GROUP BY lad_code
"""

# Every area below force with its residents (NULL where no population covers it).
_AREA_ROWS_SQL: Final = f"""
    WITH base AS ({AREAS_SQL}),
         lsoa_population AS (
             SELECT l.lsoa_code, l.msoa_code, l.lad_code, p.persons
             FROM lsoa_lookup l JOIN population p USING (lsoa_code)),
         totals AS (
             SELECT 'lsoa' AS level, lsoa_code AS code, sum(persons) AS population FROM population GROUP BY 2
             UNION ALL SELECT 'msoa', msoa_code, sum(persons) FROM lsoa_population GROUP BY 2
             UNION ALL SELECT 'lad', lad_code, sum(persons) FROM lsoa_population GROUP BY 2)
    SELECT b.*, t.population::BIGINT AS population FROM base b LEFT JOIN totals t USING (level, code)
"""

#: For an area at each level, the condition on ``monthly_counts`` (alias m) that selects its crimes.
MEMBER_CONDITION: Final = {
    "lsoa": "m.lsoa = $code",
    "msoa": "m.lsoa IN (SELECT lsoa_code FROM lsoa_lookup WHERE msoa_code = $code)",
    "lad": "m.lsoa IN (SELECT lsoa_code FROM lsoa_lookup WHERE lad_code = $code)",
    "force": "m.force_id = $code",
}

_CODE = re.compile(r"^[A-Za-z0-9-]{1,40}$")


def area(warehouse: Warehouse, code: str) -> dict[str, Any]:
    """An area with its level, its parents up to the force, and its resident population."""
    if not _CODE.match(code):
        raise BadRequestError(f"'{code[:60]}' is not an area code; use an ONS code such as E01025631 or a force id")
    return warehouse.memo(_AREA_INDEX, AreaIndex).area(code)


def area_index_ready(warehouse: Warehouse) -> bool:
    """Whether the areas are in memory for the current contents (so :func:`area` needs no I/O)."""
    return warehouse.memo_ready(_AREA_INDEX)


_AREA_INDEX = "area index"


class AreaIndex:
    """Every area and the LSOA lookup in memory: an area is asked for on every request.

    A code that names an area at two levels (a force id that is also a name) is taken below force.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self._areas: dict[str, dict[str, Any]] = {}
        self.population: dict[tuple[str, str], int] = {}
        for row in warehouse.query_arrow(
                "SELECT code, name, level, parent, force_id, population FROM areas "
                "ORDER BY level = 'force', code").to_pylist():
            self._areas.setdefault(row["code"], row)
            if row["population"] is not None:
                self.population[(row["level"], row["code"])] = row["population"]
        self._lsoa_parents: dict[str, list[dict[str, str]]] = {}
        self._msoa_parent: dict[str, dict[str, str]] = {}
        for row in warehouse.query_arrow(
                "SELECT lsoa_code, msoa_code, msoa_name, lad_code, lad_name FROM lsoa_lookup").to_pylist():
            msoa = {"code": row["msoa_code"], "name": row["msoa_name"], "level": "msoa"}
            lad = {"code": row["lad_code"], "name": row["lad_name"], "level": "lad"}
            self._lsoa_parents[row["lsoa_code"]] = [msoa, lad]
            self._msoa_parent.setdefault(row["msoa_code"], lad)

    def area(self, code: str) -> dict[str, Any]:
        row = self._areas.get(code)
        if row is None:
            raise NotFoundError(f"no area with code '{code}'; search with /api/areas?q=... or `safer areas NAME`")
        found = dict(row)
        if found["level"] == "force":
            found["name"] = force_name(found["code"])
        found["parents"] = self._parents(found)
        found["level_name"] = LEVEL_NAMES[found["level"]]
        return found

    def _parents(self, found: dict[str, Any]) -> list[dict[str, str]]:
        parents: list[dict[str, str]] = []
        if found["level"] == "lsoa":
            parents += [dict(p) for p in self._lsoa_parents.get(found["code"], [])]
        elif found["level"] == "msoa" and found["code"] in self._msoa_parent:
            parents.append(dict(self._msoa_parent[found["code"]]))
        if found["level"] != "force" and found.get("force_id"):
            parents.append({"code": found["force_id"], "name": force_name(found["force_id"]), "level": "force"})
        return parents


def population(warehouse: Warehouse, level: str, code: str) -> int | None:
    """Usual residents (Census) of an area, or None when no population has been imported for it."""
    return warehouse.memo(_AREA_INDEX, AreaIndex).population.get((level, code))


def refresh_areas(warehouse: Warehouse) -> None:
    """Rebuild the ``areas`` table: every area at every level with its resident population."""
    refresh_crime_lsoas(warehouse)
    warehouse.execute(f"CREATE OR REPLACE TABLE areas AS {_AREA_ROWS_SQL}")
    refresh_force_areas(warehouse)


def refresh_crime_lsoas(warehouse: Warehouse) -> None:
    """Rebuild ``crime_lsoas``, the LSOAs named in the street crimes (see :data:`CRIME_LSOAS_SQL`)."""
    warehouse.execute("DELETE FROM crime_lsoas")
    warehouse.execute(f"INSERT INTO crime_lsoas {CRIME_LSOAS_SQL}")


def refresh_crime_areas(warehouse: Warehouse) -> None:
    """Bring ``areas`` up to date after importing crimes: the LSOAs they name, and the forces.

    Only LSOAs named in the crimes before or after the import, and not listed by the lookup, can change,
    so only their rows are rebuilt: none, or a few hundred per force, instead of every LSOA of the country.
    """
    with warehouse.pinned():  # the working table belongs to one session
        warehouse.execute("CREATE OR REPLACE TEMP TABLE touched_lsoas AS SELECT code FROM crime_lsoas")
        refresh_crime_lsoas(warehouse)
        warehouse.execute("INSERT INTO touched_lsoas SELECT code FROM crime_lsoas")
        # An LSOA the lookup lists takes nothing from the crimes: with the lookup imported, usually none is left.
        warehouse.execute("DELETE FROM touched_lsoas WHERE code IN (SELECT lsoa_code FROM lsoa_lookup)")
        if warehouse.has_rows("touched_lsoas"):
            _rebuild_touched_lsoas(warehouse)
        warehouse.execute("DROP TABLE touched_lsoas")
    refresh_force_areas(warehouse)


def _rebuild_touched_lsoas(warehouse: Warehouse) -> None:
    warehouse.execute("DELETE FROM areas WHERE level = 'lsoa' AND code IN (SELECT code FROM touched_lsoas)")
    warehouse.execute(  # the LSOA rows alone: the other levels and their totals are not needed (45 ms)
        f"""INSERT INTO areas SELECT b.*, p.persons::BIGINT AS population FROM ({_LSOA_AREAS_SQL}) b
            LEFT JOIN population p ON p.lsoa_code = b.code WHERE b.code IN (SELECT code FROM touched_lsoas)""")


def areas_below_force_missing(warehouse: Warehouse) -> bool:
    """Whether ``areas`` lacks the LSOAs and their parents that the lookup or the boundaries give.

    True only of a warehouse whose ``areas`` was never built from them (made before the table existed).
    """
    return bool(warehouse.scalar(
        """SELECT NOT EXISTS (SELECT 1 FROM areas WHERE level <> 'force')
                  AND (EXISTS (SELECT 1 FROM lsoa_lookup)
                       OR EXISTS (SELECT 1 FROM area_shapes WHERE level = 'lsoa'))"""))


def refresh_force_areas(warehouse: Warehouse) -> None:
    """Rebuild only the force rows of ``areas``: all that importing crimes can change there.

    Cheaper than :func:`refresh_areas` (a few rows, not every LSOA of the country again).
    """
    warehouse.execute("DELETE FROM areas WHERE level = 'force'")
    warehouse.execute(
        """INSERT INTO areas
           SELECT f.force_id, f.force_id, 'force', NULL, f.force_id, p.population::BIGINT
           FROM (SELECT DISTINCT force_id FROM force_months) f LEFT JOIN (
               SELECT l.force_id, sum(p.persons) AS population FROM lsoa_lookup l JOIN population p USING (lsoa_code)
               WHERE l.force_id IS NOT NULL GROUP BY 1) p USING (force_id)"""
    )


def search_areas(warehouse: Warehouse, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Areas matching a code, an area or local-authority name, a town, or a street in police.uk locations.

    Exact codes and names come first, then towns (the area holding the town's centre), then names
    that start with the text, then other name matches, then neighbourhoods containing a matching street.
    """
    query = text.strip()
    if not query:
        return []
    ranked = warehouse.query(_SEARCH_SQL, {"q": query, "limit": limit})
    towns = [{**town, "rank": 1.5} for town in towns_named(warehouse, query)]
    merged = sorted(ranked + towns, key=lambda r: r["rank"])  # stable: the SQL's order within a rank
    results, listed = [], set()
    for row in merged:
        if (row["code"], row["level"]) not in listed:
            listed.add((row["code"], row["level"]))
            results.append({k: row[k] for k in ("code", "name", "level", "force_id", "matched")})
    return results[:limit]


_SEARCH_SQL: Final = """
    WITH by_name AS (
        SELECT code, name, level, force_id, NULL AS matched,
               CASE WHEN lower(code) = lower($q) THEN 0
                    WHEN lower(name) = lower($q) THEN 1
                    WHEN starts_with(lower(name), lower($q)) THEN 2 ELSE 3 END AS rank
        FROM areas WHERE lower(code) = lower($q) OR contains(lower(name), lower($q))),
    by_street AS (
        SELECT s.lsoa AS code, a.name, 'lsoa' AS level, a.force_id, s.street AS matched,
               4 + (NOT starts_with(lower(s.street), lower($q)))::INT AS rank
        FROM street_index s JOIN areas a ON a.code = s.lsoa AND a.level = 'lsoa'
        WHERE contains(lower(s.street), lower($q)))
    SELECT code, name, level, force_id, matched, rank FROM (
        SELECT *, row_number() OVER (PARTITION BY code, level ORDER BY rank, matched NULLS FIRST) AS nth
        FROM (SELECT * FROM by_name UNION ALL SELECT * FROM by_street))
    WHERE nth = 1
    ORDER BY rank, CASE level WHEN 'force' THEN 0 WHEN 'lad' THEN 1 WHEN 'msoa' THEN 2 ELSE 3 END, name, matched
    LIMIT $limit
"""


#: police.uk snap points named after a kind of place rather than a street: useless for finding an area.
NOT_STREETS: Final = (
    "Parking Area", "Supermarket", "Petrol Station", "Sports/recreation Area", "Shopping Area", "Nightclub",
    "Hospital", "Further/higher Educational Building", "Police Station", "Conference/exhibition Centre",
    "Theatre/concert Hall", "Park/open Space", "Pedestrian Subway", "",
)


def refresh_street_index(warehouse: Warehouse) -> None:
    """Street names per LSOA from police.uk's ``Location`` ("On or near Hobill Close" -> "Hobill Close")."""
    warehouse.execute(
        # Grouping before cutting the prefix, and NOT IN a set, take a third of the time of the plain way.
        """CREATE OR REPLACE TABLE street_index AS
           SELECT lsoa, location[12:] AS street, count(*) AS crimes FROM street_crimes
           WHERE lsoa IS NOT NULL AND starts_with(location, 'On or near ')
           GROUP BY lsoa, location HAVING street NOT IN (SELECT unnest($not_streets))""",
        {"not_streets": list(NOT_STREETS)},
    )
