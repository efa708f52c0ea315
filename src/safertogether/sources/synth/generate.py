"""``safer synth partners``: a county's synthetic partner extracts, their mappings and the hidden truth.

The output folder holds one mapping file per extract (``DIR/*.yaml``, so ``safer import partner
DIR/*.yaml`` imports everything), the extracts in a folder per agency, and ``truth/``: who, where
and what is really behind every record. A linker must never read ``truth/``; an evaluation does.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safertogether.sources.synth import writing
from safertogether.sources.synth.agencies import BUILDERS, Built, World
from safertogether.sources.synth.error_model import QUARANTINING_ERRORS, ErrorModel
from safertogether.sources.synth.incidents import SERVICES, Incidents, make_incidents
from safertogether.sources.synth.population import Population, make_population
from safertogether.sources.synth.records import address_lines
from safertogether.sources.synth.streets import Streets, load_streets


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. The same config (seed included) gives the same bytes."""

    people: int = 50_000
    seed: int = 1
    force: str = "leicestershire"
    data: Path = Path("../shared/data")
    start: dt.date = dt.date(2020, 1, 1)
    end: dt.date = dt.date(2022, 12, 31)
    errors: ErrorModel = field(default_factory=ErrorModel)

    def as_dict(self) -> dict[str, Any]:
        return {"people": self.people, "seed": self.seed, "force": self.force, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "errors": self.errors.as_dict()}


@dataclass
class SynthSummary:
    out: Path
    people: int
    addresses: int
    incidents: int
    records: dict[str, int] = field(default_factory=dict)  # per extract
    agencies: dict[str, int] = field(default_factory=dict)  # records per agency
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "people": self.people, "addresses": self.addresses,
                "incidents": self.incidents, "records": self.records, "agencies": self.agencies,
                "files": [str(f) for f in self.files], "seconds": round(self.seconds, 2)}


def generate_partners(
    config: SynthConfig, out: Path, on_step: Callable[[str, int, int], None] | None = None
) -> SynthSummary:
    """Generate every agency's extracts with their mappings, and the truth, into ``out``.

    ``on_step(what, done, total)`` is told as each step begins (a progress bar for a long run).
    """
    total = 4 + len(BUILDERS)
    step = on_step or (lambda _what, _done, _total: None)
    began = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    start, end = np.datetime64(config.start, "D"), np.datetime64(config.end, "D")
    step("reading streets", 0, total)
    streets = load_streets(Path(config.data), config.force)
    step("making people and homes", 1, total)
    pop = make_population(rng, config.people, streets, start, end)
    step("making incidents", 2, total)
    incidents = make_incidents(rng, pop, streets, start, end)
    world = World(rng, pop, streets, incidents, config.errors, start, end)
    summary = SynthSummary(out, len(pop), len(pop.addresses.street), len(incidents))
    truth = writing.TableWriter(out / "truth" / "records.parquet")
    for n, builder in enumerate(BUILDERS):  # one agency at a time: only its values are in memory
        step(f"writing {builder.__name__.removeprefix('build_').replace('_', ' ')}", 3 + n, total)
        _write_agency(out, builder(world), summary, truth)
    step("writing the truth", total - 1, total)
    truth.close()
    summary.files += [truth.path, *_write_truth(out, config, pop, streets, incidents)]
    summary.seconds = time.perf_counter() - began
    return summary


def _write_agency(out: Path, built: list[Built], summary: SynthSummary, truth: writing.TableWriter) -> None:
    """An agency's extracts and mappings, its records' truth, and their counts in the summary."""
    by_file: dict[str, list[tuple[str, dict[str, list[Any]]]]] = defaultdict(list)
    for extract, values, record_truth in built:
        by_file[extract.file].append((extract.sheet or extract.name, writing.extract_columns(extract, values)))
        summary.files.append(writing.write_mapping(out, extract))
        rows = len(record_truth["record_id"])
        summary.records[extract.name] = rows
        summary.agencies[extract.agency.agency] = summary.agencies.get(extract.agency.agency, 0) + rows
        truth.write(_labelled(extract.agency.agency, extract.name, extract.target, record_truth))
    for file, sheets in by_file.items():
        if file.endswith(".xlsx"):
            writing.write_workbook(out / file, sheets)
        else:
            writing.write_csv(out / file, sheets[0][1])
        summary.files.append(out / file)


def _labelled(agency: str, extract: str, target: str, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(truth["record_id"])
    errors = truth["errors"]
    quarantined = np.array([any(e in QUARANTINING_ERRORS for e in text.split(";")) for text in errors], dtype=bool)
    return {"agency": np.full(n, agency, dtype=object), "extract": np.full(n, extract, dtype=object),
            "target": np.full(n, target, dtype=object), **truth, "quarantined_on_purpose": quarantined}


def _write_truth(out: Path, config: SynthConfig, pop: Population, streets: Streets, incidents: Incidents
                 ) -> list[Path]:
    folder = out / "truth"
    tables = {
        "people": lambda: _people(pop),
        "addresses": lambda: _addresses(pop, streets),
        "residences": lambda: _residences(pop),
        "incidents": lambda: _incidents(incidents),
    }
    paths = []
    for name, make in tables.items():
        writing.write_table(folder / f"{name}.parquet", make())
        paths.append(folder / f"{name}.parquet")
    writing.write_json(folder / "settings.json", config.as_dict())
    return [*paths, folder / "settings.json"]


def _people(pop: Population) -> dict[str, np.ndarray]:
    birth = pop.birth_surname
    return {"person_id": np.arange(len(pop)), "household_id": pop.household,
            "forename": pop.forenames[pop.forename],
            "middle_names": np.where(pop.middle_name >= 0, pop.forenames[np.maximum(pop.middle_name, 0)], None),
            "surname": pop.surnames[pop.surname],
            "birth_surname": np.where(birth >= 0, pop.surnames[np.maximum(birth, 0)], None),
            "sex": np.where(pop.sex == 0, "female", "male").astype(object), "date_of_birth": pop.dob,
            "twin": pop.twin}


def _addresses(pop: Population, streets: Streets) -> dict[str, np.ndarray]:
    a = pop.addresses
    slots = np.arange(len(a.street))
    return {"address_id": slots, "lsoa_code": streets.lsoa[a.street], "street": streets.name[a.street],
            "number": a.number, "flat": a.flat, "town": streets.town[a.street],
            "postcode": streets.postcode[a.street], "address": address_lines(pop, streets, slots),
            "longitude": a.lon, "latitude": a.lat}


def _residences(pop: Population) -> dict[str, np.ndarray]:
    """Each person's homes in turn, with the day they moved in (NaT: before the period) and out."""
    moves = (~np.isnat(pop.move_dates)).sum(axis=1)[pop.household]
    person = np.repeat(np.arange(len(pop)), moves + 1)
    k = np.arange(len(person)) - np.repeat(np.cumsum(moves + 1) - (moves + 1), moves + 1)
    dates = pop.move_dates[pop.household[person]]
    nat = np.datetime64("NaT", "D")
    moved_in = np.where(k > 0, dates[np.arange(len(person)), np.maximum(k - 1, 0)], nat)
    last = k == moves[person]
    moved_out = np.where(last, nat, dates[np.arange(len(person)), np.minimum(k, 1)])
    return {"person_id": person, "address_id": pop.slot_start[pop.household[person]] + k,
            "moved_in": moved_in, "moved_out": moved_out}


def _incidents(incidents: Incidents) -> dict[str, np.ndarray]:
    services = np.full(len(incidents), "", dtype=object)
    for service in SERVICES:
        services = services + np.where(incidents.attended[service], service + ",", "")
    return {"incident_id": np.arange(len(incidents)), "kind": incidents.kind, "started_at": incidents.started_at,
            "address_id": incidents.slot, "longitude": incidents.lon, "latitude": incidents.lat,
            "domestic_abuse": incidents.flag("domestic_abuse"), "mental_health": incidents.flag("mental_health"),
            "principal_id": incidents.principal, "other_id": incidents.other, "witness_id": incidents.witness,
            "services": np.array([s.rstrip(",") for s in services], dtype=object)}
