"""`safer forecast`: hotspot forecasts, their backtests, and a displacement check (place-based only)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from safertogether.cli.common import DbOption, JsonOption, console, errors, fail, progress_bar, warehouse_or_exit
from safertogether.errors import BadRequestError, SaferError

app = typer.Typer(help="Hotspot forecasts with honest backtests, fairness checks and explanations (places only).",
                  no_args_is_help=True)

EventsOption = Annotated[list[Path], typer.Option("--events", help="Event files, folders or zips (repeatable)")]
KindOption = Annotated[str, typer.Option("--kind", help="police-uk (street files, a month each) or points (a CSV "
                                         "with x, y and date columns)")]
CrsOption = Annotated[str | None, typer.Option("--crs", help="EPSG code of the points' coordinates (points: needed; "
                                               "police-uk: the grid's CRS, default 27700)")]
XOption = Annotated[str | None, typer.Option("--x", help="Column of the x coordinate (or longitude)")]
YOption = Annotated[str | None, typer.Option("--y", help="Column of the y coordinate (or latitude)")]
DateOption = Annotated[str | None, typer.Option("--date", help="Column of the date or timestamp")]
CategoryColumnOption = Annotated[str | None, typer.Option("--category-column", help="Column of the category")]
CategoryOption = Annotated[list[str] | None, typer.Option("--category", help="Only these categories (repeatable)")]
IncludeOption = Annotated[list[str] | None, typer.Option(
    "--include", help="A police-initiated category to keep anyway (drugs, possession of weapons; repeatable)")]
HorizonOption = Annotated[str, typer.Option("--horizon", help="month, week or day")]
CellOption = Annotated[float, typer.Option("--cell", help="Cell side in metres (whatever the CRS's unit)")]
MaskOption = Annotated[Path | None, typer.Option("--mask", help="Study area polygons (GeoJSON, GeoPackage, shapefile; "
                                                 "any CRS); default: cells near past events")]
NearOption = Annotated[float, typer.Option("--near", help="Without --mask: keep cells within this many metres of an "
                                           "event")]
ImdOption = Annotated[Path | None, typer.Option("--imd", help="IMD workbook: the fairness check, attention by "
                                               "deprivation decile against harm")]
BoundariesOption = Annotated[Path | None, typer.Option("--boundaries", help="LSOA polygons (with --imd)")]
RelatedOption = Annotated[list[Path] | None, typer.Option(
    "--related", help="Events of a related kind (read like --events: same --kind, --crs, columns), inputs to the "
    "learned model (gbm) beside the target's own history, never forecast (repeatable)")]
StoreOption = Annotated[bool, typer.Option("--store", help="Also keep it in the warehouse (--db), where the signed-in "
                                           "API serves the latest to analysts and patrol planners")]


def _inputs(events: list[Path], kind: str, crs: str | None, x: str | None, y: str | None, date: str | None,
            category_column: str | None, category: list[str] | None, include: list[str] | None) -> Any:
    from safertogether.forecast.prepare import Inputs

    if kind not in ("police-uk", "points"):
        raise BadRequestError(f"--kind must be police-uk or points, not {kind!r}")
    return Inputs(events, kind, crs, x, y, date, category_column, category or [], include or [])  # type: ignore[arg-type]


@contextlib.contextmanager
def stored_in(db: str | None, store: bool) -> Iterator[Any]:
    """The warehouse to keep an output in (with --store), else None."""
    if not store:
        yield None
        return
    with warehouse_or_exit(db) as warehouse:
        yield warehouse


def _check_horizon(horizon: str) -> None:
    if horizon not in ("month", "week", "day"):
        raise BadRequestError(f"--horizon must be month, week or day, not {horizon!r}")


@app.command("backtest")
def backtest_command(
    events: EventsOption,
    kind: KindOption = "police-uk",
    crs: CrsOption = None,
    x: XOption = None,
    y: YOption = None,
    date: DateOption = None,
    category_column: CategoryColumnOption = None,
    category: CategoryOption = None,
    include: IncludeOption = None,
    horizon: HorizonOption = "month",
    cell: CellOption = 250.0,
    mask: MaskOption = None,
    near: NearOption = 500.0,
    related: RelatedOption = None,
    models: Annotated[str | None, typer.Option("--models", help="Comma-separated models (default: all): previous, "
                                               "longrun, kde, prospective, etas, gbm, ensemble")] = None,
    test_from: Annotated[str | None, typer.Option("--test-from", help="First test date, YYYY-MM-DD (default: a "
                                                  "year before the data ends)")] = None,
    test_to: Annotated[str | None, typer.Option("--test-to", help="Last test date, YYYY-MM-DD")] = None,
    boxes: Annotated[int, typer.Option("--boxes", min=1, help="A fixed number of patrol boxes scored too")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random tie-breaking and the bootstrap")] = 17,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the HTML report (curves, maps) here")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON report here")] = None,
    imd: ImdOption = None,
    boundaries: BoundariesOption = None,
    harm_weights: Annotated[Path | None, typer.Option("--harm-weights", help="Harm weights per category CSV "
                                                      "(crime_type, cchi_days) for the fairness check")] = None,
    as_json: JsonOption = False,
) -> None:
    """Rolling-origin backtest of every model: hit rate, PAI, PEI*, log score, with bootstrap intervals."""
    from safertogether.forecast.backtest import BacktestSettings, backtest
    from safertogether.forecast.prepare import prepare

    try:
        _check_horizon(horizon)
        first, last = _date(test_from, "--test-from"), _date(test_to, "--test-to")
        inputs = _inputs(events, kind, crs, x, y, date, category_column, category, include)
        prepared = prepare(inputs, horizon=horizon, cell_m=cell, mask=mask, anchor=first, near_m=near,  # type: ignore[arg-type]
                           related=related or ())
        for note in prepared.notes:
            errors.print(f"note: {note}", highlight=False)
        chosen = [m.strip() for m in models.split(",")] if models else None
        settings = BacktestSettings(**({"models": chosen} if chosen else {}), boxes=boxes, test_from=first,
                                    test_to=last, seed=seed)
        deciles, weights = _fairness_inputs(prepared, imd, boundaries, harm_weights)
        with progress_bar(as_json) as progress:
            task = progress.add_task("backtest", total=None)

            def step(done: int, total: int, text: str) -> None:
                progress.update(task, description=text[:40], completed=done, total=total)

            report = backtest(prepared.series, settings, progress=step, deciles=deciles, harm_weights=weights,
                              related=prepared.related)
    except SaferError as exc:
        fail(exc)
    report["notes"] = prepared.notes
    _write_outputs(report, out, html_out)
    if as_json:
        print(json.dumps({k: v for k, v in report.items() if k != "maps"}, indent=2, default=str))
        return
    _show(report)


def _fairness_inputs(prepared: Any, imd: Path | None, boundaries: Path | None, harm_weights: Path | None) -> Any:
    from safertogether.forecast.context import cell_deciles, read_harm_weights

    if (imd is None) != (boundaries is None):
        raise BadRequestError("the fairness check needs both --imd and --boundaries (LSOA polygons)")
    deciles = cell_deciles(prepared.grid, boundaries, imd) if imd and boundaries else None
    return deciles, read_harm_weights(harm_weights) if harm_weights else None


def _write_outputs(report: dict[str, Any], out: Path | None, html_out: Path | None) -> None:
    from safertogether.forecast.report_html import render_html

    if out:
        out.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    if html_out:
        html_out.write_text(render_html(report), encoding="utf-8")
        errors.print(f"HTML report written to {html_out}", highlight=False)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequestError(f"{option} '{value}' is not a date; write it as YYYY-MM-DD") from None


def _show(report: dict[str, Any]) -> None:
    data = report["data"]
    table = Table(title=f"{report['horizon']}ly backtest, {len(data['test_windows'])} windows "
                        f"({report['settings']['test_from']} to {report['settings']['test_to']}), "
                        f"{data['cells']:,} cells of {data['cell_m']:g} m; 95% bootstrap intervals")
    for column in ("model", "coverage", "hit rate", "PAI", "PEI*", "vs best baseline"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in report["results"]:
        diff = r.get("hit_rate_vs_best_baseline")
        table.add_row(r["model"], r["label"], _with_ci(r["hit_rate"], r["hit_rate_ci"]),
                      _with_ci(r["pai"], r["pai_ci"], 2), _with_ci(r["pei_star"], r["pei_star_ci"]),
                      "" if diff is None else _with_ci(diff, r["hit_rate_vs_best_baseline_ci"]))
    console.print(table)
    console.print(f"chosen on the tuning windows {report['settings']['tuning_windows'][0]} to "
                  f"{report['settings']['tuning_windows'][-1]} (before the test span): best baseline "
                  f"{report['best_baseline']}, model to trust {report['chosen_model']}")
    _show_headline(report.get("headline"))
    for name, fair in (report.get("fairness") or {}).items():
        for warning in fair.get("warnings", []) if isinstance(fair, dict) else []:
            errors.print(f"[yellow]fairness ({name}):[/] {warning}", highlight=False)


def _show_headline(headline: dict[str, Any] | None) -> None:
    """The chosen model against the best baseline at each coverage: paired difference, and whether the
    intervals overlap."""
    if not headline or headline["best_baseline"] not in headline["against"]:
        return
    for row in headline["against"][headline["best_baseline"]]:
        worse = row["difference_ci"][1] is not None and row["difference_ci"][1] < 0
        verdict = ("better, intervals apart" if row["paired_better"] and not row["intervals_overlap"] else
                   "better window by window, intervals overlap" if row["paired_better"] else
                   "worse window by window" if worse else "no difference shown")
        console.print(f"  {row['coverage']:>9}: {headline['model']} minus {headline['best_baseline']} "
                      f"{_with_ci(row['difference'], row['difference_ci'])} ({verdict})")


def _with_ci(value: float | None, ci: list[float | None], digits: int = 3) -> str:
    if value is None:
        return "—"
    low, high = ci
    # "to", not a dash: a difference's interval often has a negative end (-0.053 to -0.004)
    return f"{value:.{digits}f} ({low:.{digits}f} to {high:.{digits}f})" if low is not None else f"{value:.{digits}f}"


@app.command("predict")
def predict_command(
    events: EventsOption,
    out: Annotated[Path, typer.Option("--out", help="GeoJSON of the flagged cells with expected counts and why")],
    kind: KindOption = "police-uk",
    crs: CrsOption = None,
    x: XOption = None,
    y: YOption = None,
    date: DateOption = None,
    category_column: CategoryColumnOption = None,
    category: CategoryOption = None,
    include: IncludeOption = None,
    horizon: HorizonOption = "month",
    cell: CellOption = 250.0,
    mask: MaskOption = None,
    near: NearOption = 500.0,
    related: RelatedOption = None,
    model: Annotated[str, typer.Option("--model", help="The model to forecast with")] = "etas",
    coverage: Annotated[float, typer.Option("--coverage", help="Share of the study area to flag")] = 0.02,
    harm_weights: Annotated[Path | None, typer.Option("--harm-weights", help="Harm weights per category CSV")] = None,
    store: StoreOption = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Forecast the period after the data ends; write every cell's expected count and, for flagged cells, why."""
    from safertogether.forecast.predict import predict_next

    with stored_in(db, store) as warehouse:
        try:
            _check_horizon(horizon)
            inputs = _inputs(events, kind, crs, x, y, date, category_column, category, include)
            summary = predict_next(inputs, horizon=horizon, cell_m=cell, mask=mask, near_m=near, model=model,  # type: ignore[arg-type]
                                   coverage=coverage, out=out, harm_weights=harm_weights, warehouse=warehouse,
                                   related=related or ())
        except SaferError as exc:
            fail(exc)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    console.print(f"{summary['period']}: {summary['flagged']} cells flagged of {summary['cells']:,} "
                  f"({summary['expected_share']:.0%} of expected events) written to {out}")
    console.print(summary["near_repeat"])


@app.command("displacement")
def displacement_command(
    events: EventsOption,
    treated: Annotated[Path, typer.Option("--treated", help="Treated areas: polygons (any CRS) or a patrol plan "
                                          "GeoJSON")],
    before_from: Annotated[str, typer.Option("--before-from", help="Start of the period before, YYYY-MM-DD")],
    after_from: Annotated[str, typer.Option("--after-from", help="Start of the intervention period, YYYY-MM-DD")],
    after_to: Annotated[str, typer.Option("--after-to", help="End of the intervention period, YYYY-MM-DD")],
    kind: KindOption = "police-uk",
    crs: CrsOption = None,
    x: XOption = None,
    y: YOption = None,
    date: DateOption = None,
    category: CategoryOption = None,
    include: IncludeOption = None,
    cell: CellOption = 150.0,
    as_json: JsonOption = False,
) -> None:
    """Crime in rings around treated cells against rings around matched control cells (before and after)."""
    from safertogether.forecast.predict import displacement_from_files

    try:
        inputs = _inputs(events, kind, crs, x, y, date, None, category, include)
        dates = [_date(v, o) for v, o in ((before_from, "--before-from"), (after_from, "--after-from"),
                                           (after_to, "--after-to"))]
        result = displacement_from_files(inputs, treated, *dates, cell_m=cell)  # type: ignore[arg-type]
    except SaferError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"{result['treated_cells']} treated cells, {result['control_cells']} matched controls")
    for column in ("ring", "treated before", "treated after", "control before", "control after", "ratio (95% CI)"):
        table.add_column(column, justify="right")
    for ring in result["rings"]:
        table.add_row(f"{ring['from_m']:g}-{ring['to_m']:g} m", *(f"{ring[k]:g}" for k in (
            "treated_before", "treated_after", "control_before", "control_after")),
            "—" if ring["ratio"] is None else f"{ring['ratio']} ({ring['low']}-{ring['high']})")
    console.print(table)
    console.print(result["reading"])
