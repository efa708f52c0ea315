"""A source described as data: which columns a file has, what they mean, and how each is checked.

Every tabular source — police.uk's three file kinds and any partner's extract — is a
:class:`SourceSpec`, kept as a YAML (or JSON) file and read by one generic reader
(:mod:`safertogether.sources.tabular`): header names and their aliases, the type of each field,
mandatory fields, the coordinate check, code-list translations, what the file's name says, the
partition a republished file replaces and the table its rows go to. Adding a format is writing a
spec, not code. A spec is validated whole when loaded: every problem is reported together, before
any file is read.

A partner's mapping file is a spec with the file's location added (see ``safer import partner``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, model_validator

from safertogether.errors import InputFormatError
from safertogether.sources.text import normalise_column

FieldType = Literal["text", "integer", "number", "boolean", "date", "month", "timestamp", "longitude",
                    "latitude"]

#: Where an identifier must be one (it becomes a column name in SQL): lower snake_case.
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
Identifier = Annotated[str, Field(pattern=_IDENTIFIER.pattern)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Spec):
    """One field of the source: the column(s) it is read from and what a valid value is."""

    name: Identifier = Field(description="The column it is stored as")
    header: list[str] = Field(default_factory=list, description="Header names meaning this field "
                              "(compared as normalise_column makes them); default: the name")
    label: str | None = Field(None, description="How messages name the field (default: the first header)")
    type: FieldType = Field("text", description="What a value must be; an unreadable one quarantines the row")
    required: bool = Field(False, description="An empty value quarantines the row")
    unreadable_as_empty: bool = Field(False, description="Store an unreadable value as empty (NULL) rather "
                                      "than quarantining the row")
    optional_column: bool = Field(False, description="The file may lack the column altogether (then empty)")
    keep_empty: bool = Field(False, description="Keep '' as published rather than storing NULL")
    trim: bool = Field(True, description="Strip surrounding whitespace (False: free text kept as published)")
    formats: list[str] = Field(default_factory=list, description="strptime formats of a date or timestamp")
    years: tuple[int, int] | None = Field(None, description="Plausible years of a date, month or timestamp "
                                          "(the upper bound may be 0: next year)")
    codes: dict[str, str] | None = Field(None, description="Code-list translation: published -> ours; "
                                         "a value not listed quarantines the row")

    @functools.cached_property
    def headers(self) -> list[str]:
        """The header names normalised (asked for each file read: normalised once)."""
        return [normalise_column(h) for h in self.header] or [self.name]

    @property
    def shown_as(self) -> str:
        return self.label or (self.header[0] if self.header else self.name)

    @model_validator(mode="after")
    def _formats_fit_the_type(self) -> FieldSpec:
        if self.formats and self.type not in ("date", "timestamp"):
            raise ValueError(f"field '{self.name}': formats apply to date and timestamp fields only")
        if self.type in ("date", "timestamp") and not self.formats:
            raise ValueError(f"field '{self.name}': a {self.type} field needs its formats (e.g. '%d/%m/%Y')")
        return self


#: How a derived field's default must be written for its type (as the checking SQL reads it).
_DEFAULT_READERS: dict[str, Callable[[str], object]] = {
    "integer": int, "number": float, "longitude": float, "latitude": float,
    "boolean": lambda v: {"true": True, "false": False}[v.lower()],
    "month": lambda v: dt.datetime.strptime(v, "%Y-%m"),
    "date": lambda v: dt.datetime.strptime(v, "%Y-%m-%d"),
    "timestamp": lambda v: dt.datetime.strptime(v, "%Y-%m-%d %H:%M:%S"),
}
_DEFAULT_EXAMPLES: dict[str, str] = {"boolean": "true or false", "month": "2024-01", "date": "2024-01-31",
                                     "timestamp": "2024-01-31 13:45:00"}


class DerivedField(_Spec):
    """A field the rows do not carry as such: from the file's name, another field, or a named function."""

    name: Identifier
    type: FieldType = "text"
    from_file: str | None = Field(None, description="A named group of the spec's file_name pattern")
    month_of: Identifier | None = Field(None, description="Else: the month of this date or timestamp field")
    function: Literal["police_force_id"] | None = Field(
        None, description="A named function of the library applied to `argument` (vectorised, after checks)")
    argument: Identifier | None = None
    default: str | None = Field(None, description="Else: this value")
    missing_reason: str | None = Field(None, description="Quarantine a row that gets no value, with this reason")

    @model_validator(mode="after")
    def _default_is_of_the_type(self) -> DerivedField:
        read = _DEFAULT_READERS.get(self.type)
        if self.default is not None and read is not None:
            try:
                read(self.default)
            except (ValueError, KeyError):
                raise ValueError(f"derived field '{self.name}': default '{self.default}' is not a {self.type} "
                                 f"(write it as {_DEFAULT_EXAMPLES.get(self.type, 'a plain number')})") from None
        return self

    @model_validator(mode="after")
    def _has_a_source(self) -> DerivedField:
        if self.function is not None:
            if self.argument is None:
                raise ValueError(f"derived field '{self.name}': function {self.function} needs an argument")
        elif self.from_file is None and self.month_of is None and self.default is None:
            raise ValueError(f"derived field '{self.name}' needs from_file, month_of, function or default")
        return self


class Coordinates(_Spec):
    """A point given as two fields, checked together: both or neither, numbers, inside the box."""

    longitude: Identifier
    latitude: Identifier
    box: tuple[FiniteFloat, FiniteFloat, FiniteFloat, FiniteFloat] = Field((-8.75, 49.1, 1.95, 60.95),
                                                   description="west, south, east, north (default: the UK)")
    box_name: str = "the United Kingdom"


class SourceSpec(_Spec):
    """A kind of file: its fields, checks, partition and target table."""

    name: Identifier | str = Field(description="Identifier of the kind, recorded with each file")
    description: str = ""
    target: Identifier = Field(description="The warehouse table its rows go to")
    fields: list[FieldSpec]
    derived: list[DerivedField] = Field(default_factory=list)
    coordinates: Coordinates | None = None
    file_name: str | None = Field(None, description="Regular expression with named groups over the file's name")
    partition: list[Identifier] = Field(default_factory=list, description="Fields whose values a republished "
                                        "file replaces as a whole (e.g. force_id, month)")
    delimiter: Literal[",", ";", "\t", "|"] = Field(",", description="What separates fields (';' in many "
                                                    "European spreadsheet exports)")
    decimal_comma: bool = Field(False, description="Numbers are written with a decimal comma (0,56)")

    @model_validator(mode="after")
    def _names_are_consistent(self) -> SourceSpec:
        problems = []
        names = [f.name for f in self.fields] + [d.name for d in self.derived]
        problems += [f"field '{n}' is defined twice" for n in sorted({n for n in names if names.count(n) > 1})]
        known = set(names)
        for point in [self.coordinates] if self.coordinates else []:
            problems += [f"coordinates name unknown field '{n}'" for n in (point.longitude, point.latitude)
                         if n not in known]
        problems += [f"partition names unknown field '{n}'" for n in self.partition if n not in known]
        types = {f.name: f.type for f in [*self.fields, *self.derived]}
        problems += [f"partition field '{n}' is {types[n]}: partition by text, integer, date or month fields"
                     for n in self.partition if types.get(n) in ("boolean", "number", "longitude", "latitude",
                                                                 "timestamp")]
        try:
            groups = set(re.compile(self.file_name).groupindex) if self.file_name else set()
        except re.error as exc:  # not a ValueError: pydantic would let it escape as a traceback
            problems.append(f"file_name is not a regular expression: {exc}")
            groups = set()
        for derived in self.derived:
            if derived.from_file and derived.from_file not in groups:
                problems.append(f"derived field '{derived.name}' takes group '{derived.from_file}', "
                                "which file_name does not have")
            for source in (derived.month_of, derived.argument):
                if source and source not in known:
                    problems.append(f"derived field '{derived.name}' reads unknown field '{source}'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def month_fields(self) -> frozenset[str]:
        return frozenset(f.name for f in [*self.fields, *self.derived] if f.type == "month")

    @property
    def required_headers(self) -> list[FieldSpec]:
        return [f for f in self.fields if not f.optional_column]

    def matches_header(self, header: list[str]) -> bool:
        """Whether a file with this (normalised) header is of this kind."""
        present = set(header)
        return all(set(f.headers) & present for f in self.required_headers)

    def missing_headers(self, header: list[str]) -> list[str]:
        present = set(header)
        return [f.shown_as for f in self.required_headers if not set(f.headers) & present]

    def file_values(self, file_name: str) -> dict[str, str]:
        """What the file's name says (the named groups of ``file_name``), or nothing."""
        found = re.search(self.file_name, file_name) if self.file_name else None
        return {k: v for k, v in found.groupdict().items() if v is not None} if found else {}


def load_spec(path: str | Path) -> SourceSpec:
    """A spec from its YAML or JSON file; every problem in it is reported at once, naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputFormatError(f"{path}: cannot be read as a YAML or JSON source spec ({exc})") from exc
    return spec_from_data(data, str(path))


def spec_from_data(data: Any, where: str) -> SourceSpec:
    try:
        return SourceSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(spec_problems(exc))
        raise InputFormatError(f"{where}: not a valid source spec: {problems}") from exc


def spec_problems(exc: ValidationError) -> Iterator[str]:
    """Each problem of a spec that failed validation, with where in the spec it is."""
    for error in exc.errors():
        place = ".".join(str(p) for p in error["loc"])
        yield f"{place}: {error['msg']}" if place else error["msg"]
