"""`make test-wheel`: the browser test against the page served by an installed wheel, as a user would install it.

Builds the sdist from the checkout (npm runs here), then the wheel from the unpacked sdist with no npm on PATH;
installs it into a fresh virtual environment (runtime dependencies from requirements.lock with hashes, then the
wheel alone); imports the City of London data with the installed `safer` into a temporary warehouse; serves it
with the installed `safer serve`, run from a temporary folder with only the new environment on PATH (no node);
and runs tests/test_browser.py against that server (SAFER_TEST_SERVER_URL, SAFER_TEST_SERVER_DB).

    python tests/installed_wheel.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import email
import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements.lock"


def run(command: list[str | Path], **options: Any) -> str:
    """Run a command quietly; on failure show what it said, then stop."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **options)
    if result.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def isolated_env(bin_dir: Path, home: Path) -> dict[str, str]:
    """An environment whose PATH is one folder only, which must not hold node: nothing can reach Node.js."""
    assert shutil.which("node", path=str(bin_dir)) is None and shutil.which("npm", path=str(bin_dir)) is None
    return {"PATH": str(bin_dir), "HOME": str(home), "LANG": "C.UTF-8"}


def build_hook(hook: str, source: Path, out: Path, env: dict[str, str] | None = None) -> Path:
    """Call setuptools' PEP 517 hook in the checkout's environment (its build tools come from the hashed lock)."""
    code = f"from setuptools import build_meta as b; print(b.{hook}({str(out)!r}))"
    return out / run([sys.executable, "-c", code], cwd=source, env=env).split()[-1]


def build_wheel_from_sdist(out: Path) -> Path:
    """The sdist from the checkout, then the wheel from the unpacked sdist with no npm within reach."""
    sdist = build_hook("build_sdist", REPO, out)
    with tarfile.open(sdist) as archive:
        archive.extractall(out, filter="data")
    unpacked = out / sdist.name.removesuffix(".tar.gz")
    return build_hook("build_wheel", unpacked, out, isolated_env(Path(sys.executable).parent, out))


def runtime_requirements(wheel: Path) -> set[str]:
    """The wheel's runtime dependencies and theirs, as installed in this (the checkout's) environment."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        pending = needed(email.message_from_bytes(archive.read(metadata)).get_all("Requires-Dist"), set())
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key not in seen:
            seen.add(key)
            pending += needed(importlib.metadata.requires(requirement.name), set(requirement.extras))
    return {name for name, _ in seen}


def needed(requirements: list[str] | None, extras: set[str]) -> list[Requirement]:
    """The requirements that apply here with these extras (the base install is the extra "")."""
    parsed = [Requirement(text) for text in requirements or ()]
    return [r for r in parsed if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras | {""})]


def runtime_lock(wheel: Path, path: Path) -> Path:
    """requirements.lock cut down to the runtime dependencies, pins and hashes unchanged."""
    names = runtime_requirements(wheel)
    entries = re.split(r"\n(?=\S)", LOCK.read_text(encoding="utf-8"))
    kept = [e for e in entries if (m := re.match(r"[A-Za-z0-9._-]+", e)) and canonicalize_name(m[0]) in names]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def install(wheel: Path, venv: Path) -> Path:
    """A fresh virtual environment with the locked runtime dependencies, then the wheel without dependencies."""
    run([sys.executable, "-m", "venv", venv])
    # --no-compile: byte-compiling the 800 MB of dependencies took 30 s of 80 here; Python compiles on import.
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    run([*pip, "--require-hashes", "-r", runtime_lock(wheel, venv / "runtime.lock")])
    run([*pip, "--no-deps", wheel])
    return venv / "bin"


def import_city_of_london(bin_dir: Path, data: Path, db: Path, env: dict[str, str]) -> None:
    """What the browser test needs, imported by the installed `safer`: boundaries, lookup, population, crimes."""
    boundaries, police = data / "boundaries", data / "police-uk"
    for command in (["boundaries", boundaries / "lsoa-2011-ew.geojson"],
                    ["lookup", boundaries / "lsoa-2011-police-force-lookup.csv"],
                    ["population", boundaries / "lsoa-2011-census-population.csv"],
                    ["police-uk", police / "city-of-london"],
                    ["police-uk", police / "2023-03-multiforce", "--force", "city-of-london"]):
        run([bin_dir / "safer", "import", *command, "--db", db, "--json"], cwd=db.parent, env=env)


@contextmanager
def installed_server(bin_dir: Path, db: Path, env: dict[str, str]) -> Iterator[str]:
    """The installed `safer serve` on a free port, run from outside the checkout; checks it warned of nothing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([bin_dir / "safer", "serve", "--db", db, "--port", str(port)], cwd=db.parent,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, server)
        yield url
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "warning" not in stderr, f"the installed server warned: {stderr}"


def wait_until_serving(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, f"safer serve stopped: {server.communicate()}"
        assert time.monotonic() < deadline, "safer serve did not answer within 60 s"
        try:
            httpx.get(url + "/api/meta", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)


def check_served_from_the_package(url: str, bin_dir: Path, env: dict[str, str]) -> None:
    """The libraries come from inside the installed package: only its copy carries the licences."""
    where = run([bin_dir / "python", "-c", "from safertogether.web import frontend; print(frontend.WEB_DIR)"],
                cwd=env["HOME"], env=env).strip()
    assert where.startswith(str(bin_dir.parent)), f"safertogether imported from {where}, not the new environment"
    licence = httpx.get(url + "/vendor/maplibre-gl/LICENSE.txt")
    assert licence.status_code == 200 and "MapLibre" in licence.text, licence.status_code


def browser_test(url: str, db: Path) -> None:
    """tests/test_browser.py against the installed server (the checkout only drives Chromium and reads the db)."""
    env = {**os.environ, "SAFER_TEST_SERVER_URL": url, "SAFER_TEST_SERVER_DB": str(db)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_browser.py",
               "-k", "not without_npm and not police_uk_files_alone"]
    if subprocess.run(command, cwd=REPO, env=env).returncode:
        sys.exit("the browser test failed against the installed wheel's server")


@contextmanager
def step(name: str) -> Iterator[None]:
    start = time.monotonic()
    yield
    print(f"test-wheel: {name} in {time.monotonic() - start:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder")
    data = parser.parse_args().data.resolve()
    with tempfile.TemporaryDirectory(prefix="safer-wheel-") as folder, step("all"):
        work = Path(folder)
        with step("sdist, then the wheel from it without npm"):
            wheel = build_wheel_from_sdist(work / "dist")
        print(f"test-wheel: {wheel.name} is {wheel.stat().st_size / 1e6:.2f} MB", flush=True)
        with step("fresh virtual environment"):
            bin_dir = install(wheel, work / "venv")
        env = isolated_env(bin_dir, work)
        with step("import with the installed safer"):
            import_city_of_london(bin_dir, data, work / "safer.duckdb", env)
        with step("browser test against the installed safer serve"), \
                installed_server(bin_dir, work / "safer.duckdb", env) as url:
            check_served_from_the_package(url, bin_dir, env)
            browser_test(url, work / "safer.duckdb")


if __name__ == "__main__":
    main()
