"""The reply gate: CPU per reply. Figures only.

``compliance.reply_guard.stops`` (every rule of the gate, the PHI guard's ``care_told``
included) on each reply of the four labelled sets in ``tests/data`` (``replies*.yaml``:
development, two held-out sets and a probe), median of ``PASSES`` passes, in CPU time of
this process. How it grows on the longest replies is in ``bench_worst.py``.
Run: ``python benchmarks/bench_reply.py``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import yaml
from _common import ROOT, Row, ms, table

from carecast.compliance.reply_guard import stops

PASSES = 5
SETS = ("replies.yaml", "replies_heldout.yaml", "replies_heldout2.yaml", "replies_probe.yaml")
ALLOW = ("Riverside General", "555-0142")


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for name in SETS:
        cases += yaml.safe_load((ROOT / "tests" / "data" / name).read_text(encoding="utf-8"))
    return cases


def run() -> list[Row]:
    cases = _cases()
    for case in cases:  # warm: every pattern compiled
        stops(case["reply"], case["mention"], allow=ALLOW)
    passes = []
    for _ in range(PASSES):
        start = time.process_time()
        for case in cases:
            stops(case["reply"], case["mention"], author="someone", allow=ALLOW)
        passes.append((time.process_time() - start) / len(cases))
    return [Row("reply", f"CPU per reply ({len(cases)} labelled replies, "
                           f"mean {statistics.mean(len(c['reply']) for c in cases):.0f} chars)",
                    ms(statistics.median(passes)))]


if __name__ == "__main__":
    print(table(run()))
