"""Boundaries from GeoJSON, shapefile and GeoPackage, in any CRS, give the same areas and assignments."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyogrio
import pyproj
import pytest
import shapely

from safertogether.areas.assign import lsoa_of
from safertogether.areas.grid import bng_cells
from safertogether.areas.load import import_boundaries
from safertogether.errors import InputFormatError
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.sources.boundaries import read_boundaries
from safertogether.store.warehouse import open_warehouse

CITY = ("E01000001", "E01000002", "E01000003", "E01000005", "E01032739", "E01032740")


@pytest.fixture(scope="module")
def city_polygons(data_dir):
    meta, table = pyogrio.read_arrow(data_dir / "boundaries" / "lsoa-2011-ew.geojson",
                                     columns=["LSOA11CD", "LSOA11NM"], where=f"LSOA11CD IN {CITY}")
    return table


def write(table: pa.Table, path, crs: int) -> None:
    geometry_column = [c for c in table.column_names if c not in ("LSOA11CD", "LSOA11NM")][0]
    geoms = shapely.from_wkb(table.column(geometry_column).to_numpy(zero_copy_only=False))
    if crs != 4326:
        to = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))
    out = pa.table({"LSOA11CD": table.column("LSOA11CD"), "LSOA11NM": table.column("LSOA11NM"),
                    "geometry": pa.array(shapely.to_wkb(geoms), pa.binary())})
    pyogrio.write_arrow(out, path, geometry_name="geometry", geometry_type="Polygon", crs=f"EPSG:{crs}")


@pytest.mark.parametrize("suffix,crs", [(".shp", 27700), (".gpkg", 27700), (".geojson", 4326)])
def test_each_format_reads_to_the_same_areas(city_polygons, tmp_path, suffix, crs):
    path = tmp_path / f"city{suffix}"
    write(city_polygons, path, crs)
    read = read_boundaries(path)
    assert sorted(read.codes) == sorted(CITY)
    assert read.level == "lsoa"
    xmin, ymin, xmax, ymax = shapely.total_bounds(read.geometries)
    assert -0.12 < xmin < xmax < -0.07 and 51.50 < ymin < ymax < 51.53  # back in WGS84


def test_imported_shapefile_places_city_crimes_in_their_published_lsoas(city_polygons, tmp_path, city_folder):
    import csv

    path = tmp_path / "city.shp"
    write(city_polygons, path, 27700)
    warehouse = open_warehouse(tmp_path / "w.duckdb")
    import_boundaries(warehouse, path)
    with open(city_folder / "2021-12-city-of-london-street.csv", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Longitude"] and r["LSOA code"] in CITY]
    codes = lsoa_of(warehouse, np.array([float(r["Longitude"]) for r in rows]),
                    np.array([float(r["Latitude"]) for r in rows])).to_pylist()
    agree = sum(code == r["LSOA code"] for code, r in zip(codes, rows, strict=True))
    assert agree / len(rows) > 0.8  # generalised boundaries: most, not all, snap points agree
    warehouse.close()


def test_a_file_that_is_not_boundaries_gets_a_clear_error(tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("this is not geojson", encoding="utf-8")
    with pytest.raises(InputFormatError, match="expected a GeoJSON, shapefile or GeoPackage"):
        read_boundaries(path)


def test_bng_cells_are_squares_of_the_national_grid():
    # Leicester's Clock Tower is at OS grid reference SK 58604 04540, i.e. E458604 N304540.
    cells = bng_cells(np.array([-1.1340, -1.1340, np.nan]), np.array([52.6365, 52.6366, np.nan]), 250)
    assert cells[0] == cells[1] == "E458500N304500S250"
    assert cells[2] == ""


def test_an_area_drawn_in_several_parts_becomes_one_multipolygon(city_polygons, tmp_path):
    doubled = pa.concat_tables([city_polygons, city_polygons.slice(0, 1)])
    path = tmp_path / "parts.gpkg"
    write(doubled, path, 4326)
    read = read_boundaries(path)
    assert sorted(read.codes) == sorted(CITY)


def test_crimes_take_their_areas_on_import_and_again_when_boundaries_come_later(city_polygons, tmp_path, city_folder):
    """Rows get the polygon containing their point (checked with shapely), and the published code counts."""
    files = find_police_uk_files([city_folder], month_from="2021-10", month_to="2021-12")
    path = tmp_path / "city.shp"
    write(city_polygons, path, 27700)
    polygons = read_boundaries(path)
    columns = "month, row_number, longitude, latitude, lsoa_code, lsoa_polygon, lsoa"

    def placed(boundaries_first: bool) -> list[dict[str, object]]:
        warehouse = open_warehouse(tmp_path / f"w{boundaries_first}.duckdb")
        if boundaries_first:
            import_boundaries(warehouse, path)
        import_police_uk(warehouse, files)
        if not boundaries_first:
            assert warehouse.scalar("SELECT count(lsoa_polygon) FROM street_crimes") == 0
            import_boundaries(warehouse, path)
        rows = warehouse.query(f"SELECT {columns} FROM street_crimes ORDER BY month, row_number")
        warehouse.close()
        return rows

    rows = placed(boundaries_first=True)
    assert rows == placed(boundaries_first=False)
    located = [r for r in rows if r["longitude"] is not None]
    points = shapely.points([r["longitude"] for r in located], [r["latitude"] for r in located])
    inside = [next((c for c, g in zip(polygons.codes, polygons.geometries, strict=True) if g.intersects(p)), None)
              for p in points]
    assert [r["lsoa_polygon"] for r in located] == inside
    assert sum(code is not None for code in inside) > len(located) / 2
    assert all(r["lsoa"] == (r["lsoa_code"] or r["lsoa_polygon"]) for r in rows)
