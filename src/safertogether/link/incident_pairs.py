"""Candidate pairs of incident records of different services, and the score of each (SQL builders).

Blocking: two records of different agencies are a candidate pair when their kinds are compatible and

- both carry a time and coordinates: starts at most ``window_minutes`` apart and points at most
  ``radius_m`` apart;
- otherwise (a record with a date only, or without coordinates): the same normalised address or the
  same postcode, and starts at most ``window_minutes`` apart (both timed) or, when one is dated
  only, its date from one day before the other's (an event just before midnight) to
  ``report_lag_days`` after it (case-management systems log a complaint after the event, not before).

Score, in [0, 1]: ``kind × (time + place) / 2``, where

- ``time`` = 1 − gap / window: minutes over ``window_minutes`` when both are timed; days over
  ``report_lag_days + 1`` when one is dated only, a date before the other's counting double;
- ``place`` = 1 − distance / ``radius_m`` from coordinates; 1 for the same address; 0.5 for the same
  postcode only (a postcode is a street, an address a door);
- ``kind`` = 1 for the same kind, 0.9 for a compatible one, 0.8 when either has none.

Rule-based rather than a Fellegi-Sunter model: each part is monotone in its evidence and can be read
off an explanation, and the blocking windows already hold almost no unrelated pairs, so a fitted model
has little to separate (what decides the result is which of two close candidates wins, see
:mod:`.incidents`). A record is dated only when every record of its agency starts at midnight.
"""

from __future__ import annotations

import math

from safertogether.link.incident_settings import IncidentLinkSettings

#: Street-type abbreviations partners' systems use, expanded before addresses are compared.
ABBREVIATIONS = {"RD": "ROAD", "ST": "STREET", "AVE": "AVENUE", "AV": "AVENUE", "CL": "CLOSE", "LN": "LANE",
                 "DR": "DRIVE", "CRES": "CRESCENT", "GDNS": "GARDENS", "PL": "PLACE", "SQ": "SQUARE",
                 "TER": "TERRACE", "CT": "COURT", "GRN": "GREEN"}

SAME_POSTCODE_PLACE = 0.5
KIND_FACTORS = {"same": 1.0, "compatible": 0.9, "unknown": 0.8}


def address_key_sql(column: str) -> str:
    """An address as a comparable key: capitals, letters and digits only, street types spelt out.

    Words are replaced between spaces (the key padded with one each side), twice, so that a word next to
    an expanded one is seen too; plain replace() runs alike on DuckDB and PostgreSQL.
    """
    key = f"' ' || trim(regexp_replace(upper({column}), '[^A-Z0-9]+', ' ', 'g')) || ' '"
    for short, full in ABBREVIATIONS.items():
        for _ in range(2):
            key = f"replace({key}, ' {short} ', ' {full} ')"
    return f"nullif(trim({key}), '')"


def incident_records_sql() -> str:
    """Every incident record with a row id (in time order), its precision and its comparison keys."""
    return f"""
        WITH timing AS (
            SELECT agency, bool_and(started_at = date_trunc('day', started_at)) AS dated_only
            FROM incident_records WHERE started_at IS NOT NULL GROUP BY agency)
        SELECT row_number() OVER (ORDER BY i.started_at NULLS LAST, i.agency, i.incident_ref) - 1 AS id,
               i.agency, i.incident_ref, i.kind, i.started_at, coalesce(t.dated_only, false) AS dated_only,
               i.longitude, i.latitude, {address_key_sql('i.address')} AS address_key,
               nullif(upper(replace(i.postcode, ' ', '')), '') AS postcode_key
        FROM incident_records i LEFT JOIN timing t USING (agency)"""


def _distance_m_sql(left: str, right: str) -> str:
    """Great-circle distance in metres (haversine) between two records' coordinates."""
    return (f"2 * 6371008.8 * asin(sqrt(pow(sin(radians({right}.latitude - {left}.latitude) / 2), 2) + "
            f"cos(radians({left}.latitude)) * cos(radians({right}.latitude)) * "
            f"pow(sin(radians({right}.longitude - {left}.longitude) / 2), 2)))")


def _day_lag_sql() -> str:
    """Days from the timed record's date to the dated-only one's (both dated only: the absolute gap)."""
    days = "date_diff('day', {a}.started_at::DATE, {b}.started_at::DATE)"
    return f"""CASE WHEN r.dated_only AND NOT l.dated_only THEN {days.format(a='l', b='r')}
                    WHEN l.dated_only AND NOT r.dated_only THEN {days.format(a='r', b='l')}
                    ELSE abs({days.format(a='l', b='r')}) END"""


def _kind_evidence_sql(settings: IncidentLinkSettings) -> str:
    pairs = sorted({"|".join(sorted(pair)) for pair in settings.compatible_kinds})
    listed = ", ".join("'" + pair.replace("'", "''") + "'" for pair in pairs) or "NULL"
    return f"""CASE WHEN l.kind IS NULL OR r.kind IS NULL THEN 'unknown' WHEN l.kind = r.kind THEN 'same'
                    WHEN least(l.kind, r.kind) || '|' || greatest(l.kind, r.kind) IN ({listed}) THEN 'compatible'
               END"""


def candidate_pairs_sql(settings: IncidentLinkSettings, records: str = "records") -> str:
    """The scored candidate pairs (id_l < id_r) of the relation ``records`` (:func:`incident_records_sql`)."""
    window, lag = float(settings.window_minutes), float(settings.report_lag_days)
    located = "NOT {s}.dated_only AND {s}.longitude IS NOT NULL AND {s}.latitude IS NOT NULL"
    both_located = f"{located.format(s='l')} AND {located.format(s='r')}"
    within = f"""CASE WHEN l.dated_only OR r.dated_only THEN {_day_lag_sql()} BETWEEN -1 AND {lag}
                      ELSE abs(epoch(r.started_at) - epoch(l.started_at)) <= {window * 60} END"""
    # From each record that needs its address or postcode (dated only, or without coordinates) to any
    # record with the same key: linear in those records, where all pairs on a street would grow as its square.
    days = f"INTERVAL ({math.ceil(max(lag + 1, window / 1440))}) DAY"  # wide enough for both windows
    keyed = "SELECT l.id AS a, r.id AS b FROM {records} l JOIN {records} r ON l.{key} = r.{key} " \
            f"AND r.started_at BETWEEN l.started_at - {days} AND l.started_at + {days} " \
            f"WHERE l.agency <> r.agency AND NOT ({located.format(s='l')}) AND {within}"
    kind = _kind_evidence_sql(settings)
    return f"""
        WITH located AS (
            SELECT *, floor(epoch(started_at) / {window * 60})::BIGINT AS bucket FROM {records} s
            WHERE {located.format(s='s')}),
        near AS (  -- a hash join on windows of time (this one and its neighbours), not a range join
            SELECT l.id AS a, r.id AS b
            FROM (SELECT *, unnest([bucket - 1, bucket, bucket + 1]) AS probe FROM located) l
            JOIN located r ON r.bucket = l.probe
            WHERE l.agency < r.agency AND abs(epoch(r.started_at) - epoch(l.started_at)) <= {window * 60}
              AND {_distance_m_sql('l', 'r')} <= {float(settings.radius_m)}),
        candidates AS (
            SELECT DISTINCT least(a, b) AS id_l, greatest(a, b) AS id_r FROM (
                SELECT * FROM near
                UNION ALL {keyed.format(records=records, key='address_key')}
                UNION ALL {keyed.format(records=records, key='postcode_key')})),
        evidence AS (
            SELECT c.id_l, l.agency AS agency_l, c.id_r, r.agency AS agency_r,
                   CASE WHEN NOT (l.dated_only OR r.dated_only)
                        THEN abs(epoch(r.started_at) - epoch(l.started_at)) / 60 END AS gap_minutes,
                   CASE WHEN l.dated_only OR r.dated_only THEN {_day_lag_sql()} END AS gap_days,
                   CASE WHEN {both_located} THEN {_distance_m_sql('l', 'r')} END AS distance_m,
                   CASE WHEN {both_located} THEN 'coordinates' WHEN l.address_key = r.address_key THEN 'address'
                        ELSE 'postcode' END AS place_evidence,
                   {kind} AS kind_evidence
            FROM candidates c JOIN {records} l ON l.id = c.id_l JOIN {records} r ON r.id = c.id_r),
        parts AS (
            SELECT *,
                   CASE WHEN gap_minutes IS NOT NULL THEN 1 - gap_minutes / {window}
                        ELSE 1 - greatest(gap_days, -2 * gap_days) / ({lag} + 1) END AS time_part,
                   CASE place_evidence WHEN 'coordinates' THEN 1 - distance_m / {float(settings.radius_m)}
                        WHEN 'address' THEN 1.0 ELSE {SAME_POSTCODE_PLACE} END AS place_part,
                   CASE kind_evidence {' '.join(f"WHEN '{k}' THEN {v}" for k, v in KIND_FACTORS.items())}
                   END AS kind_part
            FROM evidence WHERE kind_evidence IS NOT NULL)
        SELECT id_l, agency_l, id_r, agency_r, round(kind_part * (time_part + place_part) / 2, 6) AS score,
               gap_minutes, gap_days, distance_m, place_evidence, kind_evidence
        FROM parts WHERE time_part >= 0 AND place_part >= 0"""
