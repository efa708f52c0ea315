"""The lookup and population readers refuse ambiguous or unreadable rows instead of guessing."""

from __future__ import annotations

import pytest

from safertogether.errors import InputFormatError
from safertogether.sources.area_tables import read_area_lookup, read_population

POPULATION_HEADER = ("Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,"
                     "LSOA Code,LSOA Name,,Persons,Persons,Persons,Hectares,Persons per hectare,Households,"
                     "Persons per household\n")
ROW = ('E12000001,NORTH EAST,E06000047,County Durham UA,E02004297,County Durham 001,{code},County Durham 001A,'
       ',"{n}",1,1,650,2.4,666,2.3\n')


def population_file(tmp_path, *rows: tuple[str, str]):
    path = tmp_path / "population.csv"
    path.write_text(POPULATION_HEADER + "".join(ROW.format(code=c, n=n) for c, n in rows), encoding="utf-8")
    return path


def test_population_reads_thousands_separators_and_exact_duplicates(tmp_path):
    table = read_population(population_file(tmp_path, ("E01020634", "1,563"), ("E01020634", "1,563"),
                                            ("E01020635", "1379")))
    assert table.to_pylist()[0] == {"lsoa_code": "E01020634", "persons": 1563, "households": 666, "hectares": 650.0}
    assert table.num_rows == 2


@pytest.mark.parametrize("rows,message", [
    ((("E01020634", "1,563"), ("E01020634", "1,600")), "listed twice with different values"),
    ((("E01020634", "about 1500"),), "not numbers"),
])
def test_population_refuses_ambiguous_or_unreadable_rows(tmp_path, rows, message):
    with pytest.raises(InputFormatError, match=message):
        read_population(population_file(tmp_path, *rows))


def test_lookup_refuses_an_lsoa_in_two_places(tmp_path):
    path = tmp_path / "lookup.csv"
    path.write_text(
        ",Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,LSOA Code,"
        "LSOA Name,Police_force\n"
        "1,E12000004,EAST MIDLANDS,E07000129,Blaby,E02005334,Blaby 002,E01025631,Blaby 002A,Leicestershire\n"
        "2,E12000004,EAST MIDLANDS,E07000130,Charnwood,E02005335,Charnwood 002,E01025631,Blaby 002A,Leicestershire\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFormatError, match="E01025631"):
        read_area_lookup(path)
