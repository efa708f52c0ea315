"""Disclosure control: the one step every public figure passes through.

A *policy* (YAML: name, rule, parameters) says how the fine cross-tabulation of counts — LSOA x month x
category, the finest table anything public is computed from — is protected before release:
``exact`` (figures as counted), ``suppress`` (small cells hidden, with secondary suppression so a
published total cannot give one back), ``round`` (to a base, deterministically or by seeded random
rounding) or ``dp`` (differential privacy through OpenDP under a declared, accounted privacy budget).
Every public figure is then computed from the protected cells only (sums of released cells), so no
combination of public answers reveals more than the release itself.

The policy also says whether record-level outputs (police.uk's own street-level crimes, with its snapped
locations and monthly resolution kept as they are) are served at all: re-serving police.uk's records lets
anyone recount cells exactly, so a policy that protects counts should withhold them.
"""

from __future__ import annotations

from safertogether.disclosure.policy import Policy, default_policy, load_policy, packaged_policies
from safertogether.disclosure.protect import protect_cells

__all__ = ["Policy", "default_policy", "load_policy", "packaged_policies", "protect_cells"]
