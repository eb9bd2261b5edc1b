"""What the metrics tests share: a fake channel whose counts a test sets, and a publisher
over it with a store file of its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from carecast.config import Config
from carecast.errors import ChannelError
from carecast.post import AccountMetrics, Metrics, Post, Receipt
from carecast.publish import Publisher
from carecast.testing import FakeChannel, FakePlatform, FrozenClock

START = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # a Monday, 08:00 in Chicago


class CountingChannel(FakeChannel):
    """A fake channel that answers metrics from ``counts`` (by remote id) and records reads;
    an exception in ``counts`` is raised instead."""

    platform: ClassVar[FakePlatform]
    counts: ClassVar[dict[str, Any]]
    followers: ClassVar[dict[str, Any]]
    reads: ClassVar[list[str]]

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        self.reads.append(receipt.remote_id)
        given = self.counts.get(receipt.remote_id, {"likes": 1})
        if callable(given):  # counts that grow with the post's age
            given = given((self.clock.now() - receipt.published_at).total_seconds())
        if isinstance(given, BaseException):
            raise given
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), **given)

    def fetch_account_metrics(self) -> AccountMetrics:
        self.reads.append(f"account:{self.account}")
        given = self.followers.get(self.account, 100)
        if isinstance(given, BaseException):
            raise given
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=self.clock.now(), followers=given, posts=10)


def counting_class() -> type[CountingChannel]:
    return type("Counting", (CountingChannel,), {
        "platform": FakePlatform(), "counts": {}, "followers": {}, "reads": []})


def config(tmp_path: Path, accounts: dict[str, str] | None = None, **metrics: Any) -> Config:
    """Two brands: riverside (Chicago) with accounts a and b, lakeside (UTC) with c."""
    accounts = accounts or {"a": "riverside", "b": "riverside", "c": "lakeside"}
    return Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path}/carecast.db"},
        "brands": {"riverside": {"name": "Riverside General", "timezone": "America/Chicago",
                                 "website": "https://riverside.example"},
                   "lakeside": {"name": "Lakeside Clinic"}},
        "accounts": {n: {"channel": "fake", "brand": b} for n, b in accounts.items()},
        "metrics": metrics,
    }, root=tmp_path, environ={})


def publisher(tmp_path: Path, clock: FrozenClock, channel: type[CountingChannel] | None = None,
              cfg: Config | None = None, **kw: Any) -> Publisher:
    return Publisher(cfg or config(tmp_path), entry_point_plugins=False, clock=clock,
                     channel_classes={"fake": channel or counting_class()}, **kw)


def publish(pub: Publisher, post_id: str, *, targets: tuple[str, ...] = ("a", "b", "c"),
            campaign: str | None = "flu") -> dict[str, str]:
    """Publish a post now to ``targets``; ``{account: remote id}``."""
    report = pub.publish(Post(id=post_id, text=f"Flu shots this week ({post_id}).",
                              targets=targets, campaign=campaign))
    report.raise_for_failures()
    return {o.account: o.receipt.remote_id for o in report.outcomes if o.receipt}


def fails(cls: type[ChannelError], **kw: Any) -> Callable[[], ChannelError]:
    return lambda: cls("the platform said no", channel="fake", account="a", **kw)
