"""`safer link`: link people, places and incidents across partners, look people up, measure it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from safertogether.cli import review
from safertogether.cli.common import (
    DbOption,
    JsonOption,
    RecordArgument,
    console,
    errors,
    fail,
    or_dash,
    warehouse_or_exit,
    with_warehouse,
)
from safertogether.errors import SaferError

app = typer.Typer(help="Link people's records across sources (Splink) and measure the linkage.",
                  no_args_is_help=True)
app.add_typer(review.app, name="review")


@app.command("benchmark")
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
        fail(exc)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_benchmark(report)


@app.command("lookup")
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
        with warehouse_or_exit(db, read_only=True) as warehouse, errors.status("indexing the person records"):
            index = PersonIndex.build(warehouse)
        candidates = index.find(query, limit)
    except SaferError as exc:
        fail(exc)
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
    why = "; ".join(f"{c.comparison} {c.level} ({c.match_weight:+.1f})" for c in
                   (candidate.explanation.comparisons if candidate.explanation else ()))
    console.print(f"  why: {why}", highlight=False, soft_wrap=True)


def _print_benchmark(report: dict[str, Any]) -> None:
    console.print(f"[b]{report['dataset']}[/] ({report['link_type']}, {report['records']:,} records, "
                  f"{report['seconds']} s)")
    table = Table()
    for column in ("measure", "pairwise", "clusters"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    clusters = report["clusters"] or {}
    for key in ("precision", "recall", "f1", "true_positives", "false_positives", "false_negatives"):
        table.add_row(key, str(report["pairwise"][key]), or_dash(clusters.get(key)))
    console.print(table)
    curve = ", ".join(f"{p['threshold_match_weight']:g}: {p['f1']:.4f}" for p in report["f1_across_thresholds"])
    console.print(f"F1 by match-weight threshold: {curve}", highlight=False)
    oracle = report["oracle_best_threshold_on_this_set"]
    console.print(f"Blocking recall {report['blocking_recall']} ({report['blocked_pairs']:,} pairs scored); "
                  f"threshold {report['threshold']} ({report['threshold_chosen_on']}); best F1 on this set "
                  f"{oracle['f1']} at match weight {oracle['threshold_match_weight']} (oracle, not used)",
                  highlight=False)


@app.command("run")
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

    with warehouse_or_exit(db) as warehouse:
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
            fail(exc)
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


@app.command("person")
def link_person(
    person_id: Annotated[str, typer.Argument(help="A person id, e.g. P0000123 (an id merged since still works)")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A person's records across agencies, newest first (person data: for entitled users only)."""
    from safertogether.link.history import person_history

    history = with_warehouse(db, lambda warehouse: person_history(warehouse, person_id))
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


@app.command("place")
def link_place(
    address: Annotated[str, typer.Argument(help="An address as any agency might write it, e.g. '2/14 Hobill Cl, "
                                                "Blaby'")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything every agency holds at one address, newest first (person data: for entitled users only)."""
    from safertogether.link.places import place_history

    history = with_warehouse(db, lambda warehouse: place_history(warehouse, address))
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


@app.command("explain")
def link_explain(record_a: RecordArgument, record_b: RecordArgument, db: DbOption = None,
                 as_json: JsonOption = False) -> None:
    """Why two person records are (or are not) the same person: each comparison's level and match weight."""
    from safertogether.link.people import explain_link

    explanation = with_warehouse(db, lambda warehouse: explain_link(warehouse, record_a, record_b))
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


@app.command("evaluate")
def link_evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="The truth folder `safer synth partners` wrote (DIR/truth)")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure the stored people against the generator's truth: pairwise and B-cubed precision, recall, F1."""
    from safertogether.link.evaluate_people import evaluate_people

    result = with_warehouse(db, lambda warehouse: evaluate_people(warehouse, truth))
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


def _incident_help(name: str) -> str:
    """A setting's help and default, from the library's one definition (without importing the linker)."""
    from safertogether.link.incident_settings import SETTINGS

    return f"{SETTINGS[name].help} (default {SETTINGS[name].default:g})"


@app.command("incidents")
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
        report = with_warehouse(db, lambda warehouse: link_incidents(warehouse, settings), read_only=False)
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
        return
    console.print(f"{report.records:,} incident records -> {report.joint_incidents:,} joint incidents, "
                  f"{report.multi_agency_incidents:,} of them in several services' logs ({report.links:,} links "
                  f"of {report.candidate_pairs:,} candidate pairs) in {report.seconds:.1f} s; "
                  "see the table joint_incidents", highlight=False)


@app.command("evaluate-incidents")
def link_evaluate_incidents(
    truth: Annotated[Path, typer.Option("--truth", help="The truth/ folder `safer synth partners` wrote")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure the joint incidents of the last `safer link incidents` against the generator's truth."""
    from safertogether.link.incident_evaluate import evaluate_incident_links

    report = with_warehouse(db, lambda warehouse: evaluate_incident_links(warehouse, truth).as_json())
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

