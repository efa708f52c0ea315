"""The neighbourhood picture: a Community Safety Index after Rotterdam's Wijkprofiel, built on the warehouse.

Harm weights and rates live in :mod:`safertogether.measures` (``harm``, ``rates``); this package turns
them, with residents' survey measures, into scored editions of the index (``build``), reads what the index
needs besides police.uk (``readers``) and answers index cards (``cards``). The methodology for residents
and councillors is ``methodology.md`` beside this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safertogether.lazy import lazy_exports

if TYPE_CHECKING:
    from safertogether.index.build import Edition, build_index
    from safertogether.index.cards import index_card, index_scores
    from safertogether.index.config import IndexConfig, load_config
    from safertogether.index.readers import import_area_population, import_survey, import_ward_crime

__all__ = ["Edition", "IndexConfig", "build_index", "import_area_population", "import_survey",
           "import_ward_crime", "index_card", "index_scores", "load_config"]

lazy_exports(globals(), {
    "Edition": "safertogether.index.build",
    "build_index": "safertogether.index.build",
    "index_card": "safertogether.index.cards",
    "index_scores": "safertogether.index.cards",
    "IndexConfig": "safertogether.index.config",
    "load_config": "safertogether.index.config",
    "import_area_population": "safertogether.index.readers",
    "import_survey": "safertogether.index.readers",
    "import_ward_crime": "safertogether.index.readers",
})
