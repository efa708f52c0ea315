"""Subscriptions and the outbox, in a SQLite file of their own.

Why not the warehouse: the server opens the warehouse read-only (an import may be writing it) but must
record a confirmation or an unsubscribe from a link at any time; and the warehouse is published and
shared, where e-mail addresses must never go. SQLite in WAL mode lets the server and `safer alerts send`
write at once. Addresses are stored encrypted (Fernet, key derived from the alerts secret) with a keyed
hash to find duplicates; the file is created readable by its owner only.

The outbox holds one digest per subscription x area x month (primary key): planning the same month
again adds nothing, so importing a month twice sends nothing twice. States: ``pending`` -> ``sent``, or
``failed`` (retried by every later send until it goes). Delivery is at least once: a crash between the
SMTP server accepting a message and the row being marked sent sends that one message again.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS subscriptions (
        subscription_id TEXT PRIMARY KEY, email_encrypted BLOB NOT NULL, email_hash TEXT NOT NULL,
        area TEXT NOT NULL, categories TEXT NOT NULL, status TEXT NOT NULL,
        created_at TEXT NOT NULL, confirmed_at TEXT, unsubscribed_at TEXT)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS one_per_address_and_area ON subscriptions (email_hash, area)",
    """CREATE TABLE IF NOT EXISTS outbox (
        subscription_id TEXT NOT NULL, area TEXT NOT NULL, month TEXT NOT NULL, subject TEXT NOT NULL,
        body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        created_at TEXT NOT NULL, sent_at TEXT, PRIMARY KEY (subscription_id, area, month))""",
    "CREATE INDEX IF NOT EXISTS outbox_to_send ON outbox (status)",
)


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    email: str
    area: str
    categories: tuple[str, ...]
    status: str


class AlertStore:
    """The subscriptions and outbox file; every method is one short transaction."""

    def __init__(self, path: Path | str, secret: bytes) -> None:
        self.path = Path(path)
        self._secret = secret
        new = not self.path.exists()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        if new:
            os.chmod(self.path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        from cryptography.fernet import Fernet

        key = hashlib.sha256(b"safer-alerts-email-key:" + secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def email_hash(self, email: str) -> str:
        return hmac.new(self._secret, email.strip().lower().encode(), hashlib.sha256).hexdigest()

    def add(self, email: str, area: str, categories: tuple[str, ...]) -> tuple[str, bool]:
        """A pending subscription (or the existing one for this address and area): (id, created)."""
        digest = self.email_hash(email)
        with self.transaction() as db:
            found = db.execute("SELECT subscription_id, status FROM subscriptions WHERE email_hash = ? AND area = ?",
                               (digest, area)).fetchone()
            if found and found[1] != "unsubscribed":
                return found[0], False
            if found:
                db.execute("DELETE FROM subscriptions WHERE subscription_id = ?", (found[0],))
            sid = uuid.uuid4().hex
            db.execute("INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, 'pending', datetime('now'), NULL, NULL)",
                       (sid, self._fernet.encrypt(email.strip().encode()), digest, area, ",".join(categories)))
            return sid, True

    def set_status(self, subscription_id: str, status: str) -> bool:
        """Confirm or unsubscribe; False when no such subscription."""
        column = {"confirmed": "confirmed_at", "unsubscribed": "unsubscribed_at"}[status]
        with self.transaction() as db:
            cursor = db.execute(f"UPDATE subscriptions SET status = ?, {column} = datetime('now') "
                                "WHERE subscription_id = ?", (status, subscription_id))
            if status == "unsubscribed":  # nothing more goes to someone who left
                db.execute("UPDATE outbox SET status = 'cancelled' WHERE subscription_id = ? AND status <> 'sent'",
                           (subscription_id,))
            return cursor.rowcount > 0

    def get(self, subscription_id: str) -> Subscription | None:
        row = self._db.execute("SELECT * FROM subscriptions WHERE subscription_id = ?", (subscription_id,)).fetchone()
        return self._subscription(row) if row else None

    def confirmed(self) -> list[Subscription]:
        rows = self._db.execute("SELECT * FROM subscriptions WHERE status = 'confirmed' ORDER BY subscription_id")
        return [self._subscription(r) for r in rows]

    def _subscription(self, row: tuple[Any, ...]) -> Subscription:
        return Subscription(row[0], self._fernet.decrypt(row[1]).decode(), row[3],
                            tuple(c for c in row[4].split(",") if c), row[5])

    def plan(self, rows: list[tuple[str, str, str, str, str]]) -> int:
        """Queue digests (subscription_id, area, month, subject, body); ones already queued are left alone."""
        with self.transaction() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO outbox (subscription_id, area, month, subject, body, status, "
                           "created_at) VALUES (?, ?, ?, ?, ?, 'pending', datetime('now'))", rows)
            return db.total_changes - before

    def to_send(self, max_attempts: int) -> list[tuple[str, str, str, str, str]]:
        """(subscription_id, area, month, subject, body) of every digest still to go."""
        return self._db.execute(
            "SELECT subscription_id, area, month, subject, body FROM outbox WHERE status IN ('pending', 'failed') "
            "AND attempts < ? ORDER BY created_at, subscription_id", (max_attempts,)).fetchall()

    def mark(self, results: list[tuple[str, str, str, str | None]]) -> None:
        """Record (subscription_id, area, month, error or None) of attempted sends."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, status = CASE WHEN ?1 IS NULL THEN 'sent' ELSE 'failed' "
                "END, last_error = ?1, sent_at = CASE WHEN ?1 IS NULL THEN datetime('now') END "
                "WHERE subscription_id = ?2 AND area = ?3 AND month = ?4",
                [(error, sid, area, month) for sid, area, month, error in results])

    def outbox_counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
