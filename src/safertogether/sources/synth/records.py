"""From who was involved in what to the values an agency's system holds, errors and all, and the truth of each.

A :class:`PersonDraft` says which person an agency recorded, when, in what role and about which
incident; :func:`person_values` turns it into what the agency's record says — the name, date of
birth and address as the error model (:mod:`.error_model`) garbles them, the address the person
lived at on the day (or the one before, for an out-of-date record) — and the truth behind every row.
:func:`incident_values` does the same for a service's log of incidents: its own times (minutes
after the event) and coordinates (jittered), and the place's address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from safertogether.sources.synth.corruption import (
    ABBREVIATIONS,
    TYPOS,
    abbreviate,
    day_and_month,
    flat_variant,
    swap_day_month,
)
from safertogether.sources.synth.error_model import ErrorModel
from safertogether.sources.synth.incidents import Incidents
from safertogether.sources.synth.names import NICKNAMES
from safertogether.sources.synth.population import Population
from safertogether.sources.synth.streets import Streets

Values = dict[str, np.ndarray]


@dataclass(frozen=True)
class PersonDraft:
    person: np.ndarray
    when: np.ndarray  # datetime64[D]: the day of the record
    role: np.ndarray  # our role code
    incident: np.ndarray  # the real incident, -1: none
    incident_ref: np.ndarray  # the agency's reference of it ('' none)

    def __add__(self, other: PersonDraft) -> PersonDraft:
        return PersonDraft(*(np.concatenate([a, b]) for a, b in zip(self._parts(), other._parts(), strict=True)))

    def _parts(self) -> tuple[np.ndarray, ...]:
        return self.person, self.when, self.role, self.incident, self.incident_ref

    def take(self, rows: np.ndarray) -> PersonDraft:
        return PersonDraft(*(a[rows] for a in self._parts()))


class _Errors:
    """Which errors each record carries, as one mask per error."""

    def __init__(self, rng: np.random.Generator, model: ErrorModel, n: int) -> None:
        self.rng, self.model, self.n = rng, model, n
        self.masks: dict[str, np.ndarray] = {}

    def draw(self, name: str, eligible: np.ndarray | bool = True) -> np.ndarray:
        mask = (self.rng.random(self.n) < getattr(self.model, name)) & eligible
        self.masks[name] = self.masks.get(name, np.zeros(self.n, bool)) | mask
        return mask

    def text(self) -> np.ndarray:
        out = np.full(self.n, "", dtype=object)
        for name, mask in self.masks.items():
            out = out + np.where(mask, name + ";", "")
        return np.array([t.rstrip(";") for t in out], dtype=object)


def ids(prefix: str, count: int, start: int = 1, width: int = 7) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(start, start + count)], dtype=object)


def person_values(rng: np.random.Generator, draft: PersonDraft, pop: Population, streets: Streets,
                  model: ErrorModel, prefix: str) -> tuple[Values, Values]:
    """The values an agency's person records show (keyed by record field) and the truth behind each row."""
    draft, duplicate_of = _with_duplicates(rng, draft, model.duplicate)
    n = len(draft.person)
    errors = _Errors(rng, model, n)
    errors.masks["duplicate"] = duplicate_of >= 0
    record_id = ids(prefix, n)
    values: Values = {"record_id": record_id, "role": draft.role, "incident_ref": draft.incident_ref,
                      "recorded_on": draft.when, "sex": np.where(pop.sex[draft.person] == 0, "female", "male")}
    values |= _names(rng, draft.person, pop, errors)
    values |= _date_of_birth(draft.person, pop, errors)
    address, slot = _address(rng, draft, pop, streets, errors)
    values |= address
    truth = {"record_id": record_id, "person_id": draft.person, "incident_id": draft.incident, "address_id": slot,
             "errors": errors.text(),
             "duplicate_of": np.where(duplicate_of >= 0, record_id[np.maximum(duplicate_of, 0)], "")}
    return values, truth


def _with_duplicates(rng: np.random.Generator, draft: PersonDraft, rate: float) -> tuple[PersonDraft, np.ndarray]:
    """Some rows twice, the copy right after its original's day (exports list records by date)."""
    n = len(draft.person)
    copies = np.flatnonzero(rng.random(n) < rate)
    rows = np.concatenate([np.arange(n), copies])
    original = np.concatenate([np.full(n, -1), copies])
    order = np.lexsort((np.arange(len(rows)), draft.when[rows]))
    rows, original = rows[order], original[order]
    position = np.empty(len(rows), dtype=np.int64)
    position[order] = np.arange(len(rows))
    duplicate_of = np.where(original >= 0, position[np.maximum(original, 0)], -1)
    return draft.take(rows), duplicate_of


def _names(rng: np.random.Generator, person: np.ndarray, pop: Population, errors: _Errors) -> Values:
    forename = pop.forenames[pop.forename[person]]
    surname = pop.surnames[pop.surname[person]]
    middle = np.where(pop.middle_name[person] >= 0, pop.forenames[np.maximum(pop.middle_name[person], 0)], "")
    for i in np.flatnonzero(errors.draw("nickname", np.isin(forename, list(NICKNAMES)))):
        options = NICKNAMES[forename[i]]
        forename[i] = options[int(rng.integers(len(options)))]
    birth = pop.birth_surname[person]
    married = errors.draw("married_surname", birth >= 0)
    hyphenated = married & (rng.random(len(person)) < 0.5)
    surname = np.where(married, pop.surnames[np.maximum(birth, 0)], surname)
    surname = np.where(hyphenated, surname + "-" + pop.surnames[pop.surname[person]], surname)
    for name, typo in TYPOS.items():
        _typo(rng, errors.draw(name), typo, forename, surname)
    swapped = errors.draw("swapped_names")
    forename, surname = np.where(swapped, surname, forename), np.where(swapped, forename, surname)
    forename = np.where(errors.draw("missing_forename"), "", forename)
    return {"forename": forename, "middle_names": middle, "surname": surname}


def _typo(rng: np.random.Generator, mask: np.ndarray, typo: Callable[[str, np.random.Generator], str],
          forename: np.ndarray, surname: np.ndarray) -> None:
    for i in np.flatnonzero(mask):
        names = forename if rng.random() < 0.5 else surname
        names[i] = typo(names[i], rng)


def _date_of_birth(person: np.ndarray, pop: Population, errors: _Errors) -> Values:
    dob = pop.dob[person].copy()
    day, month = day_and_month(dob)
    swap = errors.draw("day_month_swap", (day <= 12) & (day != month))
    dob[swap] = swap_day_month(dob[swap])
    dob[errors.draw("missing_dob")] = np.datetime64("NaT")
    unreadable = errors.draw("unreadable_dob", ~np.isnat(dob))
    return {"date_of_birth": dob, "date_of_birth_unreadable": unreadable}


def _address(rng: np.random.Generator, draft: PersonDraft, pop: Population, streets: Streets,
             errors: _Errors) -> tuple[Values, np.ndarray]:
    slot = pop.slot_at(draft.person, draft.when)
    previous = pop.previous_slot(draft.person, draft.when)
    old = errors.draw("old_address", previous >= 0)
    slot = np.where(old, previous, slot)
    street = pop.addresses.street[slot]
    flat = pop.addresses.flat[slot]
    abbreviable = np.array([n.rpartition(" ")[2] in ABBREVIATIONS for n in streets.name])[street]
    short = errors.draw("address_abbreviation", abbreviable)
    variant = errors.draw("address_flat_variant", flat > 0)
    lines = address_lines(pop, streets, slot)
    for i in np.flatnonzero(short | variant):
        start = flat_variant(int(flat[i]), int(pop.addresses.number[slot[i]]), rng) if variant[i] else None
        lines[i] = _varied(lines[i], streets.name[street[i]], start, short[i])
    postcode = np.where(errors.draw("missing_postcode"), "", streets.postcode[street])
    return {"address": lines, "postcode": postcode}, slot


def _varied(line: str, street: str, start: str | None, short: bool) -> str:
    if start is not None:
        line = start + line[line.index(street):]
    return line.replace(street, abbreviate(street), 1) if short else line


def address_lines(pop: Population, streets: Streets, slot: np.ndarray) -> np.ndarray:
    """The address of each slot as its residents would write it: "Flat 2, 14 Hobill Close, Blaby"."""
    a = pop.addresses
    return np.array([f"{'Flat ' + str(f) + ', ' if f else ''}{n} {streets.name[s]}, {streets.town[s]}"
                     for f, n, s in zip(a.flat[slot], a.number[slot], a.street[slot], strict=True)], dtype=object)


def incident_values(rng: np.random.Generator, incidents: Incidents, rows: np.ndarray, pop: Population,
                    streets: Streets, prefix: str, delay_minutes: float, jitter: float) -> tuple[Values, Values]:
    """A service's log of the incidents ``rows`` it attended: its references, times and coordinates; the truth."""
    n = len(rows)
    delay = (rng.uniform(0, delay_minutes * 60, n)).astype("timedelta64[s]")
    started = incidents.started_at[rows] + delay
    slot = incidents.slot[rows]
    street = incidents.street[rows]
    place = np.array([f"{streets.name[s]}, {streets.town[s]}" for s in street], dtype=object)
    address = np.where(slot >= 0, address_lines(pop, streets, np.maximum(slot, 0)), place)
    ref = ids(prefix, n, width=6)
    values: Values = {
        "incident_ref": ref, "kind": incidents.kind[rows], "started_at": started,
        "longitude": incidents.lon[rows] + rng.normal(0, jitter, n),
        "latitude": incidents.lat[rows] + rng.normal(0, jitter, n),
        "address": address, "postcode": streets.postcode[street],
        "domestic_abuse": np.where(incidents.flag("domestic_abuse")[rows], "Y", "N"),
        "mental_health": np.where(incidents.flag("mental_health")[rows], "Y", "N"),
    }
    truth = {"record_id": ref, "person_id": np.full(n, -1), "incident_id": rows, "address_id": slot,
             "errors": np.full(n, "", dtype=object), "duplicate_of": np.full(n, "", dtype=object)}
    return values, truth
