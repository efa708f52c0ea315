"""A hosts entry for one Python process: data.police.uk -> 127.0.0.1, its ports mapped as the test says.

On PYTHONPATH this module is imported at start-up (as ``sitecustomize``), so the client under test runs
unchanged, as it would on a machine whose /etc/hosts sends data.police.uk to a Safer Together server.
``SAFER_TEST_PORTS="443=8443,80=8080"`` maps the ports the client asks for to the test server's free
ports (a redirect a firewall rule would do), so the test needs no root.
"""

from __future__ import annotations

import os
import socket

NAME = "data.police.uk"
PORTS = {int(a): int(b) for a, b in (p.split("=") for p in os.environ.get("SAFER_TEST_PORTS", "").split(",") if p)}
_getaddrinfo = socket.getaddrinfo


def _hosts_entry(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host == NAME:
        return _getaddrinfo("127.0.0.1", PORTS.get(int(port or 0), port), *args, **kwargs)
    return _getaddrinfo(host, port, *args, **kwargs)


socket.getaddrinfo = _hosts_entry
