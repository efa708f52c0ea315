"""The incident exchange's ledger: what was sent to and received from partners' dispatch systems.

:mod:`safertogether.bluelight.exchange` says what one message is; this module is the joint control room's
record of them. Outgoing: ``create`` messages for an agency's incidents that a partner has not been sent yet,
and ``close`` messages for those that have ended since, so running it again sends nothing twice. Incoming:
a file of messages (JSON lines, as a partner's system drops them) is read whole, each line checked; good
messages are kept (a message id seen before is not kept twice), bad ones are kept too, in
``exchange_rejected`` with their line and reason, so nothing a partner sent is lost or silently dropped;
every received ``create`` is answered with an ``acknowledge`` carrying our reference. All of one file
commits together. The state of each shared incident (open or closed, acknowledged or not, how many
updates) is read from the messages themselves, never kept apart from them.

This is a record of an exchange, not a dispatch system: it does not route, assign or alert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa

from safertogether.bluelight.exchange import ExchangeMessage, acknowledge, create_message, read_message
from safertogether.errors import BadRequestError, InputFormatError, MissingDataError
from safertogether.store.warehouse import Warehouse

#: Who may post and read messages through the API for their agency (a person, or a dispatch system's account).
EXCHANGE_ROLES: Final = ("call-handler", "dispatcher", "supervisor", "dispatch-system")
#: A line longer than this is refused unread: no legitimate message comes near it.
MAX_LINE_BYTES: Final = 64 * 1024
_COLUMNS: Final = ("message_id", "direction", "action", "sent_at", "sender", "receiver", "sender_ref",
                   "receiver_ref", "acknowledges", "body", "source", "recorded_at")


@dataclass
class Received:
    """What reading one file of incoming messages did."""

    source: str
    kept: int = 0
    already_had: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  #: (line number, reason)
    acknowledgements: list[ExchangeMessage] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "kept": self.kept, "already_had": self.already_had,
                "rejected": [{"line": n, "reason": r} for n, r in self.rejected],
                "acknowledgements": len(self.acknowledgements)}


def send(warehouse: Warehouse, sender: str, receiver: str, now: dt.datetime | None = None) -> list[ExchangeMessage]:
    """The messages ``sender``'s incidents owe ``receiver``: a ``create`` for each not sent yet, a ``close``
    for each sent and since ended; recorded as sent (in one transaction) and returned, oldest first."""
    now = now or dt.datetime.now(dt.UTC)
    if not warehouse.scalar("SELECT count(*) FROM incident_records WHERE agency = ?", [sender]):
        agencies = [r["agency"] for r in warehouse.query("SELECT DISTINCT agency FROM incident_records ORDER BY 1")]
        raise MissingDataError(f"no incidents of agency {sender!r} in the warehouse (agencies with incidents: "
                               f"{', '.join(agencies) or 'none; import partner extracts first'})")
    with warehouse.transaction():
        new = warehouse.query(
            """SELECT * FROM incident_records i WHERE agency = ? AND NOT EXISTS (
                   SELECT 1 FROM exchange_messages m WHERE m.direction = 'sent' AND m.action = 'create'
                   AND m.sender = i.agency AND m.receiver = ? AND m.sender_ref = i.incident_ref)
               ORDER BY started_at NULLS LAST, incident_ref""", [sender, receiver])
        messages = _unique(create_message(r, receiver, now) for r in new)
        ended = warehouse.query(
            """SELECT DISTINCT incident_ref FROM incident_records i WHERE agency = ? AND ended_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM exchange_messages m WHERE m.direction = 'sent' AND m.action = 'close'
                               AND m.sender = i.agency AND m.receiver = ? AND m.sender_ref = i.incident_ref)
               ORDER BY incident_ref""", [sender, receiver])
        messages += [ExchangeMessage(action="close", sent_at=now, sender=sender, receiver=receiver,
                                     sender_ref=r["incident_ref"]) for r in ended]
        _record(warehouse, messages, "sent", "warehouse", now)
    return messages


def receive(warehouse: Warehouse, data: bytes, source: str, receiver: str,
            now: dt.datetime | None = None) -> Received:
    """Read a file of incoming messages (JSON lines) addressed to ``receiver``; see the module docstring."""
    now = now or dt.datetime.now(dt.UTC)
    report = Received(source)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    good: list[tuple[int, ExchangeMessage]] = []
    seen_here: dict[str, str] = {}
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        reason, message = _check(raw, receiver)
        if message is not None and message.message_id in seen_here:
            reason = None if seen_here[message.message_id] == message.model_dump_json() else \
                f"message_id {message.message_id} appears twice in this file with different contents"
            if reason is None:
                report.already_had += 1
                continue
        if reason is not None or message is None:
            report.rejected.append((number, reason or "unreadable"))
            continue
        seen_here[message.message_id] = message.model_dump_json()
        good.append((number, message))
    with warehouse.transaction():
        known = _bodies(warehouse, [m.message_id for _, m in good])
        fresh = []
        for number, message in good:
            body = known.get(message.message_id)
            if body is None:
                fresh.append(message)
            elif body == message.model_dump_json():
                report.already_had += 1
            else:
                report.rejected.append((number, f"message_id {message.message_id} was received before with different "
                                           "contents; a changed incident is an update message with a new id"))
        _record(warehouse, fresh, "received", source, now)
        report.kept = len(fresh)
        report.acknowledgements = [acknowledge(m, our_reference(receiver, m.sender, m.sender_ref), now)
                                   for m in fresh if m.action == "create"]
        _record(warehouse, report.acknowledgements, "sent", source, now)
        report.rejected.sort()
        if report.rejected:
            warehouse.insert_arrow("exchange_rejected", pa.table({
                "source": [source] * len(report.rejected), "line": [n for n, _ in report.rejected],
                "reason": [r for _, r in report.rejected],
                "recorded_at": [_utc(now)] * len(report.rejected)}))
    return report


def accept(warehouse: Warehouse, message: ExchangeMessage, source: str, now: dt.datetime | None = None) -> bool:
    """Keep one message a partner's system posted to the platform (the API's way in; the platform is the hub,
    the receiver reads it with :func:`addressed_to`). True when new, False when already kept."""
    with warehouse.transaction():
        body = _bodies(warehouse, [message.message_id]).get(message.message_id)
        if body is not None and body != message.model_dump_json():
            raise BadRequestError(f"message_id {message.message_id} was received before with different contents; "
                                  "a changed incident is an update message with a new id")
        if body is None:
            _record(warehouse, [message], "received", source, now or dt.datetime.now(dt.UTC))
    return body is None


def addressed_to(warehouse: Warehouse, agency: str, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """Messages addressed to ``agency`` in the order they reached the platform, after position ``after``: a
    partner's system keeps the last ``seq`` it read and asks again from there."""
    if not warehouse.table_exists("exchange_messages"):
        return []
    rows = warehouse.query("SELECT seq, body FROM exchange_messages WHERE receiver = ? AND seq > ? ORDER BY seq "
                           "LIMIT ?", [agency, after, limit])
    return [{"seq": r["seq"], "message": json.loads(r["body"])} for r in rows]


def shared_incidents(warehouse: Warehouse, open_only: bool = False) -> list[dict[str, Any]]:
    """Each incident exchanged (by sender, its reference and receiver): when it was created, its last
    action, open or closed, the receiver's reference once acknowledged, and how many updates followed."""
    if not warehouse.table_exists("exchange_messages"):
        return []
    rows = warehouse.query(
        """SELECT m.sender, m.sender_ref, m.receiver, m.direction,
                  min(m.sent_at) FILTER (WHERE m.action = 'create') AS created_at,
                  max(m.sent_at) AS last_at, count(*) FILTER (WHERE m.action = 'update') AS updates,
                  bool_or(m.action = 'close') AS closed, any_value(m.body) FILTER (WHERE m.action = 'create') AS body,
                  (SELECT any_value(a.sender_ref) FROM exchange_messages a WHERE a.action = 'acknowledge'
                   AND a.acknowledges IN (SELECT c.message_id FROM exchange_messages c WHERE c.action = 'create'
                                          AND c.sender = m.sender AND c.sender_ref = m.sender_ref
                                          AND c.receiver = m.receiver)) AS receiver_ref
           FROM exchange_messages m WHERE m.action <> 'acknowledge'
           GROUP BY m.sender, m.sender_ref, m.receiver, m.direction ORDER BY last_at DESC, m.sender, m.sender_ref""")
    found = []
    for r in rows:
        created = json.loads(r.pop("body")) if r["body"] else {}
        r.update(incident_type=created.get("incident_type"), priority=created.get("priority"),
                 status="closed" if r["closed"] else "open", acknowledged=r["receiver_ref"] is not None)
        del r["closed"]
        if not (open_only and r["status"] == "closed"):
            found.append(r)
    return found


def our_reference(receiver: str, sender: str, sender_ref: str) -> str:
    """The reference our side gives a partner's incident: stable, so acknowledging twice names it once."""
    return f"{receiver}-{hashlib.sha256(f'{sender}:{sender_ref}'.encode()).hexdigest()[:12]}"


def as_json_lines(messages: Iterable[ExchangeMessage]) -> str:
    return "".join(m.model_dump_json(exclude_none=True) + "\n" for m in messages)


def _check(raw: bytes, receiver: str) -> tuple[str | None, ExchangeMessage | None]:
    if len(raw) > MAX_LINE_BYTES:
        return f"a line of {len(raw):,} bytes (more than {MAX_LINE_BYTES:,}): not a message", None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start}); ask the sender to export UTF-8", None
    try:
        message = read_message(text)
    except InputFormatError as exc:
        return str(exc), None
    if message.receiver != receiver:
        return f"addressed to {message.receiver!r}, not {receiver!r}", None
    return None, message


def _unique(messages: Iterable[ExchangeMessage]) -> list[ExchangeMessage]:
    """One create per incident reference (an agency's extract may log one incident on several rows)."""
    kept: dict[str, ExchangeMessage] = {}
    for m in messages:
        kept.setdefault(m.sender_ref, m)
    return list(kept.values())


def _bodies(warehouse: Warehouse, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    with warehouse.registered("_asked", pa.table({"message_id": ids})) as asked:
        rows = warehouse.query(f"SELECT message_id, body FROM exchange_messages WHERE message_id IN "
                               f"(SELECT message_id FROM {asked})")
    return {r["message_id"]: r["body"] for r in rows}


def _record(warehouse: Warehouse, messages: list[ExchangeMessage], direction: str, source: str,
            now: dt.datetime) -> None:
    if not messages:
        return
    naive = _utc(now)
    rows = {c: [] for c in _COLUMNS}  # type: dict[str, list[Any]]
    for m in messages:
        for c in ("message_id", "action", "sender", "receiver", "sender_ref", "receiver_ref", "acknowledges"):
            rows[c].append(getattr(m, c))
        rows["sent_at"].append(_utc(m.sent_at))
        rows["direction"].append(direction)
        rows["body"].append(m.model_dump_json())
        rows["source"].append(source)
        rows["recorded_at"].append(naive)
    warehouse.insert_arrow("exchange_messages", pa.table(rows))


def _utc(moment: dt.datetime) -> dt.datetime:
    """Naive UTC for storage; a time sent without a zone is taken as UTC (MAIT's times are UTC)."""
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)
