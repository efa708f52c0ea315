"""The FastAPI application: the project's own API, the public page and (mounted) the police.uk API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.routing import APIRoute

from safertogether.api.auth import writable_or_refuse
from safertogether.api.deps import DisclosureHeaders
from safertogether.api.errors import install_error_handlers
from safertogether.api.routes import alerts, areas, exchange, forecasts, index, meta, ogc, people, plan, police_uk
from safertogether.api.warm import Warming
from safertogether.disclosure.policy import load_policy
from safertogether.settings import Settings
from safertogether.store.warehouse import Warehouse, open_warehouse


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0] if route.tags else 'api'}-{route.name}"


def create_app(warehouse: Warehouse | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app over a warehouse (opened read-only from settings when not given)."""
    settings = settings or Settings()
    app = FastAPI(
        title="Safer Together",
        version="0.1.0",
        description="Crime, outcomes and stop-and-search by neighbourhood, from police.uk open data.",
        generate_unique_id_function=_operation_id,
        lifespan=_lifespan,
    )
    serve_warehouse(app, warehouse or open_warehouse(settings.db, read_only=not settings.person_data), settings)
    # First: a request is matched against the routers in turn, and the caller lookup is the busiest route.
    _mount_people(app)
    app.include_router(areas.router)
    app.include_router(alerts.router)
    app.include_router(meta.router)
    app.include_router(police_uk.router)
    app.include_router(ogc.router)
    app.include_router(index.router)
    app.include_router(plan.router)
    _mount_web(app)
    return app


def _mount_people(app: FastAPI) -> None:
    """Person data, signed in and audited, never through the public answer cache (api/cache.py): only on a
    warehouse open for writing (the audit log is written before anything is shown). A read-only, public
    server has no such routes; asking there says how to start one that has."""
    if not app.state.warehouse.read_only:
        app.include_router(people.router)
        app.include_router(forecasts.router)  # where patrols will go: signed in only, never public
        app.include_router(exchange.router)  # live incidents between dispatch systems: signed in only
        return

    @app.api_route("/api/people/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
    def no_person_data(rest: str) -> None:
        writable_or_refuse(app.state.warehouse)


def serve_warehouse(app: FastAPI, warehouse: Warehouse, settings: Settings) -> None:
    """What every app of ours has: the warehouse and settings, one error shape, compression and CORS."""
    app.state.settings = settings
    app.state.public_policy = load_policy(settings.disclosure_policy)
    app.state.warehouse = warehouse
    install_error_handlers(app)
    app.add_middleware(DisclosureHeaders)
    app.add_middleware(GZipMiddleware, minimum_size=2000)
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                       allow_headers=["*"])


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    limit = app.state.settings.warm_cache
    warming = Warming(app.state.warehouse, limit, app.state.public_policy) if limit else None
    yield
    if warming:
        warming.stop()


def _mount_web(app: FastAPI) -> None:
    from safertogether.web.pages import install_pages

    install_pages(app)
