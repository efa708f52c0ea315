"""Building an edition of the Community Safety Index: panel -> indicators -> scores -> ranks -> warehouse.

``build_index`` computes, then stores the edition in one transaction (``index_editions``, ``index_scores``,
``index_components``) with the configuration text it was built from, so that the page, the API and the
public datasets read one consistent edition and any figure can be reproduced.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from safertogether.disclosure.policy import Policy
from safertogether.errors import MissingDataError
from safertogether.index.config import IndexConfig, config_from_text, config_sha256, load_config
from safertogether.index.disclosure import editions_of, record_policy
from safertogether.index.indicators import Indicator, objective_indicator, subjective_indicator
from safertogether.index.panel import Panel, load_panel
from safertogether.index.scoring import base_of, rank_ranges, ranks, scenarios, score
from safertogether.measures.harm import NUISANCE_CATEGORIES, HarmWeights, default_harm_weights, load_harm_weights
from safertogether.measures.rates import FOOTFALL_CATEGORIES, DenominatorRule, poor_denominator
from safertogether.store.warehouse import Warehouse

Step = Callable[[str], None]


@dataclass
class Edition:
    """A built index: its records (one per area and period) and what it was built from."""

    edition_id: int | None
    level: str
    config: IndexConfig
    config_text: str
    harm: HarmWeights
    base_period: str
    periods: list[str]
    scenarios: int
    records: list[dict[str, Any]]
    components: pa.Table
    base: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)
    policy: Policy | None = None  #: the disclosure policy whose released counts it was computed from (None: exact)

    @property
    def objective_only(self) -> bool:
        return all(r["subjective"] is None for r in self.records)

    def as_json(self) -> dict[str, Any]:
        from safertogether.model.attribution import ATTRIBUTION

        return {"edition_id": self.edition_id, "level": self.level, "name": self.config.name,
                "base_period": self.base_period, "periods": self.periods, "scenarios": self.scenarios,
                "objective_only": self.objective_only, "harm_weights": self.harm.version,
                "config_sha256": config_sha256(self.config_text), "notes": self.notes,
                "disclosure_policy": self.policy.as_json() if self.policy else {"name": "exact", "rule": "exact"},
                "attribution": ATTRIBUTION, "records": self.records}


def build_index(warehouse: Warehouse, level: str = "lsoa", config_path: str | Path | None = None,
                harm_paths: list[str | Path] | None = None, store: bool = True,
                on_step: Step | None = None, policy: Policy | None = None, config_text: str | None = None) -> Edition:
    """Compute the index for every area of ``level`` and period, and (``store``) save it as a new edition.

    The configuration is the packaged one, the file ``config_path``, or ``config_text`` (an edition's own, when
    it is rebuilt on newer data: see :func:`refresh_editions`).

    With a disclosure ``policy`` (not exact) the crimes are its released counts, and the edition is the one
    public answers under that policy read (see :mod:`safertogether.index.disclosure`); a ``dp`` policy draws
    its release of police.uk's cells first if the current data has none (spending its epsilon once).
    """
    config, text = (config_from_text(config_text), config_text) if config_text else load_config(config_path)
    harm = load_harm_weights(harm_paths) if harm_paths else default_harm_weights()
    step = on_step or (lambda _what: None)
    policy = None if policy is None or policy.exact else policy
    if policy is not None and policy.rule == "dp" and store and level != "borough":
        from safertogether.disclosure.releases import release

        step(f"drawing the release under {policy.name} (once per data version)")
        release(warehouse, policy, "crimes")
    step("reading crimes, residents and surveys" + (f" (released under {policy.name})" if policy else ""))
    panel = load_panel(warehouse, level, policy)
    edition = compute_index(panel, config, text, harm, step)
    edition.policy = policy
    if store:
        step("storing the edition")
        edition.edition_id = store_edition(warehouse, edition)
    return edition


def build_editions(warehouse: Warehouse, level: str = "lsoa", config_path: str | Path | None = None,
                   harm_paths: list[str | Path] | None = None, public: Policy | None = None, store: bool = True,
                   on_step: Step | None = None, config_text: str | None = None) -> tuple[Edition, Edition | None]:
    """The exact edition (analysts', this library's) and, when the ``public`` policy is not exact, the
    edition public answers read, computed from the counts that policy releases (None otherwise)."""
    step = on_step or (lambda _what: None)
    exact = build_index(warehouse, level, config_path, harm_paths, store=store, on_step=step, config_text=config_text)
    if public is None or public.exact or not store:
        return exact, None
    released = build_index(warehouse, level, config_path, harm_paths, policy=public, config_text=config_text,
                           on_step=lambda what: step(f"public ({public.name}): {what}"))
    return exact, released


@dataclass(frozen=True)
class Refreshed:
    """What :func:`refresh_editions` did for one level: new editions, or why it left the level alone."""

    level: str
    exact: Edition | None = None
    public: Edition | None = None
    skipped: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"level": self.level, "edition_id": self.exact.edition_id if self.exact else None,
                "public_edition_id": self.public.edition_id if self.public else None, "skipped": self.skipped}


def refresh_editions(warehouse: Warehouse, public: Policy | None = None,
                     on_step: Step | None = None) -> list[Refreshed]:
    """Rebuild every level's index whose latest edition is older than the newest file loaded.

    Why: the page, the API and ``safer publish`` read the latest edition, so without this a month imported
    today would not reach them until someone remembered ``safer index build``. Each level is rebuilt with the
    configuration its latest exact edition was built with (the text stored beside it), exact and under the
    ``public`` policy. A level built with a user's own harm weights is left alone (their files are not
    stored) and says how to rebuild it. Levels never built are not started here.
    """
    step = on_step or (lambda _what: None)
    condition, parameters = editions_of(warehouse, None)
    latest: dict[str, tuple[str, str | None]] = {}
    for row in warehouse.query(
            f"SELECT level, config_yaml, harm_sha256 FROM index_editions WHERE {condition} ORDER BY edition_id",
            parameters):
        latest[row["level"]] = (row["config_yaml"], row["harm_sha256"])
    done = []
    default_harm = default_harm_weights().sha256
    for level, (text, harm_sha) in sorted(latest.items()):
        if edition_is_current(warehouse, level):
            continue
        if harm_sha is not None and harm_sha != default_harm:
            done.append(Refreshed(level, skipped="built with your own harm weights: rebuild it with "
                                                 f"`safer index build --level {level} --harm FILE...`"))
            continue
        exact, released = build_editions(warehouse, level, public=public, config_text=text,
                                         on_step=lambda what, level=level: step(f"{level}: {what}"))
        done.append(Refreshed(level, exact, released))
    return done


def edition_is_current(warehouse: Warehouse, level: str = "lsoa") -> bool:
    """Whether an edition of ``level`` was built after the last file was loaded (so rebuilding adds nothing)."""
    return bool(warehouse.scalar(
        "SELECT (SELECT max(built_at) FROM index_editions WHERE level = ?) "
        ">= (SELECT max(loaded_at) FROM source_files)", [level]))


def compute_index(panel: Panel, config: IndexConfig, text: str, harm: HarmWeights, step: Step) -> Edition:
    usable = (panel.months >= config.min_months) & (panel.residents > 0)
    periods = [p for i, p in enumerate(panel.periods) if usable[:, i].any()]
    if not periods:
        raise MissingDataError(f"no period has {config.min_months} months of crimes for areas with residents; "
                               "import more months or lower min_months in the configuration")
    base_period = _base_period(config, periods)
    step("indicators: rates, intervals, smoothing, harm")
    indicators = _indicators(panel, config, harm, usable)
    b = panel.periods.index(base_period)
    bases = {(i.name, m, r): base_of(i.value(m, r)[usable[:, b], b])
             for i in indicators for m in ("configured", "counts") for r in ("smoothed", "raw")}
    scores = score(indicators, bases, config, scenarios(config)[0])
    scores.index[~usable] = np.nan
    step("sensitivity: ranks under every alternative")
    rank_low, rank_high, runs = rank_ranges(indicators, bases, config)
    rank = ranks(scores.index)
    flags = _poor_denominator(panel, config)
    records = _records(panel, config, scores, rank, rank_low, rank_high, flags, indicators, usable, periods)
    base = {i.name: bases[(i.name, "configured", config.rates)].summary(config.transform) for i in indicators}
    notes = list(panel.notes)
    if not any(i.part == "subjective" for i in indicators):
        notes.append("objective only: no survey measure of the configuration was found for these areas")
    return Edition(None, panel.level, config, text, harm, base_period, periods, runs, records,
                   _components(panel, indicators, scores, usable), base, notes)


def _base_period(config: IndexConfig, periods: list[str]) -> str:
    if config.base_period == "auto":
        return periods[0]
    if config.base_period not in periods:
        raise MissingDataError(f"the base period {config.base_period} has too few months of crimes "
                               f"(periods with {config.min_months}+ months: {', '.join(periods)}); "
                               "choose one of them as base_period")
    return config.base_period


def _indicators(panel: Panel, config: IndexConfig, harm: HarmWeights, usable: np.ndarray) -> list[Indicator]:
    found: list[Indicator] = []
    for theme in config.themes:
        found += [objective_indicator(panel, theme.name, spec, harm, usable) for spec in theme.objective]
        found += [i for spec in theme.subjective if (i := subjective_indicator(panel, theme.name, spec, config))]
    return found


def _poor_denominator(panel: Panel, config: IndexConfig) -> np.ndarray:
    """Per area and period (see :class:`safertogether.measures.rates.DenominatorRule`): all crimes but ASB."""
    crimes = sum((g for (c, _o), g in panel.counts.items() if c not in NUISANCE_CATEGORIES),
                 np.zeros(panel.residents.shape))
    footfall = sum((g for (c, _o), g in panel.counts.items() if c in FOOTFALL_CATEGORIES),
                   np.zeros(panel.residents.shape))
    expected = np.zeros(crimes.shape)
    exposure = panel.residents * panel.years()
    for group in np.unique(panel.groups):
        member = panel.groups == group
        total_exposure = exposure[member].sum(axis=0)
        rate = np.where(total_exposure > 0, crimes[member].sum(axis=0) / np.where(total_exposure > 0,
                                                                                   total_exposure, 1), 0)
        expected[member] = rate * exposure[member]
    rule = DenominatorRule(**config.denominator.model_dump())
    return poor_denominator(crimes, expected, footfall, panel.residents, rule)


def _rounded(values: np.ndarray) -> list[list[float | None]]:
    """Values to two decimals as lists, NaN as None (one vectorised pass, not a call per value)."""
    rounded = np.round(values.astype(float), 2)
    return np.where(np.isfinite(rounded), rounded, None).tolist()  # type: ignore[no-any-return]


def _records(panel: Panel, config: IndexConfig, scores: Any, rank: np.ndarray, low: np.ndarray, high: np.ndarray,
             flags: np.ndarray, indicators: list[Indicator], usable: np.ndarray, periods: list[str]) -> list[dict]:
    survey = next((i.source_period for i in indicators if i.part == "subjective"), None)
    crimes = sum((g for (c, _o), g in panel.counts.items()), np.zeros(panel.residents.shape)).astype(int).tolist()
    score, objective, subjective = _rounded(scores.index), _rounded(scores.objective), _rounded(scores.subjective)
    themes = {f"{t}:{part}": _rounded(v) for (t, part), v in scores.themes.items()}
    months, residents = panel.months.astype(int).tolist(), panel.residents.astype(int).tolist()
    rank_l, low_l, high_l, flags_l = rank.tolist(), low.tolist(), high.tolist(), flags.tolist()
    bands = [(b.below if b.below is not None else np.inf, b.name, b.label) for b in config.bands]
    out = []
    for p, period in enumerate(panel.periods):
        if period not in periods:
            continue
        ranked = int((rank[:, p] > 0).sum())
        for a in np.flatnonzero(usable[:, p] & np.isfinite(scores.index[:, p])).tolist():
            value = score[a][p]
            _below, band, label = next(b for b in bands if value < b[0])  # the score as shown decides
            out.append({
                "area": panel.areas[a], "area_name": panel.names[a], "group_id": str(panel.groups[a]),
                "period": period, "months": months[a][p], "residents": residents[a][p], "score": value,
                "band": band, "band_label": label, "objective": objective[a][p], "subjective": subjective[a][p],
                "subjective_period": (survey[a, p] or None) if survey is not None else None,
                "rank": rank_l[a][p], "rank_low": low_l[a][p], "rank_high": high_l[a][p], "ranked": ranked,
                "poor_denominator": flags_l[a][p], "crimes": crimes[a][p],
                "themes": {key: values[a][p] for key, values in themes.items()},
            })
    return out


_DETAIL = ("count", "rate", "low", "high", "smoothed", "harm", "harm_low", "harm_high")


def _components(panel: Panel, indicators: list[Indicator], scores: Any, usable: np.ndarray) -> pa.Table:
    """One row per area, period and indicator, and per area, period and theme (indicator NULL)."""
    a_index, p_index = np.nonzero(usable)
    areas = np.array(panel.areas, dtype=object)[a_index]
    periods = np.array(panel.periods, dtype=object)[p_index]
    parts = []
    n = len(a_index)
    for ind in indicators:
        detail = {k: ind.detail[k][a_index, p_index] if k in ind.detail else np.full(n, np.nan) for k in _DETAIL}
        funnel = ind.detail["funnel"][a_index, p_index] if "funnel" in ind.detail else np.full(n, None)
        parts.append(pa.table({
            "area": areas, "period": periods, "theme": [ind.theme] * n, "part": [ind.part] * n,
            "indicator": [ind.name] * n, "count": detail["count"], "rate": detail["rate"],
            "rate_low": detail["low"], "rate_high": detail["high"], "smoothed": detail["smoothed"],
            "harm": detail["harm"], "harm_low": detail["harm_low"], "harm_high": detail["harm_high"],
            "value": ind.value()[a_index, p_index], "funnel": [f or None for f in funnel],
            "score": scores.indicators[ind.name][a_index, p_index]}))
    for (theme, part), values in scores.themes.items():
        parts.append(pa.table({"area": areas, "period": periods, "theme": [theme] * n, "part": [part] * n,
                               "indicator": pa.nulls(n, pa.string()), "score": values[a_index, p_index]}))
    return pa.concat_tables(parts, promote_options="default")


def store_edition(warehouse: Warehouse, edition: Edition) -> int:
    """Save the edition (configuration, scores, components) in one transaction; its new id."""
    scores = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "themes"} for r in edition.records])
    with warehouse.transaction():
        edition_id = int(warehouse.scalar("SELECT nextval('index_edition_ids')"))
        warehouse.execute(
            "INSERT INTO index_editions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [edition_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), edition.level, edition.config.name,
             edition.config_text, config_sha256(edition.config_text), edition.harm.version, edition.harm.sha256,
             edition.base_period, edition.periods, edition.objective_only, edition.scenarios, edition.notes,
             json.dumps(edition.base)])
        if scores.num_rows:
            scores = scores.append_column("edition_id", pa.repeat(pa.scalar(edition_id, pa.int64()), scores.num_rows))
            scores = scores.append_column("level", pa.repeat(pa.scalar(edition.level), scores.num_rows))
            warehouse.insert_arrow("index_scores", scores)
        components = edition.components
        components = components.append_column("edition_id",
                                              pa.repeat(pa.scalar(edition_id, pa.int64()), components.num_rows))
        warehouse.insert_arrow("index_components", components)
        record_policy(warehouse, edition_id, edition.policy)
    return edition_id
