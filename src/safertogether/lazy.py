"""Package exports that load on first use, so that a command pays only for the libraries it needs."""

from __future__ import annotations

import importlib
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: dict[str, str]) -> None:
    """Make each name of ``exports`` (name -> module) an attribute of the package whose globals are ``namespace``.

    The module is imported when the name is first asked for (PEP 562), then the name is kept in the
    package like an ordinary import. ``dir()`` lists the exports as if they were imported already.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__
