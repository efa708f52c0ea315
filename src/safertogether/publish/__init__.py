"""Public datasets: every table anyone may download, made from disclosure-controlled cells only.

:mod:`.registry` lists the datasets (other capabilities, such as the Community Safety Index, register
theirs); :mod:`.writer` writes them as CSV and GeoJSON per area level with a manifest.
"""

from __future__ import annotations

from safertogether.publish.registry import DATASETS, PublicDataset, register
from safertogether.publish.writer import PublishResult, publish

__all__ = ["DATASETS", "PublicDataset", "PublishResult", "publish", "register"]
