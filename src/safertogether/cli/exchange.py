"""`safer exchange`: incident-exchange messages with partners' dispatch systems (shaped after MAIT)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safertogether.cli.common import DbOption, JsonOption, console, or_dash, with_warehouse
from safertogether.store.warehouse import Warehouse

app = typer.Typer(help="Share incidents with partners' dispatch systems: messages shaped after MAIT (create, update, "
                       "close, acknowledge), each one kept in the warehouse.", no_args_is_help=True)

OutOption = Annotated[Path | None, typer.Option("--out", help="Write the messages here (JSON lines) "
                                                              "[default: standard output]")]


@app.command()
def send(
    sender: Annotated[str, typer.Option("--from", help="The agency whose incidents are shared")],
    receiver: Annotated[str, typer.Option("--to", help="The partner receiving them")],
    out: OutOption = None,
    db: DbOption = None,
) -> None:
    """Messages for a partner: `create` for each incident not sent to it yet, `close` for each since ended.

    Running it again sends nothing twice: every message is recorded in the warehouse as it is written."""
    from safertogether.bluelight.exchange_ledger import as_json_lines
    from safertogether.bluelight.exchange_ledger import send as send_messages

    messages = with_warehouse(db, lambda w: send_messages(w, sender, receiver), read_only=False)
    _write(as_json_lines(messages), out)
    if out is not None:
        creates = sum(m.action == "create" for m in messages)
        console.print(f"{len(messages):,} messages for {receiver} in {out} ({creates:,} new incidents, "
                      f"{len(messages) - creates:,} closed)")


@app.command()
def receive(
    paths: Annotated[list[Path], typer.Argument(help="Files of messages from partners (JSON lines)")],
    receiver: Annotated[str, typer.Option("--as", help="Our agency: messages addressed to another are refused")],
    ack: Annotated[Path | None, typer.Option("--ack", help="Write the acknowledgements here (JSON lines), "
                                                         "for the senders")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Keep partners' messages; lines that are not messages addressed to us are kept apart with their reason.

    Each file commits whole; a message received before is not kept twice. Every new `create` is answered
    with an `acknowledge` carrying our reference (written to --ack)."""
    from safertogether.bluelight.exchange_ledger import as_json_lines
    from safertogether.bluelight.exchange_ledger import receive as receive_messages

    def run(warehouse: Warehouse) -> list:
        return [receive_messages(warehouse, _read(path), str(path), receiver) for path in paths]

    reports = with_warehouse(db, run, read_only=False)
    if ack is not None:
        ack.write_text("".join(as_json_lines(r.acknowledgements) for r in reports), encoding="utf-8")
    if as_json:
        print(json.dumps([r.as_json() for r in reports], indent=1))
    else:
        for r in reports:
            console.print(f"{r.source}: {r.kept:,} messages kept, {r.already_had:,} already had, "
                          f"{len(r.rejected):,} refused, {len(r.acknowledgements):,} acknowledged")
            for line, reason in r.rejected[:20]:
                console.print(f"  [yellow]line {line}:[/] {reason}", highlight=False)
            if len(r.rejected) > 20:
                console.print(f"  ... and {len(r.rejected) - 20:,} more (table exchange_rejected)")
    if any(r.rejected for r in reports):
        raise typer.Exit(code=1)


@app.command()
def incidents(
    open_only: Annotated[bool, typer.Option("--open", help="Only incidents not closed")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every incident exchanged, sent or received: open or closed, acknowledged or not, its updates."""
    from safertogether.bluelight.exchange_ledger import shared_incidents

    rows = with_warehouse(db, lambda w: shared_incidents(w, open_only))
    if as_json:
        print(json.dumps(rows, indent=1, default=str))
        return
    table = Table(title=f"{len(rows):,} incidents exchanged" + (" (open)" if open_only else ""))
    for column in ("from", "their ref", "to", "direction", "type", "priority", "status", "receiver's ref",
                   "updates", "last message"):
        table.add_column(column)
    for r in rows[:200]:
        table.add_row(r["sender"], r["sender_ref"], r["receiver"], r["direction"], or_dash(r["incident_type"]),
                      or_dash(r["priority"]), r["status"], or_dash(r["receiver_ref"]), str(r["updates"]),
                      str(r["last_at"]))
    console.print(table)


def _read(path: Path) -> bytes:
    from safertogether.errors import InputFormatError

    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot be read ({exc.strerror})") from exc


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
