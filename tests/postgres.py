"""A real PostgreSQL server for the tests: the distribution's binaries, a temporary data
directory, a free port, password authentication; stopped and removed afterwards.

Skips (with the reason) where PostgreSQL is not installed or cannot start. `.ci/run`
installs it (`apt-get install -y postgresql`).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "salesnb", "pg-Secret-4711"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str

    def url(self, password: str | None = None, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}:{password or self.password}@{self.host}:{self.port}/{database}"


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[Server | str]:
    """Yields a running :class:`Server`, or the reason it could not start (a text)."""
    bindir = _bindir()
    if bindir is None:
        yield "PostgreSQL is not installed (apt-get install -y postgresql; .ci/run does)"
        return
    # initdb refuses to run as root: run the server as the distribution's postgres user
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            yield "running as root without runuser: cannot start PostgreSQL as another user"
            return
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="salesnb-pg-"))
    os.chmod(root, 0o755)
    data, pwfile, log = root / "data", root / "pw", root / "log"
    pwfile.write_text(PASSWORD)
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    try:
        init = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile),
                               "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"],
                              capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            yield f"initdb failed: {init.stderr.strip().splitlines()[-1] if init.stderr.strip() else init.returncode}"
            return
        start = subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                                "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"],
                               capture_output=True, text=True, timeout=120)
        if start.returncode != 0:
            yield f"PostgreSQL did not start: {start.stderr.strip() or log.read_text()[-300:]}"
            return
        try:
            yield Server("127.0.0.1", port, USER, PASSWORD)
        finally:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
