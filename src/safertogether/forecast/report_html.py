"""The backtest as a self-contained HTML page: tables with intervals, coverage curves and maps (inline SVG)."""

from __future__ import annotations

import html
from typing import Any

from safertogether.model.attribution import ATTRIBUTION

_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4"]


def _curves_svg(report: dict[str, Any], width: int = 560, height: int = 360) -> str:
    xs = report["curve_coverage"]
    pad = 40
    top = max(max((v or 0) for v in m["curve"]) for m in report["models"].values()) or 1.0
    top = min(1.0, top * 1.05)

    def point(x: float, y: float) -> str:
        return f"{pad + x / max(xs) * (width - 2 * pad):.1f},{height - pad - y / top * (height - 2 * pad):.1f}"

    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="coverage curves">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
             f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">share of the study area flagged</text>',
             f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">'
             'hit rate</text>']
    for tick in (0.05, 0.1, 0.2, 0.3):
        if tick <= max(xs):
            x, _ = point(tick, 0).split(",")
            parts.append(f'<text x="{x}" y="{height - pad + 14}" text-anchor="middle" font-size="11">{tick:.0%}</text>')
    for i, (name, model) in enumerate(report["models"].items()):
        colour = _COLOURS[i % len(_COLOURS)]
        line = " ".join(point(x, y or 0) for x, y in zip(xs, model["curve"], strict=True))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>')
        parts.append(f'<text x="{width - pad + 4 - 120}" y="{pad + 14 * i}" fill="{colour}" font-size="12">'
                     f'{html.escape(name)}</text>')
    return "".join(parts) + "</svg>"


def _map_svg(maps: dict[str, Any], name: str, size: int = 300) -> str:
    grid = maps["grid"]
    nx, ny = grid["nx"], grid["ny"]
    scale = size / max(nx, ny)

    def rect(flat: int, colour: str, opacity: float) -> str:
        iy, ix = divmod(flat, nx)
        return (f'<rect x="{ix * scale:.1f}" y="{(ny - 1 - iy) * scale:.1f}" width="{max(scale, 1):.1f}" '
                f'height="{max(scale, 1):.1f}" fill="{colour}" fill-opacity="{opacity}"/>')

    parts = [f'<svg width="{nx * scale:.0f}" height="{ny * scale:.0f}" style="border:1px solid #ccc">']
    parts += [rect(flat, "#d7301f", 0.8) for flat, _v in maps.get(name, [])]
    parts += [rect(flat, "#000", 0.9) for flat, _n in maps["actual"]]
    return "".join(parts) + "</svg>"


def render_html(report: dict[str, Any], title: str = "Hotspot forecast backtest") -> str:
    """The page for a report from :func:`safertogether.forecast.backtest.backtest`."""
    data, settings = report["data"], report["settings"]
    rows = "".join(
        f"<tr><td>{html.escape(r['model'])}</td><td>{r['label']}</td>"
        f"<td>{_fmt(r['hit_rate'])} {_ci(r['hit_rate_ci'])}</td>"
        f"<td>{_fmt(r['pai'], 2)} {_ci(r['pai_ci'], 2)}</td><td>{_fmt(r['pei_star'])} {_ci(r['pei_star_ci'])}</td>"
        f"<td>{_fmt(r.get('hit_rate_vs_best_baseline'))} {_ci(r.get('hit_rate_vs_best_baseline_ci'))}</td>"
        f"<td>{_fmt(r.get('perfect_share'))}</td></tr>" for r in report["results"])
    models = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{html.escape(str(m['params']))}</td><td>{_fmt(m['log_score'])} "
        f"{_ci(m['log_score_ci'])}</td><td>{_fmt(m['expected_over_observed'], 2)}</td>"
        f"<td>{_fmt(m['seconds_per_forecast'], 3)}</td></tr>" for n, m in report["models"].items())
    maps = report.get("maps")
    map_html = "".join(f"<figure><figcaption>{html.escape(n)}</figcaption>{_map_svg(maps, n)}</figure>"
                       for n in report["models"]) if maps else ""
    fairness = report.get("fairness")
    fair_html = ""
    if fairness:
        warn = [f"<li><b>{html.escape(n)}</b>: {html.escape(w)}</li>" for n, f in fairness.items()
                if isinstance(f, dict) and "warnings" in f for w in f["warnings"]]
        fair_html = (f"<h2>Fairness: flagged area ({fairness['coverage']:.0%}) by deprivation decile against harm "
                     f"({html.escape(fairness['harm'])})</h2><ul>{''.join(warn) or '<li>no warning</li>'}</ul>")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:3px 8px;font-size:13px}}figure{{display:inline-block;margin:6px}}
footer{{margin-top:2em;font-size:12px;color:#555}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{data['events']:,} events, {data['cells']:,} cells of {data['cell_m']:g} m ({data['area_km2']} km²,
{html.escape(data['study_area'])}), {report['horizon']}ly horizon; tested on {len(data['test_windows'])} rolling origins
{settings['test_from']} to {settings['test_to']}; parameters chosen on {', '.join(settings['tuning_windows'])}.
Intervals are 95% bootstrap intervals over windows.
Chosen on the tuning windows (never the test span): best baseline <b>{html.escape(str(report['best_baseline']))}</b>,
model to trust <b>{html.escape(str(report.get('chosen_model')))}</b>.</p>
<h2>Coverage curves (mean over test windows)</h2>{_curves_svg(report)}
<h2>Hit rate, PAI and PEI*</h2><table><tr><th>model</th><th>coverage</th><th>hit rate</th><th>PAI</th><th>PEI*</th>
<th>hit rate minus best baseline</th><th>share of perfect</th></tr>{rows}</table>
<h2>Expected counts: log score and calibration</h2><table><tr><th>model</th><th>parameters</th>
<th>Poisson log score per cell</th><th>expected / observed</th><th>seconds per forecast</th></tr>{models}</table>
{fair_html}
<h2>Maps: the top {maps['share']:.0%} of cells for {maps['window']} (red) and where events happened (black)</h2>
{map_html}
<footer>{html.escape(ATTRIBUTION['text'])} <a href="{ATTRIBUTION['licence_url']}">Open Government Licence v3.0</a>.
Forecasts are about places, never about people.</footer></body></html>""" if maps else ""


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(pair: list[float | None] | None, digits: int = 3) -> str:
    if not pair or pair[0] is None:
        return ""
    return f"<small>({pair[0]:.{digits}f} to {pair[1]:.{digits}f})</small>"
