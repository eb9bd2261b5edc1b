"""Rate-limit domains (``carecast.publish.limits``) through the real Publisher and Mastodon
channel: places in flight per account and per host, counted at loopback instances; a 429 on
one account leaves the others alone; bad ``[publish]`` limits are refused naming the key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from carecast.config import Config
from carecast.errors import ConfigurationError, UnknownChannelError
from carecast.post import Post
from carecast.publish import Publisher
from carecast.publish.retry import RetryPolicy
from carecast.records import State
from carecast.testing import FrozenClock
from mastodon_server import MastodonServer

BASE = "https://health.example.social"
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def _config(tmp_path: Path, accounts: dict[str, str], **publish: Any) -> Config:
    """Mastodon accounts (name -> instance URL), each with its own token."""
    return Config.from_dict({
        "publish": publish,
        "accounts": {name: {"channel": "mastodon", "api_base_url": url,
                            "access_token": f"token-of-{name}"}
                     for name, url in accounts.items()},
    }, root=tmp_path, environ={})


@pytest.fixture(autouse=True)
def fresh_limit_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The instances' character limits this process read are forgotten after each test."""
    import carecast.channels.mastodon as mastodon_channel

    monkeypatch.setattr(mastodon_channel, "_limits", {})


@pytest.fixture
def instances() -> Iterator[tuple[MastodonServer, MastodonServer]]:
    """Two loopback instances (two hosts) answering after 100 ms, as a platform takes time."""
    with MastodonServer(lambda: NOW, latency=0.1) as one, \
            MastodonServer(lambda: NOW, latency=0.1) as two:
        yield one, two


# -- places in flight, counted where the requests arrive --------------------------------------


def test_per_host_bounds_the_requests_an_instance_serves_at_once(tmp_path, instances) -> None:
    one, two = instances
    accounts = {f"a{i}": one.url for i in range(6)} | {f"b{i}": two.url for i in range(6)}
    config = _config(tmp_path, accounts, concurrency=12, per_host=2)
    with Publisher(config, entry_point_plugins=False) as publisher:
        assert publisher.dispatcher.limits.of(publisher.channel("a0")) == (4, 2)
        report = publisher.publish(Post(id="flu", text="Flu shots are free this week."))
    assert report.counts == {"published": 12}
    assert one.creates == two.creates == 6
    assert one.peak_active <= 2
    assert two.peak_active <= 2
    # each host had its own two places: both were in use at once (12 places were free)
    assert max(one.peak_active, two.peak_active) == 2


def test_per_account_bounds_one_accounts_sends_across_posts(tmp_path, instances) -> None:
    """Posts published at once: one send in flight per account, every account on one host."""
    one, _ = instances
    config = _config(tmp_path, {"north": one.url, "south": one.url}, concurrency=8,
                     per_account=1)
    posts = [Post(id=f"clinic-{i}", text=f"Clinic update {i}.") for i in range(3)]
    with Publisher(config, entry_point_plugins=False) as publisher, \
            ThreadPoolExecutor(3) as callers:
        reports = list(callers.map(publisher.publish, posts))
    assert all(r.counts == {"published": 2} for r in reports)
    assert one.creates == 6
    assert one.peak_active <= 2  # one per account: two accounts


def test_an_accounts_own_concurrency_wins_over_publish(tmp_path, instances) -> None:
    one, _ = instances
    config = _config(tmp_path, {"north": one.url}, per_account=3,
                     channels={"mastodon": {"per_account": 2, "per_host": 5}})
    config.accounts["north"] = config.accounts["north"].model_copy(update={"concurrency": 1})
    with Publisher(config, entry_point_plugins=False) as publisher:
        assert publisher.dispatcher.limits.of(publisher.channel("north")) == (1, 5)


def test_places_are_never_lost_and_idle_domains_are_forgotten(fake_publisher) -> None:
    """Many sends at once through two accounts on one host: never more than the places,
    every send gets through (no lost wake-up), and nothing is kept once all are done."""
    import threading
    import time

    from carecast.testing import fake_config

    publisher = fake_publisher(config=fake_config(["a", "b"], per_account=2, per_host=3))
    limits = publisher.dispatcher.limits
    channels = [publisher.channel("a"), publisher.channel("b")]
    lock = threading.Lock()
    active = {"a": 0, "b": 0, "host": 0}
    peak = dict(active)

    def send(i: int) -> None:
        channel = channels[i % 2]
        with limits.hold(channel):
            with lock:
                for key in (channel.account, "host"):
                    active[key] += 1
                    peak[key] = max(peak[key], active[key])
            time.sleep(0.002)
            with lock:
                for key in (channel.account, "host"):
                    active[key] -= 1

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(send, range(200)))
    assert peak["a"] <= 2
    assert peak["b"] <= 2
    assert 2 <= peak["host"] <= 3
    assert limits._busy == {}  # idle domains hold no state


def test_the_waits_kept_for_operators_are_bounded(fake_publisher) -> None:
    """A long-lived worker keeps only the latest ``KEPT_WAITS`` pause waits."""
    from carecast.errors import RateLimited
    from carecast.publish.limits import KEPT_WAITS

    publisher = fake_publisher(["a"])
    limits, channel = publisher.dispatcher.limits, publisher.channel("a")
    for i in range(KEPT_WAITS + 5):
        limits.slow_down(channel, RateLimited("slow down", retry_after=1 + i / 100_000))
        limits.wait_out(channel)
    assert len(limits.waits) == KEPT_WAITS
    assert limits.waits[0] == pytest.approx(1 + 5 / 100_000)  # the oldest five are gone
    assert limits.waits[-1] == pytest.approx(1 + (KEPT_WAITS + 4) / 100_000)


# -- a rate limit slows its own domain ----------------------------------------------------------


def _status(id: str, clock: FrozenClock) -> dict[str, Any]:
    """A Status entity (docs.joinmastodon.org/entities/Status), the fields carecast reads."""
    return {"id": id, "created_at": clock.now().isoformat().replace("+00:00", "Z"),
            "url": f"{BASE}/@clinic/{id}", "visibility": "public", "content": "<p>x</p>",
            "in_reply_to_id": None}


def test_a_429_on_one_account_does_not_slow_another_on_the_same_instance(tmp_path) -> None:
    clock = FrozenClock(NOW)
    sent: list[tuple[str, datetime]] = []

    def create(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        token = str(request.headers["Authorization"]).removeprefix("Bearer token-of-")
        sent.append((token, clock.now()))
        if token == "north" and len(sent) == 1:  # north's budget is spent for 30 s
            reset = (clock.now() + timedelta(seconds=30)).isoformat()
            return 429, {"X-RateLimit-Reset": reset}, '{"error": "Too many requests"}'
        return 200, {}, json.dumps(_status(str(1000 + len(sent)), clock))

    config = _config(tmp_path, {"north": BASE, "south": BASE}, concurrency=1)
    with responses.RequestsMock() as mocked, Publisher(
            config, entry_point_plugins=False, clock=clock,
            retry=RetryPolicy(clock=clock, max_attempts=1)) as publisher:
        mocked.get(f"{BASE}/api/v2/instance/",
                   json={"configuration": {"statuses": {"max_characters": 500}}})
        mocked.add_callback(responses.POST, f"{BASE}/api/v1/statuses", callback=create)
        first = publisher.publish(Post(id="one", text="Flu shots.", targets=["north"]))
        assert first["north"].state == State.FAILED
        assert first["north"].error.type == "RateLimited"
        # the other account of the same instance sends at once
        assert publisher.publish(Post(id="two", text="Flu shots.", targets=["south"])).ok
        assert clock.sleeps == []
        # north itself waits for its reset before its next send
        assert publisher.publish(Post(id="three", text="Flu shots.", targets=["north"])).ok
    assert clock.sleeps == [pytest.approx(30.0)]
    assert publisher.dispatcher.limits.waits == [pytest.approx(30.0)]
    assert [(who, at - NOW) for who, at in sent] == [
        ("north", timedelta(0)), ("south", timedelta(0)), ("north", timedelta(seconds=30))]


# -- bad limits are refused, naming the key and the fix -----------------------------------------


@pytest.mark.parametrize(("publish", "says"), [
    ({"per_account": 0}, "publish.per_account: Input should be greater than or equal to 1"),
    ({"per_host": "four"}, "publish.per_host: Input should be a valid integer"),
    ({"per_host": 5000}, "publish.per_host: Input should be less than or equal to 1024"),
    ({"channels": {"mastodon": {"per_acount": 2}}},
     "publish.channels.mastodon.per_acount: unknown setting"),
    ({"channels": {"mastodon": {"per_account": -1}}},
     "publish.channels.mastodon.per_account: Input should be greater than or equal to 1"),
])
def test_bad_limits_name_the_key(tmp_path, publish, says) -> None:
    with pytest.raises(ConfigurationError) as info:
        _config(tmp_path, {"north": BASE}, **publish)
    assert says in str(info.value)


def test_limits_for_a_channel_that_is_not_installed_are_refused(tmp_path) -> None:
    config = _config(tmp_path, {"north": BASE}, channels={"mastodn": {"per_host": 2}})
    with pytest.raises(UnknownChannelError) as info:
        Publisher(config, entry_point_plugins=False)
    message = str(info.value)
    assert message.startswith("publish.channels.mastodn: no installed channel")
    assert "did you mean 'mastodon'?" in message


# -- the documented defaults are the declared ones ----------------------------------------------


def test_the_configuration_page_lists_every_channels_declared_limits() -> None:
    from carecast.channels import channel_classes

    page = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    rows = {cells[0]: cells[1:4] for line in page.splitlines()
            if line.startswith("| ") and len(cells := [c.strip() for c in
                                                        line.strip("|").split("|")]) == 5}
    for name, cls in channel_classes().items():
        assert rows.get(name) == [str(cls.per_account), str(cls.per_host),
                                  cls.rate_limits_by], name
