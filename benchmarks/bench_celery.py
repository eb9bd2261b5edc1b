"""Celery workers: targets per second with 1, 2 and 4 worker processes, and what the queue adds
per target over the in-process publisher.

Real software on 127.0.0.1, started here: PostgreSQL (the shared ledger, ``tests/pg.py``),
Redis (the broker, ``tests/redis_server.py``) and the webhook receiver
(``tests/reliability/faultserver.py``, no faults, answering at once) in its own process.

- In-process: one process publishes each target with ``Loop.run_post(post, only=[account])``,
  the very call a task makes; and one ``run_due`` pass (``carecast worker``'s path, the
  targets of a post sent together).
- Celery: ``carecast worker --celery`` processes (``--pool solo``: one task at a time each),
  warmed up on a first batch; then every target of a new batch is enqueued as
  ``carecast.publish_target`` and the clock runs until the ledger holds all published.
  Worker CPU is read from ``/proc/PID/stat`` (user + system) over that window.

The queue's overhead per target is the worker CPU per target less the in-process CPU per
target (the same publisher code and ledger in both; PostgreSQL's own CPU, in its server
processes, is not counted in either). Wall figures depend on the machine's load (shown);
CPU figures do not. Run: ``python benchmarks/bench_celery.py [TARGETS]``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from _common import ROOT, Row, fault_server_path, load, ms, table

from carecast import Post, Publisher, load_config
from carecast.celery import CelerySettings, make_app
from carecast.clock import SYSTEM_CLOCK
from carecast.store.schema import attempts
from carecast.testing import FrozenClock

ACCOUNTS = ("feed-a", "feed-b", "feed-c", "feed-d")
TARGETS = 400
WARM_UP = 40
WORKERS = (1, 2, 4)
QUEUE = "carecast-bench"
_TICK = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _receiver() -> Iterator[str]:
    script = ROOT / "tests" / "reliability" / "faultserver.py"
    with subprocess.Popen([sys.executable, str(script), "--fault-rate", "0",
                           "--lookup-fault-rate", "0"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            yield proc.stdout.readline().strip()
        finally:
            proc.communicate(timeout=60)


def _config(folder: Path, store: str, url: str) -> Path:
    accounts = "".join(
        f'\n[accounts.{name}]\nchannel = "webhook"\nbrand = "clinic"\n'
        f'url = "{url}/hook"\nlookup_url = "{url}/lookup"\n' for name in ACCOUNTS)
    path = folder / "carecast.toml"
    path.write_text(f'[store]\nurl = "{store}"\n\n[brands.clinic]\nname = "Riverside Clinic"\n'
                    + accounts, encoding="utf-8")
    return path


def _store(config: Path, batch: str, targets: int) -> list[tuple[str, str]]:
    """Store posts due now (by a publisher an hour behind: nothing is sent); their targets."""
    due = SYSTEM_CLOCK.now()
    posts = -(-targets // len(ACCOUNTS))
    with Publisher.from_config_file(config, entry_point_plugins=False,
                                    clock=FrozenClock(due - timedelta(hours=1))) as publisher:
        for i in range(posts):
            publisher.publish(Post(id=f"{batch}-{i:04d}", schedule=due,
                                   text=f"Health note {i}: free blood pressure checks."))
    return [(f"{batch}-{i:04d}", a) for i in range(posts) for a in ACCOUNTS][:targets]


def _published(publisher: Publisher, targets: list[tuple[str, str]]) -> int:
    """How many of ``targets`` (one batch: their posts share a prefix) are published, in one
    query (polling must not load the database the workers use)."""
    prefix = targets[0][0].rsplit("-", 1)[0] + "-"
    with publisher.ledger.engine.connect() as conn:
        return int(conn.execute(
            sa.select(sa.func.count()).select_from(attempts)
            .where(attempts.c.post_id.startswith(prefix), attempts.c.state == "published")
        ).scalar_one())


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _in_process(config: Path, targets: int) -> tuple[float, float, float, float]:
    """Wall and CPU seconds per target of run_post one target at a time, then of run_due."""
    one = _store(config, "inproc", targets)
    with Publisher.from_config_file(config, entry_point_plugins=False) as publisher:
        first, account = one[0]
        publisher.loop.run_post(first, only=[account])  # opens the store and the channels
        cpu, wall = time.process_time(), time.perf_counter()
        for post_id, account in one[1:]:
            publisher.loop.run_post(post_id, only=[account])
        per = (time.perf_counter() - wall) / (len(one) - 1), \
            (time.process_time() - cpu) / (len(one) - 1)
        batch = _store(config, "due", targets)
        cpu, wall = time.process_time(), time.perf_counter()
        publisher.run_due()
        assert _published(publisher, batch) == len(batch)
        return (*per, (time.perf_counter() - wall) / len(batch),
                (time.process_time() - cpu) / len(batch))


def _celery(config: Path, broker: str, workers: int, targets: int
            ) -> tuple[float, float]:
    """Wall seconds for the batch, and worker CPU seconds per target."""
    env = dict(os.environ, CARECAST_CELERY_BROKER_URL=broker, CARECAST_CELERY_QUEUE=QUEUE)
    logs = [(config.parent / f"worker{n}.log").open("wb") for n in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "carecast", "--config", str(config),
                               "worker", "--celery"], stdout=log, stderr=log, env=env,
                              cwd=config.parent) for log in logs]
    app = make_app(config, settings=CelerySettings(broker_url=broker, queue=QUEUE))
    task = app.tasks["carecast.publish_target"]
    try:
        with Publisher.from_config_file(config, entry_point_plugins=False) as publisher:
            def run(batch: list[tuple[str, str]]) -> float:
                start = time.perf_counter()
                for target in batch:
                    task.apply_async(target)
                while _published(publisher, batch) < len(batch):
                    if time.perf_counter() - start > 600:
                        raise RuntimeError("the workers did not finish in 10 minutes")
                    time.sleep(0.1)
                return time.perf_counter() - start

            run(_store(config, f"warm{workers}", WARM_UP * workers))
            batch = _store(config, f"celery{workers}", targets)
            cpu = sum(_cpu(p.pid) for p in procs)
            wall = run(batch)
            cpu = sum(_cpu(p.pid) for p in procs) - cpu
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        for log in logs:
            log.close()
    return wall, cpu / targets


def run(targets: int = TARGETS) -> list[Row]:
    fault_server_path()
    import pg
    from redis_server import RedisServer

    os.environ.setdefault("CARECAST_AUDIT_KEY", "b6" * 32)
    rows = [Row("celery", "load average when it started", load())]
    with pg.PostgresCluster.start() as cluster, RedisServer.start() as broker, \
            _receiver() as url, tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        config = _config(Path(tmp), cluster.url, url)
        load_config(config)  # a bad config fails here, not in the workers
        wall, cpu, due_wall, due_cpu = _in_process(config, targets)
        rows += [
            Row("celery", f"in-process run_post, one target at a time ({targets} targets)",
                f"{1 / wall:.0f} targets/s; CPU {ms(cpu)} per target"),
            Row("celery", f"in-process run_due pass ({targets} targets, a post's together)",
                f"{1 / due_wall:.0f} targets/s; CPU {ms(due_cpu)} per target"),
        ]
        for workers in WORKERS:
            took, worker_cpu = _celery(config, broker.url, workers, targets)
            rows += [
                Row("celery", f"{workers} worker(s): targets per second ({targets} targets)",
                    f"{targets / took:.0f} targets/s ({took:.1f} s)"),
                Row("celery", f"{workers} worker(s): worker CPU per target",
                    f"{ms(worker_cpu)} (the queue adds {ms(worker_cpu - cpu)})"),
            ]
    rows.append(Row("celery", "load average when it ended", load()))
    return rows


if __name__ == "__main__":
    print(table(run(int(sys.argv[1]) if len(sys.argv) > 1 else TARGETS)))
