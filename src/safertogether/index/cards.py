"""Reading the latest edition of the index: the scores of a level, and an index card per area.

A card says what a resident or councillor needs beside the number: the band in plain words, the
objective and subjective halves side by side (one number hides areas that feel unsafe with little crime),
each theme, the trend over periods, what drives the score (the themes furthest below average, with each
rate's interval, its harm range and whether it differs from the force beyond chance), the rank range
of the sensitivity analysis, and the areas most like it.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any, Final

import numpy as np
import orjson

from safertogether.areas.outlines import outlines
from safertogether.disclosure.policy import Policy
from safertogether.errors import MissingDataError, NotFoundError
from safertogether.index.config import config_from_text
from safertogether.index.disclosure import EXACT, editions_of, policy_key
from safertogether.measures.harm import CITATION
from safertogether.model.attribution import ATTRIBUTION
from safertogether.store.warehouse import Warehouse

#: An area's record as served (index_scores without the edition's bookkeeping; no ``EXCLUDE``: PostgreSQL lacks it).
_SCORE_COLUMNS: Final = ("area, area_name, group_id, period, months, residents, score, band, band_label, objective, "
                         "subjective, subjective_period, rank, rank_low, rank_high, ranked, poor_denominator, crimes")


def latest_edition(warehouse: Warehouse, level: str | None = None, policy: Policy | None = None) -> dict[str, Any]:
    """The newest edition (of ``level`` when given) computed under ``policy`` (None: exact), without its
    configuration text. A public policy never falls back to the exact edition."""
    condition, params = editions_of(warehouse, policy)
    if level:
        condition, params = f"{condition} AND level = ?", [*params, level]
    rows = warehouse.query(f"""SELECT edition_id, built_at, level, name, config_sha256, harm_version, base_period,
                                      periods, objective_only, scenarios, notes, base_json
                               FROM index_editions WHERE {condition} ORDER BY edition_id DESC LIMIT 1""", params)
    if not rows:
        key = policy_key(policy)
        options = (f" --level {level}" if level else "") + ("" if key == EXACT else f" --policy {key}")
        under = "" if key == EXACT else f" under the disclosure policy {key}, which this server publishes figures under"
        raise MissingDataError(f"no Community Safety Index has been built{under}; run `safer index build{options}`")
    edition = rows[0]
    edition["base"] = json.loads(edition.pop("base_json") or "{}")
    edition["built_at"] = str(edition["built_at"])
    edition["disclosure_policy"] = policy_key(policy)
    return edition


def list_editions(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every edition, newest first, with the disclosure policy its counts were released under."""
    policies = "LEFT JOIN index_edition_policies p USING (edition_id)" \
        if warehouse.table_exists("index_edition_policies") else ""
    policy = "coalesce(p.policy, 'exact')" if policies else "'exact'"
    rows = warehouse.query(f"""SELECT e.edition_id, e.built_at, e.level, e.name, e.base_period, e.periods,
                                      e.config_sha256, e.harm_version, {policy} AS disclosure_policy
                               FROM index_editions e {policies} ORDER BY e.edition_id DESC""")
    return [{**r, "built_at": str(r["built_at"])} for r in rows]


def edition_config(warehouse: Warehouse, edition_id: int) -> str:
    """The configuration text an edition was built from (to reproduce it: ``safer index build --config``)."""
    text = warehouse.scalar("SELECT config_yaml FROM index_editions WHERE edition_id = ?", [edition_id])
    if text is None:
        raise NotFoundError(f"no index edition {edition_id}; list them with `safer index editions`")
    return str(text)


def index_scores(warehouse: Warehouse, level: str | None = None, period: str | None = None,
                 policy: Policy | None = None) -> dict[str, Any]:
    """Every area's score in one period (the latest by default) of the newest edition under ``policy``."""
    edition = latest_edition(warehouse, level, policy)
    chosen = period or edition["periods"][-1]
    if chosen not in edition["periods"]:
        raise NotFoundError(f"the index has no period {chosen}; it has {', '.join(edition['periods'])}")
    rows = warehouse.query(
        f"""SELECT {_SCORE_COLUMNS} FROM index_scores WHERE edition_id = ? AND period = ?
            ORDER BY rank, area""", [edition["edition_id"], chosen])
    return {"edition": edition, "period": chosen, "areas": rows, "attribution": ATTRIBUTION}


def index_card(warehouse: Warehouse, area: str, period: str | None = None, similar: int = 5,
               policy: Policy | None = None, level: str | None = None) -> dict[str, Any]:
    """The index card of one area (see the module docstring) from the newest edition under ``policy``.

    A London borough's code (E09) is both a local authority (``lad``, from police.uk) and a ``borough`` (the
    MPS ward files): ``level`` says which edition to read; without it, the newest that scores the area.
    """
    condition, params = editions_of(warehouse, policy, "s")
    if level is not None:
        condition, params = f"{condition} AND s.level = ?", [*params, level]
    found = warehouse.query(f"""SELECT s.edition_id FROM index_scores s WHERE s.area = ? AND {condition}
                                ORDER BY s.edition_id DESC LIMIT 1""", [area, *params])
    if not found:
        latest_edition(warehouse, level, policy)  # no edition at all under the policy: say what to build
        raise NotFoundError(f"{area} has no index score{f' at level {level}' if level else ''}; check the code, "
                            "or build the index at its level")
    edition_id = found[0]["edition_id"]
    edition = latest_edition(warehouse, warehouse.scalar(
        "SELECT level FROM index_editions WHERE edition_id = ?", [edition_id]), policy)
    trend = warehouse.query("""SELECT period, score, band, objective, subjective, rank, rank_low, rank_high, ranked
                               FROM index_scores WHERE edition_id = ? AND area = ? ORDER BY period""",
                            [edition_id, area])
    chosen = period or trend[-1]["period"]
    [card] = warehouse.query(f"""SELECT level, {_SCORE_COLUMNS} FROM index_scores
                                 WHERE edition_id = ? AND area = ? AND period = ?""", [edition_id, area, chosen]) \
        or [None]
    if card is None:
        raise NotFoundError(f"{area} has no index score for {chosen}")
    parts = warehouse.query("""SELECT theme, part, indicator, count, rate, rate_low, rate_high, smoothed, harm,
                                      harm_low, harm_high, value, funnel, score
                               FROM index_components WHERE edition_id = ? AND area = ? AND period = ?
                               ORDER BY theme, part, indicator NULLS FIRST""", [edition_id, area, chosen])
    themes = [_clean(p) for p in parts if p["indicator"] is None]
    indicators = [_clean(p) for p in parts if p["indicator"] is not None]
    return {
        **card, "edition": edition, "trend": trend, "themes": themes, "indicators": indicators,
        "drivers": _drivers(themes, indicators),
        "similar": _similar(warehouse, edition_id, area, chosen, similar),
        "notes": _card_notes(card, edition),
        "harm_citation": CITATION, "attribution": ATTRIBUTION,
        "methodology": "/api/index/methodology",
    }


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else
                round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}


def _drivers(themes: list[dict[str, Any]], indicators: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Themes ordered from furthest below average, each in plain words with its indicators."""
    out = []
    for theme in sorted((t for t in themes if t["score"] is not None), key=lambda t: t["score"]):
        members = [i for i in indicators if i["theme"] == theme["theme"] and i["part"] == theme["part"]]
        direction = "below" if theme["score"] < 100 else "above"
        out.append({"theme": theme["theme"], "part": theme["part"], "score": theme["score"],
                    "says": f"{theme['theme'].replace('_', ' ')} ({theme['part']}) is "
                            f"{abs(theme['score'] - 100):.0f} points {direction} the base-year average",
                    "indicators": members})
    return out


def _similar(warehouse: Warehouse, edition_id: int, area: str, period: str, limit: int) -> list[dict[str, Any]]:
    """The areas whose theme scores are nearest this area's (Euclidean distance over the themes both have)."""
    rows = warehouse.query("""SELECT area, theme || ':' || part AS key, score FROM index_components
                              WHERE edition_id = ? AND period = ? AND indicator IS NULL""", [edition_id, period])
    vectors: dict[str, dict[str, float]] = {}
    for row in rows:
        if row["score"] is not None and np.isfinite(row["score"]):
            vectors.setdefault(row["area"], {})[row["key"]] = row["score"]
    mine = vectors.get(area, {})
    distances = []
    for other, vector in vectors.items():
        shared = [k for k in mine if k in vector]
        if other != area and shared:
            distances.append((float(np.sqrt(np.mean([(mine[k] - vector[k]) ** 2 for k in shared]))), other))
    nearest = [o for _d, o in sorted(distances)[:limit]]
    if not nearest:
        return []
    found = warehouse.query(f"""SELECT area, area_name, score, band, objective, subjective FROM index_scores
                                WHERE edition_id = ? AND period = ? AND area IN ({', '.join('?' * len(nearest))})""",
                            [edition_id, period, *nearest])
    order = {o: i for i, o in enumerate(nearest)}
    return sorted(found, key=lambda r: order[r["area"]])


def _card_notes(card: dict[str, Any], edition: dict[str, Any]) -> list[str]:
    notes = [n for n in edition["notes"] or [] if not n.startswith("objective only")]
    if card["subjective"] is None:
        notes.append("Objective only: no residents' survey covers this area, so the index is registered crime alone.")
    elif card["subjective_period"] and card["subjective_period"] != card["period"]:
        notes.append(f"The survey half comes from {card['subjective_period']}, the latest survey before "
                     f"{card['period']}.")
    if card["poor_denominator"]:
        notes.append("Residents are a poor denominator here: crime is far above what its residents predict, as in a "
                     "city centre or shopping area where visitors and workers outnumber residents; rates per "
                     "resident overstate the risk to residents.")
    if card["months"] < 12:
        notes.append(f"{card['period']} has {card['months']} months of data, annualised.")
    return notes


#: Colours of the bands, least to most safe (ColorBrewer RdBu, diverging; readable by most colour-blind readers).
BAND_COLOURS: Final = ("#b2182b", "#ef8a62", "#f7f7f7", "#67a9cf", "#2166ac")


def band_map_geojson(warehouse: Warehouse, period: str | None = None, policy: Policy | None = None,
                     level: str | None = None) -> bytes:
    """The newest edition's areas (of ``level``, default the newest edition's) as GeoJSON features with score,
    band and band colour, for a map. LSOAs have their stored outlines; MSOAs, local authorities and London
    boroughs are drawn as the union of their LSOAs (:func:`safertogether.areas.outlines.outlines`)."""
    found = index_scores(warehouse, level, period, policy)
    edition = found["edition"]
    config = config_from_text(edition_config(warehouse, edition["edition_id"]))
    colour = {b.name: BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)] for i, b in enumerate(config.bands)}
    shapes = outlines(warehouse, edition["level"], [r["area"] for r in found["areas"]])
    features = []
    for row in found["areas"]:
        properties = {k: row[k] for k in ("area", "area_name", "score", "band", "band_label", "objective",
                                         "subjective", "rank", "rank_low", "rank_high", "poor_denominator")}
        properties["colour"] = colour.get(row["band"])
        features.append(b'{"type":"Feature","id":' + orjson.dumps(row["area"]) + b',"properties":'
                        + orjson.dumps(properties) + b',"geometry":' + (shapes.get(row["area"]) or "null").encode()
                        + b"}")
    meta = orjson.dumps({"edition_id": edition["edition_id"], "level": edition["level"], "period": found["period"],
                         "disclosure_policy": edition["disclosure_policy"],
                         "objective_only": edition["objective_only"],
                         "bands": [{"name": b.name, "label": b.label, "below": b.below, "colour": colour[b.name]}
                                   for b in config.bands], "attribution": ATTRIBUTION,
                         "harm_citation": CITATION})
    return b'{"type":"FeatureCollection","metadata":' + meta + b',"features":[' + b",".join(features) + b"]}"


def methodology_html(text: str) -> str:
    """The methodology as a page of its own (Markdown rendered by markdown-it, tables on)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(text)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>How the Community Safety Index is "
            "made</title><meta name='viewport' content='width=device-width, initial-scale=1'><style>body{font:16px/1.5 "
            "system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.3em .6em}</style></head><body>" + body + "</body></html>")


def methodology() -> str:
    """The methodology page (Markdown) for residents and councillors."""
    return (importlib.resources.files("safertogether.index") / "methodology.md").read_text(encoding="utf-8")
