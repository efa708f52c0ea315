"""What the cells sit in: LSOAs, deprivation (IMD) deciles, a force's area, and harm weights per category.

Each cell takes the LSOA containing its centre. The English IMD is published per 2021 LSOA; most
codes equal the 2011 codes police.uk and the shipped boundaries use, and a cell whose LSOA has no IMD
row gets decile 0 ("unknown"), counted in reports rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyproj
import shapely

from safertogether.errors import InputFormatError
from safertogether.forecast.grid import Grid
from safertogether.sources.boundaries import Boundaries, read_boundaries


def cell_lsoas(grid: Grid, boundaries: Boundaries) -> np.ndarray:
    """The code of the polygon containing each cell's centre ('' where none does)."""
    lon, lat = grid.to_wgs84(*grid.centres())
    tree = shapely.STRtree(boundaries.geometries)
    point, polygon = tree.query(shapely.points(lon, lat), predicate="intersects")
    codes = np.full(grid.n, "", dtype=object)
    first = np.unique(point, return_index=True)[1]
    codes[point[first]] = np.asarray(boundaries.codes, dtype=object)[polygon[first]]
    return codes


def read_imd(path: str | Path) -> dict[str, int]:
    """LSOA code -> IMD decile (1 = most deprived) from the MHCLG workbook or a CSV with those columns."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_excel(path, sheet_name=None)
    except Exception as exc:  # pandas/openpyxl raise many types for an unreadable workbook
        raise InputFormatError(f"{path}: cannot be read as the IMD table ({exc}); give the MHCLG workbook or a CSV "
                               "with an LSOA code column and an IMD decile column") from exc
    sheets = frame.values() if isinstance(frame, dict) else [frame]
    for sheet in sheets:
        code = next((c for c in sheet.columns if "lsoa" in str(c).lower() and "code" in str(c).lower()), None)
        decile = next((c for c in sheet.columns if "decile" in str(c).lower() and "imd" in str(c).lower()
                       or str(c).lower().startswith("index of multiple deprivation") and "decile" in str(c).lower()),
                      None)
        if code is not None and decile is not None:
            rows = sheet[[code, decile]].dropna()
            return {str(c): int(d) for c, d in zip(rows[code], rows[decile], strict=True)}
    raise InputFormatError(f"{path}: no sheet has an LSOA code column and an IMD decile column")


def cell_deciles(grid: Grid, boundaries_path: str | Path, imd_path: str | Path) -> np.ndarray:
    """IMD decile of each cell (0 where unknown)."""
    codes = cell_lsoas(grid, read_boundaries(boundaries_path))
    deciles = read_imd(imd_path)
    return np.array([deciles.get(c, 0) for c in codes], dtype=np.int64)


def force_area(boundaries_path: str | Path, codes: Iterable[str], crs: pyproj.CRS) -> shapely.Geometry:
    """The union of the LSOAs named (e.g. those a force's crimes fall in), in ``crs``: a force boundary."""
    boundaries = read_boundaries(boundaries_path)
    wanted = set(codes)
    chosen = [g for c, g in zip(boundaries.codes, boundaries.geometries, strict=True) if c in wanted]
    if not chosen:
        raise InputFormatError(f"{boundaries_path}: none of the events' LSOA codes is in the file")
    area = shapely.union_all(np.array(chosen, dtype=object))
    transformer = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    return shapely.transform(area, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def read_harm_weights(path: str | Path) -> dict[str, float]:
    """police.uk category (lower case) -> Cambridge Crime Harm Index days, from a harm-weights table.

    The table is read and checked by the one harm-weights reader (:mod:`safertogether.measures.harm`, which
    the index uses too); anti-social behaviour has no weight there and counts 1 here, as any unweighted event.
    """
    from safertogether.measures.harm import load_harm_weights

    weights = load_harm_weights([path])
    found = {category: weights.of(category) for category in weights.national}
    return {category.lower(): harm.days for category, harm in found.items() if harm is not None}


def harm_of(categories: np.ndarray, weights: dict[str, float] | None, default: float = 1.0) -> np.ndarray:
    """Harm weight of each event (``default`` for a category without a weight, or when there are no weights)."""
    if not weights:
        return np.full(len(categories), default)
    lowered = np.char.lower(categories.astype(str))
    return np.array([weights.get(c, default) for c in lowered])
