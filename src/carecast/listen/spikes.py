"""Spike alerts: a query's volume in the last window against its baseline.

The baseline is the average count of the ``baseline_windows`` windows before the last one.
A window is a spike when it holds at least ``min_count`` items and ``sensitivity`` times the
baseline (a baseline under one counts as one). The alert is a post published to the
``[listen.spikes] alert`` accounts (a signed webhook, an outbox, a chat webhook) through the
publisher, so review, the ledger and the audit chain see it like any post. One spike is
alerted once: the store records each (query, window) before the post is sent, the post's id
is derived from them (the ledger never sends one id twice), and no query is alerted again
within ``cooldown`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from carecast.post import Post
from carecast.store.mentions import MentionStore

if TYPE_CHECKING:
    from carecast.publish import Publisher

__all__ = ["Spike", "check_spikes", "find_spikes"]


@dataclass(frozen=True)
class Spike:
    """A query's window above its baseline."""

    query: str
    window_start: datetime
    window_end: datetime
    count: int
    baseline: float

    def message(self) -> str:
        """The alert's text: counts only, never an item's words."""
        return (f"Listening spike: query '{self.query}' found {self.count} items between "
                f"{self.window_start:%Y-%m-%d %H:%M} and {self.window_end:%H:%M} UTC, against a "
                f"baseline of {self.baseline:.1f}. Open the inbox: carecast inbox --query "
                f"{self.query}")


def find_spikes(publisher: Publisher, store: MentionStore) -> list[Spike]:
    """Every query's last window that is a spike (nothing is recorded or sent)."""
    cfg = publisher.config.listen.spikes
    now = publisher.clock.now().astimezone(UTC)
    window = timedelta(seconds=cfg.window)
    # Windows are aligned to the epoch, so every process names one spike by the same start.
    start = datetime.fromtimestamp(now.timestamp() // cfg.window * cfg.window, UTC)
    found: list[Spike] = []
    for query in sorted(publisher.config.listen.queries):
        count = store.count(query=query, since=start, until=start + window)
        if count < cfg.min_count:
            continue
        before = store.count(query=query, since=start - window * cfg.baseline_windows,
                             until=start)
        baseline = before / cfg.baseline_windows
        if count >= cfg.sensitivity * max(baseline, 1.0):
            found.append(Spike(query, start, start + window, count, baseline))
    return found


def check_spikes(publisher: Publisher, store: MentionStore) -> list[Spike]:
    """Alert each new spike once, outside the cooldown; the spikes alerted."""
    cfg = publisher.config.listen.spikes
    now = publisher.clock.now()
    alerted: list[Spike] = []
    for spike in find_spikes(publisher, store):
        last = store.last_alert(spike.query)
        if last is not None and (now - last).total_seconds() < cfg.cooldown:
            continue
        if not store.claim_alert(spike.query, spike.window_start, spike.count, spike.baseline):
            continue
        alerted.append(spike)
        if cfg.alert:
            publisher.publish(alert_post(spike, tuple(cfg.alert)))
    return alerted


def alert_post(spike: Spike, accounts: tuple[str, ...]) -> Post:
    """The alert as a post whose id is the spike's (query and window)."""
    return Post(id=f"spike-{spike.query}-{spike.window_start:%Y%m%dT%H%M}",
                text=spike.message(), targets=accounts)
