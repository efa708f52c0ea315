"""Who is asking, as named dependencies: ``CurrentUser`` (an API token or a page session) and ``Purpose``.

A request is authenticated by ``Authorization: Bearer st_...`` (an API token) or by the session cookie
the sign-in sets (HttpOnly, SameSite=Strict, Secure over https). A request carried by the cookie that
changes anything (any method but GET and HEAD) must also send the session's CSRF token in the
``X-CSRF-Token`` header: SameSite already keeps other sites' requests from carrying the cookie, the
token covers older browsers and same-site subdomains. A token request needs no CSRF token (a browser
never adds a bearer token by itself).

Person data is read on a warehouse open for writing (the audit log is written first): a server that
opened its warehouse read-only has no person-data routes, and says how to start one that has
(``SAFER_PERSON_DATA=1``).

Refusals are counted per user (:class:`RefusalWatch`): a user refused :data:`MAX_REFUSALS` times within
:data:`REFUSAL_WINDOW` seconds, e.g. trying person ids one after another, is refused everything until the
window passes, and that is audited too. Failed sign-ins are also counted per client address
(:class:`SignInThrottle`): one password tried against many user ids never locks any one account, so an
address with :data:`MAX_ADDRESS_FAILURES` failed sign-ins within :data:`ADDRESS_WINDOW` seconds is refused
sign-in (429) until the window passes. Both counts are per server process.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from typing import Annotated, Final

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from safertogether.access.policy import AccessRequest
from safertogether.access.users import same_secret, user_for_credentials
from safertogether.api.deps import SESSION_COOKIE, WarehouseDep
from safertogether.errors import (
    AccessDeniedError,
    AuthenticationError,
    PersonDataUnavailableError,
    TooManyAttemptsError,
)
from safertogether.model.access import PURPOSES, User

CSRF_HEADER: Final = "X-CSRF-Token"
MAX_REFUSALS: Final = 30
REFUSAL_WINDOW: Final = 600.0
MAX_ADDRESS_FAILURES: Final = 20
ADDRESS_WINDOW: Final = 600.0
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


async def get_current_user(request: Request, warehouse: WarehouseDep) -> User:
    """The signed-in user, by API token or by session cookie (with its CSRF token when changing anything).

    On the event loop (one indexed query; a thread-pool hand-off costs more); a refusal's audit entry is
    written from the thread pool, so a stream of bad credentials never holds the loop while it commits."""
    writable_or_refuse(warehouse)
    try:
        user = _authenticated(request, warehouse)
    except AuthenticationError as refused:
        await run_in_threadpool(_audit_bad_credential, warehouse, request, str(refused))
        raise
    session = getattr(request.state, "session", None)
    if session is not None and request.method not in _SAFE_METHODS and not same_secret(
            request.headers.get(CSRF_HEADER), session.csrf_token):
        await run_in_threadpool(_audit_refusal, warehouse, user, request, "missing or wrong CSRF token")
        raise AccessDeniedError(f"a change made with a session must send its CSRF token in the {CSRF_HEADER} "
                                "header (GET /api/people/me gives it)")
    if refusals.over(user.user_id):
        await run_in_threadpool(refusals.check, warehouse, user, request)
    return user


def _authenticated(request: Request, warehouse: WarehouseDep) -> User:
    user, request.state.session = user_for_credentials(warehouse, request.headers.get("authorization", ""),
                                                       request.cookies.get(SESSION_COOKIE, ""))
    return user


def _audit_bad_credential(warehouse: WarehouseDep, request: Request, reason: str) -> None:
    """A token or session cookie was presented and is not valid (none at all is merely not signed in)."""
    from safertogether.access.audit import AuditEvent, append

    presented = request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE)
    if not presented:
        return
    # The public id of the token or session only, never its secret.
    shown = re.fullmatch(r"(?:bearer\s+)?(st_[0-9a-f]{16}|[0-9a-f]{16})[_.].*", presented.strip(), re.IGNORECASE)
    append(warehouse, AuditEvent(None, None, "authenticate", None, "denied",
                                 [shown.group(1) if shown else "(unreadable credential)",
                                  _where(request)], (), None, reason))


def writable_or_refuse(warehouse: WarehouseDep) -> None:
    if warehouse.read_only:
        raise PersonDataUnavailableError(
            "this server does not serve person data: its warehouse is open read-only, and every read of person "
            "data is written to the audit log first; start it with SAFER_PERSON_DATA=1 (one process on DuckDB)")


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_access_request(user: CurrentUser, purpose: Annotated[str, Query(
        description=f"Why you need this person data: one of {', '.join(PURPOSES)}; required")] = "",
        emergency_reason: Annotated[str | None, Query(
            description="Break glass (purpose emergency-response only): why, in words; flagged for review",
            max_length=1000)] = None) -> AccessRequest:
    """The user's request with its stated purpose (checked, and refusals audited, by the access views)."""
    # NUL cannot be stored (PostgreSQL text) or audited: it is shown as the replacement character instead.
    reason = emergency_reason.replace("\x00", "\ufffd") if emergency_reason is not None else None
    return AccessRequest(user, purpose.strip(), emergency_reason=reason)


Purpose = Annotated[AccessRequest, Depends(get_access_request)]


class SlidingCount:
    """Events per key (a user id, a client address) in a sliding window of ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._seen.setdefault(key, deque()).append(time.monotonic())

    def over(self, key: str) -> bool:
        """Whether ``key`` has reached the limit within the window (old events are dropped on the way)."""
        now = time.monotonic()
        with self._lock:
            times = self._seen.get(key)
            while times and now - times[0] > self.window:
                times.popleft()
            if times is not None and not times:
                del self._seen[key]
            return times is not None and len(times) >= self.limit

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()


class RefusalWatch(SlidingCount):
    """Refusals per user in a sliding window; past the limit, the user is refused until it slides."""

    def __init__(self, limit: int = MAX_REFUSALS, window: float = REFUSAL_WINDOW) -> None:
        super().__init__(limit, window)

    def refused(self, user: User) -> None:
        self.add(user.user_id)

    def check(self, warehouse: WarehouseDep, user: User, request: Request) -> None:
        if self.over(user.user_id):
            _audit_refusal(warehouse, user, request, f"{self.limit} refusals within {self.window:g} s")
            raise AccessDeniedError(f"too many refused requests ({self.limit} within {self.window / 60:g} minutes): "
                                    "wait, or ask your data protection officer")


class SignInThrottle(SlidingCount):
    """Failed sign-ins per client address: past the limit, that address may not try again until it slides.

    A user's own lock-out (five failures) stops guessing one account's password; spraying one common
    password across many user ids never reaches it, and is what this stops. The refusal names no user
    and is audited with the address.
    """

    def __init__(self, limit: int = MAX_ADDRESS_FAILURES, window: float = ADDRESS_WINDOW) -> None:
        super().__init__(limit, window)

    def check(self, warehouse: WarehouseDep, request: Request) -> None:
        address = client_address(request)
        if self.over(address):
            from safertogether.access.audit import AuditEvent, append

            append(warehouse, AuditEvent(None, None, "sign-in", None, "denied", [_where(request)], (), None,
                                         f"{self.limit} failed sign-ins from {address} within {self.window:g} s"))
            raise TooManyAttemptsError(f"too many failed sign-ins from this address ({self.limit} within "
                                       f"{self.window / 60:g} minutes): wait, or ask your administrator",
                                       retry_after=int(self.window))

    def failed(self, request: Request) -> None:
        self.add(client_address(request))


def client_address(request: Request) -> str:
    """The address the request came from (behind a proxy, uvicorn's --forwarded-allow-ips sets it)."""
    return request.client.host if request.client else "unknown"


refusals = RefusalWatch()
sign_in_failures = SignInThrottle()


def _audit_refusal(warehouse: WarehouseDep, user: User, request: Request, reason: str) -> None:
    from safertogether.access.audit import AuditEvent, append

    purpose = request.query_params.get("purpose")
    append(warehouse, AuditEvent(user.user_id, user.agency, "request", purpose if purpose in PURPOSES else None,
                                 "denied", [_where(request)], (), None, reason))


def _where(request: Request) -> str:
    """The request as the audit log names it (a NUL, which cannot be stored, shown as the replacement character)."""
    return f"{request.method} {request.url.path}".replace("\x00", "\ufffd")
