"""Attribution that must accompany the open data wherever it is shown."""

from __future__ import annotations

from typing import Final

ATTRIBUTION: Final = {
    "text": (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Crime data from data.police.uk. Boundaries and population from the Office for National Statistics; "
        "contains OS data © Crown copyright and database right. "
        "Place names from GeoNames (geonames.org), CC BY 4.0."
    ),
    "licence_url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
}
