"""``import carecast`` time, from ``python -X importtime -c "import carecast"``.

The last line of the report is the ``carecast`` package itself; its cumulative column is the
whole cost of the import (modules already loaded by the interpreter's start-up excluded).

The start-up of the command line is timed too, each command a fresh process: ``carecast
--help``, ``carecast channels``, ``carecast status`` of a stored post and ``carecast publish``
of a one-account post (a webhook receiver in its own process answering at once); wall time
(with the load average beside it) and the CPU time of the command's process. Each command
runs once untimed first, with Python's bytecode cache on (``PYTHONDONTWRITEBYTECODE`` is
dropped for the commands): without it every run recompiles carecast's own modules, which an
installed carecast never does.

The floor the command line stands on is timed alone, each in a fresh interpreter: the
libraries ``carecast status`` cannot start without (SQLAlchemy for the store, typer with the
pydantic adapters it builds for every option, pydantic-settings for ``CARECAST_*``).
With ``CARECAST_BENCH_INSTRUCTIONS=1`` (and valgrind installed) each command also runs once
under ``valgrind --tool=cachegrind --cache-sim=no``: its instruction count repeats whatever
else the machine is doing, where its wall and CPU time do not (about 20 s a command).
Run: ``python benchmarks/bench_import.py``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, Row, load, median, table

TARGET_MS = 100.0
RUNS = 7
#: Wall seconds per command (issue 14): ``status`` 0.3 s, a one-account ``publish`` 0.5 s.
COMMAND_TARGETS = {"status": 0.3, "publish": 0.5}
#: What ``carecast status`` imports that carecast does not own, timed alone.
FLOOR = {
    "sqlalchemy": "import sqlalchemy",
    "typer, with its pydantic adapters": "import typer, typer._adapters",
    "rich's console and table": "import rich.console, rich.table",
    "pydantic-settings": "import pydantic_settings",
    "all of them together": "import sqlalchemy, typer, typer._adapters, rich.console, "
                            "rich.table, pydantic_settings",
}
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


@dataclass(frozen=True)
class Entry:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def sample() -> list[Entry]:
    """One fresh interpreter's import-time report for ``import carecast``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import carecast"],
                         capture_output=True, text=True, check=True)
    entries = []
    for line in out.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            entries.append(Entry(match[4], int(match[1]), int(match[2]),
                                 len(match[3]) // 2))
    if not entries or entries[-1].module != "carecast":
        raise RuntimeError("unexpected -X importtime output:\n" + out.stderr[-2000:])
    return entries


def subtree(entries: list[Entry]) -> list[Entry]:
    """The modules ``import carecast`` loaded: the entries nested under its (last) line.

    Children are printed before their parent, so they are the entries after the previous
    top-level line (``site`` and friends, loaded by the interpreter's start-up).
    """
    start = max((i for i, e in enumerate(entries[:-1]) if e.depth == 0), default=-1) + 1
    return entries[start:]


def _group(module: str) -> str:
    """The top-level distribution a module belongs to (carecast modules stay whole)."""
    return module if module.startswith("carecast") else module.split(".")[0]


#: The commands' environment: with the bytecode cache, as an installed carecast runs.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cumulative_ms(code: str) -> float:
    """Milliseconds the import statement ``code`` takes in a fresh interpreter: the sum of
    the cumulative times -X importtime gives the modules it names."""
    names = {name.strip() for name in code.removeprefix("import ").split(",")}
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                         capture_output=True, text=True, check=True, env=_ENV)
    total = 0
    for line in out.stderr.splitlines():
        match = _LINE.match(line)
        if match and len(match[3]) <= 1 and match[4] in names:
            total += int(match[2])
    return total / 1000


def floor(runs: int = RUNS) -> list[Row]:
    """The libraries under ``carecast status``, each alone in a fresh interpreter."""
    return [Row("cli", f"floor: {name}, min of {runs}",
                f"{min(cumulative_ms(code) for _ in range(runs)):.1f} ms")
            for name, code in FLOOR.items()]


def instructions(args: list[str], cwd: Path) -> int:
    """Instructions one ``carecast`` command executes (valgrind's I refs)."""
    carecast = Path(sys.executable).with_name("carecast")
    done = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                           "--cachegrind-out-file=/dev/null", sys.executable, str(carecast),
                           *args], cwd=cwd, capture_output=True, text=True, env=_ENV)
    match = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"carecast {' '.join(args)} under valgrind failed:\n"
                           f"{done.stderr[-2000:]}")
    return int(match[1].replace(",", ""))


def timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``carecast`` command in a fresh process."""
    carecast = Path(sys.executable).with_name("carecast")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([str(carecast), *args], cwd=cwd, capture_output=True, text=True,
                          env=_ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"carecast {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def commands(runs: int = 5) -> list[Row]:
    """The command line's start-up: channels, status and a one-account publish."""
    script = ROOT / "tests" / "reliability" / "faultserver.py"
    rows = [Row("cli", "load average when it started", load())]
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp, subprocess.Popen(
            [sys.executable, str(script), "--fault-rate", "0", "--lookup-fault-rate", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as receiver:
        assert receiver.stdout is not None
        url = receiver.stdout.readline().strip()
        folder = Path(tmp)
        (folder / "carecast.toml").write_text(
            f'[store]\nurl = "sqlite:///{folder / "cc.db"}"\n'
            '[brands.clinic]\nname = "Riverside Clinic"\n'
            f'[accounts.hook]\nchannel = "webhook"\nbrand = "clinic"\nurl = "{url}/hook"\n'
            f'lookup_url = "{url}/lookup"\nsecret = "{secrets.token_hex(32)}"\n')
        posts = []
        for i in range(runs + 1):
            post = folder / f"post-{i}.json"
            post.write_text(json.dumps({"id": f"cli-{i}", "text": f"Clinic hours {i}: 9 to 5."}))
            posts.append(post)
        try:
            # once untimed each: the bytecode cache is written and the files are in memory
            for args in (["--help"], ["channels"], ["publish", str(posts[0])],
                         ["status", "cli-0"]):
                timed(args, folder)
            measured = {
                "--help": [timed(["--help"], folder) for _ in range(runs)],
                "channels": [timed(["channels"], folder) for _ in range(runs)],
                "publish": [timed(["publish", str(p)], folder) for p in posts[1:]],
                "status": [timed(["status", "cli-1"], folder) for _ in range(runs)],
            }
            counted: dict[str, int] = {}
            if os.environ.get("CARECAST_BENCH_INSTRUCTIONS") == "1" and shutil.which("valgrind"):
                (folder / "post-x.json").write_text(json.dumps({"id": "cli-x", "text": "Hours."}))
                counted = {name: instructions(args, folder) for name, args in (
                    ("--help", ["--help"]), ("channels", ["channels"]),
                    ("publish", ["publish", str(folder / "post-x.json")]),
                    ("status", ["status", "cli-1"]))}
        finally:
            receiver.communicate(timeout=30)
    for name, values in measured.items():
        walls, cpus = [v[0] for v in values], [v[1] for v in values]
        target = COMMAND_TARGETS.get(name)
        rows += [
            Row("cli", f"carecast {name}: wall, median of {runs}", f"{median(walls):.2f} s",
                f"<= {target} s" if target else "",
                median(walls) <= target if target else None),
            Row("cli", f"carecast {name}: CPU of its process, median of {runs}",
                f"{median(cpus):.2f} s"),
        ]
    rows += [Row("cli", f"carecast {name}: instructions (valgrind)", f"{count / 1e6:,.0f} M")
             for name, count in counted.items()]
    rows.append(Row("cli", "load average when it ended", load()))
    return rows


def run() -> list[Row]:
    samples = [sample() for _ in range(RUNS)]
    totals = [s[-1].cumulative_us / 1000 for s in samples]
    rows = [
        Row("import", f"import carecast, cumulative: min of {RUNS}", f"{min(totals):.1f} ms",
            f"< {TARGET_MS:.0f} ms", min(totals) < TARGET_MS),
        Row("import", f"import carecast, cumulative: median of {RUNS}",
            f"{median(totals):.1f} ms", f"< {TARGET_MS:.0f} ms", median(totals) < TARGET_MS),
    ]
    # what the time goes to: self time summed per top-level package, median over the runs
    per_group: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        sums: dict[str, int] = defaultdict(int)
        for entry in subtree(s):
            sums[_group(entry.module)] += entry.self_us
        for group, us in sums.items():
            per_group[group].append(us / 1000)
    ranked = sorted(per_group.items(), key=lambda kv: -median(kv[1]))
    for group, values in ranked[:10]:
        rows.append(Row("import", f"  self time of {group}", f"{median(values):.1f} ms"))
    # the direct imports of carecast and their cumulative cost, from the median run
    mid = samples[totals.index(sorted(totals)[len(totals) // 2])]
    children = sorted((e for e in subtree(mid) if e.depth == 1),
                      key=lambda e: -e.cumulative_us)
    for entry in children[:6]:
        rows.append(Row("import", f"  carecast imports {entry.module} (cumulative)",
                        f"{entry.cumulative_us / 1000:.1f} ms"))
    if os.environ.get("CARECAST_BENCH_NO_CLI") != "1":
        rows += commands()
        rows += floor()
    return rows


if __name__ == "__main__":
    print(table(run()))
