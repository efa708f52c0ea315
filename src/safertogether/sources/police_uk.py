"""police.uk bulk files: street crimes, outcomes and stop-and-search, told apart by their header.

Each kind is a source spec (``specs/police-uk-*.yaml``) read by the generic tabular reader. A row
that cannot be used (no month, bad coordinates, a missing mandatory field) goes to quarantine with
its reason; everything else is kept as published, typed. ``Crime type`` values police.uk does not
use are kept and reported by ``safer quality`` rather than dropped.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Container, Sequence
from typing import Final

from safertogether.errors import InputFormatError
from safertogether.sources.files import SourceFile
from safertogether.sources.parsed import ParsedFile
from safertogether.sources.spec import SourceSpec, load_spec
from safertogether.sources.tabular import read_files

EXPECTED: Final = "a police.uk street, outcomes or stop-and-search CSV file"
KINDS: Final = ("street", "outcomes", "stop-and-search")


@functools.cache
def police_uk_specs() -> tuple[SourceSpec, ...]:
    """The specs of the three police.uk file kinds, in the order a header is tried against them."""
    folder = importlib.resources.files("safertogether.sources") / "specs"
    return tuple(load_spec(str(folder / f"police-uk-{kind}.yaml")) for kind in KINDS)


def read_police_uk(source: SourceFile, known: Container[str] = frozenset()) -> ParsedFile:
    """Read one police.uk file (any of the three kinds) into rows to store and rows to quarantine."""
    [outcome] = read_police_uk_files([source], known)
    if isinstance(outcome, InputFormatError):
        raise outcome
    return outcome


def read_police_uk_files(
    sources: Sequence[SourceFile], known: Container[str] = frozenset()
) -> list[ParsedFile | InputFormatError]:
    """Read several police.uk files (see :func:`safertogether.sources.tabular.read_files`)."""
    return read_files(sources, police_uk_specs(), "police.uk", EXPECTED, known)
