"""One post to 200 webhook accounts on the loopback receiver, which answers after 100 ms.

With ``[publish] concurrency = 50`` the ideal is 200 / 50 x 100 ms = 400 ms. The first post
builds the 200 channels (one ``requests.Session`` each) during review; the second finds them
built. The target (1.3 x ideal) applies to a receiver in its own process, as a real webhook
receiver is. The same run with the receiver in this process is shown too, without a target:
there the receiver's own Python work competes with carecast's for one interpreter lock.
Run: ``python benchmarks/bench_fanout.py``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from _common import ROOT, Row, fault_server_path, median, ms, table

from carecast import Config, Post, Publisher

fault_server_path()
from reliability.faultserver import FaultServer  # noqa: E402

ACCOUNTS = 200
CONCURRENCY = 50
LATENCY = 0.1
IDEAL = math.ceil(ACCOUNTS / CONCURRENCY) * LATENCY
TARGET_RATIO = 1.3


@contextmanager
def receiver(*, own_process: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """The receiver's base URL, and a dict filled with its counters when the block ends."""
    stats: dict[str, Any] = {}
    if not own_process:
        with FaultServer(fault_rate=0.0, lookup_fault_rate=0.0, latency=LATENCY) as server:
            yield server.base_url, stats
            stats.update(server.stats(), peak_active=server.peak_active)
        return
    script = ROOT / "tests" / "reliability" / "faultserver.py"
    with subprocess.Popen([sys.executable, str(script), "--fault-rate", "0",
                           "--lookup-fault-rate", "0", "--latency", str(LATENCY)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            yield proc.stdout.readline().strip(), stats
        finally:
            out, _ = proc.communicate(timeout=30)
        stats.update(json.loads(out.strip().splitlines()[-1]))


def _config(base_url: str, folder: Path) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{folder / 'fanout.db'}"},
        "publish": {"concurrency": CONCURRENCY},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {f"hook-{i:03d}": {"channel": "webhook", "brand": "clinic",
                                       "url": base_url + "/hook",
                                       "lookup_url": base_url + "/lookup"}
                     for i in range(ACCOUNTS)},
    }, root=folder, environ={})


def measure(rounds: int = 11, *, own_process: bool = True
            ) -> tuple[list[float], dict[str, Any]]:
    """Wall seconds per post (the first is cold) and the receiver's counters."""
    walls: list[float] = []
    with receiver(own_process=own_process) as (base_url, stats), \
            tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        publisher = Publisher(_config(base_url, Path(tmp)), entry_point_plugins=False)
        try:
            for i in range(rounds):
                post = Post(id=f"fanout-{i}", text=f"Fan-out {i}: the clinic opens at 9.")
                start = time.perf_counter()
                report = publisher.publish(post)
                walls.append(time.perf_counter() - start)
                if len(report.published) != ACCOUNTS:
                    raise RuntimeError(f"publish failed: {report.counts}")
        finally:
            sessions = [publisher.channel(name).session for name in publisher.config.accounts]
            publisher.close()
            for session in sessions:
                session.close()
    return walls, stats


def baseline(rounds: int = 10) -> list[float]:
    """The transport alone: 200 bare ``requests`` POSTs from 50 threads, no carecast."""
    walls: list[float] = []
    with receiver(own_process=True) as (base_url, _stats), \
            ThreadPoolExecutor(CONCURRENCY) as pool:
        sessions = [requests.Session() for _ in range(ACCOUNTS)]

        def post(i: int, rnd: int) -> None:
            body = json.dumps({"key": f"base-{rnd}-{i}"})
            response = sessions[i].post(base_url + "/hook", data=body, timeout=(5, 10),
                                        headers={"Idempotency-Key": f"base-{rnd}-{i}"})
            response.raise_for_status()

        try:
            for rnd in range(rounds):
                start = time.perf_counter()
                list(pool.map(post, range(ACCOUNTS), [rnd] * ACCOUNTS))
                walls.append(time.perf_counter() - start)
        finally:
            for session in sessions:
                session.close()
    return walls


def run() -> list[Row]:
    rows = [Row("fan-out", f"1 post -> {ACCOUNTS} webhooks answering in 100 ms, concurrency "
                           f"{CONCURRENCY}: ideal", ms(IDEAL))]
    base = baseline()
    rows.append(Row("fan-out", "transport alone (bare requests, 50 threads), median",
                    f"{ms(median(base))} ({median(base) / IDEAL:.2f}x)"))
    for own_process in (True, False):
        walls, stats = measure(own_process=own_process)
        # A first post is one sample per publisher: take the median of three, each with a
        # new publisher and a new receiver (so new connections too).
        colds = sorted([walls[0]] + [measure(rounds=1, own_process=own_process)[0][0]
                                     for _ in range(2)])
        cold, warm = colds[1], median(walls[1:])
        where = "receiver in its own process" if own_process else \
            "receiver in this process (shares the GIL)"
        target = f"< {TARGET_RATIO}x ideal" if own_process else ""
        rows += [
            Row("fan-out", f"{where}: first post (builds 200 channels), median of 3",
                f"{ms(cold)} ({cold / IDEAL:.2f}x)", target,
                cold < TARGET_RATIO * IDEAL if own_process else None),
            Row("fan-out", f"{where}: later posts, median of {len(walls) - 1}",
                f"{ms(warm)} ({warm / IDEAL:.2f}x)", target,
                warm < TARGET_RATIO * IDEAL if own_process else None),
            Row("fan-out", f"{where}: later posts, best",
                f"{ms(min(walls[1:]))} ({min(walls[1:]) / IDEAL:.2f}x)"),
            Row("fan-out", f"{where}: peak requests in flight / posts stored",
                f"{stats.get('peak_active')} / {stats.get('accepted')}",
                f"{CONCURRENCY} / {ACCOUNTS * len(walls)}",
                stats.get("accepted") == ACCOUNTS * len(walls)),
        ]
    return rows


if __name__ == "__main__":
    print(table(run()))
