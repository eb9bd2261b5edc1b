"""The reply gate: CPU per reply, and how it grows with a reply's length. Figures only.

Per reply: ``compliance.reply_guard.stops`` (every rule of the gate, the PHI guard's
``care_told`` included) on each reply of the four labelled sets in ``tests/data``
(``replies*.yaml``: development, two held-out sets and a probe), median of ``PASSES`` passes,
in CPU time of this process. Growth: replies built by repeating the words that start a rule's
search ("sorry you ", "Dr. Reyes ", "your son ", ...) to 1,250 and to 10,000 characters, the
most a reply may hold (``replies.MAX_REPLY_CHARS``); a ratio near 8 is linear, near 64
quadratic. Run: ``python benchmarks/bench_reply.py``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import yaml
from _common import ROOT, Row, ms, table

from carecast.compliance.reply_guard import stops
from carecast.replies import MAX_REPLY_CHARS

PASSES = 5
SETS = ("replies.yaml", "replies_heldout.yaml", "replies_heldout2.yaml", "replies_probe.yaml")
#: The words that open a rule's search, repeated: the inputs that would show a scan that
#: restarts at every match.
TRIGGERS = ("sorry you ", "so sorry about your wait in our ER ", "Dr. Reyes ", "your son ",
            "welcome back to the 4th floor ", "glad you're feeling ", "from 7 South ",
            "when you needed us ", "condolences ", "@handle ", "Mrs. Lee ", "your ")
ALLOW = ("Riverside General", "555-0142")


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for name in SETS:
        cases += yaml.safe_load((ROOT / "tests" / "data" / name).read_text(encoding="utf-8"))
    return cases


def _cpu(reply: str, mention: str = "") -> float:
    start = time.process_time()
    stops(reply, mention, author="someone", allow=ALLOW)
    return time.process_time() - start


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
    rows = [Row("reply", f"CPU per reply ({len(cases)} labelled replies, "
                         f"mean {statistics.mean(len(c['reply']) for c in cases):.0f} chars)",
                ms(statistics.median(passes)))]
    worst = ("", 0.0, 0.0)
    for trigger in TRIGGERS:
        short = trigger * (MAX_REPLY_CHARS // 8 // len(trigger))
        full = trigger * (MAX_REPLY_CHARS // len(trigger))
        small, large = min(_cpu(short) for _ in range(3)), min(_cpu(full) for _ in range(3))
        if large > worst[2]:
            worst = (trigger.strip(), small, large)
    trigger, small, large = worst
    rows.append(Row("reply", f"slowest repeated input: {trigger!r} to {MAX_REPLY_CHARS:,} chars",
                    ms(large)))
    rows.append(Row("reply", "its growth from 1/8 of that length (8 = linear, 64 = quadratic)",
                    f"{large / small:.1f}x" if small else "n/a"))
    return rows


if __name__ == "__main__":
    print(table(run()))
