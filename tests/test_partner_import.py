"""Partners' extracts through mapping files: typed, translated, quarantined with reasons, nothing lost."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import yaml

from safertogether.errors import InputFormatError
from safertogether.ingest import import_partner
from safertogether.sources.spec import load_spec
from safertogether.store.imports import ImportFailed
from safertogether.store.warehouse import open_warehouse

HEADER = ["Victim Ref", "Occurrence", "First Name", "Surname", "DOB", "Sex", "Address", "Post Code", "Role"]
ROWS = [
    ["V001", "OC1", "Ann", "Smith", "03/02/1985", "F", "1 High St, Leicester", "LE1 1AA", "VIC"],
    ["V002", "OC1", "Bob", "Jones", "31/12/1990", "M", "2 Low Rd", "LE2 2BB", "WIT"],
    ["V003", "OC2", "Cat", "Patel", "1990-12-31", "F", "3 Mid Ln", "LE3 3CC", "VIC"],  # wrong date format
    ["V004", "OC3", "Dan", "O'Brien", "15/07/1970", "X", "4 Top Way", "LE4 4DD", "SUS"],  # unknown code
    ["V005", "OC3", "Eve", "", "01/01/2000", "F", "5 End Cl", "LE5 5EE", "VIC"],  # no surname
]
MAPPING = {
    "name": "police-people", "file": "victims.csv", "agency": "leicestershire-police",
    "agency_name": "Leicestershire Police", "agency_kind": "police", "target": "person_records",
    "fields": [
        {"name": "record_id", "header": ["Victim Ref"], "required": True},
        {"name": "incident_ref", "header": ["Occurrence"]},
        {"name": "forename", "header": ["First Name"]},
        {"name": "surname", "header": ["Surname"], "required": True},
        {"name": "date_of_birth", "header": ["DOB"], "type": "date", "formats": ["%d/%m/%Y"]},
        {"name": "sex", "header": ["Sex"], "codes": {"F": "female", "M": "male"}},
        {"name": "address", "header": ["Address"]},
        {"name": "postcode", "header": ["Post Code"]},
        {"name": "role", "header": ["Role"], "codes": {"VIC": "victim", "WIT": "witness", "SUS": "suspect"}},
    ],
}


def write_extract(folder: Path, rows: list[list[str]], mapping: dict | None = None, name: str = "victims.csv",
                  encoding: str = "utf-8") -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([HEADER, *rows])
    (folder / name).write_bytes(out.getvalue().encode(encoding))
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**(mapping or MAPPING), "file": name}), encoding="utf-8")
    return path


@pytest.fixture
def warehouse(warehouse_location):
    """A new warehouse on each engine: every test here runs on DuckDB and on PostgreSQL."""
    opened = open_warehouse(warehouse_location)
    yield opened
    opened.close()


def test_an_extract_is_typed_translated_and_its_bad_rows_quarantined(warehouse, tmp_path):
    report = import_partner(warehouse, [write_extract(tmp_path, ROWS)])
    [file] = report.files
    assert (file.rows_read, file.rows_stored, file.rows_quarantined) == (5, 2, 3)
    stored = warehouse.query("SELECT record_id, surname, date_of_birth, sex, role, agency FROM person_records "
                             "ORDER BY record_id")
    assert stored == [
        {"record_id": "V001", "surname": "Smith", "date_of_birth": dt.date(1985, 2, 3), "sex": "female",
         "role": "victim", "agency": "leicestershire-police"},
        {"record_id": "V002", "surname": "Jones", "date_of_birth": dt.date(1990, 12, 31), "sex": "male",
         "role": "witness", "agency": "leicestershire-police"},
    ]
    reasons = {r["row_number"]: r["reason"] for r in warehouse.query("SELECT row_number, reason FROM quarantine")}
    assert reasons == {3: "unknown date in DOB: '1990-12-31'", 4: "unknown code in Sex: 'X'",
                       5: "missing mandatory field: Surname"}
    raw = warehouse.scalar("SELECT raw_text FROM quarantine WHERE row_number = 4")
    assert raw == "V004,OC3,Dan,O'Brien,15/07/1970,X,4 Top Way,LE4 4DD,SUS"
    assert warehouse.query("SELECT * FROM agencies") == [
        {"agency": "leicestershire-police", "name": "Leicestershire Police", "kind": "police"}]


def test_rows_staged_on_disk_leave_their_quarantined_rows_behind(warehouse, tmp_path):
    """Beyond ``spill_rows`` pending rows are staged as Parquet: rows the reader marked for quarantine
    must not be stored from there either, and the counts must agree with what is stored."""
    report = import_partner(warehouse, [write_extract(tmp_path, ROWS)], spill_rows=1)
    assert report.totals() == {"rows_read": 5, "rows_stored": 2, "rows_quarantined": 3}
    assert [r["record_id"] for r in warehouse.query("SELECT record_id FROM person_records ORDER BY 1")] == [
        "V001", "V002"]
    assert warehouse.scalar("SELECT rows_stored FROM source_files") == 2


def _stored(path: Path) -> list[dict[str, object]]:
    warehouse = open_warehouse(path, read_only=True)
    try:
        return warehouse.query("SELECT * EXCLUDE (file_id, import_id) FROM person_records ORDER BY record_id")
    finally:
        warehouse.close()


def test_an_excel_extract_imports_as_its_csv_does(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Victims"
    sheet.append(HEADER)
    for row in ROWS[:2]:  # dates as real Excel dates, as exports have them
        sheet.append([dt.datetime.strptime(v, "%d/%m/%Y") if i == 4 else v for i, v in enumerate(row)])
    book.save(tmp_path / "victims.xlsx")
    fields = [{**f, "formats": ["%Y-%m-%d"]} if f["name"] == "date_of_birth" else f for f in MAPPING["fields"]]
    (tmp_path / "excel.yaml").write_text(yaml.safe_dump(
        {**MAPPING, "file": "victims.xlsx", "sheet": "Victims", "fields": fields}), encoding="utf-8")
    for name, mapping in (("excel", tmp_path / "excel.yaml"), ("csv", write_extract(tmp_path, ROWS[:2]))):
        warehouse = open_warehouse(tmp_path / f"{name}.duckdb")
        import_partner(warehouse, [mapping])
        warehouse.close()
    assert _stored(tmp_path / "excel.duckdb") == _stored(tmp_path / "csv.duckdb")
    assert len(_stored(tmp_path / "csv.duckdb")) == 2


@pytest.mark.parametrize("change,message", [
    ({"target": "people"}, "target 'people' is not a record table"),
    ({"fields": [*MAPPING["fields"], {"name": "shoe_size"}]}, "fields ['shoe_size'] are not columns of person_records"),
    ({"fields": MAPPING["fields"][1:]}, "person_records needs fields ['record_id']"),
    ({"fields": [{"name": "record_id", "header": ["Victim Ref"]},
                 {"name": "date_of_birth", "header": ["DOB"], "type": "date"}]}, "needs its formats"),
    ({"fields": [{"name": "record_id; DROP TABLE person_records", "header": ["Victim Ref"]}]}, "should match pattern"),
    ({"file": "elsewhere.csv"}, "does not exist"),
    ({"derived": [{"name": "rolle", "default": "victim"}]}, "fields ['rolle'] are not columns of person_records"),
    ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ({"file_name": "(?P<month>"}, "file_name is not a regular expression: missing"),
    ({"fields": [{"name": "record_id", "header": ["Victim Ref"]}, *MAPPING["fields"][1:]]},
     "field 'record_id' must be required: true, as person_records.record_id cannot be empty"),
    ({"fields": [*MAPPING["fields"][:4], {"name": "date_of_birth", "header": ["DOB"]}, *MAPPING["fields"][5:]]},
     "field 'date_of_birth' is text but person_records.date_of_birth is DATE: give it type date"),
])
def test_a_wrong_mapping_is_refused_before_anything_is_stored(warehouse, tmp_path, change, message):
    mapping = write_extract(tmp_path, ROWS)
    data = yaml.safe_load(mapping.read_text())
    mapping.write_text(yaml.safe_dump({**data, **change}), encoding="utf-8")
    with pytest.raises(ImportFailed, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_partner(warehouse, [mapping])
    assert warehouse.scalar("SELECT count(*) FROM source_files") == 0


def test_every_mapping_problem_is_reported_together(warehouse, tmp_path):
    first = write_extract(tmp_path, ROWS, {**MAPPING, "target": "people"}, name="a.csv")
    second = write_extract(tmp_path, ROWS, {**MAPPING, "file": "gone.csv"}, name="b.csv")
    second.write_text(yaml.safe_dump({**MAPPING, "file": "gone.csv"}), encoding="utf-8")
    with pytest.raises(ImportFailed) as failed:
        import_partner(warehouse, [first, second])
    assert len(failed.value.problems) == 2


def test_a_missing_column_and_a_wrong_date_format_store_nothing(warehouse, tmp_path):
    renamed = [{**f, "header": ["Birth Date"]} if f["name"] == "date_of_birth" else f for f in MAPPING["fields"]]
    with pytest.raises(ImportFailed, match=r"lacks columns \['Birth Date'\]"):
        import_partner(warehouse, [write_extract(tmp_path, ROWS, {**MAPPING, "fields": renamed})])
    iso = [[*row[:4], "1985-02-03", *row[5:]] for row in ROWS]
    with pytest.raises(ImportFailed, match="values of DOB do not fit the formats"):
        import_partner(warehouse, [write_extract(tmp_path, iso)])
    assert warehouse.scalar("SELECT count(*) FROM person_records") == 0


def test_hostile_codes_and_labels_are_data_not_sql(warehouse, tmp_path):
    fields = [{**f, "codes": {"F'); DROP TABLE person_records; --": "x", "F": "female", "M": "male", "X": "o'ther"}}
              if f["name"] == "sex" else f for f in MAPPING["fields"]]
    fields = [{**f, "label": "Sur'name"} if f["name"] == "surname" else f for f in fields]
    import_partner(warehouse, [write_extract(tmp_path, ROWS, {**MAPPING, "fields": fields})])
    assert warehouse.scalar("SELECT sex FROM person_records WHERE record_id = 'V004'") == "o'ther"
    assert warehouse.scalar("SELECT reason FROM quarantine WHERE row_number = 5") == \
        "missing mandatory field: Sur'name"


def test_the_same_extract_again_adds_nothing_and_a_newer_one_replaces_it(warehouse, tmp_path):
    mapping = write_extract(tmp_path, ROWS[:2])
    import_partner(warehouse, [mapping])
    again = import_partner(warehouse, [mapping])
    assert [f.status for f in again.files] == ["unchanged"]
    newer = write_extract(tmp_path, [ROWS[0], ["V009", "OC9", "Fay", "Khan", "09/09/1999", "F", "9 New St",
                                               "LE9 9ZZ", "VIC"]])
    report = import_partner(warehouse, [newer])
    assert report.files[0].status == "replaced an earlier version"
    assert [r["record_id"] for r in warehouse.query("SELECT record_id FROM person_records ORDER BY 1")] == \
        ["V001", "V009"]
    assert warehouse.scalar("SELECT status FROM source_files ORDER BY file_id LIMIT 1") == "superseded"


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"\x00\x01\x02binary", "binary"),
    ((b"Victim Ref,Occurrence,First Name,Surname,DOB,Sex,Address,Post Code,Role\r\n"
      b"V001,OC1,Ann,Smith,03/02/1985,F,1 High St,LE1 1AA,VIC\r\nV002,OC1,Bob,Jo"), "truncated"),
])
def test_a_broken_extract_gets_one_clear_error(warehouse, tmp_path, content, message):
    mapping = write_extract(tmp_path, ROWS)
    (tmp_path / "victims.csv").write_bytes(content)
    with pytest.raises(ImportFailed, match=message):
        import_partner(warehouse, [mapping])


def test_a_windows_1252_extract_keeps_its_accents(warehouse, tmp_path):
    rows = [["V001", "OC1", "Zoë", "Brontë", "03/02/1985", "F", "1 Café Row", "LE1 1AA", "VIC"]]
    report = import_partner(warehouse, [write_extract(tmp_path, rows, encoding="cp1252")])
    assert "decoded as cp1252" in report.files[0].notes
    assert warehouse.scalar("SELECT forename || ' ' || surname FROM person_records") == "Zoë Brontë"


def test_police_uk_kinds_are_specs_of_the_same_mechanism():
    from safertogether.sources.police_uk import police_uk_specs

    specs = {spec.name: spec for spec in police_uk_specs()}
    assert set(specs) == {"street", "outcomes", "stop-and-search"}
    assert {spec.target for spec in specs.values()} == {"street_crimes", "crime_outcomes", "stop_searches"}
    with pytest.raises(InputFormatError, match="partition names unknown field 'nowhere'"):
        bad = Path(__file__).parent / "_bad_spec.yaml"
        bad.write_text(yaml.safe_dump({"name": "x", "target": "t", "fields": [{"name": "a"}],
                                       "partition": ["nowhere"]}))
        try:
            load_spec(bad)
        finally:
            bad.unlink()


def test_a_newer_extract_replaces_rows_whose_partition_field_is_empty(warehouse, tmp_path):
    mapping = {**MAPPING, "partition": ["agency", "incident_ref"]}
    rows = [list(r) for r in ROWS[:2]]
    rows[1][1] = ""  # no Occurrence
    import_partner(warehouse, [write_extract(tmp_path, rows, mapping)])
    rows[0][2] = "Annie"
    import_partner(warehouse, [write_extract(tmp_path, rows, mapping)])
    assert warehouse.query("SELECT record_id, forename FROM person_records ORDER BY ALL") == [
        {"record_id": "V001", "forename": "Annie"}, {"record_id": "V002", "forename": "Bob"}]


def test_a_coordinate_box_must_be_finite_numbers():
    from safertogether.sources.spec import spec_from_data

    fields = [{"name": "longitude", "type": "longitude"}, {"name": "latitude", "type": "latitude"}]
    with pytest.raises(InputFormatError, match="coordinates.box"):
        spec_from_data({"name": "calls", "target": "incident_records", "fields": fields, "coordinates": {
            "longitude": "longitude", "latitude": "latitude", "box": [float("nan"), 49, 2, 61]}}, "calls.yaml")


@pytest.mark.parametrize("kind,default,stored", [
    ("date", "2020-01-31", dt.date(2020, 1, 31)), ("date", "31/01/2020", None),
    ("month", "2020-01", dt.date(2020, 1, 1)),
])
def test_a_derived_default_is_of_its_type_or_the_mapping_is_refused(warehouse, tmp_path, kind, default, stored):
    mapping = {**MAPPING, "derived": [{"name": "recorded_on", "type": kind, "default": default}]}
    path = write_extract(tmp_path, ROWS[:2], mapping)
    if stored is None:
        with pytest.raises(ImportFailed, match=f"default '{default}' is not a {kind}"):
            import_partner(warehouse, [path])
        return
    import_partner(warehouse, [path])
    assert warehouse.query("SELECT DISTINCT recorded_on FROM person_records") == [{"recorded_on": stored}]


def test_one_extract_mapped_to_people_and_to_incidents_fills_both(warehouse, tmp_path):
    people = write_extract(tmp_path, ROWS[:2], name="extract.csv")
    incidents = tmp_path / "incidents.yaml"
    fields = [{"name": "incident_ref", "header": ["Occurrence"], "required": True}]
    incidents.write_text(yaml.safe_dump({**MAPPING, "name": "police-incidents", "file": "extract.csv",
                                         "target": "incident_records", "fields": fields}), encoding="utf-8")
    import_partner(warehouse, [people])
    report = import_partner(warehouse, [incidents])
    assert [f.status for f in report.files] == ["stored"]
    assert warehouse.scalar("SELECT count(*) FROM incident_records") == 2
    assert warehouse.scalar("SELECT count(*) FROM person_records") == 2


def test_the_quality_report_lists_a_partner_extract_s_quarantine(warehouse, tmp_path):
    """Partners' partitions are not police.uk's force and month: the report must still be made."""
    from safertogether.measures.quality import quality_report

    import_partner(warehouse, [write_extract(tmp_path, ROWS)])
    report = quality_report(warehouse)
    assert report["quarantined_files"] == [{"file": str((tmp_path / "victims.csv").resolve()),
                                            "kind": "police-people -> person_records", "rows": 3}]
    assert {r["reason"] for r in report["quarantine_reasons"]} == {
        "unknown date in DOB", "unknown code in Sex", "missing mandatory field: Surname"}


def test_mappings_of_one_name_filling_different_tables_do_not_supersede_each_other(warehouse, tmp_path):
    people = write_extract(tmp_path, ROWS[:2], name="extract.csv")
    incidents = tmp_path / "incidents.yaml"
    fields = [{"name": "incident_ref", "header": ["Occurrence"], "required": True}]
    incidents.write_text(yaml.safe_dump({**MAPPING, "file": "extract.csv", "target": "incident_records",
                                         "fields": fields}), encoding="utf-8")  # the same name as people's
    import_partner(warehouse, [people])
    report = import_partner(warehouse, [incidents])
    assert [(f.status, f.replaced_files) for f in report.files] == [("stored", [])]
    assert [r["status"] for r in warehouse.query("SELECT status FROM source_files ORDER BY file_id")] == \
        ["current", "current"]
    newer = write_extract(tmp_path, ROWS[:1], name="extract.csv")  # a newer extract replaces only its own kind
    assert import_partner(warehouse, [newer]).files[0].status == "replaced an earlier version"
    assert [r["status"] for r in warehouse.query("SELECT status FROM source_files ORDER BY file_id")] == \
        ["superseded", "current", "current"]
    assert warehouse.scalar("SELECT count(*) FROM incident_records") == 2
    assert warehouse.scalar("SELECT count(*) FROM person_records") == 1


def test_an_empty_full_extract_is_recorded_and_empties_the_earlier_one(warehouse, tmp_path):
    """The default partition is the agency: each extract is all the agency holds of its kind, so an empty
    newer one means it holds none now. The report says so, in case the export failed."""
    import_partner(warehouse, [write_extract(tmp_path, ROWS[:2])])
    empty = write_extract(tmp_path, [])
    [file] = import_partner(warehouse, [empty]).files
    assert (file.status, file.rows_read) == ("replaced an earlier version", 0)
    assert file.notes == ["no rows: as a full extract of leicestershire-police it empties what earlier "
                          "extracts of it stored"]
    assert warehouse.scalar("SELECT count(*) FROM person_records") == 0
    assert warehouse.query("SELECT status, rows_read FROM source_files ORDER BY file_id") == [
        {"status": "superseded", "rows_read": 2}, {"status": "current", "rows_read": 0}]
    assert [f.status for f in import_partner(warehouse, [empty]).files] == ["unchanged"]
    import_partner(warehouse, [write_extract(tmp_path, ROWS[:1])])
    assert warehouse.scalar("SELECT count(*) FROM person_records") == 1


def test_an_empty_extract_partitioned_by_its_rows_replaces_nothing(warehouse, tmp_path):
    mapping = {**MAPPING, "partition": ["agency", "incident_ref"]}
    import_partner(warehouse, [write_extract(tmp_path, ROWS[:2], mapping)])
    [file] = import_partner(warehouse, [write_extract(tmp_path, [], mapping)]).files
    assert (file.status, file.notes) == ("stored", ["no rows: it replaces nothing (its partitions come from its rows)"])
    assert warehouse.scalar("SELECT count(*) FROM person_records") == 2


@pytest.mark.parametrize("encoding,forename", [("utf-8", "\x1cAnn\t"), ("utf-8", "\u00a0Zoë\u2003"),
                                               ("cp1252", "\u00a0Zoë ")])
def test_values_are_trimmed_of_any_unicode_whitespace(warehouse, tmp_path, encoding, forename):
    """ASCII files are trimmed the fast way; that must still strip what Unicode calls whitespace."""
    rows = [["V001", "OC1", forename, " Smith\x1f", "03/02/1985", "F", "1 High St", "LE1 1AA", "VIC"]]
    import_partner(warehouse, [write_extract(tmp_path, rows, encoding=encoding)])
    assert warehouse.row("SELECT forename, surname FROM person_records") == (forename.strip(), "Smith")


def test_a_bad_record_deep_in_a_large_extract_keeps_its_row_number(warehouse, tmp_path):
    """Large files are parsed on all cores; one with a record that cannot be parsed is read again so its
    row number, and every other row's, is right."""
    rows = [[f"V{n:06}", "OC1", "Ann", "Smith", "03/02/1985", "F", "1 High Street, Leicester", "LE1 1AA", "VIC"]
            for n in range(1, 130_001)]  # 9 MB
    rows[123_455] = [*rows[123_455], "an extra field"]
    report = import_partner(warehouse, [write_extract(tmp_path, rows)])
    assert report.totals() == {"rows_read": 130_000, "rows_stored": 129_999, "rows_quarantined": 1}
    assert warehouse.row("SELECT row_number, raw_text, reason FROM quarantine") == (
        123_456, ",".join(rows[123_455]).replace("1 High Street, Leicester", '"1 High Street, Leicester"'),
        "unparseable line: 10 fields where the header has 9")
    assert warehouse.query("SELECT row_number FROM person_records WHERE record_id IN ('V123455', 'V123457') "
                           "ORDER BY 1") == [{"row_number": 123_455}, {"row_number": 123_457}]


@pytest.mark.parametrize("quoted", [True, False])
def test_a_large_extract_reads_the_same_with_and_without_quoted_newlines(warehouse, tmp_path, quoted):
    """A large file without a quote character is split at every newline (cheaper); one with a quoted
    value spanning lines keeps that value whole, on every core, with the right row numbers."""
    rows = [[f"V{n:06}", "OC1", "Ann", "Smith", "03/02/1985", "F", "1 High Street", "LE1 1AA", "VIC"]
            for n in range(1, 130_001)]  # 9 MB
    if quoted:
        rows[100_000][6] = "Flat 2\n1 High Street"  # the csv writer quotes it
    report = import_partner(warehouse, [write_extract(tmp_path, rows)])
    assert report.totals() == {"rows_read": 130_000, "rows_stored": 130_000, "rows_quarantined": 0}
    assert warehouse.row("SELECT address, row_number FROM person_records WHERE record_id = 'V100001'") == (
        "Flat 2\n1 High Street" if quoted else "1 High Street", 100_001)
    assert warehouse.row("SELECT row_number FROM person_records WHERE record_id = 'V130000'") == (130_000,)
