"""Who may see what: users with an agency, a role and a clearance; sharing agreements between agencies.

Agreements are data a Data Protection Officer signs off: which agency (the provider) shares which data
categories with which (the recipient), for which purposes, under which lawful basis, for which period,
approved by whom. They are versioned: a change is a new version, never an edit, so any past decision
can be explained by the agreement as it stood.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from pydantic import Field, model_validator

from safertogether.model.records import Record

Clearance = Literal["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET"]
#: Government Security Classifications, in order: a user may see what is classified at or below their clearance.
CLEARANCE_LEVEL: Final[dict[str, int]] = {"OFFICIAL": 1, "OFFICIAL-SENSITIVE": 2, "SECRET": 3}

Purpose = Literal["safeguarding", "emergency-response", "crime-prevention", "statutory-duty"]
PURPOSES: Final = ("safeguarding", "emergency-response", "crime-prevention", "statutory-duty")


class User(Record):
    """A person who uses the platform on behalf of one agency."""

    user_id: str
    name: str
    agency: str
    role: str = Field(description="e.g. analyst, call-handler, caseworker, dpo, reviewer")
    clearance: Clearance


class SharingAgreement(Record):
    """One version of an information-sharing agreement: the provider's categories, for the recipient's purposes."""

    agreement_id: str
    version: int = 1
    provider: str = Field(description="The agency whose records are shared")
    recipient: str = Field(description="The agency whose users may see them")
    categories: list[str] = Field(description="Data categories shared, e.g. identity, contact, health")
    purposes: list[Purpose]
    lawful_basis: str = Field(description="e.g. UK GDPR Art. 6(1)(e); DPA 2018 Sch. 1 para 18 (safeguarding)")
    valid_from: dt.date
    valid_to: dt.date
    approved_by: str
    approved_on: dt.date

    @model_validator(mode="after")
    def _period_runs_forward(self) -> SharingAgreement:
        if self.valid_to < self.valid_from:
            raise ValueError(f"agreement {self.agreement_id}: valid_to {self.valid_to} is before valid_from "
                             f"{self.valid_from}")
        return self
