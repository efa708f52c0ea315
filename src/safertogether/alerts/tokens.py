"""Signed tokens for confirmation and unsubscribe links (HMAC-SHA256 over a small JSON payload).

A token says which subscription and for what (``confirm`` or ``unsubscribe``), and until when. The
purpose is signed too, so an unsubscribe token cannot confirm. The payload holds no e-mail address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Final

import orjson

from safertogether.errors import BadRequestError

CONFIRM_SECONDS: Final = 48 * 3600


class TokenError(BadRequestError):
    """A link that is forged, damaged, for another purpose or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, body: str) -> bytes:
    return hmac.new(secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest()


def sign(secret: bytes, purpose: str, subscription_id: str, ttl_seconds: int | None = None,
         now: float | None = None) -> str:
    """A token for ``purpose`` on ``subscription_id``; ``ttl_seconds`` None: never expires."""
    expires = None if ttl_seconds is None else int((now or time.time()) + ttl_seconds)
    body = _b64(orjson.dumps({"s": subscription_id, "x": expires}))
    return f"{body}.{_b64(_mac(secret, purpose, body))}"


def verify(secret: bytes, purpose: str, token: str, now: float | None = None) -> str:
    """The subscription id a valid token names; :class:`TokenError` otherwise."""
    try:
        body, mac = token.strip().split(".")
        good = hmac.compare_digest(_unb64(mac), _mac(secret, purpose, body))
        payload = orjson.loads(_unb64(body)) if good else None
    except (ValueError, orjson.JSONDecodeError):
        raise TokenError("this link is damaged; copy the whole link from the e-mail") from None
    if not good or not isinstance(payload, dict) or not isinstance(payload.get("s"), str):
        raise TokenError("this link is not valid for this; copy the whole link from the e-mail")
    if payload.get("x") is not None and (now or time.time()) > payload["x"]:
        raise TokenError("this confirmation link has expired; subscribe again to get a new one")
    return str(payload["s"])
