"""Dump every built-in check's findings and the publisher's decision on the advice sets.

A refactoring of the checks must leave every decision and finding as it was: run this before
and after, and compare the two files::

    python tests/compliance/dump_decisions.py /tmp/before.jsonl
    ... change the code ...
    python tests/compliance/dump_decisions.py /tmp/after.jsonl
    cmp /tmp/before.jsonl /tmp/after.jsonl

The texts are the development set, the held-out set, the review benchmark's 280-character
drafts and the string literals of the advice, policy and accessibility tests. Each is
reviewed as a post, as a reply, as a thread of two parts with a title, and under a
configuration that turns on the optional rules (education disclaimer, brand voice names and
banned phrases, campaign hashtags and texts, allowed phrases). One JSON line per (text,
variant): each check's findings (code, action, field, message, spans, confidence) and the
state ``Publisher.preview`` gives.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_advice import drafts  # noqa: E402

from carecast import Config, Post, Publisher  # noqa: E402
from carecast.config import CheckSettings  # noqa: E402
from carecast.findings import Finding  # noqa: E402
from carecast.plugins import DEFAULT_PLUGINS, plugin_manager, run_hook  # noqa: E402
from carecast.post import Draft, Part  # noqa: E402
from carecast.records import NoRecords  # noqa: E402
from carecast.testing import FakeChannel  # noqa: E402

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
BRAND = {"name": "Riverside General Hospital", "phone": ["+1 555 010 2000"],
         "staff": ["Maria Okafor", "Daniel Reyes"]}
RICH = {
    "brand": {"voice": {"names": ["Riverside General", "MyChart", "Heart Center"],
                        "banned": ["state of the art", "world-class", "patients"],
                        "suggest": {"world-class": "leading"},
                        "hashtags": ["RiversideCares"],
                        "campaign_hashtags": {"heart": ["HeartMonth"]}}},
    "checks": {
        "advice": {"disclaimer": "Not medical advice", "education_hashtags": ["HealthTip"],
                   "allow": ["take 2 tablets"]},
        "policy": {"allow": ["Cure Cancer 5K"], "require_hashtags": ["Riverside"],
                   "require_text": ["riverside.example"],
                   "testimonial_hashtags": ["PatientStory", "Story"]},
        "accessibility": {"max_emoji": 1, "hashtag_min_length": 6},
    },
}


def texts() -> Iterator[tuple[str, str]]:
    """``(source, text)`` of every text reviewed."""
    for name in ("advice_devset", "advice_holdout"):
        path = ROOT / "tests" / "data" / f"{name}.jsonl"
        for line in path.read_text("utf-8").splitlines():
            if line:
                row = json.loads(line)
                yield f"{name}:{row['id']}", row["text"]
    for i, text in enumerate(drafts()):
        yield f"bench:{i}", text
    for name in ("test_advice", "test_advice_clauses", "test_policy", "test_accessibility"):
        path = ROOT / "tests" / "compliance" / f"{name}.py"
        found = [node.value for node in ast.walk(ast.parse(path.read_text("utf-8")))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and len(node.value) >= 12]
        for text in dict.fromkeys(found):  # named by content: a new test shifts no other
            yield f"{name}:{hashlib.sha256(text.encode()).hexdigest()[:12]}", text


def _config(rich: bool) -> Config:
    brand: dict[str, Any] = {**BRAND, **(RICH["brand"] if rich else {})}
    return Config.from_dict({
        "store": {"url": "sqlite:///:memory:"},
        "brands": {"clinic": brand},
        "accounts": {"web": {"channel": "fake", "brand": "clinic"}},
        "checks": RICH["checks"] if rich else {},
    }, environ={})


def _variants(text: str) -> Iterator[tuple[str, Post, Draft, bool]]:
    """``(name, post, draft, rich)``: the text as a post, a reply, a titled thread."""
    half = text.rfind(" ", 0, len(text) // 2)
    first, second = (text[:half], text[half + 1:]) if half > 0 else (text, "")

    def draft(parts: list[str], title: str | None = None, **options: Any) -> Draft:
        return Draft(post_id="d", account="web", channel="fake", title=title, options=options,
                     parts=tuple(Part(text=p, length=len(p)) for p in parts if p))

    yield "post", Post(text=text), draft([text]), False
    yield "reply", Post(text=text), draft([text], in_reply_to="123"), False
    yield "thread", Post(text=first, title=second[:80] or None, thread=(second,) if second
                         else ()), draft([first, second], title=second[:80] or None), False
    yield "rich", Post(text=text, campaign="heart"), draft([text]), True


def _findings(found: list[Finding]) -> list[list[Any]]:
    return [[f.check, f.code, f.action.value, f.field, f.message,
             [[s.start, s.end, s.replacement] for s in f.spans], f.confidence] for f in found]


def dump(out: Any) -> int:
    """Write one JSON line per text and variant to ``out``; the number written."""
    configs = {rich: _config(rich) for rich in (False, True)}
    publishers = {rich: Publisher(cfg, entry_point_plugins=False,
                                  channel_classes={"fake": FakeChannel})
                  for rich, cfg in configs.items()}
    managers = [(name, plugin_manager([importlib.import_module(module)], entry_points=False,
                                      defaults=False)) for name, module in DEFAULT_PLUGINS]
    n = 0
    for source, text in texts():
        for variant, post, draft, rich in _variants(text):
            cfg = configs[rich]
            account = cfg.accounts["web"]
            brand = cfg.brand_of(account)
            row: dict[str, Any] = {"source": source, "variant": variant}
            for name, pm in managers:
                found = run_hook(pm, "carecast_review_post", post=post, brand=brand,
                                 settings=CheckSettings(cfg, "clinic", campaign=post.campaign))
                found += run_hook(pm, "carecast_review_draft", for_account="web", post=post,
                                  draft=draft, account=account, brand=brand,
                                  settings=CheckSettings(cfg, "clinic", "fake", post.campaign),
                                  records=NoRecords(), now=NOW)
                row[name] = _findings(found)
            preview = publishers[rich].preview(post)
            row["state"] = [t.state.value for t in preview.targets]
            row["findings"] = sorted(f[1] + ":" + f[2] for t in preview.targets
                                     for f in _findings(list(t.findings)))
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n


if __name__ == "__main__":
    with open(sys.argv[1], "w", encoding="utf-8") as handle:
        print(dump(handle), "rows written to", sys.argv[1])
