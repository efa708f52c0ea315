"""Crime harm: counts weighted by how much harm each offence does, with the range a category hides.

The default weights are the Cambridge Crime Harm Index (Sherman, Neyroud & Neyroud 2016: a crime's weight
is the starting-point custody days the sentencing guidelines give a first-time offender), 2024/25 offence
mix, as compiled in isthisben/cbl-realcrime (``harm_weights/``; no licence was stated there, so they are a
replaceable default, cited wherever shown). Three levels are read, the finest available winning:
each force's own mix per police.uk category, the national mix per category, and the offence subgroups
within a category. A user's table (``--harm FILE``, the ``harm-weights`` source spec) replaces them, at
category, force-and-category or offence level (e.g. Home Office offence codes a partner holds).

A police.uk category hides a wide range: "Violence and sexual offences" spans 10 days (common assault) to
5,475 (homicide). Every harm figure therefore comes with ``low`` and ``high``: the harm if every crime of a
category were its least or its most harmful offence. Anti-social behaviour is not a notifiable crime and
has no weight: it belongs to the nuisance domain, counted, never harm-weighted.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa

from safertogether.errors import InputFormatError
from safertogether.model.forces import force_id
from safertogether.sources.files import SourceFile, expand_paths
from safertogether.sources.parsed import ParsedFile
from safertogether.sources.spec import SourceSpec, load_spec
from safertogether.sources.tabular import read_files

#: The categories with no harm weight: reported in the nuisance domain, as counts.
NUISANCE_CATEGORIES: Final = frozenset({"Anti-social behaviour"})
DEFAULT_VERSION: Final = "CCHI 2024/25 (Cambridge Crime Harm Index; compiled in isthisben/cbl-realcrime)"
CITATION: Final = ("Sherman, L., Neyroud, P. W. & Neyroud, E. (2016). The Cambridge Crime Harm Index: measuring "
                   "total harm from crime based on sentencing guidelines. Policing 10(3), 171-183.")
_EXPECTED: Final = "a CSV of harm weights (category, cchi_days; optionally force and offence/subgroup)"


@dataclass(frozen=True)
class HarmRange:
    """Days of harm for one category: the weight used, and the least and most harmful offence within it."""

    days: float
    low: float
    high: float


@dataclass
class HarmWeights:
    """Weights by (force, category) and category, with each category's range; which table they came from."""

    version: str
    sha256: str
    national: dict[str, HarmRange]
    by_force: dict[tuple[str, str], float] = field(default_factory=dict)
    by_offence: dict[tuple[str, str], float] = field(default_factory=dict)

    def of(self, category: str, force: str | None = None) -> HarmRange | None:
        """The weight of a category (the force's own mix where known); None for ASB and unknown categories."""
        base = self.national.get(category)
        if base is None or category in NUISANCE_CATEGORIES:
            return None
        days = self.by_force.get((force_id(force) or force, category), base.days) if force else base.days
        return HarmRange(days, min(base.low, days), max(base.high, days))

    def offence(self, category: str, offence: str) -> float | None:
        """The weight of one offence (subgroup or offence code) within a category, when the table has it."""
        return self.by_offence.get((category, offence))

    def as_json(self) -> dict[str, object]:
        return {"version": self.version, "sha256": self.sha256, "citation": CITATION,
                "categories": {c: vars(r) for c, r in sorted(self.national.items())}}


@functools.cache
def harm_spec() -> SourceSpec:
    return load_spec(str(importlib.resources.files("safertogether.sources") / "specs" / "harm-weights.yaml"))


def default_harm_weights() -> HarmWeights:
    """The packaged Cambridge Crime Harm Index weights (see the module docstring)."""
    folder = importlib.resources.files("safertogether.measures") / "harm_weights"
    names = ("cchi_weights_by_category.csv", "cchi_weights_by_force_category.csv", "cchi_subgroup_weights_2024_25.csv")
    return _weights_from([Path(str(folder / n)) for n in names], DEFAULT_VERSION)


def load_harm_weights(paths: Iterable[str | Path], version: str | None = None) -> HarmWeights:
    """A user's weights (files or folders of CSV files, any of the three levels), replacing the default."""
    return _weights_from([Path(p) for p in paths], version)


def _weights_from(paths: list[Path], version: str | None) -> HarmWeights:
    sources = expand_paths(paths, lambda s: s.name.lower().endswith(".csv")) if paths else []
    if not sources:
        raise InputFormatError(f"no harm-weight CSV files in {', '.join(map(str, paths))}; expected {_EXPECTED}")
    tables = [_read(s) for s in sources]
    digest = hashlib.sha256(b"".join(bytes.fromhex(t.sha256) for t in tables)).hexdigest()
    rows = pa.concat_tables([t.rows.select(["category", "force", "offence", "days", "national_count"])
                             for t in tables]).to_pylist()
    return _assemble(rows, version or f"user table {', '.join(s.name for s in sources)}", digest)


def _read(source: SourceFile) -> ParsedFile:
    [parsed] = read_files([source], [harm_spec()], "harm weights", _EXPECTED)
    if isinstance(parsed, InputFormatError):
        raise parsed
    if parsed.quarantine.num_rows:
        bad = parsed.quarantine.slice(0, 3).to_pylist()
        raise InputFormatError(f"{source.name}: {parsed.quarantine.num_rows} row(s) of harm weights cannot be "
                               f"used, e.g. row {bad[0]['row_number']}: {bad[0]['reason']}; correct the file")
    negative = [r for r in parsed.rows.to_pylist() if r["days"] < 0]
    if negative:
        raise InputFormatError(f"{source.name}: row {negative[0]['row_number']} gives a negative weight "
                               f"({negative[0]['days']} days); weights are days of custody, 0 or more")
    return parsed


def _assemble(rows: list[Mapping[str, object]], version: str, digest: str) -> HarmWeights:
    """Category weights from category rows (else the count-weighted mean of the offence rows), force weights,
    and each category's range over its offences (just its weight when no offence rows are given)."""
    category_days: dict[str, float] = {}
    offences: dict[str, list[tuple[str, float, int]]] = {}
    by_force: dict[tuple[str, str], float] = {}
    for row in rows:
        category, days = str(row["category"]), float(row["days"])  # type: ignore[arg-type]
        if row["offence"]:
            count = int(row["national_count"] or 1)  # type: ignore[call-overload]
            offences.setdefault(category, []).append((str(row["offence"]), days, count))
        elif row["force"]:
            by_force[(force_id(str(row["force"])) or str(row["force"]), category)] = days
        else:
            category_days[category] = days
    national = {}
    for category in sorted(set(category_days) | set(offences)):
        listed = offences.get(category, [])
        mean = sum(d * n for _o, d, n in listed) / max(1, sum(n for _o, _d, n in listed)) if listed else 0.0
        days = category_days.get(category, mean)
        low = min([d for _o, d, _n in listed] + [days])
        high = max([d for _o, d, _n in listed] + [days])
        national[category] = HarmRange(round(days, 4), low, high)
    by_offence = {(c, o): d for c, listed in offences.items() for o, d, _n in listed}
    return HarmWeights(version, digest, national, by_force, by_offence)


def harm_of_counts(counts: Mapping[str, float], weights: HarmWeights, force: str | None = None) -> HarmRange:
    """Total harm (days) of crimes counted per category, with its range; ASB and unknown categories add none."""
    days = low = high = 0.0
    for category, count in counts.items():
        weight = weights.of(category, force)
        if weight is not None:
            days += count * weight.days
            low += count * weight.low
            high += count * weight.high
    return HarmRange(days, low, high)
