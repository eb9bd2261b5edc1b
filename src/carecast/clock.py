"""One clock for the whole pipeline: wall time, a monotonic timer and sleep.

The caller makes one ``Clock`` and hands it down: the publisher gives it to the ledger, the
retry policy and every channel, so a test that freezes it (``carecast.testing.FrozenClock``)
freezes them all. No other carecast code reads the system's time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What carecast asks of a clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...  # pragma: no cover

    def time(self) -> float:
        """The current time as Unix seconds (``now()`` as a float)."""
        ...  # pragma: no cover

    def monotonic(self) -> float:
        """Seconds on a timer that never goes back, for deadlines and intervals."""
        ...  # pragma: no cover

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...  # pragma: no cover


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        return datetime.now(UTC)

    def time(self) -> float:
        """The current time as Unix seconds."""
        return time.time()

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``; a negative wait is no wait."""
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


#: The default clock, used when the caller passes none.
SYSTEM_CLOCK: Clock = SystemClock()
