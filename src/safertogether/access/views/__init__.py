"""The single view, decided: a person's, a place's or an incident's cross-agency history as one user may
see it, the review queue, and the audit log's queries; one module per face.

Every answer is built for one request (user, purpose, time): records are read, each is decided item by
item (:mod:`safertogether.access.policy`), withheld records are dropped and redacted fields named, and the
read (or its refusal) is audited before anything is returned (:mod:`.common`). No answer is cached: the
same person looks different to users with different agreements or clearances.
"""

from __future__ import annotations

from safertogether.access.views.audit import AUDIT_ROLES, break_glass_reads, own_history, who_has_seen_view
from safertogether.access.views.common import PERSON_FIELDS, agency_kinds, person_records_sql
from safertogether.access.views.incident import incident_view
from safertogether.access.views.place import place_view
from safertogether.access.views.profile import PersonView, person_profile, person_view
from safertogether.access.views.review import REVIEW_ROLES, decide_review, review_view

__all__ = ["AUDIT_ROLES", "PERSON_FIELDS", "REVIEW_ROLES", "PersonView", "agency_kinds", "break_glass_reads",
           "decide_review", "incident_view", "own_history", "person_profile", "person_records_sql", "person_view",
           "place_view", "review_view", "who_has_seen_view"]
