"""One person's details prepared as :func:`safertogether.link.partners.person_input_sql` prepares a record, in Python.

The lookup prepares one query at a time, and DuckDB spends tens of milliseconds planning and starting the
preparation's SQL for a single row (its street-type CASE alone costs more than the rest of the lookup).
This is the same preparation, step for step, in Python: microseconds. ``tests/test_link_lookup.py``
checks it gives exactly the SQL's columns for every record of a synthetic set, so a change to the SQL
that is not made here too fails there.

DuckDB's ``trim`` removes spaces only and RE2's ``\\s`` is ``[\\t\\n\\f\\r ]``; both are kept as such here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from safertogether.link.addresses import _FULL_NAME_OF
from safertogether.link.partners import forename_equivalents

_WHITESPACE: Final = re.compile(r"[\t\n\f\r ]+")
_NOT_NAME: Final = re.compile(r"[^a-z -]")
_NAME_SPACES: Final = re.compile(r"[\t\n\f\r ]*-[\t\n\f\r ]*|[\t\n\f\r ]+")
_LAST_PART: Final = re.compile(r",[^,]*\Z")
_COMMA: Final = re.compile(r" ?, ?")
_TOWN: Final = re.compile(r",([^,]*)\Z")
_TAIL: Final = re.compile(r"(?:([0-9]+)([a-z]?) )?([a-z][a-z .'-]*)\Z")
_FLAT: Final = re.compile(r"^(?:flat )?([0-9]+)[ /]+[0-9]")
_LAST_WORD: Final = re.compile(r"([a-z]+)\Z")
_FIRST_WORD: Final = re.compile(r"^([a-z]+)")
_NOT_POSTCODE: Final = re.compile(r"[^A-Z0-9]")


def _trim(text: str) -> str:
    return text.strip(" ")


def _nullif(text: str) -> str | None:
    return text or None


def _extract(pattern: re.Pattern[str], text: str, group: int = 1) -> str:
    found = pattern.search(text)
    return (found.group(group) or "") if found else ""


def clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    letters = _NOT_NAME.sub("", name.lower())
    return _nullif(_trim(_NAME_SPACES.sub(" ", letters)))


def address_parts(address: str | None) -> dict[str, str | None]:
    """``address_line`` and ``town`` of :func:`safertogether.link.addresses.address_parts_sql`."""
    if address is None:
        return {"address_line": None, "town": None}
    text = _WHITESPACE.sub(" ", _trim(address).lower())
    return {"address_line": _nullif(_trim(_COMMA.sub(" ", _LAST_PART.sub("", text, count=1)))),
            "town": _nullif(_trim(_extract(_TOWN, text)))}


def street_parts(line: str | None) -> dict[str, str | None]:
    """``house``, ``flat`` and ``street`` of :func:`safertogether.link.addresses.street_parts_sql`."""
    if line is None:
        return {"house": None, "flat": None, "street": None}
    tail = _TAIL.search(line)
    number, letter, street = ((tail.group(1) or "", tail.group(2) or "", tail.group(3) or "") if tail
                              else ("", "", ""))
    street = _trim(street)
    last_word = _extract(_LAST_WORD, street)
    full = _FULL_NAME_OF.get(last_word)
    return {"house": _nullif(number),
            "flat": _nullif(_extract(_FLAT, line)) or _nullif(letter),
            "street": street[:len(street) - len(last_word)] + full if full is not None else _nullif(street)}


def names_key(names: list[str] | tuple[str, ...] | None) -> str | None:
    """A list of names as one string (sorted, "|"-joined): how the index holds ``forename_names``."""
    return None if names is None else "|".join(sorted(set(names)))


def prepare_person(forename: str | None, surname: str | None, date_of_birth: dt.date | None,
                   address: str | None, postcode: str | None, sex: str | None = None) -> dict[str, str | None]:
    """The linkage columns of one person's details (those of ``person_input_sql``, less ids and dates recorded)."""
    surname, forename = clean_name(surname), clean_name(forename)
    dob = date_of_birth.strftime("%Y-%m-%d") if date_of_birth else None
    code = _NOT_POSTCODE.sub("", postcode.upper()) if postcode is not None else None
    parts = address_parts(address)
    return {
        "forename": forename, "surname": surname,
        "forename_names": None if forename is None else names_key((forename,
                                                                   *forename_equivalents().get(forename, ()))),
        "surname_last": None if surname is None else _extract(_LAST_WORD, surname),
        "surname_first": None if surname is None else _extract(_FIRST_WORD, surname),
        "date_of_birth": dob, "dob_year": dob and dob[:4], "dob_month": dob and dob[5:7], "dob_day": dob and dob[8:10],
        "sex": None if sex is None else _nullif(_trim(sex).lower()), "postcode": _nullif(code) if code else None,
        "postcode_district": code[:-3] if code and len(code) >= 5 else None,
        **street_parts(parts["address_line"]), "town": parts["town"],
    }
