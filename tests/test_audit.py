"""The audit log as a data protection officer and a third-party verifier meet it: a chain that shows any
edit, removal, insertion or reordering; signed checkpoints that catch a rewrite with recomputed hashes;
appends from many threads on one chain; who has seen a person's data; and the `safer audit` commands."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safertogether.access.audit import (
    GENESIS_HASH,
    AuditEvent,
    append,
    chain_entry,
    export,
    read_entries,
    verify,
    verify_file,
    who_has_seen,
)
from safertogether.access.audit_signing import generate_key, load_private_key, load_public_key, sign_checkpoint
from safertogether.cli import app
from safertogether.errors import AuditChainError, BadRequestError, SaferError
from safertogether.store.warehouse import Warehouse, open_warehouse

runner = CliRunner()


def _event(n: int, person: str = "P0000001", outcome: str = "allowed") -> AuditEvent:
    return AuditEvent(actor_user=f"user{n % 3}", actor_agency=("police", "ambulance", "council")[n % 3],
                      action=("read-person", "lookup", "read-place")[n % 3], purpose="safeguarding",
                      outcome=outcome,  # type: ignore[arg-type]
                      subjects=[person, f"police:R{n}"], redacted=["health"] if n % 2 else [],
                      agreement_id="ISA-2026-01", reason=None if outcome == "allowed" else "no agreement covers it")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.duckdb"


@pytest.fixture
def logged(db: Path) -> Warehouse:
    """A warehouse with 20 entries; closed after the test."""
    warehouse = open_warehouse(db)
    for n in range(1, 21):
        append(warehouse, _event(n))
    yield warehouse
    warehouse.close()


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, Path]:
    return generate_key(tmp_path / "dpo.key")


def _third_party_check(lines: list[str]) -> int:
    """An independent verifier written from the format's description alone (standard library only)."""
    prev, seq = GENESIS_HASH, 0
    for line in lines:
        entry = json.loads(line)
        if "checkpoint" in entry:
            continue
        digest = entry.pop("hash")
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert hashlib.sha256(canonical).hexdigest() == digest
        assert entry["prev_hash"] == prev and entry["seq"] == seq + 1
        prev, seq = digest, entry["seq"]
    return seq


def test_a_whole_chain_verifies_and_a_third_party_can_recompute_it(logged, tmp_path):
    append(logged, AuditEvent("zoë", "fire", "read-person", "emergency response", "allowed",
                              subjects=["P0000002"], reason='"quoted"\n\tand ✓ non-ASCII'))
    report = verify(logged)
    assert report.ok and report.entries == report.head_seq == 21 and report.problem is None
    count, marks = export(logged, tmp_path / "audit.jsonl")
    assert (count, marks) == (21, 0)
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert _third_party_check(lines) == 21
    assert json.loads(lines[-1])["hash"] == report.head_hash


def _shift_up_from(w: Warehouse, seq: int) -> None:
    w.execute("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= ?", [seq])
    w.execute("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")


def _insert_forged(w: Warehouse) -> None:
    """Entry 7 made afresh on entry 6's hash and slid in, the later entries renumbered."""
    prev = w.scalar("SELECT hash FROM audit_log WHERE seq = 6")
    _shift_up_from(w, 7)
    forged = chain_entry(_event(99), 7, prev, logged_at=w.scalar("SELECT logged_at FROM audit_log WHERE seq = 6"))
    w.execute("""INSERT INTO audit_log (seq, logged_at, actor_user, actor_agency, action, purpose, agreement_id,
                 subjects, redacted, outcome, reason, prev_hash, hash)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
              [forged.seq, forged.logged_at, forged.actor_user, forged.actor_agency, forged.action, forged.purpose,
               forged.agreement_id, list(forged.subjects), list(forged.redacted), forged.outcome, forged.reason,
               forged.prev_hash, forged.hash])


def _delete_and_renumber(w: Warehouse) -> None:
    w.execute("DELETE FROM audit_log WHERE seq = 5")
    w.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 5")


def _swap(w: Warehouse) -> None:
    w.execute("UPDATE audit_log SET seq = CASE seq WHEN 4 THEN 1004 ELSE 1009 END WHERE seq IN (4, 9)")
    w.execute("UPDATE audit_log SET seq = CASE seq WHEN 1004 THEN 9 ELSE 4 END WHERE seq IN (1004, 1009)")


TAMPERING: dict[str, tuple[Callable[[Warehouse], None], int, str]] = {
    "edit a field": (lambda w: w.execute("UPDATE audit_log SET purpose = 'curiosity' WHERE seq = 5"), 5, "edited"),
    "widen what was seen": (lambda w: w.execute("UPDATE audit_log SET redacted = [] WHERE seq = 5"), 5, "edited"),
    "delete an entry": (lambda w: w.execute("DELETE FROM audit_log WHERE seq = 5"), 5, "removed"),
    "delete and renumber": (_delete_and_renumber, 5, "edited"),
    "insert an entry": (_insert_forged, 8, "edited"),
    "swap two entries": (_swap, 4, "edited"),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_each_kind_of_tampering_is_found_at_the_first_bad_entry(logged, case):
    tamper, first_bad, word = TAMPERING[case]
    tamper(logged)
    report = verify(logged)
    assert not report.ok
    assert report.first_bad_seq == first_bad and word in report.problem
    assert report.entries == first_bad - 1


def _recompute_from(w: Warehouse, seq: int) -> None:
    """What an attacker with write access does after an edit: rechain everything after it."""
    rows = w.query("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq", [seq])
    prev = w.scalar("SELECT hash FROM audit_log WHERE seq = ?", [seq - 1])
    for row in rows:
        event = AuditEvent(row["actor_user"], row["actor_agency"], row["action"], row["purpose"], row["outcome"],
                           row["subjects"], row["redacted"], row["agreement_id"], row["reason"])
        entry = chain_entry(event, row["seq"], prev, row["logged_at"])
        w.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                  [entry.prev_hash, entry.hash, entry.seq])
        prev = entry.hash


def test_a_rewrite_with_recomputed_hashes_passes_the_chain_but_not_a_signed_checkpoint(logged, key):
    private, public = key
    sign_checkpoint(logged, load_private_key(private))  # at entry 20
    for n in range(21, 26):
        append(logged, _event(n))
    logged.execute("UPDATE audit_log SET actor_user = 'someone else' WHERE seq = 4")
    _recompute_from(logged, 4)
    report = verify(logged, [load_public_key(public)])
    assert not report.ok and report.first_bad_seq == 20 and "rewritten" in report.problem
    # Moving the checkpoint onto the new hash takes a signature the attacker cannot make.
    logged.execute("UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit_log WHERE seq = 20)")
    assert verify(logged).ok, "without the public key only the chain's own consistency is known"
    report = verify(logged, [load_public_key(public)])
    assert not report.ok and report.first_bad_seq == 20 and "signature does not verify" in report.problem


def test_truncating_the_tail_after_a_checkpoint_is_found(logged, key, tmp_path):
    private, public = key
    sign_checkpoint(logged, load_private_key(private))
    export(logged, tmp_path / "kept.jsonl")  # the verifier's copy, held elsewhere
    logged.execute("DELETE FROM audit_log WHERE seq >= 17")
    report = verify(logged, [load_public_key(public)])
    assert not report.ok and report.first_bad_seq == 17 and "removed" in report.problem
    logged.execute("DELETE FROM audit_checkpoints")  # hiding the evidence leaves nothing signed
    report = verify(logged, [load_public_key(public)])
    assert not report.ok and "no signed checkpoint" in report.problem
    assert verify_file(tmp_path / "kept.jsonl", [load_public_key(public)]).ok


def test_a_checkpoint_by_another_key_or_a_forged_one_fails(logged, key, tmp_path):
    private, public = key
    sign_checkpoint(logged, load_private_key(private))
    _, other_public = generate_key(tmp_path / "other.key")
    report = verify(logged, [load_public_key(other_public)])
    assert not report.ok and "not among the public keys" in report.problem
    # One character of the signature changed (to another: a fixed replacement is a no-op when it is already there).
    logged.execute("UPDATE audit_checkpoints SET signature = CASE WHEN substr(signature, 1, 1) = 'a' THEN 'b' "
                   "ELSE 'a' END || substr(signature, 2)")
    report = verify(logged, [load_public_key(public)])
    assert not report.ok and "signature does not verify" in report.problem


def test_signing_refuses_a_chain_that_does_not_verify(logged, key):
    logged.execute("UPDATE audit_log SET purpose = 'curiosity' WHERE seq = 5")
    with pytest.raises(AuditChainError, match="nothing was signed"):
        sign_checkpoint(logged, load_private_key(key[0]))
    assert not logged.scalar("SELECT count(*) FROM audit_checkpoints")


def test_an_export_verifies_without_the_warehouse_and_shows_reordered_or_edited_lines(logged, key, tmp_path):
    private, public = key
    sign_checkpoint(logged, load_private_key(private))
    out = tmp_path / "audit.jsonl"
    export(logged, out)
    keys = [load_public_key(public)]
    assert verify_file(out, keys).ok
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)  # the checkpoint, then entries 1..20
    reordered = tmp_path / "reordered.jsonl"
    reordered.write_text("".join([lines[0], *lines[1:6], lines[7], lines[6], *lines[8:]]), encoding="utf-8")
    report = verify_file(reordered, keys)
    assert not report.ok and report.first_bad_seq == 6
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(lines).replace('"purpose":"safeguarding"', '"purpose":"curiosity"', 1), encoding="utf-8")
    report = verify_file(edited, keys)
    assert not report.ok and report.first_bad_seq == 1 and "edited" in report.problem


def _hammer(warehouses: list[Warehouse], threads: int, each: int) -> list[int]:
    seqs: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        mine = [append(warehouses[n % len(warehouses)], _event(n)).seq for _ in range(each)]
        with lock:
            seqs.extend(mine)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return seqs


def test_many_threads_appending_at_once_keep_one_chain(db):
    warehouse = open_warehouse(db)
    try:
        seqs = _hammer([warehouse], threads=16, each=25)
        assert sorted(seqs) == list(range(1, 401))
        report = verify(warehouse)
        assert report.ok and report.entries == 400
    finally:
        warehouse.close()


def test_two_writers_on_one_file_race_for_each_number_and_never_fork(db):
    """Two warehouse objects in one process have a writer each: like two server workers on PostgreSQL, their
    inserts collide on seq and the loser rechains. (A DuckDB file admits one writing process, so processes
    cannot be tried on it.)"""
    first, second = open_warehouse(db), open_warehouse(db)
    try:
        seqs = _hammer([first, second], threads=8, each=25)
        assert sorted(seqs) == list(range(1, 201))
        assert verify(first).ok and verify(second).entries == 200
        assert first.scalar("SELECT count(DISTINCT prev_hash) FROM audit_log") == 200
    finally:
        first.close()
        second.close()


def test_who_has_seen_a_person_finds_them_by_id_merged_ids_and_record_keys(db):
    warehouse = open_warehouse(db)
    try:
        warehouse.execute("""INSERT INTO person_ids VALUES ('police:R1', 'police', 'R1', 'P0000001', 1),
                             ('nhs:A9', 'nhs', 'A9', 'P0000001', 1), ('police:R2', 'police', 'R2', 'P0000002', 1)""")
        warehouse.execute("INSERT INTO person_id_events VALUES (1, 'merged', 'P0000007', 'P0000001', 1)")
        named = [AuditEvent("u1", "police", "read-person", "safeguarding", "allowed", ["P0000001"]),
                 AuditEvent("u2", "nhs", "lookup", "emergency response", "allowed", ["nhs:A9"], ["criminal-offence"]),
                 AuditEvent("u3", "council", "read-person", None, "denied", ["P0000007"], reason="no purpose given")]
        others = [AuditEvent("u1", "police", "read-person", "safeguarding", "allowed", ["P0000002", "police:R2"]),
                  AuditEvent("u1", "police", "read-place", "safeguarding", "allowed", ["PL000001"])]
        for event in (named[0], others[0], named[1], others[1], named[2]):
            append(warehouse, event)
        found = who_has_seen(warehouse, "P0000001")
        assert [(e.seq, e.actor_user, e.outcome) for e in found] == [(1, "u1", "allowed"), (3, "u2", "allowed"),
                                                                        (5, "u3", "denied")]
        assert found[1].redacted == ("criminal-offence",)
        assert [e.seq for e in who_has_seen(warehouse, "P0000007")] == [1, 3, 5]  # the retired id finds them too
        assert who_has_seen(warehouse, "P0000404") == []
    finally:
        warehouse.close()


def test_a_read_only_warehouse_refuses_to_serve_unaudited(logged, db):
    logged.close()
    reader = open_warehouse(db, read_only=True)
    try:
        with pytest.raises(SaferError, match="read-only"):
            append(reader, _event(1))
        assert verify(reader).ok  # verifying needs no writing
    finally:
        reader.close()


def test_events_that_cannot_be_recorded_faithfully_are_refused():
    with pytest.raises(BadRequestError, match="reason"):
        AuditEvent("u1", "police", "read-person", "safeguarding", "denied")
    with pytest.raises(BadRequestError, match="NUL"):
        AuditEvent("u1", "police", "read-person", "safe\x00guarding", "allowed")
    with pytest.raises(BadRequestError, match="not one string"):
        AuditEvent("u1", "police", "read-person", "safeguarding", "allowed", subjects="P0000001")
    with pytest.raises(BadRequestError, match="action"):
        AuditEvent("u1", "police", "READ person", "safeguarding", "allowed")


def test_the_commands_exit_codes_say_whether_the_log_holds(logged, db, tmp_path):
    logged.close()
    key_file = tmp_path / "keys" / "dpo.key"
    key_file.parent.mkdir()
    assert runner.invoke(app, ["audit", "keygen", "--out", str(key_file)]).exit_code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = f"{key_file}.pub"
    assert runner.invoke(app, ["audit", "verify", "--db", str(db)]).exit_code == 0
    signed = runner.invoke(app, ["audit", "checkpoint", "--db", str(db), "--key", str(key_file), "--json"])
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.stdout)["seq"] == 20
    ok = runner.invoke(app, ["audit", "verify", "--db", str(db), "--public-key", public, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["signatures_checked"] is True
    out = tmp_path / "audit.jsonl"
    assert runner.invoke(app, ["audit", "export", "--db", str(db), "--out", str(out)]).exit_code == 0
    assert runner.invoke(app, ["audit", "verify", "--file", str(out), "--public-key", public]).exit_code == 0
    seen = runner.invoke(app, ["audit", "subject", "P0000001", "--db", str(db), "--json"])
    assert seen.exit_code == 0 and len(json.loads(seen.stdout)) == 20
    warehouse = open_warehouse(db)
    warehouse.execute("DELETE FROM audit_log WHERE seq = 3")
    warehouse.close()
    failed = runner.invoke(app, ["audit", "verify", "--db", str(db), "--json"])
    assert failed.exit_code == 1 and json.loads(failed.stdout)["first_bad_seq"] == 3
    refused = runner.invoke(app, ["audit", "checkpoint", "--db", str(db), "--key", str(key_file)])
    assert refused.exit_code == 2 and "nothing was signed" in refused.output
    assert runner.invoke(app, ["audit", "verify", "--db", str(tmp_path / "none.duckdb")]).exit_code == 2
    os.chmod(key_file, 0o644)
    loose = runner.invoke(app, ["audit", "checkpoint", "--db", str(db), "--key", str(key_file)])
    assert loose.exit_code == 2 and "chmod 600" in loose.output


def test_the_chain_holds_on_each_engine(warehouse_location, key):
    """Two writers (two server workers on PostgreSQL) racing from many threads, then tampering and a checkpoint."""
    first, second = open_warehouse(warehouse_location), open_warehouse(warehouse_location)
    try:
        seqs = _hammer([first, second], threads=8, each=10)
        assert sorted(seqs) == list(range(1, 81))
        assert verify(second).ok
        sign_checkpoint(first, load_private_key(key[0]))
        assert verify(first, [load_public_key(key[1])]).ok
        named = who_has_seen(second, "police:R3")  # the UNNEST query, on each engine
        assert named and all("police:R3" in e.subjects for e in named)
        first.execute("DELETE FROM audit_log WHERE seq = 40")
        report = verify(second, [load_public_key(key[1])])
        assert not report.ok and report.first_bad_seq == 40
    finally:
        first.close()
        second.close()


def test_what_was_searched_is_hashed_with_the_entry_on_each_engine(warehouse_location, tmp_path):
    """An entry's details (what a search asked, as typed) are part of what its hash covers: a third party
    recomputes them from an export, and clearing or changing them is an edit verification finds. Entries
    without details hash as before they existed (no ``details`` key)."""
    warehouse = open_warehouse(warehouse_location)
    try:
        append(warehouse, _event(1))
        searched = AuditEvent("u1", "police", "lookup", "crime-prevention", "allowed", ["P0000001"],
                              details=["name=Jane Smyth", "dob=07/03/1984", "address=1 High St, LE1 1AA", "limit=10"])
        entry = append(warehouse, searched)
        append(warehouse, _event(3))
        assert read_entries(warehouse, "WHERE seq = ?", [entry.seq])[0].details == searched.details
        assert "details" not in read_entries(warehouse, "WHERE seq = 1")[0].as_json()
        assert verify(warehouse).ok
        export(warehouse, tmp_path / "audit.jsonl")
        lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
        assert _third_party_check(lines) == 3 and json.loads(lines[1])["details"][0] == "name=Jane Smyth"
        for tampering in ("UPDATE audit_log SET details = NULL WHERE seq = 2",
                          "UPDATE audit_log SET details = ['name=John Smith'] WHERE seq = 2",
                          "UPDATE audit_log SET details = ['name=x'] WHERE seq = 1"):
            before = warehouse.query("SELECT seq, details FROM audit_log WHERE seq <= 2 ORDER BY seq")
            warehouse.execute(tampering)
            report = verify(warehouse)
            assert not report.ok and report.first_bad_seq == int(tampering[-1]), tampering
            for row in before:
                warehouse.execute("UPDATE audit_log SET details = ? WHERE seq = ?", [row["details"], row["seq"]])
            assert verify(warehouse).ok
    finally:
        warehouse.close()
