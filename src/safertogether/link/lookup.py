"""Real-time lookup: from a call handler's details, the candidate people and their records across agencies.

Splink scores new records with SQL per query (``predict_between``: 0.44 s at a million records). Here the
prepared records are held in memory once per process (:meth:`PersonIndex.build`), keyed by the model's
blocking rules plus a few keys for what a caller gets wrong (a name that sounds right but is spelt wrong, an
address without its postcode); the candidates are scored with the trained model's own levels and weights
(:mod:`safertogether.link.lookup_scoring`), so a query's score against a record is Splink's score for that
pair. A detail the caller does not give falls in the comparison's null level and weighs nothing.

People are the latest ``safer link run``'s person ids; a person's score is their best record's, and every
record of theirs is listed. Records imported since the last run stand alone (no person id).

The index holds every person record of the warehouse in this process's memory, for whoever calls it: the
API must put access control in front of it (the sharing-and-audit issue), never a cache keyed by query.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

import duckdb
import numpy as np
import pyarrow as pa

from safertogether.errors import BadRequestError, MissingDataError
from safertogether.link.encoded_records import EncodedColumn, encode_column
from safertogether.link.explain import ComparisonContribution, PairExplanation
from safertogether.link.lookup_blocking import BlockingKey, KeyIndex, keys_from_rules
from safertogether.link.lookup_scoring import ModelScorer, PairScores, scorer_from_model
from safertogether.link.pair_conditions import QueryPairs
from safertogether.link.partners import SOURCE_COLUMNS, SOURCE_TABLE, person_input_sql, record_key_sql
from safertogether.link.prepare_one import prepare_person

if TYPE_CHECKING:
    from safertogether.store.warehouse import Warehouse

#: Keys beyond the model's blocking rules, for what a caller gets wrong (same columns as the rules' SQL).
LOOKUP_KEYS: Final[dict[str, str]] = {
    "names_sound_alike": "l.forename_sound = r.forename_sound AND l.surname_sound = r.surname_sound",
    # A typo can change a name's sound too ("Jwck" is J000, "Jack" J200): one name exactly, the other's initial.
    "forename_surname_initial": "l.forename = r.forename AND l.surname_initial = r.surname_initial",
    "surname_forename_initial": "l.surname = r.surname AND l.forename_initial = r.forename_initial",
    "street_house": "l.street = r.street AND l.house = r.house",
    "surname_postcode": "l.surname = r.surname AND l.postcode = r.postcode",
    # Keys the person model's blocking dropped or narrowed at a million records (person_model.BLOCKING_RULES),
    # so the lookup finds what it found before: a batch run pays for every pair they add, a query only for its
    # own few candidates. (A lookup key ignores a rule's IS NULL tests: both names is one key.)
    "birth_initial": "l.date_of_birth = r.date_of_birth AND l.forename_initial = r.forename_initial",
    "birth_postcode": "l.date_of_birth = r.date_of_birth AND l.postcode = r.postcode",
    "names": "l.forename = r.forename AND l.surname = r.surname",
    "any_names_swapped": "l.forename = r.surname AND l.surname = r.forename",
    "day_month_swapped_surname_initial": ("l.dob_year = r.dob_year AND l.dob_month = r.dob_day "
                                          "AND l.dob_day = r.dob_month AND l.surname_initial = r.surname_initial"),
}
SHOWN_COLUMNS: Final = ("record_key", "agency", "record_id", "person_id", "shown_forename", "shown_surname",
                        "shown_date_of_birth", "shown_address", "shown_postcode")
_TITLES: Final = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "rev"}
_POSTCODE_AT_END: Final = re.compile(r"[,\s]*\b([A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2})\s*$")


def soundex(name: str) -> str | None:
    """American Soundex of a name's letters ("smith" and "smyth" are S530); None when it has no letters."""
    letters = [c for c in name.lower() if "a" <= c <= "z"]
    if not letters:
        return None
    groups = ("bfpv", "cgjkqsxz", "dt", "l", "mn", "r")
    digit = {c: str(i + 1) for i, group in enumerate(groups) for c in group}
    code, last = letters[0].upper(), digit.get(letters[0], "")
    for c in letters[1:]:
        d = digit.get(c, "")
        if d and d != last:
            code += d
        if c not in "hw":
            last = d
    return (code + "000")[:4]


#: Columns derived in memory from a prepared column: name -> (source column, function of its value).
DERIVED_COLUMNS: Final = {"forename_sound": ("forename", soundex), "surname_sound": ("surname", soundex),
                          "forename_initial": ("forename", lambda name: name[:1] or None),
                          "surname_initial": ("surname", lambda name: name[:1] or None)}


def with_derived_columns(prepared: dict[str, str | None]) -> dict[str, str | None]:
    """A prepared record with :data:`DERIVED_COLUMNS` added, as the index derives them for its records."""
    derived = {name: function(prepared[column]) if prepared.get(column) else None  # type: ignore[arg-type]
               for name, (column, function) in DERIVED_COLUMNS.items()}
    return {**prepared, **derived}


@dataclass(frozen=True)
class LinkedRecord:
    """One record of a candidate person, as the agency holds it, with its score against the query."""

    record_key: str
    agency: str
    record_id: str
    forename: str | None
    surname: str | None
    date_of_birth: str | None
    address: str | None
    postcode: str | None
    match_weight: float
    match_probability: float


@dataclass(frozen=True)
class Candidate:
    """A person who may be the caller: their best record's score, all their records, and why the best scored.

    ``explanation`` is None when the lookup was asked without one (an explanation names the record's values).
    """

    person_id: str | None
    match_weight: float
    match_probability: float
    records: tuple[LinkedRecord, ...]
    explanation: PairExplanation | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RankedRecords:
    """The people a query chose, as places in the index: every record of theirs, person by person in rank
    order and each person's best first, with its weight; person ``i`` holds ``positions[bounds[i]:bounds[i + 1]]``."""

    positions: np.ndarray
    weights: np.ndarray
    bounds: np.ndarray
    #: Each record's contribution per comparison (:attr:`PairScores.parts`), for :meth:`PersonIndex.rescore`.
    parts: np.ndarray
    #: The prepared query they were scored against.
    query: dict[str, str | None]

    @property
    def people(self) -> int:
        return len(self.bounds) - 1


@dataclass(frozen=True)
class LookupQuery:
    """The details a call handler has, split into the fields records are prepared from."""

    forename: str | None = None
    surname: str | None = None
    date_of_birth: dt.date | None = None
    address: str | None = None
    postcode: str | None = None

    @classmethod
    def parse(cls, name: str | None = None, dob: str | dt.date | None = None, address: str | None = None,
              postcode: str | None = None, forename: str | None = None, surname: str | None = None) -> LookupQuery:
        """From free text: "Jane Smith" or "Smith, Jane"; a date as YYYY-MM-DD or DD/MM/YYYY; an address
        whose last part may be its postcode."""
        if name and name.strip() and not (forename or surname):
            forename, surname = split_name(name)
        address, found = _split_postcode(address)
        query = cls(_text(forename), _text(surname), parse_date_of_birth(dob), _text(address),
                    _text(postcode) or found)
        if not any(asdict(query).values()):
            raise BadRequestError("nothing to look up: give a name, a date of birth or an address")
        return query


def split_name(name: str) -> tuple[str | None, str | None]:
    """(forename, surname) of a name as said: "Smith, Jane" or "Jane Smith" (first word, the rest); titles
    are dropped, and one word alone is taken as the surname."""
    if "," in name:
        surname, _, forename = name.partition(",")
        return _text(forename), _text(surname)
    words = [w for w in name.split() if w.lower().strip(".") not in _TITLES]
    if len(words) <= 1:
        return None, _text(" ".join(words))
    return words[0], " ".join(words[1:])


def parse_date_of_birth(dob: str | dt.date | None) -> dt.date | None:
    if dob is None or isinstance(dob, dt.date):
        return dob
    text = dob.strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise BadRequestError(f"date of birth {dob!r} is not a date: give it as YYYY-MM-DD or DD/MM/YYYY "
                          "(e.g. 1984-03-07 or 07/03/1984), or leave it out")


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _split_postcode(address: str | None) -> tuple[str | None, str | None]:
    if not address:
        return address, None
    found = _POSTCODE_AT_END.search(address)
    if not found or not address[:found.start()].strip():
        return address, None
    return address[:found.start()], found.group(1)


@dataclass(frozen=True)
class IndexStats:
    records: int
    people: int
    keys: int
    seconds: float
    run_id: str | None


class PersonIndex:
    """Every prepared person record in memory, keyed for lookup and scored with the latest run's model.

    Build once per process (seconds at a million records) and query many times (milliseconds each).
    """

    def __init__(self, scorer: ModelScorer, columns: dict[str, EncodedColumn], keys: list[KeyIndex],
                 shown: pa.Table, stats: IndexStats) -> None:
        self.scorer, self.columns, self.keys, self.shown, self.stats = scorer, columns, keys, shown, stats
        self.frequencies = {level.tf.column: columns[level.tf.column].frequencies()
                            for comparison in scorer.comparisons for level in comparison.levels if level.tf}
        self._person = columns["person_id"]
        #: Each record's owner agency as a code (for deciding a lookup's records per agency without reading them).
        self.agencies = encode_column(shown.column("agency"))
        self._by_person = KeyIndex.build(BlockingKey("person", ("person_id",), ("person_id",)), columns)
        # The scored columns again, record by record: a query's candidates are scattered over a million
        # records, and gathering their codes row by row touches a cache line or two per candidate where
        # one gather per column touches one per column (a third of the scoring's cost).
        self._scored = {name: j for j, name in enumerate(sorted(scorer.columns))}
        self._rows = np.stack([columns[name].codes for name in self._scored], axis=1) if self._scored else \
            np.empty((len(self._person.codes), 0), np.int32)

    @classmethod
    def build(cls, warehouse: Warehouse) -> PersonIndex:
        """The index of the warehouse's person records, with the latest ``safer link run``'s model and ids."""
        started = time.perf_counter()
        model, run_id = latest_model(warehouse)
        table = _prepared_records(warehouse)
        return cls.from_records(table, model, run_id, started)

    @classmethod
    def from_records(cls, table: pa.Table, model: dict[str, Any], run_id: str | None = None,
                     started: float | None = None) -> PersonIndex:
        """The index of prepared records (``person_input_sql``'s columns, ``person_id`` and the shown ones)."""
        started = started or time.perf_counter()
        prepared = set(table.column_names) | set(DERIVED_COLUMNS)
        scorer = scorer_from_model(model, prepared)
        rules = {f"rule_{i}": r["blocking_rule"] if isinstance(r, dict) else r
                 for i, r in enumerate(model.get("blocking_rules_to_generate_predictions", []))}
        blocking = keys_from_rules({**rules, **LOOKUP_KEYS})
        needed = scorer.columns | {c for k in blocking for c in k.record_columns} | {"person_id"}
        columns = {c: encode_column(table[c]) for c in sorted(needed) if c not in DERIVED_COLUMNS}
        for name, (source, function) in DERIVED_COLUMNS.items():
            if name in needed:
                columns[name] = (columns.get(source) or encode_column(table[source])).derive(function)
        keys = [KeyIndex.build(key, columns) for key in blocking]
        people = len(columns["person_id"].values)
        stats = IndexStats(table.num_rows, people, len(keys), 0.0, run_id)
        # One chunk per column: ``take`` over DuckDB's ~500 batches of a million rows costs half a second.
        index = cls(scorer, columns, keys, table.select(list(SHOWN_COLUMNS)).combine_chunks(), stats)
        index.stats = IndexStats(table.num_rows, people, len(keys), time.perf_counter() - started, run_id)
        return index

    def lookup(self, name: str | None = None, dob: str | dt.date | None = None, address: str | None = None,
               postcode: str | None = None, *, forename: str | None = None, surname: str | None = None,
               limit: int = 10, min_match_weight: float | None = None) -> list[Candidate]:
        """The people the details may belong to, best first.

        Args:
            name: the name as said ("Jane Smith" or "Smith, Jane"); or give ``forename`` and ``surname``.
            dob: date of birth, YYYY-MM-DD or DD/MM/YYYY (a :class:`datetime.date` too).
            address: the address as said; a postcode at its end is read as the postcode.
            postcode: the postcode, if given apart.
            limit: at most this many people.
            min_match_weight: leave out people whose best record scores below this.

        Returns:
            Candidates, best first; empty when no record shares a blocking key with the details.

        Raises:
            BadRequestError: no details at all, or a date of birth that is not a date.
        """
        return self.find(LookupQuery.parse(name, dob, address, postcode, forename, surname), limit, min_match_weight)

    def find(self, details: LookupQuery, limit: int = 10, min_match_weight: float | None = None, *,
             explain: bool = True) -> list[Candidate]:
        """:meth:`lookup` of details already parsed (:meth:`LookupQuery.parse`); without ``explain``, the
        candidates carry no explanation (a third of the work at a million records)."""
        query, positions, scores = self._scored_candidates(details, limit)
        if not len(positions):
            return []
        return self._rank(query, positions, scores, limit, min_match_weight, explain)

    def _scored_candidates(self, details: LookupQuery, limit: int) -> tuple[dict[str, str | None], np.ndarray,
                                                                             PairScores]:
        if limit < 1:
            raise BadRequestError("limit must be at least 1")
        query = self.prepare(details)
        positions = self.candidates(query)
        if not len(positions):
            return query, positions, PairScores(np.empty(0), {}, {}, np.empty((0, len(self.scorer.comparisons))))
        return query, positions, self.score(query, positions)

    def prepare(self, query: LookupQuery) -> dict[str, str | None]:
        """The query as a prepared record (as ``person_input_sql`` prepares records), with the derived columns."""
        return with_derived_columns(prepare_person(query.forename, query.surname, query.date_of_birth, query.address,
                                                   query.postcode))

    def candidates(self, query: dict[str, str | None]) -> np.ndarray:
        """Positions of the records sharing at least one blocking key with the query."""
        found = [index.probe([self.columns[r].code(query.get(q))
                              for r, q in zip(index.key.record_columns, index.key.query_columns, strict=True)])
                 for index in self.keys]
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int32)

    def score(self, query: dict[str, str | None], positions: np.ndarray) -> PairScores:
        """The model's score of the query against each record at ``positions`` (Splink's match_weight)."""
        pairs = QueryPairs(self.columns, positions, query).prefetch(self._rows[positions], self._scored)
        return self.scorer.score(pairs, self.columns, self.frequencies)

    def rank(self, details: LookupQuery, limit: int) -> RankedRecords:
        """:meth:`find`'s choice of people as places in the index, without building the answer: for callers
        that decide what to show before anything is read out (the access-controlled lookup)."""
        query, positions, scores = self._scored_candidates(details, limit)
        return self._ranked(query, positions, scores, limit, None, explain=False)[0]

    def rescore(self, ranked: RankedRecords, places: np.ndarray, query: LookupQuery) -> np.ndarray:
        """The weights of ``ranked``'s records at ``places`` against ``query``, a variant of the details they
        were ranked on (some left out): only the comparisons reading what changed are evaluated again."""
        prepared = self.prepare(query)
        changed = {c for c in prepared.keys() | ranked.query.keys() if prepared.get(c) != ranked.query.get(c)}
        positions = ranked.positions[places].astype(np.int32)
        pairs = QueryPairs(self.columns, positions, prepared).prefetch(self._rows[positions], self._scored)
        return self.scorer.rescore(pairs, self.columns, self.frequencies, ranked.parts[places], changed)

    def _rank(self, query: dict[str, str | None], positions: np.ndarray, scored: PairScores, limit: int,
              min_match_weight: float | None, explain: bool = True) -> list[Candidate]:
        ranked, within, scores = self._ranked(query, positions, scored, limit, min_match_weight, explain)
        if not ranked.people:
            return []
        taken = self.shown.take(pa.array(ranked.positions))
        shown = {name: taken.column(name).to_pylist() for name in SHOWN_COLUMNS}
        values, places, bounds = ranked.weights.tolist(), ranked.positions.tolist(), ranked.bounds.tolist()
        return [self._candidate(query, range(start, end), values, places, shown, scores, int(within[start]))
                for start, end in zip(bounds[:-1], bounds[1:], strict=True)]

    def _ranked(self, query: dict[str, str | None], positions: np.ndarray, scored: PairScores, limit: int,
                min_match_weight: float | None, explain: bool) -> tuple[RankedRecords, np.ndarray, PairScores | None]:
        """The chosen people's records in rank order; with where each came from in the scored batch and that
        batch's scores (``explain``: for the explanations)."""
        weights = scored.match_weight
        order = np.argsort(-weights, kind="stable")
        people = self._person.codes[positions[order]]
        # A record without a person id (imported since the last run) is a person of its own.
        people = np.where(people >= 0, people, -2 - positions[order])
        _, first = np.unique(people, return_index=True)
        best = order[np.sort(first)]
        if min_match_weight is not None:
            best = best[weights[best] >= min_match_weight]
        best = positions[best[:limit]]
        # Every record of the chosen people, scored in one go: those no key found are listed too.
        groups = self._records_of(best)
        if not groups:
            empty = RankedRecords(np.empty(0, np.int32), np.empty(0), np.zeros(1, np.int64),
                                  np.empty((0, len(self.scorer.comparisons))), query)
            return empty, np.empty(0, np.int64), None
        everyone = np.concatenate(groups)
        scores = self.score(query, everyone) if explain else None
        everyone_weights, parts = (scores.match_weight, scores.parts) if scores is not None else \
            self._weights_of(query, everyone, positions, scored)
        # Each person's records best first (ties in index order), all people sorted in one go.
        sizes = [len(g) for g in groups]
        within = np.lexsort((-everyone_weights, np.repeat(np.arange(len(groups)), sizes)))
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return RankedRecords(everyone[within], everyone_weights[within], bounds, parts[within], query), within, scores

    def _weights_of(self, query: dict[str, str | None], wanted: np.ndarray, positions: np.ndarray,
                    scored: PairScores) -> tuple[np.ndarray, np.ndarray]:
        """The weights and parts of the records at ``wanted``: those among ``positions`` (sorted, scored as
        ``scored``) as scored, the rest now."""
        at = np.minimum(np.searchsorted(positions, wanted), len(positions) - 1)
        known = positions[at] == wanted
        weights, parts = np.where(known, scored.match_weight[at], 0.0), scored.parts[at]
        if not known.all():
            rest = self.score(query, wanted[~known])
            weights[~known], parts[~known] = rest.match_weight, rest.parts
        return weights, parts

    def _records_of(self, positions: np.ndarray) -> list[np.ndarray]:
        """Every record of the person of each record at ``positions`` (one without a person id: itself)."""
        codes = self._person.codes[positions]
        found = self._by_person.probe_each(codes)
        return [records if code >= 0 else positions[i:i + 1].astype(np.int32)
                for i, (records, code) in enumerate(zip(found, codes.tolist(), strict=True))]

    def _candidate(self, query: dict[str, str | None], places: range, weights: list[float], positions: list[int],
                   shown: dict[str, list[Any]], scores: PairScores | None, scored_at: int) -> Candidate:
        """One person from their records' places in the ranked records (``places``, best first); the best is
        at ``scored_at`` in ``scores``' batch."""
        linked = tuple(LinkedRecord(shown["record_key"][i], shown["agency"][i], shown["record_id"][i],
                                    shown["shown_forename"][i], shown["shown_surname"][i],
                                    shown["shown_date_of_birth"][i], shown["shown_address"][i],
                                    shown["shown_postcode"][i], weights[i], match_probability(weights[i]))
                       for i in places)
        top, first = linked[0], places[0]
        explanation = None if scores is None else self._explanation(query, scores, scored_at, positions[first],
                                                                    top.record_key)
        return Candidate(self.person_id(positions[first]), top.match_weight, top.match_probability, linked,
                         explanation)

    def person_id(self, position: int) -> str | None:
        """The person id of the record at ``position`` (None: imported since the last linkage run)."""
        code = int(self._person.codes[position])
        return None if code < 0 else str(self._person.values[code])

    def explain(self, query: dict[str, str | None], position: int, record_key: str) -> PairExplanation:
        """Each comparison's level and weight for the query against one record (they add up to its score)."""
        return self._explanation(query, self.score(query, np.array([position], np.int32)), 0, position, record_key)

    def _explanation(self, query: dict[str, str | None], scores: PairScores, i: int, position: int,
                     record_key: str) -> PairExplanation:
        steps = []
        for comparison in self.scorer.comparisons:
            level = comparison.levels[int(scores.levels[comparison.name][i])]
            left = ", ".join(self._value(c, position) or "-" for c in comparison.columns)
            right = ", ".join(query.get(c) or "-" for c in comparison.columns)
            steps.append(ComparisonContribution(comparison.name, level.label, level.match_weight, left, right,
                                                level.m_probability, level.u_probability, False))
            if level.tf is not None:
                steps.append(ComparisonContribution(
                    comparison.name, f"term frequency adjustment on {level.tf.column}",
                    float(scores.tf_adjustments[comparison.name][i]), self._value(level.tf.column, position) or "-",
                    query.get(level.tf.column) or "-", None, None, True))
        weight = float(scores.match_weight[i])
        return PairExplanation(record_key, "query", self.scorer.prior_match_weight, weight, match_probability(weight),
                               tuple(steps))

    def _value(self, column: str, position: int) -> str | None:
        encoded = self.columns[column]
        code = int(encoded.codes[position])
        return None if code < 0 else str(encoded.values[code])

    @property
    def nbytes(self) -> int:
        """Memory held by the index (columns, keys and the shown records), roughly."""
        return (sum(c.nbytes for c in self.columns.values()) + sum(k.nbytes for k in self.keys)
                + self.shown.nbytes + self._by_person.nbytes)


def match_probability(match_weight: float) -> float:
    return 1.0 / (1.0 + math.pow(2.0, -match_weight)) if match_weight >= 0 else \
        math.pow(2.0, match_weight) / (1.0 + math.pow(2.0, match_weight))


def latest_model(warehouse: Warehouse) -> tuple[dict[str, Any], str | None]:
    """The trained model of the latest linkage run (``link_runs.model_json``) and that run's id."""
    how = "link the records first: `safer link run`"
    if not warehouse.has_rows("link_runs"):
        raise MissingDataError(f"no linkage run in the warehouse, so no model to score a lookup with; {how}")
    row = warehouse.row("SELECT run_id, model_json FROM link_runs WHERE model_json IS NOT NULL "
                        "ORDER BY run_id DESC LIMIT 1")
    if row is None:
        raise MissingDataError("no linkage run in the warehouse has stored its model; run `safer link run --full`")
    return json.loads(row[1]), None if row[0] is None else str(row[0])


def _prepared_records(warehouse: Warehouse) -> pa.Table:
    """Every person record prepared for linkage, with its person id (latest run naming it) and shown fields."""
    warehouse.require(SOURCE_TABLE, "person records", "safer import partner MAPPING.yaml")
    raw = warehouse.query_arrow(f"SELECT {', '.join(SOURCE_COLUMNS)} FROM {SOURCE_TABLE}")
    ids = warehouse.query_arrow("SELECT record_key, person_id FROM person_ids")
    connection = duckdb.connect()
    connection.register("raw_people", raw)
    connection.register("person_ids", ids)
    try:
        return connection.sql(f"""
            SELECT p.* REPLACE (array_to_string(list_sort(list_distinct(p.forename_names)), '|') AS forename_names),
                   p.unique_id AS record_key, r.record_id, CAST(i.person_id AS VARCHAR) AS person_id,
                   r.forename AS shown_forename, r.surname AS shown_surname,
                   strftime(r.date_of_birth, '%Y-%m-%d') AS shown_date_of_birth, r.address AS shown_address,
                   r.postcode AS shown_postcode
            FROM ({person_input_sql('raw_people')}) p
            JOIN raw_people r ON p.unique_id = {record_key_sql('r')}
            LEFT JOIN person_ids i ON i.record_key = p.unique_id""").to_arrow_table()
    finally:
        connection.close()
