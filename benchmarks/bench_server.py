"""``carecast serve``: CPU per API call, and the cost of a callback pass as the store grows.

uvicorn runs in a thread of this process on 127.0.0.1 and ``requests`` calls it, so the
process CPU time per call covers both ends (HTTP parsing, auth, validation, the library call,
the audit event, the JSON answer); a NoopChannel answers at once, the SQLite store is on disk.
The callback pass is timed once every stored post's callbacks were delivered (the steady
state: it should not grow with the store). Figures only; no targets yet.
Run: ``python benchmarks/bench_server.py``.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import requests
import uvicorn
from _common import Row, median, ms, table
from bench_overhead import NoopChannel

from carecast import Config, Publisher, RetryPolicy
from carecast.server import Client, Clients, Notifier, create_app, hash_key, new_key
from carecast.testing import NoWaitClock


def _config(folder: Path) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {f"acct-{i}": {"channel": "noop", "brand": "clinic"} for i in range(2)},
    }, root=folder, environ={})


def measure(calls: int = 300) -> dict[str, float]:
    key = new_key()
    clients = Clients({"cms": Client(name="cms", key_hash=hash_key(key), brands=("*",),
                                     verbs=("publish", "status"),
                                     callback_url="http://127.0.0.1:9/unused")})
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        publisher = Publisher(_config(Path(tmp)), entry_point_plugins=False,
                              channel_classes={"noop": NoopChannel},
                              retry=RetryPolicy(clock=NoWaitClock()))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(create_app(publisher, clients), lifespan="off",
                                               log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        ids, cpu, wall = [], [], []
        for i in range(calls):
            body = {"post": {"id": f"b-{i}", "text": f"Clinic update {i}: flu shots all week."}}
            c0, w0 = time.process_time(), time.perf_counter()
            answer = http.post(f"{base}/v1/posts", json=body, timeout=30)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            answer.raise_for_status()
            ids.append(answer.json()["post_id"])
        out["publish_cpu"], out["publish_wall"] = median(cpu[20:]), median(wall[20:])
        cpu = []
        for post_id in ids:
            c0 = time.process_time()
            http.get(f"{base}/v1/posts/{post_id}", timeout=30).raise_for_status()
            cpu.append(time.process_time() - c0)
        out["status_cpu"] = median(cpu[20:])
        notifier = Notifier(publisher.ledger, clients, publisher.clock)
        for post_id in ids:  # as if every callback had been delivered
            for attempt in publisher.status(post_id):
                from carecast.server.audit import audit

                audit(publisher.ledger, "cms", "api.callback", post_id,
                      account=attempt.account, state=str(attempt.state), status=204)
        c0 = time.process_time()
        assert notifier.run_once() == 0
        out["first_pass_cpu"] = time.process_time() - c0
        c0 = time.process_time()
        assert notifier.run_once() == 0
        out["steady_pass_cpu"] = time.process_time() - c0
        out["events"] = float(len(publisher.ledger.audit_events()))
        server.should_exit = True
        thread.join(timeout=10)
        http.close()
        publisher.close()
    return out


def run() -> list[Row]:
    got = measure()
    load = os.getloadavg()[0]
    return [
        Row("server", "POST /v1/posts (publish, 2 accounts), CPU per call, median",
            ms(got["publish_cpu"])),
        Row("server", f"the same, wall per call, median (load {load:.1f})",
            ms(got["publish_wall"])),
        Row("server", "GET /v1/posts/{id}, CPU per call, median", ms(got["status_cpu"])),
        Row("server", f"callback pass, first, over {int(got['events'])} audit events",
            ms(got["first_pass_cpu"])),
        Row("server", "callback pass, steady state (nothing owed)", ms(got["steady_pass_cpu"])),
    ]


if __name__ == "__main__":
    print(table(run()))
