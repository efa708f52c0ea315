"""Travel times for coverage: the fitted fallback model, stored as plain trees and chosen in one place.

What a user would notice: coverage names the model it used and states how far it errs on regions it
never saw; on Leicestershire's real LSOA-to-hospital times the model is closer than the anchor curve the
pages used before; a damaged or hostile model file is refused with what to do, never run.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from safertogether.bluelight.trees import Trees, from_sklearn, load_trees
from safertogether.errors import InputFormatError


def _fitted(tmp_path: Path) -> tuple[object, np.ndarray, Path]:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    rows = rng.uniform(0, 50, (3000, 3))
    minutes = 2 + 0.8 * rows[:, 0] + 3 * np.sqrt(rows[:, 1]) + rng.normal(0, 1, 3000)
    with threadpool_limits(1):  # OpenMP threads spin for minutes on a shared, loaded machine
        estimator = HistGradientBoostingRegressor(loss="absolute_error", max_iter=40, random_state=0).fit(rows,
                                                                                                          minutes)
    path = tmp_path / "model.npz"
    from_sklearn(estimator, {"features": ["a", "b", "c"], "error": None}).save(path)
    return estimator, rows, path


def test_a_saved_model_predicts_exactly_what_it_was_fitted_to_predict(tmp_path):
    estimator, rows, path = _fitted(tmp_path)
    trees = load_trees(path)
    assert trees.features == ("a", "b", "c")
    np.testing.assert_allclose(trees.predict(rows), estimator.predict(rows), atol=1e-9)  # type: ignore[attr-defined]


def _rewrite(path: Path, **arrays: np.ndarray) -> None:
    with np.load(path, allow_pickle=False) as saved:
        content = {name: saved[name] for name in saved.files}
    content.update(arrays)
    np.savez(path, **content)  # type: ignore[arg-type]


@pytest.mark.parametrize("damage", ["truncated", "text", "cycle", "outside", "pickled", "missing"])
def test_a_damaged_or_hostile_model_file_is_refused_with_what_to_do(tmp_path, damage):
    _estimator, _rows, path = _fitted(tmp_path)
    trees = load_trees(path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "text":
        path.write_text("feature,threshold\n1,2\n", encoding="utf-8")
    elif damage == "cycle":  # a child pointing back at its parent would walk for ever
        left = trees.left.copy()
        inner = np.flatnonzero(trees.feature >= 0)[1]
        left[inner] = inner
        _rewrite(path, left=left)
    elif damage == "outside":
        right = trees.right.copy()
        right[np.flatnonzero(trees.feature >= 0)[0]] = len(trees.value) + 5
        _rewrite(path, right=right)
    elif damage == "pickled":  # object arrays would unpickle (run code) on load: never allowed
        _rewrite(path, about=np.array([{"features": ["a"]}], dtype=object))
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("feature.npy", b"")
    with pytest.raises(InputFormatError, match="safer plan calibrate --save-model|save it again"):
        load_trees(path)


def test_the_shipped_model_says_how_far_it_errs_on_regions_it_never_saw():
    from safertogether.bluelight.traveltime import MODEL_FILE

    trees = load_trees(MODEL_FILE)
    assert isinstance(trees, Trees) and len(trees.roots) > 50
    error = trees.about["error"]
    assert set(error["held_out"]) == {"LAS", "SWAS", "EMAS"} and error["pairs"] > 100_000
    assert 0 < error["median_abs_error_min"] < error["p90_abs_error_min"]


@pytest.fixture(scope="module")
def leicestershire(reference_db):
    from safertogether.bluelight.coverage import force_places
    from safertogether.bluelight.inputs import travel_times
    from safertogether.store.warehouse import open_warehouse

    warehouse = open_warehouse(reference_db, read_only=True)
    try:
        places = force_places(warehouse, "leicestershire")
        yield places, travel_times(warehouse, places)
    finally:
        warehouse.close()


def test_coverage_uses_the_fitted_model_and_states_its_error(leicestershire, data_dir):
    from safertogether.bluelight.coverage import coverage
    from safertogether.bluelight.standards import load_standards
    from safertogether.bluelight.stations import read_home_office_fire
    from safertogether.bluelight.traveltime import CurveTimes

    places, times = leicestershire
    fire = read_home_office_fire(data_dir / "blue-light" / "fire" / "home-office-fire-stations-england.ods")
    standards = tuple(s for s in load_standards() if s.service == "fire")
    found = coverage(places, fire, standards, times)
    about = found["travel_times"]
    assert about["source"] == "fallback model"
    assert f"median {about['error']['median_abs_error_min']:g} min" in about["summary"]
    assert "never saw (LAS, SWAS, EMAS)" in about["summary"]
    curve = coverage(places, fire, standards, CurveTimes())
    assert curve["travel_times"]["source"] == "curve"
    model_minutes = np.array([r["fire_minutes"] for r in found["per_lsoa"]])
    curve_minutes = np.array([r["fire_minutes"] for r in curve["per_lsoa"]])
    assert np.isfinite(model_minutes).all() and (model_minutes > 0).all()
    assert not np.allclose(model_minutes, curve_minutes, atol=0.5)  # the pages no longer show the curve


def test_on_leicestershires_real_times_the_model_is_closer_than_the_curve(leicestershire, data_dir):
    """The production path (surface and density from the warehouse's LSOAs round the force, not the
    national files) against the real matrix's minutes from Leicestershire's LSOAs to hospitals < 60 km."""
    from safertogether.bluelight.reference import ReferencePaths, read_reference
    from safertogether.bluelight.traveltime import CurveTimes

    places, times = leicestershire
    pairs = read_reference(ReferencePaths.in_folder(data_dir / "blue-light" / "ambulance"),
                           places.table.set_index("lsoa")[["easting", "northing"]])
    pairs = pairs.subset(pairs.km < 60)
    assert len(pairs) > 5000
    sites, site_of = np.unique(pairs.destination, axis=0, return_inverse=True)
    ends, end_of = np.unique(pairs.origin, axis=0, return_inverse=True)
    model = times.matrix(sites, ends)[site_of.ravel(), end_of.ravel()]
    curve = CurveTimes().matrix(sites, ends)[site_of.ravel(), end_of.ravel()]
    model_error, curve_error = np.abs(model - pairs.minutes), np.abs(curve - pairs.minutes)
    assert np.median(model_error) < 0.8 * np.median(curve_error)
    assert np.quantile(model_error, 0.9) < np.quantile(curve_error, 0.9)


def test_the_lsoa_graph_finds_the_isle_of_wight_an_island_where_the_land_raster_does_not(data_dir):
    """The real matrix takes +72 min from the Isle of Wight to the mainland (the ferry); the 1 km land raster
    bridges the Solent, the LSOA neighbour graph does not, while Portsmouth's island stays joined to the
    mainland (its bridges are narrower than the graph's gap)."""
    from safertogether.bluelight.fallback import FeatureSource
    from safertogether.bluelight.geography import read_lsoa_geography

    geography = read_lsoa_geography(data_dir / "boundaries" / "lsoa-2011-ew.geojson",
                                    data_dir / "boundaries" / "lsoa-2011-census-population.csv")
    southampton = np.array([[440_500.0, 114_000.0]])
    near = np.hypot(*(geography.table[["easting", "northing"]].to_numpy() - southampton).T) < 40_000
    source = FeatureSource.from_lsoas(geography.table[near], geography.polygons[near])
    newport_iow, portsmouth, winchester = [450_000.0, 89_000.0], [464_500.0, 100_500.0], [448_000.0, 129_500.0]
    features = source.features(np.array([newport_iow, portsmouth, winchester]), np.repeat(southampton, 3, axis=0))
    assert features["across_water"].tolist() == [1.0, 0.0, 0.0]
    assert np.isfinite(source.surface.from_sites(southampton, "distance")[0, source.surface.cell_of(
        np.array([newport_iow]))]).all()  # the raster's way across the Solent: what the graph corrects
    assert (features["graph_detour"][1:] < 1.6).all() and (features["graph_km"][1:] > features["km"][1:]).all()
