"""Turning bytes into CSV text: encodings, byte-order marks, binary and empty files."""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass

from safertogether.errors import InputFormatError

_BOM = b"\xef\xbb\xbf"
_FIRST_LINE = re.compile(r"[^\r\n]*")


@dataclass(frozen=True)
class DecodedText:
    """CSV text as UTF-8 bytes (without BOM) for vectorised parsers, and the encoding it came in.

    The text as a Python string is made only when asked for: the readers need the bytes, and a
    million-row file's string costs ~0.1 s and its size again in memory.
    """

    utf8: bytes
    encoding: str

    @functools.cached_property
    def text(self) -> str:
        return self.utf8.decode("utf-8")

    @functools.cached_property
    def plain_ascii(self) -> bool:
        """Whether the text is ASCII without the separators 0x1C-0x1F, which Unicode counts as
        whitespace and ASCII does not: then ASCII whitespace trimming gives the Unicode result,
        ~4x faster."""
        return self.utf8.isascii() and not any(c in self.utf8 for c in (b"\x1c", b"\x1d", b"\x1e", b"\x1f"))

    @property
    def first_line(self) -> str:
        end = self.utf8.find(b"\n")
        return self.utf8[: len(self.utf8) if end < 0 else end].decode("utf-8")


def decode_csv_bytes(data: bytes, name: str, expected: str) -> DecodedText:
    """Decode a CSV file's bytes; UTF-8 (with or without BOM) first, then Windows-1252.

    Spreadsheet exports are often Windows-1252; decoding them as such keeps every row rather than
    failing the file. Binary and empty files raise :class:`InputFormatError` naming what was expected.
    """
    if not data or data.isspace():  # not data.strip(): that copies the whole file
        raise InputFormatError(f"{name}: the file is empty; expected {expected}")
    if b"\x00" in data[:65536]:
        raise InputFormatError(f"{name}: this is a binary file, not CSV text; expected {expected}")
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if data.isascii():  # ASCII is UTF-8: no need to decode it to know (~20 ms rather than ~80 for 70 MB)
        return DecodedText(data, "utf-8")
    try:
        data.decode("utf-8")
        return DecodedText(data, "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return DecodedText(data.decode("cp1252").encode("utf-8"), "cp1252")
    except UnicodeDecodeError as exc:
        raise InputFormatError(
            f"{name}: not UTF-8 or Windows-1252 text (byte {exc.start}); expected {expected}"
        ) from exc


def normalise_column(name: str) -> str:
    """'LSOA code', 'lsoa_code' and ' LsoaCode' all become 'lsoa_code'.

    >>> normalise_column("Crime ID"), normalise_column("crime_id"), normalise_column("Self-defined ethnicity")
    ('crime_id', 'crime_id', 'self_defined_ethnicity')
    """
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def header_fields(text: str, name: str, expected: str, delimiter: str = ",") -> list[str]:
    """The fields of the first line; a header that is not CSV is an :class:`InputFormatError`."""
    line = _FIRST_LINE.match(text)  # not re.split: that copies the rest of the file
    first_line = line.group() if line else ""
    try:
        return next(csv.reader([first_line], delimiter=delimiter), [])
    except csv.Error as exc:
        raise InputFormatError(f"{name}: the first line is not a CSV header ({exc}); expected {expected}") from exc
