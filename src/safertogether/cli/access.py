"""`safer access`: who may see what (sharing agreements)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safertogether.cli.common import (
    DbOption,
    JsonOption,
    console,
    errors,
    with_warehouse,
)

app = typer.Typer(help="Who may see what: sharing agreements between agencies (users: `safer users`).",
                  no_args_is_help=True)


@app.command("agreements")
def access_agreements(
    load: Annotated[Path | None, typer.Option("--load", help="A YAML file of agreements to store (each version "
                                              "once; a changed agreement needs a new version)")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the stored sharing agreements, after loading a file of them if one is given."""
    from safertogether.access.agreements import load_agreements, stored_agreements

    if load is not None:
        loaded = with_warehouse(db, lambda warehouse: load_agreements(warehouse, load), read_only=False)
        errors.print(f"{loaded.new_versions} new agreement version(s) stored, {loaded.unchanged} already held")
    agreements = with_warehouse(db, stored_agreements)
    if as_json:
        print(json.dumps([a.model_dump(mode="json") for a in agreements], indent=2))
        return
    table = Table()
    for column in ("agreement", "v", "from", "to", "categories", "purposes", "valid", "approved by"):
        table.add_column(column, overflow="fold")
    for a in agreements:
        table.add_row(a.agreement_id, str(a.version), a.provider, a.recipient, ", ".join(a.categories),
                      ", ".join(a.purposes), f"{a.valid_from} to {a.valid_to}", f"{a.approved_by} ({a.approved_on})")
    console.print(table)

