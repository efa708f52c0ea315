"""An optional per-client rate limit for public deployments (off unless configured)."""

from __future__ import annotations

import threading
import time

from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException

# Clients idle this long are forgotten, so the table of buckets cannot grow without end.
IDLE_SECONDS = 300.0

_buckets: dict[str, tuple[float, float]] = {}
_lock = threading.Lock()
_last_prune = [0.0]


async def rate_limit(request: Request) -> None:
    """``SAFER_RATE_LIMIT_PER_SECOND`` requests a second per client address (a burst of twice that).

    A token bucket per address; behind a reverse proxy every client shares the proxy's address, so
    limit at the proxy there instead. Async so that FastAPI does not hand it to a thread (see
    :mod:`safertogether.api.deps`).
    """
    limit = getattr(request.app.state.settings, "rate_limit_per_second", None)
    if not limit:
        return
    client = request.client.host if request.client else "?"
    now, burst = time.monotonic(), 2 * limit
    with _lock:
        _prune(now)
        tokens, then = _buckets.get(client, (burst, now))
        tokens = min(burst, tokens + (now - then) * limit)
        if tokens < 1:
            _buckets[client] = (tokens, now)
            raise StarletteHTTPException(429, f"rate limit of {limit:g} requests a second exceeded")
        _buckets[client] = (tokens - 1, now)


def _prune(now: float) -> None:
    if now - _last_prune[0] < IDLE_SECONDS:
        return
    _last_prune[0] = now
    for client in [c for c, (_tokens, then) in _buckets.items() if now - then > IDLE_SECONDS]:
        del _buckets[client]
