"""A throwaway Redis for tests: Debian's ``redis-server`` on 127.0.0.1, a free port, a temp dir.

Nothing is persisted (no RDB, no AOF), so ``restart`` is a broker that comes back empty: every
queued and unacknowledged task is lost, as after a crash of a broker run without persistence.
``stop`` shuts the server down (bounded) and removes the directory.

    with RedisServer.start() as redis:
        app = make_app(config, settings=CelerySettings(broker_url=redis.url))
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RedisServer", "RedisUnavailable"]

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class RedisUnavailable(RuntimeError):
    """``redis-server`` is not installed."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    """Whether a Redis answers PING on 127.0.0.1:``port`` (a bare RESP exchange)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """A running throwaway Redis; ``url`` is its database 0."""

    binary: Path
    base: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls) -> RedisServer:
        """Start ``redis-server`` on 127.0.0.1 with a free port, in a temporary folder."""
        found = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
        if found is None:
            raise RedisUnavailable("no redis-server on PATH: run "
                                   "sh .ci/install-debian.sh redis-server redis-server")
        server = cls(Path(found), Path(tempfile.mkdtemp(prefix="carecast-redis-")),
                     _free_port())
        try:
            server._run()
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self) -> None:
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.binary), "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.base), "--save", "", "--appendonly", "no",
             "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"],
            stdout=log, stderr=log, cwd=self.base)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.base / "server.log").read_text().splitlines()[-20:])
        return ""

    def _halt(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the server, wait ``down_for`` seconds, start it again on the same port
        (empty: nothing was persisted)."""
        self._halt()
        time.sleep(down_for)
        self._run()
        self.restarts += 1

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self._halt()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
