"""Area boundaries from GeoJSON, shapefile or GeoPackage (anything GDAL reads), in WGS84."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import pyproj
import shapely

from safertogether.errors import InputFormatError

EXPECTED = "a GeoJSON, shapefile or GeoPackage of area polygons with a code field such as LSOA11CD"

_CODE_FIELD = re.compile(r"^(lsoa|msoa|lad|lau|ward|wd|oa)\d{0,2}cd$|^code$|^(lsoa|area)_?code$", re.I)
_NAME_FIELD = re.compile(r"^(lsoa|msoa|lad|lau|ward|wd|oa)\d{0,2}nm$|^name$|^(lsoa|area)_?name$", re.I)


@dataclass
class Boundaries:
    """Polygons in EPSG:4326 with their area codes and names."""

    codes: list[str]
    names: list[str]
    geometries: np.ndarray
    level: str
    source: str


def read_boundaries(path: str | Path, code_field: str | None = None, name_field: str | None = None) -> Boundaries:
    """Read polygons and pick the code and name fields (``LSOA11CD``/``LSOA11NM`` and the like)."""
    try:
        info = pyogrio.read_info(path)
    except Exception as exc:  # GDAL raises its own error types for every unreadable input
        raise InputFormatError(f"{path}: cannot be read as a boundary file ({exc}); expected {EXPECTED}") from exc
    fields = [str(f) for f in info["fields"]]
    code = code_field or _pick(fields, _CODE_FIELD, "code", path)
    name = name_field or next((f for f in fields if _NAME_FIELD.match(f)), code)
    if code not in fields or name not in fields:
        raise InputFormatError(f"{path}: no field '{code if code not in fields else name}' among {fields}")
    _meta, table = pyogrio.read_arrow(path, columns=list(dict.fromkeys([code, name])))
    geometry_column = [c for c in table.column_names if c not in (code, name)][0]
    geometries = shapely.from_wkb(table.column(geometry_column).to_numpy(zero_copy_only=False))
    codes = table.column(code).to_pylist()
    if any(c in (None, "") for c in codes) or any(g is None for g in geometries):
        raise InputFormatError(f"{path}: some features have no {code} or no geometry; fix them and try again")
    codes, names, geometries = _one_per_code(codes, table.column(name).to_pylist(), geometries)
    return Boundaries(
        codes=codes,
        names=names,
        geometries=_to_wgs84(geometries, info.get("crs")),
        level=_level_of(code),
        source=str(path),
    )


def _one_per_code(codes: list[object], names: list[object], geometries: np.ndarray
                  ) -> tuple[list[str], list[str], np.ndarray]:
    """Features sharing a code (an area drawn in several parts) become one multi-part geometry."""
    if len(set(codes)) == len(codes):
        return [str(c) for c in codes], [str(n) for n in names], geometries
    order = list(dict.fromkeys(codes))
    first_name = {c: n for c, n in reversed(list(zip(codes, names, strict=True)))}
    merged = [shapely.union_all(geometries[[i for i, c in enumerate(codes) if c == code]]) for code in order]
    return [str(c) for c in order], [str(first_name[c]) for c in order], np.array(merged, dtype=object)


def _pick(fields: list[str], pattern: re.Pattern[str], what: str, path: str | Path) -> str:
    for field in fields:
        if pattern.match(field):
            return field
    raise InputFormatError(
        f"{path}: no {what} field among {fields}; pass --code-field to name it; expected {EXPECTED}"
    )


def _level_of(code_field: str) -> str:
    prefix = re.match(r"[a-z]+", code_field.lower())
    level = prefix.group(0) if prefix else "area"
    return level if level in {"lsoa", "msoa", "lad", "ward", "oa"} else "area"


def _to_wgs84(geometries: np.ndarray, crs: str | None) -> np.ndarray:
    if not crs or pyproj.CRS.from_user_input(crs).equals(pyproj.CRS.from_epsg(4326)):
        return geometries
    transformer = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    return shapely.transform(geometries, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
