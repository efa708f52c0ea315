"""Blue-light planning inputs: station lists, standards, road networks — real files and hostile ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

from safertogether.bluelight.network import DrivingModel, parse_maxspeed, read_network
from safertogether.bluelight.standards import load_standards, weighted_quantile
from safertogether.bluelight.stations import read_home_office_fire, read_osm_stations, read_station_csv
from safertogether.errors import InputFormatError

GOOD = ("name,service,easting,northing,longitude,latitude,pinned\n"
        "Wigston,fire,461000,298000,,,true\n"
        "Euston Road,police,,,-0.1340,51.5265,\n")


def test_a_station_csv_places_stations_by_grid_or_degrees(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text(GOOD, encoding="utf-8")
    stations = read_station_csv(path)
    assert list(stations.table["service"]) == ["fire", "police"]
    assert stations.table["pinned"].tolist() == [True, False]
    euston = stations.table.iloc[1]
    assert 529_000 < euston["easting"] < 530_000 and 182_000 < euston["northing"] < 183_000
    assert stations.quarantine == []


def test_bad_station_rows_are_quarantined_with_their_reason(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text(GOOD + "No Name,fire,,,,,\n"               # no coordinates at all
                    ",police,461000,298000,,,\n"               # no name
                    "Atlantis,coastguard,461000,298000,,,\n"   # unknown service
                    "Swapped,fire,298000,4610000,,,\n"         # off the grid
                    "Far,ambulance,,,12.5,41.9,\n"             # Rome: outside the UK box
                    "=HYPERLINK(\"x\"),fire,461000,298000,,,\n",  # hostile text is kept as text, not run
                    encoding="utf-8")
    stations = read_station_csv(path)
    reasons = " | ".join(str(q["reason"]) for q in stations.quarantine)
    assert len(stations.quarantine) == 5, reasons
    assert "no coordinates" in reasons and "outside Great Britain" in reasons
    assert "=HYPERLINK" in set(stations.table["name"].str.slice(0, 10))


def test_mis_encoded_truncated_and_duplicated_station_files(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,service,easting,northing\nSt Hélier,fire,461000,298000\n".encode("latin-1"))
    assert read_station_csv(latin).table["name"].tolist() == ["St Hélier"]
    twice = tmp_path / "twice.csv"
    twice.write_text("name,service,easting,northing\nA,fire,461000,298000\nA,fire,461500,298500\n", encoding="utf-8")
    assert sorted(read_station_csv(twice).table["station_id"]) == ["fire:A", "fire:A#2"]
    header_only = tmp_path / "header.csv"
    header_only.write_text("name,service\n", encoding="utf-8")
    assert read_station_csv(header_only).table.empty
    for broken in ("", "\x00\x01binary\xff", "id,when\n1,2\n"):
        path = tmp_path / "broken.csv"
        path.write_text(broken, encoding="latin-1")
        with pytest.raises(InputFormatError):
            read_station_csv(path)
    with pytest.raises(InputFormatError, match="no such station file"):
        read_station_csv(tmp_path / "missing.csv")


@pytest.mark.slow
def test_the_home_office_list_reads_and_quarantines_rows_without_coordinates(data_dir):
    stations = read_home_office_fire(data_dir / "blue-light" / "fire" / "home-office-fire-stations-england.ods")
    assert len(stations.table) + len(stations.quarantine) == 1399
    assert len(stations.table) > 1300 and set(stations.table["service"]) == {"fire"}
    assert all("STATION_EASTING" in str(q["reason"]) for q in stations.quarantine)


def test_a_damaged_ods_is_refused(tmp_path):
    path = tmp_path / "stations.ods"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputFormatError, match="Home Office station list"):
        read_home_office_fire(path)


def test_osm_stations_from_overpass_json(tmp_path):
    path = tmp_path / "osm.json"
    path.write_text(json.dumps({"elements": [
        {"type": "node", "id": 1, "lon": -0.1, "lat": 51.5, "tags": {"amenity": "police", "name": "Charing Cross"}},
        {"type": "way", "id": 2, "center": {"lon": -0.11, "lat": 51.51}, "tags": {"amenity": "fire_station"}},
        {"type": "node", "id": 3, "lon": -0.1, "lat": 51.5, "tags": {"amenity": "cafe"}},
        "hostile string"]}), encoding="utf-8")
    stations = read_osm_stations(path)
    assert sorted(stations.table["service"]) == ["fire", "police"]
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputFormatError):
        read_osm_stations(tmp_path / "bad.json")


def test_packaged_standards_are_the_arp_targets_and_bad_ones_are_refused(tmp_path):
    standards = {s.id: s for s in load_standards()}
    assert standards["ambulance_c1_mean"].target == {"all": 7}
    assert standards["ambulance_c1_p90"].target == {"all": 15}
    assert standards["police_emergency"].target == {"urban": 15, "rural": 20}
    bad = tmp_path / "standards.yaml"
    bad.write_text("standards:\n  - {id: x, service: police, label: x, clock_start: a, clock_stop: b, "
                   "statistic: within, target: {urban: 10}, source: s}\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="urban"):
        load_standards(bad)
    assert weighted_quantile(np.arange(1, 11, dtype=float), np.ones(10), 0.9) == 9.0


def test_maxspeed_tags_are_read_as_osm_writes_them():
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("50") == 50
    assert parse_maxspeed("['20 mph', '30 mph']") == pytest.approx(32.19, abs=0.01)
    assert parse_maxspeed("signals") is None and parse_maxspeed(None) is None
    fast = DrivingModel(emergency_factor=1.3)
    assert fast.speed("motorway", None) == pytest.approx(130)
    assert fast.speed("residential", "20 mph") <= fast.urban_cap_kmh


def test_westminster_graph_gives_plausible_drive_times(data_dir):
    network = read_network(data_dir / "osm" / "westminster-drive-2024.graphml")
    assert len(network.xy) > 1000
    rng = np.random.default_rng(0)
    nodes = rng.choice(len(network.xy), 20, replace=False)
    times = network.times(nodes, nodes)
    crow_km = np.hypot(*(network.xy[nodes][:, None] - network.xy[nodes][None]).transpose(2, 0, 1)) / 1000
    finite = np.isfinite(times) & (crow_km > 0.5)
    assert finite.sum() > 100
    speed = crow_km[finite] / (times[finite] / 60)
    assert 3 < np.median(speed) < 40  # km/h as the crow flies through central London


def test_a_network_file_of_the_wrong_kind_is_refused(tmp_path):
    path = tmp_path / "roads.json"
    path.write_text('{"elements": 5}', encoding="utf-8")
    with pytest.raises(InputFormatError):
        read_network(path)
    with pytest.raises(InputFormatError, match="unknown network format"):
        (tmp_path / "roads.txt").write_text("x", encoding="utf-8")
        read_network(tmp_path / "roads.txt")


def test_incident_exchange_messages_round_trip_and_bad_ones_are_named():
    from safertogether.bluelight.exchange import acknowledge, create_message, read_message

    record = {"agency": "leicestershire-police", "incident_ref": "P-1", "kind": "mental-health", "priority": "1",
              "longitude": -1.13, "latitude": 52.63, "address": "1 High Street"}
    sent = create_message(record, receiver="east-midlands-ambulance")
    received = read_message(sent.model_dump_json())
    assert received == sent and received.location is not None
    answer = acknowledge(received, receiver_ref="A-77")
    assert answer.acknowledges == sent.message_id and answer.receiver_ref == "P-1"
    for bad in ('{"action": "create"}', '{"action": "explode"}', "not json", '{"action": "create", "x": 1}',
                sent.model_dump_json().replace("52.63", "91.0")):
        with pytest.raises(InputFormatError, match="not a valid incident-exchange message"):
            read_message(bad)
