"""Fault injection through the real Publisher and Mastodon channel against a loopback instance
(tests/mastodon_server.py): a create whose answer is lost, then more than a page of newer
statuses, is found by paging back to its send time and never posted twice (issue 13 item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carecast.channels import paging
from carecast.config import Config
from carecast.post import Post
from carecast.publish import Publisher
from carecast.publish.retry import RetryPolicy
from carecast.records import State
from carecast.testing import FrozenClock
from mastodon_server import MastodonServer

TOKEN = "mstdn-tok3n-0123456789abcdef0123456789abcdef"
POST = Post(id="flu-1", text="Flu shots are free at every Riverside clinic this week.")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 21, 9, 30, tzinfo=UTC))


@pytest.fixture
def server(clock: FrozenClock) -> Iterator[MastodonServer]:
    with MastodonServer(clock.now, ignore_keys=True) as instance:
        yield instance


def publisher(tmp_path: Path, server: MastodonServer, clock: FrozenClock) -> Publisher:
    config = Config.from_dict({"accounts": {"health": {
        "channel": "mastodon", "api_base_url": server.url, "access_token": TOKEN,
        "timeout": 0.4}}},
        root=tmp_path, environ={})
    return Publisher(config, entry_point_plugins=False, clock=clock,
                     retry=RetryPolicy(clock=clock))


def history(server: MastodonServer, count: int, clock: FrozenClock) -> None:
    """Older statuses by the account, an hour before the post, one of them with its text."""
    clock.advance(-3600)
    server.post(POST.text)  # last year's campaign: the same words, not this post
    for n in range(count):
        server.post(f"An older status {n}.")
    clock.advance(3600)


@pytest.mark.parametrize("mode", ["reset", "timeout"])
def test_a_lost_answer_then_45_newer_statuses_is_posted_exactly_once(
        tmp_path, server, clock, mode) -> None:
    history(server, 30, clock)
    server.drop_answers, server.burst = 1, 45
    server.drop_mode, server.hang_for = mode, 1.0
    with publisher(tmp_path, server, clock) as pub:
        outcome = pub.publish(POST)["health"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.reconciled
    assert server.copies(POST.text) == 2  # last year's and this one: no duplicate
    assert server.creates == 1
    assert server.page_requests >= 2  # the page of 40 was not enough


def test_later_retry_rounds_page_back_too(tmp_path, server, clock) -> None:
    server.drop_answers, server.burst = 1, 130
    policy = RetryPolicy(max_attempts=1, clock=clock)
    config = Config.from_dict({"accounts": {"health": {
        "channel": "mastodon", "api_base_url": server.url, "access_token": TOKEN}}},
        root=tmp_path, environ={})
    with Publisher(config, entry_point_plugins=False, clock=clock, retry=policy) as pub:
        assert pub.publish(POST)["health"].state == State.UNKNOWN
        for n in range(30):
            server.post(f"Posted while the target was unknown {n}.")
        clock.advance(600)
        retried = pub.retry(POST.id)["health"]
    assert retried.state == State.PUBLISHED
    assert retried.receipt.reconciled
    assert server.copies(POST.text) == 1
    assert server.creates == 1


def test_when_the_pages_do_not_reach_the_send_it_stays_unknown(
        tmp_path, server, clock, monkeypatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 2)
    server.drop_answers, server.burst = 1, 100  # 101 statuses since: more than 2 pages
    with publisher(tmp_path, server, clock) as pub:
        outcome = pub.publish(POST)["health"]
        assert outcome.state == State.UNKNOWN
        assert "--resend-unknown" in outcome.error.message
        assert pub.retry(POST.id)["health"].state == State.UNKNOWN
    assert server.copies(POST.text) == 1
    assert server.creates == 1


def test_a_page_error_is_unknown_not_absent(tmp_path, server, clock) -> None:
    server.drop_answers, server.burst = 1, 60
    server.failing_pages = set(range(2, 100, 2))  # every second page fails
    with publisher(tmp_path, server, clock) as pub:
        assert pub.publish(POST)["health"].state == State.UNKNOWN
    assert server.copies(POST.text) == 1


def test_an_honest_absence_is_sent(tmp_path, server, clock) -> None:
    """Paging to the send time and finding nothing sends the post (a connection refused
    before anything was stored is the other half of exactly once)."""
    history(server, 90, clock)
    with publisher(tmp_path, server, clock) as pub:
        outcome = pub.publish(POST)["health"]
    assert outcome.state == State.PUBLISHED, outcome.error
    assert not outcome.receipt.reconciled
    assert server.copies(POST.text) == 2
