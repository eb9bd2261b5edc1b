"""The publisher: render → review → gate → ledger → concurrent dispatch → report.

Exactly once: the ledger holds each target's state. The intent is committed before a send and
the receipt after it; a target whose send may have reached the platform (``unknown``, or
``sending`` after a crash) is looked up on the platform before anything is sent again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pluggy

from carecast.approvals import approval_due, chain_state, needs_approval, same_person
from carecast.channels import Channel, build_channel
from carecast.channels.base import sent_after
from carecast.config import CheckSettings, Config, load_config
from carecast.consent import consent_findings
from carecast.errors import (
    ApprovalRefused,
    CarecastError,
    ChannelError,
    DuplicatePost,
    InvalidPost,
    OutcomeUnknown,
    PostRejected,
)
from carecast.findings import Action, Finding
from carecast.plugins import plugin_manager, run_hook
from carecast.post import Draft, MediaKind, Post, Receipt
from carecast.publish.gate import apply_findings
from carecast.publish.report import Outcome, PublishReport
from carecast.publish.retry import RetryPolicy
from carecast.records import Attempt, ErrorInfo, State
from carecast.store import Ledger

__all__ = ["PendingApproval", "Preview", "Publisher", "TargetPreview", "idempotency_key"]

log = logging.getLogger("carecast.publish")
#: How far a platform's clock may be behind ours when posts are matched by their time.
LOOKUP_CLOCK_MARGIN = timedelta(minutes=10)
T = TypeVar("T")
Progress = Callable[[Outcome], None]


def idempotency_key(post_id: str, account: str) -> str:
    """The stable key of one (post, account) target, sent where a platform takes one."""
    return "cc-" + hashlib.sha256(f"{post_id}\x1f{account}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TargetPreview:
    """What one account would receive, and what review said of it. Nothing is sent."""

    account: str
    channel: str
    state: State
    key: str
    draft: Draft | None = None
    findings: tuple[Finding, ...] = ()
    error: ErrorInfo | None = None
    instance: Channel | None = field(default=None, repr=False, compare=False)
    #: Set when the post is scheduled later and the channel cannot schedule it itself.
    held_until: datetime | None = None


@dataclass(frozen=True)
class PendingApproval:
    """One target waiting for a signature: the step it waits for, and who signed so far."""

    post_id: str
    account: str
    channel: str
    next_step: str | None
    signed: tuple[tuple[str, str], ...]
    schedule: datetime | None
    due: datetime | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Preview:
    """The review of a post for every target: drafts, lengths against limits, findings."""

    post: Post
    findings: tuple[Finding, ...]
    targets: tuple[TargetPreview, ...]

    @property
    def ok(self) -> bool:
        """True when every target would be sent (none blocked, failed or held)."""
        return all(t.state == State.PENDING and t.held_until is None for t in self.targets)


class Publisher:
    """Publishes posts to configured accounts; one instance serves many posts and threads."""

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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self._ledger = ledger
        self.plugins: pluggy.PluginManager = plugin_manager(plugins,
                                                            entry_points=entry_point_plugins)
        self.retry_policy = retry or RetryPolicy.from_config(config.publish)
        self._extra_classes = dict(channel_classes or {})
        self._sessions = dict(sessions or {})
        self._channels: dict[str, Channel] = {}
        self._channels_lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._pool: ThreadPoolExecutor | None = None
        self.clock = clock

    @property
    def ledger(self) -> Ledger:
        """The store, opened on first use (a preview never creates it)."""
        if self._ledger is None:
            with self._channels_lock:
                if self._ledger is None:
                    self._ledger = Ledger(self.config.store_url())
        return self._ledger

    @classmethod
    def from_config_file(cls, path: str | Path | None = None, **kw: Any) -> Publisher:
        """A publisher for ``carecast.toml`` (or ``path``)."""
        return cls(load_config(path), **kw)

    def __repr__(self) -> str:
        return f"<Publisher accounts={sorted(self.config.accounts)} ledger={self._ledger!r}>"

    def close(self) -> None:
        """Stop the worker threads, close the channels' sessions and release the store."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        if self._ledger is not None:
            self._ledger.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- channels ----------------------------------------------------------------------------

    def channel(self, account: str) -> Channel:
        """The channel instance of a configured account (built once)."""
        with self._channels_lock:
            if account not in self._channels:
                cfg = self.config.accounts[account]
                self._channels[account] = build_channel(
                    cfg, root=self.config.root, extra=self._extra_classes,
                    session=self._sessions.get(account))
            return self._channels[account]

    # -- review ------------------------------------------------------------------------------

    def preview(self, post: Post, *, only: Sequence[str] = ()) -> Preview:
        """Render and review the post for every target; nothing is stored or sent."""
        return self._review(post, self.targets(post, only), {})

    def targets(self, post: Post, only: Sequence[str] = ()) -> list[str]:
        """The account names a post goes to: its targets, or its brand's enabled accounts."""
        names = list(post.targets)
        if not names:
            brand = post.brand or self.config.default_brand()
            if brand is None and self.config.brands:
                raise InvalidPost(
                    "targets: the post names no targets and no brand, and there are several "
                    "brands; add targets: [account, ...] or brand: NAME to the post",
                    [("targets", "no targets and no brand")],
                )
            if post.brand is not None and post.brand not in self.config.brands:
                raise InvalidPost(
                    f"brand: {post.brand!r} is not a brand in the configuration "
                    f"({', '.join(sorted(self.config.brands)) or 'none'})",
                    [("brand", "unknown brand")],
                )
            names = [a.name for a in self.config.accounts.values()
                     if a.enabled and (brand is None or a.brand == brand)]
        if only:
            missing = [n for n in only if n not in names]
            if missing:
                raise InvalidPost(
                    f"only: {', '.join(missing)} is not a target of this post "
                    f"(targets: {', '.join(names) or 'none'})",
                    [("only", "not a target")],
                )
            names = [n for n in names if n in only]
        if not names:
            raise InvalidPost("targets: no enabled account to publish to; add accounts to "
                              "carecast.toml or targets to the post", [("targets", "empty")])
        return names

    def _brand_name(self, post: Post) -> str | None:
        return post.brand or self.config.default_brand()

    def _review(self, post: Post, names: Sequence[str],
                skip: Mapping[str, Attempt]) -> Preview:
        brand = self._brand_name(post)
        post_findings = run_hook(
            self.plugins, "carecast_review_post", post=post,
            brand=self.config.brands.get(brand) if brand else None,
            settings=CheckSettings(self.config, brand, campaign=post.campaign))
        gated = apply_findings(post, post_findings)
        reviewed: Post = gated.item
        targets = [self._review_target(reviewed, name, gated.findings)
                   for name in names if name not in skip]
        return Preview(post, gated.findings, tuple(targets))

    def _review_target(self, post: Post, name: str,
                       post_findings: Sequence[Finding]) -> TargetPreview:
        key = idempotency_key(post.id, name)
        account = self.config.accounts.get(name)
        if account is None:
            known = ", ".join(sorted(self.config.accounts)) or "none"
            return TargetPreview(name, "?", State.FAILED, key, error=ErrorInfo(
                "UnknownAccount", f"targets: no account {name!r} in the configuration "
                f"(accounts: {known})", rejected=True))
        if not account.enabled:
            return TargetPreview(name, account.channel, State.FAILED, key, error=ErrorInfo(
                "AccountDisabled", f"account {name!r} is disabled (enabled = false)",
                rejected=True))
        try:
            channel = self.channel(name)
            draft = channel.render(post)
        except CarecastError as exc:
            return TargetPreview(name, account.channel, State.FAILED, key,
                                 error=ErrorInfo.from_exception(exc))
        except Exception as exc:  # a channel bug must not stop the other targets
            log.exception("rendering for account %s failed", name)
            return TargetPreview(name, account.channel, State.FAILED, key, error=ErrorInfo(
                type(exc).__name__, f"the {account.channel} channel failed to render the post"))
        findings = run_hook(
            self.plugins, "carecast_review_draft", for_account=name, post=post, draft=draft,
            account=account, brand=self.config.brand_of(account),
            settings=CheckSettings(self.config, account.brand, account.channel, post.campaign))
        gated = apply_findings(draft, findings, count=channel.count)
        draft = gated.item
        every = tuple(post_findings) + gated.findings
        try:
            for i, part in enumerate(draft.parts):  # a redaction may change a part's length
                channel.check_length(f"parts[{i}].text", part.text)
        except PostRejected as exc:
            return TargetPreview(name, account.channel, State.FAILED, key, draft, every,
                                 ErrorInfo.from_exception(exc), channel)
        if any(m.consent or m.people for part in draft.parts for m in part.media):
            every += tuple(f.model_copy(update={"account": name}) for f in consent_findings(
                draft, channel=account.channel, root=self.config.root,
                lookup=self.ledger.consent, now=self.clock()))
        state, error = State.PENDING, None
        if any(f.action == "block" for f in every):
            state = State.BLOCKED
        elif needs_approval(self.config.approvals, post, account.brand, every):
            state, error = self._approval_state(post, name, draft)
        held = draft.schedule if (draft.schedule and draft.schedule > self.clock()
                                  and not channel.supports_scheduling) else None
        return TargetPreview(name, account.channel, state, key, draft, every, error, channel,
                             held)

    def _approval_state(self, post: Post, account: str, draft: Draft
                        ) -> tuple[State, ErrorInfo | None]:
        chain = chain_state(self.config.approvals,
                            self.ledger.decisions(post.id, account, draft.content_hash()))
        if chain.rejected is not None:
            return State.BLOCKED, ErrorInfo("Rejected", (
                f"rejected by {chain.rejected.approver} at the {chain.rejected.step} step; "
                "edit the post (a new draft needs the chain again)"), rejected=True)
        if chain.complete:
            return State.PENDING, None
        due = approval_due(self.config.approvals, post)
        if due is not None and self.clock() >= due:
            return State.BLOCKED, ErrorInfo("ApprovalMissed", (
                f"the approval chain was not complete by {due.isoformat()}, "
                f"{self.config.approvals.deadline:g} s before the scheduled time; it is not "
                f"published (waiting for the {chain.next_step} step): give the post a new "
                "schedule"), rejected=True)
        return State.AWAITING_APPROVAL, None

    # -- publishing --------------------------------------------------------------------------

    def publish(self, post: Post, *, only: Sequence[str] = (), dry_run: bool = False,
                resend_unknown: bool = False, on_progress: Progress | None = None
                ) -> PublishReport:
        """Publish to every target not yet published; returns one outcome per target.

        ``dry_run`` reviews without storing or sending. ``resend_unknown`` sends targets whose
        outcome is unknown without looking them up first: use it only after checking by hand
        that the platform does not have the post.
        """
        names = self.targets(post, only)
        if dry_run:
            preview = self._review(post, names, {})
            return PublishReport(post.id, tuple(_outcome_of(t) for t in preview.targets),
                                 preview.findings, dry_run=True)

        done = {a.account: a for a in self.ledger.attempts(post.id)
                if a.state == State.PUBLISHED and a.account in names}
        preview = self._review(post, names, done)
        stored = _masked(post, preview.findings)
        ready = [t for t in preview.targets
                 if t.state == State.PENDING and t.held_until is None]
        # The ready targets are claimed (the intent to send, committed) together with the
        # review: one transaction instead of one per target before each send.
        claims = self.ledger.record(stored, [
            Attempt(post.id, t.account, t.channel, t.state, t.key, 0, datetime.now(UTC),
                    None if _flagged(t) else t.draft, None, t.error, t.findings)
            for t in preview.targets
        ], withheld=stored is not post, claim=[t.account for t in ready],
            stale_after=self.config.publish.stale_sending_after)
        claimed_at = time.monotonic()
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
        for outcome in self._dispatch(post, ready, resend_unknown, on_progress, claims,
                                      claimed_at):
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

    def resume(self, post_id: str, *, on_progress: Progress | None = None) -> PublishReport:
        """Publish a stored post again: targets approved since, or whose time has come, go
        out; failed ones are tried again; published ones are left alone."""
        return self.publish(self._stored(post_id), on_progress=on_progress)

    def _stored(self, post_id: str) -> Post:
        post = self.ledger.get_post(post_id)
        if post is None:
            raise InvalidPost(f"no post {post_id!r} in the store", [("post_id", "unknown")])
        if self.ledger.withheld(post_id):
            raise InvalidPost(
                f"post {post_id!r} was blocked, and the text its findings flagged is not kept "
                "in the store; fix the post file and publish it again", [("post_id", "blocked")])
        return post

    def status(self, post_id: str) -> list[Attempt]:
        """Every target's row in the ledger."""
        return self.ledger.attempts(post_id)

    def approve(self, post_id: str, approver: str, *, step: str | None = None,
                accounts: Sequence[str] = (), note: str = "") -> list[str]:
        """Sign the next step of the chain for the stored drafts awaiting approval.

        Returns the accounts signed for. Raises ``ApprovalRefused`` for the author of the
        post, a person not listed for the step, one who already signed an earlier step, or
        after the deadline of a scheduled post. ``step`` checks which step is being signed.
        """
        return self._decide(post_id, approver, "approve", step=step, accounts=accounts,
                            note=note)

    def reject(self, post_id: str, approver: str, *, note: str,
               accounts: Sequence[str] = ()) -> list[str]:
        """Reject the stored drafts awaiting approval: they are held for good (an edited
        post starts a new chain). ``note`` says why; it is stored, never printed."""
        if not note.strip():
            raise InvalidPost("note: say why the post is rejected", [("note", "missing")])
        return self._decide(post_id, approver, "reject", accounts=accounts, note=note)

    def _decide(self, post_id: str, approver: str, decision: str, *, step: str | None = None,
                accounts: Sequence[str] = (), note: str = "") -> list[str]:
        if not approver.strip() or len(approver) > 200 or not approver.isprintable():
            raise InvalidPost("approver: give the name of the person who signs (1 to 200 "
                              "printable characters)", [("approver", "invalid")])
        post = self._stored(post_id)
        policy = self.config.approvals
        if decision == "approve" and same_person(approver, post.author):
            raise ApprovalRefused(f"{approver} wrote post {post_id}; someone else must "
                                  "approve it")
        due = approval_due(policy, post)
        if due is not None and self.clock() >= due:
            raise ApprovalRefused(
                f"post {post_id}: approvals were due by {due.isoformat()}; it will not be "
                "published at its scheduled time: give it a new schedule")
        todo: list[tuple[Attempt, str, str]] = []
        for a in self.ledger.attempts(post_id):
            if a.state != State.AWAITING_APPROVAL or a.draft is None or (
                    accounts and a.account not in accounts):
                continue
            digest = a.draft.content_hash()
            chain = chain_state(policy, self.ledger.decisions(post_id, a.account, digest))
            nxt = chain.next_step
            if nxt is None or (step is not None and step != nxt):
                continue
            allowed = next(s.approvers for s in policy.steps if s.name == nxt)
            if allowed and not any(same_person(approver, name) for name in allowed):
                raise ApprovalRefused(f"{approver} is not listed for the {nxt} step "
                                      f"(listed: {', '.join(allowed)})")
            if decision == "approve" and " ".join(approver.casefold().split()) \
                    in chain.signers():
                raise ApprovalRefused(f"{approver} already signed an earlier step of post "
                                      f"{post_id}; each step needs a different person")
            todo.append((a, digest, nxt))
        for a, digest, nxt in todo:
            self.ledger.approve(post_id, a.account, approver=approver, draft_hash=digest,
                                note=note, step=nxt, decision=decision)
            if decision == "reject":
                self.ledger.mark_failed(post_id, a.account, State.BLOCKED, ErrorInfo(
                    "Rejected", f"rejected by {approver} at the {nxt} step; edit the post "
                    "(a new draft needs the chain again)", rejected=True))
        return [a.account for a, _, _ in todo]

    def pending(self) -> list[PendingApproval]:
        """Every target of every stored post that waits for a signature (a fully signed
        target is not listed: ``resume`` sends it)."""
        out: list[PendingApproval] = []
        posts: dict[str, Post | None] = {}
        for a in self.ledger.awaiting_approval():
            if a.draft is None:
                continue
            post = posts.setdefault(a.post_id, self.ledger.get_post(a.post_id))
            chain = chain_state(self.config.approvals, self.ledger.decisions(
                a.post_id, a.account, a.draft.content_hash()))
            if chain.next_step is None:  # signed: it waits for 'carecast resume', not a person
                continue
            out.append(PendingApproval(
                a.post_id, a.account, a.channel, chain.next_step,
                tuple((d.step, d.approver) for d in chain.approved),
                post.schedule if post else None,
                approval_due(self.config.approvals, post) if post else None,
                tuple(f for f in a.findings if f.action == "review")))
        return out

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self, post: Post, targets: Sequence[TargetPreview], resend_unknown: bool,
                  on_progress: Progress | None, claims: Mapping[str, State | None],
                  claimed_at: float) -> list[Outcome]:
        def run(target: TargetPreview) -> Outcome:
            outcome = self._send(post, target, resend_unknown, claims[target.account],
                                 claimed_at)
            if on_progress:
                on_progress(outcome)
            return outcome

        if len(targets) <= 1:
            return [run(t) for t in targets]
        with self._channels_lock:
            if self._pool is None:  # one pool: the global limit holds across publish calls
                self._pool = ThreadPoolExecutor(self.config.publish.concurrency,
                                                thread_name_prefix="carecast")
            pool = self._pool
        return list(pool.map(run, targets))

    @contextmanager
    def _limits(self, channel: Channel) -> Iterator[None]:
        account = self.config.accounts[channel.account]
        with ExitStack() as stack:
            stack.enter_context(self._semaphore(f"channel:{channel.name}",
                                                channel.max_concurrency))
            if account.concurrency:
                stack.enter_context(self._semaphore(f"account:{account.name}",
                                                    account.concurrency))
            yield

    def _semaphore(self, name: str, size: int) -> threading.BoundedSemaphore:
        with self._channels_lock:
            if name not in self._semaphores:
                self._semaphores[name] = threading.BoundedSemaphore(size)
            return self._semaphores[name]

    def _send(self, post: Post, target: TargetPreview, resend_unknown: bool,
              previous: State | None, claimed_at: float) -> Outcome:
        """Send one claimed target; ``previous`` is the state it had when claimed (None: it
        was not claimable)."""
        assert target.draft is not None
        assert target.instance is not None
        channel, draft, key = target.instance, target.draft, target.key
        stale_after = self.config.publish.stale_sending_after
        if previous is not None and time.monotonic() - claimed_at > stale_after / 2 \
                and not self.ledger.renew_claim(post.id, target.account):
            previous = None  # queued so long that another worker may have taken it over
        if previous is None:  # published or claimed by another worker meanwhile
            row = self.ledger.attempt(post.id, target.account)
            state = row.state if row else State.PENDING
            return Outcome.of(target.account, target.channel, state, draft=draft,
                              receipt=row.receipt if row else None,
                              already_published=state == State.PUBLISHED)
        try:
            upload = _without_metadata(draft, channel.root)
        except PostRejected as exc:  # an image that cannot be cleaned is never sent
            error = ErrorInfo.from_exception(exc)
            self.ledger.mark_failed(post.id, target.account, State.FAILED, error)
            return Outcome.of(target.account, target.channel, State.FAILED, draft=draft,
                              error=error, findings=target.findings)
        uncertain = previous in (State.UNKNOWN, State.SENDING) and not resend_unknown
        was_uncertain = uncertain
        receipt: Receipt | None = None
        tries = 0
        try:
            for attempt in self.retry_policy.retrying():
                with attempt, self._limits(channel):
                    tries += 1
                    if uncertain:
                        receipt = self._reconcile(channel, key, draft)
                        uncertain = False
                    if receipt is None:
                        try:
                            receipt = _guarded(channel, "publishing",
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
                            raise
        except ChannelError as exc:
            state = State.UNKNOWN if uncertain else State.FAILED
            error = ErrorInfo.from_exception(exc)
            self.ledger.mark_failed(post.id, target.account, state, error)
            log.warning("account %s: %s after %d tries (%s)", target.account, state, tries,
                        error.type)
            return Outcome.of(target.account, target.channel, state, draft=draft, error=error,
                              findings=target.findings, tries=tries)
        assert receipt is not None
        self.ledger.mark_published(receipt)
        return Outcome.of(target.account, target.channel, State.PUBLISHED, draft=draft,
                          receipt=receipt, findings=target.findings, tries=tries)

    def _reconcile(self, channel: Channel, key: str, draft: Draft) -> Receipt | None:
        """Look for an earlier send; None means it is safe to send (again).

        A channel that finds posts by their text is told when this post was first stored
        (less a margin for the platform's clock), so an older post with the same words is not
        taken for it.
        """
        if channel.can_lookup:
            stored = self.ledger.stored_at(draft.post_id)
            since = stored - LOOKUP_CLOCK_MARGIN if stored else None

            def look() -> Receipt | None:
                with sent_after(since):
                    return channel.lookup(key, draft)

            found = _guarded(channel, "looking the post up", look)
            return found.model_copy(update={"reconciled": True}) if found else None
        if channel.idempotent_publish:
            return None
        raise _unknown(
            channel, f"an earlier send may have reached {channel.name} and this channel cannot "
            "look posts up; check the account, then run: carecast retry POST_ID --resend-unknown")


def _without_metadata(draft: Draft, root: Path) -> Draft:
    """The draft as uploaded: every local image replaced by a copy without its metadata
    (GPS, camera serials, names), always; the stored draft keeps the original paths."""
    if not any(m.kind in (MediaKind.IMAGE, MediaKind.GIF) and not m.is_url
               for part in draft.parts for m in part.media):
        return draft
    from carecast.compliance.images import clean_draft

    return clean_draft(draft, root)


def _masked(post: Post, findings: Sequence[Finding]) -> Post:
    """The post as stored: when a BLOCK finding flagged text in it (a record number, a birth
    date), the spans of its BLOCK and REVIEW findings are masked out, so that what the checks
    flagged is never kept; the findings say where it was. Such a post is never sent from the
    store (see ``Ledger.withheld``); a post only held for REVIEW keeps its text for approvers."""
    if not any(f.action == Action.BLOCK and f.spans for f in findings):
        return post
    flagged = [f.model_copy(update={"action": Action.REDACT, "spans": tuple(
        s.model_copy(update={"replacement": "[withheld]"}) for s in f.spans)})
        for f in findings if f.action in (Action.BLOCK, Action.REVIEW) and f.spans]
    masked: Post = apply_findings(post, flagged).item
    return masked


def _flagged(target: TargetPreview) -> bool:
    """A blocked target whose draft holds text a BLOCK finding flagged: its draft is not kept."""
    return target.state == State.BLOCKED and any(
        f.action == Action.BLOCK and f.spans for f in target.findings)


def _guarded(channel: Channel, doing: str, call: Callable[[], T]) -> T:
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
    raise _unknown(channel, f"the {channel.name} channel failed while {doing} ({bug}); check "
                            "the account, then run: carecast retry POST_ID")


def _unknown(channel: Channel, message: str) -> OutcomeUnknown:
    """An OutcomeUnknown that must not be retried blindly."""
    error = OutcomeUnknown(message, channel=channel.name, account=channel.account)
    error.retryable = False
    return error


def _outcome_of(target: TargetPreview) -> Outcome:
    return Outcome.of(target.account, target.channel, target.state, draft=target.draft,
                      error=target.error, findings=target.findings,
                      held_until=target.held_until)
