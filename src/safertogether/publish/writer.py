"""`safer publish`: every registered dataset as CSV and GeoJSON per area level, with a manifest.

The output is reproducible: the same warehouse contents and policy give byte-identical files (rows
sorted, no timestamps; a random-rounding seed or a stored DP release fixes what is random). The manifest
names the policy, the data version, the attribution and licence, and every file's SHA-256 (also in
``SHA256SUMS``, for ``sha256sum -c``).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

from safertogether.disclosure.policy import Policy
from safertogether.disclosure.releases import ReleaseRecord, data_version, release
from safertogether.errors import SaferError
from safertogether.measures.cube import CUBE_SQL
from safertogether.model.attribution import ATTRIBUTION
from safertogether.publish.geometry import area_geometries
from safertogether.publish.registry import PublicDataset, registered_datasets
from safertogether.store.warehouse import Warehouse

LICENCE: Final = {"name": "Open Government Licence v3.0", "url": ATTRIBUTION["licence_url"],
                  "attribution": ATTRIBUTION["text"]}


class PersonDataError(SaferError, RuntimeError):
    """A dataset about to be published has a column that could hold person data."""


@dataclass
class PublishResult:
    out: Path
    manifest: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def person_columns() -> frozenset[str]:
    """Column names of the person-level tables (and alerts' e-mail addresses): never in a public file."""
    from safertogether.model.records import RECORD_TABLES

    names = {name for record in RECORD_TABLES.values() for name in record.model_fields}
    allowed = {"agency", "category", "kind", "outcome", "month", "lsoa_code", "area", "area_name"}
    return frozenset(names - allowed | {"email", "email_hash", "subscription_id"})


def publish(warehouse: Warehouse, out: Path, policy: Policy, levels: tuple[str, ...] | None = None,
            progress: Callable[[str], None] | None = None) -> PublishResult:
    """Write the public datasets under ``policy`` into ``out`` (created; files there of the same name replaced).

    Written to a temporary folder beside ``out`` and moved into place, so a failure leaves ``out`` as it was.
    A ``dp`` policy draws (and records) its release first, spending epsilon once per data version.
    """
    # The API's figures come from all three fine tables: release each (a dp policy spends epsilon on each).
    releases = [release(warehouse, policy, dataset) for dataset in CUBE_SQL]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".publish-", dir=out))
    try:
        entries = []
        for dataset in registered_datasets().values():
            for level in dataset.levels:
                if levels and level not in levels:
                    continue
                if progress:
                    progress(f"{dataset.name} ({level})")
                entries += _write_dataset(warehouse, policy, dataset, level, staging)
        manifest = _manifest(warehouse, policy, releases, entries)
        (staging / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        (staging / "SHA256SUMS").write_text("".join(f"{e['sha256']}  {e['file']}\n" for e in entries))
        (staging / "LICENCE.txt").write_text(f"{LICENCE['attribution']}\n{LICENCE['url']}\n")
        files = []
        for item in sorted(staging.iterdir()):
            target = out / item.name
            item.replace(target)
            files.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PublishResult(out, manifest, files)


def _write_dataset(warehouse: Warehouse, policy: Policy, dataset: PublicDataset, level: str,
                   folder: Path) -> list[dict[str, Any]]:
    table = dataset.build(warehouse, policy, level)
    if table is None:
        return []
    leaked = sorted(set(table.column_names) & person_columns())
    if leaked:
        raise PersonDataError(f"dataset {dataset.name} has column(s) {', '.join(leaked)} that may hold person "
                              "data; public datasets hold counts per area only. Remove them from its build.")
    stem = f"{dataset.name}-{level}"
    written = [_entry(folder / f"{stem}.csv", dataset, level, "csv", table.num_rows, _write_csv(table))]
    if dataset.geojson:
        features = _features(warehouse, table, level, dataset.period_column)
        body = orjson.dumps({"type": "FeatureCollection", "name": stem, "attribution": ATTRIBUTION["text"],
                             "features": features})
        written.append(_entry(folder / f"{stem}.geojson", dataset, level, "geojson", len(features), body))
    for entry in written:
        (folder / entry["file"]).write_bytes(entry.pop("_body"))
    return written


def _write_csv(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _entry(path: Path, dataset: PublicDataset, level: str, fmt: str, rows: int, body: bytes) -> dict[str, Any]:
    return {"file": path.name, "dataset": dataset.name, "title": dataset.title, "level": level, "format": fmt,
            "rows": rows, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
            "columns": dataset.columns, "_body": body}


def _features(warehouse: Warehouse, table: pa.Table, level: str, period: str = "month") -> list[dict[str, Any]]:
    """One feature per area; a table's value columns per period become ``<column>_<YYYY_MM>`` (or
    ``<column>_<YYYY>``) properties."""
    shapes = area_geometries(warehouse, level)
    by_area: dict[str, dict[str, Any]] = {}
    values = [c for c in table.column_names if c not in ("area", "area_name", period)]
    for row in table.to_pylist():
        props = by_area.setdefault(row["area"], {"area": row["area"], "area_name": row["area_name"]})
        suffix = f"_{str(row[period]).replace('-', '_')}" if period in row else ""
        props.update({f"{c}{suffix}": row[c] for c in values})
    return [{"type": "Feature", "id": code, "properties": props, "geometry": shapes.get(code)}
            for code, props in sorted(by_area.items())]


def _manifest(warehouse: Warehouse, policy: Policy, releases: list[ReleaseRecord],
              entries: list[dict[str, Any]]) -> dict[str, Any]:
    from safertogether import __version__

    return {
        "title": "Safer Together public datasets",
        "data_version": data_version(warehouse),
        "months": warehouse.row("SELECT strftime(min(month), '%Y-%m'), strftime(max(month), '%Y-%m') "
                                "FROM force_months"),
        "disclosure_policy": policy.as_json(),
        "releases": [{"id": r.release_id, "dataset": r.dataset, "epsilon_spent": r.epsilon, "reused": r.reused}
                     for r in releases if policy.rule == "dp"],
        "licence": LICENCE,
        "locations_and_time": "police.uk's monthly resolution is kept; no point locations are published here",
        "generator": f"safertogether {__version__}",
        "files": entries,
    }
