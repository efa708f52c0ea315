"""`safer plan patrols` and `safer plan dosage`: hot-spot patrol plans and the dosage delivered.

Registered on the ``plan`` group (station coverage and simulation live in the bluelight capability's module).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from safertogether.cli.common import DbOption, JsonOption, console, errors, fail
from safertogether.cli.forecast import (
    BoundariesOption,
    CategoryColumnOption,
    CategoryOption,
    CellOption,
    CrsOption,
    DateOption,
    EventsOption,
    HorizonOption,
    ImdOption,
    IncludeOption,
    KindOption,
    MaskOption,
    NearOption,
    StoreOption,
    XOption,
    YOption,
    _check_horizon,
    _fairness_inputs,
    _inputs,
    stored_in,
)
from safertogether.cli.plan import app  # the commands below join the `plan` group
from safertogether.errors import BadRequestError, SaferError


@app.command("patrols")
def patrols_command(
    events: EventsOption,
    out: Annotated[Path, typer.Option("--out", help="Folder for a GeoJSON plan per shift and a printable map")],
    shift: Annotated[list[str], typer.Option("--shift", help="A shift as START=HOURS: its start (HH:MM) and the "
                                             "officer hours of patrol in it, e.g. 07:00=16 (repeatable)")],
    kind: KindOption = "police-uk",
    crs: CrsOption = None,
    x: XOption = None,
    y: YOption = None,
    date: DateOption = None,
    category_column: CategoryColumnOption = None,
    category: CategoryOption = None,
    include: IncludeOption = None,
    horizon: HorizonOption = "month",
    cell: CellOption = 150.0,
    mask: MaskOption = None,
    near: NearOption = 500.0,
    model: Annotated[str, typer.Option("--model", help="The forecast model")] = "etas",
    harm_weights: Annotated[Path | None, typer.Option("--harm-weights", help="Harm weights per category CSV "
                                                      "(crime_type, cchi_days); without it, counts")] = None,
    shift_hours: Annotated[float, typer.Option("--shift-hours", help="Length of a shift")] = 8.0,
    visit_minutes: Annotated[float, typer.Option("--visit-minutes", help="Minutes per visit (Koper: 10-15)")] = 12.0,
    revisit_minutes: Annotated[float, typer.Option("--revisit-minutes", help="Minutes between visits")] = 120.0,
    box: Annotated[float, typer.Option("--box", help="Side of a patrol box in metres (walkable)")] = 300.0,
    imd: ImdOption = None,
    boundaries: BoundariesOption = None,
    store: StoreOption = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A patrol plan per shift: boxes by expected harm, visits every two hours, share of harm covered, and
    (with --imd) the share of patrol time by deprivation decile against the share of harm."""
    from safertogether.forecast.patrols import PatrolSettings, write_plans
    from safertogether.forecast.predict import forecast_next

    with stored_in(db, store) as warehouse:
        try:
            _check_horizon(horizon)
            shifts = [PatrolSettings(hours=hours, shift_start=start, shift_hours=shift_hours,
                                     visit_minutes=visit_minutes, revisit_minutes=revisit_minutes, box_m=box)
                      for start, hours in map(_shift, shift)]
            for settings in shifts:
                settings.check()
            inputs = _inputs(events, kind, crs, x, y, date, category_column, category, include)
            made = forecast_next(inputs, horizon=horizon, cell_m=cell, mask=mask, near_m=near, model=model,  # type: ignore[arg-type]
                                 harm_weights=harm_weights)
            deciles, weights = _fairness_inputs(made.prepared, imd, boundaries, harm_weights)
            summary = write_plans(made, shifts, out, deciles=deciles, harm_weights=weights, warehouse=warehouse)
        except SaferError as exc:
            fail(exc)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    _show_plans(summary, out)


def _show_plans(summary: dict[str, Any], out: Path) -> None:
    table = Table(title=f"Patrol plans for {summary['period']} ({summary['model']})")
    for column in ("shift", "hours", "boxes", "visits each", "share of expected harm", "share of area", "file"):
        table.add_column(column)
    for row in summary["shifts"]:
        table.add_row(row["start"], f"{row['hours']:g}", str(row["boxes"]), str(row["visits_per_box"]),
                      f"{row['expected_share_of_harm']:.1%}", f"{row['share_of_area']:.2%}", row["file"])
    console.print(table)
    fairness = summary["fairness"]
    if fairness:
        fair = Table(title=f"Patrol time by IMD decile (1 = most deprived; 0 = unknown) against {fairness['harm']} "
                           f"recorded {fairness['harm_from']} to {fairness['harm_to']}")
        for column in ("decile", "cells", "share of patrol time", "share of boxed area", "share of harm"):
            fair.add_column(column, justify="right")
        for row in fairness["deciles"]:
            fair.add_row(str(row["decile"]), f"{row['cells']:,}", f"{row.get('patrol_share', 0):.1%}",
                         f"{row['flagged_share']:.1%}", f"{row['harm_share']:.1%}")
        console.print(fair)
        for warning in fairness["warnings"]:
            errors.print(f"[yellow]fairness:[/] {warning}", highlight=False)
    errors.print(f"printable map: {out / 'patrols.html'}", highlight=False)


def _shift(text: str) -> tuple[str, float]:
    start, _, hours = text.partition("=")
    try:
        return start.strip(), float(hours)
    except ValueError:
        raise BadRequestError(f"--shift '{text}' is not START=HOURS, e.g. 07:00=16") from None


@app.command("dosage")
def dosage_command(
    plan: Annotated[Path, typer.Option("--plan", help="A plan GeoJSON written by safer plan patrols")],
    track: Annotated[list[Path], typer.Option("--track", help="GPS track CSV files (repeatable)")],
    time_column: Annotated[str, typer.Option("--time", help="Column of the fix's time")] = "time",
    x: Annotated[str, typer.Option("--x", help="Column of the longitude (or x)")] = "longitude",
    y: Annotated[str, typer.Option("--y", help="Column of the latitude (or y)")] = "latitude",
    unit: Annotated[str | None, typer.Option("--unit", help="Column naming the patrol unit or device")] = None,
    crs: Annotated[str, typer.Option("--crs", help="EPSG code of the track's coordinates")] = "4326",
    as_json: JsonOption = False,
) -> None:
    """Delivered against planned visits and minutes per box, from patrol GPS tracks."""
    from safertogether.forecast.dosage import delivered_dosage, read_plan, read_track

    try:
        boxes, properties = read_plan(plan)
        fixes = read_track(track, time=time_column, x=x, y=y, unit=unit, crs=crs)
        result = delivered_dosage(boxes, properties, fixes)
    except SaferError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"Dosage: {result['delivered_minutes']:g} of {result['planned_minutes']:g} planned minutes")
    for column in ("box", "visits planned", "visits delivered", "minutes planned", "minutes delivered"):
        table.add_column(column, justify="right")
    for row in result["boxes"]:
        table.add_row(str(row["box"]), str(row["planned_visits"]), str(row["delivered_visits"]),
                      f"{row['planned_minutes']:g}", f"{row['delivered_minutes']:g}")
    console.print(table)
