"""The registry of public datasets: what `safer publish` writes, each built from released cells.

A dataset is a name, a description of its columns and a function from (warehouse, policy, level) to an
Arrow table with at least ``area`` and ``area_name`` columns. The function must read counts only through
:func:`safertogether.disclosure.releases.public_cells` (or another registered dataset): that is what makes
it safe to publish. Another capability adds its tables with :func:`register` at import time of its
``publish`` hook module, listed in :data:`HOOK_MODULES` (the Community Safety Index's, when it merges).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from safertogether.disclosure.policy import Policy
from safertogether.store.warehouse import Warehouse

Levels = tuple[str, ...]
LEVELS: Final[Levels] = ("lsoa", "msoa", "lad", "force")


@dataclass(frozen=True)
class PublicDataset:
    """One public table, written once per area level it supports."""

    name: str
    title: str
    columns: dict[str, str]  # column -> what it means, for the manifest
    build: Callable[[Warehouse, Policy, str], pa.Table | None]  # None: nothing of this level to publish
    levels: Levels = LEVELS
    geojson: bool = True  # also written as GeoJSON (one feature per area; needs ``area`` codes with shapes)
    period_column: str = "month"  # in GeoJSON, each value becomes a property per period: ``<column>_<period>``


DATASETS: dict[str, PublicDataset] = {}

#: Modules whose import registers more datasets; a missing one (a capability not installed) is skipped.
HOOK_MODULES: Final = ("safertogether.publish.crime_datasets", "safertogether.index.publish")


def register(dataset: PublicDataset) -> PublicDataset:
    """Add (or replace, by name) a public dataset."""
    DATASETS[dataset.name] = dataset
    return dataset


def registered_datasets() -> dict[str, PublicDataset]:
    """Every registered dataset, after loading the hook modules that exist."""
    for module in HOOK_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
    return dict(DATASETS)
