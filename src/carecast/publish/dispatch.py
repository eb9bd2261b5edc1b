"""Dispatch: send claimed targets concurrently, retry what may be retried, reconcile first.

A target arrives claimed in the ledger (the intent to send is committed). A send whose outcome
may have reached the platform (``unknown``, or ``sending`` after a crash) is looked up before
anything is sent again; the receipt or the error is committed after the send.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import NamedTuple, TypeVar

from carecast.channels import Channel
from carecast.channels.base import sent_after
from carecast.clock import Clock
from carecast.config import Config
from carecast.errors import (
    ChannelError,
    DuplicatePost,
    OutcomeUnknown,
    PostRejected,
)
from carecast.post import Draft, MediaKind, Post, Receipt
from carecast.publish.limits import Limits
from carecast.publish.report import Outcome
from carecast.publish.retry import RetryPolicy
from carecast.publish.review import TargetPreview
from carecast.records import ErrorInfo, Freeze, State
from carecast.store import Failure, Ledger

__all__ = ["LOOKUP_CLOCK_MARGIN", "Dispatcher"]

log = logging.getLogger("carecast.publish")
#: How far a platform's clock may be behind ours when posts are matched by their time.
LOOKUP_CLOCK_MARGIN = timedelta(minutes=10)
T = TypeVar("T")
Progress = Callable[[Outcome], None]


#: While more than ``GATHER_MIN`` results of a post are still to come, the publishing thread
#: lets a wave gather before it commits it: for half as long as a send takes, or
#: ``GATHER_COMMITS`` times as long as the last commit took, whichever is longer, at most
#: ``GATHER_SECONDS`` (and never past the last result). A commit costs about the same for
#: one result as for fifty, and each wakes the thread among the senders: on a platform that
#: answers in 100 ms the answers come a few at a time, and committing each few cost more CPU
#: than the sends; on a fast one, commits of a few results each made a post to 1,000
#: accounts cost half as much again per account as one to 100. A result committed later is
#: no less safe: until then its target is ``sending``, which a restart looks up on the
#: platform.
GATHER_SECONDS = 0.05
GATHER_COMMITS = 4
GATHER_MIN = 8


class _Sent(NamedTuple):
    """A send's outcome, and what the ledger must record of it (None: nothing, another
    worker holds or finished the target)."""

    outcome: Outcome
    result: Receipt | Failure | None


class Dispatcher:
    """Sends claimed targets on one thread pool (``[publish] concurrency`` wide), within
    the limits of each target's rate-limit domains (``carecast.publish.limits``)."""

    def __init__(self, config: Config, ledger: Callable[[], Ledger], retry: RetryPolicy,
                 clock: Clock, frozen: Callable[[str | None], Freeze | None] = lambda _: None
                 ) -> None:
        self.config = config
        #: The active freeze of a brand, if any: checked before every try of every send.
        self.frozen = frozen
        self._ledger = ledger
        self.retry_policy = retry
        self.clock = clock
        self._lock = threading.Lock()
        #: The rate-limit domains: places in flight per account and per host, and pauses.
        self.limits = Limits(config, clock, max_pause=retry.max_retry_after)
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def dispatch(self, post: Post, targets: Sequence[TargetPreview], *, resend_unknown: bool,
                 on_progress: Progress | None, claims: Mapping[str, State | None],
                 claimed_at: float) -> list[Outcome]:
        """Send every claimed target; one outcome each, in the order given.

        Results are committed in waves, from this thread: whatever finished while the
        previous wave was being written goes to the ledger in one transaction
        (``Ledger.settle``), and each outcome is reported once it is committed.
        """
        finished: queue.SimpleQueue[_Sent | BaseException] = queue.SimpleQueue()

        done, all_in = itertools.count(1), threading.Event()
        took: list[float] = []  # how long the first send took

        def run(target: TargetPreview) -> None:
            started = self.clock.monotonic()
            try:
                result: _Sent | BaseException = self._send(
                    post, target, resend_unknown, claims[target.account], claimed_at)
            except BaseException as exc:  # raised below, once every other result is in
                result = exc
            if not took:
                took.append(self.clock.monotonic() - started)
            finished.put(result)
            if next(done) == len(targets):
                all_in.set()

        if len(targets) <= 1:
            for target in targets:
                run(target)
        else:
            with self._lock:
                if self._pool is None:  # one pool: the global limit holds across publish calls
                    self._pool = ThreadPoolExecutor(self.config.publish.concurrency,
                                                    thread_name_prefix="carecast")
                pool = self._pool
            # A few workers take the targets in turn, rather than one future per target:
            # 10,000 targets would hold 10,000 futures (each with its own lock and condition).
            todo = iter(targets)
            take = threading.Lock()

            def work() -> None:
                while True:
                    with take:
                        target = next(todo, None)
                    if target is None:
                        return
                    run(target)

            for _ in range(min(len(targets), self.config.publish.concurrency)):
                pool.submit(work)
        outcomes: dict[str, Outcome] = {}
        errors: list[BaseException] = []
        committing = 0.0  # how long the last commit took
        while len(outcomes) + len(errors) < len(targets):
            wave = [finished.get()]
            window = min(GATHER_SECONDS, max(took[0] / 2, GATHER_COMMITS * committing))
            if window >= 0.001 and len(targets) - len(outcomes) - len(errors) > GATHER_MIN:
                all_in.wait(window)
            while True:
                try:
                    wave.append(finished.get_nowait())
                except queue.Empty:
                    break
            sent = [w for w in wave if isinstance(w, _Sent)]
            errors += [w for w in wave if isinstance(w, BaseException)]
            started = self.clock.monotonic()
            self._ledger().settle([s.result for s in sent if s.result is not None])
            committing = self.clock.monotonic() - started
            for s in sent:
                outcomes[s.outcome.account] = s.outcome
                if on_progress:
                    on_progress(s.outcome)
        if errors:  # after every other send's result is committed
            raise errors[0]
        return [outcomes[t.account] for t in targets]

    def _send(self, post: Post, target: TargetPreview, resend_unknown: bool,
              previous: State | None, claimed_at: float) -> _Sent:
        """Send one claimed target; ``previous`` is the state it had when claimed (None: it
        was not claimable). The result is left to the caller to commit."""
        assert target.draft is not None
        assert target.instance is not None
        ledger = self._ledger()
        channel, draft, key = target.instance, target.draft, target.key
        stale_after = self.config.publish.stale_sending_after
        if previous is not None and self.clock.monotonic() - claimed_at > stale_after / 2 \
                and not ledger.renew_claim(post.id, target.account):
            previous = None  # queued so long that another worker may have taken it over
        if previous is None:  # published or claimed by another worker meanwhile
            row = ledger.attempt(post.id, target.account)
            state = row.state if row else State.PENDING
            return _Sent(Outcome.of(target.account, target.channel, state, draft=draft,
                                    receipt=row.receipt if row else None,
                                    already_published=state == State.PUBLISHED), None)
        try:
            upload = _without_metadata(draft, channel)
        except PostRejected as exc:  # an image that cannot be cleaned is never sent
            error = ErrorInfo.from_exception(exc)
            return _Sent(Outcome.of(target.account, target.channel, State.FAILED, draft=draft,
                                    error=error, findings=target.findings),
                         Failure(post.id, target.account, State.FAILED, error))
        uncertain = previous in (State.UNKNOWN, State.SENDING) and not resend_unknown
        was_uncertain = uncertain
        receipt: Receipt | None = None
        tries = 0
        brand = self.config.accounts[target.account].brand
        try:
            for attempt in self.retry_policy.retrying():
                with attempt:
                    self.limits.wait_out(channel)
                    freeze = self.frozen(brand)
                    if freeze is not None:
                        return self._frozen(post, target, freeze, State.UNKNOWN
                                            if uncertain else State.PENDING)
                    tries += 1
                    with self.limits.hold(channel):
                        if uncertain:
                            receipt = self._reconcile(channel, key, draft)
                            uncertain = False
                        if receipt is None:
                            try:
                                receipt = _guarded(channel, post.id, "publishing",
                                                   lambda: channel.publish(upload, key))
                            except DuplicatePost:
                                # After an uncertain send, a duplicate means that send landed.
                                if was_uncertain and channel.can_lookup:
                                    receipt = self._reconcile(channel, key, draft)
                                if receipt is None:
                                    uncertain = was_uncertain
                                    raise
                            except ChannelError as exc:  # a channel bug comes as OutcomeUnknown
                                uncertain = was_uncertain = exc.may_have_been_sent
                                self.limits.slow_down(channel, exc)
                                raise
        except ChannelError as exc:
            state = State.UNKNOWN if uncertain else State.FAILED
            if exc.deferred and not uncertain:
                state = State.PENDING  # waits for its time (SMS quiet hours), saying why
            error = ErrorInfo.from_exception(exc, post_id=post.id)
            if state == State.UNKNOWN and not exc.next_step_given:
                error = replace(error, message=f"{error.message}; {_next_step(channel, post.id)}")
            log.warning("account %s: %s after %d tries (%s)", target.account, state, tries,
                        error.type)
            return _Sent(Outcome.of(target.account, target.channel, state, draft=draft,
                                    error=error, findings=target.findings, tries=tries),
                         Failure(post.id, target.account, state, error))
        assert receipt is not None
        return _Sent(Outcome.of(target.account, target.channel, State.PUBLISHED, draft=draft,
                                receipt=receipt, findings=target.findings, tries=tries),
                     receipt)

    def _frozen(self, post: Post, target: TargetPreview, freeze: Freeze, state: State
                ) -> _Sent:
        """Give back a claimed target a freeze stops: ``pending`` again (``unknown`` if an
        earlier send must be reconciled first), saying why."""
        error = ErrorInfo("Frozen", f"not sent: freeze {freeze.id} (by {freeze.by}) stops "
                          "every send; after the thaw a worker sends it, or holds it if its "
                          "time passed")
        return _Sent(Outcome.of(target.account, target.channel, state, draft=target.draft,
                                error=error, findings=target.findings),
                     Failure(post.id, target.account, state, error))

    def _reconcile(self, channel: Channel, key: str, draft: Draft) -> Receipt | None:
        """Look for an earlier send; None means it is safe to send (again).

        A channel that finds posts by their text is told when this post was first stored
        (less a margin for the platform's clock), so an older post with the same words is not
        taken for it.
        """
        if channel.can_lookup:
            stored = self._ledger().stored_at(draft.post_id)
            since = stored - LOOKUP_CLOCK_MARGIN if stored else None

            def look() -> Receipt | None:
                with sent_after(since):
                    return channel.lookup(key, draft)

            found = _guarded(channel, draft.post_id, "looking the post up", look)
            return found.model_copy(update={"reconciled": True}) if found else None
        if channel.idempotent_publish:
            return None
        raise _unknown(
            channel, f"an earlier send may have reached {channel.name} and this channel cannot "
            f"look posts up; {_next_step(channel, draft.post_id)}")


def _without_metadata(draft: Draft, channel: Channel) -> Draft:
    """The draft as uploaded: every local image replaced by a copy without its metadata
    (GPS, camera serials, names), always; the stored draft keeps the original paths."""
    if not any(m.kind in (MediaKind.IMAGE, MediaKind.GIF) and not m.is_url
               for part in draft.parts for m in part.media):
        return draft
    from carecast.compliance.images import clean_draft

    return clean_draft(draft, channel.root, rules=channel.media_rules)


def _guarded(channel: Channel, post_id: str, doing: str, call: Callable[[], T]) -> T:
    """Run a channel's platform call. Anything but a ``ChannelError`` is a channel bug after
    which the post may be on the platform: it becomes an ``OutcomeUnknown`` that is never
    retried blindly, and one target's bug never breaks the others."""
    bug = ""
    try:
        return call()
    except ChannelError:
        raise
    except Exception as exc:
        bug = type(exc).__name__
    # Raised outside the except: the bug's own message may hold secrets.
    log.error("the %s channel raised %s while %s", channel.name, bug, doing)
    raise _unknown(channel, f"the {channel.name} channel failed while {doing} ({bug}); "
                            f"{_next_step(channel, post_id)}")


def _next_step(channel: Channel, post_id: str) -> str:
    """What a person does about an unknown outcome: a channel that looks posts up finds it
    before sending again; otherwise only a person can tell whether it arrived."""
    if channel.can_lookup:
        return f"run: carecast retry {post_id} (it looks the post up before sending again)"
    return (f"check the {channel.account} account; only if the post is not there, run: "
            f"carecast retry {post_id} --resend-unknown")


def _unknown(channel: Channel, message: str) -> OutcomeUnknown:
    """An OutcomeUnknown that must not be retried blindly; ``message`` gives the next step."""
    return OutcomeUnknown(message, channel=channel.name, account=channel.account,
                          retryable=False, next_step_given=True)
