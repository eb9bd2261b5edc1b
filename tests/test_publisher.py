"""The publisher: fan-out, review gate, ledger states, retry with reconcile, re-runs."""

from __future__ import annotations

import asyncio

import pytest

from carecast import Action, Finding, Post, PublishError, Span, State, hookimpl
from carecast.errors import (
    AuthenticationError,
    ChannelServerError,
    DuplicatePost,
    InvalidPost,
    OutcomeUnknown,
    RateLimited,
)
from carecast.publish.publisher import idempotency_key
from carecast.testing import fake_config

POST = Post(id="flu-1", text="Our flu clinic opens Monday at 9.", hashtags=["flu"])


def test_publishes_to_every_account_once(fake_publisher) -> None:
    publisher = fake_publisher(["a", "b", "c"])
    report = publisher.publish(POST)
    assert report.ok
    assert report.counts == {"published": 3}
    assert sorted(publisher.platform.sends) == sorted(
        idempotency_key(POST.id, name) for name in ("a", "b", "c"))
    assert {o.account for o in report.outcomes} == {"a", "b", "c"}
    assert all(o.tries == 1 for o in report.outcomes)
    assert publisher.platform.posts  # the fake platform holds them
    again = publisher.publish(POST)
    assert all(o.already_published for o in again.outcomes)
    assert len(publisher.platform.sends) == 3  # nothing sent twice


def test_one_failing_channel_never_stops_the_others(fake_publisher) -> None:
    publisher = fake_publisher(["a", "b"])
    publisher.platform.fail("a", AuthenticationError("token expired; renew it"))
    report = publisher.publish(POST)
    assert report["a"].state == State.FAILED
    assert report["a"].error.type == "AuthenticationError"
    assert report["b"].state == State.PUBLISHED
    with pytest.raises(PublishError) as info:
        report.raise_for_failures()
    assert info.value.report is report
    assert "a (failed)" in str(info.value)
    # the failed target is retried by `retry`; the published one is not sent again
    retried = publisher.retry(POST.id)
    assert retried["a"].state == State.PUBLISHED
    assert retried["b"].already_published
    assert len(publisher.platform.sends) == 2


def test_server_error_is_reconciled_before_resend(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    # the platform stores the post, then fails with a 500
    publisher.platform.fail("a", ("after", ChannelServerError("boom", status=500)))
    report = publisher.publish(POST)
    outcome = report["a"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.reconciled
    assert len(publisher.platform.sends) == 1


def test_timeout_then_lookup_finds_nothing_then_sends(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    publisher.platform.fail("a", OutcomeUnknown("no answer"))  # raised before storing
    report = publisher.publish(POST)
    assert report["a"].state == State.PUBLISHED
    assert not report["a"].receipt.reconciled
    assert report["a"].tries == 2
    assert len(publisher.platform.sends) == 1


def test_rate_limit_waits_as_asked(fake_publisher, no_sleep) -> None:
    publisher = fake_publisher(["a"])
    publisher.platform.fail("a", RateLimited("slow down", retry_after=12))
    assert publisher.publish(POST)["a"].state == State.PUBLISHED
    assert no_sleep.clock.sleeps == [12]


def test_unknown_outcome_is_kept_unknown_when_retries_run_out(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    publisher.platform.fail("a", *[("after", OutcomeUnknown("x"))] + [
        ChannelServerError("down") for _ in range(10)])
    publisher.platform.posts.clear()
    report = publisher.publish(POST)
    # the first send landed; the reconcile on the next attempt finds it
    assert report["a"].state == State.PUBLISHED
    assert report["a"].receipt.reconciled
    assert len(publisher.platform.sends) == 1


def test_channel_without_lookup_marks_unknown_and_never_resends(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    channel = publisher.channel("a")
    type(channel).lookup = None  # type: ignore[assignment,method-assign]
    # without lookup the channel cannot reconcile
    type(channel).can_lookup = property(lambda self: False)  # type: ignore[method-assign,assignment]
    publisher.platform.fail("a", ("after", OutcomeUnknown("no answer")))
    report = publisher.publish(POST)
    assert report["a"].state == State.UNKNOWN
    assert "cannot look posts up" in report["a"].error.message
    assert len(publisher.platform.sends) == 1
    assert publisher.retry(POST.id)["a"].state == State.UNKNOWN
    assert len(publisher.platform.sends) == 1
    # after checking by hand, the user resends on purpose
    assert publisher.retry(POST.id, resend_unknown=True)["a"].state == State.PUBLISHED
    assert len(publisher.platform.sends) == 2


def test_an_unknown_outcome_gets_the_next_step_unless_the_error_gives_one(
        fake_publisher) -> None:
    """The publisher adds its hint by the error's ``next_step_given`` flag, not by what the
    message happens to say."""
    publisher = fake_publisher(["a", "b"])
    publisher.platform.fail("a", ("after", OutcomeUnknown(
        "two parts are there; delete them by hand", retryable=False, next_step_given=True)))
    publisher.platform.fail("b", ("after", OutcomeUnknown(
        "no answer to carecast retry's earlier send", retryable=False)))
    report = publisher.publish(POST)
    assert report["a"].state == report["b"].state == State.UNKNOWN
    assert report["a"].error.message.endswith("two parts are there; delete them by hand")
    assert report["b"].error.message.endswith(
        "no answer to carecast retry's earlier send; run: carecast retry flu-1 (it looks the "
        "post up before sending again)")
    flagged = OutcomeUnknown("x", next_step_given=True)
    assert flagged.replace(retryable=False).next_step_given
    assert not OutcomeUnknown("x").next_step_given


def test_a_builtin_check_reviews_alike_drafts_once_and_each_account_gets_its_findings(
        fake_publisher) -> None:
    """Accounts whose drafts are alike share a built-in check's answer (it takes nothing of
    the account); an account with its own text is reviewed on its own, and a third-party
    plugin is called for every account."""
    calls: list[str] = []

    class Counting:
        @hookimpl
        def carecast_review_draft(self, draft):
            calls.append(draft.account)

    publisher = fake_publisher(["a", "b", "c"], plugins=[Counting()])
    advice = [i for i in publisher.plugins.hook.carecast_review_draft.get_hookimpls()
              if i.plugin_name == "advice"]
    [impl] = advice
    real, advised = impl.function, []

    def counted(*args):
        advised.append(args)
        return real(*args)

    impl.function = counted
    post = Post(id="alike", text="You should stop taking your insulin if you feel dizzy.",
                overrides={"c": {"text": "Flu shots on Monday."}})
    preview = publisher.preview(post)
    by_account = {t.account: [(f.check, f.code, f.account) for f in t.findings]
                  for t in preview.targets}
    assert by_account == {"a": [("advice", "advice.treatment", "a")],
                          "b": [("advice", "advice.treatment", "b")], "c": []}
    assert len(advised) == 2  # once for a and b, once for c's own text
    assert sorted(calls) == ["a", "b", "c"]


def test_duplicate_after_uncertain_send_is_found(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    publisher.platform.fail("a", ("after", OutcomeUnknown("x")))
    # make lookup miss once (eventual consistency), then the resend meets a duplicate
    channel = publisher.channel("a")
    real_lookup = channel.lookup
    misses = [True]

    def lookup(key, draft):
        if misses:
            misses.pop()
            return None
        return real_lookup(key, draft)

    channel.lookup = lookup  # type: ignore[method-assign]
    publisher.platform.fail("a", DuplicatePost("already there", status=403))
    report = publisher.publish(POST)
    assert report["a"].state == State.PUBLISHED
    assert report["a"].receipt.reconciled
    assert len(publisher.platform.sends) == 1


def test_unexpected_channel_exception_is_unknown_not_resent(fake_publisher) -> None:
    publisher = fake_publisher(["a", "b"])
    publisher.platform.fail("a", ("after", KeyError("bug")))
    report = publisher.publish(POST)
    assert report["a"].state == State.UNKNOWN
    assert report["a"].error.type == "OutcomeUnknown"
    assert report["b"].state == State.PUBLISHED


def test_render_rejection_is_stored_with_the_reason(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    post = Post(id="big", text="x", media=[{"source": f"https://c.example/{i}.jpg"}
                                           for i in range(6)])
    report = publisher.publish(post)
    outcome = report["a"]
    assert outcome.state == State.FAILED
    assert outcome.error.type == "LimitExceeded"
    assert "media: 6 items is over the fake limit of 4" in outcome.error.message
    row = publisher.ledger.attempt("big", "a")
    assert row.state == State.FAILED
    assert publisher.ledger.get_post("big") == post
    assert publisher.platform.sends == []


def test_long_text_becomes_a_numbered_thread(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    text = " ".join(f"Sentence number {i} about vaccines." for i in range(30))
    report = publisher.publish(Post(text=text))
    lengths = report["a"].lengths
    assert len(lengths) > 1
    assert all(length <= limit for length, limit in lengths)
    draft = next(iter(publisher.platform.posts.values()))["draft"]
    assert draft.parts[0].text.endswith(f" 1/{len(lengths)}")


def test_unknown_target_and_only(fake_publisher) -> None:
    publisher = fake_publisher(["a", "b"])
    report = publisher.publish(Post(text="x", targets=["a", "ghost"]))
    assert report["a"].state == State.PUBLISHED
    assert report["ghost"].state == State.FAILED
    assert "no account 'ghost'" in report["ghost"].error.message
    only = publisher.publish(Post(text="y"), only=["b"])
    assert [o.account for o in only.outcomes] == ["b"]
    with pytest.raises(InvalidPost, match="only: c is not a target"):
        publisher.publish(Post(text="y"), only=["c"])


def test_dry_run_stores_and_sends_nothing(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    report = publisher.publish(POST, dry_run=True)
    assert report.dry_run
    assert report["a"].state == State.PENDING
    assert publisher.ledger.get_post(POST.id) is None
    assert publisher.platform.sends == []


class Blocker:
    @hookimpl
    def carecast_review_post(self, post):
        if "MRN" in post.text:
            return [Finding(action=Action.BLOCK, code="phi.mrn", message="an MRN in text",
                            field="text")]
        return None


class Reviewer:
    @hookimpl
    def carecast_review_draft(self, draft, account):
        if account.name == "b":
            return [Finding(action=Action.REVIEW, code="policy.review",
                            message="needs a look", field="parts[0].text")]
        return [Finding(action=Action.WARN, code="style.short", message="short")]


def test_block_stops_every_target_and_keeps_the_post(fake_publisher) -> None:
    publisher = fake_publisher(["a", "b"], plugins=[Blocker()])
    post = Post(id="leak", text="Patient MRN 12345 is home")
    report = publisher.publish(post)
    assert report.counts == {"blocked": 2}
    assert publisher.platform.sends == []
    assert publisher.ledger.get_post("leak") is not None
    assert "Blocker" in {f.check for f in report["a"].findings}
    assert "12345" not in str(report.to_dict())


def test_review_holds_until_approved_and_edit_voids_approval(fake_publisher) -> None:
    publisher = fake_publisher(["a", "b"], plugins=[Reviewer()])
    post = Post(id="tip", text="Wash your hands.")
    report = publisher.publish(post)
    assert report["a"].state == State.PUBLISHED
    assert report["a"].findings[0].action == Action.WARN
    assert report["b"].state == State.AWAITING_APPROVAL
    assert report.ok  # held is not failed
    assert publisher.publish(post)["b"].state == State.AWAITING_APPROVAL
    assert publisher.approve("tip", "comms-lead") == ["b"]
    assert publisher.publish(post)["b"].state == State.PUBLISHED
    # an edited post (a new draft) is not covered by the old approval
    edited = Post(id="tip2", text="Wash your hands well.")
    assert publisher.publish(edited)["b"].state == State.AWAITING_APPROVAL


def test_a_raising_hook_blocks(fake_publisher) -> None:
    class Broken:
        @hookimpl
        def carecast_review_draft(self, draft):
            raise RuntimeError("Jane Roe leaked into the message")

    publisher = fake_publisher(["a"], plugins=[Broken()])
    report = publisher.publish(POST)
    assert report["a"].state == State.BLOCKED
    finding = report["a"].findings[0]
    assert finding.code == "review.error"
    assert "Jane Roe" not in finding.message


def test_an_id_reused_for_other_content_is_refused(fake_publisher) -> None:
    publisher = fake_publisher(["a"])
    publisher.publish(Post(id="same", text="first"))
    with pytest.raises(InvalidPost, match="already published with other content"):
        publisher.publish(Post(id="same", text="second"))


def test_apublish(fake_publisher) -> None:
    publisher = fake_publisher(["a", "b"])
    report = asyncio.run(publisher.apublish(POST))
    assert report.counts == {"published": 2}


def test_progress_callback_sees_every_target(fake_publisher) -> None:
    publisher = fake_publisher(4)
    seen = []
    publisher.publish(POST, on_progress=seen.append)
    assert sorted(o.account for o in seen) == ["acct0", "acct1", "acct2", "acct3"]


def _tracking(publisher, key):
    """Make the fake channel record the peak of sends in flight per ``key(channel)``."""
    import threading
    import time
    from collections import Counter

    active, peak, lock = Counter(), Counter(), threading.Lock()
    cls = type(publisher.channel(next(iter(publisher.config.accounts))))
    original = cls.publish

    def slow(self, draft, k):
        with lock:
            active[key(self)] += 1
            active["*"] += 1
            peak[key(self)] = max(peak[key(self)], active[key(self)])
            peak["*"] = max(peak["*"], active["*"])
        time.sleep(0.01)
        with lock:
            active[key(self)] -= 1
            active["*"] -= 1
        return original(self, draft, k)

    cls.publish = slow  # type: ignore[method-assign]
    return peak


def test_the_host_limit_holds_across_accounts(fake_publisher) -> None:
    publisher = fake_publisher(config=fake_config(20, concurrency=10, per_host=3))
    peak = _tracking(publisher, lambda channel: channel.limit_host)
    assert publisher.dispatcher.limits.of(publisher.channel("acct0")) == (64, 3)
    assert publisher.publish(POST).counts == {"published": 20}
    assert 1 < peak["fake"] <= 3


def test_the_channel_limit_is_per_account_not_per_channel(fake_publisher) -> None:
    """Ten accounts of a channel whose accounts take one send at a time: ten at once."""
    publisher = fake_publisher(config=fake_config(10, concurrency=10, per_host=64))
    cls = type(publisher.channel("acct0"))
    cls.per_account = 1
    peak = _tracking(publisher, lambda channel: channel.account)
    assert publisher.dispatcher.limits.of(publisher.channel("acct0")) == (1, 64)
    assert publisher.publish(POST).counts == {"published": 10}
    assert peak["*"] > 4  # was capped at 4 by the channel name, whatever concurrency said
    assert max(v for k, v in peak.items() if k != "*") == 1


def test_an_account_limit_holds_across_posts_published_at_once(fake_publisher) -> None:
    from concurrent.futures import ThreadPoolExecutor

    publisher = fake_publisher(config=fake_config(["a", "b"], concurrency=8, per_account=1))
    peak = _tracking(publisher, lambda channel: channel.account)
    posts = [Post(id=f"p{i}", text=f"Clinic update {i}.") for i in range(6)]
    with ThreadPoolExecutor(6) as callers:
        assert all(r.ok for r in callers.map(publisher.publish, posts))
    assert peak["a"] == 1
    assert peak["b"] == 1


def test_per_channel_limits_and_an_accounts_own_win(fake_publisher) -> None:
    config = fake_config(["a", "b"], per_account=5, per_host=20,
                         channels={"fake": {"per_account": 2, "per_host": 7}})
    config.accounts["b"] = config.accounts["b"].model_copy(update={"concurrency": 3})
    publisher = fake_publisher(config=config)
    assert publisher.dispatcher.limits.of(publisher.channel("a")) == (2, 7)
    assert publisher.dispatcher.limits.of(publisher.channel("b")) == (3, 7)


def test_a_rate_limit_makes_the_accounts_other_sends_wait(fake_publisher) -> None:
    from carecast.errors import RateLimited

    publisher = fake_publisher(config=fake_config(["a"], per_account=1))
    publisher.platform.fail("a", RateLimited("slow down", channel="fake", account="a",
                                             status=429, retry_after=30.0))
    assert publisher.publish(POST).ok
    assert publisher.clock.sleeps == [30.0]  # the retry waited once, for the reset
    publisher.dispatcher.limits.slow_down(publisher.channel("a"), RateLimited(
        "x", channel="fake", account="a", retry_after=12.0))
    assert publisher.publish(Post(id="next", text="The next one.")).ok
    assert publisher.clock.sleeps == [30.0, 12.0]  # a new send waited for the reset first


@pytest.mark.parametrize("by", ["account", "host"])
def test_a_rate_limit_slows_its_domain_not_the_channel(fake_publisher, monkeypatch, by) -> None:
    """A 429 with a reset pauses the account (or, for a channel whose platform budgets a host
    as a whole, every account on that host); other accounts and hosts go on at once."""
    from carecast.errors import RateLimited

    publisher = fake_publisher(config=fake_config(["a", "b"]))
    monkeypatch.setattr(type(publisher.channel("a")), "rate_limits_by", by)
    publisher.dispatcher.limits.slow_down(publisher.channel("a"), RateLimited(
        "x", channel="fake", account="a", retry_after=20.0))
    assert publisher.publish(Post(id="b-only", text="To b.", targets=["b"])).ok
    assert publisher.clock.sleeps == ([] if by == "account" else [20.0])
    monkeypatch.setattr(type(publisher.channel("b")), "limit_host",
                        property(lambda self: f"host-of-{self.account}"))
    publisher.dispatcher.limits.slow_down(publisher.channel("a"), RateLimited(
        "x", channel="fake", account="a", retry_after=25.0))
    before = list(publisher.clock.sleeps)
    assert publisher.publish(Post(id="b-again", text="To b again.", targets=["b"])).ok
    assert publisher.clock.sleeps == before  # b is on another host now: it never waits


def test_brand_selects_accounts() -> None:
    from carecast.config import Config
    from carecast.publish import Publisher
    from carecast.testing import FakeChannel

    config = Config.from_dict({
        "store": {"url": "sqlite:///:memory:"},
        "brands": {"north": {"name": "North"}, "south": {"name": "South"}},
        "accounts": {"n1": {"channel": "fake", "brand": "north"},
                     "s1": {"channel": "fake", "brand": "south"}},
    }, environ={})
    with Publisher(config, entry_point_plugins=False,
                   channel_classes={"fake": FakeChannel}) as publisher:
        assert [t.account for t in publisher.preview(Post(text="x", brand="south")).targets] \
            == ["s1"]
        with pytest.raises(InvalidPost, match="several brands"):
            publisher.preview(Post(text="x"))
        with pytest.raises(InvalidPost, match="brand: 'west'"):
            publisher.preview(Post(text="x", brand="west"))


def test_scheduled_post_waits_for_its_time(fake_publisher) -> None:
    from datetime import UTC, datetime, timedelta

    from carecast.testing import FrozenClock

    clock = FrozenClock(datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    publisher = fake_publisher(["a"], clock=clock)
    post = Post(id="later", text="Clinic opens at 9", schedule=clock.now() + timedelta(hours=1))
    report = publisher.publish(post)
    assert report["a"].state == State.PENDING
    assert report["a"].held_until == post.schedule
    assert "scheduled for 2026-11-21T09:00:00+00:00" in report["a"].summary
    assert report.ok
    assert report.waiting == report.outcomes
    assert publisher.platform.sends == []
    assert publisher.ledger.attempt("later", "a").state == State.PENDING
    clock.advance(hours=1, seconds=1)
    assert publisher.publish(post)["a"].state == State.PUBLISHED


def test_channel_that_schedules_itself_gets_the_post_at_once(fake_publisher) -> None:
    from datetime import UTC, datetime, timedelta

    publisher = fake_publisher(["a"])
    type(publisher.channel("a")).supports_scheduling = True
    post = Post(text="x", schedule=datetime.now(UTC) + timedelta(days=2))
    assert publisher.publish(post)["a"].state == State.PUBLISHED
    draft = next(iter(publisher.platform.posts.values()))["draft"]
    assert draft.schedule == post.schedule


class RecordNumbers:
    """Blocks MRNs where they are, with spans, as the PHI guard does."""

    @hookimpl
    def carecast_review_post(self, post):
        import re

        return [Finding(action=Action.BLOCK, code="phi.mrn", field="text",
                        spans=(Span(start=m.start(), end=m.end()),),
                        message=f"text at {m.start()}: a medical record number")
                for m in re.finditer(r"MRN \d{6,}", post.text)] + [
            Finding(action=Action.REVIEW, code="phi.name", field="text",
                    spans=(Span(start=m.start(), end=m.end()),),
                    message=f"text at {m.start()}: a name in a post about a patient")
            for m in re.finditer(r"Dana Whitlock", post.text)]


def test_blocked_phi_is_never_kept_in_the_store(fake_publisher) -> None:
    """The whole store is searched: the flagged identifier is nowhere, the post is kept with
    it masked, the findings say where it was, and the stored copy can never be resent."""
    publisher = fake_publisher(["a", "b"], plugins=[RecordNumbers()])
    post = Post(id="story", text="Thank you to our patient Dana Whitlock, MRN 00482913, for "
                                 "the kind note.")
    report = publisher.publish(post)
    assert {o.state for o in report.outcomes} == {State.BLOCKED}
    assert publisher.platform.sends == []
    with publisher.ledger.engine.connect() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(str(row) for t in tables
                         for row in conn.exec_driver_sql(f"SELECT * FROM {t}"))
    assert "00482913" not in dump
    assert "Whitlock" not in dump  # a blocked post keeps none of its flagged text
    stored = publisher.ledger.get_post("story")
    assert stored.text == "Thank you to our patient [withheld], [withheld], for the kind note."
    assert publisher.ledger.attempt("story", "a").findings[0].code == "phi.mrn"
    with pytest.raises(InvalidPost, match="fix the post file"):
        publisher.resume("story")
    fixed = Post(id="story", text="Thank you to our patient for the kind note.")
    assert publisher.publish(fixed).ok
    assert not publisher.ledger.withheld("story")


def test_a_target_queued_past_half_the_stale_time_checks_its_claim(fake_publisher,
                                                                   monkeypatch) -> None:
    publisher = fake_publisher(config=fake_config(["a", "b"], stale_sending_after=10))
    renewed: list[str] = []
    monkeypatch.setattr(publisher.ledger, "renew_claim",
                        lambda post_id, account: renewed.append(account) or account == "a")
    dispatch = publisher.dispatcher.dispatch

    def queued(*args, **kw):  # the claimed targets wait 6 s for a free thread
        publisher.clock.advance(6)
        return dispatch(*args, **kw)

    monkeypatch.setattr(publisher.dispatcher, "dispatch", queued)
    report = publisher.publish(POST)
    assert sorted(renewed) == ["a", "b"]
    assert report["a"].state == State.PUBLISHED
    assert report["b"].state == State.SENDING  # another worker holds it now: not sent here
    assert publisher.platform.sends == [idempotency_key(POST.id, "a")]


def test_results_that_finish_together_are_committed_in_one_wave(fake_publisher) -> None:
    """While the first result is being written, the others finish: they go to the ledger
    together, and each outcome is reported only after its wave is committed."""
    import time

    accounts = [f"acct-{i:02d}" for i in range(24)]
    publisher = fake_publisher(accounts, config=fake_config(accounts, concurrency=8))
    ledger = publisher.ledger
    waves: list[int] = []
    reported: list[str] = []
    settle = ledger.settle

    def slow_first_wave(results):
        if not waves:  # hold the first wave until every other send is done
            for _ in range(500):
                if len(publisher.platform.sends) == len(accounts):
                    break
                time.sleep(0.01)
            time.sleep(0.2)  # their results reach the queue
        waves.append(len(results))
        settle(results)
        published = {a.account for a in ledger.attempts(POST.id) if a.state == State.PUBLISHED}
        assert {r.account for r in results} <= published

    ledger.settle = slow_first_wave
    report = publisher.publish(POST, on_progress=lambda o: reported.append(o.account))
    assert report.counts == {"published": len(accounts)}
    assert sorted(reported) == accounts
    assert sum(waves) == len(accounts)
    assert len(waves) <= 3  # not one transaction per target
    assert ledger.verify_audit() == []


def test_a_brand_post_skips_an_account_whose_given_channel_class_does_not_publish() -> None:
    """A channel class given to the publisher (``channel_classes``) is read as an installed
    one is: one that only lists (``publishes = False``) is no target of a brand's post."""
    from carecast import Publisher
    from carecast.config import Config
    from carecast.testing import FakeChannel

    listing = type("ListingChannel", (FakeChannel,), {"name": "listing", "publishes": False})
    config = Config.from_dict({
        "store": {"url": "sqlite:///:memory:"}, "brands": {"test": {"name": "Test Hospital"}},
        "accounts": {"one": {"channel": "fake", "brand": "test"},
                     "feed": {"channel": "listing", "brand": "test"}}}, environ={})
    with Publisher(config, entry_point_plugins=False,
                   channel_classes={"fake": FakeChannel, "listing": listing}) as publisher:
        assert publisher.targets(Post(text="Flu shots this week")) == ["one"]
        assert [t.account for t in publisher.preview(Post(text="Flu shots")).targets] == ["one"]


def test_results_gather_into_few_commits_while_sends_are_out(fake_publisher, monkeypatch
                                                            ) -> None:
    """Sends that take a while answer a few at a time; each commit waits a little for more
    (half a send's time), so a fan-out is not one transaction per answer or two."""
    import time

    from carecast.publish.retry import RetryPolicy
    from carecast.testing import NoWaitClock

    # The machine's clock: a frozen one says every send took no time (nothing to wait for).
    publisher = fake_publisher(config=fake_config(60, concurrency=20, per_host=64),
                               retry=RetryPolicy(clock=NoWaitClock(), max_attempts=5))
    cls = type(publisher.channel("acct0"))
    original = cls.publish

    def slow(self, draft, key):
        time.sleep(0.02 + int(self.account[4:]) % 7 * 0.002)  # answers spread over 12 ms
        return original(self, draft, key)

    cls.publish = slow  # type: ignore[method-assign]
    waves: list[int] = []
    settle = publisher.ledger.settle

    def counting(results, *args, **kwargs):
        waves.append(len(results))
        return settle(results, *args, **kwargs)

    monkeypatch.setattr(publisher.ledger, "settle", counting)
    report = publisher.publish(POST)
    assert report.counts == {"published": 60}
    assert sum(waves) == 60
    assert len(waves) <= 12, waves
    assert all(a.state == State.PUBLISHED for a in publisher.ledger.attempts(POST.id))
