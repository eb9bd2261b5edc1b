"""The collector: the decay schedule, the daily account series, failures and takeovers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from carecast.errors import ChannelServerError, PlatformRejected, RateLimited
from carecast.metrics import Collector, MetricsView
from carecast.store.metrics import MetricStore, post_slot
from carecast.testing import FrozenClock

from ._helpers import START, config, counting_class, publish, publisher


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def offsets(view: MetricsView, account: str = "a") -> list[int]:
    return [p.offset_s for s in view.posts(account=account) for p in s.points]


def test_the_decay_schedule_reads_each_slot_once(tmp_path, clock) -> None:
    channel = counting_class()
    pub = publisher(tmp_path, clock, channel)
    ids = publish(pub, "flu-1")
    collector = Collector(pub)
    view = MetricsView(collector.store)
    clock.advance(minutes=59)
    assert collector.collect().written == 0  # nothing due before +1 h
    clock.advance(minutes=1)
    channel.counts[ids["a"]] = {"likes": 4, "reposts": 1, "replies": 2, "impressions": 300}
    done = collector.collect()
    assert (done.written, done.failed) == (3, {})
    assert collector.collect().claimed == 0  # run again at once: nothing more
    clock.advance(hours=23)
    collector.collect()
    clock.advance(days=6)
    collector.collect()
    clock.advance(days=21)
    collector.collect()
    clock.advance(days=60)
    assert collector.collect().written == 0  # the schedule is over
    assert offsets(view) == [3600, 86400, 604800, 2419200]
    reads = [r for r in channel.reads if r == ids["a"]]
    assert len(reads) == 4  # one read per slot, however often it ran
    first = view.posts(account="a")[0].points[0]
    assert (first.likes, first.engagements, first.seen) == (4, 7, 300)


def test_a_collector_that_was_down_reads_the_latest_slot_only(tmp_path, clock) -> None:
    pub = publisher(tmp_path, clock)
    publish(pub, "flu-1")
    clock.advance(days=8)
    collector = Collector(pub)
    collector.collect()
    assert offsets(MetricsView(collector.store)) == [604800]  # no late "+1 h" reading


def test_the_schedule_is_configurable(tmp_path, clock) -> None:
    pub = publisher(tmp_path, clock, cfg=config(tmp_path, schedule=["30m", "2d"]))
    publish(pub, "flu-1")
    collector = Collector(pub)
    clock.advance(minutes=30)
    collector.collect()
    clock.advance(days=2)
    collector.collect()
    assert offsets(MetricsView(collector.store)) == [1800, 172800]


def test_the_account_series_is_daily_in_brand_time(tmp_path, clock) -> None:
    channel = counting_class()
    pub = publisher(tmp_path, clock, channel)
    collector = Collector(pub)
    channel.followers.update({"a": 100, "b": 50, "c": 7})
    assert collector.collect().accounts_written == 3
    clock.advance(hours=9)  # 23:00 UTC: still Monday in Chicago and in UTC
    assert collector.collect().accounts_written == 0
    clock.advance(hours=2)  # 01:00 UTC Tuesday: c's (UTC) day has turned, Chicago's not
    channel.followers["c"] = 9
    assert collector.collect().accounts_written == 1
    clock.advance(hours=5)  # 00:00 in Chicago
    channel.followers.update({"a": 130, "b": 45})
    assert collector.collect().accounts_written == 2
    view = MetricsView(collector.store)
    days = [(s.account, s.day, s.followers) for s in view.accounts()]
    assert days == [("a", "2027-03-01", 100), ("b", "2027-03-01", 50), ("c", "2027-03-01", 7),
                    ("a", "2027-03-02", 130), ("b", "2027-03-02", 45), ("c", "2027-03-02", 9)]
    assert view.groups("brand", [], view.accounts()) == []  # groups come from posts


def test_failures_are_retried_later_and_given_up(tmp_path, clock) -> None:
    channel = counting_class()
    pub = publisher(tmp_path, clock, channel, cfg=config(tmp_path, max_tries=2,
                                                         account_daily=False))
    ids = publish(pub, "flu-1")
    channel.counts[ids["a"]] = ChannelServerError("down", channel="fake", account="a")
    channel.counts[ids["b"]] = PlatformRejected("no such post", channel="fake", account="b",
                                                status=404)
    channel.counts[ids["c"]] = RateLimited("slow down", channel="fake", account="c",
                                           retry_after=120)
    clock.advance(hours=1)
    collector = Collector(pub)
    done = collector.collect()
    assert done.failed == {"ChannelServerError": 1, "PlatformRejected": 1, "RateLimited": 1}
    # one failing account never blanks the others' readings
    channel.counts[ids["c"]] = {"likes": 9}
    clock.advance(seconds=121)
    assert collector.collect().written == 1  # c, after its Retry-After; a waits 15 min
    clock.advance(minutes=15)
    assert collector.collect().failed == {"ChannelServerError": 1}  # a's second try
    clock.advance(hours=2)
    assert collector.collect().claimed == 0  # a was given up after max_tries; b at once
    assert collector.store.slot_states() == {"done": 1, "given_up": 2}


def test_a_claim_left_by_a_crashed_collector_is_taken_over_once(tmp_path, clock) -> None:
    pub = publisher(tmp_path, clock, cfg=config(tmp_path, stale_claim_after=60,
                                                account_daily=False))
    ids = publish(pub, "flu-1")
    clock.advance(hours=1)
    store = MetricStore(pub.ledger.engine, clock=clock)
    key = post_slot("flu-1", "a", 3600)
    crashed = store.claim([key], stale_after=60, max_tries=5)  # then it died
    assert [c.key for c in crashed] == [key]
    collector = Collector(pub, store=store)
    assert collector.collect().written == 2  # b and c; a's slot is held
    clock.advance(seconds=61)
    assert collector.collect().written == 1  # taken over
    from carecast.store.metrics import PostSample

    late = PostSample(post_id="flu-1", account="a", channel="fake", remote_id=ids["a"],
                      published_at=START, offset_s=3600, taken_at=clock.now(), likes=99)
    assert store.finish([(crashed[0], late)]) == []  # the crashed claim writes nothing
    samples = store.post_samples(account="a")
    assert [(s.offset_s, s.likes) for s in samples] == [(3600, 1)]


def test_racing_collectors_write_each_slot_once(tmp_path, clock) -> None:
    pub = publisher(tmp_path, clock, cfg=config(tmp_path, account_daily=False))
    for i in range(30):
        publish(pub, f"post-{i}")
    clock.advance(hours=1)
    collectors = [Collector(pub, concurrency=4) for _ in range(4)]
    written: list[int] = []
    threads = [threading.Thread(target=lambda c=c: written.append(c.collect().written))
               for c in collectors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(written) == 90
    assert len(collectors[0].store.post_samples()) == 90


def test_disabled_accounts_and_channels_without_metrics_are_skipped(tmp_path, clock) -> None:
    from carecast.testing import FakeChannel, FakePlatform

    plain = type("Plain", (FakeChannel,), {"platform": FakePlatform()})
    pub = publisher(tmp_path, clock, plain)  # type: ignore[arg-type]
    publish(pub, "flu-1")
    clock.advance(hours=1)
    assert Collector(pub).collect().due == 0


def test_a_stop_between_waves_ends_the_collection(tmp_path, clock) -> None:
    pub = publisher(tmp_path, clock)
    publish(pub, "flu-1")
    clock.advance(hours=1)
    stop = threading.Event()
    stop.set()
    collector = Collector(pub)
    assert collector.collect(stop=stop).claimed == 0
    collector.run(stop=stop, interval=1)  # returns at once when stopped


def test_metric_samples_outlive_the_collector(tmp_path, clock) -> None:
    pub = publisher(tmp_path, clock)
    publish(pub, "flu-1")
    clock.advance(timedelta(hours=1).total_seconds())
    Collector(pub).collect()
    pub.close()
    again = publisher(tmp_path, clock)
    assert len(MetricsView(Collector(again).store).posts()) == 3
