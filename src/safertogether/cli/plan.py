"""`safer plan`: blue-light planning — travel-time calibration, coverage, shared estates, simulation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from safertogether.cli.common import DbOption, JsonOption, console, fail, progress_bar, warehouse_or_exit
from safertogether.errors import SaferError

app = typer.Typer(help="Plan resources: hot-spot patrols, travel times, coverage, shared stations, simulation.",
                  no_args_is_help=True)

DataOption = Annotated[Path, typer.Option(help="The shared data folder", envvar="SAFER_DATA")]


@contextmanager
def _steps(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A progress line naming the current step; SaferError ends the command with its message."""
    try:
        with progress_bar(quiet) as progress:
            task = progress.add_task("starting", total=None)
            yield lambda what: progress.update(task, description=what)
    except SaferError as exc:
        fail(exc)


def _print(result: dict[str, Any], as_json: bool, title: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    table = Table(title=title)
    for column in ("", "pairs", "median abs error (min)", "p90 abs error (min)", "mean error (min)"):
        table.add_column(column, justify="left" if not column else "right")
    for name, row in rows:
        table.add_row(name, f"{row.get('pairs', 0):,}", str(row.get("median_abs_error_min")),
                      str(row.get("p90_abs_error_min")), str(row.get("mean_error_min", "")))
    console.print(table)


@app.command("calibrate")
def calibrate(
    network: Annotated[Path | None, typer.Option(help="A road network (.osm.pbf, .graphml, Overpass .json): "
                                                 "check it instead of the fallback model")] = None,
    holdout: Annotated[str, typer.Option(help="Ambulance regions (ambo22 codes) kept out of fitting and scored")]
    = "LAS,SWAS,EMAS",
    max_km: Annotated[float, typer.Option(help="Score pairs closer than this (straight line)")] = 60.0,
    snap_m: Annotated[float, typer.Option(help="With --network: both ends within this of a road node")] = 300.0,
    emergency_factor: Annotated[float, typer.Option(help="With --network: speed multiplier for blue-light "
                                                    "driving (1.0 = normal driving)")] = 1.0,
    sample_lsoas: Annotated[int | None, typer.Option(help="Use a random sample of this many LSOAs (quick look)")]
    = None,
    save_model: Annotated[Path | None, typer.Option(help="Then fit on every region and write the model here "
                                                    "(.npz; the package ships bluelight/fallback_model.npz)")]
    = None,
    data: DataOption = Path("../shared/data"),
    as_json: JsonOption = False,
) -> None:
    """A travel-time model's error against the real LSOA-to-hospital matrix, on regions it never saw."""
    from safertogether.bluelight.calibrate import CalibrationInputs, calibrate_fallback, calibrate_network
    from safertogether.bluelight.network import DrivingModel

    inputs = CalibrationInputs.in_data_folder(data)
    with _steps(as_json) as step:
        if network is not None:
            result = calibrate_network(inputs, network, snap_m, DrivingModel(emergency_factor=emergency_factor),
                                       step=step)
        else:
            regions = tuple(r.strip() for r in holdout.split(",") if r.strip())
            result = calibrate_fallback(inputs, regions, max_km, sample_lsoas=sample_lsoas, step=step,
                                        save_model=save_model)
    rows = [("all held out" if network is None else "routable pairs", result)]
    rows += [(f"  {name}", r) for name, r in result.get("regions", {}).items()]
    if "anchor" in result:
        rows += [("anchor: a + b*km + c*sqrt(km)", result["anchor"])]
    _print(result, as_json, "Travel-time error against the real matrix", rows)


ForceOption = Annotated[str, typer.Option(help="Police force area whose LSOAs are served (force id)")]
FireOption = Annotated[Path | None, typer.Option("--fire-list", help="The Home Office fire station list (.ods)")]
StationsOption = Annotated[list[Path] | None, typer.Option(
    "--stations", help="A station CSV (name, service, easting/northing or longitude/latitude); repeatable")]
OsmOption = Annotated[Path | None, typer.Option("--osm-stations", help="OSM stations (.osm.pbf or Overpass "
                                                "JSON) for services no list covers")]
StandardsOption = Annotated[Path | None, typer.Option(help="Standards YAML (default: the packaged ARP, police "
                                                      "and fire standards)")]
NetworkOption = Annotated[Path | None, typer.Option(help="Road network for travel times (default: the "
                                                    "fitted fallback model)")]
DemandOption = Annotated[Path | None, typer.Option(help="Incidents CSV with an lsoa column: demand-weighted "
                                                   "figures beside resident-weighted")]


def _inputs(force: str, fire_list: Path | None, stations: list[Path] | None, osm_stations: Path | None,
            standards: Path | None, network: Path | None, demand: Path | None = None) -> Any:
    from safertogether.bluelight.inputs import PlanInputs

    return PlanInputs(force=force, fire_list=fire_list, station_csvs=tuple(stations or ()),
                      osm_stations=osm_stations, standards=standards, network=network, demand=demand)


@contextmanager
def _loaded(inputs: Any, db: str | None, as_json: bool) -> Iterator[tuple[Callable[[str], None], Any, Any]]:
    """The progress line, the warehouse, and the places, stations, standards and travel times of ``inputs``."""
    from safertogether.bluelight.inputs import load_all

    with _steps(as_json) as step, warehouse_or_exit(db, read_only=True) as warehouse:
        step("loading places, stations and standards")
        yield step, warehouse, load_all(warehouse, inputs)


def _services(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _standards_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("standard", "statistic", "target", "residents", "demand", "residents within %", "met",
                   "vs today"):
        table.add_column(column, justify="left" if column == "standard" else "right")
    for row in rows:
        target = "/".join(f"{v:g}" for v in row["target"].values())
        table.add_row(row["standard"], row["statistic"], target, str(row["value_residents"]),
                      str(row["value_demand"]), str(row["residents_within_pct"]), "yes" if row["met"] else "NO",
                      str(row.get("change_vs_today", "")))
    return table


@app.command("load-stations")
def load_stations_command(
    fire_list: FireOption = None, stations: StationsOption = None, osm_stations: OsmOption = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Store the estate (replacing the stored one): the planning API, page and commands given no files use it."""
    from safertogether.bluelight.estate import save_stations
    from safertogether.bluelight.inputs import load_stations

    inputs = _inputs("", fire_list, stations, osm_stations, None, None)
    with _steps(as_json) as step, warehouse_or_exit(db) as warehouse:
        step("reading the station lists")
        found = load_stations(inputs)
        step("storing the stations")
        kept = save_stations(warehouse, found)
    result = {"stations": kept, "quarantined": len(found.quarantine), "quarantine": found.quarantine}
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    console.print(f"Stored {sum(kept.values()):,} stations ({', '.join(f'{k} {v:,}' for k, v in kept.items())}); "
                  f"{len(found.quarantine)} rows quarantined.")


@app.command("coverage")
def coverage(
    force: ForceOption = "leicestershire",
    fire_list: FireOption = None, stations: StationsOption = None, osm_stations: OsmOption = None,
    standards: StandardsOption = None, network: NetworkOption = None, demand: DemandOption = None,
    map_file: Annotated[Path | None, typer.Option("--map", help="Write a GeoJSON map of minutes per LSOA")]
    = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Population-weighted coverage today: nearest-station minutes per LSOA, each standard judged."""
    from safertogether.bluelight.coverage import coverage as measure
    from safertogether.bluelight.maps import coverage_geojson

    inputs = _inputs(force, fire_list, stations, osm_stations, standards, network, demand)
    with _loaded(inputs, db, as_json) as (step, warehouse, (places, found, judged, times)):
        step("measuring travel times")
        result = measure(places, found, judged, times)
        result["stations_quarantined"] = found.quarantine
        result["attribution"] = PLAN_ATTRIBUTION
        if map_file is not None:
            map_file.write_text(json.dumps(coverage_geojson(warehouse, result)), encoding="utf-8")
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    for service, found_here in result["services"].items():
        if "standards" in found_here:
            console.print(_standards_table(f"{service}: {found_here['stations']} stations, {result['lsoas']} LSOAs, "
                                           f"{result['residents']:,} residents", found_here["standards"]))
        else:
            console.print(f"{service}: {found_here['note']}")
    if found.quarantine:
        console.print(f"{len(found.quarantine)} station rows quarantined (see --json for reasons)")
    console.print(f"Travel times: {result['travel_times']['summary']}. {PLAN_ATTRIBUTION}", highlight=False)


@app.command("stations")
def stations_command(
    service: Annotated[str, typer.Option(help="The service whose response is judged")] = "fire",
    share: Annotated[str | None, typer.Option(help="Services sharing the estate, e.g. police")] = None,
    merge: Annotated[list[str] | None, typer.Option(help="Merge two stations: X,Y (ids or names); repeatable")]
    = None,
    choose: Annotated[int | None, typer.Option(help="Choose N shared sites from today's stations of the "
                                               "service and --share (pinned stations stay)")] = None,
    exact: Annotated[bool, typer.Option(help="Also solve exactly (spopt MCLP + HiGHS)")] = True,
    force: ForceOption = "leicestershire",
    fire_list: FireOption = None, stations: StationsOption = None, osm_stations: OsmOption = None,
    standards: StandardsOption = None, network: NetworkOption = None, demand: DemandOption = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Scenarios (share, merge, choose N) against today on each of the service's standards."""
    from safertogether.bluelight.scenarios import compare

    inputs = _inputs(force, fire_list, stations, osm_stations, standards, network, demand)
    merges = [tuple(m.split(",", 1)) for m in merge or []]
    with _loaded(inputs, db, as_json) as (step, warehouse, (places, found, judged, times)):
        step("solving the scenarios")
        result = compare(places, found, judged, times, service,
                         share=_services(share),
                         merges=merges, choose_n=choose, exact=exact)  # type: ignore[arg-type]
        result["attribution"] = PLAN_ATTRIBUTION
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    for scenario in result["scenarios"]:
        extra = f" [{scenario['solver_status']}]" if "solver_status" in scenario else ""
        console.print(_standards_table(f"{scenario['scenario']}: {scenario['sites']} sites ({scenario['method']}"
                                       f"{extra})", scenario["standards"]))


@app.command("simulate")
def simulate_command(
    service: Annotated[str, typer.Option(help="The service simulated")] = "ambulance",
    calls_per_year: Annotated[float, typer.Option(help="Calls a year over the force area")] = 50_000,
    days: Annotated[float, typer.Option(help="Days simulated per replication")] = 30,
    replications: Annotated[int, typer.Option(help="Replications (same call streams in every scenario)")] = 20,
    units: Annotated[int, typer.Option(help="Units per station")] = 2,
    on_scene: Annotated[float, typer.Option(help="Mean minutes on scene")] = 45.0,
    share: Annotated[str | None, typer.Option(help="Add the scenario: share with these services' stations")]
    = None,
    merge: Annotated[list[str] | None, typer.Option(help="Add the scenario: merge X,Y; repeatable")] = None,
    force: ForceOption = "leicestershire",
    fire_list: FireOption = None, stations: StationsOption = None, osm_stations: OsmOption = None,
    standards: StandardsOption = None, network: NetworkOption = None, demand: DemandOption = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Discrete-event simulation of today and the scenarios: each standard's statistic with 95% CIs."""
    from safertogether.bluelight.simulation_runs import simulate_scenarios

    inputs = _inputs(force, fire_list, stations, osm_stations, standards, network, demand)
    with _loaded(inputs, db, as_json) as (step, warehouse, (places, found, judged, times)):
        step(f"simulating {replications} replications")
        result = simulate_scenarios(places, found, judged, times, service, calls_per_year, days, replications,
                                    units, on_scene, share=_services(share),
                                    merges=[tuple(m.split(",", 1)) for m in merge or []])  # type: ignore[misc]
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    table = Table(title=f"{service}: {replications} x {days:g} days, {calls_per_year:,.0f} calls/year "
                        f"(low-demand check: {'passed' if result['low_demand_check']['passed'] else 'FAILED'})")
    for column in ("scenario", "standard", "mean", "95% CI"):
        table.add_column(column)
    for name, found_here in result["scenarios"].items():
        for sid, interval in found_here["standards"].items():
            table.add_row(name, sid, str(interval["mean"]), f"{interval['ci_low']} - {interval['ci_high']}")
    console.print(table)


PLAN_ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence v3.0 (Home "
                    "Office fire stations, ONS boundaries and population; contains OS data © Crown copyright and "
                    "database right). Road data © OpenStreetMap contributors, ODbL 1.0.")


@app.command("demand")
def demand_command(
    fire_list: FireOption = None, stations: StationsOption = None, osm_stations: OsmOption = None,
    repeat_at: Annotated[int, typer.Option(help="Incidents at one spot (50 m) that make it a repeat location")] = 3,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Joint demand from the partners' incident logs: mental health, multi-service, repeats, co-responding."""
    from safertogether.bluelight.inputs import load_stations
    from safertogether.bluelight.joint_demand import joint_demand

    inputs = _inputs("", fire_list, stations, osm_stations, None, None)
    with _steps(as_json) as step, warehouse_or_exit(db, read_only=True) as warehouse:
        step("reading incidents")
        found = load_stations(inputs) if (fire_list or stations or osm_stations) else None
        result = joint_demand(warehouse, found, repeat_at=repeat_at)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    table = Table(title="Demand by service")
    for column in ("service", "incidents", "mental health", "%", "MH hours", "% of hours"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for service, row in result["services"].items():
        table.add_row(service, f"{row['incidents']:,}", f"{row['mental_health']:,}", str(row["mental_health_pct"]),
                      str(row["mental_health_hours"]), str(row["mental_health_share_of_hours_pct"]))
    console.print(table)
    console.print(f"Joint: {result['joint']}")
    console.print(f"Repeat locations: {result['repeat_locations']}")
    if result["co_responding"]:
        console.print(f"Co-responding: {result['co_responding']}")
