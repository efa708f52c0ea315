"""The estate a server plans with: station lists stored in the warehouse, so the API needs no files.

``safer plan load-stations`` reads the lists the commands read (Home Office fire list, station CSVs,
OpenStreetMap points for services nothing else covers), with the same quarantine, and replaces the
stored estate in one transaction. The planning commands use the stored estate when given no files.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from safertogether.bluelight.stations import COLUMNS, Stations, stations_arrow
from safertogether.errors import MissingDataError
from safertogether.store.warehouse import Warehouse

TABLE = "bluelight_stations"
HOW_TO_LOAD = ("load them with `safer plan load-stations --fire-list FILE --stations CSV` (or give the files to "
               "the command)")


def save_stations(warehouse: Warehouse, stations: Stations) -> dict[str, int]:
    """Replace the stored estate with ``stations``; the number kept per service."""
    rows = stations_arrow(stations)
    rows = rows.append_column("loaded_at", pa.array([dt.datetime.now(dt.UTC).replace(tzinfo=None)] * len(rows),
                                                    pa.timestamp("us")))
    with warehouse.transaction() as tx:
        tx.execute(f"DELETE FROM {TABLE}")
        if len(rows):
            tx.insert_arrow(TABLE, rows, [*COLUMNS, "loaded_at"])
    return {str(k): int(v) for k, v in stations.table["service"].value_counts().sort_index().items()}


def stored_stations(warehouse: Warehouse) -> Stations:
    """The stored estate; :class:`MissingDataError` saying how to load one when there is none."""
    if not warehouse.table_exists(TABLE) or not warehouse.has_rows(TABLE):
        raise MissingDataError(f"no stations in the warehouse: {HOW_TO_LOAD}")
    table = warehouse.query_arrow(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY service, station_id"
                                  ).to_pandas()
    table["pinned"] = table["pinned"].astype(bool)
    return Stations(pd.DataFrame(table, columns=COLUMNS))
