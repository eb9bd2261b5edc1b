"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, 127.0.0.1, a free port.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` system
user (Debian's package creates it) and every server command runs through ``runuser``.
Nothing outside the temp dir is touched; ``stop`` shuts the server down (bounded) and removes
the directory.

    with PostgresCluster.start() as cluster:
        ledger = Ledger(cluster.url)
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresCluster", "PostgresUnavailable", "find_bindir"]

DATABASE = "carecast_test"
USER = "postgres"
SERVER_USER = "postgres"  # the system account that owns the cluster when we run as root
START_TIMEOUT = 60
STOP_TIMEOUT = 30


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries (or the psycopg driver) are not installed."""


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb``, else the one on PATH."""
    def version(path: str) -> tuple[int, ...]:
        parts = Path(path).parent.parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running throwaway cluster; ``url`` is the SQLAlchemy URL of its test database."""

    bindir: Path
    base: Path
    port: int
    as_user: str | None
    started_in: float = 0.0

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def start(cls, bindir: Path | None = None) -> PostgresCluster:
        """initdb, start on 127.0.0.1 with a free port, create the test database."""
        began = time.monotonic()
        try:
            import psycopg  # noqa: F401  (the driver the URL names)
        except ImportError:
            raise PostgresUnavailable(
                "psycopg is not installed: pip install 'carecast[postgres]'") from None
        bindir = bindir or find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin or on "
                "PATH: run .ci/install-postgres.sh")
        as_user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no {SERVER_USER!r} system user to own the "
                    "cluster (initdb refuses root)") from None
            as_user = SERVER_USER
        base = Path(tempfile.mkdtemp(prefix="carecast-pg-"))
        cluster = cls(bindir, base, _free_port(), as_user)
        try:
            cluster._init()
            cluster._start()
            cluster._create_database()
        except BaseException:
            cluster.stop()
            raise
        cluster.started_in = time.monotonic() - began
        return cluster

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        result = subprocess.run(command, cwd=self.base, capture_output=True, text=True,
                                timeout=timeout, check=False,
                                env={**os.environ, "LC_ALL": "C.UTF-8", "TZ": "UTC"})
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n{self._log_tail()}")
        return result

    def _log_tail(self) -> str:
        log = self.base / "server.log"
        try:
            return "server.log:\n" + "\n".join(log.read_text().splitlines()[-20:])
        except OSError:
            return ""

    def _init(self) -> None:
        if self.as_user:
            entry = pwd.getpwnam(self.as_user)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self.base.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", "--no-instructions")

    def _start(self) -> None:
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.base} -F "
                   "-c max_connections=60 -c shared_buffers=16MB -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c deadlock_timeout=100ms")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"),
                  "-o", options, "-w", "-t", str(START_TIMEOUT), "start",
                  timeout=START_TIMEOUT + 10)

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def create_database(self, name: str) -> str:
        """A fresh, empty database in the cluster; returns its URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown, bounded) and remove the temp dir."""
        try:
            if (self.data / "postmaster.pid").exists():
                try:
                    self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "fast", "-w",
                              "-t", str(STOP_TIMEOUT), timeout=STOP_TIMEOUT + 10)
                except (RuntimeError, subprocess.TimeoutExpired):
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """Last resort: SIGKILL the postmaster this cluster started (by its pid file)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
