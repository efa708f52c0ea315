"""Where source files come from: single files, folders, and zip archives read in place."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import weakref
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from safertogether.errors import InputFormatError

_POLICE_UK_NAME = re.compile(
    r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z0-9-]+?)-(?P<kind>street|outcomes|stop-and-search)\.csv$"
)


@dataclass(frozen=True)
class SourceFile:
    """One file to import: a name for people and provenance, and a way to read its bytes."""

    name: str
    size: int
    _read: Callable[[], bytes] = field(repr=False, compare=False)

    def read_bytes(self) -> bytes:
        return self._read()

    @property
    def police_uk_name(self) -> tuple[str, str, str] | None:
        """(month, force id, kind) when the file is named as police.uk names its bulk files."""
        match = _POLICE_UK_NAME.search(self.name.rsplit("/", 1)[-1])
        return (match["month"], match["force"], match["kind"]) if match else None


def sha256_hex(data: bytes) -> str:
    """The file fingerprint kept as provenance and used to recognise a file seen before."""
    return hashlib.sha256(data).hexdigest()


def _from_path(path: Path) -> SourceFile:
    def read() -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InputFormatError(f"{path}: cannot be read ({exc.strerror}); check it exists and is readable") from exc

    return SourceFile(str(path), path.stat().st_size, read)


class _Archive:
    """One open zip shared by the reads of all its members.

    Re-opening the archive for each member re-reads its central directory, which for police.uk's
    full archive (thousands of members) costs more than the reads. ``ZipFile`` serialises reads of
    a shared archive itself, so reader threads may share it; it is closed when no member needs it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._lock = threading.Lock()

    def read(self, member: zipfile.ZipInfo) -> bytes:
        try:
            with self._lock:
                if self._zip is None:
                    self._zip = zipfile.ZipFile(self.path)
                    weakref.finalize(self, self._zip.close)
            return self._zip.read(member)
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
            raise InputFormatError(
                f"{self.path}!{member.filename}: corrupt member in zip archive ({exc}); download the archive again"
            ) from exc


def _from_zip(path: Path, keep: Callable[[SourceFile], bool]) -> list[SourceFile]:
    try:
        with zipfile.ZipFile(path) as listing:
            members = [m for m in listing.infolist() if not m.is_dir() and m.filename.lower().endswith(".csv")]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputFormatError(
            f"{path}: not a readable zip archive ({exc}); download the archive again or unzip it and import the folder"
        ) from exc
    archive = _Archive(path)
    files = [SourceFile(f"{path}!{m.filename}", m.file_size, functools.partial(archive.read, m)) for m in members]
    return sorted((f for f in files if keep(f)), key=lambda f: f.name)


def expand_paths(
    paths: Sequence[str | Path], keep: Callable[[SourceFile], bool] = lambda _f: True
) -> list[SourceFile]:
    """Every importable file under ``paths``: files as given, ``*.csv`` in folders, CSV members of zips.

    ``keep`` filters files found in folders and archives (for example by force and month); files named
    one by one are always kept. A path that does not exist raises :class:`InputFormatError`.
    """
    found: list[SourceFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [f for f in map(_from_path, sorted(path.rglob("*.csv"))) if keep(f)]
            for archive in sorted(path.rglob("*.zip")):
                found += _from_zip(archive, keep)
        elif path.is_file() and (zipfile.is_zipfile(path) or path.suffix.lower() == ".zip"):
            found += _from_zip(path, keep)
        elif path.is_file():
            found.append(_from_path(path))
        elif path.suffix.lower() == ".zip" and not path.exists():
            raise InputFormatError(f"{path}: no such file; check the path to the downloaded archive")
        else:
            raise InputFormatError(f"{path}: no such file or folder; give a police.uk CSV, a folder or a zip")
    return _unique(found)


def _unique(files: Iterable[SourceFile]) -> list[SourceFile]:
    seen: set[str] = set()
    return [f for f in files if not (f.name in seen or seen.add(f.name))]  # type: ignore[func-returns-value]
