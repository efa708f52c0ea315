"""`safer synth`: synthetic partner data (no real person-level data is ever used)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safertogether.cli.common import (
    JsonOption,
    console,
    fail,
    progress_bar,
)
from safertogether.errors import SaferError

app = typer.Typer(help="Generate synthetic data (no real person-level data is ever used).", no_args_is_help=True)


@app.command("partners")
def synth_partners(
    out: Annotated[Path, typer.Option("--out", help="Folder for the extracts, their mappings and truth/")],
    people: Annotated[int, typer.Option("--people", min=1, help="How many people live in the county")] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same bytes")] = 1,
    force: Annotated[str, typer.Option("--force", help="Whose LSOAs and streets (a folder of DATA/police-uk)")]
    = "leicestershire",
    data: Annotated[Path, typer.Option(help="The shared data folder", envvar="SAFER_DATA")] = Path("../shared/data"),
    error: Annotated[list[str] | None, typer.Option(
        "--error", help="An error rate NAME=RATE of the error model (repeatable; see the README), e.g. nickname=0.3")]
    = None,
    as_json: JsonOption = False,
) -> None:
    """Partners' extracts (police, fire, ambulance, council, victim service) with mappings and hidden truth."""
    from safertogether.sources.synth import ErrorModel, SynthConfig, generate_partners

    try:
        config = SynthConfig(people=people, seed=seed, force=force, data=data,
                             errors=ErrorModel.with_rates(error or []))
        with progress_bar(as_json) as progress:
            task = progress.add_task(f"{people:,} people", total=None)

            def step(what: str, done: int, total: int) -> None:
                progress.update(task, description=what, completed=done, total=total)

            summary = generate_partners(config, out, on_step=step)
    except SaferError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(summary.as_json(), indent=2))
        return
    table = Table(title=f"{summary.people:,} people, {summary.incidents:,} incidents, {summary.addresses:,} homes")
    table.add_column("extract (agency in bold)")
    table.add_column("records", justify="right")
    for name, rows in [*summary.records.items(), *((f"[b]{a}", f"[b]{r:,}") for a, r in summary.agencies.items())]:
        table.add_row(name, rows if isinstance(rows, str) else f"{rows:,}")
    console.print(table)
    console.print(f"{len(summary.files)} files in {out} in {summary.seconds:.1f} s; import them with "
                  f"`safer import partner {out}/*.yaml` (never give a linker {out}/truth)", highlight=False)

