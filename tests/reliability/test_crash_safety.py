"""A publishing process killed with SIGKILL at random points, then re-run: every post once.

``crash_worker.py`` publishes 60 posts x 3 webhook accounts to the local receiver (which does
not deduplicate and answers after a few random milliseconds, having stored the post first).
The test kills it with SIGKILL at seeded random moments, spread over start-up and publishing,
at least 20 times; after each kill it reads the ledger file and the receiver to see where the
kill landed (before any send, between the intent and the send, after the receiver stored the
post but before the receipt was written, ...). A last run goes to completion. Then every key
must be stored exactly once, every target published in the ledger, the audit chain sound, and
exactly the targets caught between store and receipt must have been found by reconcile.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from carecast import Post, Publisher, RetryPolicy
from carecast.post import Draft, Receipt
from carecast.publish.publisher import idempotency_key
from carecast.publish.report import PublishReport
from carecast.records import State
from carecast.store import Ledger
from carecast.testing import FakeChannel, FakePlatform, NoWaitClock, fake_config

from .faultserver import FaultServer

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("crash_worker.py")
POSTS = 60
ACCOUNTS = ("feed-a", "feed-b", "feed-c")
KILLS = 24
MAX_RUNS = 80
SEED = 5150


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(fault_rate=0.0, lookup_fault_rate=0.0, jitter=(0.002, 0.02)) as srv:
        yield srv


def _write_config(tmp_path: Path, server: FaultServer) -> Path:
    path = tmp_path / "carecast.toml"
    path.write_text(server.config("sqlite:///ledger.db", ACCOUNTS, publish="concurrency = 4\n",
                                  timeout=10, connect_timeout=5), encoding="utf-8")
    return path


class _Lines:
    """Read a child's stdout line by line, never waiting past a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buffer = b""
        self.lines: list[str] = []
        self.eof = False

    def next(self, deadline: float) -> str | None:
        """The next line; None at end of output or when the deadline passes."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while b"\n" not in self.buffer and not self.eof:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                chunk = os.read(self.fd, 4096)
                self.eof = not chunk
                self.buffer += chunk
        if b"\n" not in self.buffer:
            return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        self.lines.append(line.decode())
        return self.lines[-1]


@dataclass
class _Kill:
    """Where one kill landed."""

    run: int
    plan: str
    ready: bool
    stage: str
    #: Rows in state 'sending' in the file after the kill (some may be left from earlier kills).
    sending: int
    #: Rows this run had claimed ('sending') when it died: sends in flight.
    in_flight: int
    stored_unreceipted: set[str] = field(default_factory=set)


def _ledger_rows(db: Path) -> dict[str, tuple[str, int, str]]:
    """key -> (state, tries, updated_at), read straight from the SQLite file."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "carecast_attempts" not in tables:
            return {}
        query = "SELECT key, state, tries, updated_at FROM carecast_attempts"
        return {k: (s, t, u) for k, s, t, u in conn.execute(query).fetchall()}
    finally:
        conn.close()


def _stage(ready: bool, before: dict[str, tuple[str, int, str]],
           after: dict[str, tuple[str, int, str]], stored: set[str]
           ) -> tuple[str, set[str], int]:
    """Where the kill landed, judged by the rows this run changed."""
    touched = {k: row[0] for k, row in after.items() if before.get(k) != row}
    sending = {k for k, s in touched.items() if s == State.SENDING}
    caught = sending & stored
    if caught:
        stage = "after the receiver stored, before the receipt"
    elif sending:
        stage = "after the intent, before the receiver stored"
    elif any(s == State.PENDING for s in touched.values()):
        stage = "after review, before the intent"
    elif not ready:
        stage = "during start-up, before any send"
    else:
        stage = "no send in flight (reviewing, skipping published posts)"
    return stage, caught, len(sending)


def _run(config: Path, env: dict[str, str], plan: str, rng: random.Random
         ) -> tuple[bool, bool, list[str], int | None]:
    """One worker run under ``plan``; returns (killed, ready, lines, exit code)."""
    with subprocess.Popen([sys.executable, str(WORKER), str(config), str(POSTS)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          cwd=config.parent) as proc:
        lines = _Lines(proc)
        deadline = time.monotonic() + 60
        if plan == "start-up":
            time.sleep(rng.uniform(0.02, 0.25))
        elif plan == "anywhere":
            lines.next(deadline)  # "ready"
            time.sleep(rng.uniform(0.0, 0.1))
        elif plan == "mid-send":
            # wait until a post that had work is finished, then land inside the next one
            line = lines.next(deadline)
            while line is not None and line != "done" and not (
                    line.startswith("post ") and line.rsplit(" ", 1)[1] != "0"):
                line = lines.next(deadline)
            time.sleep(rng.uniform(0.0, 0.025))
        else:  # "complete": let it finish
            while lines.next(deadline) not in (None, "done"):
                pass
        killed = proc.poll() is None and plan != "complete"
        if killed:
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        text = lines.buffer.decode() + out.decode()
        every = [*lines.lines, *text.splitlines()]
        if not killed and proc.returncode != 0:
            raise AssertionError(f"the worker failed ({proc.returncode}):\n{err.decode()}")
        return killed, "ready" in every, every, proc.returncode


def test_sigkill_anywhere_then_rerun_publishes_every_post_once(server: FaultServer,
                                                               tmp_path: Path) -> None:
    config = _write_config(tmp_path, server)
    db = tmp_path / "ledger.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECAST_")}
    rng = random.Random(SEED)
    kills: list[_Kill] = []
    runs = 0
    while len(kills) < KILLS and runs < MAX_RUNS:
        runs += 1
        plan = rng.choices(("start-up", "anywhere", "mid-send"), (2, 2, 6))[0]
        before = _ledger_rows(db)
        killed, ready, _lines, _code = _run(config, env, plan, rng)
        if not killed:
            continue  # it finished before the kill: every post is out already
        time.sleep(0.05)  # let the receiver take any request the dead worker had written
        assert server.wait_idle(5)
        after = _ledger_rows(db)
        stage, caught, in_flight = _stage(ready, before, after, server.keys())
        kills.append(_Kill(runs, plan, ready, stage,
                           sum(1 for row in after.values() if row[0] == State.SENDING),
                           in_flight, caught))
    published_before_last = sum(1 for row in _ledger_rows(db).values()
                                if row[0] == State.PUBLISHED)
    killed, _ready, lines, code = _run(config, env, "complete", rng)
    assert not killed
    assert code == 0
    assert lines[-1] == "done"

    expected = {idempotency_key(f"crash-{i:03d}", a) for i in range(POSTS) for a in ACCOUNTS}
    assert len(kills) >= 20, f"only {len(kills)} kills landed in {runs} runs"

    # the receiver holds every post exactly once
    counts = server.counts()
    assert set(counts) == expected
    assert [k for k, n in counts.items() if n != 1] == []
    assert server.stats()["duplicates"] == 0

    # the ledger shows every target published, and its audit chain is sound
    with Ledger(f"sqlite:///{db}") as ledger:
        rows = [a for i in range(POSTS) for a in ledger.attempts(f"crash-{i:03d}")]
        assert {a.key for a in rows} == expected
        assert {a.state for a in rows} == {State.PUBLISHED}
        assert ledger.verify_audit() == []
        reconciled = {a.key for a in rows if a.receipt and a.receipt.reconciled}
    # exactly the targets a kill caught between the receiver's store and the receipt were
    # found by reconcile; none of them was sent again
    caught = set().union(*(k.stored_unreceipted for k in kills))
    assert reconciled == caught

    stages = Counter(k.stage for k in kills)
    in_flight = sum(1 for k in kills if k.in_flight)
    print(f"\n{len(kills)} kills in {runs + 1} runs; {in_flight} with a send in flight "
          f"({sum(k.in_flight for k in kills)} sends); 'sending' rows after each kill: "
          f"{[k.sending for k in kills]}; "
          f"{len(caught)} targets caught stored-but-unreceipted, all reconciled; "
          f"published before the last run: {published_before_last}/{len(expected)}")
    for k in kills:
        print(f"  run {k.run:2d} {k.plan:10s} ready={k.ready!s:5s} {k.stage}")
    for stage, n in stages.most_common():
        print(f"  {n:3d}  {stage}")
    # the kills must have hit the interesting places, or this test proves little
    assert in_flight >= 5, stages
    assert caught, stages


def _race_same_post(publisher_config_kw: dict[str, float] | None = None
                    ) -> tuple[FakePlatform, dict[str, PublishReport], str]:
    """Two threads publish one post; the first send is still in flight when the second runs."""
    platform = FakePlatform()
    first_sending = threading.Event()
    second_done = threading.Event()

    class SlowChannel(FakeChannel):
        """The first create takes a while (a video upload, a slow API) before it lands."""

        def publish(self, draft: Draft, key: str) -> Receipt:
            if threading.current_thread().name == "first":
                first_sending.set()
                second_done.wait(10)
            return super().publish(draft, key)

    SlowChannel.platform = platform
    publisher = Publisher(fake_config(["a"], **(publisher_config_kw or {})),
                          entry_point_plugins=False, channel_classes={"fake": SlowChannel},
                          retry=RetryPolicy(clock=NoWaitClock()))
    post = Post(id="in-flight-1", text="The clinic opens at 9 on Monday.")
    reports: dict[str, PublishReport] = {}

    def publish(name: str) -> None:
        try:
            reports[name] = publisher.publish(post)
        finally:
            if name == "second":
                second_done.set()

    first = threading.Thread(target=publish, args=("first",), name="first")
    second = threading.Thread(target=publish, args=("second",), name="second")
    try:
        first.start()
        assert first_sending.wait(10)
        second.start()
        second.join(20)
        first.join(20)
    finally:
        publisher.close()
    assert set(reports) == {"first", "second"}
    return platform, reports, idempotency_key(post.id, "a")


def test_a_send_in_flight_is_not_taken_over_by_a_second_publish() -> None:
    # Regression: with stale_sending_after = 0 (the old default) Ledger.claim handed a row that
    # was 'sending' right now to the second call, whose lookup ran before the first send
    # landed, so it sent again (the platform held the post twice).
    platform, reports, key = _race_same_post()
    assert platform.count(key) == 1
    assert reports["first"]["a"].state == State.PUBLISHED


def test_a_report_with_a_target_still_in_flight_is_not_ok() -> None:
    _platform, reports, _key = _race_same_post()
    report = reports["second"]
    assert report["a"].state == State.SENDING
    assert not report.ok or report["a"] in report.waiting
