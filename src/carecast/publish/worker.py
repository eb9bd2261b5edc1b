"""A worker: ``run_due`` in a loop, one log line per send, a clean stop.

Several workers may share one PostgreSQL store (each target is claimed in the ledger before
it is sent, so none is sent twice); on SQLite a lock file next to the database allows one.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sqlalchemy.engine import make_url

from carecast.errors import ConfigurationError

if TYPE_CHECKING:
    from carecast.publish.publisher import Publisher
    from carecast.publish.report import Outcome

__all__ = ["Worker"]

log = logging.getLogger("carecast.worker")

#: A sleeping worker checks for a stop this often (seconds).
_TICK = 0.2


class Worker:
    """Runs ``publisher.run_due`` until stopped; use it as a context manager."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.handled = 0
        self._lock_file: IO[bytes] | None = None

    def __enter__(self) -> Worker:
        self._lock_sqlite()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def _lock_sqlite(self) -> None:
        url = make_url(self.publisher.config.store_url())
        if url.get_backend_name() != "sqlite" or not url.database \
                or url.database == ":memory:":
            return
        path = Path(f"{url.database}.worker-lock")
        path.parent.mkdir(parents=True, exist_ok=True)  # a new store's folder (the ledger is
        handle = path.open("ab")  # opened at the first pass)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ConfigurationError(
                "another worker runs on this SQLite store; run one worker per SQLite store, "
                "or move [store] url to PostgreSQL for several") from None
        self._lock_file = handle

    def _progress(self, outcome: Outcome) -> None:
        self.handled += 1
        log.info("account %s: %s (tries %d)", outcome.account, outcome.state, outcome.tries)

    def run(self, *, once: bool = False, interval: float = 10.0,
            stop: threading.Event | None = None) -> int:
        """Pass over what is due every ``interval`` seconds until ``stop`` is set (one
        pass with ``once``); a send in flight is finished first. Returns the targets
        handled."""
        stop = stop or threading.Event()
        clock = self.publisher.clock
        while not stop.is_set():
            self.publisher.run_due(on_progress=self._progress, stop=stop)
            if once:
                break
            waited = 0.0
            while waited < interval and not stop.is_set():
                step = min(_TICK, interval - waited)
                clock.sleep(step)
                waited += step
        return self.handled
