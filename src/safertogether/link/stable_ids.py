"""Person ids that survive relinking: an officer's note of "P0000123" still finds the same person next month.

Clustering numbers its clusters afresh on every run; this module gives each new cluster the id its
records had before. When a cluster holds records of several earlier people (a merge), the earlier
person with the most records keeps their id (the older id on a tie) and the others are recorded as
merged into it; when an earlier person's records are now in several clusters (a split), the cluster
with most of them keeps the id and the others get new ids, each recorded as split from it. Records
new to every earlier person simply take their cluster's id. Splink leaves this open; it is a greedy
maximum-overlap matching, which is what users expect: the biggest part keeps the name.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

ID_PREFIX = "P"
ID_DIGITS = 7


@dataclass(frozen=True)
class IdEvent:
    """An earlier person merged into another, a new person split from one, or records moved between two."""

    event: str  # "merged", "split" or "moved"
    person_id: str  # merged: the id that is retired; split, moved: the earlier id that lost records
    other_person_id: str  # merged: the id it lives on as; split: the new id they took; moved: the id they joined
    records: int


@dataclass
class Assignment:
    """Each record's person id after a run, with what changed."""

    person_of: dict[str, str]
    events: list[IdEvent] = field(default_factory=list)
    new_people: int = 0

    @property
    def merges(self) -> int:
        return sum(e.event == "merged" for e in self.events)

    @property
    def splits(self) -> int:
        return sum(e.event == "split" for e in self.events)


def person_number(person_id: str) -> int:
    """The number in an id of ours ("P0000123" -> 123); 0 for anything else."""
    digits = person_id[len(ID_PREFIX):]
    return int(digits) if person_id.startswith(ID_PREFIX) and digits.isdigit() else 0


def assign_person_ids(clusters: Mapping[str, str], previous: Mapping[str, str], next_number: int) -> Assignment:
    """Person ids for ``clusters`` (record -> cluster) that keep ``previous`` (record -> person id) where they can.

    Args:
        clusters: every current record's cluster, as clustering numbered it this run.
        previous: the person id of each record that had one before (records no longer present are ignored).
        next_number: the first number free for new ids (never reuse a retired id).

    Returns:
        The assignment: record -> person id, the merge and split events, and how many new people.
    """
    overlap: Counter[tuple[str, str]] = Counter()
    for record, cluster in clusters.items():
        if record in previous:
            overlap[cluster, previous[record]] += 1
    # Largest overlap first; ties to the older (smaller) id, then the cluster's name, so runs repeat exactly.
    ranked = sorted(overlap.items(), key=lambda item: (-item[1], person_number(item[0][1]), item[0][1], item[0][0]))
    id_of_cluster: dict[str, str] = {}
    holder_of_id: dict[str, str] = {}
    for (cluster, person_id), _count in ranked:
        if cluster not in id_of_cluster and person_id not in holder_of_id:
            id_of_cluster[cluster] = person_id
            holder_of_id[person_id] = cluster
    assignment = Assignment(person_of={})
    for cluster in sorted(set(clusters.values()) - set(id_of_cluster)):
        id_of_cluster[cluster] = f"{ID_PREFIX}{next_number:0{ID_DIGITS}d}"
        next_number += 1
        assignment.new_people += 1
    assignment.person_of = {record: id_of_cluster[cluster] for record, cluster in clusters.items()}
    assignment.events = _events(overlap, id_of_cluster, holder_of_id)
    return assignment


def _events(overlap: Counter[tuple[str, str]], id_of_cluster: dict[str, str],
            holder_of_id: dict[str, str]) -> list[IdEvent]:
    """Merges (an earlier id whose records all went to clusters keeping another id) and splits."""
    clusters_of_id: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
    for (cluster, person_id), count in overlap.items():
        clusters_of_id[person_id].append((cluster, count))
    events = []
    for person_id, parts in sorted(clusters_of_id.items()):
        kept = holder_of_id.get(person_id)
        for cluster, count in sorted(parts):
            if cluster == kept:
                continue
            now = id_of_cluster[cluster]
            # A retired id was merged; a kept id lost records to a new person (split) or to an earlier one (moved).
            event = "merged" if kept is None else ("moved" if now in holder_of_id else "split")
            events.append(IdEvent(event, person_id, now, count))
    return events
