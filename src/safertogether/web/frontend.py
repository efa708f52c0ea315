"""The page's front-end libraries (from npm): which files the page loads and where a server finds them.

A built package (wheel, sdist) carries them in ``web/vendor/<package>/``, copied from npm at build time by
``setup.py``; a checkout after ``make setup`` has them in ``web/node_modules/<package>/dist/``. This module uses
the standard library only, because ``setup.py`` reads ``LIBRARIES`` from it before anything is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

WEB_DIR = Path(__file__).resolve().parent


class Library(NamedTuple):
    """One npm package: its folder the page loads from, the files it loads and the licence shipped with them."""

    dist: str
    files: tuple[str, ...]
    licence: str


#: npm package -> what the page takes from it, served at /vendor/<package>/<file>.
#: Source maps (4x the size) are left out: only a browser's developer tools ask for them.
LIBRARIES: dict[str, Library] = {
    "maplibre-gl": Library("dist", ("maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"), "LICENSE.txt"),
    "chart.js": Library("dist", ("chart.umd.min.js",), "LICENSE.md"),
}


def vendored_dirs(web_dir: Path = WEB_DIR) -> dict[str, Path]:
    """Where a built package keeps each library (the files and the licence side by side)."""
    return {name: web_dir / "vendor" / name for name in LIBRARIES}


def node_modules_dirs(web_dir: Path = WEB_DIR) -> dict[str, Path]:
    """Where ``npm ci`` in the web folder of a checkout puts each library's files."""
    return {name: web_dir / "node_modules" / name / library.dist for name, library in LIBRARIES.items()}


def is_complete(dirs: dict[str, Path]) -> bool:
    """Whether every file the page loads is there: a partial copy would break the page as surely as none."""
    return all((dirs[name] / file).is_file() for name, library in LIBRARIES.items() for file in library.files)


def library_dirs(web_dir: Path = WEB_DIR) -> dict[str, Path] | None:
    """The folder to serve at /vendor/<package>/ for each library, the packaged copy first; None if neither is whole.

    >>> library_dirs(Path("/nowhere")) is None
    True
    """
    for dirs in (vendored_dirs(web_dir), node_modules_dirs(web_dir)):
        if is_complete(dirs):
            return dirs
    return None


def missing_message(web_dir: Path = WEB_DIR) -> str:
    """One line telling the user what is missing and the command that fetches it."""
    return (f"the page's map and chart libraries (MapLibre GL, Chart.js) are not installed in {web_dir}, so the page "
            f"shows a notice instead of the map: run `make setup` in the checkout, or `cd {web_dir} && npm ci`")
