"""Serving the page, its static files and the front-end libraries it uses (see ``frontend``)."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from safertogether.measures.quality import CHECKS, quality_report
from safertogether.model.attribution import ATTRIBUTION
from safertogether.web import frontend

STATIC_DIR = frontend.WEB_DIR / "static"
#: What the page says when the libraries are missing; the full command is on the server's console.
MISSING_NOTICE = """<div id="libraries-missing" class="note" role="alert">
  <p><strong>The map, the charts and the search cannot work here:</strong> this installation of Safer Together
  lacks the page's map and chart libraries (MapLibre GL, Chart.js).</p>
  <p>Whoever runs the server can fix it: run <code>make setup</code> in the checkout, or <code>npm ci</code> in the
  package's <code>web</code> folder (<code>safer serve</code> printed the exact command at start-up), or install
  Safer Together from its wheel, which carries them. The figures are still available from the
  <a href="/docs">API</a>.</p>
</div>"""


#: The person view runs only its own script, talks only to this server and cannot be framed.
PEOPLE_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def install_pages(app: FastAPI, libraries_from: Path = frontend.WEB_DIR) -> None:
    """Mount the page, its own files and its libraries (looked for in ``libraries_from``), and the quality report."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    libraries = frontend.library_dirs(libraries_from)
    for name, folder in (libraries or {}).items():
        app.mount(f"/vendor/{name}", StaticFiles(directory=folder), name=f"vendor-{name}")

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        if libraries is None:
            return HTMLResponse(index_without_libraries())
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/people", include_in_schema=False)
    def people_page() -> Response:
        """The signed-in person view: a static page (no person data in it) that calls /api/people."""
        return FileResponse(STATIC_DIR / "people.html", media_type="text/html", headers=PEOPLE_PAGE_HEADERS)

    @app.get("/safety-index", include_in_schema=False)
    def safety_index() -> Response:
        return FileResponse(STATIC_DIR / "safety-index.html", media_type="text/html")

    @app.get("/blue-light", include_in_schema=False)
    def blue_light() -> Response:
        """Coverage and shared-estate scenarios for commissioners (figures from /api/plan)."""
        return FileResponse(STATIC_DIR / "blue-light.html", media_type="text/html")

    @app.get("/drilldown", include_in_schema=False)
    def drill_down() -> Response:
        return FileResponse(STATIC_DIR / "drilldown.html", media_type="text/html")

    @app.get("/quality", include_in_schema=False)
    def quality_page(request: Request) -> HTMLResponse:
        return HTMLResponse(quality_html(quality_report(request.app.state.warehouse)))


def index_without_libraries() -> str:
    """The page with a notice saying why it cannot work, and its forms made inert.

    Without the libraries the page's module script never starts, so nothing would tell the user why, and the
    search form would submit and reload the page on Enter: an inert form cannot be focused or submitted.
    """
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for form in ('<form id="search-form"', '<form id="period-form"'):
        page = page.replace(form, f"{form} inert", 1)
    return page.replace("<body>", f"<body>\n{MISSING_NOTICE}", 1)


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
