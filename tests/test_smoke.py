from __future__ import annotations


def test_city_summary_counts_match_the_files(city_client, city_folder):
    import csv

    expected = 0
    for path in city_folder.glob("2021-*-street.csv"):
        with open(path, encoding="utf-8-sig") as handle:
            expected += sum(1 for _ in csv.DictReader(handle))
    answer = city_client.get("/api/areas/city-of-london/summary", params={"from": "2021-01", "to": "2021-12"})
    assert answer.status_code == 200
    assert answer.json()["crimes"] == expected
