"""Warming the answer cache after start-up: the default view of every area, computed in the background.

A cold summary costs ~20 ms of CPU; fifty residents opening fifty different neighbourhoods at once
would queue for a second on two cores. Computing the default view (latest 12 months) of each area
once, biggest areas first, keeps the public page fast. Custom periods are still computed on demand.
"""

from __future__ import annotations

import gc
import logging
import threading

from safertogether.api.cache import ANSWERS, answer_key
from safertogether.api.routes.areas import map_body, map_key, summary_body, summary_key
from safertogether.disclosure.policy import Policy
from safertogether.errors import SaferError
from safertogether.store.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Most important first: a force's page, its local authorities, MSOAs, then neighbourhoods.
LEVEL_ORDER = "CASE level WHEN 'force' THEN 0 WHEN 'lad' THEN 1 WHEN 'msoa' THEN 2 ELSE 3 END"


def areas_to_warm(warehouse: Warehouse, limit: int) -> list[tuple[str, str]]:
    """(level, code) of the areas of every loaded force, most important first, at most ``limit``."""
    rows = warehouse.query(
        f"""SELECT level, code FROM areas WHERE force_id IN (SELECT DISTINCT force_id FROM force_months)
            ORDER BY {LEVEL_ORDER}, code LIMIT $limit""",
        {"limit": limit},
    )
    return [(r["level"], r["code"]) for r in rows]


def warm(warehouse: Warehouse, limit: int, policy: Policy | None = None) -> int:
    """Compute and cache the default map of each force and summary of each area; returns answers made.

    ``policy`` is the public disclosure policy: what is warmed is what the public is served.
    """
    made = 0
    for level, code in areas_to_warm(warehouse, limit):
        jobs = [(summary_key(code, None, None, policy),
                 lambda c=code: summary_body(warehouse, c, None, None, policy))]
        if level == "force":
            jobs.append((map_key(code, None, None, policy), lambda c=code: map_body(warehouse, c, None, None, policy)))
        for key, build in jobs:
            full_key = answer_key(warehouse, *key)
            if ANSWERS.get(full_key) is not None:
                continue
            try:
                ANSWERS.put(full_key, build()).gzipped()
                made += 1
            except SaferError as exc:  # e.g. an area without data: it will answer its error on demand
                log.debug("not warmed: %s: %s", key, exc)
    return made


class Warming:
    """Warming in a daemon thread, so the server answers from the first second.

    What warming builds (the area index, the cubes) lives as long as the server, so it is then
    frozen out of the garbage collector's scans, which would otherwise walk its ~150,000 objects
    again and again (cold summaries p95 93 -> 66 ms); :meth:`stop` unfreezes it, and a warming that
    ends after the server stopped freezes nothing.
    """

    def __init__(self, warehouse: Warehouse, limit: int, policy: Policy | None = None) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self.thread = threading.Thread(target=self._run, args=(warehouse, limit, policy), name="safer-warm-cache",
                                       daemon=True)
        self.thread.start()

    def _run(self, warehouse: Warehouse, limit: int, policy: Policy | None) -> None:
        warm(warehouse, limit, policy)
        with self._lock:
            if not self._stopped:
                gc.freeze()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            gc.unfreeze()
