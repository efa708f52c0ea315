"""Police forces of England, Wales and Northern Ireland, with police.uk's identifiers.

police.uk names a force three ways: its id in the API and in bulk file names (``leicestershire``),
its full name in the ``Reported by`` column (``Leicestershire Police``), and a short name in ONS
lookups (``Leicestershire``). ``force_id`` resolves any of them to the id.
"""

from __future__ import annotations

import re
from typing import Final

FORCE_NAMES: Final[dict[str, str]] = {
    "avon-and-somerset": "Avon and Somerset Constabulary",
    "bedfordshire": "Bedfordshire Police",
    "btp": "British Transport Police",
    "cambridgeshire": "Cambridgeshire Constabulary",
    "cheshire": "Cheshire Constabulary",
    "city-of-london": "City of London Police",
    "cleveland": "Cleveland Police",
    "cumbria": "Cumbria Constabulary",
    "derbyshire": "Derbyshire Constabulary",
    "devon-and-cornwall": "Devon & Cornwall Police",
    "dorset": "Dorset Police",
    "durham": "Durham Constabulary",
    "dyfed-powys": "Dyfed-Powys Police",
    "essex": "Essex Police",
    "gloucestershire": "Gloucestershire Constabulary",
    "greater-manchester": "Greater Manchester Police",
    "gwent": "Gwent Police",
    "hampshire": "Hampshire Constabulary",
    "hertfordshire": "Hertfordshire Constabulary",
    "humberside": "Humberside Police",
    "kent": "Kent Police",
    "lancashire": "Lancashire Constabulary",
    "leicestershire": "Leicestershire Police",
    "lincolnshire": "Lincolnshire Police",
    "merseyside": "Merseyside Police",
    "metropolitan": "Metropolitan Police Service",
    "norfolk": "Norfolk Constabulary",
    "north-wales": "North Wales Police",
    "north-yorkshire": "North Yorkshire Police",
    "northamptonshire": "Northamptonshire Police",
    "northern-ireland": "Police Service of Northern Ireland",
    "northumbria": "Northumbria Police",
    "nottinghamshire": "Nottinghamshire Police",
    "south-wales": "South Wales Police",
    "south-yorkshire": "South Yorkshire Police",
    "staffordshire": "Staffordshire Police",
    "suffolk": "Suffolk Constabulary",
    "surrey": "Surrey Police",
    "sussex": "Sussex Police",
    "thames-valley": "Thames Valley Police",
    "warwickshire": "Warwickshire Police",
    "west-mercia": "West Mercia Police",
    "west-midlands": "West Midlands Police",
    "west-yorkshire": "West Yorkshire Police",
    "wiltshire": "Wiltshire Police",
}

_ALIASES: Final[dict[str, str]] = {
    "metropolitan police": "metropolitan",
    "city of london": "city-of-london",
    "london, city of": "city-of-london",
    "devon and cornwall": "devon-and-cornwall",
    "devon and cornwall police": "devon-and-cornwall",
    "british transport police": "btp",
    "psni": "northern-ireland",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("&", "and")).strip("-")


def _build_index() -> dict[str, str]:
    index = {_slug(alias): fid for alias, fid in _ALIASES.items()}
    for fid, name in FORCE_NAMES.items():
        index[fid] = fid
        index[_slug(name)] = fid
        short = re.sub(r"\b(police|constabulary|service)\b", "", name.lower())
        index[_slug(short)] = fid
    return index


_INDEX: Final[dict[str, str]] = _build_index()


def force_id(name: str) -> str:
    """The police.uk id for a force named in any of its usual ways; a slug of the name if unknown.

    >>> force_id("Leicestershire Police"), force_id("London, City of"), force_id("btp")
    ('leicestershire', 'city-of-london', 'btp')
    """
    slug = _slug(name)
    return _INDEX.get(slug, slug)


def force_name(fid: str) -> str:
    """The full name of a force, or its id when the force is not a known police.uk force."""
    return FORCE_NAMES.get(fid, fid)
