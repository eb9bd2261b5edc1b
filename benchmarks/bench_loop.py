"""The publishing loop's reads with many stored posts: queries and CPU time of ``next_slot``,
the ``carecast posts`` listing, a freeze (it looks for natively scheduled posts) and a
calendar month, against the per-post reads they replaced (``post_ids`` then one
``get_post`` and one ``attempts`` per post).
Run: ``python benchmarks/bench_loop.py``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _common import Row, ms, table
from bench_overhead import NoopChannel

from carecast import Config, Post, Publisher
from carecast.calendar import build_calendar
from carecast.testing import FrozenClock

STORED = 1000
#: Each read is a fixed number of queries whatever the number of posts (a transaction's
#: BEGIN counts as one; a freeze also writes its row and audit event).
MAX_QUERIES = 10
START = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _config(folder: Path) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "brands": {"clinic": {"name": "Riverside Clinic", "timezone": "America/Chicago"}},
        "accounts": {name: {"channel": "noop", "brand": "clinic", "slots": ["daily 10:00"]}
                     for name in ("x", "news")},
    }, root=folder, environ={})


def _measure(publisher: Publisher, action: Callable[[], Any]) -> tuple[int, float]:
    """Queries run and CPU seconds used by ``action``."""
    count = 0

    def seen(*_args: object) -> None:
        nonlocal count
        count += 1

    sa.event.listen(publisher.ledger.engine, "before_cursor_execute", seen)
    cpu = time.process_time()
    try:
        action()
    finally:
        cpu = time.process_time() - cpu
        sa.event.remove(publisher.ledger.engine, "before_cursor_execute", seen)
    return count, cpu


def _per_post(publisher: Publisher) -> None:
    """What next_slot, posts and freeze each did before: three reads per stored post."""
    ledger = publisher.ledger
    for post_id in ledger.post_ids():
        ledger.get_post(post_id)
        ledger.attempts(post_id)


def run() -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clock = FrozenClock(START)
        with Publisher(_config(Path(tmp)), entry_point_plugins=False, clock=clock,
                       channel_classes={"noop": NoopChannel}) as publisher:
            for i in range(STORED):
                publisher.publish(Post(id=f"p{i}", text=f"Clinic update {i}.",
                                       schedule=START + timedelta(hours=i + 1)))
            cases: dict[str, Callable[[], Any]] = {
                "per-post reads (before)": lambda: _per_post(publisher),
                "next_slot": lambda: publisher.next_slot("x"),
                "posts listing": publisher.ledger.stored,
                "freeze": lambda: publisher.freeze(reason="drill", by="bench"),
                "calendar month": lambda: build_calendar(
                    publisher, first=date(2027, 3, 1), last=date(2027, 3, 31)),
            }
            for name, action in cases.items():
                queries, cpu = _measure(publisher, action)
                rows.append(Row("loop", f"{name}, {STORED} stored posts",
                                f"{queries} queries, {ms(cpu)} CPU",
                                "" if name.endswith("(before)") else f"<= {MAX_QUERIES} queries",
                                None if name.endswith("(before)") else queries <= MAX_QUERIES))
    return rows


if __name__ == "__main__":
    print(table(run()))
