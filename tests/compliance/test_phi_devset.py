"""The PHI guard through ``Publisher.preview`` on the development set: the issue's targets.

The set (tests/data/phi_devset.jsonl) was written before the guard was tuned; the figures of
the first run are in docs/compliance/phi.md. Posts nobody has seen are the real measure.
"""

from __future__ import annotations

from collections import Counter

from carecast import State

from .phi_devset import devset, holdout, rates, run, scanner_scores

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


#: The issue's scanner targets (recall per group on the labelled spans, and precision).
SCANNER_TARGETS = {"recall_names": 0.90, "recall_places": 0.85, "recall_structured": 0.95,
                   "precision": 0.90}


def test_every_leaking_post_has_labelled_spans_that_fit_its_text() -> None:
    for rows in (devset(), holdout()):
        for row in rows:
            assert (row["expect"] == "pass") == (not row["spans"]), row["id"]
            for start, end, _category in row["spans"]:
                assert 0 <= start < end <= len(row["text"]), row["id"]
                assert row["text"][start:end].strip() == row["text"][start:end], row["id"]


def test_the_scanner_meets_the_targets_on_the_labelled_spans() -> None:
    figures = scanner_scores(devset())
    assert all(figures[key] >= target for key, target in SCANNER_TARGETS.items()), figures


def test_the_held_out_posts_meet_the_pipeline_and_scanner_targets() -> None:
    """Posts written after the rules, not tuned line by line: one leaking post in 30 may be
    missed (a name that is only a word, with no surname) and one clean post in 30 held."""
    rows = holdout()
    figures = rates(run(rows))
    assert figures["leaks_stopped"] >= 0.95, figures
    assert figures["clean_stopped_by_phi"] <= 0.05, figures
    assert figures["structured_blocked"] == 1.0, figures
    scores = scanner_scores(rows)
    assert all(scores[key] >= target for key, target in SCANNER_TARGETS.items()), scores
