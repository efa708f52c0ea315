"""What every command group shares: the console, the --db and --json options, opening the warehouse."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safertogether.errors import SaferError
from safertogether.store.imports import ImportFailed, ImportReport
from safertogether.store.warehouse import Warehouse, default_db_path, open_warehouse

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

DbOption = Annotated[str | None, typer.Option(
    "--db", help="Warehouse file, or postgresql://user@host:port/database [default: $SAFER_DB or safer.duckdb]")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]

RecordArgument = Annotated[str, typer.Argument(help="A person record, as agency:record_id")]


@contextmanager
def warehouse_or_exit(db: str | Path | None, read_only: bool = False) -> Iterator[Warehouse]:
    try:
        warehouse = open_warehouse(db or default_db_path(), read_only=read_only)
    except SaferError as exc:
        fail(exc)
    try:
        yield warehouse
    finally:
        warehouse.close()


def with_warehouse(db: Path | None, call: Callable[[Warehouse], T], read_only: bool = True) -> T:
    """``call(warehouse)``; a SaferError from either ends the command with its message and exit code 2."""
    with warehouse_or_exit(db, read_only=read_only) as warehouse:
        try:
            return call(warehouse)
        except SaferError as exc:
            fail(exc)


def fail(exc: SaferError) -> NoReturn:
    problems = exc.problems if isinstance(exc, ImportFailed) else [str(exc)]
    for problem in problems:
        errors.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
    if isinstance(exc, ImportFailed):
        errors.print("Nothing was stored: fix or remove the files above and run the import again.")
    raise typer.Exit(code=2)


def _report_table(report: ImportReport) -> Table:
    table = Table(title=f"Import {report.import_id or '(nothing new)'}")
    for column in ("file", "kind", "status", "read", "stored", "quarantined"):
        table.add_column(column, justify="right" if column in ("read", "stored", "quarantined") else "left")
    for f in report.files:
        table.add_row(Path(f.name.split("!")[-1]).name, f.kind, f.status, f"{f.rows_read:,}",
                      f"{f.rows_stored:,}", f"{f.rows_quarantined:,}")
    totals = report.totals()
    table.add_row("[b]total", "", f"{len(report.files)} files", f"{totals['rows_read']:,}",
                  f"{totals['rows_stored']:,}", f"{totals['rows_quarantined']:,}")
    return table


def show_report(report: ImportReport, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        print(json.dumps({**report.as_json(), **(extra or {})}, indent=2))
    else:
        console.print(_report_table(report))


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Progress]:
    progress = Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=errors, disable=quiet or not errors.is_terminal)
    with progress:
        yield progress


def or_dash(value: object) -> str:
    return "—" if value is None else str(value)
