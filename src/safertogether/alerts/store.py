"""Subscriptions and the outbox: a SQLite file of their own, or (a PostgreSQL deployment) a schema of their own.

Why not the warehouse's tables: the server opens the warehouse read-only (an import may be writing it) but
must record a confirmation or an unsubscribe from a link at any time; and the warehouse is published and
shared, where e-mail addresses must never go. On DuckDB deployments they live in a SQLite file in WAL mode
(the server and `safer alerts send` write at once), created readable by its owner only. On PostgreSQL
deployments they live in the same database, in schema ``safer_alerts`` (grant it to the alerts' role only):
the server's several processes and the importer all reach it, which a file beside one of them would not
serve. Either way addresses are stored encrypted (Fernet, key derived from the alerts secret) with a keyed
hash to find duplicates.

The outbox holds one digest per subscription x area x month (primary key): planning the same month
again adds nothing, so importing a month twice sends nothing twice. States: ``pending`` -> ``sent``, or
``failed`` (retried by every later send until it goes). Delivery is at least once: a crash between the
SMTP server accepting a message and the row being marked sent sends that one message again.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

#: Where alerts live on a PostgreSQL deployment (apart from the warehouse's own tables).
PG_SCHEMA: Final = "safer_alerts"
_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS subscriptions (
        subscription_id TEXT PRIMARY KEY, email_encrypted {blob} NOT NULL, email_hash TEXT NOT NULL,
        area TEXT NOT NULL, categories TEXT NOT NULL, status TEXT NOT NULL,
        created_at TEXT NOT NULL, confirmed_at TEXT, unsubscribed_at TEXT)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS one_per_address_and_area ON subscriptions (email_hash, area)",
    """CREATE TABLE IF NOT EXISTS outbox (
        subscription_id TEXT NOT NULL, area TEXT NOT NULL, month TEXT NOT NULL, subject TEXT NOT NULL,
        body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        created_at TEXT NOT NULL, sent_at TEXT, PRIMARY KEY (subscription_id, area, month))""",
    "CREATE INDEX IF NOT EXISTS outbox_to_send ON outbox (status)",
)


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


class _Connection(Protocol):
    """What the store needs of a database: statements with ``?`` placeholders, and transactions."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int: ...
    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def close(self) -> None: ...


class _Sqlite:
    def __init__(self, path: Path) -> None:
        new = not path.exists()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        if new:
            os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement.format(blob="BLOB"))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        return self._db.executemany(sql, rows).rowcount

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class _Postgres:
    def __init__(self, url: str) -> None:
        from safertogether.store.postgres import _psycopg

        self._db = _psycopg().connect(url, autocommit=True)
        self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
        self._db.execute(f"SET search_path TO {PG_SCHEMA}")
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext('safer_alerts schema'))")  # two first opens
            for statement in _SCHEMA:
                self._db.execute(statement.format(blob="BYTEA"))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self._db.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)
            return int(cursor.rowcount)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._db.transaction()  # type: ignore[no-any-return]

    def close(self) -> None:
        self._db.close()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    email: str
    area: str
    categories: tuple[str, ...]
    status: str


class AlertStore:
    """The subscriptions and outbox (see the module docstring); every method is one short transaction.

    ``location`` is a SQLite file, or a ``postgresql://`` URL (the deployment's database; schema
    :data:`PG_SCHEMA`). One connection, used by one thread at a time (the API's workers share it).
    """

    def __init__(self, location: Path | str, secret: bytes) -> None:
        self.location = str(location) if is_postgres(location) else Path(location)
        self._secret = secret
        self._db: _Connection = _Postgres(str(location)) if is_postgres(location) else _Sqlite(Path(location))
        self._lock = threading.RLock()
        from cryptography.fernet import Fernet

        key = hashlib.sha256(b"safer-alerts-email-key:" + secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @property
    def path(self) -> Path | str:
        return self.location

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Connection]:
        with self._lock, self._db.transaction():
            yield self._db

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def email_hash(self, email: str) -> str:
        return hmac.new(self._secret, email.strip().lower().encode(), hashlib.sha256).hexdigest()

    def add(self, email: str, area: str, categories: tuple[str, ...]) -> tuple[str, bool]:
        """A pending subscription (or the existing one for this address and area): (id, created)."""
        digest = self.email_hash(email)
        with self.transaction() as db:
            found = db.execute("SELECT subscription_id, status FROM subscriptions WHERE email_hash = ? AND area = ?",
                               (digest, area)).fetchone()
            if found and found[1] != "unsubscribed":
                return str(found[0]), False
            if found:
                db.execute("DELETE FROM subscriptions WHERE subscription_id = ?", (found[0],))
            sid = uuid.uuid4().hex
            db.execute("INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, 'pending', ?, NULL, NULL)",
                       (sid, self._fernet.encrypt(email.strip().encode()), digest, area, ",".join(categories),
                        _now()))
            return sid, True

    def set_status(self, subscription_id: str, status: str) -> bool:
        """Confirm or unsubscribe; False when no such subscription."""
        column = {"confirmed": "confirmed_at", "unsubscribed": "unsubscribed_at"}[status]
        with self.transaction() as db:
            cursor = db.execute(f"UPDATE subscriptions SET status = ?, {column} = ? WHERE subscription_id = ?",
                                (status, _now(), subscription_id))
            changed = cursor.rowcount > 0
            if status == "unsubscribed":  # nothing more goes to someone who left
                db.execute("UPDATE outbox SET status = 'cancelled' WHERE subscription_id = ? AND status <> 'sent'",
                           (subscription_id,))
            return changed

    def get(self, subscription_id: str) -> Subscription | None:
        rows = self._read("SELECT * FROM subscriptions WHERE subscription_id = ?", (subscription_id,))
        return self._subscription(rows[0]) if rows else None

    def get_many(self, subscription_ids: Sequence[str]) -> dict[str, Subscription]:
        """The subscriptions of these ids that exist, in one query (a batch of the outbox: on PostgreSQL a look-up
        per message was a round trip each, and halved the sending rate)."""
        found: dict[str, Subscription] = {}
        unique = list(dict.fromkeys(subscription_ids))
        for start in range(0, len(unique), 500):  # well under SQLite's bound on parameters
            chunk = unique[start:start + 500]
            rows = self._read(f"SELECT * FROM subscriptions WHERE subscription_id IN ({', '.join('?' * len(chunk))})",
                              chunk)
            found.update((row[0], self._subscription(row)) for row in rows)
        return found

    def confirmed(self) -> list[Subscription]:
        rows = self._read("SELECT * FROM subscriptions WHERE status = 'confirmed' ORDER BY subscription_id")
        return [self._subscription(r) for r in rows]

    def _subscription(self, row: tuple[Any, ...]) -> Subscription:
        return Subscription(row[0], self._fernet.decrypt(bytes(row[1])).decode(), row[3],
                            tuple(c for c in row[4].split(",") if c), row[5])

    def plan(self, rows: list[tuple[str, str, str, str, str]]) -> int:
        """Queue digests (subscription_id, area, month, subject, body); ones already queued are left alone."""
        now = _now()
        with self.transaction() as db:
            return db.executemany(
                "INSERT INTO outbox (subscription_id, area, month, subject, body, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING", [(*r, now) for r in rows])

    def to_send(self, max_attempts: int) -> list[tuple[str, str, str, str, str]]:
        """(subscription_id, area, month, subject, body) of every digest still to go."""
        return self._read(  # type: ignore[return-value]
            "SELECT subscription_id, area, month, subject, body FROM outbox WHERE status IN ('pending', 'failed') "
            "AND attempts < ? ORDER BY created_at, subscription_id", (max_attempts,))

    def mark(self, results: list[tuple[str, str, str, str | None]]) -> None:
        """Record (subscription_id, area, month, error or None) of attempted sends."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, status = CASE WHEN CAST(? AS TEXT) IS NULL THEN 'sent' "
                "ELSE 'failed' END, last_error = ?, sent_at = CASE WHEN CAST(? AS TEXT) IS NULL THEN ? END "
                "WHERE subscription_id = ? AND area = ? AND month = ?",
                [(error, error, error, now, sid, area, month) for sid, area, month, error in results])

    def outbox_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._read("SELECT status, count(*) FROM outbox GROUP BY status")}
