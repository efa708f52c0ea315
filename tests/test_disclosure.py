"""Disclosure control: each rule's guarantee, the privacy budget, and every public route obeying the policy."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from safertogether.api import create_app
from safertogether.disclosure.outputs import PUBLIC_ROUTES, route_kind
from safertogether.disclosure.policy import PolicyError, load_policy, packaged_policies, policy_from_dict
from safertogether.disclosure.protect import protect_cells, suppress
from safertogether.disclosure.releases import PrivacyBudgetError, budget_spent, exact_cells, public_cells, release
from safertogether.settings import Settings
from safertogether.store.warehouse import open_warehouse

ROUND5 = policy_from_dict({"name": "r5", "rule": "round", "parameters": {"base": 5}})
RANDOM5 = policy_from_dict({"name": "rr5", "rule": "round", "parameters": {"base": 5, "mode": "random", "seed": 7}})
SUPPRESS = load_policy("suppress-small-cells")


def cells(counts: list[list[int]]) -> pa.Table:
    """A table of cells: one group (LSOA-month) per inner list, one category per position."""
    rows = [(f"E0{g:07d}", "f", dt.date(2022, 1, 1), f"k{i}", c)
            for g, group in enumerate(counts) for i, c in enumerate(group)]
    names = ["lsoa", "force_id", "month", "key", "count"]
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(names)},
                    schema=pa.schema([("lsoa", pa.string()), ("force_id", pa.string()), ("month", pa.date32()),
                                      ("key", pa.string()), ("count", pa.int64())]))


def test_packaged_policies_load_and_a_bad_policy_names_every_problem(tmp_path):
    assert {"police-uk-as-published", "suppress-small-cells", "round-to-5", "dp-laplace"} <= set(packaged_policies())
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrule: round\nparameters: {base: 1, mode: sideways, colour: red}\nrecords: maybe\n")
    with pytest.raises(PolicyError) as found:
        load_policy(bad)
    message = str(found.value)
    for problem in ("colour", "base must be", "mode must be", "records 'maybe'"):
        assert problem in message
    with pytest.raises(PolicyError, match="no policy file"):
        load_policy(tmp_path / "missing.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage: [")
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "binary.yaml")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), min_size=1, max_size=8), min_size=1, max_size=6),
       st.integers(2, 6))
def test_suppression_never_lets_a_total_pin_a_hidden_cell_below_the_threshold(groups, threshold):
    table = cells(groups)
    counts = table.column("count").to_numpy()
    ids = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    hidden, hidden_total = suppress(ids, counts, threshold)
    assert not np.any(~hidden & (counts > 0) & (counts < threshold)), "a small cell was published"
    assert not np.any(hidden & (counts == 0)), "zeros are published"
    for g in range(len(groups)):
        mine = hidden[ids == g]
        if mine.any() and not hidden_total[g]:
            k, total = int(mine.sum()), int(counts[ids == g][mine].sum())
            # What a reader can work out: each hidden cell lies in [1, total - (k - 1)].
            assert k >= 2 and total - (k - 1) >= threshold


def test_rounding_rules_give_multiples_of_the_base_and_random_rounding_is_unbiased_and_stable():
    rng = np.random.default_rng(1)
    groups = rng.poisson(2.0, size=(4000, 5)).tolist()
    table = cells(groups)
    exact = table.column("count").to_numpy()
    for policy in (ROUND5, RANDOM5):
        released = protect_cells(table, policy).cells.column("count").to_numpy()
        assert np.all(released % 5 == 0) and np.all(np.abs(released - exact) < 5)
    nearest = protect_cells(table, ROUND5).cells.column("count").to_numpy()
    assert np.all(np.abs(nearest - exact) <= 2)
    random = protect_cells(table, RANDOM5).cells.column("count").to_numpy()
    assert abs(float(np.mean(random - exact))) < 0.1  # nearest rounding's bias here is about -0.7
    # The same cell rounds the same way in a later release, even when other cells changed.
    changed = cells([[c + (1 if i == 0 else 0) for i, c in enumerate(g)] if n % 2 else g
                     for n, g in enumerate(groups)])
    again = protect_cells(changed, RANDOM5).cells.column("count").to_numpy()
    same = (changed.column("count").to_numpy() == exact)
    assert np.array_equal(again[same], random[same])


def test_totals_beside_suppressed_cells_are_exact_and_beside_rounded_cells_are_sums():
    table = cells([[1, 5, 7], [0, 9, 0], [2, 2, 2]])
    protected = protect_cells(table, SUPPRESS)
    assert protected.totals.column("count").to_pylist() == [13, 9, 6]
    released = protected.cells.column("count").to_pylist()
    assert released[:3] == [None, None, 7] and released[3:6] == [0, 9, 0] and released[6:] == [None] * 3
    rounded = protect_cells(table, ROUND5)
    assert rounded.totals.column("count").to_pylist() == [10, 10, 0]  # 0+5+5, 0+10+0, 0+0+0


@pytest.fixture
def city_copy(city_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "city.duckdb"
    shutil.copy(city_db, path)
    return path


def test_dp_release_is_drawn_once_per_data_version_and_spends_within_the_budget(city_copy):
    policy = policy_from_dict({"name": "dp-test", "rule": "dp", "parameters": {"epsilon": 1.0, "budget": 1.5}})
    warehouse = open_warehouse(city_copy)
    try:
        first = release(warehouse, policy)
        assert not first.reused and budget_spent(warehouse, policy) == 1.0
        assert release(warehouse, policy).reused and budget_spent(warehouse, policy) == 1.0
        published = public_cells(warehouse, policy).cells
        exact = exact_cells(warehouse, "crimes")
        assert min(published.column("count").to_pylist()) < 0  # unclamped, so that sums stay unbiased
        # Noise went on every LSOA x month x category, so cells with no crime can be released non-zero.
        assert published.num_rows != exact.num_rows
        error = abs(sum(published.column("count").to_pylist()) - sum(exact.column("count").to_pylist()))
        assert error < 0.1 * sum(exact.column("count").to_pylist())
        warehouse.execute("UPDATE source_files SET sha256 = 'changed' WHERE file_id = (SELECT min(file_id) "
                          "FROM source_files)")  # as if a revised file had come in
        with pytest.raises(PrivacyBudgetError, match="budget"):
            release(warehouse, policy)
    finally:
        warehouse.close()


def _app_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route, inside included routers too."""
    found = set()
    for route in app.routes:
        inner = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for r in inner:
            if isinstance(route, APIRoute) or hasattr(route, "effective_route_contexts"):
                found |= {(m, r.path) for m in r.methods or () if m in ("GET", "POST")}
    return found


def test_every_public_route_is_declared_with_what_it_discloses(city_warehouse):
    routes = _app_routes(create_app(city_warehouse))
    undeclared = sorted(r for r in routes if route_kind(*r) is None)
    assert not undeclared, f"declare each new route's kind in disclosure/outputs.py: {undeclared}"
    assert set(PUBLIC_ROUTES) <= routes, "a declared route is gone: remove it from disclosure/outputs.py"


def _client(warehouse, policy: str) -> TestClient:
    return TestClient(create_app(warehouse, Settings(disclosure_policy=policy)), raise_server_exceptions=False)


def _examples(path: str) -> str:
    return (path.replace("{code}", "E01000001").replace("{force}", "city-of-london")
            .replace("{collection_id}", "crimes").replace("{feature_id}", "x"))


def test_under_a_policy_that_withholds_records_every_record_route_refuses(city_warehouse):
    records = sorted(path for method, path in _app_routes(create_app(city_warehouse))
                     if method == "GET" and route_kind(method, path) == "records")
    assert len(records) > 10
    with _client(city_warehouse, "round-to-5") as client:
        for path in records:
            answer = client.get(_examples(path))
            assert answer.status_code == 403, path
            assert answer.json()["error"]["code"] == "forbidden"
    with _client(city_warehouse, "police-uk-as-published") as client:
        assert client.get("/api/areas/E01000001/crimes.csv").status_code == 200
        assert client.get("/police-uk/api/crimes-street-dates").status_code == 200


def _counts_in(document, keys: frozenset[str] = frozenset({"crimes"})) -> list[int]:
    """Every whole number under a key named crimes (or one of ``keys``), anywhere in a JSON document; the
    values of a ``categories`` or ``months`` mapping too when those are among the keys."""
    found: list[int] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in keys - _MAPPINGS and isinstance(value, (int, float)) and not isinstance(value, bool):
                assert value == int(value), (key, value)
                found.append(int(value))
            elif key in keys and isinstance(value, dict):
                found += [int(v) for v in value.values()]
            else:
                found += _counts_in(value, keys)
    elif isinstance(document, list):
        for value in document:
            found += _counts_in(value, keys)
    return found


_MAPPINGS = frozenset({"categories", "months"})  # in the drill-down, crimes per category and per month
#: What the index's answers count: crimes, an indicator's count, stops and finds, crimes per category and month.
INDEX_COUNTS = frozenset({"crimes", "count", "stops", "finds", "asb", "categories", "months"})


def test_every_count_route_serves_released_figures(city_index_warehouse):
    """Under rounding to 5 every count a count or index route serves is a multiple of 5 (sums of rounded
    cells): the index's routes read the edition built from the released counts."""
    counts = {path for (method, path), kind in PUBLIC_ROUTES.items() if kind in ("counts", "index")
              and method == "GET"}
    assert {"/api/index", "/api/index/areas/{code}", "/api/index/drilldown/{code}"} <= counts
    counts |= {"/ogc/collections/neighbourhoods/items", "/ogc/collections/neighbourhoods/items/E01000001"}
    exact_answers = {}
    city_warehouse = city_index_warehouse
    with _client(city_warehouse, "police-uk-as-published") as client:
        for path in counts:
            exact_answers[path] = client.get(_examples(path))
    with _client(city_warehouse, "round-to-5") as client:
        for path in counts:
            answer = client.get(_examples(path), params={"datetime": "2021-01-01/2021-12-31"} if "/ogc/" in path
                                else None)
            assert answer.status_code == 200, (path, answer.text[:300])
            if path.endswith(".atom"):
                assert all(int(n.replace(",", "")) % 5 == 0
                           for n in _numbers_before_crime(answer.text)), path
                continue
            if path.endswith(".geojson") and "/index/" in path:  # scores and bands only: which edition?
                assert answer.json()["metadata"]["disclosure_policy"] == "round-to-5"
                continue
            found = _counts_in(answer.json(), INDEX_COUNTS if "/index/" in path else frozenset({"crimes"}))
            assert found, path
            assert all(n % 5 == 0 for n in found), (path, found[:20])
        summary = client.get("/api/areas/E01000001/summary").json()
    exact = exact_answers["/api/areas/{code}/summary"].json()
    assert summary["crimes"] != exact["crimes"] or all(c["crimes"] % 5 == 0 for c in exact["categories"])
    assert abs(summary["crimes"] - exact["crimes"]) <= 2.5 * 12 * len(exact["categories"])


def _numbers_before_crime(text: str) -> list[str]:
    import re

    return re.findall(r"([\d,]+) crimes? (?:were|was) recorded", text)


def test_summary_under_suppression_is_the_sum_of_released_cells(city_warehouse):
    cells_ = public_cells(city_warehouse, SUPPRESS).cells.to_pylist()
    year = (dt.date(2021, 1, 1), dt.date(2021, 12, 1))
    wanted = [c for c in cells_ if c["lsoa"] == "E01000001" and year[0] <= c["month"] <= year[1]]
    assert any(c["count"] is None for c in wanted), "the test area should have hidden cells"
    with _client(city_warehouse, "suppress-small-cells") as client:
        summary = client.get("/api/areas/E01000001/summary", params={"from": "2021-01", "to": "2021-12"}).json()
    assert summary["crimes"] == sum(c["count"] or 0 for c in wanted)
    by_category: dict[str, int] = {}
    for c in wanted:
        by_category[c["key"]] = by_category.get(c["key"], 0) + (c["count"] or 0)
    assert {c["crime_type"]: c["crimes"] for c in summary["categories"]} == {k: v for k, v in by_category.items() if v}


def test_dp_policy_serves_its_stored_release_and_says_how_to_make_one(city_copy):
    warehouse = open_warehouse(city_copy)
    policy = load_policy("dp-laplace")
    try:
        with _client(warehouse, "dp-laplace") as client:
            missing = client.get("/api/areas/E01000001/summary")
            assert missing.status_code == 404 and "safer publish" in missing.json()["error"]["message"]
        for dataset in ("crimes", "outcomes", "stops"):
            release(warehouse, policy, dataset)
        with _client(warehouse, "dp-laplace") as client:
            first = client.get("/api/areas/E01000001/summary").json()
        with _client(warehouse, "dp-laplace") as client:
            assert client.get("/api/areas/E01000001/summary").json()["crimes"] == first["crimes"]  # no redraw
    finally:
        warehouse.close()
