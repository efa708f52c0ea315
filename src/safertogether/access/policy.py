"""Access decisions on person data: deny by default, per data category of each record, by Cedar policies.

A record is split into items, one per data category of its fields (``categories.yaml``: identity,
contact, and the category that being in this agency's records falls in, e.g. health for an ambulance
patient). Each item is one Cedar request (``policies.cedar``): the user, the item (owner agency,
category, classification) and the context (stated purpose, today, a candidate sharing agreement, an
emergency reason). An item is shown if some policy permits it and none forbids it; the fields of a
denied item are redacted and named, and a record with no item shown is left out altogether (its
existence would itself say something, e.g. that the police hold a record of the person).

Why Cedar (``cedarpy``): policies are data a Data Protection Officer can read, are analysable, and are
evaluated by the reference implementation in Rust.

What is kept between requests: decisions, never records. A decision depends on the owner agency and the
category of an item and on the request's inputs (the user entity, the purpose, the day, break glass or
not, the agreements in force), not on the person; each (owner, category) is asked of Cedar once per such
key and the grant kept under it (:meth:`AccessPolicy._grants`). A caller lookup touches ~85 records of
five agencies: without the cache each lookup cost a Cedar batch (~3 ms of CPU); with it, a few dict reads.
Every record is still split into its fields and redacted per request.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, Final

import yaml

from safertogether.errors import AccessDeniedError
from safertogether.model.access import CLEARANCE_LEVEL, PURPOSES, SharingAgreement, User

#: An emergency read must say why, in words: a reason shorter than this is refused.
MIN_EMERGENCY_REASON: Final = 20
_EPOCH: Final = dt.date(1970, 1, 1)
#: Decision keys (user, purpose, day, agreements) kept per policy before the lot is dropped and decided anew.
MAX_DECISION_KEYS: Final = 20_000
#: Which policy permitted an item ("own-agency", "sharing-agreement", "break-glass") and under which agreement.
Grant = tuple[str, str | None]


@dataclass(frozen=True)
class AccessRequest:
    """Who asks, why, and when; ``emergency_reason`` asks for break-glass access (purpose emergency-response)."""

    user: User
    purpose: str
    today: dt.date = field(default_factory=dt.date.today)
    emergency_reason: str | None = None


@dataclass(frozen=True)
class RecordView:
    """What the user may see of one record: the visible fields, and the names of those withheld."""

    record_key: str
    agency: str
    fields: dict[str, Any]
    redacted: tuple[str, ...]
    agreements: tuple[str, ...]
    break_glass: bool


@dataclass(frozen=True)
class Decisions:
    """The views of the records the user may see, and what was withheld (for the audit log, never the user)."""

    views: list[RecordView]
    withheld_records: tuple[str, ...]
    break_glass: bool

    @property
    def redacted_fields(self) -> dict[str, tuple[str, ...]]:
        return {v.record_key: v.redacted for v in self.views if v.redacted}


@dataclass(frozen=True)
class _Shape:
    """How a record of one owner agency with one set of fields is seen: the fields shown and withheld."""

    shown: tuple[str, ...]
    redacted: tuple[str, ...]
    agreements: tuple[str, ...]
    break_glass: bool


@dataclass(frozen=True)
class Categories:
    """Fields -> data categories, each agency kind's involvement category, and each category's classification."""

    fields: Mapping[str, str]
    involvement: Mapping[str, str]
    classification: Mapping[str, str]

    def of_field(self, name: str, agency_kind: str) -> str | None:
        category = self.fields.get(name)
        if category == "involvement":
            return self.involvement.get(agency_kind, self.involvement.get("other", "other"))
        return category


class AccessPolicy:
    """The policies and categories, and the decisions they make for a request over some records."""

    def __init__(self, policies: str, categories: Categories) -> None:
        self.policies = policies
        self.categories = categories
        self._decided: dict[tuple[Any, ...], dict[tuple[str, str], Grant | None]] = {}
        self._decided_lock = threading.Lock()

    @classmethod
    @functools.cache
    def default(cls) -> AccessPolicy:
        """The packaged ``policies.cedar`` and ``categories.yaml``, read and parsed once per process."""
        package = resources.files("safertogether.access")
        loaded = yaml.safe_load(package.joinpath("categories.yaml").read_text(encoding="utf-8"))
        return cls(package.joinpath("policies.cedar").read_text(encoding="utf-8"),
                   Categories(loaded["fields"], loaded["involvement"], loaded["classification"]))

    @cached_property
    def _policy_set(self) -> Any:
        import cedarpy

        return cedarpy.PolicySet.from_str(self.policies)

    @cached_property
    def _policy_names(self) -> dict[str, str]:
        """Cedar's positional policy ids ("policy2") -> the policies' ``@id`` names ("break-glass")."""
        import json

        import cedarpy

        static = json.loads(cedarpy.policies_to_json_str(self.policies))["staticPolicies"]
        return {key: policy.get("annotations", {}).get("id", key) for key, policy in static.items()}

    def forget_decisions(self) -> None:
        """Drop every decision kept (they are kept per request's inputs; see :meth:`_grants`)."""
        with self._decided_lock:
            self._decided.clear()

    def decide(self, request: AccessRequest, records: Sequence[Mapping[str, Any]], agency_kinds: Mapping[str, str],
               agreements: Iterable[SharingAgreement]) -> Decisions:
        """What ``request.user`` may see of ``records`` (dicts with ``agency``, ``record_key`` and fields).

        Raises:
            AccessDeniedError: no purpose, an unknown purpose, or an emergency without a written reason.
        """
        check_request(request)
        candidates = _in_force_candidates(agreements, request.user.agency)
        items = {(r["agency"], category) for r in _distinct_shapes(records)
                 for category in self._record_categories(r, agency_kinds)}
        return self._views(records, agency_kinds, self._grants(request, items, candidates))

    def _grants(self, request: AccessRequest, items: set[tuple[str, str]],
                candidates: Mapping[str, list[SharingAgreement]]) -> dict[tuple[str, str], Grant | None]:
        """The grant (policy, agreement) of each (owner agency, category), or None where denied.

        A decision depends on the owner agency and the category, not on the record: it is asked once per
        pair, and kept under a key made of every input the Cedar request is built from (the user entity:
        id, agency, role, clearance; the purpose, the day, whether glass is broken; the agreements in
        force for the user's agency, every attribute). What is kept is a decision, never person data; a
        change to any input is a new key, and a new day starts afresh.
        """
        key = _decision_key(request, candidates)
        with self._decided_lock:
            held = self._decided.get(key)
            if held is None:
                if len(self._decided) >= MAX_DECISION_KEYS:
                    self._decided.clear()
                held = self._decided[key] = {}
            missing = items - held.keys()
        if missing:
            decided = self._ask_cedar(request, missing, candidates)
            with self._decided_lock:
                held.update(decided)
        return held

    def _ask_cedar(self, request: AccessRequest, items: set[tuple[str, str]],
                   candidates: Mapping[str, list[SharingAgreement]]) -> dict[tuple[str, str], Grant | None]:
        import cedarpy

        entities = self._entities(request.user, items, candidates)
        requests = [self._request(request, owner, category, agreement)
                    for owner, category in sorted(items) for agreement in (None, *candidates.get(owner, ()))]
        results = cedarpy.is_authorized_batch(requests, self._policy_set, entities) if requests else []
        allowed: dict[tuple[str, str], Grant | None] = dict.fromkeys(items)
        for asked, result in zip(requests, results, strict=True):
            if result.decision == cedarpy.Decision.Allow:
                owner, category, agreement = asked["correlation_id"].split("\x1f")
                names = sorted((self._policy_names.get(r, r) for r in result.diagnostics.reasons),
                               key=lambda name: name == "break-glass")  # glass is broken only if nothing else permits
                grant = (names[0] if names else "", agreement or None)
                held = allowed.get((owner, category))
                if held is None or (held[0] == "break-glass" and grant[0] != "break-glass"):
                    allowed[owner, category] = grant
        return allowed

    def _record_categories(self, record: Mapping[str, Any], agency_kinds: Mapping[str, str]) -> set[str]:
        kind = agency_kinds.get(record["agency"], "other")
        return {c for name in record if (c := self.categories.of_field(name, kind)) is not None}

    def _views(self, records: Sequence[Mapping[str, Any]], agency_kinds: Mapping[str, str],
               allowed: Mapping[tuple[str, str], Grant | None]) -> Decisions:
        """Each record as the grants let it be seen; the fields to show and withhold are worked out once per
        owner agency and set of fields, then applied to every record of that shape."""
        views, withheld = [], []
        shapes: dict[tuple[str, tuple[str, ...]], _Shape] = {}
        for record in records:
            shape_key = (record["agency"], tuple(record))
            shape = shapes.get(shape_key)
            if shape is None:
                shape = shapes[shape_key] = self._shape(record["agency"], shape_key[1], agency_kinds, allowed)
            if shape.shown:
                views.append(RecordView(record["record_key"], record["agency"],
                                        {name: record[name] for name in shape.shown}, shape.redacted,
                                        shape.agreements, shape.break_glass))
            else:
                withheld.append(record["record_key"])
        return Decisions(views, tuple(withheld), any(v.break_glass for v in views))

    def _shape(self, agency: str, names: tuple[str, ...], agency_kinds: Mapping[str, str],
               allowed: Mapping[tuple[str, str], Grant | None]) -> _Shape:
        kind = agency_kinds.get(agency, "other")
        shown, redacted, agreements, glass = [], [], set(), False
        for name in names:
            category = self.categories.of_field(name, kind)
            if category is None:
                continue
            grant = allowed.get((agency, category))
            if grant is None:
                redacted.append(name)
                continue
            shown.append(name)
            policy, agreement = grant
            glass = glass or policy == "break-glass"
            if agreement:
                agreements.add(agreement)
        return _Shape(tuple(shown), tuple(redacted), tuple(sorted(agreements)), glass)

    def _entities(self, user: User, items: set[tuple[str, str]],
                  candidates: Mapping[str, list[SharingAgreement]]) -> list[dict]:
        """The few entities the requests name (cedarpy's cost per request grows with the entity count)."""
        agencies = {user.agency, *(owner for owner, _ in items),
                    *(a.provider for group in candidates.values() for a in group)}
        entities: list[dict[str, Any]] = [{"uid": _ref("Agency", a), "attrs": {}, "parents": []} for a in agencies]
        entities.append({"uid": _ref("User", user.user_id), "parents": [], "attrs": {
            "agency": _ref("Agency", user.agency), "role": user.role, "clearance": CLEARANCE_LEVEL[user.clearance]}})
        for agreement in {a.agreement_id: a for group in candidates.values() for a in group}.values():
            entities.append({"uid": _ref("Agreement", agreement.agreement_id), "parents": [], "attrs": {
                "provider": _ref("Agency", agreement.provider), "recipient": _ref("Agency", agreement.recipient),
                "categories": list(agreement.categories), "purposes": list(agreement.purposes),
                "valid_from": _days(agreement.valid_from), "valid_to": _days(agreement.valid_to)}})
        for owner, category in items:
            level = CLEARANCE_LEVEL[self.categories.classification.get(category, "SECRET")]
            entities.append({"uid": _ref("Item", f"{owner}/{category}"), "parents": [], "attrs": {
                "owner": _ref("Agency", owner), "category": category, "classification": level}})
        return entities

    @staticmethod
    def _request(request: AccessRequest, owner: str, category: str, agreement: SharingAgreement | None) -> dict:
        context: dict[str, Any] = {"purpose": request.purpose, "today": _days(request.today)}
        if agreement is not None:
            context["agreement"] = _ref("Agreement", agreement.agreement_id)
        if request.emergency_reason:
            context["emergency_reason"] = request.emergency_reason
        # Structured ids, never Cedar text: ids come from partners' data and users.
        return {"principal": {"type": "User", "id": request.user.user_id}, "action": {"type": "Action", "id": "read"},
                "resource": {"type": "Item", "id": f"{owner}/{category}"}, "context": context,
                "correlation_id": "\x1f".join((owner, category, agreement.agreement_id if agreement else ""))}


def check_request(request: AccessRequest) -> None:
    """Refuse a request without a known purpose, or breaking glass without a written reason."""
    if not request.purpose:
        raise AccessDeniedError("state the purpose of this request: one of " + ", ".join(PURPOSES))
    if request.purpose not in PURPOSES:
        raise AccessDeniedError(f"unknown purpose {request.purpose!r}: one of " + ", ".join(PURPOSES))
    if request.emergency_reason is not None:
        if request.purpose != "emergency-response":
            raise AccessDeniedError("break-glass access is for the purpose emergency-response only")
        if len(request.emergency_reason.strip()) < MIN_EMERGENCY_REASON:
            raise AccessDeniedError(f"break-glass access needs a written reason of at least {MIN_EMERGENCY_REASON} "
                                    "characters; it is recorded and reviewed")


def _distinct_shapes(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One record for each owner agency and set of fields (their categories are the same)."""
    seen: dict[tuple[str, tuple[str, ...]], Mapping[str, Any]] = {}
    for record in records:
        seen.setdefault((record["agency"], tuple(record)), record)
    return list(seen.values())


def _decision_key(request: AccessRequest, candidates: Mapping[str, list[SharingAgreement]]) -> tuple[Any, ...]:
    """Every input a Cedar request is built from, but the item (see :meth:`AccessPolicy._grants`)."""
    user = request.user
    terms = tuple((a.agreement_id, a.version, a.provider, a.recipient, tuple(a.categories), tuple(a.purposes),
                   a.valid_from, a.valid_to) for group in candidates.values() for a in group)
    return (user.user_id, user.agency, user.role, user.clearance, request.purpose, request.today,
            request.emergency_reason is not None, terms)


def _in_force_candidates(agreements: Iterable[SharingAgreement], recipient: str) -> dict[str, list[SharingAgreement]]:
    """The latest version of each agreement to ``recipient``, by provider (the policies check dates and scope)."""
    latest: dict[str, SharingAgreement] = {}
    for agreement in agreements:
        if agreement.recipient != recipient:
            continue
        held = latest.get(agreement.agreement_id)
        if held is None or agreement.version > held.version:
            latest[agreement.agreement_id] = agreement
    by_provider: dict[str, list[SharingAgreement]] = {}
    for agreement in sorted(latest.values(), key=lambda a: a.agreement_id):
        by_provider.setdefault(agreement.provider, []).append(agreement)
    return by_provider


def _ref(kind: str, identifier: str) -> dict[str, dict[str, str]]:
    return {"__entity": {"type": kind, "id": identifier}}


def _days(day: dt.date) -> int:
    return (day - _EPOCH).days
