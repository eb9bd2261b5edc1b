"""Spike alerts: a query's window against its baseline, sent once through the publisher to
an outbox account, never twice for one spike, and not again within the cooldown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from carecast.listen import check_spikes, find_spikes
from carecast.post import Mention
from carecast.publish import Publisher
from carecast.store import Ledger
from carecast.store.mentions import MentionStore, StoredMention
from carecast.testing import FrozenClock

from .conftest import NOW, make_config

SPIKES = {"window": 3600, "baseline_windows": 24, "sensitivity": 3.0, "min_count": 5,
          "cooldown": 6 * 3600, "alert": ["alerts"]}


@pytest.fixture
def publisher(tmp_path: Path, clock: FrozenClock) -> Iterator[Publisher]:
    config = make_config(tmp_path, spikes=SPIKES)
    with Publisher(config, clock=clock, entry_point_plugins=False,
                   ledger=Ledger(f"sqlite:///{tmp_path / 'carecast.db'}")) as publisher:
        yield publisher


def add(store: MentionStore, query: str, count: int, start: float, step: float = 60) -> None:
    """``count`` items of ``query``, the first ``start`` seconds after NOW."""
    store.save([StoredMention(mention=Mention(
        channel="bluesky", account="sky", remote_id=f"{query}-{start}-{i}", author="a",
        text=f"Riverside patient text {i}", created_at=NOW + timedelta(seconds=start + i * step),
        kind="search"), brand="riverside", queries=(query,)) for i in range(count)],
        source="s", cursor=None)


def alerts(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_quiet_query_is_no_spike(publisher: Publisher, clock: FrozenClock) -> None:
    store = MentionStore(publisher.ledger)
    for hour in range(-24, 0):
        add(store, "brand", 2, hour * 3600)
    add(store, "brand", 5, 0)  # 5 against a baseline of 2: under three times
    clock.advance(1800)
    assert find_spikes(publisher, store) == []


def test_a_spike_is_alerted_once_with_counts_and_no_text(publisher: Publisher,
                                                         clock: FrozenClock,
                                                         tmp_path: Path) -> None:
    store = MentionStore(publisher.ledger)
    for hour in range(-24, 0):
        add(store, "brand", 1, hour * 3600)
    add(store, "brand", 12, 0, step=30)
    add(store, "rival", 4, 0)  # under min_count
    clock.advance(1800)
    [spike] = check_spikes(publisher, store)
    assert (spike.query, spike.count, spike.baseline) == ("brand", 12, 1.0)
    assert check_spikes(publisher, store) == []  # the same spike: never twice
    clock.advance(600)
    add(store, "brand", 3, 1900)
    assert check_spikes(publisher, store) == []  # it grew, but it is the same window
    [sent] = alerts(tmp_path)
    text = json.dumps(sent)
    assert "found 12 items" in text
    assert "patient text" not in text  # counts, never an item's words
    # a second process sees the claim too
    assert not store.claim_alert("brand", spike.window_start, 12, 1.0)


def test_a_new_spike_waits_for_the_cooldown(publisher: Publisher, clock: FrozenClock,
                                            tmp_path: Path) -> None:
    store = MentionStore(publisher.ledger)
    add(store, "brand", 10, 0)
    clock.advance(1800)
    assert len(check_spikes(publisher, store)) == 1
    add(store, "brand", 30, 3 * 3600)  # three hours on: a new spike, inside the cooldown
    clock.advance(3 * 3600)
    assert check_spikes(publisher, store) == []
    add(store, "brand", 60, 7 * 3600)  # after the cooldown
    clock.advance(4 * 3600)
    assert len(check_spikes(publisher, store)) == 1
    assert len(alerts(tmp_path)) == 2
