"""Serving the page, its static files and the npm-installed libraries it uses."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from safertogether.measures.quality import CHECKS, quality_report
from safertogether.model.attribution import ATTRIBUTION

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
NODE_MODULES = WEB_DIR / "node_modules"

#: URL path -> folder inside node_modules that the page loads.
VENDOR = {
    "maplibre-gl": "maplibre-gl/dist",
    "chart.js": "chart.js/dist",
}


def install_pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for url, folder in VENDOR.items():
        path = NODE_MODULES / folder
        if path.is_dir():
            app.mount(f"/vendor/{url}", StaticFiles(directory=path), name=f"vendor-{url}")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/quality", include_in_schema=False)
    def quality_page(request: Request) -> HTMLResponse:
        return HTMLResponse(quality_html(quality_report(request.app.state.warehouse)))


def quality_html(report: dict[str, object]) -> str:
    """The quality report as a self-contained HTML page."""
    months = report["months"]
    assert isinstance(months, list)
    head = "".join(f'<th scope="col" title="{html.escape(v)}">{html.escape(k)}</th>' for k, v in CHECKS.items())
    body = "".join(
        "<tr><th scope='row'>" + html.escape(str(m["force_id"])) + " " + html.escape(str(m["month"])) + "</th>"
        + "".join(f"<td>{m[k]:,}</td>" for k in CHECKS) + "</tr>"
        for m in months
    )
    missing = report["missing_months"]
    assert isinstance(missing, list)
    gaps = ", ".join(f"{m['force_id']} {m['month']}" for m in missing) or "none"
    legend = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in CHECKS.items())
    files = report.get("quarantined_files", [])
    assert isinstance(files, list)
    quarantined = "".join(
        f"<tr><td>{html.escape(str(f['file']))}</td><td>{html.escape(str(f['kind']))}</td><td>{f['rows']:,}</td></tr>"
        for f in files
    ) or "<tr><td colspan='3'>No row has been quarantined.</td></tr>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Data quality — Safer Together</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="report"><main><h1>Data quality</h1>
<p>Missing months in a force's series: {html.escape(gaps)}</p><ul>{legend}</ul>
<table><thead><tr><th scope="col">force / month</th>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Quarantined rows by file</h2>
<table><thead><tr><th scope="col">file</th><th scope="col">kind</th><th scope="col">rows</th></tr></thead>
<tbody>{quarantined}</tbody></table>
</main><footer>{html.escape(ATTRIBUTION["text"])}</footer></body></html>"""
