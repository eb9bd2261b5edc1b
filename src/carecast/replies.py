"""Replies to what people wrote: a reply is a post with a parent, through the reply gate.

A reply goes the way every post goes (carecast's review hooks, approval bound to the draft's
content hash, the ledger's claim, dispatch with retry and reconcile, the audit chain), with
two more steps: the ``carecast_review_reply`` hook (the built-in reply gate,
``compliance.reply_guard``, fails closed) and, by default, the approval chain for every reply
(``[brands.NAME.replies] approval``). Its id comes from the mention and the words, so sending
the same reply twice sends it once. A reply that a check flags is never sent rewritten: a
REDACT stops it like a BLOCK. The person's comment is read, never stored: the audit chain
records which mention was answered (its channel and id), never what either side wrote.

    replies = Replies(publisher)
    post = replies.compose(mention, template="thanks")
    replies.send(mention, post)          # awaiting approval
    publisher.approve(post.id, "Dana (comms)")
    replies.send(mention, post)          # sent, threaded under the mention
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, cast

from carecast.approvals import chain_state
from carecast.channels import Channel
from carecast.errors import ChannelError, InvalidPost, PostRejected
from carecast.findings import Action, Finding
from carecast.plugins import run_hook
from carecast.post import Draft, Mention, Post, Receipt
from carecast.publish.publisher import Publisher
from carecast.publish.report import Outcome
from carecast.publish.review import TargetPreview, idempotency_key
from carecast.records import Attempt, ErrorInfo, Records, State

__all__ = ["Replies", "ReplyPreview", "reply_id"]

#: The longest reply text carecast takes before any channel's own limit.
MAX_REPLY_CHARS = 10_000


def reply_id(mention: Mention, text: str) -> str:
    """The reply's post id: the same mention answered with the same words is one post."""
    digest = hashlib.sha256("\x1f".join(
        (mention.channel, mention.account, mention.remote_id, text.strip())).encode())
    return f"reply-{digest.hexdigest()[:24]}"


@dataclass(frozen=True)
class ReplyPreview:
    """What a reply would send and what review said of it; nothing is sent or stored."""

    post: Post
    draft: Draft | None
    state: State
    findings: tuple[Finding, ...]
    error: ErrorInfo | None = None

    @property
    def blocked(self) -> bool:
        """A check stopped the reply (or it cannot be sent at all)."""
        return self.state in (State.BLOCKED, State.FAILED)

    def to_dict(self) -> dict[str, Any]:
        """For ``--json``: the reply's words, state and findings (which say where, not what)."""
        return {"post_id": self.post.id, "state": str(self.state),
                "text": self.draft.text if self.draft and not self.blocked else None,
                "findings": [f.model_dump(mode="json") for f in self.findings],
                "error": self.error.to_dict() if self.error else None}


class Replies:
    """Compose, review and send replies with one publisher (its config, ledger and clock)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def compose(self, mention: Mention, *, template: str | None = None,
                text: str | None = None, author: str | None = None) -> Post:
        """The reply post: a template of the account's brand (``{contact}`` filled in) or
        ``text``; raises ``InvalidPost`` naming the field and the fix."""
        account = self._account(mention)
        brand = self.publisher.config.brand_of(account)
        if (template is None) == (text is None):
            raise InvalidPost("reply: give a template (--template NAME) or the words "
                              "(--text ...), not both", [("template", "one of two")])
        if template is not None:
            rules = brand.replies if brand else None
            known = sorted(rules.templates) if rules else []
            if rules is None or template not in rules.templates:
                raise InvalidPost(
                    f"template: no reply template {template!r} for the brand of account "
                    f"{account.name!r} (templates: {', '.join(known) or 'none'}); add it "
                    "under [brands.NAME.replies.templates]", [("template", "unknown")])
            if "{contact}" in rules.templates[template] and not rules.contact.strip():
                raise InvalidPost(
                    f"template: {template!r} names {{contact}} but [brands.NAME.replies] "
                    "contact is empty; set the patient relations number or address",
                    [("contact", "missing")])
            text = rules.templates[template].replace("{contact}", rules.contact)
        assert text is not None
        if not text.strip() or len(text) > MAX_REPLY_CHARS:
            raise InvalidPost(f"text: a reply takes 1 to {MAX_REPLY_CHARS} characters",
                              [("text", "length")])
        return Post(id=reply_id(mention, text), text=text.strip(), targets=(account.name,),
                    brand=account.brand, author=author)

    def preview(self, mention: Mention, post: Post) -> ReplyPreview:
        """Render and review the reply; nothing is stored or sent."""
        return self._review(mention, post, self.publisher.records)

    def send(self, mention: Mention, post: Post) -> Outcome:
        """Review the reply, record it and send it if nothing holds it: once only (a reply
        already sent is reported, not sent again; one whose outcome is unknown is looked up
        before any resend)."""
        account = self._account(mention)
        ledger = self.publisher.ledger
        done = ledger.attempt(post.id, account.name)
        if done is not None and done.state == State.PUBLISHED:
            return Outcome.of(account.name, account.channel, State.PUBLISHED,
                              receipt=done.receipt, already_published=True)
        preview = self._review(mention, post, ledger)
        key = idempotency_key(post.id, account.name)
        stored = post if not preview.blocked else post.model_copy(update={"text": "[withheld]"})
        ready = preview.state == State.PENDING
        claims = ledger.record(stored, [Attempt(
            post.id, account.name, account.channel, preview.state, key, 0,
            self.publisher.clock.now(), None if preview.blocked else preview.draft, None,
            preview.error, preview.findings)], withheld=preview.blocked,
            claim=[account.name] if ready else [],
            stale_after=self.publisher.config.publish.stale_sending_after)
        ledger.note("reply", {"channel": mention.channel, "mention": mention.remote_id[:300],
                              "kind": mention.kind, "state": str(preview.state)},
                    post_id=post.id, account=account.name)
        if not ready or preview.draft is None:
            return Outcome.of(account.name, account.channel, preview.state,
                              draft=preview.draft, error=preview.error,
                              findings=preview.findings)
        sender = _ReplySender(self.publisher.channel(account.name), mention).as_channel()
        target = TargetPreview(account.name, account.channel, State.PENDING, key,
                               preview.draft, preview.findings, None, sender)
        [outcome] = self.publisher.dispatcher.dispatch(
            post, [target], resend_unknown=False, on_progress=None, claims=claims,
            claimed_at=self.publisher.clock.monotonic())
        return outcome

    # -- review ------------------------------------------------------------------------------

    def _account(self, mention: Mention) -> Any:
        account = self.publisher.config.accounts.get(mention.account)
        if account is None:
            known = ", ".join(sorted(self.publisher.config.accounts)) or "none"
            raise InvalidPost(f"mention.account: no account {mention.account!r} in the "
                              f"configuration (accounts: {known})", [("account", "unknown")])
        if account.channel != mention.channel:
            raise InvalidPost(f"mention.channel: the mention is on {mention.channel} but "
                              f"account {account.name!r} is a {account.channel} account",
                              [("channel", "mismatch")])
        return account

    def _review(self, mention: Mention, post: Post, records: Records) -> ReplyPreview:
        account = self._account(mention)
        config, pm = self.publisher.config, self.publisher.plugins
        brand = config.brand_of(account)
        channel = self.publisher.channel(account.name)
        if "reply" not in channel.capabilities():
            return ReplyPreview(post, None, State.FAILED, (), ErrorInfo(
                "ReplyUnsupported", f"the {channel.name} platform allows no reply through its "
                "API; answer in its own app, after the same review", rejected=True))
        try:
            draft = channel.render_reply(post)
        except PostRejected as exc:
            return ReplyPreview(post, None, State.FAILED, (), ErrorInfo.from_exception(exc))
        reviewer = self.publisher.reviewer
        findings = run_hook(pm, "carecast_review_post", post=post, brand=brand,
                            settings=reviewer.settings(account.brand, None, None))
        settings = reviewer.settings(account.brand, account.channel, None)
        now = self.publisher.clock.now()
        findings += run_hook(pm, "carecast_review_draft", for_account=account.name, post=post,
                             draft=draft, account=account, brand=brand, settings=settings,
                             records=records, now=now)
        findings += run_hook(pm, "carecast_review_reply", for_account=account.name,
                             mention=mention, draft=draft, brand=brand, settings=settings)
        every = tuple(findings)
        if any(f.action in (Action.BLOCK, Action.REDACT) for f in every):
            return ReplyPreview(post, draft, State.BLOCKED, every, ErrorInfo(
                "ReplyBlocked", "the reply gate stopped this reply (see its findings); "
                "answer with a template of [brands.NAME.replies]", rejected=True))
        if not any(f.action == Action.REVIEW for f in every):
            return ReplyPreview(post, draft, State.PENDING, every)
        chain = chain_state(config.approvals,
                            records.decisions(post.id, account.name, draft.content_hash()))
        if chain.rejected is not None:
            return ReplyPreview(post, draft, State.BLOCKED, every, ErrorInfo(
                "Rejected", f"rejected by {chain.rejected.approver} at the "
                f"{chain.rejected.step} step; write another reply", rejected=True))
        return ReplyPreview(post, draft, State.PENDING if chain.complete
                            else State.AWAITING_APPROVAL, every)


class _ReplySender:
    """The account's channel as the dispatcher sees it for one reply: ``publish`` replies to
    the mention; everything else (limits, host, lookup, errors) is the channel's own."""

    def __init__(self, channel: Channel, mention: Mention) -> None:
        self._inner, self._mention = channel, mention

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def publish(self, draft: Draft, key: str) -> Receipt:
        """Send the reply (the only write), with the key the ledger keeps for it. An error
        whose answer quotes what the person wrote is withheld (``Channel.withheld``), on
        every channel, before the ledger, a log or the caller sees it."""
        try:
            return self._inner.reply(self._mention, draft, key)
        except ChannelError as exc:
            self._raise_withheld(exc)
            raise

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The reply as the platform holds it (the channel's ``lookup_reply``)."""
        try:
            return self._inner.lookup_reply(self._mention, draft, key)
        except ChannelError as exc:
            self._raise_withheld(exc)
            raise

    def _raise_withheld(self, exc: ChannelError) -> None:
        clean = self._inner.withheld(exc, self._mention.text, self._mention.author)
        if clean is not exc:
            raise clean from None  # the original, quoting the person, goes nowhere

    def as_channel(self) -> Channel:
        """This wrapper, typed as the channel it stands for."""
        return cast(Channel, self)
