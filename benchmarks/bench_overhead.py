"""SDK overhead per post x account: a channel that returns at once, the SQLite store on disk.

Everything carecast does around the network call is timed: target resolution, render, the
review hooks, the gate, the ledger (record, claim, receipt, audit chain; file SQLite in WAL
mode), the retry wrapper, the worker pool and the report.
Client CPU per post x account (``time.process_time``: every thread) is shown beside the wall
figures: the machine is shared, CPU time is what carecast itself costs.

One post to many accounts: 100, 1,000 and 10,000 no-op accounts, each in fresh processes
(9, 5 and 3 of them; after a post to one account has paid the one-time costs), the median CPU
time per account of the ``publish`` call (it must stay flat: nothing quadratic in the number
of targets; wall time is shown beside it) and the process's peak memory.
Run: ``python benchmarks/bench_overhead.py``.

Instructions, which repeat whatever the load: ``--posts N`` publishes N posts to 10 no-op
accounts (after 3 warm-up posts) and nothing else; run it under
``valgrind --tool=callgrind`` for two values of N and divide the difference in instructions
by the difference in targets (``docs/performance.md`` gives the figures).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from _common import Row, load, median, ms, percentile, table

from carecast import Channel, Config, Post, Publisher, RetryPolicy
from carecast.post import Draft, Profile, Receipt
from carecast.testing import NoWaitClock

TARGET = 0.001  # seconds per post x account, median
TARGET_CPU = 0.0003  # client CPU seconds per post x account, default checks and store included
SCALES = (100, 1000, 10_000)
#: Fresh processes per size: a publish to 100 accounts lasts some 30 ms, so one run of it
#: is noise; the medians are compared.
SCALE_RUNS = {100: 9, 1000: 5, 10_000: 3}
TARGET_FLAT = 0.20  # time per account at 10,000 within 20 % of that at 100
TARGET_MIB = 150


class NoopChannel(Channel):
    """Publishes nowhere and answers at once."""

    name: ClassVar[str] = "noop"
    title: ClassVar[str] = "No-op (benchmarks)"
    max_text: ClassVar[int | None] = 500
    per_account = 64

    def publish(self, draft: Draft, key: str) -> Receipt:
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=key, published_at=datetime.now(UTC))

    def delete(self, receipt: Receipt) -> None:
        pass

    def fetch_profile(self) -> Profile:
        return Profile(channel=self.name, account=self.account)


def _config(accounts: int, folder: Path, concurrency: int = 16) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "publish": {"concurrency": concurrency},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {f"acct-{i}": {"channel": "noop", "brand": "clinic"}
                     for i in range(accounts)},
    }, root=folder, environ={})


def measure(accounts: int, targets: int = 2000, *, plugins: bool = False,
            warmup: int = 20) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per post x account, one value each per ``publish`` call."""
    posts = [Post(id=f"bench-{accounts}-{i}",
                  text=f"Clinic update {i}: the flu vaccination clinic is open this week.",
                  hashtags=["flu"], link="https://clinic.example/flu")
             for i in range(warmup + targets // accounts)]
    per_target: list[float] = []
    cpu_per_target: list[float] = []
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        publisher = Publisher(_config(accounts, Path(tmp)), entry_point_plugins=plugins,
                              channel_classes={"noop": NoopChannel},
                              retry=RetryPolicy(clock=NoWaitClock()))
        with publisher:
            for i, post in enumerate(posts):
                cpu, start = time.process_time(), time.perf_counter()
                report = publisher.publish(post)
                elapsed = time.perf_counter() - start
                cpu = time.process_time() - cpu
                if not report.ok or len(report.published) != accounts:
                    raise RuntimeError(f"publish failed: {report.counts}")
                if i >= warmup:
                    per_target.append(elapsed / accounts)
                    cpu_per_target.append(cpu / accounts)
    return per_target, cpu_per_target


def one_post(accounts: int) -> dict[str, float]:
    """In this process: one post to ``accounts`` no-op accounts (default checks on); wall and
    CPU seconds per account of the publish call, and the peak memory in MiB."""
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        config = _config(accounts, Path(tmp), concurrency=50)
        with Publisher(config, entry_point_plugins=False,
                       channel_classes={"noop": NoopChannel},
                       retry=RetryPolicy(clock=NoWaitClock())) as publisher:
            # one-time costs first (the checks, the store, the pool): a post to one account
            publisher.publish(Post(id="warm-up", text="Warm-up.", targets=["acct-0"]))
            post = Post(id=f"scale-{accounts}", text="The flu vaccination clinic is open.",
                        link="https://clinic.example/flu")
            cpu, start = time.process_time(), time.perf_counter()
            report = publisher.publish(post)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            if len(report.published) != accounts:
                raise RuntimeError(f"publish failed: {report.counts}")
    return {"wall": wall / accounts, "cpu": cpu / accounts, "peak_mib": _peak_mib()}


def _peak_mib() -> float:
    """This process's peak resident memory. Not ``ru_maxrss``: Linux carries it over from the
    parent across fork and exec, so a child would report the benchmark runner's peak."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024  # kB


def scale(accounts: int, runs: int = 1) -> dict[str, float]:
    """``one_post`` in fresh processes, so each peak is its own: the median CPU and wall
    time per account of ``runs`` runs, and the highest peak."""
    results = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--one-post", str(accounts)],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"cpu": median([r["cpu"] for r in results]),
            "wall": median([r["wall"] for r in results]),
            "peak_mib": max(r["peak_mib"] for r in results), "runs": runs}


def run() -> list[Row]:
    rows = [Row("overhead", "load average when it started", load())]
    for accounts, plugins in ((1, False), (10, False), (1, True), (10, True)):
        values, cpus = measure(accounts, plugins=plugins)
        label = f"{accounts} account{'s' if accounts > 1 else ''}/post" + (
            ", installed hook plugins" if plugins else ", no plugins")
        med = median(values)
        rows.append(Row("overhead", f"{label}: median per post x account", ms(med),
                        "< 1 ms", med < TARGET))
        rows.append(Row("overhead", f"{label}: p95 per post x account",
                        ms(percentile(values, 0.95))))
        cpu = median(cpus)
        rows.append(Row("overhead", f"{label}: client CPU per post x account, median",
                        ms(cpu), f"<= {ms(TARGET_CPU)}", cpu <= TARGET_CPU))
    scaled = {n: scale(n, SCALE_RUNS[n]) for n in SCALES}
    first = scaled[SCALES[0]]
    for n, figures in scaled.items():
        # Flat in CPU time: on a shared machine, wall time measures the other processes too.
        ratio = figures["cpu"] / first["cpu"]
        flat = f"within {TARGET_FLAT:.0%} of N = {SCALES[0]}" if n != SCALES[0] else ""
        rows += [
            Row("overhead", f"1 post -> {n:,} no-op accounts: CPU per account, median of "
                f"{figures['runs']:.0f}",
                f"{ms(figures['cpu'])} ({ratio:.2f}x)", flat,
                abs(ratio - 1) <= TARGET_FLAT if n != SCALES[0] else None),
            Row("overhead", f"1 post -> {n:,} no-op accounts: wall per account",
                f"{ms(figures['wall'])} ({figures['wall'] / first['wall']:.2f}x)"),
            Row("overhead", f"1 post -> {n:,} no-op accounts: peak memory",
                f"{figures['peak_mib']:.0f} MiB", f"<= {TARGET_MIB} MiB",
                figures["peak_mib"] <= TARGET_MIB),
        ]
    rows.append(Row("overhead", "load average when it ended", load()))
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one-post"]:
        print(json.dumps(one_post(int(sys.argv[2]))))
    elif sys.argv[1:2] == ["--posts"]:
        measure(10, targets=10 * int(sys.argv[2]), warmup=3)
    else:
        print(table(run()))
