"""Reading police.uk files: every kind, header variants, encodings, and input that must be refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safertogether.errors import InputFormatError
from safertogether.sources.files import SourceFile
from safertogether.sources.police_uk import read_police_uk, read_police_uk_files

STREET_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
                 "Crime type,Last outcome category,Context")
GOOD_ROW = ("abc123,2022-10,Leicestershire Police,Leicestershire Police,-1.215560,52.619443,"
            "On or near Lancelot Close,E01025631,Blaby 002A,Criminal damage and arson,Under investigation,")
ASB_ROW = (",2022-10,Leicestershire Police,Leicestershire Police,-1.210605,52.621459,On or near Hobill Close,"
           "E01025631,Blaby 002A,Anti-social behaviour,,")


def source(data: bytes, name: str = "2022-10-leicestershire-street.csv") -> SourceFile:
    return SourceFile(name, len(data), lambda: data)


def street(*rows: str, newline: str = "\n", header: str = STREET_HEADER) -> bytes:
    return (newline.join((header, *rows)) + newline).encode("utf-8")


@pytest.mark.parametrize("folder,kind", [
    ("city-of-london", "street"),
])
def test_real_street_files_are_read_whole(data_dir, folder, kind):
    path = next((data_dir / "police-uk" / folder).glob("*.csv"))
    parsed = read_police_uk(SourceFile(str(path), path.stat().st_size, path.read_bytes))
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = sum(1 for _ in handle) - 1
    assert parsed.kind == kind
    assert parsed.rows_read == lines
    assert parsed.rows.num_rows + parsed.quarantine.num_rows == lines


@pytest.mark.parametrize("suffix,kind", [("street", "street"), ("outcomes", "outcomes"),
                                         ("stop-and-search", "stop-and-search")])
def test_each_kind_is_detected_from_its_header(multiforce_folder, suffix, kind):
    path = multiforce_folder / f"2023-03-city-of-london-{suffix}.csv"
    renamed = SourceFile("renamed.csv" if kind != "stop-and-search" else path.name, path.stat().st_size,
                         path.read_bytes)
    assert read_police_uk(renamed).kind == kind


def test_stop_and_search_gets_force_and_month_from_file_name(multiforce_folder):
    path = multiforce_folder / "2023-03-cheshire-stop-and-search.csv"
    parsed = read_police_uk(SourceFile(str(path), 0, path.read_bytes))
    assert parsed.partitions == [("cheshire", "2023-03")]
    assert set(parsed.rows.column("force_id").to_pylist()) == {"cheshire"}


def test_a_batch_is_read_as_its_files_would_be_one_by_one(multiforce_folder):
    """Files are validated together; each keeps its own rows, force, month and errors, in its place."""
    paths = sorted(multiforce_folder.glob("2023-03-*.csv"))
    sources = [SourceFile(str(p), p.stat().st_size, p.read_bytes) for p in paths]
    broken = source(b"name,age\nann,3\n", "2023-03-nowhere-street.csv")
    batch = read_police_uk_files([*sources[:2], broken, *sources[2:]])
    assert isinstance(batch[2], InputFormatError) and "not a police.uk file" in str(batch[2])
    together = [p for p in batch if not isinstance(p, InputFormatError)]
    alone = [read_police_uk(s) for s in sources]
    assert len({p.kind for p in alone}) == 3 and len(together) == len(alone) >= 4
    for mine, single in zip(together, alone, strict=True):
        assert (mine.name, mine.partitions, mine.rows_read) == (single.name, single.partitions, single.rows_read)
        assert mine.rows.equals(single.rows) and mine.quarantine.equals(single.quarantine)


def test_snake_case_bom_and_crlf_read_the_same_as_the_original():
    original = read_police_uk(source(street(GOOD_ROW, ASB_ROW)))
    snake_header = ",".join(c.strip().lower().replace(" ", "_") for c in STREET_HEADER.split(","))
    variant = b"\xef\xbb\xbf" + street(GOOD_ROW, ASB_ROW, newline="\r\n", header=snake_header)
    parsed = read_police_uk(source(variant))
    assert parsed.rows.drop_columns([]).to_pylist() == original.rows.to_pylist()
    assert parsed.rows.column("crime_type").to_pylist() == ["Criminal damage and arson", "Anti-social behaviour"]
    assert parsed.rows.column("crime_id").to_pylist() == ["abc123", None]


def test_windows_1252_is_read_and_noted():
    row = GOOD_ROW.replace("Lancelot Close", "Caf\u00e9 Row")
    parsed = read_police_uk(source(street(row).decode().encode("cp1252")))
    assert parsed.encoding == "cp1252"
    assert parsed.rows.column("location").to_pylist() == ["On or near Caf\u00e9 Row"]
    assert parsed.notes


@pytest.mark.parametrize("bad_row,reason", [
    (GOOD_ROW.replace("2022-10", "2022-13"), "unknown month"),
    (GOOD_ROW.replace("2022-10", ""), "unknown month"),
    (GOOD_ROW.replace("-1.215560", "abc"), "bad coordinates: not numbers"),
    (GOOD_ROW.replace("-1.215560", ""), "bad coordinates: only one"),
    (GOOD_ROW.replace("52.619443", "12.5"), "bad coordinates: outside the United Kingdom"),
    (GOOD_ROW.replace("Criminal damage and arson", ""), "missing mandatory field: Crime type"),
    (GOOD_ROW + ",extra,fields", "unparseable line"),
])
def test_unusable_rows_are_quarantined_with_text_and_reason(bad_row, reason):
    parsed = read_police_uk(source(street(GOOD_ROW, bad_row, ASB_ROW)))
    assert parsed.rows_read == 3
    assert parsed.rows.column("row_number").to_pylist() == [1, 3]
    [kept] = parsed.quarantine.to_pylist()
    assert kept["row_number"] == 2
    assert kept["raw_text"] == bad_row
    assert kept["reason"].startswith(reason)


def test_rows_without_location_are_kept_not_quarantined():
    no_location = ",2022-10,Leicestershire Police,Leicestershire Police,,,No location,,,Drugs,,"
    parsed = read_police_uk(source(street(no_location)))
    assert parsed.rows.num_rows == 1
    assert parsed.rows.column("longitude").to_pylist() == [None]


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"name,age\nann,3\n", "not a police.uk file"),
    (b"Crime ID,Month,Reported by,Falls within\nx,2022-10,a,b\n", "lacks columns"),
    (street(GOOD_ROW)[:-40], "truncated"),
])
def test_files_of_the_wrong_kind_get_one_clear_error(data, message):
    with pytest.raises(InputFormatError, match=message) as raised:
        read_police_uk(source(data))
    assert "expected" in str(raised.value) or "truncated" in str(raised.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_reader(data):
    try:
        parsed = read_police_uk(source(data))
    except InputFormatError:
        return
    assert parsed.rows.num_rows + parsed.quarantine.num_rows == parsed.rows_read


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=len(street(GOOD_ROW, ASB_ROW)) - 1),
       st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_truncated_or_re_encoded_files_are_refused_or_reconciled(cut, encoding):
    data = street(GOOD_ROW, ASB_ROW).decode().encode(encoding)[:cut]
    try:
        parsed = read_police_uk(source(data))
    except InputFormatError:
        return
    assert parsed.rows.num_rows + parsed.quarantine.num_rows == parsed.rows_read
    assert parsed.rows.num_rows <= 2


def test_stop_times_are_stored_in_utc_whatever_the_server_zone(tmp_path):
    import subprocess
    import sys

    script = (
        "from safertogether.sources.files import SourceFile\n"
        "from safertogether.sources.police_uk import read_police_uk\n"
        "data = open(__import__('sys').argv[1], 'rb').read()\n"
        "rows = read_police_uk(SourceFile('2022-07-cheshire-stop-and-search.csv', len(data), lambda: data)).rows\n"
        "print(rows.column('datetime')[0].as_py().isoformat(), rows.column('month')[0].as_py().isoformat())\n"
    )
    header = ("Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,Age range,"
              "Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,Outcome,"
              "Outcome linked to object of search,Removal of more than just outer clothing")
    path = tmp_path / "stops.csv"
    path.write_text(header + "\nPerson search,2022-07-31T23:30:00+00:00,,,53.2,-2.9,Male,18-24,,,,,,,\n")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                          env={**__import__("os").environ, "TZ": "Europe/London"})
    assert done.stdout.split() == ["2022-07-31T23:30:00", "2022-07-01"]


def test_padded_values_are_trimmed_but_free_text_is_kept_as_published():
    padded = (" abc123 , 2022-10 ,Leicestershire Police , Leicestershire Police, -1.215560 , 52.619443 ,"
              "  On or near Lancelot Close , E01025631 ,Blaby 002A, Burglary ,Under investigation,")
    [row] = read_police_uk(source(street(padded))).rows.to_pylist()
    assert (row["crime_id"], row["crime_type"], row["lsoa_code"]) == ("abc123", "Burglary", "E01025631")
    assert str(row["month"]) == "2022-10-01" and row["longitude"] == -1.21556
    assert row["location"] == "  On or near Lancelot Close "
    assert row["force_id"] == "leicestershire"


STOP_HEADER = ("Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,Age range,"
               "Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,Outcome,"
               "Outcome linked to object of search,Removal of more than just outer clothing")


@pytest.mark.parametrize("value", ["maybe", "NA", "N/A", "2"])
def test_stop_and_search_keeps_a_row_whose_yes_no_answer_is_unreadable_as_empty(value):
    # As before sources became specs: police.uk's yes/no columns are kept as NULL when unreadable, not
    # quarantined (the stop itself is valid).
    row = f"Person search,2022-10-05T10:00:00+00:00,{value},,52.6,-1.1,Male,18-24,,,,,A no further action,{value},"
    parsed = read_police_uk(source(street(row, header=STOP_HEADER), "2022-10-leicestershire-stop-and-search.csv"))
    assert parsed.quarantine.num_rows == 0
    [stored] = parsed.rows.to_pylist()
    assert stored["part_of_a_policing_operation"] is None and stored["outcome_linked_to_object_of_search"] is None
