"""The advice, safe-messaging and policy checks on the development set, through the publisher.

``tests/data/advice_devset.jsonl``: hand-written hospital posts, one category and one expected
decision each (``block``, ``review`` or ``pass``). Every post goes through the real
``Publisher.preview`` with every default check on and default settings; the test asserts the
targets of issue 23 per group, and prints the figures (``pytest -s``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from carecast import Post, State
from carecast.findings import Action

from ._helpers import config

DEVSET = Path(__file__).parent.parent / "data" / "advice_devset.jsonl"
DECISION = {State.BLOCKED: "block", State.AWAITING_APPROVAL: "review", State.PENDING: "pass"}
#: Categories every post of which must block (issue 23: 100 %).
ALWAYS_BLOCK = ("counter_advice", "method")


def rows(path: Path = DEVSET) -> list[dict[str, Any]]:
    """The posts of a set, one JSON object a line."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


def decisions(fake_publisher: Any, path: Path = DEVSET, ignore: tuple[str, ...] = ()
              ) -> list[tuple[dict[str, Any], str]]:
    """Each post of the set at ``path`` with the decision ``Publisher.preview`` makes; with
    ``ignore``, the decision the findings of the other checks make (any BLOCK blocks, any
    REVIEW holds)."""
    publisher = fake_publisher(["web"], config=config())
    out = []
    for row in rows(path):
        target = publisher.preview(Post(id=f"dev-{row['id']}", text=row["text"])).targets[0]
        if not ignore:
            out.append((row, DECISION[target.state]))
            continue
        kept = {f.action for f in target.findings if f.check not in ignore}
        out.append((row, "block" if Action.BLOCK in kept else
                    "review" if Action.REVIEW in kept else "pass"))
    return out


def _share(pairs: list[tuple[dict[str, Any], str]], wanted: tuple[str, ...]) -> float:
    return sum(got in wanted for _, got in pairs) / len(pairs)


def test_the_set_is_large_and_about_half_clean() -> None:
    posts = rows()
    assert len(posts) >= 150
    clean = sum(r["expected"] == "pass" for r in posts)
    assert 0.4 <= clean / len(posts) <= 0.6
    assert len({r["text"] for r in posts}) == len(posts)


def test_targets_on_the_development_set(fake_publisher: Any) -> None:
    assert_targets(decisions(fake_publisher))


def assert_targets(decided: list[tuple[dict[str, Any], str]]) -> None:
    """Print the figures of a set's decisions and assert issue 23's targets on them."""
    table = Counter((row["category"], row["expected"], got) for row, got in decided)
    for key in sorted(table):
        print(*key, table[key])
    block = [(r, g) for r, g in decided if r["expected"] == "block"]
    review = [(r, g) for r, g in decided if r["expected"] == "review"]
    clean = [(r, g) for r, g in decided if r["expected"] == "pass"]
    misses = [r["id"] for r, g in decided if (r["expected"] == "pass") != (g == "pass")
              or (r["expected"] == "block" and g != "block")]
    print("misses:", misses)
    stopped = ("review", "block")
    print(f"blocked {_share(block, ('block',)):.0%} of must-block, held "
          f"{_share(review, stopped):.0%} of must-review, stopped {_share(clean, stopped):.0%}"
          " of clean")
    assert _share(block, ("block",)) >= 0.95
    for category in ALWAYS_BLOCK:
        assert _share([p for p in block if p[0]["category"] == category], ("block",)) == 1.0
    assert _share(review, ("review", "block")) >= 0.90
    assert _share(clean, ("review", "block")) <= 0.05
