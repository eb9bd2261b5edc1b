"""SDK overhead per post x account: a channel that returns at once, the SQLite store on disk.

Everything carecast does around the network call is timed: target resolution, render, the
review hooks, the gate, the ledger (record, claim, receipt, audit chain; file SQLite in WAL
mode), the retry wrapper, the worker pool and the report.
Run: ``python benchmarks/bench_overhead.py``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from _common import Row, median, ms, percentile, table

from carecast import Channel, Config, Post, Publisher, RetryPolicy
from carecast.post import Draft, Profile, Receipt
from carecast.testing import NoWaitClock

TARGET = 0.001  # seconds per post x account, median


class NoopChannel(Channel):
    """Publishes nowhere and answers at once."""

    name: ClassVar[str] = "noop"
    title: ClassVar[str] = "No-op (benchmarks)"
    max_text: ClassVar[int | None] = 500
    per_account = 64

    def publish(self, draft: Draft, key: str) -> Receipt:
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=key, published_at=datetime.now(UTC))

    def delete(self, receipt: Receipt) -> None:
        pass

    def fetch_profile(self) -> Profile:
        return Profile(channel=self.name, account=self.account)


def _config(accounts: int, folder: Path) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "publish": {"concurrency": 16},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {f"acct-{i}": {"channel": "noop", "brand": "clinic"}
                     for i in range(accounts)},
    }, root=folder, environ={})


def measure(accounts: int, targets: int = 2000, *, plugins: bool = False,
            warmup: int = 20) -> list[float]:
    """Seconds per post x account, one value per ``publish`` call."""
    posts = [Post(id=f"bench-{accounts}-{i}",
                  text=f"Clinic update {i}: the flu vaccination clinic is open this week.",
                  hashtags=["flu"], link="https://clinic.example/flu")
             for i in range(warmup + targets // accounts)]
    per_target: list[float] = []
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        publisher = Publisher(_config(accounts, Path(tmp)), entry_point_plugins=plugins,
                              channel_classes={"noop": NoopChannel},
                              retry=RetryPolicy(clock=NoWaitClock()))
        with publisher:
            for i, post in enumerate(posts):
                start = time.perf_counter()
                report = publisher.publish(post)
                elapsed = time.perf_counter() - start
                if not report.ok or len(report.published) != accounts:
                    raise RuntimeError(f"publish failed: {report.counts}")
                if i >= warmup:
                    per_target.append(elapsed / accounts)
    return per_target


def run() -> list[Row]:
    rows = []
    for accounts, plugins in ((1, False), (10, False), (1, True), (10, True)):
        values = measure(accounts, plugins=plugins)
        label = f"{accounts} account{'s' if accounts > 1 else ''}/post" + (
            ", installed hook plugins" if plugins else ", no plugins")
        med = median(values)
        rows.append(Row("overhead", f"{label}: median per post x account", ms(med),
                        "< 1 ms", med < TARGET))
        rows.append(Row("overhead", f"{label}: p95 per post x account",
                        ms(percentile(values, 0.95))))
    return rows


if __name__ == "__main__":
    print(table(run()))
