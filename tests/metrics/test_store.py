"""The slot claims on SQLite and on a real PostgreSQL server: a slot is claimed by one
collector, taken over only when stale or failed, and written once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from carecast.store import Ledger
from carecast.store.metrics import AccountSample, MetricStore, PostSample, post_slot
from carecast.testing import FrozenClock

from ._helpers import START


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[MetricStore]:
    url = f"sqlite:///{tmp_path}/ledger.db" if request.param == "sqlite" \
        else str(request.getfixturevalue("postgres_url"))
    clock = FrozenClock(START)
    with Ledger(url, clock=clock) as ledger:
        yield MetricStore(ledger.engine, clock=clock)


def sample(post: str, offset: int = 3600, likes: int = 1) -> PostSample:
    return PostSample(post_id=post, account="a", channel="x", remote_id=f"r-{post}",
                      published_at=START, offset_s=offset, taken_at=START, likes=likes,
                      brand="riverside", campaign="flu", extra={"quote_count": 2})


def test_a_slot_is_claimed_once_and_written_once(store: MetricStore) -> None:
    keys = [post_slot(f"p{i}", "a", 3600) for i in range(700)]  # more than one batch
    first = store.claim(keys, stale_after=60, max_tries=3)
    assert len(first) == 700
    assert store.claim(keys, stale_after=60, max_tries=3) == []
    written = store.finish([(c, sample(f"p{i}")) for i, c in enumerate(first)])
    assert len(written) == 700
    assert store.finish([(first[0], sample("p0", likes=5))]) == []  # done: nothing more
    assert store.settled(keys) == set(keys)
    got = store.post_samples(post_id="p0")
    assert [(s.likes, s.extra, s.brand) for s in got] == [(1, {"quote_count": 2}, "riverside")]


def test_stale_and_failed_slots_are_taken_over(store: MetricStore) -> None:
    key = post_slot("p", "a", 3600)
    crashed = store.claim([key], stale_after=60, max_tries=3)
    store.clock.advance(seconds=30)  # type: ignore[attr-defined]
    assert store.claim([key], stale_after=60, max_tries=3) == []  # still fresh
    store.clock.advance(seconds=31)  # type: ignore[attr-defined]
    taken = store.claim([key], stale_after=60, max_tries=3)
    assert [c.tries for c in taken] == [2]
    assert store.finish([(crashed[0], sample("p", likes=9))]) == []  # not its claim any more
    store.finish([], [(taken[0], "ChannelServerError", 900.0)], max_tries=3)
    assert store.claim([key], stale_after=60, max_tries=3) == []  # waits for retry_at
    store.clock.advance(seconds=900)  # type: ignore[attr-defined]
    third = store.claim([key], stale_after=60, max_tries=3)
    store.finish([], [(third[0], "ChannelServerError", 900.0)], max_tries=3)
    assert store.slot_states() == {"given_up": 1}  # three tries: given up


def test_racing_claims_share_the_slots(store: MetricStore) -> None:
    keys = [post_slot(f"p{i}", "a", 3600) for i in range(300)]
    got: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        mine = store.claim(keys, stale_after=60, max_tries=3)
        with lock:
            got.extend(c.key for c in mine)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(got) == Counter(keys)


def test_account_samples_by_day(store: MetricStore) -> None:
    claims = store.claim(["account:a:2027-03-01", "account:a:2027-03-02"], stale_after=60,
                         max_tries=3)
    store.finish([(claims[0], AccountSample(account="a", channel="x", day="2027-03-01",
                                            taken_at=START, followers=10, brand="r")),
                  (claims[1], AccountSample(account="a", channel="x", day="2027-03-02",
                                            taken_at=START, followers=14, brand="r"))])
    assert [s.followers for s in store.account_samples(brand="r")] == [10, 14]
    assert [s.day for s in store.account_samples(day_from="2027-03-02")] == ["2027-03-02"]
    assert store.account_samples(day_to="2027-03-01") == []
