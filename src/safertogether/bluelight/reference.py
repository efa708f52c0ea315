"""The reference travel-time matrix: real road times from every LSOA to the hospitals, in long form.

The matrix (one row per LSOA named by its *name*, one column per hospital postcode, minutes) is what
every travel-time model here is calibrated and checked against. It is joined to the LSOA -> ambulance
service lookup (the ``ambo22`` region each LSOA is held out by), the LSOAs' British National Grid
centroids and the hospitals' coordinates, so each pair carries both ends' positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from safertogether.errors import InputFormatError


@dataclass(frozen=True)
class ReferencePaths:
    """Where the reference files are (the shared data's ``blue-light/ambulance`` layout by default)."""

    matrix: Path
    lookup: Path
    hospitals: Path

    @classmethod
    def in_folder(cls, folder: str | Path) -> ReferencePaths:
        folder = Path(folder)
        return cls(folder / "lsoa_travel_time_matrix_calibrated.csv", folder / "lsoa_ambo_lookup.csv",
                   folder / "unit_postcodes_coords.csv")


@dataclass
class ReferencePairs:
    """LSOA-hospital pairs with their real travel time (minutes) and both ends' positions (metres, BNG)."""

    lsoa: np.ndarray        # LSOA code per pair
    region: np.ndarray      # ambo22 code per pair
    hospital: np.ndarray    # hospital postcode per pair
    origin: np.ndarray      # (n, 2) easting, northing of the LSOA centroid
    destination: np.ndarray  # (n, 2) of the hospital
    minutes: np.ndarray

    def __len__(self) -> int:
        return len(self.minutes)

    @property
    def km(self) -> np.ndarray:
        return np.hypot(*(self.origin - self.destination).T) / 1000.0

    def subset(self, keep: np.ndarray) -> ReferencePairs:
        return ReferencePairs(self.lsoa[keep], self.region[keep], self.hospital[keep], self.origin[keep],
                              self.destination[keep], self.minutes[keep])


def _read_csv(path: Path, what: str, needed: set[str], **options: object) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, **options)  # type: ignore[call-overload]
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise InputFormatError(f"{path}: cannot be read as {what} ({exc})") from exc
    missing = needed - set(frame.columns)
    if missing:
        raise InputFormatError(f"{path}: not {what}: no column {', '.join(sorted(missing))}")
    return frame


def read_hospitals(path: Path) -> pd.DataFrame:
    """Hospital postcode -> BNG easting, northing."""
    frame = _read_csv(path, "hospital coordinates (postcode, BNG_E, BNG_N)", {"postcode", "BNG_E", "BNG_N"})
    return frame.drop_duplicates("postcode").set_index("postcode")[["BNG_E", "BNG_N"]].astype(float)


def read_reference(paths: ReferencePaths, centroids: pd.DataFrame) -> ReferencePairs:
    """Every pair of the matrix whose LSOA, region and hospital are all known.

    ``centroids`` is indexed by LSOA code with ``easting`` and ``northing`` columns.
    """
    lookup = _read_csv(paths.lookup, "an LSOA -> ambulance service lookup", {"LSOA11NM", "LSOA11CD", "ambo22"},
                       dtype=str)
    hospitals = read_hospitals(paths.hospitals)
    matrix = _read_csv(paths.matrix, "an LSOA x hospital travel-time matrix", {"LSOA"}, index_col=None)
    matrix = matrix.merge(lookup[["LSOA11NM", "LSOA11CD", "ambo22"]], left_on="LSOA", right_on="LSOA11NM")
    matrix = matrix[matrix["LSOA11CD"].isin(centroids.index)]
    columns = [c for c in matrix.columns if c in hospitals.index]
    if not columns:
        raise InputFormatError(f"{paths.matrix}: no column is a hospital postcode of {paths.hospitals}")
    times = matrix[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    rows, cols = np.nonzero(np.isfinite(times))
    ends = centroids.loc[matrix["LSOA11CD"].to_numpy(), ["easting", "northing"]].to_numpy(dtype=float)
    sites = hospitals.loc[columns].to_numpy(dtype=float)
    return ReferencePairs(
        lsoa=matrix["LSOA11CD"].to_numpy()[rows], region=matrix["ambo22"].to_numpy()[rows],
        hospital=np.asarray(columns)[cols], origin=ends[rows], destination=sites[cols], minutes=times[rows, cols],
    )
