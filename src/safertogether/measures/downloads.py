"""An area's (or a force's) crimes for a period as a GIS file: GeoPackage, FlatGeobuf or GeoParquet.

The rows and columns are those of the CSV extract (:mod:`.extracts`), with a point geometry in
EPSG:4326; crimes police.uk publishes without a location keep their row with no geometry. GDAL
(through pyogrio) writes GeoPackage and FlatGeobuf; it has no Parquet driver here, so GeoParquet
comes from GeoPandas. Both load lazily: `safer` starts without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from safertogether.areas.hierarchy import area
from safertogether.errors import BadRequestError
from safertogether.measures.extracts import crimes_extract_query
from safertogether.measures.period import Period, resolve_period
from safertogether.store.warehouse import Warehouse

GisFormat = Literal["gpkg", "fgb", "parquet"]


@dataclass(frozen=True)
class FormatInfo:
    driver: str | None
    media_type: str
    suffix: str


FORMATS: Final[dict[str, FormatInfo]] = {
    "gpkg": FormatInfo("GPKG", "application/geopackage+sqlite3", ".gpkg"),
    "fgb": FormatInfo("FlatGeobuf", "application/vnd.flatgeobuf", ".fgb"),
    "parquet": FormatInfo(None, "application/vnd.apache.parquet", ".parquet"),
}
LAYER: Final = "crimes"


@dataclass(frozen=True)
class Download:
    """What was written: where, how many crimes, for which area and period."""

    path: Path
    rows: int
    place: dict[str, Any]
    period: Period


def download_name(code: str, period: Period, fmt: str) -> str:
    """``crimes-E01000001-2022-04-2023-03.gpkg``: the file name the page and the CLI suggest."""
    return f"crimes-{code}-{period.start:%Y-%m}-{period.end:%Y-%m}{FORMATS[fmt].suffix}"


def write_crimes_download(
    warehouse: Warehouse, code: str, fmt: str, path: Path | None = None,
    month_from: str | None = None, month_to: str | None = None,
) -> Download:
    """Write the crimes of area ``code`` (LSOA, MSOA, local authority or force) in the period to ``path``.

    The period defaults as everywhere else: the latest 12 months the area's force has published.
    ``path`` defaults to :func:`download_name` in the working directory.
    """
    if fmt not in FORMATS:
        raise BadRequestError(f"format='{fmt[:20]}' is not offered; use one of {', '.join(FORMATS)}")
    place = area(warehouse, code)
    period = resolve_period(warehouse, month_from, month_to, force=place.get("force_id"))
    target = Path(path) if path else Path(download_name(place["code"], period, fmt))
    frame = _crimes_frame(warehouse, place, period)
    # Written aside and moved into place: a failed write leaves no half file, and GDAL starts afresh
    # rather than adding a layer to a GeoPackage already there.
    partial = target.with_name(f".{target.name}.partial{FORMATS[fmt].suffix}")  # GDAL goes by the suffix
    partial.unlink(missing_ok=True)
    try:
        _write(frame, partial, fmt)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return Download(target, len(frame), place, period)


def _write(frame: Any, path: Path, fmt: str) -> None:
    driver = FORMATS[fmt].driver
    if driver is None:
        frame.to_parquet(path, index=False)
        return
    import pyogrio

    options = {}
    if driver == "FlatGeobuf" and frame.geometry.isna().any():
        options["SPATIAL_INDEX"] = "NO"  # GDAL's FlatGeobuf index cannot hold rows without a location
    pyogrio.write_dataframe(frame, path, layer=LAYER, driver=driver, layer_options=options)


def _crimes_frame(warehouse: Warehouse, place: dict[str, Any], period: Period) -> Any:
    import geopandas
    import numpy as np
    import shapely

    sql, params = crimes_extract_query(place, period)
    table = warehouse.query_arrow(sql, params)
    frame = table.to_pandas()
    x = frame["longitude"].to_numpy(dtype=float, na_value=np.nan)
    y = frame["latitude"].to_numpy(dtype=float, na_value=np.nan)
    points = shapely.points(x, y)
    points[np.isnan(x) | np.isnan(y)] = None
    return geopandas.GeoDataFrame(frame, geometry=points, crs="EPSG:4326")
