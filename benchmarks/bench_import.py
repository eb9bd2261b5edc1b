"""``import carecast`` time, from ``python -X importtime -c "import carecast"``.

The last line of the report is the ``carecast`` package itself; its cumulative column is the
whole cost of the import (modules already loaded by the interpreter's start-up excluded). Run:
``python benchmarks/bench_import.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass

from _common import Row, median, table

TARGET_MS = 100.0
RUNS = 7
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
    return rows


if __name__ == "__main__":
    print(table(run()))
