"""One post to N accounts through real channel code, against loopback servers answering in 100 ms.

Two channels: Mastodon (the real ``MastodonChannel``, against a Mastodon-shaped server:
``tests/mastodon_server.py``) and webhook (against ``tests/reliability/faultserver.py``).
Each server runs in its own process, threaded, as a platform is. With
``[publish] concurrency = 50`` the ideal is ceil(N / 50) x 100 ms. In the same run a bare
``http.client`` pool of 50 threads (one kept-alive connection each) makes the same POSTs with
no carecast at all: the floor of this machine and this server. Targets: carecast within 1.15x
of the ideal and within 10 % of the floor, N = 200 and 1,000.

The client CPU per post x account (``time.process_time`` over the publish: every thread of
this process, the store writes and the default checks included) is shown beside each figure;
the servers' CPU is in their own processes and not counted.
Run: ``python benchmarks/bench_fanout.py [N ...]``.

Instructions, which repeat whatever the load: ``--posts N`` publishes N posts to 50 Mastodon
accounts on the server answering at once (after 2 warm-up posts) and nothing else; run it
under ``valgrind --tool=callgrind`` (the server is not traced) for two values of N and divide
the difference in instructions by the difference in targets.
"""

from __future__ import annotations

import http.client
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from _common import ROOT, Row, load, median, ms, table

from carecast import Config, Post, Publisher

SIZES = (200, 1000)
CONCURRENCY = 50
LATENCY = 0.1
TARGET_IDEAL = 1.15
TARGET_FLOOR = 1.10
TARGET_CPU = {"mastodon": 0.0008}
TOKEN = "bench-token-not-a-secret"


@dataclass(frozen=True)
class Shape:
    """A platform's server, its accounts' settings and the POST a bare client makes."""

    name: str
    script: Path
    args: tuple[str, ...]
    account: Callable[[str], dict[str, Any]]
    request: Callable[[int, int], tuple[str, bytes, dict[str, str]]]


def _mastodon_request(rnd: int, i: int) -> tuple[str, bytes, dict[str, str]]:
    body = urlencode({"status": f"Round {rnd}: the clinic opens at 9.", "visibility": "public"})
    return "/api/v1/statuses", body.encode(), {
        "Authorization": f"Bearer {TOKEN}", "Idempotency-Key": f"bare-{rnd}-{i}",
        "Content-Type": "application/x-www-form-urlencoded"}


def _webhook_request(rnd: int, i: int) -> tuple[str, bytes, dict[str, str]]:
    key = f"bare-{rnd}-{i}"
    return "/hook", json.dumps({"key": key, "text": "the clinic opens at 9."}).encode(), {
        "Idempotency-Key": key, "Content-Type": "application/json"}


SHAPES = (
    Shape("mastodon", ROOT / "tests" / "mastodon_server.py", ("--latency", str(LATENCY)),
          lambda url: {"channel": "mastodon", "api_base_url": url, "access_token": TOKEN},
          _mastodon_request),
    Shape("webhook", ROOT / "tests" / "reliability" / "faultserver.py",
          ("--fault-rate", "0", "--lookup-fault-rate", "0", "--latency", str(LATENCY)),
          lambda url: {"channel": "webhook", "url": url + "/hook",
                       "lookup_url": url + "/lookup"},
          _webhook_request),
)


@contextmanager
def server(shape: Shape) -> Iterator[tuple[str, dict[str, Any]]]:
    """The server's base URL, and a dict filled with its counters when the block ends."""
    stats: dict[str, Any] = {}
    with subprocess.Popen([sys.executable, str(shape.script), *shape.args],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            yield proc.stdout.readline().strip(), stats
        finally:
            out, _ = proc.communicate(timeout=60)
        stats.update(json.loads(out.strip().splitlines()[-1]))


def ideal(n: int) -> float:
    return math.ceil(n / CONCURRENCY) * LATENCY


def bare(shape: Shape, n: int, rounds: int) -> tuple[list[float], list[float]]:
    """Wall seconds per round of ``n`` POSTs from a bare ``http.client`` pool of 50 threads,
    and the client CPU seconds per POST of each round (what the HTTP call itself costs)."""
    walls: list[float] = []
    cpus: list[float] = []
    with server(shape) as (url, _stats), ThreadPoolExecutor(CONCURRENCY) as pool:
        parts = urlsplit(url)
        local = threading.local()

        def post(rnd: int, i: int) -> None:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                                               timeout=30)
            path, body, headers = shape.request(rnd, i)
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"bare POST answered {response.status}")
            json.loads(data)

        for rnd in range(rounds):
            cpu, start = time.process_time(), time.perf_counter()
            list(pool.map(post, [rnd] * n, range(n)))
            walls.append(time.perf_counter() - start)
            cpus.append((time.process_time() - cpu) / n)
    return walls, cpus


def carecast(shape: Shape, n: int, rounds: int) -> tuple[list[float], list[float],
                                                          dict[str, Any]]:
    """Wall seconds and client CPU seconds per post (the first post builds the channels),
    and the server's counters."""
    walls: list[float] = []
    cpus: list[float] = []
    with server(shape) as (url, stats), \
            tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        config = Config.from_dict({
            "store": {"url": f"sqlite:///{Path(tmp) / 'fanout.db'}"},
            "publish": {"concurrency": CONCURRENCY},
            "brands": {"clinic": {"name": "Riverside Clinic"}},
            "accounts": {f"{shape.name}-{i:04d}": {"brand": "clinic", **shape.account(url)}
                         for i in range(n)},
        }, root=Path(tmp), environ={})
        with Publisher(config, entry_point_plugins=False) as publisher:
            for rnd in range(rounds):
                post = Post(id=f"fanout-{shape.name}-{n}-{rnd}",
                            text=f"Round {rnd}: the clinic opens at 9.")
                cpu, start = time.process_time(), time.perf_counter()
                report = publisher.publish(post)
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                if len(report.published) != n:
                    raise RuntimeError(f"publish failed: {report.counts}")
    return walls, cpus, stats


def run(sizes: tuple[int, ...] = SIZES) -> list[Row]:
    rows = [Row("fan-out", "load average when it started", load())]
    for shape in SHAPES:
        for n in sizes:
            rounds = 4 if n <= 200 else 3
            floor_walls, floor_cpus = bare(shape, n, rounds)
            floor, floor_cpu = median(floor_walls), median(floor_cpus)
            walls, cpus, stats = carecast(shape, n, rounds + 1)
            warm = median(walls[1:])
            cpu = median(cpus[1:]) / n
            best = ideal(n)
            what = f"{shape.name}, N = {n:,}"
            rows += [
                Row("fan-out", f"{what}: ideal (ceil(N/50) x 100 ms)", ms(best)),
                Row("fan-out", f"{what}: bare http.client, 50 threads, median of {rounds}",
                    f"{ms(floor)} ({floor / best:.2f}x ideal)"),
                Row("fan-out", f"{what}: carecast, first post (builds the channels)",
                    f"{ms(walls[0])} ({walls[0] / best:.2f}x ideal)"),
                Row("fan-out", f"{what}: carecast, later posts, median of {rounds}",
                    f"{ms(warm)} ({warm / best:.2f}x ideal)", f"<= {TARGET_IDEAL}x ideal",
                    warm <= TARGET_IDEAL * best),
                Row("fan-out", f"{what}: carecast / bare floor", f"{warm / floor:.2f}x",
                    f"<= {TARGET_FLOOR:.2f}x", warm <= TARGET_FLOOR * floor),
                Row("fan-out", f"{what}: client CPU per post x account (later posts)",
                    ms(cpu), f"<= {ms(TARGET_CPU[shape.name])}" if shape.name in TARGET_CPU
                    else "", cpu <= TARGET_CPU[shape.name] if shape.name in TARGET_CPU
                    else None),
                Row("fan-out", f"{what}: bare http.client CPU per POST (the HTTP call)",
                    f"{ms(floor_cpu)} (carecast {cpu / floor_cpu:.1f}x)"),
                Row("fan-out", f"{what}: peak requests in flight / posts stored",
                    f"{stats.get('peak_active')} / {stats.get('accepted')}",
                    f"{CONCURRENCY} / {n * (rounds + 1)}",
                    stats.get("peak_active") == CONCURRENCY
                    and stats.get("accepted") == n * (rounds + 1)),
            ]
    rows.append(Row("fan-out", "load average when it ended", load()))
    return rows


def instructions(posts: int, accounts: int = 50) -> None:
    """``posts`` posts to ``accounts`` Mastodon accounts on a server answering at once."""
    base = SHAPES[0]
    shape = Shape(base.name, base.script, ("--latency", "0"), base.account, base.request)
    with server(shape) as (url, _stats), \
            tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        config = Config.from_dict({
            "store": {"url": f"sqlite:///{Path(tmp) / 'fanout.db'}"},
            "publish": {"concurrency": CONCURRENCY},
            "brands": {"clinic": {"name": "Riverside Clinic"}},
            "accounts": {f"mastodon-{i:04d}": {"brand": "clinic", **shape.account(url)}
                         for i in range(accounts)},
        }, root=Path(tmp), environ={})
        with Publisher(config, entry_point_plugins=False) as publisher:
            for rnd in range(2 + posts):
                report = publisher.publish(Post(id=f"instructions-{rnd}",
                                                text=f"Round {rnd}: the clinic opens at 9."))
                if len(report.published) != accounts:
                    raise RuntimeError(f"publish failed: {report.counts}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--posts"]:
        instructions(int(sys.argv[2]))
    else:
        print(table(run(tuple(int(a) for a in sys.argv[1:]) or SIZES)))
