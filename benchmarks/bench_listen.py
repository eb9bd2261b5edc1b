"""Listening: CPU per collected item (PHI scan and triage), store writes and reads, and a
purge with its VACUUM, on a file SQLite store of 10,000 items. Figures only.
Run: ``python benchmarks/bench_listen.py``."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import Row, median, table

from carecast.listen.triage import phi_marks, triage
from carecast.post import Mention
from carecast.store import Ledger
from carecast.store.mentions import MentionStore, StoredMention
from carecast.testing import FrozenClock

NOW = datetime(2026, 9, 21, 12, 0, tzinfo=UTC)
TEXTS = (
    "Waited 6 hours in the ER at Riverside and nobody helped, my mother Anna Lopez was in pain",
    "Do you take walk-ins for flu shots on Saturday? @riverside",
    "Congrats on the new cancer wing! Great news for the valley.",
    "I can't go on anymore, thinking of ending it all",
)
ITEMS = 10_000


def _items(start: int, count: int, days_ago: float) -> list[StoredMention]:
    out = []
    for i in range(start, start + count):
        text = TEXTS[i % len(TEXTS)]
        out.append(StoredMention(mention=Mention(
            channel="bluesky", account="sky", remote_id=f"r{i}", author=f"p{i % 97}",
            text=f"{text} #{i}", created_at=NOW - timedelta(days=days_ago, seconds=i),
            kind="search"), brand="riverside", queries=("brand",)))
    return out


def run() -> list[Row]:
    texts = [f"{TEXTS[i % len(TEXTS)]} #{i}" for i in range(2000)]
    start = time.process_time()
    for text in texts:
        triage(text, phi_marks(text))
    per_item = (time.process_time() - start) / len(texts)
    with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
        ledger = Ledger(f"sqlite:///{Path(tmp) / 'bench.db'}", clock=FrozenClock(NOW),
                        audit_key=b"k" * 32)
        store = MentionStore(ledger)
        start = time.process_time()
        for batch in range(ITEMS // 100):
            store.save(_items(batch * 100, 100, 100 if batch % 2 else 1), source="s",
                       cursor=str(batch))
        save = (time.process_time() - start) / ITEMS
        searches = []
        for _ in range(5):
            start = time.process_time()
            store.search(query="brand", author="p5", limit=200)
            searches.append(time.process_time() - start)
        size = (Path(tmp) / "bench.db").stat().st_size
        start = time.perf_counter()
        purged = store.purge({}, 90)
        purge = time.perf_counter() - start
        after = (Path(tmp) / "bench.db").stat().st_size
        ledger.close()
    return [
        Row("listen", "PHI scan + triage: CPU per item", f"{per_item * 1e6:.0f} µs"),
        Row("listen", f"store save in batches of 100: CPU per item ({ITEMS} items)",
            f"{save * 1e6:.0f} µs"),
        Row("listen", "search by query and author, 10,000 items: CPU (median of 5)",
            f"{median(searches) * 1000:.1f} ms"),
        Row("listen", f"purge {sum(purged.values())} items + VACUUM: wall, file size after",
            f"{purge * 1000:.0f} ms, {size // 1024} -> {after // 1024} KiB"),
    ]


if __name__ == "__main__":
    print(table(run()))
