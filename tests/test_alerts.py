"""Alerts for residents, through a real SMTP server (aiosmtpd on loopback): opt-in, digests, retries, feeds."""

from __future__ import annotations

import csv
import email
import email.policy
import logging
import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import orjson
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from scipy import stats

from conftest import free_port
from safertogether.alerts.digest import area_digest
from safertogether.alerts.mailer import Mailer, SmtpServer
from safertogether.alerts.service import AlertsConfig, confirm, send, subscribe
from safertogether.alerts.store import AlertStore
from safertogether.alerts.tokens import TokenError, sign, verify
from safertogether.api import create_app
from safertogether.disclosure.policy import load_policy
from safertogether.ingest import find_police_uk_files, import_police_uk
from safertogether.settings import Settings

SECRET = "a test secret that is long enough to sign with"
ADDRESS = "resident.one@example.org"
EXACT = load_policy("police-uk-as-published")


class Inbox:
    """aiosmtpd handler: keeps every message; answers 451 (try later) to the next ``fail_next`` ones."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.fail_next = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.fail_next:
            self.fail_next -= 1
            return "451 Try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpServer, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port), inbox
    finally:
        controller.stop()


@pytest.fixture
def alerts(tmp_path: Path) -> Iterator[tuple[AlertStore, AlertsConfig]]:
    store = AlertStore(tmp_path / "alerts.sqlite", SECRET.encode())
    yield store, AlertsConfig(SECRET.encode(), "http://safer.test")
    store.close()


def _link(message: email.message.Message, action: str) -> str:
    return re.search(rf"http://safer\.test/api/alerts/{action}\?token=(\S+)", message.get_content()).group(1)


def _import(warehouse, folder: Path, first: str, last: str) -> None:
    import_police_uk(warehouse, find_police_uk_files([folder], month_from=first, month_to=last))


def _monthly_rows(folder: Path) -> dict[str, int]:
    counts = {}
    for path in sorted(folder.glob("*-street.csv")):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            counts[path.name[:7]] = sum(1 for _ in csv.DictReader(handle))
    return counts


def test_double_opt_in_then_one_digest_per_month_however_often_a_month_is_imported(
        fresh_warehouse, city_folder, smtp, alerts):
    server, inbox = smtp
    store, config = alerts
    _import(fresh_warehouse, city_folder, "2020-11", "2021-11")
    with Mailer(server) as mailer:
        subscribe(fresh_warehouse, store, config, mailer, ADDRESS, "city-of-london")
        assert send(fresh_warehouse, store, config, EXACT, mailer).planned == 0  # not confirmed yet
        assert [m["To"] for m in inbox.messages] == [ADDRESS]
        assert "Confirm" in inbox.messages[0]["Subject"]
        confirm(store, config, _link(inbox.messages[0], "confirm"))
        first = send(fresh_warehouse, store, config, EXACT, mailer)
        _import(fresh_warehouse, city_folder, "2021-12", "2021-12")
        second = send(fresh_warehouse, store, config, EXACT, mailer)
        _import(fresh_warehouse, city_folder, "2021-12", "2021-12")  # the same month again
        third = send(fresh_warehouse, store, config, EXACT, mailer)
    assert (first.sent, second.sent, third.planned, third.sent) == (1, 1, 0, 0)
    assert len(inbox.messages) == 3 and store.outbox_counts() == {"sent": 2}
    december = inbox.messages[2]
    assert "December 2021" in december["Subject"]
    # An independent reading of the raw files: every row of the force's file is one crime or ASB report.
    monthly = _monthly_rows(city_folder)
    now = monthly["2021-12"]
    typical = statistics.median(monthly[m] for m in sorted(monthly) if "2020-12" <= m <= "2021-11")
    body = december.get_content()
    assert f"{now:,} crimes were recorded in your area in December 2021" in body
    moved = stats.poisson.sf(now - 1, typical) < 0.025 or stats.poisson.cdf(now, typical) < 0.025
    if moved:
        assert f"{abs(round(now - typical)):,} {'more' if now > typical else 'fewer'} than a typical month" in body
    else:
        assert "about the same as a typical month" in body
    assert "median of the previous 12 months" in body and "Open Government Licence" in body
    assert december["List-Unsubscribe"].strip().startswith("<http://safer.test/api/alerts/unsubscribe?token=")


def test_a_refused_send_is_retried_and_a_dead_server_loses_nothing(fresh_warehouse, city_folder, smtp, alerts):
    server, inbox = smtp
    store, config = alerts
    _import(fresh_warehouse, city_folder, "2021-01", "2021-12")
    with Mailer(server) as mailer:
        subscribe(fresh_warehouse, store, config, mailer, ADDRESS, "E01000001")
        confirm(store, config, _link(inbox.messages[0], "confirm"))
        inbox.fail_next = 1
        report = send(fresh_warehouse, store, config, EXACT, mailer, wait=0)
    assert (report.sent, report.failed) == (1, 0) and len(inbox.messages) == 2
    # A second subscriber while the SMTP server is down: queued, failed, kept; delivered once it is back.
    with Mailer(server) as mailer:
        subscribe(fresh_warehouse, store, config, mailer, "resident.two@example.org", "E01000002")
        confirm(store, config, _link(inbox.messages[-1], "confirm"))
    with Mailer(SmtpServer("127.0.0.1", 1), timeout=2) as dead:
        down = send(fresh_warehouse, store, config, EXACT, dead, wait=0)
    assert (down.sent, down.failed) == (0, 1) and store.outbox_counts() == {"sent": 1, "failed": 1}
    with Mailer(server) as mailer:
        back = send(fresh_warehouse, store, config, EXACT, mailer, wait=0)
    assert (back.planned, back.sent) == (0, 1) and store.outbox_counts() == {"sent": 2}
    assert inbox.messages[-1]["To"] == "resident.two@example.org"


def test_links_through_the_api_confirm_and_unsubscribe_and_addresses_stay_private(
        city_warehouse, smtp, tmp_path):
    server, inbox = smtp
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("safertogether").addHandler(handler)
    logging.getLogger("safertogether").setLevel(logging.DEBUG)
    settings = Settings(alerts_secret=SECRET, alerts_db=tmp_path / "alerts.sqlite", public_url="http://safer.test",
                        smtp=f"{server.host}:{server.port}")
    try:
        with TestClient(create_app(city_warehouse, settings), raise_server_exceptions=False) as client:
            asked = client.post("/api/alerts/subscriptions", json={"email": ADDRESS, "area": "E01000001",
                                                                   "categories": ["Burglary"]})
            assert asked.status_code == 202 and ADDRESS not in asked.text
            bad = client.post("/api/alerts/subscriptions", json={"email": ADDRESS, "area": "E01000001",
                                                                 "categories": ["Shoplifting and more"]})
            assert bad.status_code == 400
            token = _link(inbox.messages[0], "confirm")
            assert client.get("/api/alerts/confirm", params={"token": token[:-3] + "AAA"}).status_code == 400
            assert client.get("/api/alerts/confirm", params={"token": token}).json()["status"] == "confirmed"
            store = AlertStore(settings.alerts_db, SECRET.encode())
            config = AlertsConfig(SECRET.encode(), "http://safer.test")
            with Mailer(server) as mailer:
                send(city_warehouse, store, config, EXACT, mailer)
            digest = inbox.messages[-1].get_content()
            assert "You asked about: Burglary." in digest
            leave = _link(inbox.messages[-1], "unsubscribe")
            assert client.get("/api/alerts/unsubscribe", params={"token": token}).status_code == 400  # purpose
            assert client.post("/api/alerts/unsubscribe", params={"token": leave}).json()["status"] == "unsubscribed"
            assert store.confirmed() == []
            feed = client.get("/api/areas/E01000001/feed.atom")
            store.close()
    finally:
        logging.getLogger("safertogether").removeHandler(handler)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")
    assert entries and "recorded in your area" in entries[0].find("{http://www.w3.org/2005/Atom}summary").text
    for text in (*records, feed.text):
        assert ADDRESS not in text
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("alerts.sqlite*"))
    assert ADDRESS.encode() not in raw  # stored encrypted


def test_tokens_refuse_tampering_other_purposes_and_expiry():
    token = sign(b"k" * 32, "confirm", "abc", ttl_seconds=60, now=1000)
    assert verify(b"k" * 32, "confirm", token, now=1030) == "abc"
    for attempt in (lambda: verify(b"k" * 32, "unsubscribe", token, now=1030),
                    lambda: verify(b"x" * 32, "confirm", token, now=1030),
                    lambda: verify(b"k" * 32, "confirm", token, now=1061),
                    lambda: verify(b"k" * 32, "confirm", "garbage", now=1030),
                    lambda: verify(b"k" * 32, "confirm", token.replace(".", "x."), now=1030)):
        with pytest.raises(TokenError):
            attempt()


def test_digest_says_when_there_is_nothing_to_compare_with(fresh_warehouse, city_folder):
    _import(fresh_warehouse, city_folder, "2021-12", "2021-12")
    digest = area_digest(fresh_warehouse, "city-of-london", EXACT)
    assert "no earlier months" in digest.sentence()


def test_the_alerts_commands_subscribe_confirm_and_send(city_db, smtp, tmp_path, monkeypatch):
    import shutil

    from typer.testing import CliRunner

    from safertogether.cli import app

    server, inbox = smtp
    db = tmp_path / "city.duckdb"
    shutil.copy(city_db, db)
    monkeypatch.setenv("SAFER_ALERTS_SECRET", SECRET)
    monkeypatch.setenv("SAFER_ALERTS_DB", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("SAFER_PUBLIC_URL", "http://safer.test")
    runner = CliRunner()
    where = f"{server.host}:{server.port}"
    done = runner.invoke(app, ["alerts", "subscribe", ADDRESS, "E01000001", "--db", str(db), "--smtp", where])
    assert done.exit_code == 0, done.output
    assert ADDRESS not in done.output
    assert runner.invoke(app, ["alerts", "confirm", _link(inbox.messages[0], "confirm")]).exit_code == 0
    sent = runner.invoke(app, ["alerts", "send", "--db", str(db), "--smtp", where, "--json"])
    assert sent.exit_code == 0, sent.output
    assert orjson.loads(sent.stdout.strip().splitlines()[-1])["sent"] == 1
    assert [m["To"] for m in inbox.messages] == [ADDRESS, ADDRESS]
    monkeypatch.delenv("SAFER_ALERTS_SECRET")
    refused = runner.invoke(app, ["alerts", "send", "--db", str(db), "--smtp", where])
    assert refused.exit_code == 2 and "SAFER_ALERTS_SECRET" in refused.output


def test_each_import_sends_the_months_digest_once_on_either_engine(warehouse_location, city_folder, smtp, tmp_path,
                                                                    monkeypatch):
    """`safer import police-uk` sends the digests after the import (when alerts are set up, or --send-alerts);
    the same month imported again sends nothing. On PostgreSQL the subscriptions live in the deployment's
    database (schema safer_alerts), addresses encrypted; on DuckDB in their SQLite file."""
    from typer.testing import CliRunner

    from safertogether.alerts.store import is_postgres
    from safertogether.cli import app

    server, inbox = smtp
    where = f"{server.host}:{server.port}"
    postgres = is_postgres(warehouse_location)
    monkeypatch.setenv("SAFER_ALERTS_SECRET", SECRET)
    monkeypatch.setenv("SAFER_PUBLIC_URL", "http://safer.test")
    monkeypatch.delenv("SAFER_SMTP", raising=False)
    if postgres:
        monkeypatch.delenv("SAFER_ALERTS_DB", raising=False)  # the default: the warehouse's own database
    else:
        monkeypatch.setenv("SAFER_ALERTS_DB", str(tmp_path / "alerts.sqlite"))
    runner = CliRunner()

    def imported(month: str, *options: str) -> dict:
        done = runner.invoke(app, ["import", "police-uk", str(city_folder), "--from", month, "--to", month,
                                   "--db", warehouse_location, "--json", *options])
        assert done.exit_code == 0, done.output
        return orjson.loads(done.stdout)

    assert "alerts" not in imported("2021-11")  # alerts not set up (no SMTP server): nothing tried
    done = runner.invoke(app, ["alerts", "subscribe", ADDRESS, "city-of-london", "--db", warehouse_location,
                               "--smtp", where])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["alerts", "confirm", _link(inbox.messages[0], "confirm"), "--db", warehouse_location])
    assert done.exit_code == 0, done.output
    first = imported("2021-12", "--send-alerts", "--smtp", where)["alerts"]
    assert (first["planned"], first["sent"], first["failed"]) == (1, 1, 0)
    assert len(inbox.messages) == 2 and "December 2021" in inbox.messages[1]["Subject"]
    monkeypatch.setenv("SAFER_SMTP", where)  # alerts set up: the import sends by itself
    again = imported("2021-12")["alerts"]
    assert (again["planned"], again["sent"], again["outbox"]) == (0, 0, {"sent": 1})
    assert len(inbox.messages) == 2  # the same month twice: nothing sent twice
    assert "alerts" not in imported("2021-12", "--no-send-alerts")
    monkeypatch.delenv("SAFER_ALERTS_SECRET")
    refused = runner.invoke(app, ["import", "police-uk", str(city_folder), "--from", "2021-10", "--to", "2021-10",
                                  "--db", warehouse_location, "--send-alerts"])
    assert refused.exit_code == 2 and "SAFER_ALERTS_SECRET" in refused.output
    assert "nothing was imported" in refused.output
    if postgres:
        import psycopg

        with psycopg.connect(warehouse_location) as connection:
            stored = connection.execute("SELECT email_encrypted, status FROM safer_alerts.subscriptions").fetchall()
            in_public = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                                           "'subscriptions' AND table_schema <> 'safer_alerts'").fetchone()[0]
        assert [s[1] for s in stored] == ["confirmed"] and ADDRESS.encode() not in bytes(stored[0][0])
        assert in_public == 0  # not among the warehouse's own (published, shared) tables
    else:
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("alerts.sqlite*"))
        assert raw and ADDRESS.encode() not in raw
