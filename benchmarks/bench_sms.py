"""One post texted to N opted-in numbers through the real SMS channel and publisher, against
the Twilio-shaped server of the fan-out test (``tests/test_sms_fanout.py``) on 127.0.0.1,
without faults, answering at once.

The server runs in its own process (``multiprocessing``), so it does not share this process's
GIL. Figures: messages per second of wall time, and this process's CPU per message (every
thread: Twilio's client, the transport, the per-recipient claims and settles in the SQLite
store and their audit events). Figures only, no target.
Run: ``python benchmarks/bench_sms.py [N]``.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, Row, fault_server_path, load

SIZE = 2000


def _serve(queue: Any, stop: Any) -> None:
    fault_server_path()
    sys.path.insert(0, str(ROOT / "tests"))
    from test_sms_fanout import TwilioFaultServer

    with TwilioFaultServer(fault_rate=0.0, lookup_fault_rate=0.0) as server:
        queue.put(server.base_url)
        stop.wait(600)
        queue.put(server.texted())


def measure(size: int) -> tuple[float, float, int]:
    sys.path.insert(0, str(ROOT / "tests"))
    from carecast import Config, Messaging, MessagingConsent, Post, Publisher
    from test_sms_fanout import FROM, SID, TOKEN

    queue: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    proc = multiprocessing.Process(target=_serve, args=(queue, stop), daemon=True)
    proc.start()
    base = queue.get(timeout=60)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Config.from_dict({
                "store": {"url": f"sqlite:///{Path(tmp) / 'bench.db'}"},
                "brands": {"clinic": {"name": "Riverside Clinic"}},
                "accounts": {"texts": {
                    "channel": "sms", "brand": "clinic", "account_sid": SID,
                    "auth_token": TOKEN, "from_number": FROM, "api_url": base,
                    "quiet_start": "00:00", "quiet_end": "00:00", "concurrency": 8}}},
                root=Path(tmp), environ={})
            with Publisher(config, entry_point_plugins=False) as publisher:
                now = publisher.clock.now()
                Messaging(publisher.ledger).opt_in(
                    MessagingConsent(number=f"+1202555{i:04d}", brand="clinic", given_at=now,
                                     how="bench") for i in range(size))
                wall, cpu = time.perf_counter(), time.process_time()
                report = publisher.publish(Post(id="bench", text="Flu shots Saturday 9-1."))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert report.ok, report.counts
    finally:
        stop.set()
        texted = int(queue.get(timeout=30))
        proc.join(timeout=30)
    return wall, cpu, texted


def run(size: int = SIZE) -> list[Row]:
    wall, cpu, texted = measure(size)
    assert texted == size, texted
    return [
        Row("sms", f"{size} numbers texted once each: messages per second (load {load()})",
            f"{size / wall:.0f} /s"),
        Row("sms", "client CPU per message (claims, audit, Twilio's client)",
            f"{cpu / size * 1000:.2f} ms"),
    ]


if __name__ == "__main__":
    from _common import table

    print(table(run(int(sys.argv[1]) if len(sys.argv) > 1 else SIZE)))
