"""Run carecast's benchmarks and print one table of figures.

    python benchmarks/run.py                 # all
    python benchmarks/run.py overhead import # some

- ``overhead``: SDK time per post x account around a channel that answers at once, the SQLite
  store on disk included (targets: median under 1 ms, client CPU at most 0.3 ms; one post to
  100, 1,000 and 10,000 accounts: CPU per account within 20 %, peak memory 150 MiB).
- ``fanout``: one post to 200 and 1,000 Mastodon and webhook accounts through the real
  channels, on loopback servers answering in 100 ms, concurrency 50, beside a bare
  ``http.client`` pool (targets: within 1.15x of the ideal and 10 % of the bare floor; Mastodon
  client CPU at most 0.8 ms per post x account).
- ``import``: ``python -X importtime -c "import carecast"`` (target: under 100 ms), and the
  command line's start-up (targets: ``status`` 0.3 s, a one-account ``publish`` 0.5 s).
- ``phi``: the PHI scanner's characters per CPU second on 3,000 hospital posts (target:
  1.75 million), and its start-up in a fresh process (targets: 50 ms, 30 MiB).
- ``brand``: a brand audit of 300 accounts whose platform answers after 100 ms, avatars
  included, cold and with a warm avatar cache (target: under 3 s).
- ``advice``: review per 280-character draft, every check on (target: 0.5 ms).
- ``claim``: CPU per ``Ledger.claim`` with and without its check against the audit chain
  (target: the check adds under 200 µs).
- ``loop``: queries and CPU time of next_slot, the posts listing, a freeze and a calendar month
  with 1,000 stored posts (target: at most 10 queries each, whatever the number of posts).
- ``server``: ``carecast serve`` CPU per call and per callback pass (figures only).
- ``ledger``: write transactions of a 1,000-account fan-out, ``audit verify`` events per CPU
  second on 100,000 events, full and incremental (target: 100,000 full), ``only=`` narrowing.
- ``listen``: CPU per collected item (PHI scan and triage), store save and search, and a purge
  with its VACUUM on 10,000 items (figures only).
- ``celery``: targets per second with 1, 2 and 4 Celery workers on PostgreSQL and Redis, and
  the worker CPU the queue adds per target over the in-process publisher (figures only).
- ``sms``: one post texted to 2,000 opted-in numbers on a Twilio-shaped loopback server:
  messages per second and client CPU per message (figures only).
- ``email``: CPU to build a newsletter message, memory with large images, messages per second
  to a loopback SMTP server (figures only).
- ``metrics``: collecting 10,000 receipts' metrics from a loopback platform answering in
  100 ms, concurrency 64 (target: within 1.3x of the ideal), beside a bare client floor.
- ``reply``: the reply gate's CPU per reply on the labelled reply sets (figures only).
- ``worst``: how preview, each channel's render and the reply gate grow on texts that repeat
  one rule's trigger phrase, to 16,000 characters (10,000 for a reply): 8x linear, 64x
  quadratic (figures only).

Figures only: nothing here asserts on time. A missed target is marked MISSED in the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

from _common import Row, table

BENCHES: dict[str, str] = {
    "overhead": "bench_overhead",
    "fanout": "bench_fanout",
    "import": "bench_import",
    "phi": "bench_phi",
    "brand": "bench_brand",
    "advice": "bench_advice",
    "claim": "bench_claim",
    "loop": "bench_loop",
    "server": "bench_server",
    "ledger": "bench_ledger",
    "celery": "bench_celery",
    "sms": "bench_sms",
    "email": "bench_email",
    "listen": "bench_listen",
    "metrics": "bench_metrics",
    "reply": "bench_reply",
    "worst": "bench_worst",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="carecast benchmarks")
    parser.add_argument("benches", nargs="*", choices=[*BENCHES, []], default=[],
                        help="which to run (default: all)")
    args = parser.parse_args(argv)
    chosen = args.benches or list(BENCHES)
    print(f"python {platform.python_version()} on {platform.system()} {platform.machine()}, "
          f"{os.cpu_count()} CPUs", flush=True)
    rows: list[Row] = []
    for name in chosen:
        module = __import__(BENCHES[name])
        bench: Callable[[], list[Row]] = module.run
        start = time.perf_counter()
        print(f"running {name} ...", end=" ", flush=True)
        rows.extend(bench())
        print(f"{time.perf_counter() - start:.1f} s", flush=True)
    print()
    print(table(rows))
    missed = [r for r in rows if r.met is False]
    if missed:
        print(f"\n{len(missed)} target(s) missed; see the rows marked MISSED.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
