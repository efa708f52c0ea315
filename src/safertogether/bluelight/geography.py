"""LSOAs as the planning models see them: a centroid in British National Grid metres, residents, density.

Read from the boundary file (any format GDAL reads, with the ONS ``BNG_E``/``BNG_N`` centroid fields
where present) and the Census population table, the same two files the spine imports. Density
(residents per hectare) is what tells an urban street network from a rural one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

from safertogether.errors import InputFormatError
from safertogether.sources.area_tables import read_population
from safertogether.sources.boundaries import read_boundaries

BNG = "EPSG:27700"


@dataclass
class LsoaGeography:
    """One row per LSOA (index: code): easting, northing, persons, hectares, density; polygons in BNG."""

    table: pd.DataFrame
    polygons: np.ndarray

    @property
    def centroids(self) -> pd.DataFrame:
        return self.table[["easting", "northing"]]


def to_bng(longitude: np.ndarray, latitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 degrees -> British National Grid metres."""
    return Transformer.from_crs("EPSG:4326", BNG, always_xy=True).transform(longitude, latitude)  # type: ignore[no-any-return]


def to_wgs84(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """British National Grid metres -> WGS84 longitude, latitude."""
    return Transformer.from_crs(BNG, "EPSG:4326", always_xy=True).transform(easting, northing)  # type: ignore[no-any-return]


def read_lsoa_geography(boundaries: str | Path, population: str | Path) -> LsoaGeography:
    """LSOA centroids, polygons (BNG) and density from a boundary file and a population table."""
    shapes = read_boundaries(boundaries)
    polygons = shapely.transform(shapes.geometries, lambda xy: np.column_stack(to_bng(xy[:, 0], xy[:, 1])))
    easting, northing = _published_centroids(boundaries, shapes.codes)
    if easting is None:
        points = shapely.point_on_surface(polygons)
        easting, northing = shapely.get_x(points), shapely.get_y(points)
    table = pd.DataFrame({"easting": easting, "northing": northing}, index=pd.Index(shapes.codes, name="lsoa"))
    people = read_population(population).to_pandas().set_index("lsoa_code")
    table = table.join(people[["persons", "hectares"]], how="left")
    table["hectares"] = table["hectares"].fillna(pd.Series(shapely.area(polygons) / 1e4, index=table.index))
    table["persons"] = table["persons"].fillna(0).astype(float)
    table["density"] = table["persons"] / table["hectares"].clip(lower=0.01)
    return LsoaGeography(table, polygons)


def _published_centroids(path: str | Path, codes: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The boundary file's own BNG centroid fields (ONS's population-weighted-ish BNG_E/BNG_N), if any."""
    fields = [str(f) for f in pyogrio.read_info(path)["fields"]]
    if not {"BNG_E", "BNG_N"} <= set(fields):
        return None, None
    code = next(f for f in fields if f.upper().endswith("CD"))
    _meta, table = pyogrio.read_arrow(path, columns=[code, "BNG_E", "BNG_N"], read_geometry=False)
    frame = table.to_pandas().drop_duplicates(code).set_index(code).reindex(codes)
    if frame[["BNG_E", "BNG_N"]].isna().any().any():
        raise InputFormatError(f"{path}: some areas have no BNG_E/BNG_N; remove the fields to use polygon centres")
    return frame["BNG_E"].to_numpy(float), frame["BNG_N"].to_numpy(float)
