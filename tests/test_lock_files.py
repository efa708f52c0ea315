"""Lock files pin by hash and record no addresses (the registries a machine uses are its own business)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCKS = [REPO / p for p in subprocess.run(["git", "ls-files", "*requirements*.lock", "*package-lock.json"],
                                          cwd=REPO, capture_output=True, text=True, check=True).stdout.split()]


def test_there_are_lock_files_to_check():
    assert {p.name for p in LOCKS} >= {"requirements.lock", "package-lock.json"}


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_lock_file_records_no_address(lock):
    found = re.findall(r"[a-z+]+://\S+", lock.read_text(encoding="utf-8"))
    assert not found, f"{lock.name} records addresses: {found[:3]}"
