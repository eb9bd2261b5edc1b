"""Review time per 280-character draft with every default check on (advice, safe messaging,
policy, PHI, brand voice, accessibility, images).

The drafts are the development set's posts (``tests/data/advice_devset.jsonl``), each run on
with the next until it is 280 characters long, so every draft is a full-length post. The
figure is ``Publisher.preview`` of one post to one account (render and every review hook;
nothing is sent, no store) in CPU time of this process, median of ``PASSES`` passes; beside
it, each built-in check's hooks alone (its draft and post hooks, settings read as the
publisher does), so a slow check shows itself. State the load (``uptime``) with the figures:
on a shared machine CPU time grows with it. Run: ``python benchmarks/bench_advice.py``.
"""

from __future__ import annotations

import importlib
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from _common import ROOT, Row, table

from carecast import Config, Post, Publisher
from carecast.config import CheckSettings
from carecast.plugins import DEFAULT_PLUGINS, plugin_manager, run_hook
from carecast.post import Draft, Part
from carecast.records import NoRecords
from carecast.testing import FakeChannel

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)  # a draft's review time; nothing depends on it
TARGET = 0.0005  # seconds per 280-character draft
PASSES = 5
LENGTH = 280


def drafts() -> list[str]:
    """The development set's texts, each padded with the following ones to ``LENGTH``."""
    path = ROOT / "tests" / "data" / "advice_devset.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line]
    out = []
    for i, text in enumerate(texts):
        j = i
        while len(text) < LENGTH:
            j = (j + 1) % len(texts)
            text = f"{text} {texts[j]}"
        out.append(text[:LENGTH].rsplit(" ", 1)[0])
    return out


def _config() -> Config:
    return Config.from_dict({
        "store": {"url": "sqlite:///:memory:"},
        "brands": {"clinic": {"name": "Riverside General Hospital",
                              "phone": ["+1 555 010 2000"]}},
        "accounts": {"web": {"channel": "fake", "brand": "clinic"}},
    }, environ={})


_RUNS = iter(range(1_000_000))


def _median_cpu(work: list[str], step: Callable[[str], object]) -> float:
    """Median CPU seconds per draft; every pass of every figure reviews new texts (no cache
    of a text's reading, nor one an earlier figure filled, helps)."""
    step(work[0])  # loads word lists and compiles patterns: not steady state
    runs = []
    for _ in range(PASSES):
        n = next(_RUNS)
        texts = [f"{n}.{i} {text}"[:LENGTH] for i, text in enumerate(work)]
        start = time.process_time()
        for text in texts:
            step(text)
        runs.append((time.process_time() - start) / len(texts))
    return statistics.median(runs)


def run() -> list[Row]:
    work = drafts()
    cfg = _config()
    publisher = Publisher(cfg, entry_point_plugins=False, channel_classes={"fake": FakeChannel})
    with publisher:
        full = _median_cpu(work, lambda text: publisher.preview(Post(text=text)))
    settings = CheckSettings(cfg, "clinic", "fake")
    account = cfg.accounts["web"]
    rows = [Row("advice", f"preview, every check, {len(work)} drafts of ~{LENGTH} chars: CPU "
                f"per draft, median of {PASSES}", f"{full * 1000:.3f} ms",
                f"<= {TARGET * 1000} ms", full <= TARGET)]
    for name, module in DEFAULT_PLUGINS:
        pm = plugin_manager([importlib.import_module(module)], entry_points=False,
                            defaults=False)

        def hooks(text: str, pm: object = pm) -> None:
            post = Post(text=text)
            draft = Draft(post_id="b", account="web", channel="fake",
                          parts=(Part(text=text, length=len(text)),))
            run_hook(pm, "carecast_review_post", post=post, brand=cfg.brand_of(account),
                     settings=settings)
            run_hook(pm, "carecast_review_draft", for_account="web", post=post, draft=draft,
                     account=account, brand=cfg.brand_of(account), settings=settings,
                     records=NoRecords(), now=NOW)

        alone = _median_cpu(work, hooks)
        rows.append(Row("advice", f"the {name} check alone, per draft (with the post and "
                        "draft it reads)", f"{alone * 1000:.3f} ms"))
    return rows


if __name__ == "__main__":
    print(table(run()))
