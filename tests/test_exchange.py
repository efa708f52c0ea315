"""The incident exchange between partners' dispatch systems: what a joint control room would notice.

Sending twice sends nothing twice; a partner's file is kept whole, its bad lines kept apart with reasons
(malformed, truncated, not UTF-8, hostile, addressed elsewhere, duplicated); every new incident is
acknowledged with our reference; the state of each shared incident follows its messages; on both engines.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from typer.testing import CliRunner

from safertogether.cli import app
from safertogether.store.warehouse import open_warehouse

runner = CliRunner()


def _ambulance_warehouse(location: str, partners_synth: Path) -> str:
    from safertogether.ingest import import_partner

    with contextlib.closing(open_warehouse(location)) as warehouse:
        import_partner(warehouse, sorted(partners_synth.glob("ambulance*.yaml")))
    return location


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_sending_is_once_per_incident_and_a_partner_reads_it_back(warehouse_location: str, partners_synth: Path,
                                                                   tmp_path: Path) -> None:
    db = _ambulance_warehouse(warehouse_location, partners_synth)
    with contextlib.closing(open_warehouse(db, read_only=True)) as warehouse:
        incidents = warehouse.scalar("SELECT count(DISTINCT incident_ref) FROM incident_records")
        ended = warehouse.scalar("SELECT count(DISTINCT incident_ref) FROM incident_records WHERE ended_at IS NOT NULL")
    out = tmp_path / "to-fire.jsonl"

    first = runner.invoke(app, ["exchange", "send", "--from", "east-midlands-ambulance", "--to", "fire",
                                "--out", str(out), "--db", db])

    assert first.exit_code == 0, first.output
    sent = _lines(out.read_text(encoding="utf-8"))
    assert sum(m["action"] == "create" for m in sent) == incidents > 0
    assert sum(m["action"] == "close" for m in sent) == ended
    assert all(m["sender"] == "east-midlands-ambulance" and m["receiver"] == "fire" for m in sent)
    again = runner.invoke(app, ["exchange", "send", "--from", "east-midlands-ambulance", "--to", "fire", "--db", db])
    assert again.exit_code == 0 and again.stdout == ""  # nothing twice
    unknown = runner.invoke(app, ["exchange", "send", "--from", "coastguard", "--to", "fire", "--db", db])
    assert unknown.exit_code == 2 and "agencies with incidents: east-midlands-ambulance" in unknown.output

    # The fire service's side: a warehouse of its own reads the file and acknowledges each new incident.
    fire_db = str(tmp_path / "fire.duckdb")
    acks = tmp_path / "acks.jsonl"
    got = runner.invoke(app, ["exchange", "receive", str(out), "--as", "fire", "--ack", str(acks), "--db", fire_db,
                              "--json"])
    assert got.exit_code == 0, got.output
    [report] = json.loads(got.stdout)
    assert (report["kept"], report["rejected"], report["acknowledgements"]) == (len(sent), [], incidents)
    acknowledged = _lines(acks.read_text(encoding="utf-8"))
    assert {a["acknowledges"] for a in acknowledged} == {m["message_id"] for m in sent if m["action"] == "create"}
    assert all(a["receiver"] == "east-midlands-ambulance" and a["sender_ref"].startswith("fire-") for a in acknowledged)

    # Back at the ambulance service: the acknowledgements close the loop on its side.
    back = runner.invoke(app, ["exchange", "receive", str(acks), "--as", "east-midlands-ambulance", "--db", db,
                               "--json"])
    assert back.exit_code == 0, back.output
    state = json.loads(runner.invoke(app, ["exchange", "incidents", "--db", db, "--json"]).stdout)
    assert len(state) == incidents and all(s["acknowledged"] and s["receiver_ref"] for s in state)
    assert sum(s["status"] == "closed" for s in state) == ended
    still_open = json.loads(runner.invoke(app, ["exchange", "incidents", "--open", "--db", db, "--json"]).stdout)
    assert len(still_open) == incidents - ended


def test_a_partners_bad_lines_are_kept_apart_with_reasons_and_the_good_ones_kept(tmp_path: Path) -> None:
    good = {"message_id": "m-1", "action": "create", "sent_at": "2026-11-30T21:04:00Z", "sender": "police",
            "receiver": "fire", "sender_ref": "LP-1", "incident_type": "fire", "priority": "1",
            "location": {"longitude": -1.13, "latitude": 52.63, "address": "1 High St"}}
    update = {**good, "message_id": "m-2", "action": "update", "text": "persons reported"}
    lines = [
        json.dumps(good).encode(),
        json.dumps(good).encode(),  # the same message twice: kept once
        json.dumps(update).encode(),
        b'{"message_id": "m-3", "action": "create", "sent_at": "2026-11-30T21:05:00Z", "sender": "pol',  # truncated
        json.dumps({**good, "message_id": "m-4", "receiver": "ambulance"}).encode(),  # not ours
        json.dumps({**good, "message_id": "m-5", "location": None}).encode(),  # a create without a place
        json.dumps({**good, "message_id": "m-6", "sender_ref": "'; DROP TABLE exchange_messages; --"}).encode(),
        "{\"message_id\": \"m-7\", \"text\": \"caf\xe9\"}".encode("latin-1"),  # not UTF-8
        json.dumps({**good, "message_id": "m-8", "extra": "field"}).encode(),
        json.dumps({**good, "message_id": "m-1", "priority": "2"}).encode(),  # a reused id, other contents
        b"x" * 70_000,
    ]
    incoming = tmp_path / "from-police.jsonl"
    incoming.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    db = str(tmp_path / "fire.duckdb")

    got = runner.invoke(app, ["exchange", "receive", str(incoming), "--as", "fire", "--db", db, "--json"])

    assert got.exit_code == 1  # something was refused: the caller should look
    [report] = json.loads(got.stdout)
    assert (report["kept"], report["already_had"]) == (3, 1)  # m-1, m-2 and the hostile-looking but valid m-6
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert set(reasons) == {4, 5, 6, 8, 9, 10, 11}
    assert "not a valid incident-exchange message" in reasons[4]
    assert "addressed to 'ambulance'" in reasons[5]
    assert "needs incident_type and location" in reasons[6]
    assert "not UTF-8" in reasons[8] and "extra" in reasons[9]
    assert "different contents" in reasons[10] and "70,000 bytes" in reasons[11]
    with contextlib.closing(open_warehouse(db, read_only=True)) as warehouse:
        assert warehouse.scalar("SELECT count(*) FROM exchange_rejected") == 7
        refs = {r["sender_ref"] for r in warehouse.query("SELECT sender_ref FROM exchange_messages "
                                                         "WHERE direction = 'received'")}
    assert refs == {"LP-1", "'; DROP TABLE exchange_messages; --"}
    again = runner.invoke(app, ["exchange", "receive", str(incoming), "--as", "fire", "--db", db, "--json"])
    assert json.loads(again.stdout)[0]["kept"] == 0  # the same file again keeps nothing twice
    state = json.loads(runner.invoke(app, ["exchange", "incidents", "--db", db, "--json"]).stdout)
    [fire] = [s for s in state if s["sender_ref"] == "LP-1"]
    assert (fire["updates"], fire["status"], fire["incident_type"]) == (1, "open", "fire")


def test_dispatch_systems_exchange_through_the_api_as_their_own_agency_only(tmp_path: Path) -> None:
    """Fire posts a new incident for the ambulance service; the ambulance's system reads it from where it
    left off and acknowledges it; posting as another agency, the wrong role and no sign-in are refused and
    audited; the routes are signed in only, never on a public server."""
    from fastapi.testclient import TestClient

    from safertogether.access.audit import read_entries, verify
    from safertogether.access.users import add_user, issue_token
    from safertogether.api.app import create_app
    from safertogether.disclosure.outputs import SIGNED_IN_ROUTES
    from safertogether.model.access import User

    fire = User(user_id="fire-cad", name="Fire CAD", agency="fire", role="dispatch-system", clearance="OFFICIAL")
    ambo = User(user_id="ambo-cad", name="Ambulance CAD", agency="ambulance", role="dispatch-system",
                clearance="OFFICIAL")
    analyst = User(user_id="ann", name="Ann", agency="fire", role="analyst", clearance="SECRET")
    db = tmp_path / "hub.duckdb"
    warehouse = open_warehouse(db)
    for user in (fire, ambo, analyst):
        add_user(warehouse, user, "a long enough pass phrase")
    token = {u.user_id: {"Authorization": f"Bearer {issue_token(warehouse, u.user_id).token}"}
             for u in (fire, ambo, analyst)}
    create = {"message_id": "f-1", "action": "create", "sent_at": "2026-12-03T21:00:00Z", "sender": "fire",
              "receiver": "ambulance", "sender_ref": "F/123", "incident_type": "rtc", "priority": "1",
              "location": {"longitude": -1.13, "latitude": 52.63}}
    with TestClient(create_app(warehouse), raise_server_exceptions=False) as client:
        assert client.post("/api/exchange/messages", json=create).status_code == 401
        assert client.post("/api/exchange/messages", json=create, headers=token["ann"]).status_code == 403
        forged = client.post("/api/exchange/messages", json={**create, "message_id": "f-2", "sender": "police"},
                             headers=token["fire-cad"])
        assert forged.status_code == 403 and "as your own agency (fire)" in forged.json()["error"]["message"]
        bad = client.post("/api/exchange/messages", content=b'{"action": "create"', headers=token["fire-cad"])
        assert bad.status_code == 400 and "not a valid incident-exchange message" in bad.json()["error"]["message"]

        posted = client.post("/api/exchange/messages", json=create, headers=token["fire-cad"])
        assert posted.status_code == 201 and posted.headers["cache-control"] == "no-store, private"
        assert client.post("/api/exchange/messages", json=create, headers=token["fire-cad"]).status_code == 200
        reused = client.post("/api/exchange/messages", json={**create, "priority": "2"}, headers=token["fire-cad"])
        assert reused.status_code == 400 and "different contents" in reused.json()["error"]["message"]

        inbox = client.get("/api/exchange/messages", headers=token["ambo-cad"]).json()
        assert [m["message"]["sender_ref"] for m in inbox["messages"]] == ["F/123"]
        assert client.get("/api/exchange/messages", headers=token["fire-cad"]).json()["messages"] == []
        ack = {"message_id": "a-1", "action": "acknowledge", "sent_at": "2026-12-03T21:00:05Z", "sender": "ambulance",
               "receiver": "fire", "sender_ref": "A/9", "receiver_ref": "F/123", "acknowledges": "f-1"}
        assert client.post("/api/exchange/messages", json=ack, headers=token["ambo-cad"]).status_code == 201
        later = client.get("/api/exchange/messages", params={"after": inbox["next_after"]},
                           headers=token["ambo-cad"]).json()
        assert later["messages"] == []  # nothing new for the ambulance since it last read
        assert [m["message"]["action"] for m in client.get(
            "/api/exchange/messages", headers=token["fire-cad"]).json()["messages"]] == ["acknowledge"]
        paths = client.get("/openapi.json").json()["paths"]
        assert {("POST", "/api/exchange/messages"), ("GET", "/api/exchange/messages")} <= set(SIGNED_IN_ROUTES)
        assert "/api/exchange/messages" in paths
    from safertogether.bluelight.exchange_ledger import shared_incidents

    [incident] = shared_incidents(warehouse)
    assert (incident["sender_ref"], incident["receiver_ref"], incident["acknowledged"]) == ("F/123", "A/9", True)
    entries = read_entries(warehouse)
    assert {(e.actor_user, e.outcome) for e in entries if e.action == "exchange-post"} >= {
        ("ann", "denied"), ("fire-cad", "denied"), ("fire-cad", "allowed"), ("ambo-cad", "allowed")}
    assert verify(warehouse).ok
    warehouse.close()
    with contextlib.closing(open_warehouse(db, read_only=True)) as public, \
            TestClient(create_app(public)) as client:
        assert "/api/exchange/messages" not in client.get("/openapi.json").json()["paths"]
        assert client.get("/api/exchange/messages").status_code == 404
