"""Readers for the formats partners publish: each turns a file into validated rows plus quarantine.

Readers never write to the warehouse; they hand a :class:`ParsedFile` to ``store``.
"""

from safertogether.sources.files import SourceFile, expand_paths
from safertogether.sources.parsed import ParsedFile

__all__ = ["ParsedFile", "SourceFile", "expand_paths"]
