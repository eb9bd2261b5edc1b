"""The reference AT Protocol network on 127.0.0.1, for every test that needs a real Bluesky.

``tests/bsky/network.cjs`` starts a PLC directory, a PDS and an AppView (``@atproto/dev-env``,
versions pinned in ``tests/bsky/package-lock.json``, installed by ``.ci/install-bsky.sh``) on
the session's PostgreSQL, once per session: the fixtures live in ``tests/channels/conftest.py``
so every test module shares the one network.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carecast.channels.bluesky import BlueskyChannel, BlueskyOptions
from carecast.clock import Clock
from carecast.testing import FrozenClock
from real_software import unavailable

NETWORK = Path(__file__).resolve().parents[1] / "bsky"
START_TIMEOUT = 180  # seconds: a loaded CI machine; it takes about 15 s alone
POST = "app.bsky.feed.post"
WHEN = datetime(2026, 9, 21, 14, 13, 20, tzinfo=UTC)  # the channels' frozen clock
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)  # the servers' clocks are their own


@dataclass
class Account:
    handle: str
    did: str
    app_password: str
    access: str  # the account's own session, for reading back and for other people's acts


@dataclass
class Network:
    pds: str
    appview: str
    control: str
    http: httpx.Client

    def sync(self) -> None:
        """Wait until the AppView has indexed everything the PDS has sequenced."""
        answer = self.http.get(f"{self.control}/sync", timeout=60)
        assert answer.status_code == 200, answer.text

    def account(self, name: str) -> Account:
        """A new account ``<name>-<random>.test`` with an app password."""
        handle = f"{name}-{uuid.uuid4().hex[:8]}.test"
        made = self.xrpc("com.atproto.server.createAccount", json={
            "handle": handle, "email": f"{handle}@example.org",
            "password": uuid.uuid4().hex})
        app = self.xrpc("com.atproto.server.createAppPassword", made["accessJwt"],
                        json={"name": "carecast"})
        return Account(handle, made["did"], app["password"], made["accessJwt"])

    def xrpc(self, nsid: str, token: str | None = None, *, json: Any = None,
             params: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if json is None:
            answer = self.http.get(f"{self.pds}/xrpc/{nsid}", params=params, headers=headers)
        else:
            answer = self.http.post(f"{self.pds}/xrpc/{nsid}", json=json, headers=headers)
        assert answer.status_code == 200, f"{nsid}: {answer.status_code} {answer.text}"
        return answer.json() if answer.headers.get("content-type", "").startswith(
            "application/json") else answer.content

    def record(self, uri: str) -> dict[str, Any]:
        repo, collection, rkey = uri.removeprefix("at://").split("/")
        held: dict[str, Any] = self.xrpc("com.atproto.repo.getRecord", params={
            "repo": repo, "collection": collection, "rkey": rkey})
        return held

    def records(self, did: str) -> list[dict[str, Any]]:
        listed = self.xrpc("com.atproto.repo.listRecords",
                           params={"repo": did, "collection": POST, "limit": 100})
        return list(listed["records"])

    def blob(self, did: str, cid: str) -> bytes:
        data: bytes = self.xrpc("com.atproto.sync.getBlob", params={"did": did, "cid": cid})
        return data


@pytest.fixture(scope="session")
def bsky_network(postgres_cluster: Any) -> Iterator[Network]:
    """The network, started once for the session and stopped at its end."""
    node = shutil.which("node")
    if node is None or not (NETWORK / "node_modules" / "@atproto" / "dev-env").is_dir():
        unavailable("The Bluesky test network", "CARECAST_TEST_REQUIRE_BSKY",
                    "node 20 and tests/bsky/node_modules are not installed: "
                    "run sh .ci/install-bsky.sh")
    database = postgres_cluster.create_database("bsky_appview")
    env = {**os.environ, "DB_POSTGRES_URL": database.replace("postgresql+psycopg", "postgresql"),
           "DB_POSTGRES_SCHEMA": "appview", "NODE_ENV": "test", "LOG_ENABLED": "false"}
    with tempfile.TemporaryFile() as log:
        yield from _run(node, env, log)


def _run(node: str, env: dict[str, str], log: Any) -> Iterator[Network]:
    with subprocess.Popen([node, "network.cjs"], cwd=NETWORK, env=env, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=log) as process:
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
            line = process.stdout.readline() if ready else b""
            if not line:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-3000:]
                pytest.fail(f"the Bluesky network did not start in {START_TIMEOUT} s:\n{tail}")
            urls = json.loads(line)
            with httpx.Client(timeout=30) as http:
                yield Network(urls["pds"], urls["appview"], urls["control"], http)
        finally:
            process.terminate()  # the network closes its servers and exits
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def clinic(bsky_network: Network) -> Account:
    return bsky_network.account("clinic")


@pytest.fixture(scope="module")
def patient(bsky_network: Network) -> Account:
    """Another person on the network: mentions, replies, likes and reposts come from here."""
    return bsky_network.account("reader")


@pytest.fixture
def connect(bsky_network: Network, clinic: Account, tmp_path: Path
            ) -> Iterator[Callable[..., BlueskyChannel]]:
    """``connect(transport=None, clock=None, **options)``: the clinic's channel on ``clock``
    (by default frozen at ``WHEN``); clients closed after."""
    clients: list[httpx.Client] = []

    def connect(transport: httpx.BaseTransport | None = None, clock: Clock | None = None,
                **options: Any) -> BlueskyChannel:
        clients.append(httpx.Client(transport=transport, timeout=30))
        opts = BlueskyOptions(handle=clinic.handle, app_password=clinic.app_password,
                              service_url=bsky_network.pds, **options)
        return BlueskyChannel("clinic", opts, root=tmp_path, session=clients[-1],
                              clock=clock or FrozenClock(WHEN))

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def sky(connect: Callable[..., BlueskyChannel]) -> BlueskyChannel:
    return connect()


