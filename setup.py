"""Build step: the wheel and the sdist carry the page's front-end libraries, taken from npm at build time.

Why: an installed package has no node_modules, and without MapLibre GL and Chart.js the page cannot start.
``npm ci --ignore-scripts`` installs exactly the versions in src/safertogether/web/package-lock.json, in a
temporary folder (a checkout's own node_modules is left alone), and the files the page loads
(``LIBRARIES`` in src/safertogether/web/frontend.py) are copied with their licences to
``safertogether/web/vendor/``. An unpacked sdist already holds them, so a wheel built from it needs no npm.
With neither npm nor the files, the build fails with one message saying so. Editable installs skip this step:
they serve web/node_modules (``make setup``). Metadata lives in pyproject.toml.
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import ExecError

WEB = Path(__file__).resolve().parent / "src" / "safertogether" / "web"
FRONTEND = runpy.run_path(str(WEB / "frontend.py"))
NPM_FILES = ("package.json", "package-lock.json", ".npmrc")
NO_NPM = ("npm is needed to build safertogether: the wheel and the sdist carry the page's map and chart libraries, "
          "installed by npm from src/safertogether/web/package-lock.json. Install Node.js with npm, or build from "
          "a safertogether sdist, which carries them.")


def vendor_frontend(web_copy: Path) -> None:
    """Give the build's copy of the web folder a vendor/ folder, unless the source tree (an sdist) has one."""
    if FRONTEND["is_complete"](FRONTEND["vendored_dirs"](WEB)):
        return  # package data: setuptools copies it like any other file
    with tempfile.TemporaryDirectory(prefix="safer-npm-") as folder:
        node_modules = npm_ci(Path(folder))
        copy_libraries(node_modules, web_copy / "vendor")


def npm_ci(folder: Path) -> Path:
    """Install the locked front-end packages into folder, without running their install scripts."""
    npm = shutil.which("npm")
    if npm is None:
        raise ExecError(NO_NPM)
    for name in NPM_FILES:
        shutil.copy2(WEB / name, folder / name)
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    if subprocess.run(command, cwd=folder).returncode:
        raise ExecError("`npm ci` failed for src/safertogether/web/package-lock.json (see npm's message above)")
    return folder / "node_modules"


def copy_libraries(node_modules: Path, vendor: Path) -> None:
    """Copy just the files the page loads, and each package's licence, to vendor/<package>/ (emptied first)."""
    shutil.rmtree(vendor, ignore_errors=True)  # an earlier build's build/ may hold files no longer used
    for name, library in FRONTEND["LIBRARIES"].items():
        source, target = node_modules / name, vendor / name
        target.mkdir(parents=True, exist_ok=True)
        for path in [source / library.dist / file for file in library.files] + [source / library.licence]:
            shutil.copy2(path, target / path.name)


class BuildPyWithFrontend(build_py):
    """build_py, then the front-end libraries into the wheel's copy of the package."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            vendor_frontend(Path(self.build_lib) / "safertogether" / "web")


class SdistWithFrontend(sdist):
    """sdist whose archive carries the front-end libraries, so building from it needs no npm."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        vendor_frontend(Path(base_dir) / "src" / "safertogether" / "web")


setup(cmdclass={"build_py": BuildPyWithFrontend, "sdist": SdistWithFrontend})
