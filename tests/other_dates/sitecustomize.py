"""Moves the wall clock of every Python process of a test run to another date.

`.ci/run` puts this folder on ``PYTHONPATH`` with ``CARECAST_TEST_TIME_SHIFT`` (seconds), so
the suite, and every Python process it starts (crash workers, the command line), runs with
``time.time()``, ``datetime.now()`` and ``date.today()`` shifted by the same amount and still
ticking (time-machine). Monotonic time and ``sleep`` stay real, so timeouts behave.

Debian's libfaketime 0.9.10 cannot do this for Python 3.11: with monotonic time left real,
``time.sleep`` fails with EINVAL (an absolute ``clock_nanosleep`` deadline is shifted below
zero); with it faked, timed lock waits never return.
"""

import os

_shift = os.environ.get("CARECAST_TEST_TIME_SHIFT")
if _shift:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_shift), tick=True).start()
