"""The collector: reads each published receipt's counts on the decay schedule, and each
account's followers and posts once a day, into the metric store.

Every reading is a slot claimed in the store first (``carecast.store.metrics``), so several
collectors (the worker, ``carecast metrics collect`` from cron, Celery) share the work, a
crashed one's slots are taken over after ``[metrics] stale_claim_after``, and no slot is ever
written twice. Only the latest slot due is read for a receipt: a collector that was down for a
week reads the +7 d slot, not a late "+1 h" one.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from carecast.channels import Channel
from carecast.errors import CarecastError, ChannelError, RateLimited
from carecast.post import Receipt
from carecast.records import State
from carecast.store.metrics import (
    AccountSample,
    MetricStore,
    PostSample,
    SlotClaim,
    account_slot,
    post_slot,
)
from carecast.store.schema import attempts, posts

if TYPE_CHECKING:
    from carecast.publish import Publisher

__all__ = ["CollectReport", "Collector"]

log = logging.getLogger("carecast.metrics")
#: Slots claimed (and read) per wave: claims stay fresh however many slots are due.
WAVE = 1024
#: The channel call each kind of slot needs.
_CALL = {"post": "fetch_metrics", "account": "fetch_account_metrics"}
#: Receipts older than the last offset plus this are not looked at any more.
_HORIZON = timedelta(days=30)


class CollectReport(BaseModel):
    """What one collection did."""

    due: int = 0
    claimed: int = 0
    written: int = 0
    accounts_written: int = 0
    #: Failed reads by error class (retried later, or given up after ``max_tries``).
    failed: dict[str, int] = Field(default_factory=dict)


@dataclass(frozen=True)
class _Due:
    key: str
    account: str
    read: Callable[[Channel], PostSample | AccountSample]


class Collector:
    """Collects metrics for a publisher's accounts into the store of its ledger."""

    def __init__(self, publisher: Publisher, *, concurrency: int | None = None,
                 store: MetricStore | None = None) -> None:
        self.publisher = publisher
        self.config = publisher.config.metrics
        self.clock = publisher.clock
        self.concurrency = concurrency or self.config.concurrency
        self._store = store
        self._lock = threading.Lock()

    @property
    def store(self) -> MetricStore:
        """The metric tables, on the ledger's database (opened on first use)."""
        with self._lock:
            if self._store is None:
                self._store = MetricStore(self.publisher.ledger.engine, clock=self.clock)
            return self._store

    def __repr__(self) -> str:
        return f"<Collector concurrency={self.concurrency}>"

    # -- what is due -------------------------------------------------------------------------

    def due(self) -> list[_Due]:
        """The slots due now and not yet settled: each receipt's latest offset passed, and
        each account's reading for today (in its brand's time zone)."""
        now = self.clock.now()
        offsets = self.config.offsets()
        horizon = now - timedelta(seconds=offsets[-1]) - _HORIZON
        found: list[_Due] = []
        with self.publisher.ledger.engine.connect() as conn:
            rows = conn.execute(
                sa.select(attempts.c.post_id, attempts.c.account, attempts.c.receipt,
                          posts.c.body)
                .join(posts, posts.c.id == attempts.c.post_id)
                .where(attempts.c.state == State.PUBLISHED.value,
                       attempts.c.receipt.is_not(None), attempts.c.updated_at >= horizon)
            ).all()
        accounts = self.publisher.config.accounts
        for post_id, account, receipt_json, body in rows:
            cfg = accounts.get(account)
            if cfg is None or not cfg.enabled:
                continue
            receipt = Receipt.model_validate_json(receipt_json)
            age = (now - receipt.published_at).total_seconds()
            passed = [o for o in offsets if o <= age]
            if not passed:
                continue
            offset = passed[-1]
            meta = _post_meta(body)
            brand = cfg.brand or meta.get("brand") or ""
            found.append(_Due(post_slot(post_id, account, offset), account,
                              _post_reader(receipt, post_id, offset, brand,
                                           meta.get("campaign") or "")))
        if self.config.account_daily:
            for cfg in accounts.values():
                if cfg.enabled:
                    day = now.astimezone(self.publisher.config.zone_of(cfg.brand)).date()
                    found.append(_Due(account_slot(cfg.name, day.isoformat()), cfg.name,
                                      _account_reader(day.isoformat(), cfg.brand or "")))
        capable = {name: self._capable(name) for name in {d.account for d in found}}
        found = [d for d in found if _CALL[d.key.partition(":")[0]] in capable[d.account]]
        settled = self.store.settled([d.key for d in found])
        return [d for d in found if d.key not in settled]

    def _capable(self, account: str) -> frozenset[str]:
        try:
            return type(self.publisher.channel(account)).capabilities()
        except CarecastError:  # not configured right: `carecast doctor` says why
            return frozenset()

    # -- reading -----------------------------------------------------------------------------

    def collect(self, *, stop: threading.Event | None = None) -> CollectReport:
        """Read every slot due now (``concurrency`` at once) and store the samples."""
        report = CollectReport()
        due = self.due()
        report.due = len(due)
        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="carecast-metrics") as pool:
            for start in range(0, len(due), WAVE):
                if stop is not None and stop.is_set():
                    break
                wave = {d.key: d for d in due[start:start + WAVE]}
                claims = self.store.claim(list(wave), stale_after=self.config.stale_claim_after,
                                          max_tries=self.config.max_tries)
                report.claimed += len(claims)
                reads = [wave[c.key] for c in claims]
                results = list(pool.map(self._read, claims, reads))
                done = [(c, r) for c, r in results if not isinstance(r, tuple)]
                failed = [(c, *r) for c, r in results if isinstance(r, tuple)]
                for key in self.store.finish(done, failed, max_tries=self.config.max_tries):
                    if key.startswith("account:"):
                        report.accounts_written += 1
                    else:
                        report.written += 1
                for _claim, error, _retry in failed:
                    report.failed[error] = report.failed.get(error, 0) + 1
        return report

    def _read(self, claim: SlotClaim, due: _Due
              ) -> tuple[SlotClaim, PostSample | AccountSample | tuple[str, float | None]]:
        try:
            return claim, due.read(self.publisher.channel(due.account))
        except RateLimited as exc:
            return claim, (type(exc).__name__, exc.retry_after or 900.0)
        except ChannelError as exc:
            log.info("reading %s failed: %s", due.key, type(exc).__name__)
            return claim, (type(exc).__name__, 900.0 * claim.tries if exc.retryable else None)
        except CarecastError as exc:
            return claim, (type(exc).__name__, 900.0 * claim.tries)
        except Exception as exc:  # a channel's bug must not stop the other reads
            log.exception("reading %s failed", due.key)
            return claim, (type(exc).__name__, 900.0 * claim.tries)

    def run(self, *, stop: threading.Event, interval: float = 300.0) -> None:
        """Collect every ``interval`` seconds until ``stop`` is set (the worker's thread)."""
        while not stop.is_set():
            try:
                self.collect(stop=stop)
            except CarecastError as exc:  # the store is down: try again next time
                log.warning("metrics collection failed: %s", exc)
            stop.wait(interval)


def _post_meta(body: str) -> dict[str, Any]:
    """The brand and campaign of a stored post's body, without validating all of it."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return {k: data.get(k) for k in ("brand", "campaign")} if isinstance(data, dict) else {}


def _post_reader(receipt: Receipt, post_id: str, offset: int, brand: str, campaign: str
                 ) -> Callable[[Channel], PostSample]:
    def read(channel: Channel) -> PostSample:
        return PostSample.of(channel.fetch_metrics(receipt), post_id=post_id,
                             published_at=receipt.published_at, offset_s=offset,
                             brand=brand, campaign=campaign)
    return read


def _account_reader(day: str, brand: str) -> Callable[[Channel], AccountSample]:
    def read(channel: Channel) -> AccountSample:
        return AccountSample.of(channel.fetch_account_metrics(), day=day, brand=brand)
    return read

