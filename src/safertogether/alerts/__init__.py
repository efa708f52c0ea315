"""Alerts for residents: e-mail digests per area after each import, and an Atom feed per area.

Subscribing is double opt-in (a signed, expiring confirmation link); every digest carries a signed
unsubscribe link. Digests are written from disclosure-controlled counts, like every public figure.
E-mail addresses are personal data: they live in their own store (:mod:`.store`), encrypted, apart from
the warehouse that is published and shared, and never appear in logs, feeds or public files.
"""

from __future__ import annotations
