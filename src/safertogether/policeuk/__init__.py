"""A data.police.uk-compatible API answered from the warehouse.

Same methods, parameters, status codes and JSON shapes as https://data.police.uk/api/, so existing
clients work by changing their base URL. The bulk files lack a few things the API has (integer ids,
neighbourhoods); ids are derived deterministically (:mod:`.ids`) and neighbourhood methods answer
with a clear ``missing_data`` error rather than invented data.
"""

from __future__ import annotations
