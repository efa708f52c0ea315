"""Square cells in a projected CRS, masked to a study area.

The cell size is given in metres whatever the CRS's unit (Portland's EPSG:2913 is in international
feet). Cells are aligned to multiples of their size, so on the British National Grid a cell's id is the
one :func:`safertogether.areas.grid.bng_cells` gives (``E458500N304500S250``). The study area is a
polygon (the force's area, or any file given with ``--mask``) or, without one, the cells within a
distance of past events: the area a forecast may flag is the denominator of PAI, so it must be stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import shapely
from scipy import ndimage

from safertogether.errors import BadRequestError, InputFormatError, MissingDataError
from safertogether.forecast.events import Events, metres_per_unit


@dataclass
class Grid:
    """``ny`` x ``nx`` cells from (x0, y0), of which ``cells`` (flat row-major indices) are in the study area."""

    x0: float
    y0: float
    size: float  #: in CRS units
    size_m: float
    nx: int
    ny: int
    crs: pyproj.CRS
    cells: np.ndarray
    study_area: str  #: how the mask was drawn, for reports

    @property
    def n(self) -> int:
        return len(self.cells)

    @property
    def cell_area_km2(self) -> float:
        return (self.size_m / 1000) ** 2

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index (into ``cells``) of each point's cell; -1 outside the study area."""
        ix = np.floor((np.asarray(x) - self.x0) / self.size).astype(np.int64)
        iy = np.floor((np.asarray(y) - self.y0) / self.size).astype(np.int64)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        flat = np.where(inside, iy * self.nx + ix, -1)
        at = np.minimum(np.searchsorted(self.cells, flat), self.n - 1)  # cells are sorted
        return np.where(inside & (self.cells[at] == flat), at, -1)

    def corners(self) -> tuple[np.ndarray, np.ndarray]:
        """South-west corner of each cell (CRS units)."""
        iy, ix = np.divmod(self.cells, self.nx)
        return self.x0 + ix * self.size, self.y0 + iy * self.size

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.corners()
        return x + self.size / 2, y + self.size / 2

    def ids(self) -> list[str]:
        """``E{x}N{y}S{metres}`` of each cell's corner (metres on BNG; CRS units otherwise)."""
        x, y = self.corners()
        return [f"E{int(round(a))}N{int(round(b))}S{int(round(self.size_m))}" for a, b in zip(x, y, strict=True)]

    def to_raster(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Per-cell values as a (ny, nx) array (or (..., ny, nx) for leading axes)."""
        values = np.asarray(values)
        out = np.full((*values.shape[:-1], self.ny * self.nx), fill, dtype=np.result_type(values, np.float32))
        out[..., self.cells] = values
        return out.reshape(*values.shape[:-1], self.ny, self.nx)

    def from_raster(self, raster: np.ndarray) -> np.ndarray:
        return raster.reshape(*raster.shape[:-2], self.ny * self.nx)[..., self.cells]

    def polygons(self, which: np.ndarray | None = None) -> np.ndarray:
        x, y = self.corners()
        if which is not None:
            x, y = x[which], y[which]
        return shapely.box(x, y, x + self.size, y + self.size)

    def to_wgs84(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = pyproj.Transformer.from_crs(self.crs, 4326, always_xy=True).transform(x, y)
        return np.asarray(lon), np.asarray(lat)


def build_grid(events: Events, cell_m: float, mask: shapely.Geometry | None = None,
               mask_name: str = "", near_m: float = 500.0) -> Grid:
    """The grid over ``events`` (and ``mask``), masked to ``mask`` or to cells within ``near_m`` of an event.

    A cell is in a polygon mask when its centre is.
    """
    if not np.isfinite(cell_m) or cell_m <= 0:
        raise BadRequestError(f"--cell must be a positive number of metres, not {cell_m}")
    if len(events) == 0:
        raise MissingDataError("no events to build a grid around")
    unit = metres_per_unit(events.crs)
    size = cell_m / unit
    xmin, ymin, xmax, ymax = float(events.x.min()), float(events.y.min()), float(events.x.max()), float(events.y.max())
    if mask is not None:
        mxmin, mymin, mxmax, mymax = shapely.bounds(mask)
        xmin, ymin, xmax, ymax = min(xmin, mxmin), min(ymin, mymin), max(xmax, mxmax), max(ymax, mymax)
    x0, y0 = np.floor(xmin / size) * size, np.floor(ymin / size) * size
    nx, ny = int(np.floor((xmax - x0) / size)) + 1, int(np.floor((ymax - y0) / size)) + 1
    if nx * ny > 50_000_000:
        raise BadRequestError(f"a {cell_m:g} m grid over this area has {nx * ny:,} cells; use larger cells or "
                              "a --mask around the study area")
    if mask is not None:
        full = Grid(x0, y0, size, cell_m, nx, ny, events.crs, np.arange(nx * ny), "")
        cx, cy = full.centres()
        shapely.prepare(mask)
        inside = shapely.contains_xy(mask, cx, cy)
        if not inside.any():
            raise BadRequestError(f"no {cell_m:g} m cell has its centre inside the mask {mask_name}; "
                                  "is the mask in the right place (its CRS)?")
        return Grid(x0, y0, size, cell_m, nx, ny, events.crs, np.flatnonzero(inside),
                    mask_name or "the given polygon")
    ix = np.floor((events.x - x0) / size).astype(np.int64)
    iy = np.floor((events.y - y0) / size).astype(np.int64)
    hit_y, hit_x = np.divmod(np.unique(iy * nx + ix), nx)
    radius = max(0, int(np.ceil(near_m / cell_m)))
    near = []
    for dy in range(-radius, radius + 1):  # the disc's offsets around each cell with an event
        for dx in range(-radius, radius + 1):
            if (dx * dx + dy * dy) * cell_m**2 <= max(near_m, 0) ** 2 + 1e-9:
                ty, tx = hit_y + dy, hit_x + dx
                ok = (ty >= 0) & (ty < ny) & (tx >= 0) & (tx < nx)
                near.append(ty[ok] * nx + tx[ok])
    return Grid(x0, y0, size, cell_m, nx, ny, events.crs, np.unique(np.concatenate(near)),
                f"cells within {near_m:g} m of an event")


def read_mask(path: str | Path, crs: pyproj.CRS) -> shapely.Geometry:
    """The union of the polygons of a GeoJSON, GeoPackage or shapefile, in ``crs`` (any source CRS)."""
    import pyogrio

    try:
        frame = pyogrio.read_dataframe(path, columns=[])
    except Exception as exc:  # GDAL raises its own error types for every unreadable input
        raise InputFormatError(f"{path}: cannot be read as a polygon file ({exc}); give a GeoJSON, "
                               "GeoPackage or shapefile of the study area") from exc
    if frame.crs is None:
        raise InputFormatError(f"{path}: the file does not say its CRS; add it (e.g. save as GeoJSON in EPSG:4326)")
    polygons = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        raise InputFormatError(f"{path}: has no polygons; a mask must be the study area's outline")
    return shapely.union_all(polygons.to_crs(crs).geometry.make_valid().values)


def neighbour_sum(grid: Grid, values: np.ndarray, radius: int = 1, include_self: bool = False) -> np.ndarray:
    """Sum of each cell's neighbours within ``radius`` cells (square window) for (..., N) values."""
    raster = grid.to_raster(values)
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.float32)
    if not include_self:
        kernel[radius, radius] = 0
    axes_shape = (1,) * (raster.ndim - 2) + kernel.shape
    summed = ndimage.convolve(raster, kernel.reshape(axes_shape), mode="constant")
    return grid.from_raster(summed)
