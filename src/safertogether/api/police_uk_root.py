"""The data.police.uk-compatible API alone, at the root ``/api/`` of a port of its own.

Existing clients hard-code ``https://data.police.uk/api/`` and take no base URL. Served at that same
path, on a port that a hosts entry or a reverse proxy for ``data.police.uk`` points at (with TLS, since
the clients say ``https``), they reach Safer Together with no change to their code. ``safer serve
--police-uk-root PORT`` runs this app beside the main one, in one process over one warehouse.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute

from safertogether.api.app import create_app, serve_warehouse
from safertogether.api.routes.police_uk import compatible_router
from safertogether.settings import Settings
from safertogether.store.warehouse import Warehouse, open_warehouse

PREFIX = "/api"


def _operation_id(route: APIRoute) -> str:
    return f"police-uk-{route.name}"


def create_police_uk_app(warehouse: Warehouse, settings: Settings | None = None) -> FastAPI:
    """The compatible methods under ``/api`` with the main app's error shape, compression and CORS."""
    settings = settings or Settings()
    app = FastAPI(
        title="Safer Together: the data.police.uk-compatible API",
        version="0.1.0",
        description="data.police.uk's methods at its own paths, answered from police.uk open data.",
        generate_unique_id_function=_operation_id,
    )
    serve_warehouse(app, warehouse, settings)
    app.include_router(compatible_router(PREFIX))
    return app


@dataclass(frozen=True)
class RootPorts:
    """Where the root app listens: ``tls_port`` (HTTPS when given a certificate) and ``http_port``.

    Clients differ in the scheme they hard-code (police-api-client says ``http://``, most say
    ``https://``), so a hosts entry for data.police.uk needs both 443 and 80 answered.
    """

    tls_port: int | None = None
    http_port: int | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    def listeners(self) -> list[tuple[int, bool]]:
        """(port, over TLS) for each port given."""
        pairs = ((self.tls_port, self.certfile is not None), (self.http_port, False))
        return [(port, secure) for port, secure in pairs if port]

    def configs(self, app: FastAPI, host: str) -> list[uvicorn.Config]:
        tls = {"ssl_certfile": str(self.certfile), "ssl_keyfile": self.keyfile and str(self.keyfile)}
        return [
            uvicorn.Config(app, host=host, port=port, log_level="warning", **(tls if secure else {}))
            for port, secure in self.listeners()
        ]

    def urls(self, host: str) -> list[str]:
        return [f"{'https' if secure else 'http'}://{host}:{port}{PREFIX}/" for port, secure in self.listeners()]


def serve_with_police_uk_root(host: str, port: int, ports: RootPorts, settings: Settings | None = None) -> None:
    """Serve the main app on ``port`` and the root app on ``ports``, from one process.

    One read-only warehouse for all of them, so every port answers from the same data.
    """
    settings = settings or Settings()
    warehouse = open_warehouse(settings.db, read_only=True)
    main = uvicorn.Config(create_app(warehouse, settings), host=host, port=port, log_level="warning")
    root = ports.configs(create_police_uk_app(warehouse, settings), host)
    try:
        asyncio.run(serve_all([uvicorn.Server(config) for config in (main, *root)]))
    finally:
        warehouse.close()


async def serve_all(servers: list[uvicorn.Server]) -> None:
    """Run servers on one event loop; when one stops (Ctrl-C, a port in use), stop the others."""
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)
