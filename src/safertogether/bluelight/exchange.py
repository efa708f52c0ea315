"""Incident-exchange messages shaped after the UK MAIT standard (Multi-Agency Incident Transfer).

A joint control room shares incidents between agencies' dispatch systems as messages: ``create`` (a new
incident), ``update`` (changed details), ``close`` (finished) and ``acknowledge`` (the receiver has it).
This module makes such messages from the warehouse's incident records and reads incoming ones, checking
each whole; it is not a dispatch system. The shape follows MAIT's concepts (sender and receiver
agencies, both references, incident type, location, priority, free text) in JSON; it is not the
certified MAIT schema.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safertogether.errors import InputFormatError

Action = Literal["create", "update", "close", "acknowledge"]


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    longitude: float = Field(ge=-8.75, le=1.95)
    latitude: float = Field(ge=49.1, le=60.95)
    address: str | None = Field(None, max_length=500)


class ExchangeMessage(BaseModel):
    """One message between two agencies' systems about one incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    action: Action
    sent_at: dt.datetime
    sender: str = Field(min_length=1, max_length=100)
    receiver: str = Field(min_length=1, max_length=100)
    sender_ref: str = Field(min_length=1, max_length=100, description="The incident's reference at the sender")
    receiver_ref: str | None = Field(None, max_length=100, description="Its reference at the receiver, once known")
    incident_type: str | None = Field(None, max_length=100)
    priority: str | None = Field(None, max_length=20)
    location: Location | None = None
    text: str | None = Field(None, max_length=2000)
    acknowledges: str | None = Field(None, description="For acknowledge: the message_id received")

    @model_validator(mode="after")
    def _complete_for_its_action(self) -> ExchangeMessage:
        if self.action == "create" and (self.incident_type is None or self.location is None):
            raise ValueError("a create message needs incident_type and location")
        if self.action == "acknowledge" and self.acknowledges is None:
            raise ValueError("an acknowledge message needs acknowledges (the message_id received)")
        return self


def create_message(record: dict[str, object], receiver: str, now: dt.datetime | None = None) -> ExchangeMessage:
    """A ``create`` message for one incident record (a row of ``incident_records``)."""
    location = None
    if record.get("longitude") is not None and record.get("latitude") is not None:
        location = Location(longitude=float(record["longitude"]), latitude=float(record["latitude"]),  # type: ignore[arg-type]
                            address=record.get("address"))  # type: ignore[arg-type]
    return ExchangeMessage(action="create", sent_at=now or dt.datetime.now(dt.UTC), sender=str(record["agency"]),
                           receiver=receiver, sender_ref=str(record["incident_ref"]),
                           incident_type=record.get("kind"), priority=record.get("priority"),  # type: ignore[arg-type]
                           location=location)


def acknowledge(message: ExchangeMessage, receiver_ref: str, now: dt.datetime | None = None) -> ExchangeMessage:
    """The receiver's answer: it has the incident, under its own reference."""
    return ExchangeMessage(action="acknowledge", sent_at=now or dt.datetime.now(dt.UTC), sender=message.receiver,
                           receiver=message.sender, sender_ref=receiver_ref, receiver_ref=message.sender_ref,
                           acknowledges=message.message_id)


def read_message(text: str | bytes) -> ExchangeMessage:
    """An incoming message, checked whole; every problem is named in one error."""
    try:
        return ExchangeMessage.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors())
        raise InputFormatError(f"not a valid incident-exchange message: {problems}") from exc
