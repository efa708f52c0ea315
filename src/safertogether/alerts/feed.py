"""An Atom feed per area: one entry per month, the digest's words, from the public counts."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from safertogether.alerts.digest import TYPICAL_MEANS, area_digest
from safertogether.areas.hierarchy import area
from safertogether.disclosure.policy import Policy
from safertogether.measures.cube import summary_cubes
from safertogether.measures.period import add_months
from safertogether.model.attribution import ATTRIBUTION
from safertogether.store.warehouse import Warehouse

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 12


def area_feed(warehouse: Warehouse, code: str, policy: Policy, base_url: str) -> bytes:
    """Atom XML with the latest :data:`ENTRIES` months of ``code`` (newest first)."""
    place = area(warehouse, code)
    force = place["code"] if place["level"] == "force" else place.get("force_id")
    cubes = summary_cubes(warehouse, policy)
    latest = cubes.latest_month(force)
    loaded = cubes.months_loaded.get(force, set())
    months = [m for m in (add_months(latest, -i) for i in range(ENTRIES)) if m in loaded] if latest else []
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    name = place.get("name") or place["code"]
    _text(feed, "title", f"Crime in {name}")
    _text(feed, "id", f"tag:safertogether,2026:area:{place['code']}")
    _text(feed, "updated", _stamp(months[0]) if months else "1970-01-01T00:00:00Z")
    _text(feed, "rights", f"{ATTRIBUTION['text']} {ATTRIBUTION['licence_url']}")
    _text(feed, "subtitle", f"{TYPICAL_MEANS} Figures: {policy.describe()}.")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base_url}/api/areas/{place['code']}/feed.atom")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "Safer Together")
    for month in months:
        digest = area_digest(warehouse, place["code"], policy, month)
        if digest is None:
            continue
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "title", digest.subject)
        _text(entry, "id", f"tag:safertogether,2026:area:{place['code']}:{month:%Y-%m}")
        _text(entry, "updated", _stamp(month))
        ET.SubElement(entry, f"{{{ATOM}}}link", href=f"{base_url}/?area={place['code']}")
        _text(entry, "summary", "\n".join([digest.sentence(), *digest.details()]))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}{tag}").text = text


def _stamp(month: dt.date) -> str:
    """An entry is dated the first day of the month after the one it tells of (when the figures could exist)."""
    return f"{add_months(month, 1):%Y-%m-%d}T00:00:00Z"
