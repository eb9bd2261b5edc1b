"""Collecting 10,000 receipts' metrics through a loopback platform that answers each read in
100 ms, at ``[metrics] concurrency`` = 64, against a bare client floor (the same 10,000 GETs
on a thread pool, no store, no claims). The platform runs in its own process, so the CPU
figures are carecast's (and requests') alone.
Run: ``python benchmarks/bench_metrics.py``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import requests
from _common import Row, ms, table
from bench_overhead import NoopChannel

from carecast import Config, Post, Publisher
from carecast.metrics import Collector
from carecast.post import Metrics, Receipt
from carecast.testing import FrozenClock

RECEIPTS = 10_000
ACCOUNTS = 10
LATENCY = 0.100
CONCURRENCY = 64
START = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SERVER = f"""
import json, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep({LATENCY})
        body = json.dumps({{"id": self.path.rsplit("/", 1)[-1], "like_count": 7,
                            "reply_count": 2, "repost_count": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _session() -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=CONCURRENCY)
    session.mount("http://", adapter)
    return session


class LoopbackChannel(NoopChannel):
    """Reads each post's counts from the loopback platform (one GET, as a real channel)."""

    name: ClassVar[str] = "noop"
    base: ClassVar[str] = ""

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        if self.session is None:
            self.session = _session()
        answer = self.session.get(f"{self.base}/posts/{receipt.remote_id}", timeout=10)
        data: dict[str, Any] = answer.json()
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), likes=data["like_count"],
                       replies=data["reply_count"], reposts=data["repost_count"])


def _config(folder: Path) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "publish": {"concurrency": 32},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {f"acct-{i}": {"channel": "noop", "brand": "clinic"}
                     for i in range(ACCOUNTS)},
        "metrics": {"concurrency": CONCURRENCY, "account_daily": False},
    }, root=folder, environ={})


def _floor(base: str) -> tuple[float, float]:
    """Wall and CPU seconds of the same reads on a bare thread pool."""
    session = _session()

    def get(i: int) -> int:
        return len(session.get(f"{base}/posts/floor-{i}", timeout=10).json())

    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(get, range(RECEIPTS)))
    return time.perf_counter() - wall, time.process_time() - cpu


def run() -> list[Row]:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        LoopbackChannel.base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as tmp:
            clock = FrozenClock(START)
            with Publisher(_config(Path(tmp)), entry_point_plugins=False, clock=clock,
                           channel_classes={"noop": LoopbackChannel}) as publisher:
                for i in range(RECEIPTS // ACCOUNTS):
                    publisher.publish(Post(id=f"post-{i}", text=f"Flu shots, day {i}."))
                clock.advance(hours=1)
                collector = Collector(publisher)
                wall, cpu = time.perf_counter(), time.process_time()
                done = collector.collect()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                again = time.perf_counter()
                second = collector.collect()
                idle = time.perf_counter() - again
        assert done.written == RECEIPTS, done
        assert second.written == 0
        floor_wall, floor_cpu = _floor(LoopbackChannel.base)
    finally:
        server.terminate()
        server.wait()
    ideal = math.ceil(RECEIPTS / CONCURRENCY) * LATENCY
    return [
        Row("metrics", f"collect {RECEIPTS} receipts, {LATENCY * 1000:.0f} ms each, "
                       f"concurrency {CONCURRENCY}", f"{wall:.1f} s",
            f"within 1.3x of the ideal {ideal:.1f} s", wall <= 1.3 * ideal),
        Row("metrics", "bare client floor (same GETs, thread pool)", f"{floor_wall:.1f} s"),
        Row("metrics", "CPU per slot (claim, read, store)", ms(cpu / RECEIPTS)),
        Row("metrics", "bare client CPU per read", ms(floor_cpu / RECEIPTS)),
        Row("metrics", "a second collection (nothing due)", f"{idle:.2f} s"),
    ]


if __name__ == "__main__":
    print(table(run()))
