"""Shared fixtures: a throwaway PostgreSQL cluster and a throwaway Redis (started only by tests
that ask for them).

``carecast.testing`` (a pytest plugin) gives ``fake_publisher`` and ``no_sleep``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import pg
from real_software import unavailable
from redis_server import RedisServer, RedisUnavailable

_STARTS: list[float] = []


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> None:
    """Each test starts as a new process would: what the Mastodon channel remembers of an
    instance (its character limit, read once per process) is forgotten, so a test that
    expects that read does not depend on which tests ran before it."""
    from carecast.channels import mastodon

    with mastodon._limits_lock:
        mastodon._limits.clear()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pg.PostgresCluster]:
    """One cluster for the session; skipped when PostgreSQL is not installed.

    Set ``CARECAST_TEST_REQUIRE_POSTGRES=1`` (CI does) to fail instead of skipping.
    """
    try:
        cluster = pg.PostgresCluster.start()
    except pg.PostgresUnavailable as exc:
        unavailable("PostgreSQL", "CARECAST_TEST_REQUIRE_POSTGRES", exc)
    _STARTS.append(cluster.started_in)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: pg.PostgresCluster, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> str:
    """The SQLAlchemy URL of a fresh, empty database in the session's cluster (with an audit
    key in the environment: a store other than SQLite needs one). The test runs in its
    temporary folder: a config made there keeps its audit checkpoint there."""
    monkeypatch.setenv("CARECAST_AUDIT_KEY", "a5" * 32)
    monkeypatch.chdir(tmp_path)
    return postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh Redis for the test (Debian's redis-server on 127.0.0.1, nothing persisted);
    skipped when it is not installed. Set ``CARECAST_TEST_REQUIRE_REDIS=1`` (CI does) to fail
    instead of skipping."""
    try:
        server = RedisServer.start()
    except RedisUnavailable as exc:
        unavailable("Redis", "CARECAST_TEST_REQUIRE_REDIS", exc)
    try:
        yield server
    finally:
        server.stop()


def pytest_configure(config: pytest.Config) -> None:
    # Cleaned copies of images (carecast.compliance.images) go to a folder of this run, not
    # to the user's ~/.cache.
    if "CARECAST_CACHE_DIR" not in os.environ:
        import tempfile

        os.environ["CARECAST_CACHE_DIR"] = tempfile.mkdtemp(prefix="carecast-test-cache-")
    # When a hypothesis test fails, its pytest plugin imports libcst, which warns through
    # mypy_extensions; with warnings as errors that becomes an INTERNALERROR hiding the failure.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds in _STARTS:
        terminalreporter.write_line(f"postgresql: throwaway cluster started in {seconds:.2f}s")
