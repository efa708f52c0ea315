"""Sharing agreements as data: a YAML file a Data Protection Officer keeps, loaded into the warehouse by version.

An agreement is never edited in place: loading a changed agreement needs a higher ``version``, and every
version stays, so a past decision can always be explained by the agreement as it stood. Loading the
same file twice changes nothing.

.. code-block:: yaml

    agreements:
      - agreement_id: ambulance-to-council-safeguarding
        version: 1
        provider: east-midlands-ambulance
        recipient: leicestershire-council
        categories: [identity, contact, health]
        purposes: [safeguarding]
        lawful_basis: "UK GDPR Art. 6(1)(e) and 9(2)(g); DPA 2018 Sch. 1 para 18"
        valid_from: 2025-04-01
        valid_to: 2027-03-31
        approved_by: "Data Protection Officer, EMAS"
        approved_on: 2025-03-20
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import yaml
from pydantic import ValidationError

from safertogether.errors import InputFormatError
from safertogether.model.access import SharingAgreement
from safertogether.model.records import columns

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

TABLE = "sharing_agreements"


@dataclass(frozen=True)
class AgreementsLoaded:
    new_versions: int
    unchanged: int


def read_agreements(path: Path) -> list[SharingAgreement]:
    """The agreements in a YAML file, every problem in it reported at once."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputFormatError(f"{path}: cannot be read as YAML ({exc})") from exc
    items = loaded.get("agreements") if isinstance(loaded, dict) else None
    if not isinstance(items, list):
        raise InputFormatError(f"{path}: expected a list under 'agreements:' (see `safer access agreements --help`)")
    agreements, problems = [], []
    for number, item in enumerate(items, start=1):
        try:
            agreements.append(SharingAgreement.model_validate(item))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "agreement"
                problems.append(f"agreement {number}: {where}: {error['msg']}")
    if problems:
        raise InputFormatError(f"{path}: " + "; ".join(problems))
    return agreements


def load_agreements(warehouse: Warehouse, path: Path) -> AgreementsLoaded:
    """Store the file's agreements; a changed agreement must come with a new version number."""
    agreements = read_agreements(path)
    stored = {(a.agreement_id, a.version): a for a in stored_agreements(warehouse)}
    new, problems = [], []
    for agreement in agreements:
        held = stored.get((agreement.agreement_id, agreement.version))
        if held is None:
            new.append(agreement)
        elif held != agreement:
            problems.append(f"{agreement.agreement_id} version {agreement.version} is already stored with other "
                            "terms: an agreement is never edited, give the change a new version")
    if problems:
        raise InputFormatError(f"{path}: " + "; ".join(problems))
    if new:
        rows = pa.Table.from_pylist([a.model_dump() for a in new])
        with warehouse.transaction():
            warehouse.insert_arrow(TABLE, rows.select(list(columns(SharingAgreement))))
    return AgreementsLoaded(len(new), len(agreements) - len(new))


def stored_agreements(warehouse: Warehouse) -> list[SharingAgreement]:
    """Every stored version of every agreement."""
    rows: list[dict[str, Any]] = warehouse.query(f"SELECT * FROM {TABLE} ORDER BY agreement_id, version")
    return [SharingAgreement.model_validate(row) for row in rows]
