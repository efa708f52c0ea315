"""The audit log: every read of person data and every change, appended to a hash chain anyone can check.

An entry says who (user, agency) did what (action) to whom (subjects: person ids, record keys, place
ids), for which purpose under which agreement, what was withheld (redacted field names) and whether it
was allowed and why. Entries are appended, never updated. Each carries the hash of the one before, so
editing, removing, inserting or reordering any entry breaks the chain from there on (:func:`verify`);
signed checkpoints (:mod:`safertogether.access.audit_signing`) catch a rewrite that recomputed every hash.

The format, for a third party checking an export (``safer audit export``) with their own code:

* Each line of an export is a JSON object. An entry has exactly the keys ``action``, ``actor_agency``,
  ``actor_user``, ``agreement_id``, ``hash``, ``logged_at``, ``outcome``, ``prev_hash``, ``purpose``,
  ``reason``, ``redacted``, ``seq`` and ``subjects``, and ``details`` when it has any. ``seq`` is an
  integer counting from 1 without gaps; ``logged_at`` the UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
  (always six decimals); ``subjects``, ``redacted`` and ``details`` lists of strings (order kept);
  ``outcome`` ``"allowed"`` or ``"denied"``; the rest strings or null. A line ``{"checkpoint": {...}}``
  is a signed checkpoint (see ``audit_signing``).
* ``details`` says what was asked, as typed (a search's ``name=...``, ``dob=...``, ``address=...``): a
  data protection officer can see what was searched, not only what was shown. An entry without details
  has no ``details`` key at all (entries written before it existed hash as they did), and one with
  details is hashed with them, so removing them breaks the chain like any other edit.
* ``hash`` is the lower-case hex SHA-256 of the canonical encoding of the entry without its ``hash`` key:
  UTF-8 JSON, keys sorted, no whitespace (separators ``,`` and ``:``), characters beyond ASCII written as
  themselves, and only ``"``, ``\\`` and control characters escaped (``\\b \\f \\n \\r \\t`` in those short
  forms, other controls as ``\\u00xx``, lower-case hex). That is Python's ``json.dumps(entry,
  sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``, and RFC 8785 (JCS) for the values
  that occur here (strings, integers, null, lists of strings).
* ``prev_hash`` is the previous entry's ``hash``; the first entry's is 64 zeros (:data:`GENESIS_HASH`).

>>> event = AuditEvent(actor_user="u1", actor_agency="police", action="read-person", purpose="safeguarding",
...                    outcome="allowed", subjects=("P0000123",), redacted=("health",), agreement_id="A-7")
>>> entry = chain_entry(event, seq=1, prev_hash=GENESIS_HASH, logged_at=datetime(2026, 1, 2, 3, 4, 5))
>>> canonical_json(entry.content())[:62]
b'{"action":"read-person","actor_agency":"police","actor_user":"'
>>> entry.hash == hashlib.sha256(canonical_json(entry.content())).hexdigest()
True

Appends come from many threads, and on a shared server from many processes. In each process one writer
thread per warehouse takes everything queued, chains it on the head and inserts it in one statement (a
group commit: one commit serves many requests; :func:`append` returns once it is durable).

* PostgreSQL (several server workers): each batch is one transaction that takes an advisory lock, reads
  the head, inserts and commits; the workers' appends queue on the lock, in the database, and none can
  chain on a head another has moved. The primary key on ``seq`` stays as a second guard.
* DuckDB (one writing process): a file admits one writer process, so a multi-worker ``safer serve`` on a
  DuckDB file cannot show person data (each worker must append): serve it with one worker (its threads
  share the writer thread; :func:`check_audit_writers`) or on PostgreSQL. Inside the process the writer
  thread remembers the head it committed; a second warehouse object on the same file collides on ``seq``
  and chains again.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import random
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import orjson
import pyarrow as pa

from safertogether.errors import BadRequestError, NotFoundError, SaferError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from safertogether.store.warehouse import Warehouse

GENESIS_HASH: Final = "0" * 64
Outcome = Literal["allowed", "denied"]
OUTCOMES: Final = ("allowed", "denied")
#: The actions the platform records; others may be added (lower-case words joined by hyphens).
ACTIONS: Final = ("read-person", "read-place", "read-incident", "search", "lookup", "link-decision", "import",
                  "export", "break-glass")
#: What the hash covers, in sorted order (the canonical encoding sorts keys; building dicts in this order
#: lets verification skip the sort).
CONTENT_KEYS: Final = ("action", "actor_agency", "actor_user", "agreement_id", "logged_at", "outcome",
                       "prev_hash", "purpose", "reason", "redacted", "seq", "subjects")
_CONTENT_KEY_SET: Final = frozenset(CONTENT_KEYS)
_DETAILED_KEY_SET: Final = frozenset({*CONTENT_KEYS, "details"})
_SELECT_ENTRIES: Final = f"SELECT {', '.join(CONTENT_KEYS)}, hash, details FROM audit_log"
_ACTION = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def canonical_json(value: Any) -> bytes:
    """The canonical encoding the hashes and signatures are computed over (see the module docstring)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def time_text(moment: datetime) -> str:
    """A UTC time as the log writes it: ``2026-01-02T03:04:05.000000Z`` (naive times are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class AuditEvent:
    """What a caller records about one request; the log adds its number, time and hashes.

    ``subjects`` names whose data it concerns (person ids, ``agency:record_id`` keys, place ids),
    ``redacted`` the fields withheld from the answer; a denial says why in ``reason``; ``details``
    what was asked, as typed (a search's terms, ``name=Jane Smith``).
    """

    actor_user: str | None
    actor_agency: str | None
    action: str
    purpose: str | None
    outcome: Outcome
    subjects: Sequence[str] = ()
    redacted: Sequence[str] = ()
    agreement_id: str | None = None
    reason: str | None = None
    details: Sequence[str] = ()

    def __post_init__(self) -> None:
        if isinstance(self.subjects, str) or isinstance(self.redacted, str) or isinstance(self.details, str):
            raise BadRequestError("subjects, redacted and details are lists of strings, not one string")
        object.__setattr__(self, "subjects", tuple(self.subjects))
        object.__setattr__(self, "redacted", tuple(self.redacted))
        object.__setattr__(self, "details", tuple(self.details))
        if problems := _event_problems(self):
            raise BadRequestError(f"cannot record this audit event: {'; '.join(problems)}")


def _event_problems(event: AuditEvent) -> list[str]:
    problems = []
    if not _ACTION.fullmatch(event.action):
        problems.append(f"action {event.action!r} is not lower-case words joined by hyphens, e.g. 'read-person'")
    if event.outcome not in OUTCOMES:
        problems.append(f"outcome {event.outcome!r} is neither 'allowed' nor 'denied'")
    if event.outcome == "denied" and not event.reason:
        problems.append("a denial needs its reason")
    texts = [event.actor_user, event.actor_agency, event.purpose, event.agreement_id, event.reason,
             *event.subjects, *event.redacted, *event.details]
    if any(not isinstance(t, str) for t in (*event.subjects, *event.redacted, *event.details)):
        problems.append("subjects, redacted and details must be strings")
    elif any(t is not None and not _storable(t) for t in texts):
        # PostgreSQL text holds no NUL; a lone surrogate has no UTF-8 encoding to hash.
        problems.append("a text holds a NUL character or a lone surrogate")
    return problems


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One link of the chain, as stored and exported."""

    seq: int
    logged_at: datetime
    actor_user: str | None
    actor_agency: str | None
    action: str
    purpose: str | None
    agreement_id: str | None
    subjects: tuple[str, ...]
    redacted: tuple[str, ...]
    outcome: str
    reason: str | None
    prev_hash: str
    hash: str
    details: tuple[str, ...] = ()

    def content(self) -> dict[str, Any]:
        """What the hash covers: every field but the hash (``details`` only if any), keys in canonical order."""
        return _content(self.action, self.actor_agency, self.actor_user, self.agreement_id,
                        time_text(self.logged_at), self.outcome, self.prev_hash, self.purpose, self.reason,
                        list(self.redacted), self.seq, list(self.subjects), list(self.details))

    def as_json(self) -> dict[str, Any]:
        return {**self.content(), "hash": self.hash}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditEntry:
        return cls(**{**row, "subjects": tuple(row["subjects"]), "redacted": tuple(row["redacted"]),
                      "details": tuple(row.get("details") or ())})


def _content(action: str, agency: str | None, user: str | None, agreement: str | None, logged_at: str, outcome: str,
             prev_hash: str, purpose: str | None, reason: str | None, redacted: Sequence[str], seq: int,
             subjects: Sequence[str], details: Sequence[str] | None) -> dict[str, Any]:
    """An entry's hashed content, keys in sorted order; ``details`` present only when there are some."""
    content = {"action": action, "actor_agency": agency, "actor_user": user, "agreement_id": agreement}
    if details:
        content["details"] = details
    content.update({"logged_at": logged_at, "outcome": outcome, "prev_hash": prev_hash, "purpose": purpose,
                    "reason": reason, "redacted": redacted, "seq": seq, "subjects": subjects})
    return content


def chain_entry(event: AuditEvent, seq: int, prev_hash: str, logged_at: datetime) -> AuditEntry:
    """``event`` as entry ``seq`` of a chain whose previous entry's hash is ``prev_hash``."""
    content = _content(event.action, event.actor_agency, event.actor_user, event.agreement_id, time_text(logged_at),
                       event.outcome, prev_hash, event.purpose, event.reason, event.redacted, seq, event.subjects,
                       event.details)
    return AuditEntry(seq, logged_at, event.actor_user, event.actor_agency, event.action, event.purpose,
                      event.agreement_id, tuple(event.subjects), tuple(event.redacted), event.outcome,
                      event.reason, prev_hash, hashlib.sha256(canonical_json(content)).hexdigest(),
                      tuple(event.details))


# ---------------------------------------------------------------------------------------------- appending

def append(warehouse: Warehouse, event: AuditEvent) -> AuditEntry:
    """Record ``event`` at the end of the chain; returns once it is committed.

    Safe from any number of threads (their appends share commits) and, on an engine that allows several
    writing processes, from several processes. The append commits on its own, outside any transaction
    the caller holds: record a change after it commits, or the attempt before it.
    """
    if warehouse.read_only:
        raise SaferError(f"{warehouse.where} is open read-only and the audit log must be written before person "
                         "data is shown; open the warehouse for writing (DuckDB: one process) or use PostgreSQL")
    return _writer(warehouse).submit(warehouse, event).result()


def check_audit_writers(location: str | Path, workers: int) -> None:
    """Refuse to serve person data from ``workers`` processes where they cannot all append to the audit log.

    Every worker that shows person data appends to the chain. A DuckDB file admits one writing process,
    so more than one worker on it would fail at start (the file is locked) or serve unaudited; PostgreSQL
    serialises the workers' appends itself.

    Raises:
        BadRequestError: more than one worker on a DuckDB file.
    """
    from safertogether.store.warehouse import is_server_url

    if workers > 1 and not is_server_url(location):
        raise BadRequestError(
            f"{location} is a DuckDB file, which one process at a time may write, and every worker that shows "
            "person data must append to the audit log: serve it with --workers 1 (one process, whose threads "
            "share one audit writer), or put the warehouse on PostgreSQL (--db postgresql://...) for several "
            "workers")


_writers: weakref.WeakKeyDictionary[Warehouse, _ChainWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


@atexit.register
def _stop_writers() -> None:
    with _writers_lock:
        writers = list(_writers.values())
    for writer in writers:
        writer.stop()


def _writer(warehouse: Warehouse) -> _ChainWriter:
    with _writers_lock:
        writer = _writers.get(warehouse)
        if writer is None:
            writer = _writers[warehouse] = _ChainWriter()
        return writer


@dataclass
class _ChainWriter:
    """The one thread per process and warehouse that writes the chain, a batch of queued events at a time.

    A thread of its own, so an append never joins (and is never rolled back with) a caller's transaction,
    and so the head it remembers is always one it committed. It ends when idle and starts on demand.
    """

    max_batch: int = 500
    idle_seconds: float = 1.0
    _queue: list[tuple[AuditEvent, datetime, Future[AuditEntry]]] = field(default_factory=list)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _stopping: bool = False
    _head: tuple[int, str] | None = None

    def submit(self, warehouse: Warehouse, event: AuditEvent) -> Future[AuditEntry]:
        future: Future[AuditEntry] = Future()
        with self._wake:
            # The time is taken in queue order: along one process's appends it rises with seq (clock permitting).
            self._queue.append((event, _utc_now(), future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(warehouse,), name="audit-writer",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    def _run(self, warehouse: Warehouse) -> None:
        while batch := self._next_batch():
            try:
                entries = self._write(warehouse, [(event, at) for event, at, _ in batch])
            except BaseException as exc:  # every waiting caller hears of the failure
                for _, _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, _, future), entry in zip(batch, entries, strict=True):
                future.set_result(entry)

    def _next_batch(self) -> list[tuple[AuditEvent, datetime, Future[AuditEntry]]]:
        with self._wake:
            if not self._queue and not self._stopping:
                self._wake.wait(self.idle_seconds)
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            if not batch:
                self._thread = None
            return batch

    def stop(self) -> None:
        """Let the thread finish what is queued and end (at exit, so its cursor closes before DuckDB's)."""
        with self._wake:
            self._stopping, thread = True, self._thread
            self._wake.notify()
        if thread is not None:
            thread.join(timeout=10)

    def _write(self, warehouse: Warehouse, events: list[tuple[AuditEvent, datetime]]) -> list[AuditEntry]:
        """Chain ``events`` on the head and insert them, in one transaction serialised with every other writer.

        On PostgreSQL the transaction holds an advisory lock from reading the head to the commit, so the
        workers of a server append one after another and none forks the chain. A DuckDB file has one
        writing process: the head this thread last committed is still the head, unless a second warehouse
        object of the same process wrote; then the primary key on ``seq`` refuses the fork and we chain again.
        """
        unmoved = 0
        for attempt in itertools.count():
            entries: list[AuditEntry] = []
            head = (0, GENESIS_HASH)
            try:
                with warehouse.serialised("safertogether.audit_log"):
                    shared = warehouse.engine.shared_writers
                    seq, prev = head = (None if shared else self._head) or read_head(warehouse)
                    for offset, (event, at) in enumerate(events, start=1):
                        entries.append(chain_entry(event, seq + offset, prev, at))
                        prev = entries[-1].hash
                    _insert(warehouse, entries)
            except Exception:
                # Lost a race (another writer took seq + 1: the key refused a fork) or a real failure.
                self._head = None
                unmoved = unmoved + 1 if read_head(warehouse) == head else 0
                if unmoved > 3 or attempt > 100:
                    raise
                time.sleep(random.uniform(0, 0.001 * 2 ** min(attempt, 6)))
                continue
            self._head = (entries[-1].seq, entries[-1].hash)
            return entries
        raise AssertionError("unreachable")


def read_head(warehouse: Warehouse) -> tuple[int, str]:
    """The last entry's number and hash, or ``(0, GENESIS_HASH)`` for an empty log.

    A scan in DuckDB (its index serves equality only), read only when a writer starts or lost a race;
    PostgreSQL reads it backwards from the primary key's index.
    """
    row = warehouse.row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


_ROW_SQL: Final = "(?, ?, ?, ?, ?, ?, ?, CAST(? AS VARCHAR[]), CAST(? AS VARCHAR[]), ?, ?, ?, ?, CAST(? AS VARCHAR[]))"
_COLUMNS: Final = ("seq", "logged_at", "actor_user", "actor_agency", "action", "purpose", "agreement_id",
                   "subjects", "redacted", "outcome", "reason", "prev_hash", "hash", "details")
#: From this many entries on, a batch goes in as an Arrow table: binding DuckDB parameters costs ~0.1 ms
#: a row (more for lists), an Arrow insert a fixed ~1 ms and more. Measured with a lookup's entries (35
#: subjects, 40 redacted, 5 details) from 50 threads, batches of ~24 (a server with 50 calls in flight):
#: 0.52-0.55 ms of CPU an append as parameters, 0.83-0.85 ms as Arrow (from 16 on, as it was).
_ARROW_FROM: Final = 64


def _insert(warehouse: Warehouse, entries: list[AuditEntry]) -> None:
    """One statement, so a batch commits whole or not at all.

    The caller holds the chain's lock (:meth:`Warehouse.serialised`): an advisory lock rather than
    ``SELECT ... FOR UPDATE`` of the head, which cannot lock the head of an empty log.
    """
    rows = [[e.seq, e.logged_at, e.actor_user, e.actor_agency, e.action, e.purpose, e.agreement_id,
             list(e.subjects), list(e.redacted), e.outcome, e.reason, e.prev_hash, e.hash,
             list(e.details) or None] for e in entries]
    if len(rows) >= _ARROW_FROM:
        warehouse.insert_arrow("audit_log", entries_table(rows))
        return
    warehouse.execute(f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES {', '.join([_ROW_SQL] * len(rows))}",
                      [value for row in rows for value in row])


_ARROW_SCHEMA: Final = pa.schema([
    ("seq", pa.int64()), ("logged_at", pa.timestamp("us")), ("actor_user", pa.string()),
    ("actor_agency", pa.string()), ("action", pa.string()), ("purpose", pa.string()), ("agreement_id", pa.string()),
    ("subjects", pa.list_(pa.string())), ("redacted", pa.list_(pa.string())), ("outcome", pa.string()),
    ("reason", pa.string()), ("prev_hash", pa.string()), ("hash", pa.string()), ("details", pa.list_(pa.string()))])


def entries_table(rows: list[list[Any]]) -> pa.Table:
    """Rows in ``audit_log``'s column order as an Arrow table (for batch inserts and benchmarks); a row
    without its last column (``details``) has none."""
    return pa.Table.from_pylist([dict(zip(_COLUMNS, row, strict=False)) for row in rows], schema=_ARROW_SCHEMA)


# ---------------------------------------------------------------------------------------------- reading

def has_log(warehouse: Warehouse) -> bool:
    """Whether the warehouse has the audit tables (a file last written by an older version may not)."""
    return warehouse.table_exists("audit_log")


def read_entries(warehouse: Warehouse, where: str = "", params: list[Any] | None = None) -> list[AuditEntry]:
    """Entries in chain order, optionally filtered by a WHERE clause of ours (never user input)."""
    if not has_log(warehouse):
        return []
    return [AuditEntry.from_row(row) for row in
            warehouse.query(f"{_SELECT_ENTRIES} {where} ORDER BY seq", params)]


def who_has_seen(warehouse: Warehouse, person_id: str) -> list[AuditEntry]:
    """Every entry naming the person (subject access request): by the id asked for, the id they have now,
    ids merged into theirs, or any of their records' keys. Denied attempts are included, marked as such.

    The entries are as stored: :func:`verify` proves the log they come from is whole.
    """
    names = sorted(_names_of_person(warehouse, person_id))
    # UNNEST in the select list is read alike by DuckDB and PostgreSQL; on PostgreSQL a GIN index on
    # subjects and ``subjects && ?`` would spare the scan.
    return read_entries(warehouse, f"""WHERE seq IN (SELECT seq FROM (SELECT seq, UNNEST(subjects) AS subject
        FROM audit_log) named WHERE subject IN ({', '.join('?' * len(names))}))""", names)


def _names_of_person(warehouse: Warehouse, person_id: str) -> set[str]:
    from safertogether.link.history import current_person_id

    try:
        current = current_person_id(warehouse, person_id)
    except NotFoundError:
        return {person_id}  # never linked, or linked no more: what was logged under the id still counts
    names, frontier = {person_id, current}, [current]
    while frontier:
        merged = warehouse.query(f"""SELECT person_id FROM person_id_events WHERE event = 'merged'
            AND other_person_id IN ({', '.join('?' * len(frontier))})""", frontier)
        frontier = [row["person_id"] for row in merged if row["person_id"] not in names]
        names.update(frontier)
    keys = warehouse.query("SELECT record_key FROM person_ids WHERE person_id = ?", [current])
    return names | {row["record_key"] for row in keys}


# ---------------------------------------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT: Final = "safertogether-audit-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that entry ``seq`` of the chain had hash ``hash`` at ``signed_at``.

    The signature (Ed25519, lower-case hex) is over the canonical encoding of ``{"format":
    CHECKPOINT_FORMAT, "hash", "key_id", "seq", "signed_at"}`` (``signed_at`` written as ``logged_at`` is).
    ``key_id`` is the first 16 hex digits of the SHA-256 of the raw 32-byte public key.
    """

    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: str

    def message(self) -> bytes:
        return canonical_json({"format": CHECKPOINT_FORMAT, "hash": self.hash, "key_id": self.key_id,
                               "seq": self.seq, "signed_at": time_text(self.signed_at)})

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "signed_at": time_text(self.signed_at)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Checkpoint:
        return cls(int(value["seq"]), str(value["hash"]), datetime.fromisoformat(value["signed_at"]).replace(
            tzinfo=None), str(value["key_id"]), str(value["signature"]))


def checkpoints(warehouse: Warehouse) -> list[Checkpoint]:
    if not has_log(warehouse):
        return []
    rows = warehouse.query("SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoints ORDER BY seq, key_id")
    return [Checkpoint(**row) for row in rows]


# ---------------------------------------------------------------------------------------------- verifying

@dataclass(frozen=True)
class VerifyReport:
    """The outcome of checking a chain: whole, or the first sequence number at which it fails and why."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    signatures_checked: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def verify(warehouse: Warehouse, public_keys: Sequence[Ed25519PublicKey] = ()) -> VerifyReport:
    """Check every entry's hash and link, and that the chain passes through every checkpoint's hash.

    With ``public_keys``, every checkpoint's signature is checked too (a checkpoint by a key not given
    fails), and at least one signed checkpoint must exist: then a rewrite of history before the latest
    checkpoint is caught even when every hash was recomputed, and so is removing entries after it.
    """
    return _verify_stream(_stored_entries(warehouse), checkpoints(warehouse), public_keys)


def verify_file(path: Path, public_keys: Sequence[Ed25519PublicKey] = ()) -> VerifyReport:
    """:func:`verify` for an export (``safer audit export``), without the warehouse."""
    marks = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.startswith(b'{"checkpoint"'):
                try:
                    marks.append(Checkpoint.from_json(orjson.loads(line)["checkpoint"]))
                except (ValueError, KeyError, TypeError):
                    return VerifyReport(False, 0, 0, GENESIS_HASH, len(marks), bool(public_keys),
                                        problem=f"line {number} is a checkpoint that cannot be read")
    with path.open("rb") as lines:
        return _verify_stream(_file_entries(lines), marks, public_keys)


def _stored_entries(warehouse: Warehouse) -> Iterator[tuple[dict[str, Any] | None, str]]:
    if not has_log(warehouse):
        return
    for chunk in warehouse.stream_rows(f"{_SELECT_ENTRIES} ORDER BY seq", chunk_rows=50_000):
        for (action, agency, user, agreement, at, outcome, prev, purpose, reason, redacted, seq, subjects,
             digest, details) in chunk:
            yield (_content(action, agency, user, agreement, at.isoformat(timespec="microseconds") + "Z", outcome,
                            prev, purpose, reason, redacted, seq, subjects, details), digest)


def _file_entries(lines: Iterable[bytes]) -> Iterator[tuple[dict[str, Any] | None, str]]:
    for number, line in enumerate(lines, start=1):
        if line.startswith(b'{"checkpoint"') or not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            yield None, f"line {number} is not a JSON object"
            continue
        digest = value.pop("hash", None)
        yield value, digest if isinstance(digest, str) else ""


def _verify_stream(stream: Iterable[tuple[dict[str, Any] | None, str]], marks: list[Checkpoint],
                   public_keys: Sequence[Ed25519PublicKey]) -> VerifyReport:
    started = time.perf_counter()
    check = _ChainCheck(marks, public_keys)
    for content, digest in stream:
        if problem := check.feed(content, digest):
            return check.report(started, problem)
    return check.report(started, check.finish())


class _ChainCheck:
    """Walks a chain entry by entry, stopping at the first one that does not hold."""

    def __init__(self, marks: list[Checkpoint], public_keys: Sequence[Ed25519PublicKey]) -> None:
        self.count, self.head_seq, self.head_hash = 0, 0, GENESIS_HASH
        self.marks = marks
        self.at_seq: dict[int, list[Checkpoint]] = {}
        for mark in marks:
            self.at_seq.setdefault(mark.seq, []).append(mark)
        self.signed = bool(public_keys)
        self.bad_signatures = _bad_signatures(marks, public_keys) if public_keys else {}
        self.last_good_mark = 0
        self.first_bad: int | None = None

    def feed(self, content: dict[str, Any] | None, digest: str) -> str | None:
        expected = self.head_seq + 1
        self.first_bad = expected
        if content is None:
            return digest  # the reader's account of an unreadable line
        seq = content.get("seq")
        if content.keys() != _CONTENT_KEY_SET and (content.keys() != _DETAILED_KEY_SET or not content["details"]):
            return (f"entry {seq!r} has the keys {sorted(content)} instead of {sorted(_CONTENT_KEY_SET)} "
                    "(and details, if any)")
        if seq != expected or type(seq) is not int:
            if isinstance(seq, int) and seq > expected:
                return f"entry {expected} is missing (the entry after {self.head_seq} is {seq}): entries were removed"
            return f"entry {seq!r} follows entry {self.head_seq}: an entry was inserted or moved"
        if hashlib.sha256(canonical_json(content)).hexdigest() != digest:
            return f"entry {seq}'s contents do not match its hash: it was edited"
        if content["prev_hash"] != self.head_hash:
            return (f"entry {seq}'s prev_hash is not entry {self.head_seq}'s hash: an entry before it was "
                    "changed, removed or inserted")
        self.count, self.head_seq, self.head_hash = self.count + 1, seq, digest
        return self._checkpoint_problem(seq, digest) if seq in self.at_seq else None

    def _checkpoint_problem(self, seq: int, digest: str) -> str | None:
        for mark in self.at_seq[seq]:
            if (seq, mark.key_id) in self.bad_signatures:
                return self.bad_signatures[seq, mark.key_id]
            if mark.hash != digest:
                return (f"the chain no longer passes through the hash signed at checkpoint {seq}: entries after "
                        f"{self.last_good_mark} up to {seq} were rewritten (every hash recomputed)")
        self.last_good_mark = seq
        return None

    def finish(self) -> str | None:
        self.first_bad = self.head_seq + 1
        beyond = [mark.seq for mark in self.marks if mark.seq > self.head_seq]
        if beyond:
            return (f"the log ends at entry {self.head_seq} but checkpoint {max(beyond)} signed entry "
                    f"{max(beyond)}: entries after {self.head_seq} were removed")
        if self.signed and not self.marks:
            self.first_bad = None
            return "there is no signed checkpoint to check the chain against; make one with `safer audit checkpoint`"
        return None

    def report(self, started: float, problem: str | None) -> VerifyReport:
        return VerifyReport(ok=problem is None, entries=self.count, head_seq=self.head_seq,
                            head_hash=self.head_hash, checkpoints=len(self.marks), signatures_checked=self.signed,
                            first_bad_seq=self.first_bad if problem else None, problem=problem,
                            seconds=round(time.perf_counter() - started, 3))


def _bad_signatures(marks: list[Checkpoint],
                    public_keys: Sequence[Ed25519PublicKey]) -> dict[tuple[int, str], str]:
    """The checkpoints whose signature fails, by (seq, key id), each with the problem."""
    from safertogether.access.audit_signing import signature_problem

    return {(mark.seq, mark.key_id): problem for mark in marks
            if (problem := signature_problem(mark, public_keys))}


# ---------------------------------------------------------------------------------------------- exporting

def export(warehouse: Warehouse, out: Path) -> tuple[int, int]:
    """Write the checkpoints, then every entry, as JSON lines to ``out``; returns (entries, checkpoints).

    Written beside ``out`` and renamed into place, so a reader never sees half an export.
    """
    marks = checkpoints(warehouse)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    count = 0
    with partial.open("wb") as sink:
        for mark in marks:
            sink.write(canonical_json({"checkpoint": mark.as_json()}) + b"\n")
        for content, digest in _stored_entries(warehouse):
            sink.write(canonical_json({**(content or {}), "hash": digest}) + b"\n")
            count += 1
    partial.replace(out)
    return count, len(marks)
