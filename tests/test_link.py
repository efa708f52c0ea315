"""The linkage engine against FEBRL's truth: accuracy a regression would break, the CLI's contract, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safertogether.cli import app
from safertogether.errors import InputFormatError, NotFoundError
from safertogether.link.benchmark import FIXED_THRESHOLD_REASON, BenchmarkReport, measure_run
from safertogether.link.explain import explain_pair
from safertogether.link.model import LinkageRun, link_records
from safertogether.link.records import FEBRL_COLUMNS, load_febrl, load_table

runner = CliRunner()


@pytest.fixture(scope="module")
def febrl3_run() -> LinkageRun:
    return link_records(load_febrl("febrl3"))


@pytest.fixture(scope="module")
def febrl3(febrl3_run: LinkageRun) -> BenchmarkReport:
    return measure_run(febrl3_run)


@pytest.fixture(scope="module")
def febrl4() -> BenchmarkReport:
    return measure_run(link_records(load_febrl("febrl4")))


def test_febrl4_links_two_files_above_the_best_open_tools(febrl4):
    """Splink's own FEBRL4 example and recordlinkage's ECM reach F1 0.996 / 0.995 here."""
    assert febrl4.link_type == "link_only" and febrl4.records == 10_000 and febrl4.true_pairs == 5_000
    assert febrl4.blocking_recall >= 0.999
    assert febrl4.score.f1 >= 0.998 and febrl4.score.precision >= 0.999


def test_febrl3_deduplicates_above_the_best_open_tools(febrl3):
    """Splink's and recordlinkage's F1 on FEBRL3 is 0.987 here, its blocking recall 0.976."""
    assert febrl3.link_type == "dedupe_only" and febrl3.records == 5_000 and febrl3.true_pairs == 6_538
    assert febrl3.blocking_recall >= 0.995
    assert febrl3.score.f1 >= 0.995
    assert febrl3.clusters is not None and febrl3.clusters.f1 >= 0.997


def test_the_threshold_is_fixed_in_advance_and_the_oracle_is_reported_apart(febrl3):
    figures = febrl3.as_json()
    assert figures["threshold"] == 0.5 and figures["threshold_chosen_on"] == FIXED_THRESHOLD_REASON
    assert figures["oracle_best_threshold_on_this_set"]["f1"] >= figures["f1"]
    curve = figures["f1_across_thresholds"]
    assert [point["recall"] for point in curve] == sorted((point["recall"] for point in curve), reverse=True)


def test_clusters_give_every_record_an_entity_id(febrl3_run):
    ids = febrl3_run.entity_ids(0.5)
    assert len(ids) == 5_000
    assert ids["rec-552-org"] == ids["rec-552-dup-0"] != ids["rec-1496-org"]
    assert 1_950 <= len(set(ids.values())) <= 2_100  # 2,000 people


def test_a_link_is_explained_comparison_by_comparison(febrl3_run):
    explanation = explain_pair(febrl3_run, "rec-552-org", "rec-552-dup-0")
    assert explanation.match_probability > 0.99
    assert sum(c.match_weight for c in explanation.comparisons) + explanation.prior_match_weight == pytest.approx(
        explanation.match_weight)
    names = {c.comparison for c in explanation.comparisons}
    assert {"given_name", "tf_given_name", "surname", "date_of_birth", "postcode"} <= names
    dob = next(c for c in explanation.comparisons if c.comparison == "date_of_birth")
    assert dob.level and dob.value_left and dob.m_probability is not None


def test_an_unblocked_pair_can_be_explained_and_an_unknown_record_cannot(febrl3_run):
    strangers = explain_pair(febrl3_run, "rec-552-org", "rec-1496-org")
    assert strangers.match_weight < 0
    with pytest.raises(NotFoundError, match="rec-0-nobody"):
        explain_pair(febrl3_run, "rec-552-org", "rec-0-nobody")


@pytest.fixture(scope="module")
def febrl3_csv(tmp_path_factory, febrl3_run) -> str:
    """FEBRL3 as a partner might send it: a CSV with the true person in a column of its own."""
    path = tmp_path_factory.mktemp("link") / "people.csv"
    febrl3_run.records.connection.execute(
        f"COPY (SELECT r.unique_id AS rec_id, t.entity AS person, {', '.join(FEBRL_COLUMNS)} FROM records_0 r "
        f"JOIN truth t USING (unique_id)) TO '{path}' (HEADER)")
    return str(path)


def test_the_cli_links_a_csv_with_a_truth_column_and_prints_the_figures_as_json(febrl3_csv):
    result = runner.invoke(app, ["link", "benchmark", febrl3_csv, "--truth-column", "person", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {"precision", "recall", "f1", "blocking_recall", "records", "seconds", "threshold",
            "threshold_chosen_on", "f1_across_thresholds", "clusters"} <= set(figures)
    assert figures["records"] == 5_000 and figures["f1"] >= 0.995


def test_a_table_missing_columns_is_refused_naming_every_one(tmp_path, febrl3_csv):
    path = tmp_path / "partial.csv"
    lines = Path(febrl3_csv).read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name not in ("surname", "postcode")]
    path.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines[:50]))
    result = runner.invoke(app, ["link", "benchmark", str(path), "--truth-column", "person", "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "missing column(s) surname, postcode" in result.stderr
    with pytest.raises(InputFormatError, match="surname, postcode, nobody"):
        load_table(path, "nobody")


def test_a_table_needs_its_truth_column_and_a_dataset_must_exist(tmp_path, febrl3_csv):
    result = runner.invoke(app, ["link", "benchmark", febrl3_csv])
    assert result.exit_code == 2 and "--truth-column" in result.stderr
    result = runner.invoke(app, ["link", "benchmark", "febrl9", "--truth-column", "x"])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_a_parquet_table_is_read_with_its_dates_of_birth_in_any_punctuation(tmp_path, febrl3_run):
    path = tmp_path / "people.parquet"
    febrl3_run.records.connection.execute(
        f"COPY (SELECT t.entity AS person, * EXCLUDE (unique_id, date_of_birth), "
        f"substr(date_of_birth, 1, 4) || '-' || substr(date_of_birth, 5, 2) || '-' || substr(date_of_birth, 7) "
        f"AS date_of_birth FROM records_0 JOIN truth t USING (unique_id)) TO '{path}' (FORMAT parquet)")
    records = load_table(path, "person")
    assert records.records == 5_000 and records.link_type == "dedupe_only"
    original, read = (sorted(r.connection.execute("SELECT date_of_birth FROM records_0").fetchall(), key=str)
                      for r in (febrl3_run.records, records))
    assert read == original


def test_repeated_ids_and_missing_truth_are_refused_together(tmp_path):
    path = tmp_path / "bad.csv"
    header = "rec_id,person," + ",".join(FEBRL_COLUMNS)
    path.write_text(f"{header}\na,1{',x' * 9}\na,{',x' * 9}\n,2{',x' * 9}\n")
    with pytest.raises(InputFormatError, match="1 repeated rec_id value.*1 record.* without a rec_id.*1 record.*empty"):
        load_table(path, "person")
