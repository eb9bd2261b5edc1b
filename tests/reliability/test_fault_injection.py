"""1,000 post x account publishes through the real webhook channel against a faulty receiver.

The receiver (``faultserver.py``) does not deduplicate, so a resend after a send that landed
would show up as a key stored twice. It fails ~30% of the posts with 500s (before and after
storing), 503s, 429s with ``Retry-After``, connection resets (before and after storing, and in
the middle of a 200 answer) and answers that never come in time after storing, and fails some
lookups too. The retry policy records its waits instead of sleeping.

It runs on the default store (an SQLite file in WAL mode) and, where PostgreSQL is installed,
on PostgreSQL (the ``postgres_url`` fixture of ``tests/conftest.py``; skipped otherwise).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from carecast import Config, Post, Publisher, RetryPolicy, State
from carecast.publish.publisher import idempotency_key
from carecast.publish.report import PublishReport
from carecast.store import Ledger
from carecast.testing import NoWaitClock

from .faultserver import LOOKUP_FAULTS, POST_FAULTS, STORED_FAULTS, FaultServer

pytestmark = pytest.mark.slow

POSTS = 100
ACCOUNTS = [f"hook-{i}" for i in range(10)]
READ_TIMEOUT = 1.0  # well above a loaded machine's slowest plain answer
SERVER_TIMEOUT_SLEEP = 1.6  # the timeout fault answers after the client gave up


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(fault_rate=0.3, lookup_fault_rate=0.1, seed=20261101,
                     timeout_sleep=SERVER_TIMEOUT_SLEEP) as srv:
        yield srv


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The SQLite file in WAL mode (the default store), and PostgreSQL where it is installed."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _config(server: FaultServer, tmp_path: Path, store_url: str) -> Config:
    return Config.from_dict({
        "store": {"url": store_url},
        "publish": {"concurrency": 32},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {name: {"channel": "webhook", "brand": "clinic", "url": server.hook_url,
                            "lookup_url": server.lookup_url, "timeout": READ_TIMEOUT,
                            "connect_timeout": 2.0}
                     for name in ACCOUNTS},
    }, root=tmp_path, environ={})


def _posts() -> list[Post]:
    return [Post(id=f"fault-{i:03d}",
                 text=f"Clinic update {i}: the flu vaccination clinic is open this week.",
                 hashtags=["flu"])
            for i in range(POSTS)]


def test_every_target_is_stored_exactly_once_under_faults(server: FaultServer,
                                                          tmp_path: Path,
                                                          store_url: str) -> None:
    clock = NoWaitClock()
    policy = RetryPolicy(max_attempts=16, max_wait=1e6, clock=clock, rng=random.Random(7))
    sessions = {name: requests.Session() for name in ACCOUNTS}
    posts = _posts()
    publisher = Publisher(_config(server, tmp_path, store_url), retry=policy,
                          entry_point_plugins=False, sessions=sessions)
    try:
        # several posts at once, each fanned out to ten accounts by the publisher's pool
        with ThreadPoolExecutor(8, thread_name_prefix="caller") as callers:
            reports: list[PublishReport] = list(callers.map(publisher.publish, posts))
        before_rerun = server.stats()
        reruns = [publisher.publish(post) for post in posts]
    finally:
        publisher.close()
        for session in sessions.values():
            session.close()
    stats = server.stats()

    expected = {idempotency_key(p.id, a) for p in posts for a in ACCOUNTS}
    outcomes = [o for r in reports for o in r.outcomes]
    assert len(outcomes) == len(expected) == 1000

    # every report outcome is published, and a re-run sends nothing
    assert Counter(str(o.state) for o in outcomes) == {"published": 1000}, [
        (r.post_id, o.account, o.summary) for r in reports for o in r.failures]
    assert all(o.already_published for r in reruns for o in r.outcomes)
    assert stats["posts"] == before_rerun["posts"]
    assert stats["lookups"] == before_rerun["lookups"]

    # the server holds every key exactly once: no duplicates, none missing
    counts = server.counts()
    assert set(counts) == expected
    assert [k for k, n in counts.items() if n != 1] == []
    assert stats["duplicates"] == 0
    assert stats["incomplete"] == stats["bad_requests"] == 0

    # the report agrees with the server's counters
    assert len(outcomes) == stats["accepted"]
    remote_ids = {o.receipt.remote_id for o in outcomes if o.receipt}
    assert len(remote_ids) == 1000
    assert all(i.startswith("wh-") for i in remote_ids)
    reconciled = sum(1 for o in outcomes if o.receipt and o.receipt.reconciled)
    stored_unanswered = sum(stats[f] for f in STORED_FAULTS)
    # Every send the server stored without answering was found by lookup, and every receipt
    # marked reconciled is a find the server made. On a loaded machine a plain success (or a
    # find) can come back slower than the client's read timeout: it is reconciled (or looked
    # up again) like a fault, so the counts may differ by those, never the other way round.
    assert stored_unanswered <= reconciled <= stats["lookup_found"]

    # every failed attempt was retried once, after one recorded wait; the other waits are
    # sends that waited out another send's rate limit on their account
    paused = publisher.dispatcher.limits.waits
    retry_waits = list((Counter(clock.sleeps) - Counter(paused)).elements())
    assert len(clock.sleeps) == len(retry_waits) + len(paused)
    assert len(retry_waits) == sum(o.tries for o in outcomes) - len(outcomes)
    assert all(0 < w <= policy.max_retry_after for w in paused)
    # every Retry-After the server sent was honoured: waited exactly by the send it answered,
    # or, when that account was already paused by another send's 429, within that pause (on
    # a loaded machine the two 429s of one account can meet; the wait is then one of the
    # paused ones). No wait is for a Retry-After the server never sent.
    assert len(server.retry_after_sent) == stats["429"]
    asked = Counter(float(v) for v in server.retry_after_sent)
    waited = Counter(w for w in retry_waits if w in asked)
    assert not waited - asked
    assert sum((asked - waited).values()) <= len(paused)
    # the other waits are jittered backoff within the policy's cap
    assert all(0 <= w <= policy.max_backoff for w in retry_waits if w not in asked)

    # every fault really happened, so this test can fail
    for fault in (*POST_FAULTS, *LOOKUP_FAULTS):
        assert stats[fault] >= 5, (fault, stats)

    # the ledger says the same, and its audit chain is sound
    with Ledger(store_url) as ledger:
        rows = [a for p in posts for a in ledger.attempts(p.id)]
        assert len(rows) == 1000
        assert {a.state for a in rows} == {State.PUBLISHED}
        assert {a.key for a in rows} == expected
        assert {a.tries for a in rows} == {1}  # the ledger counts claims: one run each
        assert ledger.verify_audit() == []

    print(f"\nfault server: {dict(sorted(stats.items()))}")
    print(f"reconciled receipts: {reconciled}; retry waits: {len(clock.sleeps)}; "
          f"Retry-After honoured: {sum(asked.values())}")
