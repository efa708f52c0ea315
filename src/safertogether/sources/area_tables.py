"""Tables about areas: the LSOA -> MSOA -> local authority -> force lookup, and population.

Both come as ONS-style CSVs whose headers vary between releases; columns are found by meaning.
"""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from safertogether.errors import InputFormatError
from safertogether.model.forces import force_id
from safertogether.sources.text import decode_csv_bytes, normalise_column

LOOKUP_EXPECTED = "a CSV with LSOA, MSOA, local authority and police force columns"
POPULATION_EXPECTED = "a CSV with an LSOA code column and a persons (usual residents) column"

_LOOKUP_COLUMNS = {
    "lsoa_code": ("lsoa_code", "lsoa11cd", "lsoa21cd"),
    "lsoa_name": ("lsoa_name", "lsoa11nm", "lsoa21nm"),
    "msoa_code": ("msoa_code", "msoa11cd", "msoa21cd"),
    "msoa_name": ("msoa_name", "msoa11nm", "msoa21nm"),
    "lad_code": ("local_authority_code", "lad_code", "lad11cd", "lad21cd", "lad22cd", "ladcd"),
    "lad_name": ("local_authority_name", "lad_name", "lad11nm", "lad21nm", "lad22nm", "ladnm"),
    "region_code": ("region_code", "rgn11cd", "rgn21cd"),
    "region_name": ("region_name", "rgn11nm", "rgn21nm"),
    "force": ("police_force", "pfa_name", "pfa11nm", "pfa21nm", "pfa22nm", "force"),
}


def _read_all_strings(path: str | Path, expected: str) -> pa.Table:
    data = Path(path).read_bytes() if Path(path).is_file() else None
    if data is None:
        raise InputFormatError(f"{path}: no such file; expected {expected}")
    decoded = decode_csv_bytes(data, str(path), expected)
    try:
        table = pacsv.read_csv(
            io.BytesIO(decoded.utf8),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=False, auto_dict_encode=False),
            read_options=pacsv.ReadOptions(autogenerate_column_names=False),
        )
    except pa.ArrowInvalid as exc:
        raise InputFormatError(f"{path}: cannot be parsed as CSV ({exc}); expected {expected}") from exc
    names = [normalise_column(n) or f"column_{i}" for i, n in enumerate(table.column_names)]
    return table.rename_columns(_deduplicate(names))


def _deduplicate(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _find(table: pa.Table, candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in table.column_names), None)


def read_area_lookup(path: str | Path) -> pa.Table:
    """LSOA -> MSOA -> local authority -> region -> force, one row per LSOA.

    Where the force is blank (the ONS lookup leaves some LSOAs without one), it is inferred from the
    force of the other LSOAs in the same local authority and ``force_inferred`` is set.
    """
    table = _read_all_strings(path, LOOKUP_EXPECTED)
    found = {k: _find(table, v) for k, v in _LOOKUP_COLUMNS.items()}
    missing = [k for k in ("lsoa_code", "lad_code", "force") if found[k] is None]
    if missing:
        raise InputFormatError(f"{path}: no column for {missing}; expected {LOOKUP_EXPECTED}")
    columns = {k: (table.column(c).cast(pa.string()) if c else pa.nulls(table.num_rows, pa.string()))
               for k, c in found.items()}
    forces = columns.pop("force").to_pylist()
    ids = {name: force_id(name) if name.strip() else None for name in set(forces)}
    columns["force_id"] = pa.array([ids[f] for f in forces], pa.string())
    db = duckdb.connect()
    db.register("lookup", pa.table(columns))
    resolved = db.sql(
        """WITH la_force AS (
               SELECT lad_code, mode(force_id) AS force_id FROM lookup
               WHERE force_id IS NOT NULL GROUP BY lad_code)
           SELECT DISTINCT l.lsoa_code, l.lsoa_name, l.msoa_code, l.msoa_name, l.lad_code,
                  l.lad_name, l.region_code, l.region_name, coalesce(l.force_id, a.force_id) AS force_id,
                  l.force_id IS NULL AND a.force_id IS NOT NULL AS force_inferred
           FROM lookup l LEFT JOIN la_force a USING (lad_code)
           WHERE l.lsoa_code <> ''
           ORDER BY l.lsoa_code"""
    ).to_arrow_table()
    db.register("resolved", resolved)
    _refuse_conflicts(db, "resolved", str(path))
    return resolved


def read_population(path: str | Path) -> pa.Table:
    """Usual residents (and households, hectares where given) per LSOA; thousands separators allowed."""
    table = _read_all_strings(path, POPULATION_EXPECTED)
    code = _find(table, ("lsoa_code", "lsoa11cd", "lsoa21cd", "code"))
    persons = _find(table, ("persons", "all_persons", "usual_residents", "population", "all_ages"))
    if code is None or persons is None:
        raise InputFormatError(f"{path}: no LSOA code or persons column; expected {POPULATION_EXPECTED}")
    households = _find(table, ("households",))
    hectares = _find(table, ("hectares",))
    db = duckdb.connect()
    db.register("population", table)

    def number(column: str | None, kind: str) -> str:
        return f"try_cast(replace(CAST({column} AS VARCHAR), ',', '') AS {kind})" if column else "NULL"

    db.execute(
        f"""CREATE TABLE parsed AS
            SELECT DISTINCT CAST({code} AS VARCHAR) AS lsoa_code, CAST({persons} AS VARCHAR) AS persons_text,
                   {number(persons, 'BIGINT')} AS persons, {number(households, 'BIGINT')} AS households,
                   {number(hectares, 'DOUBLE')} AS hectares
            FROM population WHERE CAST({code} AS VARCHAR) <> ''"""
    )
    unreadable = db.sql("SELECT lsoa_code, persons_text FROM parsed WHERE persons IS NULL LIMIT 5").fetchall()
    if unreadable:
        shown = ", ".join(f"{c}: '{t}'" for c, t in unreadable)
        raise InputFormatError(f"{path}: residents that are not numbers ({shown}); fix them, nothing was stored")
    _refuse_conflicts(db, "parsed", str(path))
    return db.sql("SELECT lsoa_code, persons, households, hectares FROM parsed ORDER BY 1").to_arrow_table()


def _refuse_conflicts(db: duckdb.DuckDBPyConnection, table: str, name: str) -> None:
    """An LSOA given twice with different values is ambiguous: refuse rather than pick one."""
    twice = [r[0] for r in db.sql(
        f"SELECT lsoa_code FROM {table} GROUP BY lsoa_code HAVING count(*) > 1 ORDER BY 1 LIMIT 5").fetchall()]
    if twice:
        raise InputFormatError(
            f"{name}: LSOAs listed twice with different values ({', '.join(twice)}); fix them, nothing was stored"
        )
