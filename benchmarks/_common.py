"""Shared bits of the benchmarks: result rows, percentiles and the table."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    """One measured figure; ``target`` and ``met`` are None when it is only informative."""

    bench: str
    figure: str
    value: str
    target: str = ""
    met: bool | None = None


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms" if seconds < 0.01 else f"{seconds * 1000:.1f} ms"


def table(rows: list[Row]) -> str:
    """A plain text table of the rows."""
    head = ("benchmark", "figure", "value", "target", "")
    body = [(r.bench, r.figure, r.value, r.target,
             "" if r.met is None else ("met" if r.met else "MISSED")) for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(s.rstrip() for s in out)


def fault_server_path() -> None:
    """Make ``reliability.faultserver`` (in tests/) importable."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def load() -> str:
    """The 1, 5 and 15 minute load averages (beside any wall-clock figure)."""
    import os

    return " / ".join(f"{x:.2f}" for x in os.getloadavg())
