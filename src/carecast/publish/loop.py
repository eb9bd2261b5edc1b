"""The publishing loop: what is due, crisis freezes and takedowns, over one publisher.

``run_due`` is one pass of a worker: every stored post whose time has come goes through the
same ``publish`` (review, claim, send, reconcile), so a worker can never send what a person
could not. A freeze stops every send of its brand within ``FREEZE_CHECK`` seconds, even one
already queued; a thaw never back-fires: a target whose time passed during the freeze is
``held`` until a person gives it a new time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from carecast.errors import CarecastError, ChannelError, InvalidPost
from carecast.post import Post
from carecast.records import ErrorInfo, Freeze, State
from carecast.schedule import occurrences

if TYPE_CHECKING:
    from carecast.publish.publisher import Publisher
    from carecast.publish.report import Outcome, PublishReport

__all__ = ["FREEZE_CHECK", "Loop", "Takedown", "occurrence_id"]

log = logging.getLogger("carecast.loop")

#: At most this many seconds pass between a freeze and the last send it lets start.
FREEZE_CHECK = 1.0


def occurrence_id(series: str, when: datetime) -> str:
    """The id of the occurrence of recurring post ``series`` at ``when``: the same moment
    always gives the same id, so nothing re-applied is ever published twice."""
    return f"{series}:{when.astimezone(UTC):%Y%m%dT%H%MZ}"


@dataclass(frozen=True)
class Takedown:
    """Where a post was, and when it came down (``error`` says why it did not)."""

    account: str
    channel: str
    remote_id: str
    url: str | None
    published_at: datetime
    removed_at: datetime | None
    error: ErrorInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {"account": self.account, "channel": self.channel, "remote_id": self.remote_id,
                "url": self.url, "published_at": self.published_at.isoformat(),
                "removed_at": self.removed_at.isoformat() if self.removed_at else None,
                "error": self.error.to_dict() if self.error else None}


class Loop:
    """Scheduled publishing, freezes and takedowns for ``publisher``."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self._lock = threading.Lock()
        self._freezes: tuple[float, list[Freeze]] | None = None

    # -- freezes -----------------------------------------------------------------------------

    def freezes(self) -> list[Freeze]:
        """Every freeze, read from the store at most every ``FREEZE_CHECK`` seconds (so
        other processes' freezes reach this one within that time)."""
        clock = self.publisher.clock
        with self._lock:
            cached = self._freezes
            if cached is None or clock.monotonic() - cached[0] >= FREEZE_CHECK:
                cached = (clock.monotonic(), self.publisher.ledger.freezes())
                self._freezes = cached
        return cached[1]

    def frozen(self, brand: str | None) -> Freeze | None:
        """The active freeze that stops sends of ``brand`` now, if any."""
        now = self.publisher.clock.now()
        return next((f for f in self.freezes() if f.active(now) and f.covers(brand)), None)

    def freeze(self, *, reason: str, by: str, brand: str | None = None,
               until: datetime | None = None) -> Freeze:
        """Stop every new send of ``brand`` (every brand without one) at once, and take
        posts a platform holds for a later time off its schedule (they are ``held``)."""
        if brand is not None and brand not in self.publisher.config.brands:
            raise InvalidPost(f"brand: {brand!r} is not a brand in the configuration",
                              [("brand", "unknown brand")])
        ledger = self.publisher.ledger
        freeze = ledger.freeze(reason=reason, by=by, brand=brand or "", until=until)
        with self._lock:
            self._freezes = None
        log.warning("freeze %d of %s by %s", freeze.id, brand or "every brand", by)
        self._unschedule(freeze)
        return freeze

    def thaw(self, *, by: str, brand: str | None = None) -> list[Freeze]:
        """End the freezes of ``brand`` (every freeze without one). Nothing is sent here;
        the next ``run_due`` holds what fell due during the freeze and sends the rest."""
        ended = self.publisher.ledger.thaw(by=by, brand=brand or "")
        with self._lock:
            self._freezes = None
        return ended

    def _unschedule(self, freeze: Freeze) -> None:
        """Delete posts a platform holds for a time still to come (Facebook, YouTube,
        WordPress schedule natively): a freeze must stop them too."""
        publisher, now = self.publisher, self.publisher.clock.now()
        ledger = publisher.ledger
        for stored in ledger.stored(scheduled_after=now):
            post_id = stored.post.id
            for row in stored.attempts:
                account = publisher.config.accounts.get(row.account)
                if row.state != State.PUBLISHED or row.receipt is None or account is None \
                        or not freeze.covers(account.brand):
                    continue
                channel = publisher.channel(row.account)
                if not channel.supports_scheduling:
                    continue
                try:
                    channel.delete(row.receipt)
                except ChannelError as exc:
                    log.error("freeze: account %s could not take post %s off its schedule "
                              "(%s); remove it on the platform", row.account, post_id,
                              type(exc).__name__)
                    continue
                ledger.mark_failed(post_id, row.account, State.HELD, ErrorInfo(
                    "Frozen", f"taken off {channel.name}'s schedule by freeze {freeze.id}; "
                    "give it a new time (carecast schedule) after the thaw", rejected=True))

    # -- recurring posts ---------------------------------------------------------------------

    def series(self, post: Post) -> list[Post]:
        """The occurrences of recurring ``post`` still to come (its local times resolved),
        each its own post: the series' id and moment make its id, its ``not_after`` keeps
        the series' distance from the schedule. A moment already passed is left out (never
        published late)."""
        publisher = self.publisher
        post = publisher.reviewer.localized(post)
        if post.repeat is None or post.schedule is None:
            raise InvalidPost("repeat: this post does not recur; publish it as it is",
                              [("repeat", "missing")])
        if len(post.id) > 112:
            raise InvalidPost("id: a recurring post's id may have at most 112 characters "
                              "(its occurrences add their moment)", [("id", "too long")])
        window = post.not_after - post.schedule if post.not_after is not None else None
        if window is not None and window.total_seconds() < 0:
            raise InvalidPost("not_after: it is before the schedule; give a later time",
                              [("not_after", "before schedule")])
        now = publisher.clock.now()
        zone = publisher.config.zone_of(post.brand or publisher.config.default_brand())
        return [post.model_copy(update={
            "id": occurrence_id(post.id, when), "schedule": when, "repeat": None,
            "series": post.id, "not_after": when + window if window is not None else None})
            for when in occurrences(post.repeat, post.schedule, zone) if when > now]

    def publish_series(self, post: Post, *, dry_run: bool = False,
                       on_progress: Callable[[Outcome], None] | None = None
                       ) -> list[PublishReport]:
        """Schedule each occurrence still to come of recurring ``post`` (each is stored,
        reviewed and masked like any post; the series is their ``series`` field). Applying
        it again changes nothing: an occurrence already stored as it is is left alone."""
        publisher = self.publisher
        upcoming = self.series(post)
        if dry_run:
            return [publisher.publish(p, dry_run=True) for p in upcoming]
        stored = publisher.ledger.content_hashes([p.id for p in upcoming])
        return [publisher.publish(p, on_progress=on_progress) for p in upcoming
                if stored.get(p.id) != p.content_hash()]

    # -- what is due -------------------------------------------------------------------------

    def run_due(self, *, on_progress: Callable[[Outcome], None] | None = None,
                stop: threading.Event | None = None) -> list[PublishReport]:
        """Publish every stored post whose time has come (one pass of a worker)."""
        publisher = self.publisher
        ledger = publisher.ledger
        reports = []
        settings = publisher.config.publish
        for post_id in ledger.due(stale_after=settings.stale_sending_after,
                                  rounds=settings.worker_rounds):
            if stop is not None and stop.is_set():
                break
            try:
                report = self.run_post(post_id, on_progress=on_progress)
            except CarecastError as exc:  # one bad post never stops the others
                log.error("post %s: %s", post_id, type(exc).__name__)
                continue
            if report is not None:
                reports.append(report)
        return reports

    def run_post(self, post_id: str, *, only: Sequence[str] = (),
                 on_progress: Callable[[Outcome], None] | None = None) -> PublishReport | None:
        """Publish one stored post's targets whose time has come (``only`` these), as a
        worker pass does; None when the post is gone or every target is frozen."""
        publisher = self.publisher
        post = publisher.ledger.get_post(post_id)
        if post is None or self._all_frozen(post_id):
            return None
        self._hold_missed(post)
        return publisher.resume(post_id, only=only, on_progress=on_progress)

    def _all_frozen(self, post_id: str) -> bool:
        """Whether every target of the post is under an active freeze (nothing to do)."""
        config = self.publisher.config
        return all(self.frozen(config.accounts[r.account].brand) is not None
                   for r in self.publisher.ledger.attempts(post_id)
                   if r.account in config.accounts)

    def _hold_missed(self, post: Post) -> None:
        """Hold targets whose time passed while a freeze (now over) covered them."""
        publisher = self.publisher
        ledger = publisher.ledger
        due = post.schedule or ledger.stored_at(post.id)
        if due is None:
            return
        now = publisher.clock.now()
        past = [f for f in self.freezes() if not f.active(now)
                and f.started_at <= due <= (f.ended_at or f.until or now)]
        if not past:
            return
        for row in ledger.attempts(post.id):
            account = publisher.config.accounts.get(row.account)
            brand = account.brand if account else None
            hit = next((f for f in past if f.covers(brand)), None)
            if hit is not None and row.state in (State.PENDING, State.AWAITING_APPROVAL):
                ledger.mark_failed(post.id, row.account, State.HELD, ErrorInfo(
                    "MissedDuringFreeze", f"its time ({due.isoformat()}) passed during "
                    f"freeze {hit.id}; it is not sent late: give it a new time "
                    "(carecast schedule)", rejected=True))

    def reschedule(self, post_id: str, at: datetime) -> Post:
        """Give a stored post a new time (local times in its brand's zone); its held
        targets wait for it again. Returns the stored post."""
        publisher = self.publisher
        post = publisher._stored(post_id)
        moved = publisher.reviewer.localized(post.model_copy(update={"schedule": at}))
        if moved.schedule is not None and moved.schedule <= publisher.clock.now():
            raise InvalidPost("at: give a time in the future", [("at", "in the past")])
        if post.not_after is not None and moved.schedule is not None \
                and moved.schedule > post.not_after:
            moved = moved.model_copy(update={"not_after": None})
        ledger = publisher.ledger
        ledger.save_post(moved)
        for row in ledger.attempts(post_id):
            if row.state == State.HELD:
                ledger.mark_failed(post_id, row.account, State.PENDING, ErrorInfo(
                    "Rescheduled", f"given a new time: {moved.schedule}"))
        return moved

    # -- takedown ----------------------------------------------------------------------------

    def takedown(self, post_id: str, *, reason: str, by: str,
                 accounts: Sequence[str] = ()) -> list[Takedown]:
        """Delete the post from every platform it reached (or ``accounts``), threads whole;
        each deletion is an audit event. Returns where it was and when it came down."""
        for name, value in (("reason", reason), ("by", by)):
            if not value.strip():
                raise InvalidPost(f"{name}: say {'why' if name == 'reason' else 'who'}",
                                  [(name, "empty")])
        publisher = self.publisher
        ledger = publisher.ledger
        rows = ledger.attempts(post_id)
        if not rows:
            raise InvalidPost(f"no post {post_id!r} in the store", [("post_id", "unknown")])
        unknown = sorted(set(accounts) - {r.account for r in rows})
        if unknown:
            raise InvalidPost(f"account: {', '.join(unknown)} is not a target of {post_id!r}",
                              [("account", "not a target")])
        done = []
        for row in rows:
            if accounts and row.account not in accounts:
                continue
            if row.state != State.PUBLISHED or row.receipt is None:
                continue
            receipt, error, removed = row.receipt, None, None
            try:
                publisher.channel(row.account).delete(receipt)
            except CarecastError as exc:
                error = ErrorInfo.from_exception(exc)
                log.error("takedown of %s on %s failed (%s)", post_id, row.account, error.type)
            else:
                removed = publisher.clock.now()
                ledger.mark_taken_down(post_id, row.account, reason=reason, by=by)
            done.append(Takedown(row.account, row.channel, receipt.remote_id, receipt.url,
                                 receipt.published_at, removed, error))
        return done
