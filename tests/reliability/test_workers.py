"""Three ``carecast worker`` processes on one PostgreSQL store, one of them SIGKILLed mid-run.

501 due targets (167 posts x 3 webhook accounts) go to the fault-injecting receiver, which
fails 30 % of sends (500, 503, 429, resets, a timeout after storing, a reset after storing)
and never deduplicates. Every target must be stored exactly once and published in the ledger.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from carecast import Post, Publisher
from carecast.clock import SYSTEM_CLOCK
from carecast.records import State
from carecast.testing import FrozenClock

from .faultserver import POST_FAULTS, FaultServer

pytestmark = pytest.mark.slow

POSTS = 167
ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = ("feed-a", "feed-b", "feed-c")


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(fault_rate=0.3, seed=15, retry_after=(1,), timeout_sleep=0.3) as srv:
        yield srv


def _config(tmp_path: Path, server: FaultServer, store: str) -> Path:
    path = tmp_path / "carecast.toml"
    path.write_text(server.config(
        store, ACCOUNTS, publish="concurrency = 6\nmax_attempts = 6\nmax_wait = 20\n"
        "worker_rounds = 5\n", timeout=2, connect_timeout=2), encoding="utf-8")
    return path


def _worker(config: Path, n: int) -> subprocess.Popen[bytes]:
    # With an other-date run's clock shift (sitecustomize on PYTHONPATH): the same "now" as
    # ours. The worker runs in another folder, and so does this test (the postgres_url
    # fixture changes into its temporary folder), so a relative entry is made absolute from
    # the folder the run started in, the project's root, never from the current folder.
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in
                                            env["PYTHONPATH"].split(os.pathsep))
    with (config.parent / f"worker{n}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "carecast", "--config", str(config), "worker",
             "--interval", "0.2"], stdout=subprocess.DEVNULL, stderr=log, env=env,
            cwd=config.parent)


def test_three_workers_one_killed_every_target_exactly_once(tmp_path: Path, server: FaultServer,
                                                          postgres_url: str) -> None:
    config = _config(tmp_path, server, postgres_url)
    # Stored by a publisher an hour behind, for "now": held for their time, nothing sent;
    # to the workers (on the real clock) every one is due.
    due = SYSTEM_CLOCK.now()
    clock = FrozenClock(due - timedelta(hours=1))
    with Publisher.from_config_file(config, entry_point_plugins=False, clock=clock) as publisher:
        for i in range(POSTS):
            publisher.publish(Post(id=f"due-{i:03d}", text=f"Health note {i}: free checks.",
                                   schedule=due))
        assert not server.keys()
        workers = [_worker(config, n) for n in range(3)]
        try:
            deadline = time.monotonic() + 60
            while len(server.keys()) < 60 and time.monotonic() < deadline:
                time.sleep(0.05)
            workers[0].send_signal(signal.SIGKILL)  # mid-run: sends in flight
            workers[0].wait(timeout=10)
            wanted = POSTS * len(ACCOUNTS)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                rows = [a for i in range(POSTS) for a in publisher.status(f"due-{i:03d}")]
                if sum(a.state == State.PUBLISHED for a in rows) == wanted:
                    break
                time.sleep(0.5)
        finally:
            for proc in workers[1:]:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(timeout=60) for proc in workers[1:]]
        errors = [(tmp_path / f"worker{n}.log").read_text() for n in (1, 2)]
        assert codes == [0, 0], errors
        rows = [a for i in range(POSTS) for a in publisher.status(f"due-{i:03d}")]
        states = {a.state for a in rows}
        assert states == {State.PUBLISHED}, [(a.post_id, a.account, a.state) for a in rows
                                              if a.state != State.PUBLISHED][:10]
        assert len(rows) == wanted
        counts = server.counts()
        assert len(counts) == wanted
        assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}
        assert publisher.ledger.verify_audit() == []
        stats = server.stats()
        faults = sum(stats[f] for f in POST_FAULTS)
        assert faults >= 0.2 * stats["posts"], stats  # the faults really happened
