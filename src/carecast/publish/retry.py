"""One retry policy for every platform call, on tenacity.

Only retryable ``ChannelError``s are retried. A wait the platform asks for (``Retry-After``,
``x-rate-limit-reset``, Meta's usage headers, all read into ``RateLimited.retry_after``) is
honoured when it is no longer than ``max_retry_after``; otherwise the call gives up at once and
says when to try again. Other waits are exponential with full jitter. The total time spent
waiting is capped by ``max_wait``. It waits on its ``clock`` (the publisher's), so tests that
freeze the clock never sleep.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.config import PublishConfig
from carecast.errors import ChannelError
from carecast.records import ErrorInfo

__all__ = ["RetryPolicy"]

T = TypeVar("T")


@dataclass
class RetryPolicy:
    """How often and how long to retry a failed platform call."""

    max_attempts: int = 5
    max_wait: float = 300.0
    max_retry_after: float = 120.0
    base: float = 0.5
    max_backoff: float = 30.0
    clock: Clock = field(default=SYSTEM_CLOCK, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_config(cls, config: PublishConfig, **kw: object) -> RetryPolicy:
        """The policy set in ``[publish]``."""
        return cls(max_attempts=config.max_attempts, max_wait=config.max_wait,
                   max_retry_after=config.max_retry_after, **kw)  # type: ignore[arg-type]

    def wait_for(self, error: BaseException | ErrorInfo, attempt: int) -> float:
        """Seconds to wait after ``attempt`` (1-based) failed with ``error`` (an exception,
        or the ``ErrorInfo`` the ledger kept of one)."""
        asked = getattr(error, "retry_after", None)  # RateLimited, or a 503 with Retry-After
        if asked is not None:
            return float(asked)
        ceiling = min(self.max_backoff, self.base * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)

    def retries(self, error: BaseException | ErrorInfo) -> bool:
        """Whether a call that failed with ``error`` (an exception, or the ``ErrorInfo`` the
        ledger kept of one) is tried again: a retryable platform error whose asked-for wait,
        if any, is at most ``max_retry_after``."""
        retryable = error.retryable if isinstance(error, ErrorInfo) else \
            isinstance(error, ChannelError) and error.retryable
        return retryable and (getattr(error, "retry_after", None) or 0) <= self.max_retry_after

    def _wait(self, state: RetryCallState) -> float:
        assert state.outcome is not None
        exc = state.outcome.exception()
        return self.wait_for(exc, state.attempt_number) if exc else 0.0

    def _stop(self, state: RetryCallState) -> bool:
        assert state.outcome is not None
        if state.attempt_number >= self.max_attempts:
            return True
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.max_wait

    def retrying(self) -> Iterator[AbstractContextManager[None]]:
        """The attempts of one logical call (iterate them, ``with attempt:``).

        The first attempt runs outside tenacity: nearly every call succeeds at once, and on
        a fan-out tenacity's bookkeeping costs more than carecast's own work around the send.
        If it fails with an error that may be retried, tenacity takes over from there, as if
        it had made that first attempt itself (the same waits, stops and final error)."""
        first = _FirstTry(self)
        yield first
        failed = first.error
        if failed is None:
            return
        for attempt in Retrying(stop=self._stop, wait=self._wait,
                                retry=retry_if_exception(self.retries),
                                sleep=self.clock.sleep, reraise=True):
            if failed is None:
                yield attempt
                continue
            with attempt:
                error, failed = failed, None
                raise error

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the policy; the last error is raised if every attempt fails."""
        for attempt in self.retrying():
            with attempt:
                return fn()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


class _FirstTry(AbstractContextManager[None]):
    """A call's first attempt: keeps an error ``policy`` may retry (for tenacity to take
    over), lets any other through."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.error: BaseException | None = None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        if error is not None and self.policy.max_attempts > 1 and self.policy.retries(error):
            self.error = error
            return True
        return False
