"""The PHI guard through ``Publisher.preview`` on the development set: the issue's targets.

The set (tests/data/phi_devset.jsonl) was written before the guard was tuned; the figures of
the first run are in docs/compliance/phi.md. Posts nobody has seen are the real measure.
"""

from __future__ import annotations

from collections import Counter

from carecast import State

from .phi_devset import devset, rates, run

CHANNELS = {"x", "facebook", "linkedin", "instagram", "blog"}


def test_the_set_is_large_half_clean_and_covers_every_channel() -> None:
    rows = devset()
    kinds = Counter(r["expect"] for r in rows)
    assert len(rows) >= 200
    assert 0.45 <= kinds["pass"] / len(rows) <= 0.55
    assert kinds["block"] >= 20
    assert {r["channel"] for r in rows} == CHANNELS
    assert len({r["text"] for r in rows}) == len(rows)


def test_the_pipeline_meets_the_targets_with_default_settings() -> None:
    results = run(devset())
    figures = rates(results)
    assert figures["leaks_stopped"] >= 0.95, figures
    assert figures["clean_stopped"] <= 0.05, figures
    assert figures["structured_blocked"] == 1.0, [
        r.row["id"] for r in results if r.row["expect"] == "block" and r.state != State.BLOCKED]
