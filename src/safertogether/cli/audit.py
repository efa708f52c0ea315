"""`safer audit`: the hash-chained audit log of person-data reads and changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from safertogether.cli.common import (
    DbOption,
    JsonOption,
    console,
    errors,
    fail,
    with_warehouse,
)
from safertogether.errors import SaferError

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

app = typer.Typer(help="The hash-chained audit log of person-data reads: verify, sign, export, subject access.",
                  no_args_is_help=True)
PublicKeyOption = Annotated[list[Path] | None, typer.Option(
    "--public-key", help="Check checkpoint signatures with this public key (PEM; repeat for several keys)")]


@app.command("verify")
def audit_verify(
    db: DbOption = None,
    file: Annotated[Path | None, typer.Option("--file", help="Verify an export (`safer audit export`) instead of "
                                              "the warehouse")] = None,
    public_key: PublicKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check every entry's hash and link, and each checkpoint; exit 1 at the first entry that fails."""
    from safertogether.access.audit import verify, verify_file
    from safertogether.access.audit_signing import load_public_key
    from safertogether.errors import MissingDataError

    try:
        keys = [load_public_key(path) for path in public_key or []]
        if file is not None and not file.is_file():
            raise MissingDataError(f"no export at {file}; make one with `safer audit export --out {file}`")
    except SaferError as exc:
        fail(exc)
    report = verify_file(file, keys) if file else with_warehouse(db, lambda warehouse: verify(warehouse, keys))
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
    elif report.ok:
        signed = "signatures checked" if report.signatures_checked else "signatures not checked (no --public-key)"
        console.print(f"[green]OK[/]: {report.entries:,} entries, head {report.head_seq} {report.head_hash[:16]}…, "
                      f"{report.checkpoints} checkpoints ({signed}); {report.seconds} s", highlight=False)
    else:
        where = f" at entry {report.first_bad_seq}" if report.first_bad_seq else ""
        errors.print(f"[bold red]FAILED[/]{where}: {report.problem} ({report.entries:,} entries verified before it)",
                     highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(code=1)


@app.command("keygen")
def audit_keygen(out: Annotated[Path, typer.Option("--out", help="Private key file to create (mode 0600); the "
                                                   "public key goes beside it as FILE.pub")]) -> None:
    """Create an Ed25519 key for signing checkpoints; give the .pub file to whoever verifies."""
    from safertogether.access.audit_signing import generate_key

    try:
        private, public = generate_key(out)
    except SaferError as exc:
        fail(exc)
    console.print(f"Private key: {private} (keep it off the server that holds the warehouse); public key: {public}",
                  highlight=False)


@app.command("checkpoint")
def audit_checkpoint(
    db: DbOption = None,
    key: Annotated[Path | None, typer.Option("--key", help="Private key [default: $SAFER_AUDIT_KEY or "
                                             "safer-audit.key]")] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify the chain, then sign its head (sequence number, hash, time) and store the checkpoint."""
    from safertogether.access.audit_signing import default_key_path, load_private_key, sign_checkpoint

    try:
        private_key = load_private_key(key or default_key_path())
    except SaferError as exc:
        fail(exc)
    mark = with_warehouse(db, lambda warehouse: sign_checkpoint(warehouse, private_key), read_only=False)
    if as_json:
        print(json.dumps(mark.as_json(), indent=2))
        return
    console.print(f"Signed entry {mark.seq} ({mark.hash}) with key {mark.key_id}.", highlight=False)


@app.command("export")
def audit_export(out: Annotated[Path, typer.Option("--out", help="JSON lines file to write")],
                 db: DbOption = None) -> None:
    """Write the checkpoints and every entry as JSON lines, for `safer audit verify --file` anywhere."""
    from safertogether.access.audit import export

    count, marks = with_warehouse(db, lambda warehouse: export(warehouse, out))
    console.print(f"Wrote {count:,} entries and {marks} checkpoints to {out}.", highlight=False)


@app.command("subject")
def audit_subject(
    person_id: Annotated[str, typer.Argument(help="A person id, e.g. P0000123 (their record keys are included)")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who has seen a person's data, and who tried (a subject access request), oldest first."""
    from safertogether.access.audit import who_has_seen

    found = with_warehouse(db, lambda warehouse: who_has_seen(warehouse, person_id))
    if as_json:
        print(json.dumps([entry.as_json() for entry in found], indent=2))
        return
    if not found:
        console.print(f"No audit entry names {person_id}.", highlight=False)
        return
    table = Table(title=f"{len(found)} audit entries naming {person_id}")
    for column in ("seq", "when (UTC)", "user", "agency", "action", "purpose", "agreement", "outcome", "redacted"):
        table.add_column(column, overflow="fold")
    for e in found:
        outcome = e.outcome if e.outcome == "allowed" else f"[red]{e.outcome}[/]: {e.reason}"
        table.add_row(str(e.seq), f"{e.logged_at:%Y-%m-%d %H:%M:%S}", e.actor_user or "-", e.actor_agency or "-",
                      e.action, e.purpose or "-", e.agreement_id or "-", outcome, ", ".join(e.redacted))
    console.print(table)


@app.command("export-subject")
def audit_export_subject(
    person_id: Annotated[str, typer.Argument(help="A person id, e.g. P0000123 (an id merged since still works)")],
    as_user: Annotated[str, typer.Option("--as", help="Your user id: a data protection officer's (`safer users "
                                         "list`); the export is audited under it")],
    out: Annotated[Path, typer.Option("--out", help="JSON file to write (person data: keep it safe)")],
    db: DbOption = None,
) -> None:
    """Everything held about a person, for a subject access request: records, incidents, places, links, who saw."""
    from safertogether.access.subject_access import subject_access_export
    from safertogether.access.users import get_user

    def export(warehouse: Warehouse) -> dict[str, Any]:
        return subject_access_export(warehouse, get_user(warehouse, as_user).user, person_id)

    found = with_warehouse(db, export, read_only=False)
    out.write_text(json.dumps(found, indent=2, default=str), encoding="utf-8")
    out.chmod(0o600)
    console.print(f"{found['person_id']}: {len(found['records'])} records, {len(found['incidents'])} incidents, "
                  f"{len(found['seen_by'])} audit entries written to {out} (readable by you only).", highlight=False)
