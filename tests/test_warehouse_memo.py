"""Warehouse.memo: a memo's build may ask for another memo (it used to deadlock on one shared lock)."""

from __future__ import annotations

import threading

from safertogether.store.warehouse import open_warehouse


def test_a_memo_built_from_another_memo_answers_instead_of_hanging():
    warehouse = open_warehouse(":memory:")
    builds: list[str] = []

    def places(_w):
        builds.append("places")
        return [1, 2, 3]

    def coverage(w):
        builds.append("coverage")
        return sum(w.memo("places", places))

    answers: list[int] = []
    worker = threading.Thread(target=lambda: answers.append(warehouse.memo("coverage", coverage)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    try:
        assert not worker.is_alive(), "the nested memo deadlocked"
        assert answers == [6] and builds == ["coverage", "places"]
        assert warehouse.memo("coverage", coverage) == 6 and builds == ["coverage", "places"]  # built once
    finally:
        warehouse.close()
