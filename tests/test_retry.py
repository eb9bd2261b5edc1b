"""The retry policy: only retryable errors, Retry-After honoured up to a cap, capped waits."""

from __future__ import annotations

import random

import pytest

from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    PlatformRejected,
    RateLimited,
)
from carecast.publish.retry import RetryPolicy
from carecast.testing import RecordingSleep


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
    sleep = RecordingSleep()
    fn, calls = _flaky(ChannelConnectionError("x"), ChannelServerError("y"))
    assert RetryPolicy(sleep=sleep, rng=random.Random(1)).call(fn) == "ok"
    assert len(calls) == 3
    assert len(sleep.waits) == 2
    assert all(0 <= w <= 1.0 for w in sleep.waits)  # base 0.5 * 2**(n-1), full jitter


@pytest.mark.parametrize("error", [AuthenticationError("a"), PlatformRejected("b")])
def test_non_retryable_is_raised_at_once(error: Exception) -> None:
    sleep = RecordingSleep()
    fn, calls = _flaky(error)
    with pytest.raises(type(error)):
        RetryPolicy(sleep=sleep).call(fn)
    assert len(calls) == 1
    assert sleep.waits == []


def test_retry_after_is_honoured_exactly() -> None:
    sleep = RecordingSleep()
    fn, _ = _flaky(RateLimited("slow", retry_after=7.5))
    RetryPolicy(sleep=sleep).call(fn)
    assert sleep.waits == [7.5]


def test_retry_after_over_the_cap_gives_up_at_once() -> None:
    sleep = RecordingSleep()
    fn, calls = _flaky(RateLimited("slow", retry_after=900))
    with pytest.raises(RateLimited) as info:
        RetryPolicy(sleep=sleep, max_retry_after=60).call(fn)
    assert info.value.retry_after == 900
    assert len(calls) == 1
    assert sleep.waits == []


def test_total_wait_is_capped() -> None:
    sleep = RecordingSleep()
    fn, calls = _flaky(*[RateLimited("slow", retry_after=40) for _ in range(10)])
    with pytest.raises(RateLimited):
        RetryPolicy(sleep=sleep, max_attempts=10, max_wait=100).call(fn)
    assert sum(sleep.waits) <= 100
    assert len(calls) == 3  # waits 40 + 40, a third 40 would pass the cap


def test_attempts_are_capped() -> None:
    sleep = RecordingSleep()
    fn, calls = _flaky(*[ChannelServerError("x") for _ in range(10)])
    with pytest.raises(ChannelServerError):
        RetryPolicy(sleep=sleep, max_attempts=4).call(fn)
    assert len(calls) == 4


def test_backoff_grows_and_is_bounded() -> None:
    policy = RetryPolicy(base=1, max_backoff=8, rng=random.Random(3))
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        waits = [policy.wait_for(ChannelServerError("x"), attempt) for _ in range(50)]
        assert max(waits) <= ceiling
