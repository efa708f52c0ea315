"""The five agencies' extracts, each in the shape its kind of system exports: columns, formats and codes.

Every agency names things its own way — the police's "Nominal Ref" and "DOB" (dd/mm/yyyy, surnames
in capitals), the ambulance service's ePR export in capitals with ISO dates and AMPDS complaint
numbers, the fire service's IRS-style workbook with Excel dates, the council's Oracle-style
"03-FEB-2021" dates, the victim service's case-management workbook with "3 Feb 1985" typed by hand.
Codes are translated to ours by each mapping (``codes``); columns without a ``field`` are exported
but not mapped (the police's domestic-abuse and mental-health flags among them: the common incident
record has no field for them yet).
"""

from __future__ import annotations

from typing import Final

from safertogether.sources.synth.layout import EXCEL, Agency, Column, Extract

POLICE: Final = Agency("leicestershire-police", "Leicestershire Police (synthetic)", "police")
FIRE: Final = Agency("leicestershire-fire-rescue", "Leicestershire Fire and Rescue Service (synthetic)", "fire")
AMBULANCE: Final = Agency("east-midlands-ambulance", "East Midlands Ambulance Service (synthetic)", "ambulance")
COUNCIL: Final = Agency("leicestershire-council", "Leicestershire council services (synthetic)", "council")
VICTIM_SERVICE: Final = Agency("victim-service", "Victim and witness service (synthetic)", "victim-service")

_SEX_MF: Final = {"M": "male", "F": "female"}


def _text(header: str, source: str, *, mapped: bool = True, upper: bool = False, required: bool = False) -> Column:
    return Column(header, source, source if mapped else None, upper=upper, required=required)


def _date(header: str, source: str, fmt: str, *, upper: bool = False, kind: str = "date") -> Column:
    return Column(header, source, source, type=kind, format=fmt, upper=upper)  # type: ignore[arg-type]


def _point(prefix: str = "") -> tuple[Column, Column]:
    return (Column(f"{prefix}Latitude", "latitude", "latitude", type="latitude"),
            Column(f"{prefix}Longitude", "longitude", "longitude", type="longitude"))


POLICE_OCCURRENCES: Final = Extract(
    "police-occurrences", POLICE, "police/occurrences.csv", "incident_records", (
        _text("Occurrence Ref", "incident_ref", required=True),
        _date("Reported Date", "started_at", "%d/%m/%Y %H:%M", kind="timestamp"),
        Column("Class", "kind", "kind", codes={
            "DOM": "domestic-abuse", "MH": "mental-health", "MISPER": "missing-person", "VIOL": "violence",
            "BURG": "burglary", "ASB": "anti-social-behaviour", "FIRE": "fire", "RTC": "road-traffic-collision"}),
        _text("Occurrence Type", "category"),
        _text("DA Flag", "domestic_abuse", mapped=False),
        _text("MH Flag", "mental_health", mapped=False),
        _text("Location", "address"), _text("Postcode", "postcode"), *_point(),
        _text("Outcome", "outcome"),
    ), description="Occurrences (incidents and crimes) from the records management system")

POLICE_NOMINALS: Final = Extract(
    "police-nominals", POLICE, "police/nominals.csv", "person_records", (
        _text("Nominal Ref", "record_id", required=True),
        _text("Occurrence Ref", "incident_ref"),
        Column("Involvement", "role", "role", codes={
            "VIC": "victim", "SUS": "suspect", "WIT": "witness", "MIS": "missing-person", "RP": "reporting-person",
            "SUBJ": "subject", "INV": "involved"}),
        _text("Surname", "surname", upper=True), _text("Forename 1", "forename"),
        _text("Forename 2", "middle_names"),
        _date("DOB", "date_of_birth", "%d/%m/%Y"),
        Column("Gender", "sex", "sex", codes=_SEX_MF),
        _text("Home Address", "address"), _text("Postcode", "postcode"),
        _date("Date Recorded", "recorded_on", "%d/%m/%Y"),
    ), description="People linked to occurrences (victims, suspects, witnesses, missing and reporting persons)")

FIRE_INCIDENTS: Final = Extract(
    "fire-incidents", FIRE, "fire/incidents.xlsx", "incident_records", (
        _text("Incident Number", "incident_ref", required=True),
        _date("Time of Call", "started_at", EXCEL, kind="timestamp"),
        Column("Incident Type", "kind", "kind", codes={
            "Primary Fire - Dwelling": "fire", "Special Service - RTC": "road-traffic-collision",
            "Special Service - Assist Other Agency": "assist"},
               render={"fire": "Primary Fire - Dwelling", "road-traffic-collision": "Special Service - RTC",
                       "falls": "Special Service - Assist Other Agency"}),
        _text("Address", "address"), _text("Postcode", "postcode"), *_point(),
    ), sheet="IRS Export", description="Incident Recording System export")

FIRE_VISITS: Final = Extract(
    "fire-home-safety-visits", FIRE, "fire/home-fire-safety-visits.xlsx", "person_records", (
        _text("Visit Ref", "record_id", required=True),
        _date("Visit Date", "recorded_on", EXCEL),
        _text("First Name", "forename"), _text("Last Name", "surname"),
        _date("Date of Birth", "date_of_birth", "%-d %b %Y"),
        _text("Address", "address"), _text("Post Code", "postcode"),
    ), sheet="Visits", defaults={"role": "occupier"}, description="Home fire safety visits")

AMBULANCE_CALLS: Final = Extract(
    "ambulance-calls", AMBULANCE, "ambulance/cad-calls.csv", "incident_records", (
        _text("CAD Number", "incident_ref", required=True),
        _date("Call Received", "started_at", "%Y-%m-%dT%H:%M:%S", kind="timestamp"),
        Column("Category", "priority", "priority", codes={"1": "C1", "2": "C2", "3": "C3", "4": "C4"}),
        Column("Chief Complaint", "kind", "kind", codes={
            "17": "falls", "25": "mental-health", "04": "violence", "29": "road-traffic-collision", "07": "fire",
            "26": "medical"}, render={"falls": "17", "mental-health": "25", "violence": "04", "domestic-abuse": "04",
                                      "road-traffic-collision": "29", "fire": "07", "medical": "26"}),
        _text("Determinant", "category"),
        *_point("Incident "),
        _text("Incident Address", "address", upper=True), _text("Incident Postcode", "postcode"),
        _text("Disposition", "outcome"),
    ), description="Computer-aided dispatch: 999 calls with category C1-C4 and AMPDS chief complaint")

AMBULANCE_PATIENTS: Final = Extract(
    "ambulance-patients", AMBULANCE, "ambulance/epr-patients.csv", "person_records", (
        _text("EPR ID", "record_id", required=True),
        _text("CAD NUMBER", "incident_ref"),
        _text("PATIENT SURNAME", "surname", upper=True), _text("PATIENT FORENAME", "forename", upper=True),
        _date("DOB", "date_of_birth", "%Y-%m-%d"),
        Column("SEX", "sex", "sex", codes={"1": "male", "2": "female"}),
        _text("HOME ADDRESS", "address", upper=True), _text("POSTCODE", "postcode"),
        _date("INCIDENT DATE", "recorded_on", "%Y-%m-%d"),
    ), defaults={"role": "patient"}, description="Electronic patient records (the patient of each call)")

COUNCIL_ASB_CASES: Final = Extract(
    "council-asb-cases", COUNCIL, "council/asb-cases.xlsx", "incident_records", (
        _text("Case Reference", "incident_ref", required=True),
        _date("Date Reported", "started_at", EXCEL, kind="timestamp"),
        Column("Case Type", "kind", "kind", codes={"ASB": "anti-social-behaviour"}),
        _text("Category", "category"),
        _text("Location of Incident", "address"), _text("Postcode", "postcode"),
    ), sheet="Cases", description="Anti-social behaviour case management: cases")

COUNCIL_ASB_PARTIES: Final = Extract(
    "council-asb-parties", COUNCIL, "council/asb-cases.xlsx", "person_records", (
        _text("Party ID", "record_id", required=True),
        _text("Case Reference", "incident_ref"),
        Column("Party Role", "role", "role",
               codes={"Complainant": "complainant", "Alleged Perpetrator": "perpetrator"}),
        _text("Forename", "forename"), _text("Surname", "surname"),
        _date("DOB", "date_of_birth", EXCEL),
        _text("Address", "address"), _text("Postcode", "postcode"),
        _date("Date Added", "recorded_on", EXCEL),
    ), sheet="Parties", description="Anti-social behaviour case management: complainants and alleged perpetrators")

COUNCIL_SAFEGUARDING: Final = Extract(
    "council-safeguarding", COUNCIL, "council/safeguarding-referrals.csv", "person_records", (
        _text("Referral ID", "record_id", required=True),
        _date("Referral Date", "recorded_on", "%d-%b-%Y", upper=True),
        _text("Subject First Name", "forename"), _text("Subject Middle Name", "middle_names"),
        _text("Subject Surname", "surname"),
        _date("Subject DOB", "date_of_birth", "%d-%b-%Y", upper=True),
        Column("Gender", "sex", "sex", codes={"Male": "male", "Female": "female"}),
        _text("Address", "address"), _text("Postcode", "postcode"),
        _text("Category of Concern", "category", mapped=False),
    ), defaults={"role": "subject"}, description="Adults' and children's safeguarding referrals")

COUNCIL_HOUSING: Final = Extract(
    "council-housing-register", COUNCIL, "council/housing-register.csv", "person_records", (
        _text("Applicant Number", "record_id", required=True),
        _date("Application Date", "recorded_on", "%d.%m.%Y"),
        _text("Forename(s)", "forename"), _text("Surname", "surname"),
        _date("Date of Birth", "date_of_birth", "%d.%m.%Y"),
        Column("Sex", "sex", "sex", codes=_SEX_MF),
        _text("Current Address", "address"), _text("Post Code", "postcode"),
    ), defaults={"role": "applicant"}, description="Housing register applications")

_VICTIM_PERSON: Final = (
    _text("Crime Reference", "incident_ref"),
    _text("First name", "forename"), _text("Last name", "surname"),
    _date("D.O.B.", "date_of_birth", "%-d %b %Y"),
    _text("Address", "address"), _text("Post code", "postcode"),
)

VICTIM_REFERRALS: Final = Extract(
    "victim-service-referrals", VICTIM_SERVICE, "victim-service/case-management.xlsx", "person_records", (
        _text("Client ID", "record_id", required=True), *_VICTIM_PERSON,
        _date("Referral received", "recorded_on", EXCEL),
    ), sheet="Referrals", defaults={"role": "client"},
    description="Referrals of victims (by the police, with its crime reference, or self-referred)")

VICTIM_CONTACTS: Final = Extract(
    "victim-service-contacts", VICTIM_SERVICE, "victim-service/case-management.xlsx", "person_records", (
        _text("Contact ID", "record_id", required=True), *_VICTIM_PERSON,
        _date("Contact date", "recorded_on", EXCEL),
    ), sheet="Contacts", defaults={"role": "contact"},
    description="Contacts with clients, each with the client's details as typed by the worker")
