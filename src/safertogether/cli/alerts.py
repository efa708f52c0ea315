"""`safer alerts`: residents' e-mail digests (subscribe with double opt-in, confirm, unsubscribe, send)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from safertogether.cli.common import DbOption, JsonOption, console, fail, progress_bar, warehouse_or_exit
from safertogether.errors import MissingDataError, SaferError

app = typer.Typer(help="E-mail digests for residents after each import (double opt-in; signed links).",
                  no_args_is_help=True)

SmtpOption = Annotated[str | None, typer.Option("--smtp", help="SMTP server HOST:PORT [default: $SAFER_SMTP]")]


@contextmanager
def _alerts(db: str | None = None) -> Iterator[tuple[object, object, object]]:
    from safertogether.alerts.service import AlertsConfig
    from safertogether.alerts.store import AlertStore
    from safertogether.settings import Settings

    settings = Settings()
    if settings.alerts_secret is None:
        fail(MissingDataError("alerts need a secret to sign links and encrypt addresses: set SAFER_ALERTS_SECRET "
                              "to 32 or more random characters (and keep it: changing it voids every link)"))
    secret = settings.alerts_secret.get_secret_value().encode()
    try:
        store = AlertStore(settings.alerts_location(db), secret)
    except Exception as exc:  # noqa: BLE001 - sqlite3 or psycopg: say where, and what to check
        fail(MissingDataError(f"cannot open the alerts' subscriptions ({exc}); check SAFER_ALERTS_DB or --db"))
    try:
        yield settings, store, AlertsConfig(secret, settings.public_url, settings.alerts_sender)
    finally:
        store.close()


def alerts_configured(smtp: str | None = None) -> bool:
    """Whether this deployment sends alerts: a secret and an SMTP server are set (SAFER_ALERTS_SECRET, and
    SAFER_SMTP or ``smtp``)."""
    from safertogether.settings import Settings

    settings = Settings()
    return settings.alerts_secret is not None and bool(smtp or settings.smtp)


def send_digests(db: str | None, smtp: str | None, policy: str | None, quiet: bool) -> dict[str, object]:
    """Queue this month's digest for every confirmed subscriber (once per area and month) and send the outbox;
    what `safer alerts send` and `safer import police-uk` (after an import) both run."""
    from safertogether.alerts.service import deliver, plan_digests
    from safertogether.disclosure.policy import load_policy

    with _alerts(db) as (settings, store, config), warehouse_or_exit(db, read_only=True) as warehouse:
        try:
            chosen = load_policy(policy or settings.disclosure_policy)
            planned = plan_digests(warehouse, store, config, chosen)
            with _mailer(smtp, settings) as mailer, progress_bar(quiet) as bar:
                task = bar.add_task("sending digests", total=len(store.to_send(config.max_attempts)))
                sent, failed = deliver(store, config, mailer, progress=lambda n: bar.advance(task, n))
        except SaferError as exc:
            fail(exc)
        counts = store.outbox_counts()
    return {"planned": planned, "sent": sent, "failed": failed, "outbox": counts}


def say_sent(report: dict[str, object]) -> None:
    counts: dict[str, int] = report["outbox"]  # type: ignore[assignment]
    console.print(f"{report['planned']:,} new digests queued, {report['sent']:,} sent, {report['failed']:,} waiting "
                  f"to be retried (outbox: {', '.join(f'{k} {v:,}' for k, v in sorted(counts.items())) or 'empty'}).")


def _mailer(smtp: str | None, settings: object):  # noqa: ANN202 - a Mailer, imported lazily
    from safertogether.alerts.mailer import Mailer, SmtpServer

    where = smtp or getattr(settings, "smtp", None)
    if not where:
        fail(MissingDataError("no SMTP server: give --smtp HOST:PORT or set SAFER_SMTP"))
    return Mailer(SmtpServer.parse(where))


@app.command("subscribe")
def subscribe_command(
    email: Annotated[str, typer.Argument(help="The resident's e-mail address")],
    area: Annotated[str, typer.Argument(help="Area code (LSOA, MSOA, local authority) or force id")],
    category: Annotated[list[str] | None, typer.Option("--category", help="Only these police.uk categories "
                                                        "(repeatable)")] = None,
    db: DbOption = None, smtp: SmtpOption = None,
) -> None:
    """Record a pending subscription and e-mail the confirmation link (nothing is sent until it is opened)."""
    from safertogether.alerts.service import subscribe

    with _alerts(db) as (settings, store, config), warehouse_or_exit(db, read_only=True) as warehouse:
        try:
            with _mailer(smtp, settings) as mailer:
                sid = subscribe(warehouse, store, config, mailer, email, area, tuple(category or ()))
        except (SaferError, OSError) as exc:
            fail(exc if isinstance(exc, SaferError) else MissingDataError(f"could not send the e-mail: {exc}"))
    console.print(f"Subscription {sid} is waiting for confirmation: the link was e-mailed.")


@app.command("confirm")
def confirm_command(token: Annotated[str, typer.Argument(help="The token from the confirmation link")],
                    db: DbOption = None) -> None:
    """Confirm a subscription (what opening the link does)."""
    from safertogether.alerts.service import confirm

    with _alerts(db) as (_settings, store, config):
        try:
            found = confirm(store, config, token)
        except SaferError as exc:
            fail(exc)
    console.print(f"Subscription {found.subscription_id} confirmed for {found.area}.")


@app.command("unsubscribe")
def unsubscribe_command(token: Annotated[str, typer.Argument(help="The token from an unsubscribe link")],
                        db: DbOption = None) -> None:
    """Stop a subscription (what opening the unsubscribe link does)."""
    from safertogether.alerts.service import unsubscribe

    with _alerts(db) as (_settings, store, config):
        try:
            unsubscribe(store, config, token)
        except SaferError as exc:
            fail(exc)
    console.print("Unsubscribed.")


@app.command("send")
def send_command(
    db: DbOption = None, smtp: SmtpOption = None,
    policy: Annotated[str | None, typer.Option("--policy", help="Disclosure policy of the figures "
                                                "[default: $SAFER_DISCLOSURE_POLICY]")] = None,
    as_json: JsonOption = False,
) -> None:
    """Queue this month's digest for every confirmed subscriber (once per area and month) and send the outbox.

    `safer import police-uk` runs this after each import when alerts are configured (SAFER_ALERTS_SECRET and
    SAFER_SMTP set; --send-alerts/--no-send-alerts there choose)."""
    report = send_digests(db, smtp, policy, as_json)
    if as_json:
        print(json.dumps(report))
        return
    say_sent(report)
    if report["failed"]:
        raise typer.Exit(code=1)
