"""The publisher: a small façade over the pipeline, which flows one way.

``review`` (render and check every target; reads only) → the gate's ledger rows and claims →
``dispatch`` (concurrent sends, retry, reconcile) → ``PublishReport``. ``signing`` applies
approval chains to stored drafts. One clock reaches every part: the ledger, the retry policy
and every channel.

Exactly once: the ledger holds each target's state. The intent is committed before a send and
the receipt after it; a target whose send may have reached the platform (``unknown``, or
``sending`` after a crash) is looked up on the platform before anything is sent again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pluggy

from carecast.channels import Channel, build_channel
from carecast.channels.base import LazyUploadSessions
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.compliance import phi_guard, phi_places
from carecast.config import CheckSettings, Config, load_config
from carecast.confine import MediaRules
from carecast.errors import ConfigurationError, InvalidPost
from carecast.findings import Action, Finding
from carecast.plan import Plan, PlanIssue, check_plan
from carecast.plugins import plugin_manager
from carecast.post import Post
from carecast.publish.dispatch import Dispatcher
from carecast.publish.limits import check_channel_names
from carecast.publish.loop import Loop, Takedown
from carecast.publish.planner import PlanStep, apply_plan
from carecast.publish.report import Outcome, PublishReport
from carecast.publish.retry import RetryPolicy
from carecast.publish.review import Preview, Reviewer, TargetPreview, idempotency_key
from carecast.publish.signing import PendingApproval, Signing
from carecast.records import Attempt, Freeze, NoRecords, Records, State
from carecast.schedule import next_slot
from carecast.store import Ledger

__all__ = ["PendingApproval", "Preview", "Publisher", "TargetPreview", "idempotency_key"]

log = logging.getLogger("carecast.publish")
Progress = Callable[[Outcome], None]


class Publisher:
    """Publishes posts to configured accounts; one instance serves many posts and threads.

    ``clock`` is the one clock of the pipeline (``carecast.testing.FrozenClock`` in tests):
    the ledger, the retry policy and every channel read and wait on it. Without one, the
    clock of ``retry`` is used, else the system's; a ``retry`` is rebound to the clock.
    ``entry_point_plugins=False`` leaves out installed third-party plugins; the built-in
    checks always run (turn one off per brand in ``[checks.NAME]``).
    """

    def __init__(
        self,
        config: Config,
        *,
        ledger: Ledger | None = None,
        plugins: Iterable[object] = (),
        entry_point_plugins: bool = True,
        retry: RetryPolicy | None = None,
        channel_classes: Mapping[str, type[Channel]] | None = None,
        sessions: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or (retry.clock if retry is not None else SYSTEM_CLOCK)
        if ledger is not None:
            ledger.clock = self.clock  # one clock: a given store stamps with this one too
        self._ledger = ledger
        self._records: Records | None = ledger
        self.plugins: pluggy.PluginManager = plugin_manager(plugins,
                                                            entry_points=entry_point_plugins)
        self.retry_policy = dataclasses.replace(
            retry or RetryPolicy.from_config(config.publish), clock=self.clock)
        self._extra_classes = dict(channel_classes or {})
        check_channel_names(config, self._extra_classes)
        self._sessions = dict(sessions or {})
        self._channels: dict[str, Channel] = {}
        self._media: MediaRules | None = None
        self._lock = threading.Lock()
        self.reviewer = Reviewer(config, self.plugins, self.channel, self.clock,
                                 self._extra_classes)
        self.loop = Loop(self)
        self.dispatcher = Dispatcher(config, lambda: self.ledger, self.retry_policy,
                                     self.clock, self.loop.frozen)
        self.signing = Signing(config, lambda: self.ledger, self._stored, self.clock)

    @property
    def ledger(self) -> Ledger:
        """The store, opened (and created) on first use; a preview never opens it."""
        if self._ledger is None:
            with self._lock:
                if self._ledger is None:
                    key_file, checkpoint_file = self.config.audit_paths()
                    self._ledger = Ledger(self.config.store_url(), clock=self.clock,
                                          key_file=key_file, checkpoint_file=checkpoint_file)
                    if isinstance(self._records, Ledger):  # a preview's read-only view
                        self._records.close()
                    self._records = self._ledger
        return self._ledger

    @property
    def records(self) -> Records:
        """What review reads (consents, approval decisions): the open store, else a
        read-only view of an existing one, else nothing (no store yet, or none reachable)."""
        if self._records is None:
            with self._lock:
                if self._records is None:
                    try:
                        key_file, checkpoint_file = self.config.audit_paths()
                        self._records = Ledger(self.config.store_url(), clock=self.clock,
                                               readonly=True, key_file=key_file,
                                               checkpoint_file=checkpoint_file)
                    except ConfigurationError:
                        self._records = NoRecords()
        return self._records

    @classmethod
    def from_config_file(cls, path: str | Path | None = None, **kw: Any) -> Publisher:
        """A publisher for ``carecast.toml`` (or ``path``)."""
        return cls(load_config(path), **kw)

    def __repr__(self) -> str:
        return f"<Publisher accounts={sorted(self.config.accounts)} ledger={self._ledger!r}>"

    def close(self) -> None:
        """Stop the worker threads, close the channels' sessions and release the store."""
        self.dispatcher.close()
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        if isinstance(self._records, Ledger) and self._records is not self._ledger:
            self._records.close()
        self._records = None
        if self._ledger is not None:
            self._ledger.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def channel(self, account: str) -> Channel:
        """The channel instance of a configured account (built once)."""
        with self._lock:
            if account not in self._channels:
                cfg = self.config.accounts[account]
                self._channels[account] = build_channel(
                    cfg, root=self.config.root, extra=self._extra_classes,
                    session=self._sessions.get(account), clock=self.clock)
                if self._media is None:  # the same rules for every account: made once
                    self._media = _media_rules(self.config)
                self._channels[account].media_rules = self._media
                self._channels[account].upload_sessions = LazyUploadSessions(
                    lambda: self.ledger.upload_sessions)
                self._channels[account].store = lambda: self.ledger
            return self._channels[account]

    # -- review ------------------------------------------------------------------------------

    def preview(self, post: Post, *, only: Sequence[str] = ()) -> Preview:
        """Render and review the post for every target; nothing is stored or sent, and no
        store is created."""
        post = self.reviewer.localized(post)
        return self.reviewer.review(post, self.targets(post, only), self.records)

    def targets(self, post: Post, only: Sequence[str] = ()) -> list[str]:
        """The account names a post goes to: its targets, or its brand's enabled accounts."""
        return self.reviewer.targets(post, only)

    # -- publishing --------------------------------------------------------------------------

    def publish(self, post: Post, *, only: Sequence[str] = (), dry_run: bool = False,
                resend_unknown: bool = False, on_progress: Progress | None = None
                ) -> PublishReport:
        """Publish to every target not yet published; returns one outcome per target.

        ``dry_run`` reviews without storing or sending (like ``preview``). ``resend_unknown``
        sends targets whose outcome is unknown without looking them up first: use it only
        after checking by hand that the platform does not have the post.
        """
        if post.repeat is not None:
            raise InvalidPost("repeat: a recurring post is published with publish_series "
                              "(carecast publish does it)", [("repeat", "recurring")])
        post = self.reviewer.localized(post)
        names = self.targets(post, only)
        if dry_run:
            preview = self.preview(post, only=only)
            return PublishReport(post.id, tuple(_outcome_of(t) for t in preview.targets),
                                 preview.findings, dry_run=True)

        ledger = self.ledger
        wanted = set(names)
        done = {a.account: a for a in ledger.attempts(post.id)
                if a.state == State.PUBLISHED and a.account in wanted}
        preview = self.reviewer.review(post, names, ledger, skip=done)
        stored = _masked(post, preview.findings, self.config)
        ready = [t for t in preview.targets if t.ready]
        # The ready targets are claimed (the intent to send, committed) together with the
        # review: one transaction instead of one per target before each send.
        claims = ledger.record(stored, [
            Attempt(post.id, t.account, t.channel, t.state, t.key, 0, self.clock.now(),
                    None if _flagged(t) else t.draft, None, t.error, t.findings)
            for t in preview.targets
        ], withheld=stored is not post, claim=[t.account for t in ready],
            stale_after=self.config.publish.stale_sending_after)
        claimed_at = self.clock.monotonic()
        outcomes: dict[str, Outcome] = {
            name: Outcome.of(name, a.channel, State.PUBLISHED, receipt=a.receipt,
                             tries=a.tries, already_published=True)
            for name, a in done.items()
        }
        for target in preview.targets:
            if target.account not in claims:  # not ready: held, blocked, awaiting approval
                outcomes[target.account] = _outcome_of(target)
        for outcome in outcomes.values():
            if on_progress:
                on_progress(outcome)
        for outcome in self.dispatcher.dispatch(
                post, ready, resend_unknown=resend_unknown, on_progress=on_progress,
                claims=claims, claimed_at=claimed_at):
            outcomes[outcome.account] = outcome
        report = PublishReport(post.id, tuple(outcomes[n] for n in names if n in outcomes),
                               preview.findings)
        log.info("post %s: %s", post.id, report.counts)
        return report

    async def apublish(self, post: Post, *, only: Sequence[str] = (), dry_run: bool = False,
                       resend_unknown: bool = False, on_progress: Progress | None = None
                       ) -> PublishReport:
        """``publish`` for async code: runs in a worker thread, never blocks the loop."""
        return await asyncio.to_thread(self.publish, post, only=only, dry_run=dry_run,
                                       resend_unknown=resend_unknown, on_progress=on_progress)

    def retry(self, post_id: str, *, resend_unknown: bool = False,
              on_progress: Progress | None = None) -> PublishReport:
        """Publish a stored post again to its failed and unknown targets only.

        The report lists every target of the post; the others are as the ledger has them.
        """
        post = self._stored(post_id)
        rows = self.ledger.attempts(post_id)
        names = [a.account for a in rows
                 if a.state in (State.FAILED, State.UNKNOWN, State.SENDING)]
        outcomes = {a.account: Outcome.of(
            a.account, a.channel, a.state, draft=a.draft, receipt=a.receipt, error=a.error,
            findings=a.findings, tries=a.tries, already_published=a.state == State.PUBLISHED)
            for a in rows}
        findings: tuple[Finding, ...] = ()
        if names:
            report = self.publish(post, only=names, resend_unknown=resend_unknown,
                                  on_progress=on_progress)
            outcomes.update({o.account: o for o in report.outcomes})
            findings = report.findings
        return PublishReport(post_id, tuple(outcomes.values()), findings)

    def resume(self, post_id: str, *, only: Sequence[str] = (),
               on_progress: Progress | None = None) -> PublishReport:
        """Publish a stored post again (``only`` these accounts): targets approved since, or
        whose time has come, go out; failed ones are tried again; published ones are left
        alone."""
        return self.publish(self._stored(post_id), only=only, on_progress=on_progress)

    def _stored(self, post_id: str) -> Post:
        post = self.ledger.get_post(post_id)
        if post is None:
            raise _no_post(post_id)
        if self.ledger.withheld(post_id):
            raise InvalidPost(
                f"post {post_id!r} was blocked, and the text its findings flagged is not kept "
                "in the store; fix the post file and publish it again", [("post_id", "blocked")])
        return post

    def status(self, post_id: str) -> list[Attempt]:
        """Every target's row in the ledger; ``InvalidPost`` for an id the store does not
        hold (as ``retry`` and ``resume`` raise)."""
        rows = self.ledger.attempts(post_id)
        if not rows and self.ledger.get_post(post_id) is None:
            raise _no_post(post_id)
        return rows

    def approve(self, post_id: str, approver: str, *, step: str | None = None,
                accounts: Sequence[str] = (), note: str = "") -> list[str]:
        """Sign the next step of the chain for the stored drafts awaiting approval.

        Returns the accounts signed for. Raises ``ApprovalRefused`` for the author of the
        post, a person not listed for the step, one who already signed an earlier step, or
        after the deadline of a scheduled post. ``step`` checks which step is being signed.
        """
        return self.signing.decide(post_id, approver, "approve", step=step,
                                   accounts=accounts, note=note)

    def reject(self, post_id: str, approver: str, *, note: str,
               accounts: Sequence[str] = ()) -> list[str]:
        """Reject the stored drafts awaiting approval: they are held for good (an edited
        post starts a new chain). ``note`` says why; it is stored, never printed."""
        return self.signing.decide(post_id, approver, "reject", accounts=accounts, note=note)

    # -- the publishing loop ------------------------------------------------------------------

    def run_due(self, *, on_progress: Progress | None = None,
                stop: threading.Event | None = None) -> list[PublishReport]:
        """Publish every stored post whose time has come: scheduled, approved since, or
        left ``sending`` by a crashed worker (reconciled first). One pass of a worker."""
        return self.loop.run_due(on_progress=on_progress, stop=stop)

    def publish_series(self, post: Post, *, dry_run: bool = False,
                       on_progress: Progress | None = None) -> list[PublishReport]:
        """Schedule every occurrence still to come of a recurring post (``post.repeat``);
        one report each. Re-applying it never schedules an occurrence twice."""
        return self.loop.publish_series(post, dry_run=dry_run, on_progress=on_progress)

    def plan_check(self, plan: Plan) -> list[PlanIssue]:
        """What to fix in a messaging plan before it is applied (errors first), and the
        observances in its window no campaign takes up; reads no store."""
        return check_plan(plan, self.config, self.clock.now())

    def plan_apply(self, plan: Plan, *, dry_run: bool = False) -> list[PlanStep]:
        """Schedule every post of a plan (refused while ``plan_check`` finds errors);
        applying it again changes nothing. ``dry_run`` only says what it would do."""
        return apply_plan(self, plan, dry_run=dry_run)

    def schedule(self, post_id: str, at: datetime) -> Post:
        """Give a stored post a new time (a local time is the brand's); held targets wait
        for it again."""
        return self.loop.reschedule(post_id, at)

    def next_slot(self, account: str, after: datetime | None = None) -> datetime:
        """The account's next free posting slot after ``after`` (now), in UTC."""
        cfg = self.config.accounts[account]
        after = after or self.clock.now()
        taken = self.ledger.scheduled_times(account, after)
        return next_slot(cfg.posting_slots(), self.config.zone_of(cfg.brand), after, taken,
                         account=account)

    def freeze(self, *, reason: str, by: str, brand: str | None = None,
               until: datetime | None = None) -> Freeze:
        """Stop every send of ``brand`` (of every brand without one) at once; see
        ``carecast.publish.loop``."""
        return self.loop.freeze(reason=reason, by=by, brand=brand, until=until)

    def thaw(self, *, by: str, brand: str | None = None) -> list[Freeze]:
        """End the freezes of ``brand`` (every freeze without one); nothing is back-fired."""
        return self.loop.thaw(by=by, brand=brand)

    def takedown(self, post_id: str, *, reason: str, by: str,
                 accounts: Sequence[str] = ()) -> list[Takedown]:
        """Delete a published post from every platform it reached (or ``accounts``)."""
        return self.loop.takedown(post_id, reason=reason, by=by, accounts=accounts)

    def pending(self) -> list[PendingApproval]:
        """Every target of every stored post that waits for a signature (a fully signed
        target is not listed: ``resume`` sends it)."""
        return self.signing.pending()


def _masked(post: Post, findings: Sequence[Finding], config: Config) -> Post:
    """The post as stored: when a BLOCK finding flagged text in it (a record number, a birth
    date), every place the PHI guard scans is masked where it flagged something (see
    ``carecast.compliance.phi_places``), so that what the checks flagged is never kept; the
    findings say where it was. Such a post is never sent from the store (see
    ``Ledger.withheld``); a post only held for REVIEW keeps its text for approvers."""
    if not any(_withholds(f) for f in findings):
        return post
    flagged = [f for f in findings if f.action in (Action.BLOCK, Action.REVIEW)]
    brand = post.brand or config.default_brand()
    flags = phi_guard.flags(post, config.brands.get(brand) if brand else None,
                            CheckSettings(config, brand, campaign=post.campaign))
    return phi_places.withheld(post, flagged, flags)


def _withholds(finding: Finding) -> bool:
    """A BLOCK that flagged text: by its spans, or a PHI finding in a place without spans."""
    return finding.action == Action.BLOCK and (
        bool(finding.spans) or finding.code.startswith("phi."))


def _flagged(target: TargetPreview) -> bool:
    """A blocked target whose draft holds text a BLOCK finding flagged: its draft is not kept."""
    return target.state == State.BLOCKED and any(_withholds(f) for f in target.findings)


def _outcome_of(target: TargetPreview) -> Outcome:
    return Outcome.of(target.account, target.channel, target.state, draft=target.draft,
                      error=target.error, findings=target.findings,
                      held_until=target.held_until)


def _media_rules(config: Config) -> MediaRules:
    """The ``[media]`` rules, with the folder of the copies carecast strips of metadata."""
    from carecast.compliance.images import default_cache_dir

    rules = config.media_rules()
    return dataclasses.replace(rules, roots=(*rules.roots, default_cache_dir()))


def _no_post(post_id: str) -> InvalidPost:
    return InvalidPost(f"post_id: no post {post_id!r} in the store; carecast posts lists the "
                       "stored ones", [("post_id", "unknown")])
