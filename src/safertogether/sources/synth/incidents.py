"""The real incidents behind the partners' records: what happened, when, where, to whom, who attended.

Incidents of each kind arrive at a yearly rate per 1,000 residents (rough orders of magnitude of
English figures; what matters is that falls and medical calls outnumber fires, and that a few
people turn up again and again). Who is involved is drawn by a per-person *propensity* (log-normal),
so a small group of people is known to several services, as in life. An incident at home happens
at the address the person lived at on that day (movers' incidents follow them); others happen at a
point of a street anywhere in the force.

Each service attends with its own probability per kind: one road traffic collision can be in the
police, fire and ambulance logs, each with its own reference, time and coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from safertogether.sources.synth.population import Population
from safertogether.sources.synth.streets import Streets

SERVICES: Final = ("police", "fire", "ambulance", "council", "victim-service")
Who = Literal["adult", "any", "elderly", "missing"]
Other = Literal["household", "anyone", "none"]


@dataclass(frozen=True)
class Scenario:
    """A kind of incident: how often, to whom, where, and which services learn of it."""

    kind: str
    per_1000_a_year: float
    who: Who
    at_home: bool
    services: dict[str, float]
    other: Other = "none"  # a second person: the suspect, the reporting person, the other driver
    witness: float = 0.0  # chance of a witness (police)
    domestic_abuse: bool = False
    mental_health: bool = False


SCENARIOS: Final = (
    Scenario("domestic-abuse", 9, "adult", True, {"police": 1, "ambulance": 0.15, "victim-service": 0.5,
                                                   "council": 0.1}, "household", 0.1, domestic_abuse=True),
    Scenario("mental-health", 6, "adult", True, {"police": 0.7, "ambulance": 0.7, "council": 0.1},
             mental_health=True),
    Scenario("missing-person", 2, "missing", True, {"police": 1, "council": 0.3}, "household"),
    Scenario("violence", 10, "adult", False, {"police": 1, "ambulance": 0.3, "victim-service": 0.3}, "anyone",
             0.3),
    Scenario("burglary", 5, "adult", True, {"police": 1, "victim-service": 0.2}),
    Scenario("anti-social-behaviour", 12, "adult", True, {"police": 0.4, "council": 0.8}, "anyone", 0.2),
    Scenario("fire", 1, "adult", True, {"fire": 1, "ambulance": 0.2, "police": 0.2}),
    Scenario("road-traffic-collision", 3, "adult", False, {"police": 0.8, "fire": 0.4, "ambulance": 0.8}, "anyone"),
    Scenario("falls", 15, "elderly", True, {"ambulance": 1, "fire": 0.05, "council": 0.05}),
    Scenario("medical", 40, "any", True, {"ambulance": 1}),
)

PROPENSITY_SIGMA: Final = 1.0
STREET_JITTER_DEGREES: Final = 0.0003


@dataclass
class Incidents:
    """One row per real incident (arrays), and the services that attended each."""

    scenario: np.ndarray
    started_at: np.ndarray  # datetime64[s]
    principal: np.ndarray
    other: np.ndarray  # -1: none
    witness: np.ndarray  # -1: none
    slot: np.ndarray  # the home it happened at, -1: in the street
    street: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    attended: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.scenario)

    @property
    def kind(self) -> np.ndarray:
        return np.array([s.kind for s in SCENARIOS], dtype=object)[self.scenario]

    def flag(self, name: str) -> np.ndarray:
        return np.array([getattr(s, name) for s in SCENARIOS])[self.scenario]


def make_incidents(rng: np.random.Generator, pop: Population, streets: Streets, start: np.datetime64,
                   end: np.datetime64) -> Incidents:
    """Every incident of the period, in time order."""
    years = (end - start).astype(np.int64) / 365.25
    propensity = rng.lognormal(0.0, PROPENSITY_SIGMA, len(pop))
    ages = pop.age_on(np.arange(len(pop)), np.full(len(pop), end))
    parts = [_of_scenario(rng, i, s, int(rng.poisson(s.per_1000_a_year * len(pop) / 1000 * years)), pop,
                          propensity, ages, start, end) for i, s in enumerate(SCENARIOS)]
    scenario, started_at, principal, other, witness = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.argsort(started_at, kind="stable")
    scenario, started_at, principal, other, witness = (a[order] for a in (scenario, started_at, principal, other,
                                                                          witness))
    at_home = np.array([s.at_home for s in SCENARIOS])[scenario]
    home = pop.slot_at(principal, started_at.astype("datetime64[D]"))
    slot = np.where(at_home, home, -1)
    street, lon, lat = _places(rng, slot, pop, streets)
    incidents = Incidents(scenario, started_at, principal, other, witness, slot, street, lon, lat)
    for service in SERVICES:
        chance = np.array([s.services.get(service, 0.0) for s in SCENARIOS])[scenario]
        incidents.attended[service] = rng.random(len(scenario)) < chance
    return incidents


def _of_scenario(rng: np.random.Generator, index: int, scenario: Scenario, count: int, pop: Population,
                 propensity: np.ndarray, ages: np.ndarray, start: np.datetime64, end: np.datetime64
                 ) -> tuple[np.ndarray, ...]:
    weight = propensity * _eligible(scenario.who, ages)
    principal = rng.choice(len(pop), size=count, p=weight / weight.sum())
    span = int((end - start).astype("timedelta64[s]").astype(np.int64))
    started_at = start.astype("datetime64[s]") + rng.integers(0, span, count).astype("timedelta64[s]")
    adults = propensity * (ages >= 18)
    other = _other(rng, scenario.other, principal, pop, adults)
    witness = np.where(rng.random(count) < scenario.witness,
                       rng.choice(len(pop), size=count, p=adults / adults.sum()), -1)
    return np.full(count, index, dtype=np.int8), started_at, principal, other, witness


def _eligible(who: Who, ages: np.ndarray) -> np.ndarray:
    if who == "adult":
        return (ages >= 18).astype(float)
    if who == "elderly":
        return (ages >= 65) * 1.0 + (ages >= 80) * 2.0
    if who == "missing":  # mostly teenagers
        return (ages >= 12) * 1.0 + ((ages >= 12) & (ages < 18)) * 6.0
    return np.ones(len(ages))


def _other(rng: np.random.Generator, kind: Other, principal: np.ndarray, pop: Population,
           adults: np.ndarray) -> np.ndarray:
    if kind == "none":
        return np.full(len(principal), -1)
    anyone = rng.choice(len(pop), size=len(principal), p=adults / adults.sum())
    if kind == "anyone":
        return np.where(anyone == principal, -1, anyone)
    first = np.searchsorted(pop.household, pop.household[principal])  # the household's first member
    second = np.minimum(first + 1, len(pop) - 1)
    housemate = np.where(principal != first, first, second)
    shares = (pop.household[housemate] == pop.household[principal]) & (housemate != principal)
    return np.where(shares, housemate, anyone)  # no one else at home: an ex-partner or relative elsewhere


def _places(rng: np.random.Generator, slot: np.ndarray, pop: Population, streets: Streets
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Street and point of each incident: the home's, or a point of a street anywhere in the force."""
    n = len(slot)
    street = rng.choice(len(streets), size=n, p=streets.weight)
    point = streets.point_start[street] + (rng.random(n) * streets.point_count[street]).astype(np.int64)
    home = slot >= 0
    safe = np.where(home, slot, 0)
    street = np.where(home, pop.addresses.street[safe], street)
    lon = np.where(home, pop.addresses.lon[safe], streets.lon[point] + rng.normal(0, STREET_JITTER_DEGREES, n))
    lat = np.where(home, pop.addresses.lat[safe], streets.lat[point] + rng.normal(0, STREET_JITTER_DEGREES, n))
    return street, lon, lat
