"""The person model's cheap levels compute exactly what the costly SQL they stand for computes."""

from __future__ import annotations

import datetime as dt
import random

import duckdb

from safertogether.link.person_model import _ONE_EDIT_APART


def _one_edit_variants(date: str) -> list[str]:
    """Every date string one substitution or one swap of neighbours away (digits and separators alike)."""
    found = []
    for i in range(len(date)):
        found += [date[:i] + c + date[i + 1:] for c in "0123456789-" if c != date[i]]
        if i + 1 < len(date):
            found.append(date[:i] + date[i + 1] + date[i] + date[i + 2:])
    return found


def test_one_edit_apart_is_damerau_levenshtein_one_for_dates():
    rng = random.Random(5)
    dates = [(dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(45_000))).isoformat() for _ in range(40)]
    pairs = [(d, v) for d in dates for v in _one_edit_variants(d)]
    pairs += [(a, b) for a in dates for b in dates] + [("0999-01-02", "0999-01-20"), ("2001-02-03", "2001-02-30")]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE pairs (date_of_birth_l VARCHAR, date_of_birth_r VARCHAR)")
    connection.executemany("INSERT INTO pairs VALUES (?, ?)", pairs)
    parts = ", ".join(f"substr(date_of_birth_{s}, {start}, {length}) AS dob_{name}_{s}" for s in "lr"
                      for name, start, length in (("year", 1, 4), ("month", 6, 2), ("day", 9, 2)))
    differing = connection.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE damerau_levenshtein(date_of_birth_l, date_of_birth_r) <= 1),
               count(*) FILTER (WHERE ({_ONE_EDIT_APART}) IS DISTINCT FROM
                                      (damerau_levenshtein(date_of_birth_l, date_of_birth_r) <= 1))
        FROM (SELECT *, {parts} FROM pairs)""").fetchall()[0]
    assert differing[0] > 5_000 and differing[1] > 2_000
    assert differing[2] == 0
