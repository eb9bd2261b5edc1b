"""A post with a BLOCK finding never reaches any channel, whatever else it contains."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carecast import Action, ChannelOverride, Finding, Post, Span, State, hookimpl
from carecast.compliance import accessibility, advice, policy

from ._helpers import config

ACTIONS = [Action.REVIEW, Action.WARN, Action.INFO, Action.REDACT]
TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x1FAFF,
                             exclude_categories=("Cs", "Cc")),
               max_size=120)


class Scripted:
    """Makes the findings a test draws, at the post or at one account's draft."""

    def __init__(self, at_post: list[Finding], at_draft: dict[str, list[Finding]]) -> None:
        self.at_post, self.at_draft = at_post, at_draft

    @hookimpl
    def carecast_review_post(self, post: Post) -> list[Finding]:
        return self.at_post

    @hookimpl
    def carecast_review_draft(self, draft: Any) -> list[Finding]:
        return self.at_draft.get(draft.account, [])


@st.composite
def findings(draw: st.DrawFn, field: str, length: int) -> Finding:
    action = draw(st.sampled_from(ACTIONS))
    spans: tuple[Span, ...] = ()
    if action is Action.REDACT:
        start = draw(st.integers(0, length))
        spans = (Span(start=start, end=draw(st.integers(start, length + 3))),)
    return Finding(action=action, code="test.other", message="somewhere", field=field,
                   spans=spans)


@st.composite
def posts(draw: st.DrawFn) -> Post:
    text = draw(TEXT.filter(str.strip))
    return Post(
        text=text, title=draw(st.none() | TEXT.filter(str.strip)),
        hashtags=draw(st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True),
                               max_size=3)),
        thread=draw(st.lists(TEXT.filter(str.strip), max_size=2)),
        campaign=draw(st.none() | st.sampled_from(["flu-2026", "acme-flu"])),
        overrides=draw(st.sampled_from([{}, {"b": ChannelOverride(text="Short version.")},
                                        {"fake": ChannelOverride(options={"in_reply_to": "9"})}])),
    )


ACCOUNTS = ["a", "b", "c"]
FEW = settings(max_examples=60, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])
CHECKS = {"policy": {"campaigns": {"acme-flu": {"sponsored": True}}}}


@FEW
@given(post=posts(), data=st.data())
def test_a_block_anywhere_sends_nothing(fake_publisher: Any, post: Post,
                                        data: st.DataObject) -> None:
    # One BLOCK, at the post or at a random account's draft, among any other findings.
    others = data.draw(st.lists(findings("text", len(post.text)), max_size=3))
    block = Finding(action=Action.BLOCK, code="test.block", message="somewhere",
                    field=data.draw(st.sampled_from(["*", "text"])))
    at_post = data.draw(st.booleans())
    blocked = ACCOUNTS if at_post else [data.draw(st.sampled_from(ACCOUNTS))]
    plugin = Scripted(
        at_post=[*others, block] if at_post else others,
        at_draft={} if at_post else {blocked[0]: [Finding(
            action=Action.BLOCK, code="test.block", message="somewhere",
            field="parts[0].text")]})
    publisher = fake_publisher(ACCOUNTS, plugins=[plugin, advice, policy, accessibility],
                               config=config(CHECKS, accounts=ACCOUNTS))
    report = publisher.publish(post)
    for target in publisher.preview(post).targets:  # an approval never lifts a BLOCK
        if target.draft is not None:
            publisher.ledger.approve(post.id, target.account, approver="qa",
                                     draft_hash=target.draft.content_hash())
    again = publisher.publish(post)
    sent_to = {publisher.platform.posts[k]["draft"].account for k in publisher.platform.sends}
    for account in blocked:
        assert report[account].state == State.BLOCKED
        assert again[account].state == State.BLOCKED
        assert account not in sent_to
    if at_post:
        assert publisher.platform.sends == []


@FEW
@given(before=TEXT, after=TEXT, post=posts())
def test_a_real_check_block_sends_nothing(fake_publisher: Any, before: str, after: str,
                                          post: Post) -> None:
    """A suicide-prevention message without the crisis line, among any other content."""
    text = f"{before} Suicide prevention starts with a conversation. {after}".replace("988", "")
    post = post.model_copy(update={"text": text, "thread": tuple(
        t.replace("988", "") for t in post.thread), "overrides": {},
        "title": (post.title or "").replace("988", "") or None})
    publisher = fake_publisher(ACCOUNTS, plugins=[advice, policy, accessibility],
                               config=config(CHECKS, accounts=ACCOUNTS))
    report = publisher.publish(post)
    assert all(o.state == State.BLOCKED for o in report.outcomes)
    assert publisher.platform.sends == []
