"""The reference data that police.uk files do not carry, what each adds, and the import that adds it.

police.uk files alone make areas (every LSOA they name, under the force that published it); rates need
residents, the map needs boundaries, and MSOAs and local authorities need the ONS lookup. Wherever one
is missing, the CLI, API and page name the import that would add it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ReferenceData:
    """One kind of reference import."""

    kind: str  #: the ``safer import`` sub-command
    table: str  #: the warehouse table it fills
    adds: str  #: what answers need it, in a resident's words
    example: str  #: the file it takes ("" when it has a default)

    @property
    def command(self) -> str:
        return f"safer import {self.kind} {self.example}".rstrip()

    def as_json(self) -> dict[str, str]:
        return {"data": self.kind, "needed_for": self.adds, "command": self.command}


REFERENCE_DATA: Final = {
    "population": ReferenceData(
        "population", "population", "rates per 1,000 residents and the comparison with the force average",
        "lsoa-2011-census-population.csv"),
    "boundaries": ReferenceData(
        "boundaries", "area_shapes", "the map of neighbourhoods", "lsoa-2011-ew.geojson"),
    "lookup": ReferenceData(
        "lookup", "lsoa_lookup", "MSOAs and local authorities, and the force of neighbourhoods without crimes",
        "lsoa-2011-police-force-lookup.csv"),
    "places": ReferenceData(
        "places", "places", "finding towns by name and town names on the map", ""),
}
