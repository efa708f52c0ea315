"""Prepared person records held in memory as dictionary-encoded columns, for the real-time lookup.

A million records kept as Python strings take over a gigabyte; as codes (int32, -1 for NULL) into one
array of distinct values per column they take a few megabytes per column. Equality becomes an integer
comparison, a string similarity is computed once per distinct value among the candidates, and a term
frequency is a count of codes, so the encoding is what makes scoring thousands of candidates cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: The code of NULL; a query value the records never hold gets :data:`ABSENT`, which equals no code.
NULL_CODE = -1
ABSENT = -2


@dataclass(frozen=True)
class EncodedColumn:
    """One column of the records: each record's code, and the distinct values the codes point into."""

    codes: np.ndarray
    values: np.ndarray
    code_of: dict[str, int]

    def code(self, value: str | None) -> int:
        """The code of a query's value: :data:`NULL_CODE` for None, :data:`ABSENT` when no record has it."""
        return NULL_CODE if value is None else self.code_of.get(value, ABSENT)

    def frequencies(self) -> np.ndarray:
        """Each distinct value's share of the non-NULL records (Splink's term frequency, ``count / count(col)``)."""
        present = self.codes[self.codes >= 0]
        return np.bincount(present, minlength=len(self.values)) / float(len(present) or 1)

    def derive(self, function: Callable[[str], str | None]) -> EncodedColumn:
        """A column of ``function`` of each value (a sound-alike code...), computed once per distinct value."""
        derived = [function(value) for value in self.values]
        distinct = sorted({value for value in derived if value})
        code_of = {value: code for code, value in enumerate(distinct)}
        mapping = np.array([code_of[v] if v else NULL_CODE for v in derived] + [NULL_CODE], dtype=np.int32)
        # codes of NULL (-1) index the appended NULL_CODE at the end of ``mapping``.
        return EncodedColumn(mapping[self.codes], np.array(distinct, dtype=object), code_of)

    @cached_property
    def integers(self) -> tuple[np.ndarray, np.ndarray]:
        """Each distinct value as an integer (SQL's ``CAST(x AS INTEGER)`` of digits, e.g. a birth year), and
        whether it is one: worked out once, not per query (a lookup reads a few hundred years and days)."""
        numbers = np.zeros(len(self.values), float)
        valid = np.zeros(len(self.values), bool)
        for code, value in enumerate(self.values):
            try:
                numbers[code], valid[code] = int(value), True
            except ValueError:
                continue
        return numbers, valid

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + sum(len(v) + 50 for v in self.values) * 2)


def encode_column(column: pa.Array | pa.ChunkedArray) -> EncodedColumn:
    """Dictionary-encode an Arrow string column (NULL stays NULL, as code -1)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column.cast(pa.string()))
    codes = encoded.indices.fill_null(NULL_CODE).to_numpy(zero_copy_only=False).astype(np.int32)
    values = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    return EncodedColumn(codes, values, {value: code for code, value in enumerate(values)})
