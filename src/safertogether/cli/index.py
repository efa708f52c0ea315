"""`safer index`: the Community Safety Index: import its inputs, build an edition, read scores and cards."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from safertogether.cli.common import (
    DbOption,
    JsonOption,
    console,
    errors,
    fail,
    or_dash,
    show_report,
    warehouse_or_exit,
    with_warehouse,
)
from safertogether.errors import SaferError
from safertogether.store.imports import ImportReport
from safertogether.store.warehouse import Warehouse

app = typer.Typer(help="The Community Safety Index (after Rotterdam's Wijkprofiel): build it, read scores and "
                       "cards, import surveys and the MPS ward crime files.", no_args_is_help=True)

LevelOption = Annotated[str, typer.Option("--level", help="lsoa, msoa, lad (police.uk crimes) or borough (MPS "
                                                          "ward crime files)")]
Files = Annotated[list[Path], typer.Argument(help="CSV files or folders of them")]


def _import(call: Callable[[Warehouse, list[Path]], ImportReport], paths: list[Path], db: str | None,
            as_json: bool, what: str) -> None:
    try:
        with warehouse_or_exit(db) as warehouse, errors.status(f"importing {what}"):
            report = call(warehouse, paths)
    except SaferError as exc:
        fail(exc)
    show_report(report, as_json)


@app.command("import-survey")
def import_survey(paths: Files, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import residents' survey measures: a long table (area, period, measure, value[, respondents]) or the
    MOPAC Public Attitude Survey file as published."""
    from safertogether.index.readers import import_survey as run

    _import(run, paths, db, as_json, "survey measures")


@app.command("import-wards")
def import_wards(paths: Files, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import the Metropolitan Police's ward crime files (wide); overlapping months come from the later file."""
    from safertogether.index.readers import import_ward_crime as run

    _import(run, paths, db, as_json, "MPS ward crimes")


@app.command("import-population")
def import_population(paths: Files, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import residents per area and year (e.g. the GLA borough population file)."""
    from safertogether.index.readers import import_area_population as run

    _import(run, paths, db, as_json, "populations")


def refresh_after_import(db: str | None) -> list[dict[str, Any]]:
    """Rebuild the index editions older than the data just imported (levels already built only), exact and
    under the server's disclosure policy; what `safer import police-uk` runs after an import."""
    from safertogether.disclosure.policy import load_policy
    from safertogether.index.build import refresh_editions
    from safertogether.settings import Settings

    with warehouse_or_exit(db) as warehouse, errors.status("refreshing the safety index") as status:
        try:
            done = refresh_editions(warehouse, load_policy(Settings().disclosure_policy),
                                    on_step=lambda what: status.update(f"index: {what}"))
        except SaferError as exc:  # the import itself is stored: say what stopped the index, do not fail it
            return [{"level": None, "edition_id": None, "public_edition_id": None,
                     "skipped": f"{exc}; the import is stored: rebuild with `safer index build`"}]
    return [r.as_json() for r in done]


def say_refreshed(refreshed: list[dict[str, Any]]) -> None:
    for level in refreshed:
        if level["skipped"]:
            console.print(f"[yellow]Safety index ({level['level'] or 'all levels'}) not refreshed:[/] "
                          f"{level['skipped']}", highlight=False)
        else:
            public = level["public_edition_id"]
            console.print(f"Safety index ({level['level']}): edition {level['edition_id']} built on the new data"
                          + (f", public edition {public}" if public else ""))


@app.command()
def build(
    config: Annotated[Path | None, typer.Option("--config", help="Index configuration (YAML) [default: the "
                                                                 "packaged one; see `safer index config`]")] = None,
    level: LevelOption = "lsoa",
    harm: Annotated[list[Path] | None, typer.Option("--harm", help="Your own harm-weight CSV(s), replacing "
                                                                   "the Cambridge Crime Harm Index")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and show, but store no edition")] = False,
    policy: Annotated[str | None, typer.Option(
        "--policy", help="Also build the edition public answers read, from the counts released under this "
                         "disclosure policy (a YAML file or a packaged name) [default: $SAFER_DISCLOSURE_POLICY; "
                         "none when that is exact]")] = None,
) -> None:
    """Build an edition of the index for every area and period of a level, and store it with its configuration.

    The edition built from the exact counts is what signed-in analysts and this command show; the public
    pages, API and `safer publish` read the edition built under the server's disclosure policy (built too,
    when that policy is not exact), never the exact one.
    """
    from safertogether.disclosure.policy import load_policy
    from safertogether.index.build import build_editions
    from safertogether.settings import Settings

    def run(warehouse: Warehouse) -> Any:
        public = load_policy(policy or Settings().disclosure_policy)
        with errors.status("building the index") as status:
            exact, released = build_editions(warehouse, level, config, list(harm or []) or None, public,
                                             store=not dry_run, on_step=lambda what: status.update(f"index: {what}"))
        return exact, released

    edition, released = with_warehouse(db, run, read_only=dry_run)
    if as_json:
        print(json.dumps({**edition.as_json(), "public_edition_id": released.edition_id if released
                          else edition.edition_id}, indent=1, default=str))
        return
    periods = edition.periods
    latest = [r for r in edition.records if r["period"] == periods[-1]]
    console.print(f"[b]{edition.config.name}[/], {level}: edition {edition.edition_id or '(not stored)'}, "
                  f"base period {edition.base_period}, periods {', '.join(periods)}, "
                  f"{len(latest)} areas, {edition.scenarios} sensitivity scenarios")
    _print_scores(latest[:10] + (latest[-10:] if len(latest) > 20 else latest[10:]), periods[-1])
    for note in edition.notes:
        console.print(f"[yellow]note:[/] {note}")
    if released is not None:
        console.print(f"Public edition {released.edition_id}: the same computed from the counts released under "
                      f"{released.policy.name if released.policy else 'exact'} (what the public pages, API and "
                      "`safer publish` show).")
    console.print(f"Harm weights: {edition.harm.version}. Contains public sector information licensed under the "
                  "Open Government Licence v3.0.")


def _print_scores(rows: list[dict[str, Any]], period: str) -> None:
    table = Table(title=f"Community Safety Index {period} (100 = base-year average, higher = safer)")
    for column in ("rank", "range", "area", "score", "band", "objective", "subjective", "flag"):
        table.add_column(column, justify="right" if column in ("rank", "score", "objective", "subjective") else "left")
    for r in sorted(rows, key=lambda r: r["rank"]):
        table.add_row(str(r["rank"]), f"{r['rank_low']}-{r['rank_high']}", f"{r['area_name']} ({r['area']})",
                      f"{r['score']:.1f}", r["band"], or_dash(r["objective"]), or_dash(r["subjective"]),
                      "residents a poor denominator" if r["poor_denominator"] else "")
    console.print(table)


@app.command()
def show(
    level: Annotated[str | None, typer.Option("--level", help="The level [default: the newest edition's]")] = None,
    period: Annotated[str | None, typer.Option("--period", help="A year [default: the latest]")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every area's score in a period of the newest edition."""
    from safertogether.index.cards import index_scores

    found = with_warehouse(db, lambda w: index_scores(w, level, period))
    if as_json:
        print(json.dumps(found, indent=1, default=str))
    else:
        _print_scores(found["areas"], found["period"])


@app.command()
def card(
    area: Annotated[str, typer.Argument(help="The area's code (LSOA, MSOA, local authority or borough)")],
    period: Annotated[str | None, typer.Option("--period", help="A year [default: the latest]")] = None,
    level: Annotated[str | None, typer.Option(
        "--level", help="The edition's level, for a London borough's code (E09) that is both a local authority "
                        "(lad) and a borough [default: the newest edition scoring the area]")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """An area's index card: score, band, both halves, themes, trend, what drives it and similar areas."""
    from safertogether.index.cards import index_card

    found = with_warehouse(db, lambda w: index_card(w, area, period, level=level))
    if as_json:
        print(json.dumps(found, indent=1, default=str))
        return
    console.print(f"[b]{found['area_name']}[/] ({found['area']}), {found['period']}: [b]{found['score']:.1f}[/] — "
                  f"{found['band_label']}. Objective {or_dash(found['objective'])}, subjective "
                  f"{or_dash(found['subjective'])}; rank {found['rank']} of {found['ranked']} "
                  f"(between {found['rank_low']} and {found['rank_high']} under other reasonable choices).")
    for driver in found["drivers"]:
        console.print(f"  {driver['says']}")
    console.print("Trend: " + ", ".join(f"{t['period']} {t['score']:.1f}" for t in found["trend"]))
    console.print("Similar areas: " + ", ".join(f"{s['area_name']} ({s['score']:.1f})" for s in found["similar"]))
    for note in found["notes"]:
        console.print(f"[yellow]note:[/] {note}")


@app.command()
def drill(
    code: Annotated[str, typer.Argument(help="A force id, local authority, MSOA or LSOA code")],
    months: Annotated[int, typer.Option("--months", min=1, help="The latest N months loaded")] = 12,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drill down: an area and the areas below it, with rates, harm, outcomes, finds, index and funnel verdicts."""
    from safertogether.index.drilldown import drilldown

    found = with_warehouse(db, lambda w: drilldown(w, code, months))
    if as_json:
        print(json.dumps(found, indent=1, default=str))
        return
    below = found["child_level"] or "—"
    table = Table(title=f"{code} ({found['level']}), {found['from']} to {found['to']}: the {below}s below it")
    for column in ("area", "crimes", "rate /1,000/yr", "vs parent", "harm days (range)", "charged", "no suspect",
                   "index"):
        table.add_column(column)
    for row in [found["area"], *found["children"]]:
        index = row.get("index") or {}
        table.add_row(row["code"], f"{row['crimes']:,}", f"{or_dash(row['rate'])} ({or_dash(row['rate_low'])}-"
                      f"{or_dash(row['rate_high'])})", row.get("versus_parent", "—"),
                      f"{row['harm_days']:,.0f} ({row['harm_low']:,.0f}-{row['harm_high']:,.0f})",
                      _share(row["charged_share"]), _share(row["no_suspect_share"]), or_dash(index.get("score")))
    console.print(table)
    for note in found["notes"]:
        console.print(f"[yellow]note:[/] {note}")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@app.command()
def editions(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every built edition: level, periods, configuration, and the disclosure policy whose counts it was made
    from (``exact``: for analysts; any other: what public answers under that policy read)."""
    from safertogether.index.cards import list_editions

    found = with_warehouse(db, list_editions)
    if as_json:
        print(json.dumps(found, indent=1, default=str))
        return
    table = Table(title="Editions of the Community Safety Index")
    for column in ("edition", "built", "level", "periods", "base", "disclosure policy", "configuration"):
        table.add_column(column)
    for e in found:
        table.add_row(str(e["edition_id"]), e["built_at"][:16], e["level"], f"{e['periods'][0]}-{e['periods'][-1]}",
                      e["base_period"], e["disclosure_policy"], e["config_sha256"][:12])
    console.print(table)


@app.command("config")
def show_config(
    edition: Annotated[int | None, typer.Option("--edition", help="The configuration a built edition used")] = None,
    db: DbOption = None,
) -> None:
    """Print the index configuration (the default, or an edition's): copy it, edit it, build with --config."""
    if edition is None:
        from safertogether.index.config import default_config_text

        print(default_config_text(), end="")
        return
    from safertogether.index.cards import edition_config

    print(with_warehouse(db, lambda w: edition_config(w, edition)), end="")


@app.command()
def methodology() -> None:
    """Print the methodology page (for residents and councillors)."""
    from safertogether.index.cards import methodology as text

    print(text(), end="")
