"""The ledger at fan-out scale (issue 14): writes per wave, ``audit verify``, ``only=``.

- Writes: one post to 1,000 no-op accounts through the publisher; how many write
  transactions its claims and receipts took (the review and the claims are one; receipts go
  in waves, one transaction each).
- ``audit verify`` on a file SQLite store of about 100,000 events: events per second of CPU
  (``time.process_time``) for a full verify (every event's keyed hash), an incremental one
  with nothing new (the rows up to the last verified event checked by their digest) and an
  incremental one after 10 % more events (target: 100,000 events/s full).
- ``only=``: narrowing a post's 5,000 targets to all of them, CPU per call (it was
  quadratic: 204 ms).

Figures only: nothing here asserts on time. Run: ``python benchmarks/bench_ledger.py``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import Row, median, ms, table
from bench_overhead import NoopChannel, _config

from carecast import Post, Publisher, RetryPolicy
from carecast.post import Receipt
from carecast.records import Attempt, State
from carecast.store import Ledger
from carecast.testing import NoWaitClock

TARGET_EVENTS = 100_000  # events per CPU second, full verify
ACCOUNTS = 100
KEY = b"k" * 32


def fill(ledger: Ledger, first: int, posts: int) -> None:
    """Posts to ``ACCOUNTS`` accounts each, reviewed, claimed and published: 3 events each."""
    now = datetime.now(UTC)
    names = [f"acct-{a}" for a in range(ACCOUNTS)]
    for i in range(first, first + posts):
        post = Post(id=f"p{i}", text=f"Clinic update {i}.")
        ledger.record(post, [Attempt(post.id, n, "noop", State.PENDING, f"k{n}", 0, now)
                             for n in names], claim=names)
        ledger.settle([Receipt(post_id=post.id, account=n, channel="noop",
                               remote_id=f"r{i}-{n}", published_at=now) for n in names])


def _cpu(call: object, runs: int = 3) -> float:
    """The least CPU seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        call()  # type: ignore[operator]
        times.append(time.process_time() - start)
    return min(times)


def verify_rows(posts: int = 334) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        ledger = Ledger(f"sqlite:///{Path(tmp) / 'audit.db'}", clock=NoWaitClock(),
                        audit_key=KEY)
        fill(ledger, 0, posts)
        events = ledger.verify(full=True).events
        full = _cpu(lambda: ledger.verify(full=True))
        rate = events / full
        rows.append(Row("ledger", f"audit verify, full, {events:,} events",
                        f"{rate:,.0f} events/s ({full:.2f} s CPU)",
                        f">= {TARGET_EVENTS:,} events/s", rate >= TARGET_EVENTS))
        ledger.verify()
        same = _cpu(lambda: ledger.verify())
        rows.append(Row("ledger", "audit verify, incremental, nothing new",
                        f"{events / same:,.0f} events/s ({same:.2f} s CPU)"))
        fill(ledger, posts, posts // 10)
        start = time.process_time()
        report = ledger.verify()
        grown = time.process_time() - start
        assert report.problems == []
        assert report.checked_from == events + 1
        rows.append(Row("ledger", f"audit verify, incremental, {report.events - events:,} "
                                  f"new of {report.events:,}",
                        f"{report.events / grown:,.0f} events/s ({grown:.2f} s CPU)"))
        ledger.close()
    return rows


def write_rows(accounts: int = 1000) -> list[Row]:
    """Write transactions of one post to ``accounts`` no-op accounts."""
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        publisher = Publisher(_config(accounts, Path(tmp), concurrency=50),
                              entry_point_plugins=False, channel_classes={"noop": NoopChannel},
                              retry=RetryPolicy(clock=NoWaitClock()))
        with publisher:
            publisher.publish(Post(id="warm-up", text="Warm-up.", targets=["acct-0"]))
            ledger = publisher.ledger
            writes = [0]
            transaction = ledger._write

            def counted():  # type: ignore[no-untyped-def]
                writes[0] += 1
                return transaction()

            ledger._write = counted  # type: ignore[method-assign]
            ledger._batch._transaction = counted
            post = Post(id="waves", text="The flu vaccination clinic is open.")
            report = publisher.publish(post)
            assert len(report.published) == accounts
    return [Row("ledger", f"1 post -> {accounts:,} accounts: write transactions",
                f"{writes[0]} ({accounts / writes[0]:.0f} accounts each)")]


def only_rows(accounts: int = 5000) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        publisher = Publisher(_config(accounts, Path(tmp)), entry_point_plugins=False,
                              channel_classes={"noop": NoopChannel})
        post = Post(id="narrow", text="Clinic hours.")
        names = [f"acct-{i}" for i in range(accounts)]
        values = []
        for _ in range(5):
            start = time.process_time()
            publisher.targets(post, names)
            values.append(time.process_time() - start)
        publisher.close()
    return [Row("ledger", f"only= narrowing {accounts:,} targets: CPU per call",
                ms(median(values)))]


def run() -> list[Row]:
    return [*write_rows(), *only_rows(), *verify_rows()]


if __name__ == "__main__":
    print(table(run()))
