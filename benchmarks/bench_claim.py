"""CPU time of a claim, and of its check against the audit chain (issue 13).

Every claim checks the target's state against the newest audit event that recorded it (one
indexed look-up and two HMACs). This times ``Ledger.claim`` on a file SQLite store holding
``posts`` x 10 targets, once as shipped and once with the check switched off, and reports the
CPU time per claim of each (``time.process_time``: the figure does not move with the load of
the machine). Run: ``python benchmarks/bench_claim.py``.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from _common import Row, median, table

from carecast import Post
from carecast.records import Attempt, State
from carecast.store import Ledger
from carecast.store.state_check import state_problem
from carecast.testing import NoWaitClock

ACCOUNTS = 10
TARGET = 0.0002  # seconds of CPU the check may add to a claim


def measure(posts: int = 200, *, checked: bool = True) -> tuple[float, float]:
    """CPU seconds per claim, and per call of the check alone."""
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        ledger = Ledger(f"sqlite:///{Path(tmp) / 'bench.db'}", clock=NoWaitClock(),
                        audit_key=b"k" * 32)
        targets = []
        for i in range(posts):
            post = Post(id=f"claim-{i}", text=f"Clinic update {i}.")
            ledger.record(post, [Attempt(post.id, f"acct-{a}", "noop", State.PENDING, f"k{a}",
                                         0, datetime.now(UTC)) for a in range(ACCOUNTS)])
            targets += [(post.id, f"acct-{a}") for a in range(ACCOUNTS)]
        off = mock.patch("carecast.store.ledger.state_problem", return_value=None)
        with contextlib.nullcontext() if checked else off:
            start = time.process_time()
            for post_id, account in targets:
                if ledger.claim(post_id, account) is None:
                    raise RuntimeError("a claim failed")
            elapsed = time.process_time() - start
        alone = _check_alone(ledger, targets)
        ledger.close()
    return elapsed / len(targets), alone


def _check_alone(ledger: Ledger, targets: list[tuple[str, str]]) -> float:
    """CPU seconds per call of the check itself, on the claimed (``sending``) targets."""
    with ledger._tx() as conn:
        start = time.process_time()
        for post_id, account in targets:
            if state_problem(conn, ledger._keyring, post_id, account, "sending"):
                raise RuntimeError("the check failed on a sound store")
        return (time.process_time() - start) / len(targets)


def run(rounds: int = 3) -> list[Row]:
    checked = [measure(checked=True) for _ in range(rounds)]
    unchecked = [measure(checked=False)[0] for _ in range(rounds)]
    on, off = median([c[0] for c in checked]), median(unchecked)
    alone = median([c[1] for c in checked])
    return [
        Row("claim", "claim, state checked against the chain: CPU per claim (median of "
            f"{rounds})", f"{on * 1e6:.0f} µs"),
        Row("claim", "claim, check switched off: CPU per claim", f"{off * 1e6:.0f} µs"),
        Row("claim", "the check alone (one statement, 2 indexed rows, 2 HMACs): CPU per call",
            f"{alone * 1e6:.0f} µs", "< 200 µs", alone < TARGET),
    ]


if __name__ == "__main__":
    print(table(run()))
