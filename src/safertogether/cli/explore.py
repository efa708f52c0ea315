"""Questions about the stored data: quality, areas, an area's summary, GIS exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from safertogether.cli.common import (
    DbOption,
    JsonOption,
    console,
    fail,
    or_dash,
    warehouse_or_exit,
)
from safertogether.errors import SaferError


def quality(
    db: DbOption = None,
    as_json: JsonOption = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the report as an HTML page")] = None,
    quarantine: Annotated[bool, typer.Option("--quarantine", help="List quarantined rows too")] = False,
) -> None:
    """Data quality per force and month: missing locations, points outside the force, disagreeing LSOAs..."""
    from safertogether.measures.quality import CHECKS, quality_report, quarantined_rows
    from safertogether.web.pages import quality_html

    with warehouse_or_exit(db, read_only=True) as warehouse:
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


def areas(query: Annotated[str, typer.Argument(help="Code, area or local authority name, or street")],
          db: DbOption = None, as_json: JsonOption = False) -> None:
    """Find areas as residents name them: street, town/local authority, area name or code."""
    from safertogether.areas.hierarchy import search_areas

    with warehouse_or_exit(db, read_only=True) as warehouse:
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
        with warehouse_or_exit(db, read_only=True) as warehouse:
            written = write_crimes_download(warehouse, code, fmt, out, month_from, month_to)
    except SaferError as exc:
        fail(exc)
    period = written.period.as_json()
    console.print(f"{written.rows:,} crimes of {written.place['name']} ({period['from']} to {period['to']}) "
                  f"written to {written.path}", highlight=False, soft_wrap=True)


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
        with warehouse_or_exit(db, read_only=True) as warehouse:
            result = area_summary(warehouse, code, month_from, month_to)
    except SaferError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    _print_summary(result)


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
        table.add_row(c["crime_type"], f"{c['crimes']:,}", or_dash(c["rate_per_1000"]),
                      or_dash(c["force_rate_per_1000"]))
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

