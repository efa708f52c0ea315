"""`safer users`: who may sign in (add, list, disable, unlock) and their API tokens.

Passwords are read from a hidden prompt, or from standard input with ``--password-stdin`` (one line),
never from an argument: arguments are visible to every user of the machine and kept in shell histories.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from safertogether.cli.common import DbOption, JsonOption, console, errors, fail, with_warehouse
from safertogether.errors import BadRequestError
from safertogether.model.access import User

app = typer.Typer(help="Who may sign in to the person-data API and pages: users, lock-outs and API tokens.",
                  no_args_is_help=True)
token_app = typer.Typer(help="API tokens: shown once, stored hashed, with an expiry; revoke any time.",
                        no_args_is_help=True)
app.add_typer(token_app, name="token")

UserArgument = Annotated[str, typer.Argument(help="User id (lower-case letters, digits, '.', '_', '-')")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input "
                                             "(one line) instead of a prompt")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = typer.prompt("Password", hide_input=True)
    if typer.prompt("Again", hide_input=True) != password:
        fail(BadRequestError("the two passwords differ; nothing was stored"))
    return str(password)


@app.command("add")
def users_add(
    user_id: UserArgument,
    agency: Annotated[str, typer.Option(help="The agency the user works for, as in the records (e.g. "
                                        "leicestershire-council)")],
    role: Annotated[str, typer.Option(help="e.g. analyst, call-handler, caseworker, reviewer, dpo")],
    clearance: Annotated[str, typer.Option(help="OFFICIAL, OFFICIAL-SENSITIVE or SECRET")],
    name: Annotated[str | None, typer.Option(help="Full name [default: the user id]")] = None,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Add a user; the password (12 characters or more) is asked for and stored as an argon2id hash."""
    from pydantic import ValidationError

    from safertogether.access.users import add_user

    try:
        user = User(user_id=user_id, name=name or user_id, agency=agency, role=role, clearance=clearance)  # type: ignore[arg-type]
    except ValidationError as exc:
        fail(BadRequestError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())))
    password = _password(password_stdin)
    with_warehouse(db, lambda warehouse: add_user(warehouse, user, password), read_only=False)
    errors.print(f"User {user_id} added ({agency}, {role}, {clearance}).")


@app.command("list")
def users_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The users, their agency, role, clearance and whether they are locked or disabled."""
    from safertogether.access.users import list_users

    accounts = with_warehouse(db, list_users, read_only=False)
    if as_json:
        print(json.dumps([a.as_json() for a in accounts], indent=2))
        return
    table = Table()
    for column in ("user", "name", "agency", "role", "clearance", "failures", "locked until", "disabled"):
        table.add_column(column, overflow="fold")
    for a in accounts:
        table.add_row(a.user.user_id, a.user.name, a.user.agency, a.user.role, a.user.clearance,
                      str(a.failed_attempts), f"{a.locked_until:%Y-%m-%d %H:%M} UTC" if a.locked_until else "-",
                      "yes" if a.disabled else "-")
    console.print(table)


@app.command("disable")
def users_disable(user_id: UserArgument, enable: Annotated[bool, typer.Option(
        "--enable", help="Enable the user again instead")] = False, db: DbOption = None) -> None:
    """Stop a user signing in (their sessions end, their tokens stop working), or --enable them again."""
    from safertogether.access.users import set_disabled

    with_warehouse(db, lambda warehouse: set_disabled(warehouse, user_id, not enable), read_only=False)
    errors.print(f"User {user_id} {'enabled' if enable else 'disabled'}.")


@app.command("unlock")
def users_unlock(user_id: UserArgument, db: DbOption = None) -> None:
    """Lift a lock-out after repeated wrong passwords."""
    from safertogether.access.users import unlock_user

    with_warehouse(db, lambda warehouse: unlock_user(warehouse, user_id), read_only=False)
    errors.print(f"User {user_id} unlocked.")


@token_app.command("new")
def token_new(user_id: UserArgument, days: Annotated[int, typer.Option(help="Days until it expires")] = 30,
              db: DbOption = None) -> None:
    """Issue an API token for a user; it is printed once (to standard output) and stored only as a hash."""
    from safertogether.access.users import issue_token

    issued = with_warehouse(db, lambda warehouse: issue_token(warehouse, user_id, days), read_only=False)
    errors.print(f"Token {issued.token_id} for {user_id}, expires {issued.expires_at:%Y-%m-%d %H:%M} UTC. "
                 "Keep it secret; send it as 'Authorization: Bearer <token>'. It is not shown again:")
    print(issued.token)


@token_app.command("list")
def token_list(user_id: UserArgument, db: DbOption = None, as_json: JsonOption = False) -> None:
    """A user's tokens (ids and dates only: the tokens themselves are not kept)."""
    from safertogether.access.users import list_tokens

    tokens = with_warehouse(db, lambda warehouse: list_tokens(warehouse, user_id), read_only=False)
    if as_json:
        print(json.dumps(tokens, indent=2, default=str))
        return
    table = Table()
    for column in ("token", "created", "expires", "revoked"):
        table.add_column(column)
    for t in tokens:
        table.add_row(t["token_id"], f"{t['created_at']:%Y-%m-%d %H:%M}", f"{t['expires_at']:%Y-%m-%d %H:%M}",
                      f"{t['revoked_at']:%Y-%m-%d %H:%M}" if t["revoked_at"] else "-")
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (`safer users token list USER`)")],
                 db: DbOption = None) -> None:
    """Revoke a token at once."""
    from safertogether.access.users import revoke_token

    with_warehouse(db, lambda warehouse: revoke_token(warehouse, token_id), read_only=False)
    errors.print(f"Token {token_id} revoked.")
