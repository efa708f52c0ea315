"""Crime categories as police.uk publishes them: bulk-file text, API slug and display name."""

from __future__ import annotations

from typing import Final

#: ``Crime type`` text in the bulk files -> police.uk API slug.
CRIME_TYPE_SLUGS: Final[dict[str, str]] = {
    "Anti-social behaviour": "anti-social-behaviour",
    "Bicycle theft": "bicycle-theft",
    "Burglary": "burglary",
    "Criminal damage and arson": "criminal-damage-arson",
    "Drugs": "drugs",
    "Other crime": "other-crime",
    "Other theft": "other-theft",
    "Possession of weapons": "possession-of-weapons",
    "Public order": "public-order",
    "Robbery": "robbery",
    "Shoplifting": "shoplifting",
    "Theft from the person": "theft-from-the-person",
    "Vehicle crime": "vehicle-crime",
    "Violence and sexual offences": "violent-crime",
}

#: Categories police.uk used before May 2013, still found in old archives.
LEGACY_CRIME_TYPE_SLUGS: Final[dict[str, str]] = {
    "Violent crime": "violent-crime",
    "Public disorder and weapons": "public-disorder-weapons",
}

KNOWN_CRIME_TYPES: Final[frozenset[str]] = frozenset(CRIME_TYPE_SLUGS) | frozenset(LEGACY_CRIME_TYPE_SLUGS)


def crime_type_slug(crime_type: str) -> str:
    """The police.uk slug for a bulk-file ``Crime type``; unknown types get a slug of their text."""
    known = CRIME_TYPE_SLUGS.get(crime_type) or LEGACY_CRIME_TYPE_SLUGS.get(crime_type)
    return known or "-".join(crime_type.lower().split())
