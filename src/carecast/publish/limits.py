"""Rate-limit domains: how many sends may be in flight to one account and to one API host.

Platforms limit each account and each API host, not each product. A *domain* is one account,
or one host with every account on it (a Mastodon instance, a WordPress site, X's API). Each
send holds a place in its account's domain, then in its host's (always in that order, so two
sends never wait for each other); ``[publish] concurrency`` caps them all together (the
dispatcher's thread pool). A rate-limit answer with a reset pauses the domain the platform
limits (``Channel.rate_limits_by``): that account, or that host; never the whole channel.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from carecast.channels import Channel
from carecast.channels.registry import get_channel_class
from carecast.clock import Clock
from carecast.config import Config
from carecast.errors import ChannelError, RateLimited, UnknownChannelError

__all__ = ["KEPT_WAITS", "Limits", "check_channel_names"]

#: How many of the latest pause waits ``Limits.waits`` keeps: a long-lived worker keeps no
#: more, whatever it sends.
KEPT_WAITS = 10_000


class Limits:
    """The places in flight of every domain, and the pauses rate limits asked for."""

    def __init__(self, config: Config, clock: Clock, *, max_pause: float) -> None:
        self.config = config
        self.clock = clock
        #: A pause longer than this is not waited out here: the retry policy refuses it.
        self.max_pause = max_pause
        self._lock = threading.Lock()
        #: The domains with a send in flight or waiting (an idle domain holds no memory:
        #: a fan-out to 10,000 accounts keeps no 10,000 semaphores).
        self._busy: dict[str, _Domain] = {}
        #: Domain -> monotonic time before which its sends wait (a rate limit's reset).
        self._paused: dict[str, float] = {}
        self._waits: deque[float] = deque(maxlen=KEPT_WAITS)

    @property
    def waits(self) -> list[float]:
        """The latest waits sends made for a domain's pause, in seconds, oldest first
        (at most ``KEPT_WAITS``; for operators)."""
        with self._lock:
            return list(self._waits)

    def of(self, channel: Channel) -> tuple[int, int]:
        """Sends that may be in flight at once to this channel's account, and to its host
        (every account on it together)."""
        account = self.config.accounts.get(channel.account)
        return self.config.publish.in_flight(
            channel.name, (channel.per_account, channel.per_host),
            account.concurrency if account else None)

    @contextmanager
    def hold(self, channel: Channel) -> Iterator[None]:
        """Hold a place in the account's domain, then in the host's, for one send."""
        per_account, per_host = self.of(channel)
        account, host = account_domain(channel), host_domain(channel)
        self._enter(account, per_account)
        try:
            self._enter(host, per_host)
            try:
                yield
            finally:
                self._leave(host)
        finally:
            self._leave(account)

    def wait_out(self, channel: Channel) -> None:
        """Sleep until the pauses of the channel's account and host have ended (a pause
        longer than ``max_pause`` is left to the retry policy to refuse)."""
        with self._lock:
            until = max(self._paused.get(account_domain(channel), 0.0),
                        self._paused.get(host_domain(channel), 0.0))
        remaining = until - self.clock.monotonic()
        if 0 < remaining <= self.max_pause:
            with self._lock:
                self._waits.append(remaining)
            self.clock.sleep(remaining)

    def slow_down(self, channel: Channel, error: ChannelError) -> None:
        """After a rate limit with a reset, pause the domain the platform limits until then:
        the other sends of that account (or host) wait for it; other domains go on."""
        wait = getattr(error, "retry_after", None)
        if not isinstance(error, RateLimited) or not wait:
            return
        domain = host_domain(channel) if channel.rate_limits_by == "host" \
            else account_domain(channel)
        with self._lock:
            now = self.clock.monotonic()
            for ended in [d for d, t in self._paused.items() if t <= now]:  # keep no past
                del self._paused[ended]
            self._paused[domain] = max(self._paused.get(domain, 0.0), now + float(wait))

    def _enter(self, domain: str, size: int) -> None:
        """Take a place in ``domain``, waiting while its ``size`` places are taken."""
        with self._lock:
            state = self._busy.get(domain)
            if state is None:
                state = self._busy[domain] = _Domain()
            if state.in_flight >= size:
                if state.freed is None:  # made only when a send must wait
                    state.freed = threading.Condition(self._lock)
                state.waiting += 1
                while state.in_flight >= size:
                    state.freed.wait()
                state.waiting -= 1
            state.in_flight += 1

    def _leave(self, domain: str) -> None:
        with self._lock:
            state = self._busy[domain]
            state.in_flight -= 1
            if state.waiting and state.freed is not None:
                state.freed.notify()
            elif not state.in_flight:
                del self._busy[domain]


@dataclass
class _Domain:
    """One domain's sends in flight and waiting; ``freed`` wakes a waiting one."""

    freed: threading.Condition | None = None
    in_flight: int = 0
    waiting: int = 0


def account_domain(channel: Channel) -> str:
    """The rate-limit domain of one account."""
    return f"account:{channel.account}"


def host_domain(channel: Channel) -> str:
    """The rate-limit domain of every account of this channel on the same API host."""
    return f"host:{channel.name}:{channel.limit_host}"


def check_channel_names(config: Config, extra: Mapping[str, type[Channel]] | None = None
                        ) -> None:
    """Refuse a ``[publish.channels.NAME]`` table whose NAME is no installed channel (a typo
    would silently leave the channel's defaults in force)."""
    for name in config.publish.channels:
        problem = ""
        try:
            get_channel_class(name, extra)
        except UnknownChannelError as exc:
            problem = str(exc)
        if problem:
            raise UnknownChannelError(f"publish.channels.{name}: {problem}")
