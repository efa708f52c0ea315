"""Who signs in, on each engine: password hashes, lock-out, tokens and sessions, and `safer users`."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from safertogether.access.audit import read_entries, verify
from safertogether.access.users import (
    LOCK_MINUTES,
    MAX_FAILURES,
    SIGN_IN_REFUSED,
    add_user,
    authenticate,
    issue_token,
    list_users,
    revoke_token,
    session_for_cookie,
    set_disabled,
    start_session,
    unlock_user,
    user_for_token,
)
from safertogether.cli import app
from safertogether.errors import AuthenticationError, BadRequestError
from safertogether.model.access import User
from safertogether.store.warehouse import open_warehouse

PASSWORD = "three random words here"
ANN = User(user_id="ann", name="Ann Analyst", agency="leicestershire-police", role="analyst", clearance="SECRET")


@pytest.fixture
def warehouse(warehouse_location):
    opened = open_warehouse(warehouse_location)
    add_user(opened, ANN, PASSWORD)
    yield opened
    opened.close()


def test_a_password_is_stored_as_an_argon2id_hash_and_checked(warehouse):
    stored = warehouse.scalar("SELECT password_hash FROM users WHERE user_id = 'ann'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert authenticate(warehouse, "ann", PASSWORD) == ANN
    with pytest.raises(BadRequestError, match="exists already"):
        add_user(warehouse, ANN, PASSWORD)
    with pytest.raises(BadRequestError, match="12 characters"):
        add_user(warehouse, ANN.model_copy(update={"user_id": "bob"}), "short")
    with pytest.raises(BadRequestError, match="user id"):
        add_user(warehouse, ANN.model_copy(update={"user_id": "Bob Smith'--"}), PASSWORD)


def test_repeated_failures_lock_the_user_until_the_time_passes_or_an_administrator_unlocks(warehouse):
    now = dt.datetime(2026, 12, 3, 12, 0)
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationError, match="^" + SIGN_IN_REFUSED[:30]):
            authenticate(warehouse, "ann", "not the password", now)
    with pytest.raises(AuthenticationError):
        authenticate(warehouse, "ann", PASSWORD, now + dt.timedelta(minutes=LOCK_MINUTES - 1))
    assert authenticate(warehouse, "ann", PASSWORD, now + dt.timedelta(minutes=LOCK_MINUTES + 1)) == ANN
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            authenticate(warehouse, "ann", "not the password")
    unlock_user(warehouse, "ann")
    assert authenticate(warehouse, "ann", PASSWORD) == ANN
    actions = [e.action for e in read_entries(warehouse)]
    assert actions.count("lock-out") == 2 and "user-unlock" in actions
    assert verify(warehouse).ok


def test_a_disabled_user_can_neither_sign_in_nor_use_a_token_or_session(warehouse):
    token = issue_token(warehouse, "ann")
    session = start_session(warehouse, ANN)
    assert user_for_token(warehouse, token.token) == ANN
    assert session_for_cookie(warehouse, session.cookie)[0] == ANN
    set_disabled(warehouse, "ann")
    for attempt in (lambda: authenticate(warehouse, "ann", PASSWORD), lambda: user_for_token(warehouse, token.token),
                    lambda: session_for_cookie(warehouse, session.cookie)):
        with pytest.raises(AuthenticationError):
            attempt()
    assert list_users(warehouse)[0].disabled
    set_disabled(warehouse, "ann", False)
    assert user_for_token(warehouse, token.token) == ANN
    with pytest.raises(AuthenticationError):  # the session ended when the user was disabled
        session_for_cookie(warehouse, session.cookie)


def test_a_token_revoked_after_use_opens_nothing_at_once(warehouse):
    """A server keeps the tokens it has read (on DuckDB, until its next commit): a revocation is one."""
    token, other = issue_token(warehouse, "ann"), issue_token(warehouse, "ann")
    assert user_for_token(warehouse, token.token) == ANN
    revoke_token(warehouse, token.token_id)
    with pytest.raises(AuthenticationError):
        user_for_token(warehouse, token.token)
    assert user_for_token(warehouse, other.token) == ANN
    spliced = f"st_{other.token_id}_{token.token.split('_', 2)[2]}"  # one token's id, the other's secret
    with pytest.raises(AuthenticationError):
        user_for_token(warehouse, spliced)


def test_tokens_and_sessions_expire_and_only_their_hashes_are_stored(warehouse):
    token = issue_token(warehouse, "ann", days=1)
    session = start_session(warehouse, ANN, hours=1)
    stored = " ".join(str(v) for table in ("api_tokens", "user_sessions")
                      for row in warehouse.query(f"SELECT * FROM {table}") for v in row.values())
    secret = token.token.split("_", 2)[2]  # st_<id>_<secret>; the url-safe secret may itself hold "_"
    assert len(secret) >= 40 and secret not in stored and session.cookie.split(".")[1] not in stored
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2)
    with pytest.raises(AuthenticationError):
        user_for_token(warehouse, token.token, later)
    with pytest.raises(AuthenticationError):
        session_for_cookie(warehouse, session.cookie, later)


def test_the_users_commands_read_passwords_from_stdin_never_arguments(warehouse_location):
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "cat", "--agency", "leicestershire-council", "--role", "dpo",
                                "--clearance", "OFFICIAL-SENSITIVE", "--password-stdin", "--db", warehouse_location],
                          input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["users", "add", "dan", "--password", PASSWORD, "--agency", "a", "--role", "r",
                               "--clearance", "OFFICIAL", "--db", warehouse_location]).exit_code != 0
    issued = runner.invoke(app, ["users", "token", "new", "cat", "--db", warehouse_location])
    assert issued.exit_code == 0
    token = issued.stdout.strip().splitlines()[-1]
    listed = runner.invoke(app, ["users", "list", "--json", "--db", warehouse_location])
    assert '"user_id": "cat"' in listed.stdout and "argon2" not in listed.stdout
    warehouse = open_warehouse(warehouse_location)
    try:
        assert user_for_token(warehouse, token).user_id == "cat"
    finally:
        warehouse.close()
