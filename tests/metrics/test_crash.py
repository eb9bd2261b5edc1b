"""A collector killed with SIGKILL in the middle of its reads: the slots it wrote stay
written once, the ones it held are taken over after ``stale_claim_after``, none is written
twice. The killed collector is a real process on the same SQLite store, reading from a
loopback platform that stops answering after its first wave."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from carecast.metrics import Collector
from carecast.testing import FrozenClock

from ._helpers import START, config, counting_class, publish, publisher

CHILD = """
import sys
from datetime import datetime
import requests
sys.path.insert(0, sys.argv[1])
from carecast.metrics import collector as module
from carecast.metrics import Collector
from carecast.post import Metrics
from carecast.testing import FrozenClock
from metrics._helpers import config, counting_class, publisher
from pathlib import Path

class Remote(counting_class()):
    def fetch_metrics(self, receipt):
        requests.get(sys.argv[3] + receipt.remote_id, timeout=600)
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), likes=1)

module.WAVE = 2  # write after every two reads, so some are written before the kill
clock = FrozenClock(datetime.fromisoformat(sys.argv[4]))
pub = publisher(Path(sys.argv[2]), clock, Remote, cfg=config(
    Path(sys.argv[2]), account_daily=False, concurrency=2, stale_claim_after=60))
Collector(pub).collect()
"""


class Platform(BaseHTTPRequestHandler):
    asked: list[str] = []
    release = threading.Event()

    def do_GET(self) -> None:
        self.asked.append(self.path)
        if len(self.asked) > 2:  # the first wave answers; the second never does
            self.release.wait(60)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        pass


def test_a_killed_collector_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    clock = FrozenClock(START)
    cfg = config(tmp_path, account_daily=False, stale_claim_after=60)
    pub = publisher(tmp_path, clock, counting_class(), cfg=cfg)
    for i in range(2):
        publish(pub, f"post-{i}")  # 6 receipts: 6 slots at +1 h
    pub.close()
    clock.advance(hours=1)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Platform.asked = []
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(Path(__file__).parents[1]), str(tmp_path),
         f"http://127.0.0.1:{server.server_address[1]}/", clock.now().isoformat()],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        deadline = time.monotonic() + 120
        while len(Platform.asked) < 4 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(Platform.asked) == 4, (Platform.asked, child.returncode)
        os.kill(child.pid, signal.SIGKILL)  # the second wave is in flight
        assert child.wait(30) == -signal.SIGKILL
    finally:
        Platform.release.set()
        server.shutdown()
        server.server_close()
    channel = counting_class()
    again = publisher(tmp_path, clock, channel, cfg=cfg)
    collector = Collector(again)
    assert collector.store.slot_states() == {"done": 2, "claimed": 2}
    assert collector.collect().written == 2  # the unclaimed two; the killed one's are held
    clock.advance(timedelta(seconds=61).total_seconds())
    assert collector.collect().written == 2  # taken over
    assert collector.collect().claimed == 0
    samples = collector.store.post_samples()
    assert len(samples) == 6
    assert len({(s.post_id, s.account, s.offset_s) for s in samples}) == 6
    assert sorted(s.likes for s in samples) == [1, 1, 1, 1, 1, 1]
    assert len(channel.reads) == 4  # the two written before the kill were not read again
    assert collector.store.slot_states() == {"done": 6}
    again.close()
