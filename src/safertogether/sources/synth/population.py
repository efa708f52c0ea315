"""A county's synthetic people: households at real streets' addresses, families, twins and moves.

Everything is drawn with NumPy in whole arrays (a million people take seconds and a few hundred
megabytes): names are indices into the frequency tables of :mod:`.names`, dates are
``datetime64[D]``.

* Households of 1-6 people (sizes after the Census's shares); the first member is an adult, the
  second usually a partner, the rest children. A household shares its surname and its address; a
  quarter of partners keep their own surname, and a woman who took her partner's surname keeps her
  birth surname in the truth (what the error model's "married surname" draws on).
* Twins: a share of second children are born on their older sibling's date, with a different forename.
* Homes: each household gets an address slot — a house number on a street of the force weighted by
  the LSOA's residents, or a flat in a numbered building — and a point near the street's police.uk
  points. A share of households move once or twice in the period, each time to a new slot; the
  truth keeps every address and the dates of each move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from safertogether.sources.synth.names import (
    SOUTH_ASIAN_FORENAME_SHARE,
    SOUTH_ASIAN_SURNAMES,
    SURNAMES,
    Forenames,
    NameTable,
)
from safertogether.sources.synth.streets import Streets

HOUSEHOLD_SIZES: Final = np.array([0.30, 0.34, 0.15, 0.13, 0.05, 0.03])  # 1..6 people (Census 2011 shares)
PARTNER_SHARE: Final = 0.85  # of households of 2+, the second member is a partner, not a child
KEEPS_OWN_SURNAME: Final = 0.25
TWIN_SHARE: Final = 0.03  # of second children: ~1.5 % of maternities are multiple, so ~3 % of children are twins
MOVES_ONCE, MOVES_TWICE = 0.12, 0.03
FLAT_SHARE: Final = 0.15
FLATS_PER_BUILDING: Final = 6
POINT_JITTER_DEGREES: Final = 0.0002  # ~15-20 m around a police.uk snap point


@dataclass(frozen=True)
class Addresses:
    """Address slots: one home each (a household lives in one at a time)."""

    street: np.ndarray
    number: np.ndarray
    flat: np.ndarray  # 0: not a flat
    lon: np.ndarray
    lat: np.ndarray


@dataclass(frozen=True)
class Population:
    forenames: np.ndarray  # the name vocabularies
    surnames: np.ndarray
    household: np.ndarray  # per person
    sex: np.ndarray  # 0 female, 1 male
    forename: np.ndarray
    middle_name: np.ndarray  # -1: none
    surname: np.ndarray
    birth_surname: np.ndarray  # -1: the same as surname
    dob: np.ndarray
    twin: np.ndarray
    slot_start: np.ndarray  # per household: first address slot; later ones follow
    move_dates: np.ndarray  # per household x 2, NaT where no move
    addresses: Addresses

    def __len__(self) -> int:
        return len(self.household)

    def slot_at(self, person: np.ndarray, when: np.ndarray) -> np.ndarray:
        """The address slot each person lived at on each date."""
        moved = (when[:, None] >= self.move_dates[self.household[person]]).sum(axis=1)
        return self.slot_start[self.household[person]] + moved

    def previous_slot(self, person: np.ndarray, when: np.ndarray) -> np.ndarray:
        """The slot before the last move by that date, or -1 where the person had not moved."""
        moved = (when[:, None] >= self.move_dates[self.household[person]]).sum(axis=1)
        return np.where(moved > 0, self.slot_start[self.household[person]] + moved - 1, -1)

    def age_on(self, person: np.ndarray, when: np.ndarray) -> np.ndarray:
        return ((when - self.dob[person]).astype(np.int64) // 365.25).astype(np.int64)


def make_population(rng: np.random.Generator, people: int, streets: Streets, start: np.datetime64,
                    end: np.datetime64) -> Population:
    """``people`` people in households at addresses on ``streets``, between ``start`` and ``end``."""
    sizes = _household_sizes(rng, people)
    household = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(people) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    size = sizes[household]
    partner = (position == 1) & (rng.random(people) < PARTNER_SHARE)
    adult = (position == 0) | partner
    sex = _sexes(rng, position, partner)
    dob = _dates_of_birth(rng, household, position, adult, size, end)
    surnames = NameTable(SURNAMES)
    family = surnames.sample(rng, len(sizes))[household]
    share = np.where(np.isin(surnames.names, list(SOUTH_ASIAN_SURNAMES)), *SOUTH_ASIAN_FORENAME_SHARE)[family]
    south_asian = rng.random(people) < share
    forenames = Forenames()
    born = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    forename = forenames.sample(rng, sex, born, south_asian)
    middle = np.where(rng.random(people) < 0.5, forenames.sample(rng, sex, born, south_asian), -1)
    older_is_child = (position > 0) & ~np.roll(adult, 1)
    twin = ~adult & older_is_child & (rng.random(people) < TWIN_SHARE)
    dob = np.where(twin, np.roll(dob, 1), dob)
    forename = _differ_from_older(forename, twin, lambda rows: forenames.sample(
        rng, sex[rows], born[rows], south_asian[rows]))
    own = partner & (rng.random(people) < KEEPS_OWN_SURNAME)
    drawn = surnames.sample(rng, people)
    surname = np.where(own, drawn, family)
    married_in = partner & ~own & (sex == 0) | (position == 0) & (sex == 0) & np.roll(partner & ~own, -1)
    birth = np.where(married_in & (drawn != family), drawn, -1)
    moves = rng.choice(3, size=len(sizes), p=[1 - MOVES_ONCE - MOVES_TWICE, MOVES_ONCE, MOVES_TWICE])
    slot_start = np.concatenate([[0], np.cumsum(1 + moves)[:-1]])
    return Population(
        forenames=forenames.names, surnames=surnames.names, household=household, sex=sex, forename=forename,
        middle_name=middle, surname=surname, birth_surname=birth, dob=dob, twin=twin, slot_start=slot_start,
        move_dates=_move_dates(rng, moves, start, end),
        addresses=make_addresses(rng, int((1 + moves).sum()), streets))


def _household_sizes(rng: np.random.Generator, people: int) -> np.ndarray:
    mean = float((np.arange(1, 7) * HOUSEHOLD_SIZES).sum())
    sizes = rng.choice(np.arange(1, 7), size=int(people / mean * 1.2) + 10, p=HOUSEHOLD_SIZES)
    ends = np.cumsum(sizes)
    count = int(np.searchsorted(ends, people)) + 1
    sizes = sizes[:count].copy()
    sizes[-1] -= int(ends[count - 1]) - people
    return sizes


def _sexes(rng: np.random.Generator, position: np.ndarray, partner: np.ndarray) -> np.ndarray:
    sex = rng.integers(0, 2, size=len(position))
    opposite = partner & (rng.random(len(position)) < 0.95)
    return np.where(opposite, 1 - np.roll(sex, 1), sex).astype(np.int8)


def _dates_of_birth(rng: np.random.Generator, household: np.ndarray, position: np.ndarray, adult: np.ndarray,
                    size: np.ndarray, end: np.datetime64) -> np.ndarray:
    """Ages at the period's end: heads 18-95 (25-55 with children), partners near them, children under 18."""
    n = len(household)
    parent = size > 1 + (np.roll(adult, -1) & (position == 0))  # a head with more members than a partner
    head_age = np.where(parent, rng.uniform(25, 55, n), 18 + rng.beta(1.6, 2.0, n) * 77)
    head_age = head_age[np.searchsorted(household, household, side="left")]  # the head's age for each member
    age = np.where(position == 0, head_age, 0.0)
    age = np.where(adult & (position == 1), np.clip(head_age + rng.normal(0, 4, n), 18, 99), age)
    child_max = np.clip(head_age - 18, 0.5, 17.99)
    age = np.where(~adult, rng.uniform(0, 1, n) * child_max, age)
    return end - (age * 365.25).astype(np.int64).astype("timedelta64[D]")


def _differ_from_older(forename: np.ndarray, twin: np.ndarray, draw: Callable[[np.ndarray], np.ndarray]
                       ) -> np.ndarray:
    """Twins' forenames redrawn (``draw`` of the rows) until each differs from the older twin's."""
    forename = forename.copy()
    clash = twin & (forename == np.roll(forename, 1))
    while clash.any():
        forename[clash] = draw(np.flatnonzero(clash))
        clash = twin & (forename == np.roll(forename, 1))
    return forename


def _move_dates(rng: np.random.Generator, moves: np.ndarray, start: np.datetime64, end: np.datetime64) -> np.ndarray:
    span = (end - start).astype(np.int64)
    days = np.sort(rng.integers(1, span, size=(len(moves), 2)), axis=1)
    dates = start + days.astype("timedelta64[D]")
    dates[moves < 2, 1] = np.datetime64("NaT")
    dates[moves < 1, 0] = np.datetime64("NaT")
    return dates


def make_addresses(rng: np.random.Generator, slots: int, streets: Streets) -> Addresses:
    """``slots`` distinct homes: houses numbered along each street, then buildings of flats."""
    street = rng.choice(len(streets), size=slots, p=streets.weight).astype(np.int32)
    flat_slot = rng.random(slots) < FLAT_SHARE
    order = np.lexsort((flat_slot, street))  # by street, houses first
    rank = np.empty(slots, dtype=np.int64)
    first = np.searchsorted(street[order], street[order], side="left")
    rank[order] = np.arange(slots) - first
    houses = np.bincount(street[~flat_slot], minlength=len(streets))
    buildings = -(-np.bincount(street[flat_slot], minlength=len(streets)) // FLATS_PER_BUILDING)
    flat_rank = rank - houses[street]
    unit = np.where(flat_slot, houses[street] + flat_rank // FLATS_PER_BUILDING, rank)  # buildings after houses
    number = _house_numbers(rng, unit, houses + buildings, street, streets)
    point = streets.point_start[street] + (rng.random(slots) * streets.point_count[street]).astype(np.int64)
    return Addresses(
        street=street, number=number, flat=np.where(flat_slot, flat_rank % FLATS_PER_BUILDING + 1, 0),
        lon=streets.lon[point] + rng.normal(0, POINT_JITTER_DEGREES, slots),
        lat=streets.lat[point] + rng.normal(0, POINT_JITTER_DEGREES, slots))


def _house_numbers(rng: np.random.Generator, rank: np.ndarray, count: np.ndarray, street: np.ndarray,
                   streets: Streets) -> np.ndarray:
    """Distinct numbers for ranks 0, 1, ... of each street, spread over a length that grows with the street's
    police.uk points (a step of at least 1 from one rank to the next keeps them distinct)."""
    length = np.maximum(count, 10 + 8 * streets.point_count)
    step = length / np.maximum(count, 1)
    offset = rng.random(len(streets))
    return 1 + np.floor((rank + offset[street]) * step[street]).astype(np.int64)
