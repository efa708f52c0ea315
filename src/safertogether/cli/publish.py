"""`safer publish`: the public datasets, through disclosure control, with a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safertogether.cli.common import DbOption, JsonOption, console, errors, fail, warehouse_or_exit
from safertogether.errors import SaferError

app = typer.Typer(help="Write the public datasets (CSV, GeoJSON, manifest) under a disclosure policy.",
                  invoke_without_command=True, no_args_is_help=True)

PolicyOption = Annotated[str | None, typer.Option(
    "--policy", help="Disclosure policy: a YAML file or a packaged policy (police-uk-as-published, "
    "suppress-small-cells, round-to-5, dp-laplace) [default: $SAFER_DISCLOSURE_POLICY or police-uk-as-published]")]


@app.callback()
def publish(
    out: Annotated[Path, typer.Option("--out", help="Folder for the datasets (created; same-named files replaced)")],
    db: DbOption = None,
    policy: PolicyOption = None,
    level: Annotated[list[str] | None, typer.Option("--level", help="Only these area levels (repeatable): "
                                                     "lsoa, msoa, lad, force")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every registered public dataset per area level, as CSV and GeoJSON, with manifest.json and SHA256SUMS."""
    from safertogether.disclosure.policy import load_policy
    from safertogether.publish import publish as write
    from safertogether.settings import Settings

    try:
        chosen = load_policy(policy or Settings().disclosure_policy)
    except SaferError as exc:
        fail(exc)
    # A dp policy records its release (and the budget spent) in the warehouse: open it for writing then.
    with warehouse_or_exit(db, read_only=chosen.rule != "dp") as warehouse:
        try:
            result = write(warehouse, out, chosen, tuple(level) if level else None,
                           progress=None if as_json else lambda what: errors.print(f"writing {what}"))
        except SaferError as exc:
            fail(exc)
    if as_json:
        print(json.dumps(result.manifest, indent=2, default=str))
        return
    table = Table(title=f"Published to {result.out} under {chosen.name}")
    for column in ("file", "rows", "bytes", "sha256"):
        table.add_column(column, justify="right" if column in ("rows", "bytes") else "left")
    for entry in result.manifest["files"]:
        table.add_row(entry["file"], f"{entry['rows']:,}", f"{entry['bytes']:,}", entry["sha256"][:16])
    console.print(table)
    console.print(f"Policy: {chosen.describe()}. Data version {result.manifest['data_version']}.")
