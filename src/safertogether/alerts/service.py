"""Subscribe, confirm, unsubscribe, and send the month's digests: what the CLI and the API call."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from safertogether.alerts.digest import area_digest, digest_text
from safertogether.alerts.mailer import Mailer, message, safe_error
from safertogether.alerts.store import AlertStore, Subscription
from safertogether.alerts.tokens import CONFIRM_SECONDS, sign, verify
from safertogether.areas.hierarchy import area
from safertogether.disclosure.policy import Policy
from safertogether.errors import BadRequestError, NotFoundError
from safertogether.model.categories import KNOWN_CRIME_TYPES
from safertogether.store.warehouse import Warehouse

log = logging.getLogger(__name__)
_EMAIL: Final = re.compile(r"^[^@\s<>,;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


@dataclass(frozen=True)
class AlertsConfig:
    """What alerts need besides the warehouse: the signing secret, where links point, who sends."""

    secret: bytes
    public_url: str = "http://127.0.0.1:8000"
    sender: str = "Safer Together <alerts@localhost>"
    max_attempts: int = 5

    def link(self, action: str, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/api/alerts/{action}?token={token}"


@dataclass(frozen=True)
class SendReport:
    planned: int
    sent: int
    failed: int
    outbox: dict[str, int]


def subscribe(warehouse: Warehouse, store: AlertStore, config: AlertsConfig, mailer: Mailer, email: str,
              area_code: str, categories: tuple[str, ...] = ()) -> str:
    """Record a pending subscription and e-mail its confirmation link; returns the subscription id."""
    email = email.strip()
    if not _EMAIL.match(email):
        raise BadRequestError("that does not look like an e-mail address; check it and try again")
    unknown = [c for c in categories if c not in KNOWN_CRIME_TYPES]
    if unknown:
        raise BadRequestError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                              "use police.uk's names, e.g. 'Burglary' or 'Vehicle crime'")
    place = area(warehouse, area_code)
    sid, _created = store.add(email, place["code"], categories)
    found = store.get(sid)
    if found and found.status == "confirmed":
        return sid  # already receiving: no second confirmation mail
    token = sign(config.secret, "confirm", sid, CONFIRM_SECONDS)
    body = (f"Someone (we hope you) asked for a monthly e-mail about crime in {place.get('name') or place['code']}.\n\n"
            f"To start them, open this link within 48 hours:\n{config.link('confirm', token)}\n\n"
            "If this was not you, ignore this e-mail: nothing will be sent.\n")
    mailer.send(message(config.sender, email, "Confirm your crime alerts", body, f"confirm:{sid}"))
    log.info("subscription %s pending for %s", sid, place["code"])
    return sid


def confirm(store: AlertStore, config: AlertsConfig, token: str) -> Subscription:
    sid = verify(config.secret, "confirm", token)
    if not store.set_status(sid, "confirmed"):
        raise NotFoundError("this subscription no longer exists; subscribe again")
    found = store.get(sid)
    assert found is not None
    return found


def unsubscribe(store: AlertStore, config: AlertsConfig, token: str) -> None:
    sid = verify(config.secret, "unsubscribe", token)
    store.set_status(sid, "unsubscribed")  # an unknown id is already unsubscribed: say yes


def plan_digests(warehouse: Warehouse, store: AlertStore, config: AlertsConfig, policy: Policy,
                 subscriptions: list[Subscription] | None = None) -> int:
    """Queue this month's digest for every confirmed subscription; returns how many were new."""
    texts: dict[tuple[str, tuple[str, ...]], tuple[str, str, str] | None] = {}
    rows = []
    for sub in subscriptions if subscriptions is not None else store.confirmed():
        key = (sub.area, sub.categories)
        if key not in texts:
            digest = area_digest(warehouse, sub.area, policy, categories=sub.categories)
            texts[key] = None if digest is None else (
                f"{digest.month:%Y-%m}", digest.subject, digest_text(digest, policy, "{unsubscribe}",
                                                                     categories=sub.categories))
        found = texts[key]
        if found is None:
            continue
        month, subject, body = found
        link = config.link("unsubscribe", sign(config.secret, "unsubscribe", sub.subscription_id))
        rows.append((sub.subscription_id, sub.area, month, subject, body.replace("{unsubscribe}", link)))
    return store.plan(rows)


def deliver(store: AlertStore, config: AlertsConfig, mailer: Mailer, rounds: int = 3, wait: float = 1.0,
            progress: Callable[[int], None] | None = None, batch: int = 500) -> tuple[int, int]:
    """Send every digest still to go; failures are retried (``rounds`` passes, waiting between them) and
    stay in the outbox for the next run. Returns (sent, still failed)."""
    sent = 0
    for attempt in range(rounds):
        pending = store.to_send(config.max_attempts)
        if not pending:
            break
        if attempt:
            time.sleep(wait * 2 ** (attempt - 1))
        for start in range(0, len(pending), batch):
            chunk = pending[start:start + batch]
            subscriptions = store.get_many([row[0] for row in chunk])  # one query per batch, not per message
            sent += _mark(store, [(sid, area_code, month, _send_one(config, mailer, subscriptions.get(sid), sid,
                                                                    area_code, month, subject, body))
                                  for sid, area_code, month, subject, body in chunk], progress)
    failed = len(store.to_send(config.max_attempts))
    return sent, failed


def _send_one(config: AlertsConfig, mailer: Mailer, sub: Subscription | None, sid: str, area_code: str, month: str,
              subject: str, body: str) -> str | None:
    if sub is None or sub.status != "confirmed":
        return "not confirmed"
    unsubscribe_url = body.rsplit("To stop these e-mails: ", 1)[-1].strip()
    try:
        mailer.send(message(config.sender, sub.email, subject, body, f"{sid}:{area_code}:{month}", unsubscribe_url))
    except Exception as exc:  # noqa: BLE001 - any failure stays in the outbox, named without the address
        log.warning("digest for subscription %s not sent: %s", sid, safe_error(exc))
        return safe_error(exc)
    return None


def _mark(store: AlertStore, results: list[tuple[str, str, str, str | None]],
          progress: Callable[[int], None] | None) -> int:
    if not results:
        return 0
    store.mark(results)
    if progress:
        progress(len(results))
    return sum(1 for r in results if r[3] is None)


def send(warehouse: Warehouse, store: AlertStore, config: AlertsConfig, policy: Policy, mailer: Mailer,
         progress: Callable[[int], None] | None = None, rounds: int = 3, wait: float = 1.0) -> SendReport:
    """After an import: queue the month's digests (once per subscription, area and month), then send."""
    planned = plan_digests(warehouse, store, config, policy)
    sent, failed = deliver(store, config, mailer, rounds, wait, progress)
    return SendReport(planned, sent, failed, store.outbox_counts())
