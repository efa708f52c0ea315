"""The index under the disclosure policy, and exact figures for signed-in analysts only.

What the public would notice: the index's figures are sums of released cells, a server never falls back to
the exact edition, and `safer publish` writes the policy's edition. What an analyst would notice: signed in,
every figure is as counted; and what nobody may notice: an exact answer served to, or kept for, the public.
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from safertogether.access.users import add_user, issue_token, start_session
from safertogether.api import create_app
from safertogether.cli import app
from safertogether.disclosure.policy import load_policy
from safertogether.disclosure.releases import public_cells
from safertogether.model.access import User
from safertogether.settings import Settings
from safertogether.store.warehouse import Warehouse, open_warehouse

ROUND5 = load_policy("round-to-5")
runner = CliRunner()


def _client(warehouse: Warehouse, policy: str) -> TestClient:
    return TestClient(create_app(warehouse, Settings(disclosure_policy=policy)), raise_server_exceptions=False)


def test_the_public_edition_is_made_of_released_cells(city_index_warehouse: Warehouse) -> None:
    """Independent oracle: each LSOA-year's crimes in the public edition is the sum of its released cells."""
    released: dict[tuple[str, str], int] = {}
    for cell in public_cells(city_index_warehouse, ROUND5, "crimes").cells.to_pylist():
        key = (cell["lsoa"], str(cell["month"].year))
        released[key] = released.get(key, 0) + (cell["count"] or 0)
    rows = city_index_warehouse.query("""SELECT s.edition_id, p.policy, s.area, s.period, s.crimes
                                         FROM index_scores s LEFT JOIN index_edition_policies p USING (edition_id)""")
    public = [r for r in rows if r["policy"] == "round-to-5"]
    exact = {(r["area"], r["period"]): r["crimes"] for r in rows if r["policy"] == "exact"}
    assert public and len(public) == len(exact)
    for row in public:
        assert row["crimes"] == released[(row["area"], row["period"])]
    assert any(exact[(r["area"], r["period"])] != r["crimes"] for r in public)  # the rule changed something


def test_a_public_server_never_falls_back_to_the_exact_edition(city_index_warehouse: Warehouse) -> None:
    with _client(city_index_warehouse, "suppress-small-cells") as client:  # no edition under this policy
        for path in ("/api/index", "/api/index/areas/E01000001", "/api/index/map.geojson"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "safer index build --policy suppress-small-cells" in answer.json()["error"]["message"]
        drill = client.get("/api/index/drilldown/city-of-london").json()
        assert all(c["index"] is None for c in drill["children"])  # counts under the policy; no exact score
    with _client(city_index_warehouse, "round-to-5") as client:
        scores = client.get("/api/index").json()
        assert scores["edition"]["disclosure_policy"] == "round-to-5" and scores["edition"]["edition_id"] == 2
        assert client.get("/api/index").headers["x-disclosure-policy"] == "round-to-5"
    with _client(city_index_warehouse, "police-uk-as-published") as client:
        assert client.get("/api/index").json()["edition"]["edition_id"] == 1  # an exact policy: the exact edition


@pytest.fixture(scope="module")
def signed_in(city_index_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A copy of the indexed City warehouse with an analyst and a caseworker, each with an API token."""
    path = tmp_path_factory.mktemp("signed-in") / "city.duckdb"
    shutil.copy(city_index_db, path)
    with contextlib.closing(open_warehouse(path)) as warehouse:
        for user_id, role in (("ana", "analyst"), ("cas", "caseworker")):
            add_user(warehouse, User(user_id=user_id, name=user_id, agency="police", role=role,
                                     clearance="OFFICIAL"), "a long enough password 123")
        tokens = {u: issue_token(warehouse, u).token for u in ("ana", "cas")}
        session = start_session(warehouse, User(user_id="ana", name="ana", agency="police", role="analyst",
                                                clearance="OFFICIAL"))
    warehouse = open_warehouse(path, read_only=True)  # a public server: read-only
    yield {"warehouse": warehouse, "tokens": tokens, "cookie": session.cookie}
    warehouse.close()


def test_a_signed_in_analyst_sees_exact_figures_and_the_public_never_does(signed_in: dict) -> None:
    warehouse, tokens = signed_in["warehouse"], signed_in["tokens"]
    analyst = {"Authorization": f"Bearer {tokens['ana']}"}
    paths = ("/api/areas/E01000001/summary", "/api/map/city-of-london.geojson", "/api/forces",
             "/api/index", "/api/index/areas/E01000001", "/api/index/drilldown/city-of-london")
    with _client(warehouse, "police-uk-as-published") as client:
        exact = {p: client.get(p).json() for p in paths}
    with _client(warehouse, "round-to-5") as client:
        # The analyst asks first, so an exact answer would be in the server's answer cache if it were kept
        # for everyone; the public asks the same questions straight after.
        mine = {p: client.get(p, headers=analyst) for p in paths}
        public = {p: client.get(p) for p in paths}
        caseworker = client.get(paths[0], headers={"Authorization": f"Bearer {tokens['cas']}"}).json()
        by_cookie = client.get(paths[0], headers={"Cookie": f"safer_session={signed_in['cookie']}"})
        stale = client.get(paths[0], headers={"Cookie": "safer_session=0123456789abcdef.not-a-session"})
        forged = client.get(paths[0], headers={"Authorization": "Bearer st_0123456789abcdef_forged"})
    for path in paths:
        assert mine[path].status_code == 200, (path, mine[path].text[:200])
        assert mine[path].json() == exact[path], path
        assert mine[path].headers["cache-control"] == "no-store, private"
        assert mine[path].headers["x-disclosure-policy"] == "exact"
        assert public[path].headers["x-disclosure-policy"] == "round-to-5"
        assert "no-store" not in public[path].headers.get("cache-control", "")
        assert "Authorization" in public[path].headers["vary"]
    summary = public[paths[0]].json()
    assert summary["crimes"] % 5 == 0 and summary["crimes"] != exact[paths[0]]["crimes"]
    assert public["/api/index"].json()["edition"]["disclosure_policy"] == "round-to-5"
    assert mine["/api/index"].json()["edition"]["disclosure_policy"] == "exact"
    assert caseworker["crimes"] == summary["crimes"]  # signed in, but not a role that sees exact figures
    assert by_cookie.json()["crimes"] == exact[paths[0]]["crimes"]
    assert by_cookie.headers["x-disclosure-policy"] == "exact"
    assert stale.status_code == 200 and stale.json()["crimes"] == summary["crimes"]  # a stale cookie: public figures
    assert forged.status_code == 401  # a bad token is refused, never silently answered with public figures


def _csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(newline="", encoding=encoding) as handle:
        return list(csv.DictReader(handle))


def test_publish_writes_the_policys_edition_and_refuses_without_one(city_index_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "city.duckdb"
    shutil.copy(city_index_db, db)
    out = tmp_path / "public"
    done = runner.invoke(app, ["publish", "--db", str(db), "--out", str(out), "--policy", "round-to-5"])
    assert done.exit_code == 0, done.output
    rows = _csv(out / "safety-index-lsoa.csv")
    assert rows and {r["edition_id"] for r in rows} == {"2"}
    assert all(int(r["crimes"]) % 5 == 0 for r in rows)
    geo = json.loads((out / "safety-index-lsoa.geojson").read_text())
    assert len(geo["features"]) == len({r["area"] for r in rows}) and all(f["geometry"] for f in geo["features"])
    assert "score_2021" in geo["features"][0]["properties"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(f["dataset"] == "safety-index" for f in manifest["files"])
    exact = runner.invoke(app, ["publish", "--db", str(db), "--out", str(tmp_path / "exact")])
    assert exact.exit_code == 0, exact.output
    assert {r["edition_id"] for r in _csv(tmp_path / "exact" / "safety-index-lsoa.csv")} == {"1"}
    refused = runner.invoke(app, ["publish", "--db", str(db), "--out", str(tmp_path / "none"), "--policy",
                                  "suppress-small-cells"])
    assert refused.exit_code == 2 and "safer index build --level lsoa --policy suppress-small-cells" in refused.output
    assert not list((tmp_path / "none").glob("*.csv"))  # nothing published


def test_index_build_makes_the_public_edition_under_the_servers_policy(city_db: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "city.duckdb"
    shutil.copy(city_db, db)
    monkeypatch.setenv("SAFER_DISCLOSURE_POLICY", "suppress-small-cells")
    built = runner.invoke(app, ["index", "build", "--db", str(db), "--json"])
    assert built.exit_code == 0, built.output
    answer = json.loads(built.stdout)
    assert answer["disclosure_policy"]["name"] == "exact" and answer["public_edition_id"] == answer["edition_id"] + 1
    listed = runner.invoke(app, ["index", "editions", "--db", str(db), "--json"])
    assert [(e["edition_id"], e["disclosure_policy"]) for e in json.loads(listed.stdout)] == [
        (answer["public_edition_id"], "suppress-small-cells"), (answer["edition_id"], "exact")]
    with contextlib.closing(open_warehouse(db, read_only=True)) as warehouse, \
            _client(warehouse, "suppress-small-cells") as client:
        assert client.get("/api/index").json()["edition"]["edition_id"] == answer["public_edition_id"]
        methodology = client.get("/api/index/methodology").text
        assert "disclosure policy" in methodology and "union of their neighbourhoods" in methodology


def test_the_drilldown_under_a_policy_on_either_engine(warehouse_location: str, multiforce_folder: Path) -> None:
    """Crimes, outcome shares and find rates from released cells, at force level, on DuckDB and PostgreSQL
    ("force" is a keyword to PostgreSQL's parser: this failed there before)."""
    from safertogether.index.drilldown import drilldown
    from safertogether.ingest import find_police_uk_files, import_police_uk

    with contextlib.closing(open_warehouse(warehouse_location)) as warehouse:
        import_police_uk(warehouse, find_police_uk_files([multiforce_folder], forces=["city-of-london"]))
        exact = drilldown(warehouse, "city-of-london")["area"]
        public = drilldown(warehouse, "city-of-london", policy=ROUND5)["area"]
    street = sum(1 for row in _csv(next(multiforce_folder.glob("*city-of-london-street.csv")), "utf-8-sig")
                 if row["Crime type"] != "Anti-social behaviour")
    assert exact["crimes"] <= street and exact["crimes"] > 0.9 * street  # located crimes of the force's month
    assert public["crimes"] % 5 == 0 and all(n % 5 == 0 for n in public["categories"].values())
    assert abs(public["crimes"] - exact["crimes"]) < 0.15 * exact["crimes"]
    assert public["charged_share"] is not None and exact["charged_share"] is not None


def test_importing_a_new_month_refreshes_the_index_the_page_reads(city_index_db: Path, city_folder: Path,
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A month imported today reaches the safety index (exact and the public edition) without anyone running
    `safer index build`; `--no-index` leaves the editions as they were."""
    db = tmp_path / "city.duckdb"
    shutil.copy(city_index_db, db)
    monkeypatch.setenv("SAFER_DISCLOSURE_POLICY", "round-to-5")
    new_months = tmp_path / "2022"
    new_months.mkdir()
    for month in range(1, 7):  # six months make 2022 a period of the index (min_months)
        last_year = (city_folder / f"2021-{month + 6:02d}-city-of-london-street.csv").read_text(encoding="utf-8-sig")
        (new_months / f"2022-{month:02d}-city-of-london-street.csv").write_text(
            last_year.replace(f",2021-{month + 6:02d},", f",2022-{month:02d},"), encoding="utf-8")
    before = json.loads(runner.invoke(app, ["index", "editions", "--db", str(db), "--json"]).stdout)

    imported = runner.invoke(app, ["import", "police-uk", str(new_months), "--db", str(db), "--json"])

    assert imported.exit_code == 0, imported.output
    [lsoa] = json.loads(imported.stdout)["index"]
    assert lsoa["level"] == "lsoa" and lsoa["skipped"] is None
    assert lsoa["public_edition_id"] == lsoa["edition_id"] + 1 > max(e["edition_id"] for e in before)
    with contextlib.closing(open_warehouse(db, read_only=True)) as warehouse, \
            _client(warehouse, "round-to-5") as client:
        edition = client.get("/api/index").json()["edition"]
        assert edition["edition_id"] == lsoa["public_edition_id"] and edition["periods"][-1] == "2022"
    assert all(e["periods"][-1] == "2021" for e in before)
    shutil.copy(city_index_db, db)
    untouched = runner.invoke(app, ["import", "police-uk", str(new_months), "--db", str(db), "--no-index"])
    assert untouched.exit_code == 0, untouched.output
    assert json.loads(runner.invoke(app, ["index", "editions", "--db", str(db), "--json"]).stdout) == before
