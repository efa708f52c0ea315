"""Linking partners' person records: accuracy on a fixed seed, people who move, twins and common names.

The generator's truth (who each record really is, where they lived, who are twins) is the oracle; the
linker never reads it. The seed is one the model was not tuned on (tuning used seed 7, the benchmark
reports seed 11). Thresholds sit a little below what the model measured, so a regression breaks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from safertogether.ingest import import_partner
from safertogether.link.baselines import compare_with_exact_match
from safertogether.link.benchmark import BenchmarkReport, measure_run
from safertogether.link.model import LinkageRun, link_records
from safertogether.link.partners import attach_truth, load_person_records, person_input_sql
from safertogether.link.person_model import BLOCKING_RULES, PARTNER_TRAINING, partner_person_settings
from safertogether.sources.synth import SynthConfig, generate_partners
from safertogether.store.warehouse import open_warehouse

PEOPLE = 4_000  # ~2,400 person records, ~3,300 true pairs: linked in seconds
SEED = 3
THRESHOLD = 0.5  # match probability, fixed in advance (match weight 0)


@dataclass
class Linked:
    run: LinkageRun
    report: BenchmarkReport
    clusters: str


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Linked:
    out = tmp_path_factory.mktemp("partners") / "synth"
    generate_partners(SynthConfig(people=PEOPLE, seed=SEED, data=data_dir), out)
    warehouse = open_warehouse(tmp_path_factory.mktemp("wh") / "partners.duckdb")
    import_partner(warehouse, sorted(out.glob("*.yaml")))
    records = attach_truth(load_person_records(warehouse), out / "truth")
    warehouse.close()
    run = link_records(records, PARTNER_TRAINING, partner_person_settings)
    report = measure_run(run)
    connection = records.connection
    for name in ("records", "people", "addresses", "residences"):
        path = str(out / "truth" / f"{name}.parquet").replace("'", "''")
        connection.execute(f"CREATE TABLE truth_{name} AS SELECT * FROM read_parquet('{path}')")
    connection.execute("""CREATE VIEW truth_person_records AS
        SELECT r.agency || ':' || r.record_id AS unique_id, r.person_id, r.address_id, r.errors
        FROM truth_records r JOIN people p ON p.unique_id = r.agency || ':' || r.record_id""")
    # Every person as a clean record of the truth (name, date of birth, latest address), prepared as records are.
    connection.execute("""CREATE TABLE truth_as_records AS
        SELECT CAST(p.person_id AS VARCHAR) AS record_id, 'truth' AS agency, p.forename, p.surname, p.date_of_birth,
               p.sex, a.address, a.postcode, NULL::TIMESTAMP AS recorded_on
        FROM truth_people p
        JOIN (SELECT person_id, arg_max(address_id, coalesce(moved_in, DATE '1900-01-01')) AS address_id
              FROM truth_residences GROUP BY 1) r
          USING (person_id) JOIN truth_addresses a USING (address_id)""")
    connection.execute(f"CREATE TABLE truth_prepared AS {person_input_sql('truth_as_records')}")
    return Linked(run, report, run.clusters(THRESHOLD))


def _scored_people(linked: Linked, people_pairs_sql: str) -> list[_Scored]:
    """The model's match probability for each pair of people (one, other), each as a clean record of the truth."""
    connection = linked.run.records.connection

    def rows(side: str) -> list[dict[str, object]]:
        cursor = connection.execute(f"""SELECT t.* FROM truth_prepared t JOIN ({people_pairs_sql}) p
                                        ON t.unique_id = 'truth:' || p.{side} ORDER BY p.one, p.other""")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    left, right = rows("one"), rows("other")
    scored = linked.run.linker.inference.score_pairs(left, right).as_record_list()
    pairs = {frozenset((a["unique_id"], b["unique_id"])) for a, b in zip(left, right, strict=True)}
    return [_Scored(r) for r in scored if frozenset((r["unique_id_l"], r["unique_id_r"])) in pairs]


class _Scored(float):
    """A pair's match probability that shows the pair's names, birth dates and homes when printed."""

    def __new__(cls, row: dict[str, object]) -> _Scored:
        scored = super().__new__(cls, float(row["match_probability"]))  # type: ignore[arg-type]
        scored.shown = " / ".join(" ".join(str(row.get(f"{c}_{side}")) for c in (
            "forename", "surname", "date_of_birth", "house", "street", "sex")) for side in "lr")
        return scored

    def __repr__(self) -> str:
        return f"{float(self):.3g} ({self.shown})"


def _linked_share(linked: Linked, pairs_sql: str) -> tuple[float, int]:
    """Share of the record pairs (id_l, id_r) that the clusters put together, and how many pairs there are."""
    share, pairs = linked.run.records.connection.execute(f"""
        SELECT avg((a.cluster_id = b.cluster_id)::INT), count(*)
        FROM ({pairs_sql}) p JOIN {linked.clusters} a ON a.unique_id = p.id_l
        JOIN {linked.clusters} b ON b.unique_id = p.id_r""").fetchall()[0]
    return float(share or 0.0), int(pairs)


def test_records_are_linked_above_the_issues_target_at_a_threshold_fixed_in_advance(linked):
    report = linked.report.as_json()
    figures = {k: report[k] for k in ("blocking_recall", "f1", "clusters")}
    assert report["threshold"] == THRESHOLD
    assert report["blocking_recall"] > 0.985, figures
    assert report["f1"] > 0.975, figures
    assert report["clusters"]["f1"] > 0.97, figures
    assert report["clusters"]["bcubed"]["f1"] > 0.98, figures


def test_the_report_names_the_blocking_rules_of_the_model_that_ran(linked):
    assert linked.report.as_json()["blocking_rules"] == list(BLOCKING_RULES)


def test_a_persons_records_before_and_after_a_move_are_linked(linked):
    share, pairs = _linked_share(linked, """
        SELECT a.unique_id AS id_l, b.unique_id AS id_r FROM truth_person_records a JOIN truth_person_records b
          ON a.person_id = b.person_id AND a.unique_id < b.unique_id AND a.address_id <> b.address_id""")
    assert pairs > 200
    assert share > 0.93, share


TWINS_SQL = """SELECT a.person_id AS one, b.person_id AS other FROM truth_people a JOIN truth_people b
                 ON a.household_id = b.household_id AND a.date_of_birth = b.date_of_birth
                AND a.person_id < b.person_id"""


def test_twins_as_the_truth_has_them_are_not_matched(linked):
    # Same surname, date of birth and home, another forename: every twin pair of the population, recorded cleanly.
    probabilities = _scored_people(linked, TWINS_SQL)
    matched = [p for p in probabilities if p >= THRESHOLD]
    assert len(probabilities) >= 10
    # Known gap: twins whose forenames look alike (Priya, Sophia: Jaro-Winkler >= 0.7) are still matched.
    assert len(matched) <= 0.15 * len(probabilities), (len(probabilities), matched)


def test_namesakes_in_one_household_are_not_matched(linked):
    # A parent and child (or two siblings) with one forename and surname at one address: the date of birth differs.
    probabilities = _scored_people(linked, """
        SELECT a.person_id AS one, b.person_id AS other FROM truth_people a JOIN truth_people b
          ON a.household_id = b.household_id AND a.forename = b.forename AND a.surname = b.surname
         AND a.person_id < b.person_id""")
    matched = [p for p in probabilities if p >= THRESHOLD]
    assert len(probabilities) >= 3
    # Known gap: siblings given one forename and born months apart (the generator draws siblings' forenames
    # independently) agree on all but the day of birth, and are matched.
    assert len(matched) <= 0.5 * len(probabilities), (len(probabilities), matched)


def test_twins_are_kept_apart(linked):
    # Twins: same household, same date of birth, usually the same surname and address, another forename.
    share, pairs = _linked_share(linked, f"""
        WITH twins AS ({TWINS_SQL})
        SELECT least(a.unique_id, b.unique_id) AS id_l, greatest(a.unique_id, b.unique_id) AS id_r
        FROM twins JOIN truth_person_records a ON a.person_id = twins.one
        JOIN truth_person_records b ON b.person_id = twins.other""")
    assert share < 0.05 if pairs else True  # the twins of a few thousand people rarely both have records


def test_two_people_with_the_same_name_are_kept_apart(linked):
    share, pairs = _linked_share(linked, """
        WITH namesakes AS (SELECT a.person_id AS one, b.person_id AS other FROM truth_people a JOIN truth_people b
                             ON a.forename = b.forename AND a.surname = b.surname AND a.person_id < b.person_id)
        SELECT least(a.unique_id, b.unique_id) AS id_l, greatest(a.unique_id, b.unique_id) AS id_r
        FROM namesakes JOIN truth_person_records a ON a.person_id = namesakes.one
        JOIN truth_person_records b ON b.person_id = namesakes.other""")
    assert pairs > 100
    assert share < 0.08, share  # 0.5 % at 84,000 people; here one cluster bridged by a record without a birth date


def test_nicknames_are_linked_to_the_full_name(linked):
    share, pairs = _linked_share(linked, """
        SELECT a.unique_id AS id_l, b.unique_id AS id_r FROM truth_person_records a JOIN truth_person_records b
          ON a.person_id = b.person_id AND a.unique_id < b.unique_id
         AND (a.errors LIKE '%nickname%') <> (b.errors LIKE '%nickname%')""")
    assert pairs > 100
    assert share > 0.88, share


def test_the_linker_recovers_most_links_the_exact_match_on_name_and_birth_date_misses(linked):
    comparison = compare_with_exact_match(linked.run.records, linked.clusters)
    true_pairs = comparison.exact.true_positives + comparison.exact.false_negatives
    assert comparison.missed_by_exact > 0.3 * true_pairs  # what the issue means by "many systems" missing links
    assert comparison.recovered_by_linker > 0.95 * comparison.missed_by_exact
    assert comparison.lost_by_linker < 0.005 * true_pairs
    assert comparison.linker.f1 > comparison.exact.f1 + 0.2
