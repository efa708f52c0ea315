"""Where the page's libraries come from: a built package's own copy, else a checkout's node_modules, else a notice."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from safertogether.web import frontend
from safertogether.web.pages import install_pages


def _lay_out(dirs: dict[str, Path], text: str) -> None:
    """Every file the page loads, each holding ``text``, in the given library folders."""
    for name, library in frontend.LIBRARIES.items():
        dirs[name].mkdir(parents=True, exist_ok=True)
        for file in library.files:
            (dirs[name] / file).write_text(text, encoding="utf-8")


def _client(libraries_from: Path) -> TestClient:
    app = FastAPI()
    install_pages(app, libraries_from=libraries_from)
    return TestClient(app)


def test_a_built_package_serves_its_own_copy_before_node_modules(tmp_path):
    _lay_out(frontend.node_modules_dirs(tmp_path), "from node_modules")
    assert _client(tmp_path).get("/vendor/chart.js/chart.umd.min.js").text == "from node_modules"
    _lay_out(frontend.vendored_dirs(tmp_path), "from the package")
    assert _client(tmp_path).get("/vendor/chart.js/chart.umd.min.js").text == "from the package"


def test_a_partial_copy_counts_as_missing(tmp_path):
    _lay_out(frontend.vendored_dirs(tmp_path), "from the package")
    (frontend.vendored_dirs(tmp_path)["maplibre-gl"] / "maplibre-gl-worker.mjs").unlink()
    assert frontend.library_dirs(tmp_path) is None


def test_without_the_libraries_the_page_says_why_and_its_forms_cannot_submit(tmp_path):
    page = _client(tmp_path).get("/")
    assert page.status_code == 200
    assert 'id="libraries-missing"' in page.text and "make setup" in page.text and "npm ci" in page.text
    assert '<form id="search-form" inert' in page.text and '<form id="period-form" inert' in page.text
    assert _client(tmp_path).get("/vendor/maplibre-gl/maplibre-gl.mjs").status_code == 404


def test_with_the_libraries_the_page_is_served_unchanged(tmp_path):
    _lay_out(frontend.vendored_dirs(tmp_path), "from the package")
    page = _client(tmp_path).get("/")
    assert "libraries-missing" not in page.text and "inert" not in page.text


def test_the_start_up_line_names_the_folder_and_the_command(tmp_path):
    message = frontend.missing_message(tmp_path)
    assert "\n" not in message and str(tmp_path) in message and f"cd {tmp_path} && npm ci" in message
