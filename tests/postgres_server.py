"""A throwaway PostgreSQL cluster on a free loopback port, for tests that run on both engines.

Debian's PostgreSQL (``make postgres`` installs it) is found in /usr/lib/postgresql/*/bin. pg_ctl refuses
to run as root, so as root (as CI runs) the cluster runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass(frozen=True)
class Server:
    port: int
    user: str = "safer"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as session:
            session.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(bin_dir: Path) -> Iterator[Server]:
    """initdb in a temporary folder, start on a free loopback port; stop and remove it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="safer-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    try:
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", "safer", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                        str(folder / "server.log"), "-w", "start"], check=True, capture_output=True)
        stop = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        watchdog = _stop_when_gone(os.getpid(), stop, folder)
        try:
            yield Server(port)
        finally:
            watchdog.kill()
            watchdog.wait()
            subprocess.run(stop, capture_output=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stop_when_gone(pid: int, stop: list[str], folder: Path) -> subprocess.Popen[bytes]:
    """A watchdog that stops the cluster and removes its folder once process ``pid`` is gone.

    A test run that is killed never reaches the fixture's teardown; without this its cluster would run on.
    """
    script = (f"while kill -0 {pid} 2>/dev/null; do sleep 2; done; "
              f"{shlex.join(stop)} >/dev/null 2>&1; rm -rf {shlex.quote(str(folder))}")
    return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
