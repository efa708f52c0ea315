"""The error model: how a partner's record of a person departs from the truth, and how often.

Each rate is the probability that one person record carries that error, drawn independently per
record (a record can carry several). Some errors only apply where they can: a nickname needs a
forename that has one, a married surname needs a person whose surname changed, a day/month swap a
day of 12 or less that differs from the month (systems that check dates on entry reject the other
swaps, so those never reach an extract). For those the rate is of the records that qualify.

========================  =======  ============================================================
error                     default  what the record shows
========================  =======  ============================================================
typo_keyboard             0.02     one letter of forename or surname replaced by a neighbour on a
                                   QWERTY keyboard ("Smith" -> "Smiyh")
typo_phonetic             0.015    a spelling that sounds the same ("Stephen" -> "Steven",
                                   "Philips" -> "Fillips", "Catherine" -> "Katherine")
typo_ocr                  0.005    a scanning confusion (rn/m, cl/d, l/I, O/0: "Harm" -> "Hatrn")
nickname                  0.15     a short form of the forename (William -> Bill, Elizabeth -> Liz)
swapped_names             0.01     forename and surname the wrong way round
married_surname           0.3      the other surname of a person whose surname changed at marriage:
                                   the birth surname (half) or both hyphenated ("Patel-Smith")
day_month_swap            0.02     date of birth with day and month exchanged (03/04 for 04/03)
missing_dob               0.05     no date of birth
missing_forename          0.01     no forename (an initial-only entry cleared on export)
missing_postcode          0.08     no postcode
address_abbreviation      0.3      Road -> Rd, Street -> St, Avenue -> Ave, ...
address_flat_variant      0.3      a flat written differently ("Flat 2, 14 X Road", "2/14 X Road",
                                   "14b X Road") or left out
old_address               0.25     the address before the person's last move (movers only)
duplicate                 0.03     the agency holds the same person twice for the same contact,
                                   under two references, each copy with its own errors
unreadable_dob            0.002    a date of birth no reader accepts ("00/00/0000", a legacy
                                   system's placeholder): the one error that quarantines its row
========================  =======  ============================================================

Rates are a :class:`ErrorModel` (a frozen dataclass), saved with the truth so a run can be
reproduced, and measured back from the output in the tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from safertogether.errors import BadRequestError


@dataclass(frozen=True)
class ErrorModel:
    """Per-record error rates (see the module docstring for each)."""

    typo_keyboard: float = 0.02
    typo_phonetic: float = 0.015
    typo_ocr: float = 0.005
    nickname: float = 0.15
    swapped_names: float = 0.01
    married_surname: float = 0.3
    day_month_swap: float = 0.02
    missing_dob: float = 0.05
    missing_forename: float = 0.01
    missing_postcode: float = 0.08
    address_abbreviation: float = 0.3
    address_flat_variant: float = 0.3
    old_address: float = 0.25
    duplicate: float = 0.03
    unreadable_dob: float = 0.002

    def __post_init__(self) -> None:
        bad = [f.name for f in fields(self) if not 0.0 <= getattr(self, f.name) <= 1.0]
        if bad:
            raise ValueError(f"error rates must be between 0 and 1: {', '.join(bad)}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def with_rates(cls, settings: Iterable[str]) -> ErrorModel:
        """The defaults with some rates changed, each given as ``name=rate``; every bad one is reported."""
        known = {f.name for f in fields(cls)}
        rates, problems = {}, []
        for setting in settings:
            name, _, value = setting.partition("=")
            try:
                rate = float(value)
            except ValueError:
                rate = -1.0
            if name.strip() not in known:
                problems.append(f"unknown error '{name}' (known: {', '.join(sorted(known))})")
            elif not 0.0 <= rate <= 1.0:
                problems.append(f"the rate of {name} must be a number from 0 to 1, not '{value}'")
            else:
                rates[name.strip()] = rate
        if problems:
            raise BadRequestError("; ".join(problems))
        return replace(cls(), **rates)

    @classmethod
    def none(cls) -> ErrorModel:
        """No errors at all: every record as the truth has it."""
        return cls(**{f.name: 0.0 for f in fields(cls)})


#: The errors that make a row unreadable on purpose: the only reason a generated row may be quarantined.
QUARANTINING_ERRORS = frozenset({"unreadable_dob"})
