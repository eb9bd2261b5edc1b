"""A store with four weeks of readings for two brands, and the four weeks before them: what
the report tests, the browser test and the docs' screenshot look at."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from carecast.metrics import Collector
from carecast.publish import Publisher
from carecast.testing import FrozenClock

from ._helpers import START, config, counting_class, publisher

#: Day 0 of the report period (a Monday); the previous period is the 28 days before it.
PERIOD = START + timedelta(days=28)


def demo(tmp_path: Path, campaign_name: str = "flu-2027") -> tuple[Publisher, FrozenClock]:
    """Posts every other day at 08:00 or 17:00 Chicago time on accounts a, b (riverside) and
    c (lakeside); engagement grows in the report period and evening posts do better."""
    clock = FrozenClock(START)
    channel = counting_class()
    pub = publisher(tmp_path, clock, channel, cfg=config(tmp_path, account_daily=True))
    collector = Collector(pub)
    followers = {"a": 1000, "b": 400, "c": 90}
    for day in range(56):
        base = START + timedelta(days=day)
        if day % 2 == 0:
            evening = day % 4 == 0
            at = base + timedelta(hours=9 if evening else 0)
            clock.set(at)
            post_id = f"post-{day:02d}"
            later = day >= 28
            report = pub.publish(_post(post_id, campaign_name if day % 3 else "checkups"))
            for outcome in report.outcomes:
                assert outcome.receipt is not None, outcome
                factor = (2 if later else 1) * (3 if evening else 1)
                channel.counts[outcome.receipt.remote_id] = _growing(factor, later)
        for hour in (1, 10, 20):
            clock.set(base + timedelta(hours=hour))
            for name in followers:
                followers[name] += 3 if name != "c" else 1
                channel.followers[name] = followers[name]
            collector.collect()
    clock.set(PERIOD + timedelta(days=28, hours=1))
    collector.collect()
    return pub, clock


def _growing(factor: int, later: bool) -> Callable[[float], dict[str, int]]:
    """Counts that grow quickly in the first day and slowly after (the usual decay)."""
    def counts(age: float) -> dict[str, int]:
        share = min(1.0, 0.35 + 0.4 * min(age, 86400) / 86400 + 0.25 * age / 2419200)
        seen = int(300 * (2 if later else 1) * share)
        return {"likes": int(5 * factor * share), "reposts": int(factor * share),
                "replies": int(factor * share), "impressions": int(seen * 1.3), "reach": seen,
                "clicks": int(2 * factor * share)}
    return counts


def _post(post_id: str, campaign: str):
    from carecast.post import Post

    return Post(id=post_id, text=f"Flu shots at the clinic ({post_id}).", campaign=campaign,
                targets=("a", "b", "c"))


def period() -> tuple[datetime, datetime]:
    return PERIOD, PERIOD + timedelta(days=28)
