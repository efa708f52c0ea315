"""Who each agency records, and when: from the real incidents and people to each extract's rows.

Each builder returns the agency's extracts as (layout, values, truth). The police record everyone
involved in the occurrences they attend; the ambulance service the patient of each call; the fire
service its incidents and the occupiers of home fire safety visits (older people, and households
after a fire); the council anti-social behaviour cases with their parties, safeguarding referrals
after incidents and housing applications; the victim service the victims referred to it (with the
police's crime reference where the police attended) and its later contacts with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from safertogether.sources.synth import agency_layouts as layouts
from safertogether.sources.synth.error_model import ErrorModel
from safertogether.sources.synth.incidents import Incidents
from safertogether.sources.synth.layout import Extract
from safertogether.sources.synth.population import Population
from safertogether.sources.synth.records import PersonDraft, Values, ids, incident_values, person_values
from safertogether.sources.synth.streets import Streets

Built = tuple[Extract, Values, Values]

PRINCIPAL_ROLE: Final = {"domestic-abuse": "victim", "mental-health": "subject", "missing-person": "missing-person",
                         "violence": "victim", "burglary": "victim", "anti-social-behaviour": "victim",
                         "fire": "victim", "road-traffic-collision": "involved"}
OTHER_ROLE: Final = {"domestic-abuse": "suspect", "missing-person": "reporting-person", "violence": "suspect",
                     "anti-social-behaviour": "suspect", "road-traffic-collision": "involved"}
POLICE_TYPES: Final = {"domestic-abuse": "Domestic Incident", "mental-health": "Concern for Welfare",
                       "missing-person": "Missing Person", "violence": "Assault ABH",
                       "burglary": "Burglary Residential",
                       "anti-social-behaviour": "ASB - Nuisance", "fire": "Arson / Fire",
                       "road-traffic-collision": "RTC - Injury"}
POLICE_OUTCOMES: Final = ("Filed - no further action", "Charged", "Community resolution", "Referred to partner",
                          "Under investigation")
#: Ambulance category shares C1..C4 by kind (the rest of the kinds: "medical").
CATEGORY_SHARES: Final = {"falls": (0.02, 0.3, 0.5, 0.18), "mental-health": (0.02, 0.4, 0.5, 0.08),
                          "violence": (0.1, 0.5, 0.3, 0.1), "domestic-abuse": (0.1, 0.5, 0.3, 0.1),
                          "road-traffic-collision": (0.2, 0.6, 0.2, 0.0), "fire": (0.3, 0.6, 0.1, 0.0),
                          "medical": (0.08, 0.5, 0.3, 0.12)}
DISPOSITIONS: Final = ("Conveyed to ED", "See and treat", "Hear and treat")
ASB_CATEGORIES: Final = ("Noise", "Neighbour dispute", "Vandalism", "Drug-related", "Rowdy behaviour")
CONCERNS: Final = ("Domestic abuse", "Self-neglect", "Mental health", "Missing from home", "Falls / frailty")
POLICE_REF: Final = "LP"
HOME_VISITS_PER_1000_A_YEAR: Final = 8.0
HOUSING_APPLICATIONS_PER_1000_A_YEAR: Final = 6.0


@dataclass(frozen=True)
class World:
    """Everything the builders draw on."""

    rng: np.random.Generator
    pop: Population
    streets: Streets
    incidents: Incidents
    errors: ErrorModel
    start: np.datetime64
    end: np.datetime64

    def people(self, draft: PersonDraft, prefix: str) -> tuple[Values, Values]:
        return person_values(self.rng, draft, self.pop, self.streets, self.errors, prefix)

    def log(self, rows: np.ndarray, prefix: str, delay_minutes: float, jitter: float
            ) -> tuple[Values, Values, np.ndarray]:
        """A service's log of incidents ``rows``, and each real incident's reference in it."""
        values, truth = incident_values(self.rng, self.incidents, rows, self.pop, self.streets, prefix,
                                        delay_minutes, jitter)
        return values, truth, self.refs(rows, prefix)

    def no_refs(self) -> np.ndarray:
        """For records made after an incident the agency did not log itself: the truth still knows which."""
        return np.full(len(self.incidents), "", dtype=object)

    def refs(self, rows: np.ndarray, prefix: str) -> np.ndarray:
        """Each real incident's reference in a log of ``rows`` ('' where it is not in the log)."""
        ref_of = np.full(len(self.incidents), "", dtype=object)
        ref_of[rows] = ids(prefix, len(rows), width=6)
        return ref_of

    def involved(self, rows: np.ndarray, who: str, roles: dict[str, str] | str, ref_of: np.ndarray,
                 days_after: tuple[int, int] = (0, 0)) -> PersonDraft:
        """The principal, other person or witness of the incidents ``rows`` (where there is one)."""
        person = getattr(self.incidents, who)[rows]
        rows, person = rows[person >= 0], person[person >= 0]
        kind = self.incidents.kind[rows]
        role = np.full(len(rows), roles, dtype=object) if isinstance(roles, str) else np.array(
            [roles.get(k, "involved") for k in kind], dtype=object)
        when = self.incidents.started_at[rows].astype("datetime64[D]") + self.rng.integers(
            days_after[0], days_after[1] + 1, len(rows)).astype("timedelta64[D]")
        return PersonDraft(person, np.minimum(when, self.end), role, rows, ref_of[rows])

    def attended(self, service: str, kinds: tuple[str, ...] | None = None) -> np.ndarray:
        mask = self.incidents.attended[service]
        if kinds is not None:
            mask = mask & np.isin(self.incidents.kind, kinds)
        return np.flatnonzero(mask)

    def pick(self, values: tuple[str, ...], n: int, shares: tuple[float, ...] | None = None) -> np.ndarray:
        return np.array(values, dtype=object)[self.rng.choice(len(values), size=n, p=shares)]

    def random_people(self, per_1000_a_year: float, weight: np.ndarray, role: str) -> PersonDraft:
        years = (self.end - self.start).astype(np.int64) / 365.25
        n = int(self.rng.poisson(per_1000_a_year * len(self.pop) / 1000 * years))
        person = self.rng.choice(len(self.pop), size=n, p=weight / weight.sum())
        span = int((self.end - self.start).astype(np.int64))
        when = self.start + self.rng.integers(0, span, n).astype("timedelta64[D]")
        return PersonDraft(person, when, np.full(n, role, dtype=object), np.full(n, -1),
                           np.full(n, "", dtype=object))

    def ages(self) -> np.ndarray:
        return self.pop.age_on(np.arange(len(self.pop)), np.full(len(self.pop), self.end))


def police(world: World) -> list[Built]:
    values, truth, ref_of = world.log(world.attended("police"), POLICE_REF, 20, 0.0004)
    n = len(values["incident_ref"])
    values["category"] = np.array([POLICE_TYPES[k] for k in values["kind"]], dtype=object)
    values["outcome"] = world.pick(POLICE_OUTCOMES, n)
    rows = world.attended("police")
    draft = (world.involved(rows, "principal", PRINCIPAL_ROLE, ref_of)
             + world.involved(rows, "other", OTHER_ROLE, ref_of)
             + world.involved(rows, "witness", "witness", ref_of))
    return [(layouts.POLICE_OCCURRENCES, values, truth), (layouts.POLICE_NOMINALS, *world.people(draft, "N"))]


def ambulance(world: World) -> list[Built]:
    values, truth, ref_of = world.log(world.attended("ambulance"), "EM", 5, 0.0004)
    category = np.array([world.rng.choice(4, p=CATEGORY_SHARES.get(k, CATEGORY_SHARES["medical"]))
                         for k in values["kind"]])
    values["priority"] = np.array(["C1", "C2", "C3", "C4"], dtype=object)[category]
    complaint = layouts.AMBULANCE_CALLS.column("kind").published() or {}
    values["category"] = np.array([f"{complaint[k]}{'ABCD'[c]}{world.rng.integers(1, 20):02d}"
                                   for k, c in zip(values["kind"], category, strict=True)], dtype=object)
    values["outcome"] = world.pick(DISPOSITIONS, len(category), (0.6, 0.3, 0.1))
    rows = world.attended("ambulance")
    rtc = world.attended("ambulance", ("road-traffic-collision",))
    draft = (world.involved(rows, "principal", "patient", ref_of)
             + world.involved(rtc[world.rng.random(len(rtc)) < 0.5], "other", "patient", ref_of))
    return [(layouts.AMBULANCE_CALLS, values, truth), (layouts.AMBULANCE_PATIENTS, *world.people(draft, "EPR"))]


def fire(world: World) -> list[Built]:
    values, truth, _ref_of = world.log(world.attended("fire"), "F", 8, 0.0002)
    ages = world.ages()
    visits = world.random_people(HOME_VISITS_PER_1000_A_YEAR, (ages >= 65) * 1.0 + (ages >= 80) * 1.0, "occupier")
    after_fire = world.involved(world.attended("fire", ("fire",)), "principal", "occupier", world.no_refs(), (7, 30))
    return [(layouts.FIRE_INCIDENTS, values, truth), (layouts.FIRE_VISITS, *world.people(visits + after_fire, "HFSV"))]


def council(world: World) -> list[Built]:
    cases = world.attended("council", ("anti-social-behaviour",))
    values, truth, ref_of = world.log(cases, "ASB", 24 * 60 * 3, 0.0)
    values["started_at"] = values["started_at"].astype("datetime64[D]").astype("datetime64[s]")
    values["category"] = world.pick(ASB_CATEGORIES, len(cases))
    values["kind"] = np.full(len(cases), "anti-social-behaviour", dtype=object)
    parties = (world.involved(cases, "principal", "complainant", ref_of, (0, 3))
               + world.involved(cases[world.rng.random(len(cases)) < 0.7], "other", "perpetrator", ref_of, (0, 10)))
    referred = world.attended("council", ("domestic-abuse", "mental-health", "missing-person", "falls"))
    safeguarding = world.involved(referred, "principal", "subject", world.no_refs(), (0, 7))
    sg_values, sg_truth = world.people(safeguarding, "SG")
    sg_values["category"] = world.pick(CONCERNS, len(sg_values["record_id"]))
    adults = (world.ages() >= 18) * 1.0
    housing = world.random_people(HOUSING_APPLICATIONS_PER_1000_A_YEAR, adults, "applicant")
    return [(layouts.COUNCIL_ASB_CASES, values, truth), (layouts.COUNCIL_ASB_PARTIES, *world.people(parties, "P")),
            (layouts.COUNCIL_SAFEGUARDING, sg_values, sg_truth),
            (layouts.COUNCIL_HOUSING, *world.people(housing, "HA"))]


def victim_service(world: World) -> list[Built]:
    police_refs = world.refs(world.attended("police"), POLICE_REF)
    referrals = world.involved(world.attended("victim-service"), "principal", "client", police_refs, (0, 14))
    contacts_each = world.rng.poisson(1.5, len(referrals.person))
    again = referrals.take(np.repeat(np.arange(len(referrals.person)), contacts_each))
    later = again.when + world.rng.integers(1, 90, len(again.person)).astype("timedelta64[D]")
    contacts = PersonDraft(again.person, np.minimum(later, world.end), np.full(len(again.person), "contact",
                                                                              dtype=object),
                           again.incident, again.incident_ref)
    return [(layouts.VICTIM_REFERRALS, *world.people(referrals, "VS")),
            (layouts.VICTIM_CONTACTS, *world.people(contacts, "C"))]


BUILDERS: Final[tuple[Callable[[World], list[Built]], ...]] = (police, fire, ambulance, council, victim_service)
