"""Record linkage: people, places and incidents linked across partners' records (Splink on DuckDB or Spark).

Splink is imported only here, and only when a linkage function is first used, so the rest of the
package (and every other ``safer`` command) starts without it.

The first slice measures the engine on FEBRL, the standard synthetic benchmark::

    >>> from safertogether import link
    >>> sorted(link.FEBRL_DATASETS)
    ['febrl3', 'febrl4']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports
from safertogether.link.records import FEBRL_COLUMNS, FEBRL_DATASETS

if TYPE_CHECKING:
    from safertogether.link.benchmark import BenchmarkReport, run_benchmark
    from safertogether.link.explain import ComparisonContribution, PairExplanation, explain_pair
    from safertogether.link.incidents import link_incidents
    from safertogether.link.lookup import Candidate, PersonIndex
    from safertogether.link.model import LinkageRun, link_records
    from safertogether.link.people import explain_link, link_people
    from safertogether.link.places import link_places, place_history

__all__ = ["FEBRL_COLUMNS", "FEBRL_DATASETS", "BenchmarkReport", "Candidate", "ComparisonContribution", "LinkageRun",
           "PairExplanation", "PersonIndex", "explain_link", "explain_pair", "link_incidents", "link_people",
           "link_places", "link_records", "place_history", "run_benchmark"]

lazy_exports(globals(), {
    "BenchmarkReport": "safertogether.link.benchmark",
    "run_benchmark": "safertogether.link.benchmark",
    "ComparisonContribution": "safertogether.link.explain",
    "PairExplanation": "safertogether.link.explain",
    "explain_pair": "safertogether.link.explain",
    "link_incidents": "safertogether.link.incidents",
    "Candidate": "safertogether.link.lookup",
    "PersonIndex": "safertogether.link.lookup",
    "LinkageRun": "safertogether.link.model",
    "link_records": "safertogether.link.model",
    "explain_link": "safertogether.link.people",
    "link_people": "safertogether.link.people",
    "link_places": "safertogether.link.places",
    "place_history": "safertogether.link.places",
})
