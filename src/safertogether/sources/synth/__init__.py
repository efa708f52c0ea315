"""Synthetic partner data with hidden truth: ``safer synth partners`` (see :mod:`.generate`).

No real person-level data is used anywhere in this project. People, families, homes, moves and
incidents are generated here, on the real streets of a force's LSOAs (police.uk's published
locations), and each agency's extract is written in its own format with the documented errors of
:mod:`.error_model`; the truth behind every record goes to a separate folder.
"""

from __future__ import annotations

from safertogether.sources.synth.error_model import ErrorModel
from safertogether.sources.synth.generate import SynthConfig, SynthSummary, generate_partners

__all__ = ["ErrorModel", "SynthConfig", "SynthSummary", "generate_partners"]
