"""The retry policy: only retryable errors, Retry-After honoured up to a cap, capped waits."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    PlatformRejected,
    RateLimited,
)
from carecast.publish.retry import RetryPolicy
from carecast.testing import FrozenClock


def _flaky(*errors: Exception):
    queue = list(errors)
    calls = []

    def fn() -> str:
        calls.append(1)
        if queue:
            raise queue.pop(0)
        return "ok"

    return fn, calls


def test_retries_retryable_then_succeeds() -> None:
    clock = FrozenClock()
    fn, calls = _flaky(ChannelConnectionError("x"), ChannelServerError("y"))
    assert RetryPolicy(clock=clock, rng=random.Random(1)).call(fn) == "ok"
    assert len(calls) == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= w <= 1.0 for w in clock.sleeps)  # base 0.5 * 2**(n-1), full jitter


@pytest.mark.parametrize("error", [AuthenticationError("a"), PlatformRejected("b")])
def test_non_retryable_is_raised_at_once(error: Exception) -> None:
    clock = FrozenClock()
    fn, calls = _flaky(error)
    with pytest.raises(type(error)):
        RetryPolicy(clock=clock).call(fn)
    assert len(calls) == 1
    assert clock.sleeps == []


def test_retry_after_is_honoured_exactly() -> None:
    clock = FrozenClock()
    fn, _ = _flaky(RateLimited("slow", retry_after=7.5))
    RetryPolicy(clock=clock).call(fn)
    assert clock.sleeps == [7.5]


def test_retry_after_over_the_cap_gives_up_at_once() -> None:
    clock = FrozenClock()
    fn, calls = _flaky(RateLimited("slow", retry_after=900))
    with pytest.raises(RateLimited) as info:
        RetryPolicy(clock=clock, max_retry_after=60).call(fn)
    assert info.value.retry_after == 900
    assert len(calls) == 1
    assert clock.sleeps == []


def test_total_wait_is_capped() -> None:
    clock = FrozenClock()
    fn, calls = _flaky(*[RateLimited("slow", retry_after=40) for _ in range(10)])
    with pytest.raises(RateLimited):
        RetryPolicy(clock=clock, max_attempts=10, max_wait=100).call(fn)
    assert sum(clock.sleeps) <= 100
    assert len(calls) == 3  # waits 40 + 40, a third 40 would pass the cap


def test_attempts_are_capped() -> None:
    clock = FrozenClock()
    fn, calls = _flaky(*[ChannelServerError("x") for _ in range(10)])
    with pytest.raises(ChannelServerError):
        RetryPolicy(clock=clock, max_attempts=4).call(fn)
    assert len(calls) == 4


def test_backoff_grows_and_is_bounded() -> None:
    policy = RetryPolicy(base=1, max_backoff=8, rng=random.Random(3))
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        waits = [policy.wait_for(ChannelServerError("x"), attempt) for _ in range(50)]
        assert max(waits) <= ceiling


_ERRORS = {
    "connection": lambda: ChannelConnectionError("x"),
    "server": lambda: ChannelServerError("y"),
    "rejected": lambda: PlatformRejected("z"),
    "rate 1s": lambda: RateLimited("r", retry_after=1),
    "rate 40s": lambda: RateLimited("r", retry_after=40),
    "rate over the cap": lambda: RateLimited("r", retry_after=500),
}


@given(st.lists(st.sampled_from(sorted(_ERRORS)), max_size=7), st.integers(1, 6),
       st.sampled_from([5.0, 60.0, 300.0]))
@settings(max_examples=300, deadline=None)
def test_first_attempt_outside_tenacity_behaves_as_tenacity(
        failures: list[str], max_attempts: int, max_wait: float) -> None:
    """The first attempt runs outside tenacity; calls, waits and the final result or error
    are what tenacity alone gives, whatever the failures."""
    from tenacity import Retrying, retry_if_exception

    def run(attempts_of: Callable[[RetryPolicy], Any]) -> tuple[Any, list[float], int]:
        clock = FrozenClock()
        policy = RetryPolicy(max_attempts=max_attempts, max_wait=max_wait, clock=clock,
                             rng=random.Random(3))
        fn, calls = _flaky(*(_ERRORS[name]() for name in failures))
        try:
            outcome: Any = None
            for attempt in attempts_of(policy):
                with attempt:
                    outcome = fn()
        except Exception as exc:
            outcome = (type(exc).__name__, getattr(exc, "retry_after", None))
        return outcome, clock.sleeps, len(calls)

    def tenacity_alone(policy: RetryPolicy) -> Retrying:
        return Retrying(stop=policy._stop, wait=policy._wait,
                        retry=retry_if_exception(policy.retries), sleep=policy.clock.sleep,
                        reraise=True)

    assert run(RetryPolicy.retrying) == run(tenacity_alone)
