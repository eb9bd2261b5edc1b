"""Review: render each target's draft, run the checks, and decide what may be sent.

It only reads: recorded consents and approval decisions come through a ``Records`` view, so
a preview or a dry run works with no store at all and never creates one.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pluggy

from carecast.approvals import approval_due, chain_state, needs_approval
from carecast.channels import Channel
from carecast.clock import Clock
from carecast.config import CheckSettings, Config
from carecast.errors import CarecastError, InvalidPost, PostRejected
from carecast.findings import Action, Finding
from carecast.links import LinkTagger, hook_shortener
from carecast.plugins import DEFAULT_PLUGINS, run_hook
from carecast.post import Draft, Post
from carecast.publish.gate import apply_findings
from carecast.records import Attempt, ErrorInfo, Records, State
from carecast.schedule import in_zone

__all__ = ["Preview", "Reviewer", "TargetPreview", "idempotency_key"]

log = logging.getLogger("carecast.publish")


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

    @property
    def ready(self) -> bool:
        """It may be sent now: nothing blocks or holds it."""
        return self.state == State.PENDING and self.held_until is None


@dataclass(frozen=True)
class Preview:
    """The review of a post for every target: drafts, lengths against limits, findings."""

    post: Post
    findings: tuple[Finding, ...]
    targets: tuple[TargetPreview, ...]

    @property
    def ok(self) -> bool:
        """True when every target would be sent (none blocked, failed or held)."""
        return all(t.ready for t in self.targets)


@dataclass
class Reviewer:
    """Renders and reviews posts for a configuration's accounts; reads, never writes."""

    config: Config
    plugins: pluggy.PluginManager
    channel: Callable[[str], Channel]
    clock: Clock
    #: The channel classes given beside the installed ones (``Publisher(channel_classes=)``).
    classes: Mapping[str, type[Channel]] = field(default_factory=dict)
    #: The settings of each (brand, channel, campaign) reviewed: made once, for every post
    #: (each check's table is merged and validated once, not per post).
    _settings: dict[tuple[str | None, str | None, str | None], CheckSettings] = field(
        default_factory=dict, init=False, repr=False)

    def _publishes(self, account: str) -> bool:
        """Whether posts go to the account (not a read-only listing), from its channel's
        class (nothing is built); an unknown channel is kept, so its error is reported."""
        from carecast.channels.registry import get_channel_class

        try:
            return get_channel_class(self.config.accounts[account].channel,
                                     self.classes).publishes
        except CarecastError:
            return True

    @functools.cached_property
    def tagger(self) -> LinkTagger:
        """Adds each account's UTM parameters (and short links) to a post's links."""
        return LinkTagger(self.config, hook_shortener(self.plugins))

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
                     if a.enabled and (brand is None or a.brand == brand)
                     and self._publishes(a.name)]
        if only:
            known, wanted = set(names), set(only)  # sets: a retry narrows thousands of targets
            missing = [n for n in only if n not in known]
            if missing:
                raise InvalidPost(
                    f"only: {', '.join(missing)} is not a target of this post "
                    f"(targets: {', '.join(names) or 'none'})",
                    [("only", "not a target")],
                )
            names = [n for n in names if n in wanted]
        if not names:
            raise InvalidPost("targets: no enabled account to publish to; add accounts to "
                              "carecast.toml or targets to the post", [("targets", "empty")])
        return names

    def localized(self, post: Post) -> Post:
        """``post`` with its local times (no UTC offset) resolved in its brand's time zone."""
        times = {name: getattr(post, name) for name in ("schedule", "not_after")}
        if all(t is None or t.tzinfo is not None for t in times.values()):
            return post
        tz = self.config.zone_of(post.brand or self.config.default_brand())
        return post.model_copy(update={
            name: in_zone(t, tz, field=name) for name, t in times.items() if t is not None})

    def review(self, post: Post, names: Sequence[str], records: Records,
               skip: Mapping[str, Attempt] | None = None) -> Preview:
        """Review ``post`` for the accounts ``names`` (less ``skip``)."""
        post = self.localized(post)
        brand = post.brand or self.config.default_brand()
        settings = self.settings(brand, None, post.campaign)
        post_findings = run_hook(
            self.plugins, "carecast_review_post", post=post,
            brand=self.config.brands.get(brand) if brand else None, settings=settings)
        gated = apply_findings(post, post_findings)
        reviewed: Post = gated.item
        names = [name for name in names if name not in (skip or {})]
        # Alike drafts: a built-in check runs once (nothing to share with one target).
        reuse: dict[Hashable, list[Finding]] | None = {} if len(names) > 1 else None
        targets = [self._target(reviewed, name, gated.findings, records, reuse)
                   for name in names]
        return Preview(post, gated.findings, tuple(targets))

    def settings(self, brand: str | None, channel: str | None, campaign: str | None
                 ) -> CheckSettings:
        """The check settings of a post (``channel`` None) or a draft, made once."""
        key = (brand, channel, campaign)
        found = self._settings.get(key)
        if found is None:
            if len(self._settings) >= 1024:  # campaigns come and go: a bound on memory
                self._settings.clear()
            found = self._settings[key] = CheckSettings(self.config, brand, channel, campaign)
        return found

    def _target(self, post: Post, name: str, post_findings: Sequence[Finding],
                records: Records, reuse: dict[Hashable, list[Finding]] | None
                ) -> TargetPreview:
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
            draft = channel.render(self.tagger.tag_post(post, account))
        except CarecastError as exc:
            return TargetPreview(name, account.channel, State.FAILED, key,
                                 error=ErrorInfo.from_exception(exc))
        except Exception as exc:  # a channel bug must not stop the other targets
            log.exception("rendering for account %s failed", name)
            return TargetPreview(name, account.channel, State.FAILED, key, error=ErrorInfo(
                type(exc).__name__, f"the {account.channel} channel failed to render the post"))
        now = self.clock.now()
        settings = self.settings(account.brand, account.channel, post.campaign)
        # What a check that takes nothing of the account is given: this post, the draft but
        # its account, and the brand, channel and campaign its settings and brand come from.
        alike = (id(post), draft.model_dump_json(exclude={"account"}), account.brand,
                 account.channel, post.campaign) if reuse is not None else None
        findings = run_hook(
            self.plugins, "carecast_review_draft", for_account=name, reuse=reuse,
            reuse_key=alike, post=post, draft=draft, account=account,
            brand=self.config.brand_of(account), settings=settings, records=records, now=now)
        findings += [f.model_copy(update={"account": name})
                     for f in settings.once(disabled_checks, lambda: disabled_checks(settings))]
        gated = apply_findings(draft, findings, count=channel.count)
        draft = gated.item
        every = tuple(post_findings) + gated.findings
        try:
            for i, part in enumerate(draft.parts):  # a redaction may change a part's length
                channel.check_length(f"parts[{i}].text", part.text)
        except PostRejected as exc:
            return TargetPreview(name, account.channel, State.FAILED, key, draft, every,
                                 ErrorInfo.from_exception(exc), channel)
        state, error = State.PENDING, None
        if any(f.action == Action.BLOCK for f in every):
            state = State.BLOCKED
        elif needs_approval(self.config.approvals, post, account.brand, every):
            state, error = self._approval_state(post, name, draft, records, now)
        if state in (State.PENDING, State.AWAITING_APPROVAL) and post.not_after is not None \
                and now > post.not_after:
            state, error = State.HELD, ErrorInfo("Expired", (
                f"its time passed: it is never published after {post.not_after.isoformat()} "
                "(not_after); give it a new time (carecast schedule) or drop it"),
                rejected=True)
        held = draft.schedule if (draft.schedule and draft.schedule > now
                                  and not channel.supports_scheduling) else None
        return TargetPreview(name, account.channel, state, key, draft, every, error, channel,
                             held)

    def _approval_state(self, post: Post, account: str, draft: Draft, records: Records,
                        now: datetime) -> tuple[State, ErrorInfo | None]:
        chain = chain_state(self.config.approvals,
                            records.decisions(post.id, account, draft.content_hash()))
        if chain.rejected is not None:
            return State.BLOCKED, ErrorInfo("Rejected", (
                f"rejected by {chain.rejected.approver} at the {chain.rejected.step} step; "
                "edit the post (a new draft needs the chain again)"), rejected=True)
        if chain.complete:
            return State.PENDING, None
        due = approval_due(self.config.approvals, post)
        if due is not None and now >= due:
            return State.BLOCKED, ErrorInfo("ApprovalMissed", (
                f"the approval chain was not complete by {due.isoformat()}, "
                f"{self.config.approvals.deadline:g} s before the scheduled time; it is not "
                f"published (waiting for the {chain.next_step} step): give the post a new "
                "schedule"), rejected=True)
        return State.AWAITING_APPROVAL, None


def disabled_checks(settings: CheckSettings) -> list[Finding]:
    """An INFO finding for each built-in check switched off where ``settings`` apply, naming
    who switched it off and why; findings go into the audit trail with the post."""
    out: list[Finding] = []
    for name, _module in DEFAULT_PLUGINS:
        table = settings.get(name)
        if table.get("enabled", True) is not False:
            continue
        by = str(table.get("disabled_by") or "nobody named")[:120]
        why = str(table.get("reason") or "no reason given")[:200]
        scope = f"brand {settings.brand}" if settings.brand else "every brand"
        out.append(Finding(action=Action.INFO, code="review.check_disabled", check=name,
                           message=f"the built-in {name} check is off for {scope}: "
                                   f"disabled by {by} ({why})"))
    return out
