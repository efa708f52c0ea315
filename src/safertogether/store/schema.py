"""Table definitions of the warehouse. Every imported row carries its provenance (file, row, import)."""

from __future__ import annotations

from typing import Final

#: Each version's changes are a numbered migration in :mod:`safertogether.store.migrations`.
#: 1: the spine. 2: crime_lsoas, places, agencies, person_records, incident_records (all new tables).
#: 3: the linkage tables (link_runs, person_ids, person_links, person_id_events, link_decisions, places_linked,
#:    record_places) and sharing_agreements.
#: (audit_log and audit_checkpoints are new tables too, created on opening for writing: no bump; so are users,
#: api_tokens and user_sessions.)
#: 4: audit_log.details (what a search asked, as typed).
SCHEMA_VERSION: Final = 4

_PROVENANCE = "file_id BIGINT NOT NULL, row_number BIGINT NOT NULL, import_id BIGINT NOT NULL"

_SPINE_DDL: Final[tuple[str, ...]] = (
    "CREATE SEQUENCE IF NOT EXISTS import_ids START 1",
    "CREATE SEQUENCE IF NOT EXISTS file_ids START 1",
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS imports (
        import_id BIGINT PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP, source VARCHAR,
        files INTEGER, rows_read BIGINT, rows_stored BIGINT, rows_quarantined BIGINT)""",
    """CREATE TABLE IF NOT EXISTS source_files (
        file_id BIGINT PRIMARY KEY, import_id BIGINT NOT NULL, name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL, kind VARCHAR NOT NULL, bytes BIGINT, encoding VARCHAR,
        rows_read BIGINT, rows_stored BIGINT, rows_quarantined BIGINT,
        partitions VARCHAR[], status VARCHAR NOT NULL, superseded_by BIGINT, loaded_at TIMESTAMP)""",
    f"""CREATE TABLE IF NOT EXISTS street_crimes (
        crime_id VARCHAR, month DATE NOT NULL, reported_by VARCHAR, falls_within VARCHAR,
        force_id VARCHAR NOT NULL, longitude DOUBLE, latitude DOUBLE, location VARCHAR,
        lsoa_code VARCHAR, lsoa_name VARCHAR, crime_type VARCHAR NOT NULL,
        last_outcome_category VARCHAR, context VARCHAR,
        lsoa_polygon VARCHAR, lsoa VARCHAR, {_PROVENANCE})""",
    f"""CREATE TABLE IF NOT EXISTS crime_outcomes (
        crime_id VARCHAR NOT NULL, month DATE NOT NULL, reported_by VARCHAR, falls_within VARCHAR,
        force_id VARCHAR NOT NULL, longitude DOUBLE, latitude DOUBLE, location VARCHAR,
        lsoa_code VARCHAR, lsoa_name VARCHAR, outcome_type VARCHAR NOT NULL,
        lsoa_polygon VARCHAR, lsoa VARCHAR, {_PROVENANCE})""",
    f"""CREATE TABLE IF NOT EXISTS stop_searches (
        type VARCHAR, datetime TIMESTAMP, month DATE NOT NULL, force_id VARCHAR NOT NULL,
        part_of_a_policing_operation BOOLEAN, policing_operation VARCHAR, longitude DOUBLE, latitude DOUBLE,
        gender VARCHAR, age_range VARCHAR, self_defined_ethnicity VARCHAR, officer_defined_ethnicity VARCHAR,
        legislation VARCHAR, object_of_search VARCHAR, outcome VARCHAR,
        outcome_linked_to_object_of_search BOOLEAN, removal_of_more_than_just_outer_clothing BOOLEAN,
        lsoa_polygon VARCHAR, lsoa VARCHAR, {_PROVENANCE})""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        file_id BIGINT NOT NULL, import_id BIGINT NOT NULL, row_number BIGINT NOT NULL,
        raw_text VARCHAR, reason VARCHAR NOT NULL)""",
    # Area assignment of each distinct snap point, so a point is matched to its polygon once.
    """CREATE TABLE IF NOT EXISTS snap_points (
        longitude DOUBLE NOT NULL, latitude DOUBLE NOT NULL, lsoa_code VARCHAR,
        PRIMARY KEY (longitude, latitude))""",
    """CREATE TABLE IF NOT EXISTS area_shapes (
        code VARCHAR PRIMARY KEY, name VARCHAR, level VARCHAR NOT NULL,
        xmin DOUBLE, ymin DOUBLE, xmax DOUBLE, ymax DOUBLE, wkb BLOB NOT NULL, map_geojson VARCHAR,
        source VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS lsoa_lookup (
        lsoa_code VARCHAR PRIMARY KEY, lsoa_name VARCHAR, msoa_code VARCHAR, msoa_name VARCHAR,
        lad_code VARCHAR, lad_name VARCHAR, region_code VARCHAR, region_name VARCHAR,
        force_id VARCHAR, force_inferred BOOLEAN, source VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS population (
        lsoa_code VARCHAR PRIMARY KEY, persons BIGINT, households BIGINT, hectares DOUBLE, source VARCHAR)""",
    # Monthly counts per LSOA and category: every area question is answered from here.
    """CREATE TABLE IF NOT EXISTS areas (code VARCHAR, name VARCHAR, level VARCHAR, parent VARCHAR,
        force_id VARCHAR, population BIGINT)""",
    "CREATE TABLE IF NOT EXISTS street_index (lsoa VARCHAR, street VARCHAR, crimes BIGINT)",
    # The months each force has published, with its total: which months are loaded, at a glance.
    "CREATE TABLE IF NOT EXISTS force_months (force_id VARCHAR, month DATE, crimes BIGINT)",
    """CREATE TABLE IF NOT EXISTS monthly_outcomes (
        lsoa VARCHAR, force_id VARCHAR, month DATE, outcome VARCHAR, crimes BIGINT)""",
    """CREATE TABLE IF NOT EXISTS monthly_counts (
        lsoa VARCHAR, force_id VARCHAR, month DATE, crime_type VARCHAR, crimes BIGINT)""",
)

# Version 2: the towns of town search, the LSOAs with crimes, and (in ddl_v2) the partners' record tables.
_V2_DDL: Final[tuple[str, ...]] = (
    "CREATE TABLE IF NOT EXISTS crime_lsoas (code VARCHAR, name VARCHAR, force_id VARCHAR)",
    """CREATE TABLE IF NOT EXISTS places (
        geonameid BIGINT PRIMARY KEY, name VARCHAR NOT NULL, longitude DOUBLE NOT NULL, latitude DOUBLE NOT NULL,
        population BIGINT, country VARCHAR, source VARCHAR)""",
)

# Linkage of people (safertogether.link.people): person data, never served without access control.
_LINKAGE_DDL: Final[tuple[str, ...]] = (
    # Each incident record's joint incident (one event in several services' logs), replaced by every
    # `safer link incidents`; the link that joined it and its evidence (NULL for a record linked to none):
    # gap_minutes between two timed records, gap_days from a timed record to a dated-only one.
    """CREATE TABLE IF NOT EXISTS joint_incidents (
        agency VARCHAR NOT NULL, incident_ref VARCHAR NOT NULL, joint_incident_id BIGINT NOT NULL,
        records INTEGER NOT NULL, score DOUBLE, linked_agency VARCHAR, linked_ref VARCHAR, gap_minutes DOUBLE,
        gap_days INTEGER, distance_m DOUBLE, place_evidence VARCHAR, kind_evidence VARCHAR,
        linked_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS link_runs (
        run_id BIGINT PRIMARY KEY, mode VARCHAR NOT NULL, started_at TIMESTAMP, finished_at TIMESTAMP,
        records BIGINT, new_records BIGINT, removed_records BIGINT, scored_pairs BIGINT, people BIGINT,
        new_people BIGINT, merges BIGINT, splits BIGINT, threshold DOUBLE, review_floor DOUBLE,
        model_json VARCHAR, seconds DOUBLE)""",
    # Each record's person, keyed by agency:record_id; the id survives relinking (see link/stable_ids.py).
    """CREATE TABLE IF NOT EXISTS person_ids (
        record_key VARCHAR PRIMARY KEY, agency VARCHAR NOT NULL, record_id VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL, run_id BIGINT NOT NULL)""",
    # Scored pairs at or above the review floor: the graph people are clustered from, and the review queue.
    """CREATE TABLE IF NOT EXISTS person_links (
        record_l VARCHAR NOT NULL, record_r VARCHAR NOT NULL, match_weight DOUBLE, match_probability DOUBLE,
        run_id BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS person_id_events (
        run_id BIGINT NOT NULL, event VARCHAR NOT NULL, person_id VARCHAR NOT NULL, other_person_id VARCHAR,
        records BIGINT)""",
    # Each person or incident record's place (link/places.py); the places themselves are model.records.Place.
    """CREATE TABLE IF NOT EXISTS record_places (
        record_table VARCHAR NOT NULL, record_key VARCHAR NOT NULL, place_id VARCHAR NOT NULL, flat VARCHAR)""",
    # A reviewer's verdict on a pair, respected by every later run: same person or different people.
    """CREATE TABLE IF NOT EXISTS link_decisions (
        record_l VARCHAR NOT NULL, record_r VARCHAR NOT NULL, decision VARCHAR NOT NULL, reviewer VARCHAR,
        note VARCHAR, decided_at TIMESTAMP, PRIMARY KEY (record_l, record_r))""",
)


# The hash-chained audit log of person-data reads and changes (safertogether.access.audit): appended to,
# never updated. The primary key on seq is what keeps concurrent appenders on one chain.
_AUDIT_DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY, logged_at TIMESTAMP NOT NULL, actor_user VARCHAR, actor_agency VARCHAR,
        action VARCHAR NOT NULL, purpose VARCHAR, agreement_id VARCHAR, subjects VARCHAR[] NOT NULL,
        redacted VARCHAR[] NOT NULL, outcome VARCHAR NOT NULL, reason VARCHAR,
        prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL, details VARCHAR[])""",
    # Signed statements "the chain passed through this hash at this sequence number" (Ed25519).
    """CREATE TABLE IF NOT EXISTS audit_checkpoints (
        seq BIGINT NOT NULL, hash VARCHAR NOT NULL, signed_at TIMESTAMP NOT NULL, key_id VARCHAR NOT NULL,
        signature VARCHAR NOT NULL, PRIMARY KEY (seq, key_id))""",
)


# Who signs in (safertogether.access.users): users with an argon2id password hash and a lock-out after
# repeated failures; API tokens and page sessions, both stored only as SHA-256 hashes of their secrets.
_USERS_DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS users (
        user_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, agency VARCHAR NOT NULL, role VARCHAR NOT NULL,
        clearance VARCHAR NOT NULL, password_hash VARCHAR NOT NULL, failed_attempts INTEGER NOT NULL,
        locked_until TIMESTAMP, disabled BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        token_id VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, secret_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS user_sessions (
        session_id VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, secret_hash VARCHAR NOT NULL,
        csrf_token VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP)""",
)


# The neighbourhood picture (safertogether.index): survey measures, the MPS ward crime files and area
# populations by year as imported (with provenance), and each built edition of the Community Safety Index
# with the configuration it was built from. New tables only: created on opening for writing, no bump.
_INDEX_DDL: Final[tuple[str, ...]] = (
    "CREATE SEQUENCE IF NOT EXISTS index_edition_ids START 1",
    f"""CREATE TABLE IF NOT EXISTS survey_measures (
        survey VARCHAR NOT NULL, area VARCHAR NOT NULL, area_name VARCHAR, period DATE NOT NULL,
        measure VARCHAR NOT NULL, value DOUBLE NOT NULL, respondents BIGINT, reference_value DOUBLE,
        survey_code VARCHAR, {_PROVENANCE})""",
    f"""CREATE TABLE IF NOT EXISTS ward_crimes (
        ward_code VARCHAR NOT NULL, ward_name VARCHAR, borough VARCHAR NOT NULL, major VARCHAR, minor VARCHAR,
        category VARCHAR, offence VARCHAR, month DATE NOT NULL, crimes BIGINT NOT NULL, {_PROVENANCE})""",
    f"""CREATE TABLE IF NOT EXISTS area_population (
        code VARCHAR NOT NULL, name VARCHAR, year INTEGER NOT NULL, estimate VARCHAR, persons BIGINT NOT NULL,
        {_PROVENANCE})""",
    # One row per build: the configuration text it was built from (reproducible), the harm weights' version.
    """CREATE TABLE IF NOT EXISTS index_editions (
        edition_id BIGINT PRIMARY KEY, built_at TIMESTAMP NOT NULL, level VARCHAR NOT NULL, name VARCHAR,
        config_yaml VARCHAR NOT NULL, config_sha256 VARCHAR NOT NULL, harm_version VARCHAR, harm_sha256 VARCHAR,
        base_period VARCHAR NOT NULL, periods VARCHAR[], objective_only BOOLEAN, scenarios INTEGER,
        notes VARCHAR[], base_json VARCHAR)""",
    # Per area and period: the index, its halves, band and rank range (a row per area x period x edition).
    """CREATE TABLE IF NOT EXISTS index_scores (
        edition_id BIGINT NOT NULL, level VARCHAR NOT NULL, area VARCHAR NOT NULL, area_name VARCHAR,
        group_id VARCHAR, period VARCHAR NOT NULL, months INTEGER, residents BIGINT, score DOUBLE, band VARCHAR,
        band_label VARCHAR, objective DOUBLE, subjective DOUBLE, subjective_period VARCHAR, rank INTEGER,
        rank_low INTEGER, rank_high INTEGER, ranked INTEGER, poor_denominator BOOLEAN, crimes BIGINT)""",
    # Per area, period and indicator (and theme, indicator NULL): value, interval, smoothing, harm, funnel, score.
    """CREATE TABLE IF NOT EXISTS index_components (
        edition_id BIGINT NOT NULL, area VARCHAR NOT NULL, period VARCHAR NOT NULL, theme VARCHAR NOT NULL,
        part VARCHAR NOT NULL, indicator VARCHAR, count DOUBLE, rate DOUBLE, rate_low DOUBLE, rate_high DOUBLE,
        smoothed DOUBLE, harm DOUBLE, harm_low DOUBLE, harm_high DOUBLE, value DOUBLE, funnel VARCHAR,
        score DOUBLE)""",
)


# Disclosure control (safertogether.disclosure): differentially private releases, drawn once per data version,
# and the privacy budget they spent. (Residents' alert subscriptions are kept apart: see alerts/store.py.)
_PUBLISH_DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS disclosure_releases (
        release_id VARCHAR PRIMARY KEY, data_version VARCHAR NOT NULL, policy VARCHAR NOT NULL,
        rule VARCHAR NOT NULL, dataset VARCHAR NOT NULL, epsilon DOUBLE NOT NULL, cells BIGINT,
        created_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS released_cells (
        release_id VARCHAR NOT NULL, lsoa VARCHAR, force_id VARCHAR, month DATE, key VARCHAR, count BIGINT)""",
    """CREATE TABLE IF NOT EXISTS released_totals (
        release_id VARCHAR NOT NULL, lsoa VARCHAR, force_id VARCHAR, month DATE, count BIGINT)""",
)


# The index under disclosure control (safertogether.index with .disclosure): the policy whose released counts
# an edition was computed from (no row: an edition from before, computed from the exact counts).
_INDEX_POLICY_DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS index_edition_policies (
        edition_id BIGINT PRIMARY KEY, policy VARCHAR NOT NULL, policy_json VARCHAR NOT NULL)""",
)


# Forecasting (safertogether.forecast): the hotspot forecasts and patrol plans made, kept for the signed-in
# API to serve (they show where patrols will go: never on a public server).
_FORECAST_DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS forecast_outputs (
        output_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, period VARCHAR NOT NULL, model VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, geojson VARCHAR NOT NULL)""",
)


# Blue-light planning (safertogether.bluelight): the stations a server plans with (`safer plan load-stations`),
# so the planning API and page need no files. Station sites are public (Home Office list, forces' own lists).
_BLUELIGHT_DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS bluelight_stations (
        station_id VARCHAR NOT NULL, name VARCHAR NOT NULL, service VARCHAR NOT NULL, easting DOUBLE NOT NULL,
        northing DOUBLE NOT NULL, pinned BOOLEAN NOT NULL, source VARCHAR, loaded_at TIMESTAMP NOT NULL)""",
)

# The incident exchange (safertogether.bluelight.exchange_ledger): every message sent to or received from a
# partner's dispatch system, and the lines of received files that were not messages, with their reasons.
_EXCHANGE_DDL: Final[tuple[str, ...]] = (
    "CREATE SEQUENCE IF NOT EXISTS exchange_message_seq START 1",
    # seq: the order messages reached us, for a partner's system reading what is addressed to it (?after=seq)
    """CREATE TABLE IF NOT EXISTS exchange_messages (
        seq BIGINT NOT NULL DEFAULT nextval('exchange_message_seq'), message_id VARCHAR PRIMARY KEY,
        direction VARCHAR NOT NULL, action VARCHAR NOT NULL,
        sent_at TIMESTAMP NOT NULL, sender VARCHAR NOT NULL, receiver VARCHAR NOT NULL, sender_ref VARCHAR NOT NULL,
        receiver_ref VARCHAR, acknowledges VARCHAR, body VARCHAR NOT NULL, source VARCHAR NOT NULL,
        recorded_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS exchange_rejected (
        source VARCHAR NOT NULL, line BIGINT NOT NULL, reason VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL)""",
)


def ddl() -> tuple[str, ...]:
    """Every table and sequence of the current version (each created only if missing)."""
    return (spine_ddl() + ddl_v2() + linkage_ddl() + _AUDIT_DDL + _USERS_DDL + _INDEX_DDL + _PUBLISH_DDL
            + _INDEX_POLICY_DDL + _FORECAST_DDL + _BLUELIGHT_DDL + _EXCHANGE_DDL)


def audit_ddl() -> tuple[str, ...]:
    """The audit tables (created on every opening for writing; migration 4 adds ``details`` to an older log)."""
    return _AUDIT_DDL


def spine_ddl() -> tuple[str, ...]:
    """Version 1: the police.uk spine (imports, provenance, quarantine, areas and their counts)."""
    return _SPINE_DDL


def ddl_v2() -> tuple[str, ...]:
    """Version 2's tables, the common records' tables derived from their classes.

    The record classes are pydantic models: imported here, when a warehouse is created or opened for
    writing, rather than by every command that merely imports the store (0.1 s of start-up).
    """
    from safertogether.model.records import RECORD_TABLES, Agency, create_table_sql

    records = (create_table_sql("agencies", Agency),
               *(create_table_sql(table, record, _PROVENANCE) for table, record in RECORD_TABLES.items()))
    return _V2_DDL + records


def linkage_ddl() -> tuple[str, ...]:
    """Version 3: the linkage tables, linked places and sharing agreements."""
    from safertogether.model.access import SharingAgreement
    from safertogether.model.records import Place, create_table_sql

    return _LINKAGE_DDL + (
        create_table_sql("places_linked", Place),
        create_table_sql("sharing_agreements", SharingAgreement, "PRIMARY KEY (agreement_id, version)"))
