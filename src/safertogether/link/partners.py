"""Partners' person records, from the warehouse into the linkage engine, cleaned and taken apart.

Each record is known by its key, ``agency:record_id``: stable across imports (an agency's own
reference), so that the person id a record was given survives relinking. Names lose case, accents'
neighbours (punctuation) and spacing; dates of birth become text (``YYYY-MM-DD``) with their parts;
addresses are taken apart by :mod:`safertogether.link.addresses`.

A forename also gets the full names it may stand for (``bill`` -> ``william``), from the ``nicknames``
package: Carlton Northern's hand-curated list of English names and their diminutives (Apache-2.0,
maintained, used in record linkage elsewhere), chosen because it is independent of the synthetic
generator's own short list, so the measured figures do not flatter the linker.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Final

import duckdb

from safertogether.errors import MissingDataError
from safertogether.link.addresses import address_parts_sql, street_parts_sql
from safertogether.link.records import RecordSet

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

#: The table of person records a partner import fills (see safertogether.model.records.PersonRecord).
SOURCE_TABLE: Final = "person_records"
#: The columns read from the warehouse: the linker needs nothing else (never the role or the incident).
SOURCE_COLUMNS: Final = ("record_id", "agency", "forename", "surname", "date_of_birth", "sex", "address",
                         "postcode", "recorded_on")


def record_key_sql(alias: str = "", reference: str = "record_id") -> str:
    """SQL for a record's key, ``agency:reference`` (``reference`` is ``incident_ref`` for incidents)."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}agency || ':' || {prefix}{reference}"
#: The linking connection's DuckDB settings. Row order is never relied on (Splink sorts what it needs), and
#: not keeping it lets big joins and inserts stream; the memory limit makes DuckDB spill to disk rather than
#: grow (unbounded, a million records peaked at 4.2 GB, measured by bench/partner_linkage.py).
LINKING_CONFIG: Final = {"preserve_insertion_order": False, "memory_limit": "1536MB"}


@functools.cache
def _spill_directory() -> str:
    """A spill folder of this process's own: two linkage runs at once must not share DuckDB's temporary files."""
    return tempfile.mkdtemp(prefix="safer-linking-")


def _name(column: str) -> str:
    """Lower case letters, hyphen and single spaces; NULL when nothing is left.

    A name of letters alone (nine in ten) is only lowered: one match instead of two replaces, the same
    result (0.5 s of CPU less at a million records).
    """
    letters = f"regexp_replace(lower({column}), '[^a-z -]', '', 'g')"
    cleaned = f"nullif(trim(regexp_replace({letters}, '\\s*-\\s*|\\s+', ' ', 'g')), '')"
    return f"CASE WHEN regexp_full_match({column}, '[A-Za-z]+') THEN lower({column}) ELSE {cleaned} END"


def forename_equivalents_sql() -> str:
    """SQL giving (name, full_names): each nickname of the ``nicknames`` list with the names it shortens."""
    path = str(files("nicknames").joinpath("names.csv")).replace("'", "''")
    return f"""
        SELECT lower(trim(name2)) AS name, list_sort(list(DISTINCT lower(trim(name1)))) AS full_names
        FROM read_csv('{path}', header = true, all_varchar = true)
        WHERE relationship = 'has_nickname' GROUP BY 1"""


@functools.cache
def forename_equivalents() -> dict[str, tuple[str, ...]]:
    """:func:`forename_equivalents_sql` in Python: each nickname -> the full names it shortens (for one query)."""
    import csv

    found: dict[str, set[str]] = {}
    with files("nicknames").joinpath("names.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["relationship"] == "has_nickname":
                found.setdefault(row["name2"].strip().lower(), set()).add(row["name1"].strip().lower())
    return {name: tuple(sorted(full)) for name, full in found.items()}


def person_input_sql(source: str, equivalents: str | None = None) -> str:
    """SQL over ``source`` (rows of :data:`SOURCE_COLUMNS`) giving one linkage row per person record.

    ``equivalents``: a table or subquery of (name, full_names) as :func:`forename_equivalents_sql` gives;
    that query itself (a 2,700-line CSV read, a few ms) if not given.
    """
    equivalents = equivalents or f"({forename_equivalents_sql()})"
    address = address_parts_sql("address")
    street = street_parts_sql("address_line")
    return f"""
        WITH cleaned AS (
            SELECT {record_key_sql()} AS unique_id, agency,
                   {_name('forename')} AS forename, {_name('surname')} AS surname,
                   strftime(date_of_birth, '%Y-%m-%d') AS date_of_birth,
                   nullif(lower(trim(sex)), '') AS sex,
                   nullif(regexp_replace(upper(postcode), '[^A-Z0-9]', '', 'g'), '') AS postcode,
                   {address['address_line']} AS address_line, {address['town']} AS town,
                   recorded_on
            FROM {source})
        SELECT unique_id, agency, forename,
               -- The forename and every full name it may be short for: Bill and William share "william".
               CASE WHEN forename IS NOT NULL THEN list_distinct(list_prepend(forename, coalesce(e.full_names, [])))
               END AS forename_names,
               left(forename, 1) AS forename_initial, surname, left(surname, 1) AS surname_initial,
               -- The last word of a surname (Patel of "Smith Patel"): a married name often keeps one part.
               regexp_extract(surname, '([a-z]+)$', 1) AS surname_last,
               regexp_extract(surname, '^([a-z]+)', 1) AS surname_first,
               date_of_birth, substr(date_of_birth, 1, 4) AS dob_year, substr(date_of_birth, 6, 2) AS dob_month,
               substr(date_of_birth, 9, 2) AS dob_day, sex, postcode,
               -- The outward code's district (LE8 of LE8 4AA): where a move within the county often stays.
               CASE WHEN length(postcode) >= 5 THEN left(postcode, length(postcode) - 3) END AS postcode_district,
               {street['house']} AS house, {street['flat']} AS flat, {street['street']} AS street, town,
               recorded_on
        FROM cleaned LEFT JOIN {equivalents} e ON e.name = cleaned.forename"""


def load_person_records(warehouse: Warehouse, connection: duckdb.DuckDBPyConnection | None = None) -> RecordSet:
    """Every person record in the warehouse, prepared in a DuckDB connection of its own for Splink.

    The records travel as one Arrow table (a million records are ~100 MB), so the warehouse may be any
    engine behind the store's seam, and linking never holds the warehouse's write lock.
    """
    warehouse.require(SOURCE_TABLE, "person records", "safer import partner MAPPING.yaml")
    rows = warehouse.query_arrow(f"SELECT {', '.join(SOURCE_COLUMNS)} FROM {SOURCE_TABLE}")
    connection = connection or duckdb.connect(config={**LINKING_CONFIG, "temp_directory": _spill_directory()})
    connection.execute("SET enable_progress_bar = false")
    connection.register("raw_people", rows)
    connection.execute(f"CREATE OR REPLACE TABLE people AS {person_input_sql('raw_people')}")
    connection.unregister("raw_people")
    return RecordSet("partners", connection, ("people",), None)


def attach_truth(records: RecordSet, truth_dir: Path) -> RecordSet:
    """The record set with the generator's truth (who each record really is) for measuring, never for linking.

    ``truth_dir`` is the ``truth/`` folder ``safer synth partners`` wrote; records it does not know
    (imported from elsewhere) are left out of the measure, and counted by the caller if it wishes.
    """
    path = truth_dir / "records.parquet"
    if not path.is_file():
        raise MissingDataError(f"{truth_dir}: no records.parquet here; give the truth folder that "
                               "`safer synth partners --out DIR` wrote (DIR/truth)")
    records.connection.execute(f"""
        CREATE OR REPLACE TABLE truth AS
        SELECT p.unique_id, CAST(t.person_id AS VARCHAR) AS entity, 'people' AS source
        FROM read_parquet(?) t JOIN {records.tables[0]} p ON p.unique_id = t.agency || ':' || t.record_id
        WHERE t.target = '{SOURCE_TABLE}'""", [str(path)])
    return replace(records, truth_table="truth")
