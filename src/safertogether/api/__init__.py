"""The HTTP API (FastAPI): thin routes over the library."""

from safertogether.api.app import create_app

__all__ = ["create_app"]
