"""`safer link review`: the pairs the model is unsure of, and reviewers' decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safertogether.cli.common import (
    DbOption,
    JsonOption,
    RecordArgument,
    console,
    with_warehouse,
)

app = typer.Typer(help="Pairs the model is unsure of, and reviewers' decisions (kept for every later run).",
                  no_args_is_help=True)


@app.command("list")
def review_list(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(help="How many pairs to show")] = 20,
    conflicts: Annotated[bool, typer.Option("--conflicts", help="Instead, pairs decided as different people that "
                                            "other links still join")] = False,
    as_json: JsonOption = False,
) -> None:
    """The undecided pairs between the review floor and the threshold, most probable first."""
    from safertogether.link.review import review_queue

    pairs = with_warehouse(db, lambda warehouse: review_queue(warehouse, limit, conflicts))
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

    with_warehouse(db, lambda warehouse: decide(warehouse, record_a, record_b, decision, reviewer, note),
                    read_only=False)
    verdict = "the same person" if decision == "same" else "different people"
    console.print(f"Recorded: {record_a} and {record_b} are {verdict}; `safer link run` applies it.", highlight=False)


ReviewerOption = Annotated[str | None, typer.Option(help="Who decided (kept with the decision)")]
NoteOption = Annotated[str | None, typer.Option(help="Why (kept with the decision)")]


@app.command("same")
def review_same(record_a: RecordArgument, record_b: RecordArgument, db: DbOption = None,
                reviewer: ReviewerOption = None, note: NoteOption = None) -> None:
    """Decide that two records are the same person: later runs join them whatever their score."""
    _decide("same", record_a, record_b, db, reviewer, note)


@app.command("different")
def review_different(record_a: RecordArgument, record_b: RecordArgument, db: DbOption = None,
                     reviewer: ReviewerOption = None, note: NoteOption = None) -> None:
    """Decide that two records are different people: later runs never join them directly."""
    _decide("different", record_a, record_b, db, reviewer, note)

