"""Test helpers for carecast and for plugin authors; also a pytest plugin.

Installed with carecast, it gives every test suite these fixtures:

- ``no_sleep``: a ``RetryPolicy`` on a ``FrozenClock``: it records its waits
  (``no_sleep.clock.sleeps``) instead of sleeping, and a publisher given it runs on that
  clock.
- ``fake_publisher``: a factory for a ``Publisher`` over ``FakeChannel`` accounts and an
  in-memory store.

``FakeChannel`` keeps what it "publishes" in memory and can be scripted to fail;
``FrozenClock`` is the one clock tests hand the publisher. ``ChannelContract`` is the channel
contract suite (see ``carecast.testing.contract``): a channel's tests subclass it with the
channel class and a table of ``PlatformAnswer``s.
"""

from __future__ import annotations

import itertools
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from carecast.channels.base import Channel, ChannelOptions
from carecast.clock import SystemClock
from carecast.config import Config
from carecast.post import Draft, MediaKind, Profile, Receipt
from carecast.testing.contract import ChannelContract, PlatformAnswer

__all__ = ["ChannelContract", "FakeChannel", "FakeOptions", "FakePlatform", "FrozenClock",
           "NoWaitClock", "PlatformAnswer", "fake_config", "unique_marker"]

#: Where a ``FrozenClock`` starts unless told otherwise (any fixed instant would do).
FROZEN_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class FrozenClock:
    """A clock that moves only when told to: ``advance()``, or ``sleep()``, which records.

    Hand one to the publisher (``Publisher(config, clock=clock)``) and the ledger, the retry
    policy and every channel see the same frozen time.
    """

    def __init__(self, at: datetime = FROZEN_AT) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware time")
        self._now = at.astimezone(UTC)
        self._monotonic = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The frozen time (UTC)."""
        with self._lock:
            return self._now

    def time(self) -> float:
        """The frozen time as Unix seconds."""
        return self.now().timestamp()

    def monotonic(self) -> float:
        """A timer that moves with ``advance`` and ``sleep``."""
        with self._lock:
            return self._monotonic

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock on by it, without waiting."""
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move the clock on by ``seconds`` (or ``timedelta`` keywords: ``days=1``)."""
        step = timedelta(seconds=seconds, **delta)
        with self._lock:
            self._now += step
            self._monotonic += step.total_seconds()

    def set(self, at: datetime) -> None:
        """Jump to ``at`` (the monotonic timer moves by the same amount, never back)."""
        with self._lock:
            step = (at.astimezone(UTC) - self._now).total_seconds()
            self._now = at.astimezone(UTC)
            self._monotonic += max(step, 0.0)

    def __repr__(self) -> str:
        return f"FrozenClock({self.now().isoformat()})"


class NoWaitClock(SystemClock):
    """The machine's time, but ``sleep`` records the wait instead of waiting: for tests
    against real servers on 127.0.0.1, whose own clocks run."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        """Record the wait; return at once."""
        self.sleeps.append(seconds)

    def __repr__(self) -> str:
        return "NoWaitClock()"


@dataclass
class FakePlatform:
    """The 'platform' behind fake channels: what it holds and the failures it will script.

    ``script`` maps an account to a list of actions, used one per publish call: an exception
    to raise before storing, ``("after", exc)`` to store the post and then raise, or ``None``
    to succeed.
    """

    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sends: list[str] = field(default_factory=list)
    script: dict[str, list[Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def fail(self, account: str, *actions: Any) -> None:
        """Queue actions for the next publishes to ``account``."""
        self.script.setdefault(account, []).extend(actions)

    def count(self, key: str) -> int:
        """How many times a post with ``key`` was stored (must never exceed 1)."""
        with self.lock:
            return sum(1 for k in self.sends if k == key)


class FakeOptions(ChannelOptions):
    """Options of the fake channel."""

    max_text: int | None = None


class FakeChannel(Channel):
    """A channel that publishes into a ``FakePlatform`` held in memory."""

    name: ClassVar[str] = "fake"
    title: ClassVar[str] = "Fake platform (tests)"
    Options = FakeOptions
    max_text: ClassVar[int | None] = 280
    max_media = 4
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    supports_threads = True
    per_account = 64
    platform: ClassVar[FakePlatform] = FakePlatform()

    def publish(self, draft: Draft, key: str) -> Receipt:
        with self.platform.lock:
            actions = self.platform.script.get(self.account)
            action = actions.pop(0) if actions else None
        if isinstance(action, BaseException):
            raise action
        remote_id = f"{self.account}-{next(self.platform._ids)}"
        with self.platform.lock:
            self.platform.posts[key] = {"id": remote_id, "draft": draft}
            self.platform.sends.append(key)
        if isinstance(action, tuple) and action[0] == "after":
            raise action[1]
        return self._receipt(draft, remote_id)

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        with self.platform.lock:
            held = self.platform.posts.get(key)
        return self._receipt(draft, held["id"]) if held else None

    def delete(self, receipt: Receipt) -> None:
        with self.platform.lock:
            for key, held in list(self.platform.posts.items()):
                if held["id"] == receipt.remote_id:
                    del self.platform.posts[key]

    def fetch_profile(self) -> Profile:
        return Profile(channel=self.name, account=self.account, display_name=self.account)

    def _receipt(self, draft: Draft, remote_id: str) -> Receipt:
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=remote_id, url=f"https://fake.example/{remote_id}",
                       published_at=self.clock.now())


def unique_marker(length: int = 10) -> str:
    """A random lowercase word to tell one test run's posts apart on a shared platform.

    Letters only: a hex or digit run can read as a record number to the PHI check and send
    the post for review instead of publishing it.
    """
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))


def fake_config(accounts: Sequence[str] | int = ("one", "two"), *, root: Path | None = None,
                store_url: str = "sqlite:///:memory:", channel: str = "fake",
                **publish: Any) -> Config:
    """A config with one brand and fake accounts (names, or a count)."""
    names = [f"acct{i}" for i in range(accounts)] if isinstance(accounts, int) else accounts
    return Config.from_dict({
        "store": {"url": store_url},
        "publish": publish,
        "brands": {"test": {"name": "Test Hospital"}},
        "accounts": {n: {"channel": channel, "brand": "test"} for n in names},
    }, root=root, environ={})


@pytest.fixture
def no_sleep() -> Any:
    """A retry policy on a ``FrozenClock``; ``clock.sleeps`` lists the waits it asked for."""
    from carecast.publish.retry import RetryPolicy

    return RetryPolicy(clock=FrozenClock(), max_attempts=5)


@pytest.fixture
def fake_publisher(no_sleep: Any) -> Iterable[Callable[..., Any]]:
    """Build a ``Publisher`` over fake accounts: ``fake_publisher(["a", "b"], plugins=[...])``.

    Each call gets a fresh ``FakePlatform`` (as ``publisher.platform``) and store. Installed
    third-party plugins stay out unless ``entry_point_plugins=True`` (a plugin's own tests).
    """
    from carecast.publish import Publisher

    made: list[Any] = []

    def make(accounts: Sequence[str] | int = ("one", "two"), *, plugins: Iterable[object] = (),
             config: Config | None = None, **kw: Any) -> Any:
        platform = FakePlatform()
        channel = type("FakeChannel", (FakeChannel,), {"platform": platform})
        publisher = Publisher(config or fake_config(accounts), plugins=plugins,
                              entry_point_plugins=kw.pop("entry_point_plugins", False),
                              retry=kw.pop("retry", no_sleep),
                              channel_classes={"fake": channel}, **kw)
        publisher.platform = platform  # type: ignore[attr-defined]
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        publisher.close()
