"""Who signs in: users with argon2id password hashes and lock-out, API tokens, and sessions for the pages.

A user belongs to one agency and holds a role and a clearance (:class:`~safertogether.model.access.User`).
Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second recommended setting);
after :data:`MAX_FAILURES` wrong passwords in a row the user is locked for :data:`LOCK_MINUTES`, and every
sign-in, failure and lock-out is in the audit log. An unknown user, a wrong password, a locked or disabled
user all meet the same :class:`~safertogether.errors.AuthenticationError` message after the same work (a
hash is verified even for an unknown user), so sign-in cannot tell an attacker which user ids exist.

API tokens and page sessions are random secrets (256 bits) shown once; only their SHA-256 is stored (a
secret that long needs no slow hash), found by a public id and compared in constant time. Both expire;
tokens can be revoked, sessions end at sign-out. A session carries its own CSRF token, which every
state-changing request made with the session's cookie must echo (see :mod:`safertogether.api.auth`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from safertogether.errors import AuthenticationError, BadRequestError, NotFoundError
from safertogether.model.access import CLEARANCE_LEVEL, User

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from safertogether.store.warehouse import Warehouse

MAX_FAILURES: Final = 5
LOCK_MINUTES: Final = 15
MIN_PASSWORD: Final = 12
TOKEN_DAYS: Final = 30
SESSION_HOURS: Final = 8
#: User ids are short, printable and safe to write in logs and URLs.
USER_ID: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: The one answer to every failed sign-in, whatever the cause.
SIGN_IN_REFUSED: Final = ("sign-in refused: the user id or password is wrong, or the user is locked after repeated "
                          "failures or disabled; try again, or ask an administrator (`safer users unlock`)")
NOT_SIGNED_IN: Final = ("not signed in, or the session or token has expired or been revoked: sign in again "
                        "(POST /api/people/sign-in) or send a valid token as 'Authorization: Bearer ...'")
_TOKEN: Final = re.compile(r"st_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, 64 MiB, 3 passes: RFC 9106's second recommendation


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so an unknown user costs what a known one does."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_hasher().hash(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ------------------------------------------------------------------------------------------------ users

@dataclass(frozen=True)
class UserAccount:
    """A stored user and their sign-in state (never the hash) as ``safer users list`` shows them."""

    user: User
    failed_attempts: int
    locked_until: dt.datetime | None
    disabled: bool

    def as_json(self) -> dict[str, Any]:
        return {**self.user.model_dump(), "failed_attempts": self.failed_attempts,
                "locked_until": self.locked_until.isoformat() if self.locked_until else None,
                "disabled": self.disabled}


def check_password(password: str) -> None:
    """A password long enough to resist guessing (NCSC: length over composition rules)."""
    if len(password) < MIN_PASSWORD:
        raise BadRequestError(f"a password needs at least {MIN_PASSWORD} characters (three random words work well)")


def add_user(warehouse: Warehouse, user: User, password: str) -> None:
    """Store a new user with an argon2id hash of ``password``.

    Raises:
        BadRequestError: a malformed or taken user id, an unknown clearance, or too short a password.
    """
    if not USER_ID.fullmatch(user.user_id):
        raise BadRequestError(f"user id {user.user_id!r}: lower-case letters, digits, '.', '_' and '-', up to 64")
    if user.clearance not in CLEARANCE_LEVEL:
        raise BadRequestError(f"clearance must be one of {', '.join(CLEARANCE_LEVEL)}")
    check_password(password)
    if warehouse.scalar("SELECT count(*) FROM users WHERE user_id = ?", [user.user_id]):
        raise BadRequestError(f"user {user.user_id!r} exists already; choose another id")
    with warehouse.transaction():
        warehouse.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, 0, NULL, false, ?)",
                          [user.user_id, user.name, user.agency, user.role, user.clearance,
                           _hasher().hash(password), _utc_now()])
    _audit(warehouse, None, "user-add", "allowed", user.user_id)


def list_users(warehouse: Warehouse) -> list[UserAccount]:
    rows = warehouse.query("SELECT * FROM users ORDER BY agency, user_id")
    return [_account(row) for row in rows]


def get_user(warehouse: Warehouse, user_id: str) -> UserAccount:
    row = warehouse.query("SELECT * FROM users WHERE user_id = ?", [user_id])
    if not row:
        raise NotFoundError(f"no user {user_id!r} (`safer users list` shows them)")
    return _account(row[0])


def _account(row: dict[str, Any]) -> UserAccount:
    user = User(user_id=row["user_id"], name=row["name"], agency=row["agency"], role=row["role"],
                clearance=row["clearance"])
    return UserAccount(user, int(row["failed_attempts"]), row["locked_until"], bool(row["disabled"]))


def set_disabled(warehouse: Warehouse, user_id: str, disabled: bool = True) -> None:
    """Disable a user (no sign-in; their sessions end and tokens stop working) or enable them again."""
    get_user(warehouse, user_id)
    with warehouse.transaction():
        warehouse.execute("UPDATE users SET disabled = ? WHERE user_id = ?", [disabled, user_id])
        if disabled:
            warehouse.execute("UPDATE user_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL",
                              [_utc_now(), user_id])
    _audit(warehouse, None, "user-disable" if disabled else "user-enable", "allowed", user_id)


def unlock_user(warehouse: Warehouse, user_id: str) -> None:
    """Lift a lock-out and forget the failures."""
    get_user(warehouse, user_id)
    with warehouse.transaction():
        warehouse.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE user_id = ?", [user_id])
    _audit(warehouse, None, "user-unlock", "allowed", user_id)


def authenticate(warehouse: Warehouse, user_id: str, password: str, now: dt.datetime | None = None) -> User:
    """The user, if ``password`` is theirs and they may sign in now; every attempt is audited.

    Raises:
        AuthenticationError: always with :data:`SIGN_IN_REFUSED`, whatever the cause.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    now = now or _utc_now()
    known = USER_ID.fullmatch(user_id or "") is not None
    row = warehouse.query("SELECT * FROM users WHERE user_id = ?", [user_id]) if known else []
    stored = row[0] if row else None
    try:
        _hasher().verify(stored["password_hash"] if stored else _dummy_hash(), password or "")
        matched = stored is not None
    except (VerificationError, InvalidHashError):
        matched = False
    if stored is None:
        _audit(warehouse, None, "sign-in", "denied", user_id if known else "(malformed id)", "unknown user")
        raise AuthenticationError(SIGN_IN_REFUSED)
    account = _account(stored)
    locked = account.locked_until is not None and account.locked_until > now
    if matched and not locked and not account.disabled:
        if account.failed_attempts or account.locked_until:
            with warehouse.transaction():
                warehouse.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE user_id = ?",
                                  [user_id])
        _audit(warehouse, account.user, "sign-in", "allowed", user_id)
        return account.user
    _refuse_sign_in(warehouse, account, locked, now)
    raise AuthenticationError(SIGN_IN_REFUSED)


def _refuse_sign_in(warehouse: Warehouse, account: UserAccount, locked: bool, now: dt.datetime) -> None:
    user_id = account.user.user_id
    if account.disabled or locked:
        why = "user disabled" if account.disabled else f"user locked until {account.locked_until:%H:%M:%S} UTC"
        _audit(warehouse, account.user, "sign-in", "denied", user_id, why)
        return
    failures = account.failed_attempts + 1
    locks = failures >= MAX_FAILURES
    with warehouse.transaction():
        warehouse.execute("UPDATE users SET failed_attempts = ?, locked_until = ? WHERE user_id = ?",
                          [0 if locks else failures, now + dt.timedelta(minutes=LOCK_MINUTES) if locks else None,
                           user_id])
    _audit(warehouse, account.user, "sign-in", "denied", user_id, f"wrong password ({failures} in a row)")
    if locks:
        _audit(warehouse, account.user, "lock-out", "denied", user_id,
               f"{MAX_FAILURES} wrong passwords in a row: locked for {LOCK_MINUTES} minutes")


# --------------------------------------------------------------------------------------- tokens, sessions

@dataclass(frozen=True)
class IssuedToken:
    """A new API token: ``token`` is shown once and never stored."""

    token_id: str
    token: str
    expires_at: dt.datetime


def issue_token(warehouse: Warehouse, user_id: str, days: int = TOKEN_DAYS) -> IssuedToken:
    """A new API token for the user, valid ``days`` days (send it as ``Authorization: Bearer <token>``)."""
    if not 1 <= days <= 366:
        raise BadRequestError("a token lives 1 to 366 days")
    get_user(warehouse, user_id)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    now = _utc_now()
    expires = now + dt.timedelta(days=days)
    with warehouse.transaction():
        warehouse.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, NULL)",
                          [token_id, user_id, _digest(secret), now, expires])
    _audit(warehouse, None, "token-issue", "allowed", user_id, None, token_id)
    return IssuedToken(token_id, f"st_{token_id}_{secret}", expires)


def revoke_token(warehouse: Warehouse, token_id: str) -> None:
    row = warehouse.row("SELECT user_id FROM api_tokens WHERE token_id = ?", [token_id])
    if row is None:
        raise NotFoundError(f"no token {token_id!r} (`safer users token list USER` shows a user's tokens)")
    with warehouse.transaction():
        warehouse.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                          [_utc_now(), token_id])
    _audit(warehouse, None, "token-revoke", "allowed", row[0], None, token_id)


def list_tokens(warehouse: Warehouse, user_id: str) -> list[dict[str, Any]]:
    return warehouse.query("""SELECT token_id, created_at, expires_at, revoked_at FROM api_tokens
                              WHERE user_id = ? ORDER BY created_at""", [user_id])


def user_for_token(warehouse: Warehouse, token: str, now: dt.datetime | None = None) -> User:
    """The user an API token belongs to, if it is well formed, unexpired, unrevoked and theirs is enabled."""
    found = _TOKEN.fullmatch(token or "")
    if found is None:
        raise AuthenticationError(NOT_SIGNED_IN)
    return _valid_holder(_token_rows(warehouse, found.group(1)), found.group(2), now or _utc_now(), "revoked_at")


_TOKEN_HOLDERS: Final = """SELECT t.token_id, t.secret_hash, t.expires_at, t.revoked_at, u.* FROM api_tokens t
                           JOIN users u USING (user_id)"""


def _token_rows(warehouse: Warehouse, token_id: str) -> list[dict[str, Any]]:
    """The token's row with its holder's (none: no such token).

    On a shared server another process may revoke a token or disable a user, so it is asked every time. A
    DuckDB file has one writing process, this one, and every change to a token or a user is one of this
    warehouse's commits: there the rows are held until its next commit (:meth:`Warehouse.memo`), which keeps
    a query per request, and its wait behind the audit writer's commit, off a busy server's event loop. They
    are credentials' hashes and expiry, never person data; the secret, expiry, revocation and the user's
    being enabled are still checked on every request.
    """
    if warehouse.engine.shared_writers:
        return warehouse.query(f"{_TOKEN_HOLDERS} WHERE t.token_id = ?", [token_id])
    held = warehouse.memo("api_token_holders", _token_holders)
    return held.get(token_id, [])


def _token_holders(warehouse: Warehouse) -> dict[str, list[dict[str, Any]]]:
    return {row["token_id"]: [row] for row in warehouse.query(_TOKEN_HOLDERS)}


@dataclass(frozen=True)
class Session:
    """A page session: ``cookie`` goes in the HttpOnly cookie, ``csrf_token`` in every state-changing request."""

    session_id: str
    cookie: str
    csrf_token: str
    expires_at: dt.datetime


def start_session(warehouse: Warehouse, user: User, hours: int = SESSION_HOURS) -> Session:
    session_id, secret, csrf = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _utc_now()
    expires = now + dt.timedelta(hours=hours)
    with warehouse.transaction():
        warehouse.execute("INSERT INTO user_sessions VALUES (?, ?, ?, ?, ?, ?, NULL)",
                          [session_id, user.user_id, _digest(secret), csrf, now, expires])
    return Session(session_id, f"{session_id}.{secret}", csrf, expires)


def session_for_cookie(warehouse: Warehouse, cookie: str, now: dt.datetime | None = None) -> tuple[User, Session]:
    """The user and session of a session cookie that is unexpired, not ended, and whose user is enabled."""
    session_id, _, secret = (cookie or "").partition(".")
    if not re.fullmatch(r"[0-9a-f]{16}", session_id) or not secret:
        raise AuthenticationError(NOT_SIGNED_IN)
    row = warehouse.query("""SELECT s.secret_hash, s.expires_at, s.ended_at, s.csrf_token, u.* FROM user_sessions s
                             JOIN users u USING (user_id) WHERE s.session_id = ?""", [session_id])
    user = _valid_holder(row, secret, now or _utc_now(), "ended_at")
    return user, Session(session_id, cookie, row[0]["csrf_token"], row[0]["expires_at"])


def user_for_credentials(warehouse: Warehouse, authorization: str, cookie: str) -> tuple[User, Session | None]:
    """The user a request names: by its ``Authorization: Bearer`` API token or, without that header, by its
    session cookie (then with the session, whose CSRF token a change must send)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError(NOT_SIGNED_IN)
        return user_for_token(warehouse, token.strip()), None
    return session_for_cookie(warehouse, cookie)


def end_session(warehouse: Warehouse, session_id: str) -> None:
    with warehouse.transaction():
        warehouse.execute("UPDATE user_sessions SET ended_at = ? WHERE session_id = ? AND ended_at IS NULL",
                          [_utc_now(), session_id])


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret (CSRF token) with the stored one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _valid_holder(rows: list[dict[str, Any]], secret: str, now: dt.datetime, ended: str) -> User:
    row = rows[0] if rows else None
    # Compare even when nothing was found, so a missing id and a wrong secret take the same time.
    matched = hmac.compare_digest(_digest(secret), row["secret_hash"] if row else "0" * 64)
    if row is None or not matched or row[ended] is not None or row["expires_at"] <= now or row["disabled"]:
        raise AuthenticationError(NOT_SIGNED_IN)
    return _account(row).user


def _audit(warehouse: Warehouse, actor: User | None, action: str, outcome: str, subject: str,
           reason: str | None = None, detail: str | None = None) -> None:
    from safertogether.access.audit import AuditEvent, append

    append(warehouse, AuditEvent(actor.user_id if actor else None, actor.agency if actor else None, action, None,
                                 outcome, [subject, *([detail] if detail else [])], (), None, reason))  # type: ignore[arg-type]
