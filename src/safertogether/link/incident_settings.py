"""What may make two services' incident records one event: the windows, the score's threshold, the kinds.

The windows follow how services log one event. Call-handling systems stamp the call (ambulance CAD,
fire IRS "Time of Call") or the report (police "Reported Date", to the minute): one event's times in
different logs differ by minutes, not hours. Coordinates are each service's own (a gazetteer match, a
caller's phone, a crew's GPS): tens of metres apart. Case-management systems (the council's ASB cases)
keep a date only, often days after the event, and no coordinates: for them the date gap, the address
and the postcode decide.

Every service translates its own codes into our kinds on import (each mapping's ``codes``), but
services see one event differently: what the police record as domestic abuse the ambulance dispatcher
codes as an assault (AMPDS 04, our ``violence``); the fire service's "Special Service - Assist Other
Agency" (our ``assist``) is a fall it lifted, a patient it reached, a door it forced for a welfare
concern. The same kind is always compatible; other pairs only when :data:`COMPATIBLE_KINDS` lists them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

#: Pairs of different kinds that can describe one event (symmetric); the same kind always can.
COMPATIBLE_KINDS: Final[tuple[tuple[str, str], ...]] = (
    ("domestic-abuse", "violence"),  # police domestic incident, ambulance assault call (AMPDS 04)
    ("assist", "falls"),  # fire "assist other agency": lifting a fallen person for the ambulance
    ("assist", "medical"),  # ... reaching or moving a patient
    ("assist", "mental-health"),  # ... forcing entry for a concern for welfare
    ("assist", "missing-person"),  # ... searching
)


@dataclass(frozen=True)
class Setting:
    """A user-visible setting: its default and what it does (the CLI and docs read the help)."""

    default: float
    help: str


SETTINGS: Final[dict[str, Setting]] = {
    "window_minutes": Setting(60.0, "Largest gap between the start times of two timed records of one event, in "
                                    "minutes (services log one event minutes apart)"),
    "radius_m": Setting(400.0, "Largest distance between two records' coordinates of one event, in metres "
                               "(each service geocodes the place its own way)"),
    "report_lag_days": Setting(3.0, "Largest number of days a record with a date but no time may follow the "
                                    "other (case-management systems log days after the event)"),
    "threshold": Setting(0.3, "Lowest score (0-1) of a candidate pair that may join two records into one "
                              "joint incident"),
}


@dataclass(frozen=True)
class IncidentLinkSettings:
    """The windows, threshold and kind compatibility of one incident-linking run (see :data:`SETTINGS`)."""

    window_minutes: float = SETTINGS["window_minutes"].default
    radius_m: float = SETTINGS["radius_m"].default
    report_lag_days: float = SETTINGS["report_lag_days"].default
    threshold: float = SETTINGS["threshold"].default
    compatible_kinds: tuple[tuple[str, str], ...] = field(default=COMPATIBLE_KINDS)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "compatible_kinds": [list(pair) for pair in self.compatible_kinds]}
