"""`safer serve` and `safer demo`: the page, the API and the police.uk-compatible API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from safertogether.cli.common import (
    DbOption,
    console,
    errors,
    fail,
    with_warehouse,
)
from safertogether.cli.imports import import_places, import_police_uk, reference_import
from safertogether.store.warehouse import default_db_path

if TYPE_CHECKING:
    from safertogether.api.police_uk_root import RootPorts
    from safertogether.store.warehouse import Warehouse


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
    person_data: Annotated[bool, typer.Option("--person-data", help="Also serve the signed-in person-data API "
                                              "(/api/people; opens the warehouse for writing, as every read is "
                                              "audited) [default: $SAFER_PERSON_DATA]")] = False,
) -> None:
    """Serve the neighbourhood page, the API (/api, docs at /docs) and the police.uk-compatible API.

    With --person-data, several workers need a PostgreSQL warehouse: each worker that shows person data appends
    to the audit log, and a DuckDB file admits one writing process. Public data alone is served read-only by
    any number of workers.
    """
    import uvicorn

    from safertogether.access.audit import check_audit_writers
    from safertogether.errors import SaferError
    from safertogether.settings import Settings

    settings = Settings()
    host, port = host or settings.host, port or settings.port
    root = _police_uk_root_ports(workers, police_uk_root, police_uk_root_http, ssl_certfile, ssl_keyfile)
    person_data = person_data or settings.person_data
    try:
        if person_data:
            check_audit_writers(db or default_db_path(), workers)
    except SaferError as exc:
        fail(exc)
    os.environ["SAFER_DB"] = str(db or default_db_path())
    os.environ["SAFER_WARM_CACHE"] = str(warm)
    if person_data:
        os.environ["SAFER_PERSON_DATA"] = "1"
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


def demo(
    port: Annotated[int, typer.Option(help="Port for the page and API")] = 8000,
    data: Annotated[Path, typer.Option(help="The shared data folder", envvar="SAFER_DATA")] = Path("../shared/data"),
    db: DbOption = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Import only; do not start the server")] = False,
) -> None:
    """Import the Leicestershire data with boundaries and population, build the safety index, store the fire
    stations for blue-light planning, then serve the page and API."""
    steps = [
        ("boundaries", data / "boundaries" / "lsoa-2011-ew.geojson"),
        ("lookup", data / "boundaries" / "lsoa-2011-police-force-lookup.csv"),
        ("population", data / "boundaries" / "lsoa-2011-census-population.csv"),
    ]
    for kind, path in steps:
        reference_import(kind, path, db, False)
    import_places(db=db)
    import_police_uk([data / "police-uk" / "leicestershire"], db=db)
    _index_for_the_page(db)
    _stations_for_the_page(db, data / "blue-light" / "fire" / "home-office-fire-stations-england.ods")
    if not no_serve:
        serve(db=db, port=port)



def _index_for_the_page(db: Path | None) -> None:
    """The Community Safety Index of the imported areas, unless an edition newer than the data exists."""
    from safertogether.disclosure.policy import load_policy
    from safertogether.index.build import build_editions, edition_is_current
    from safertogether.settings import Settings

    def run(warehouse: Warehouse) -> None:
        if edition_is_current(warehouse):
            console.print("Safety index: the stored edition is newer than the data, not rebuilt")
            return
        with errors.status("building the safety index"):
            edition, public = build_editions(warehouse, public=load_policy(Settings().disclosure_policy))
        console.print(f"Safety index: edition {edition.edition_id}, {len(edition.records):,} area-periods"
                      + (f" (public edition {public.edition_id})" if public else "") + "; see /safety-index")

    with_warehouse(db, run, read_only=False)


def _stations_for_the_page(db: Path | None, fire_list: Path) -> None:
    """England's fire stations (the Home Office list) as the stored estate, unless one is stored already."""
    from safertogether.bluelight.estate import save_stations
    from safertogether.bluelight.inputs import PlanInputs, load_stations

    def run(warehouse: Warehouse) -> None:
        if warehouse.scalar("SELECT count(*) FROM bluelight_stations"):
            console.print("Blue-light estate: stations already stored, not replaced")
            return
        if not fire_list.exists():
            console.print(f"Blue-light estate: {fire_list} not found; /blue-light needs `safer plan load-stations`")
            return
        with errors.status("storing the fire stations"):
            found = load_stations(PlanInputs(force="", fire_list=fire_list))
            kept = save_stations(warehouse, found)
        console.print(f"Blue-light estate: {sum(kept.values()):,} fire stations stored, {len(found.quarantine)} "
                      "rows quarantined (see /blue-light)")

    with_warehouse(db, run, read_only=False)
