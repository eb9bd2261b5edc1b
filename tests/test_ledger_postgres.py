"""The ledger on a real PostgreSQL server, side by side with SQLite.

A throwaway cluster (``tests/pg.py``) starts once per session on 127.0.0.1; each test gets a
fresh database. Tests parametrised over ``store`` run the same operations on both engines.
Skipped with the reason when PostgreSQL is not installed (``.ci/install-postgres.sh``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from carecast import (
    Action,
    AuthenticationError,
    CarecastError,
    ChannelServerError,
    Finding,
    InvalidPost,
    Post,
    post_from_dict,
)
from carecast.errors import StoreError
from carecast.post import Draft, Part, Receipt
from carecast.publish import Publisher, RetryPolicy
from carecast.publish.publisher import idempotency_key
from carecast.records import Attempt, ErrorInfo, State
from carecast.store import Ledger
from carecast.testing import FakeChannel, FakePlatform, NoWaitClock, fake_config


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    with Ledger(store_url) as ledger:
        yield ledger


def _draft(post: Post, account: str) -> Draft:
    return Draft(post_id=post.id, account=account, channel="fake",
                 parts=(Part(text=post.text, length=len(post.text), limit=280),))


def _row(post: Post, account: str, state: State = State.PENDING, *,
         findings: Sequence[Finding] = (), error: ErrorInfo | None = None) -> Attempt:
    return Attempt(post.id, account, "fake", state, idempotency_key(post.id, account), 0,
                   datetime.now(UTC), _draft(post, account), None, error, tuple(findings))


def _receipt(post: Post, account: str) -> Receipt:
    return Receipt(post_id=post.id, account=account, channel="fake", remote_id=f"r-{account}",
                   url=f"https://fake.example/{account}", published_at=datetime.now(UTC))


REVIEW = Finding(action=Action.REVIEW, code="advice.dosage", message="dosage in text",
                 field="text", check="advice")
BLOCK = Finding(action=Action.BLOCK, code="phi.mrn", message="record number in text",
                field="text", check="phi")


# -- the same operations on both engines ------------------------------------------------------


def test_record_claim_publish_fail_approve_and_audit(ledger: Ledger) -> None:
    post = Post(id="flu-1", text="Flu clinic opens Monday.", hashtags=["flu"])
    ledger.record(post, [
        _row(post, "a"),
        _row(post, "b"),
        _row(post, "held", State.AWAITING_APPROVAL, findings=[REVIEW]),
        _row(post, "stopped", State.BLOCKED, findings=[BLOCK]),
        _row(post, "broken", State.FAILED,
             error=ErrorInfo("LimitExceeded", "text: 300 characters is over the limit")),
    ])
    assert ledger.get_post("flu-1") == post
    assert ledger.post_ids() == ["flu-1"]
    rows = {a.account: a for a in ledger.attempts("flu-1")}
    assert sorted(rows) == ["a", "b", "broken", "held", "stopped"]
    assert rows["held"].findings == (REVIEW,)
    assert rows["stopped"].state == State.BLOCKED
    assert rows["broken"].error.type == "LimitExceeded"
    assert rows["a"].draft == _draft(post, "a")
    assert all(a.updated_at.tzinfo is not None for a in rows.values())

    # the intent, then the receipt
    assert ledger.claim("flu-1", "a") == State.PENDING
    sending = ledger.attempt("flu-1", "a")
    assert (sending.state, sending.tries) == (State.SENDING, 1)
    assert ledger.claim("flu-1", "a", stale_after=60) is None  # another worker's, still fresh
    ledger.mark_published(_receipt(post, "a"))
    done = ledger.attempt("flu-1", "a")
    assert done.state == State.PUBLISHED
    assert done.receipt == _receipt(post, "a").model_copy(
        update={"published_at": done.receipt.published_at})
    assert done.receipt.published_at.tzinfo is not None
    assert ledger.claim("flu-1", "a") is None

    # unknown keeps its error and is claimed again for reconcile
    assert ledger.claim("flu-1", "b") == State.PENDING
    ledger.mark_failed("flu-1", "b", State.UNKNOWN,
                       ErrorInfo("OutcomeUnknown", "no answer", 504, True, None, "req-1"))
    unknown = ledger.attempt("flu-1", "b")
    assert unknown.state == State.UNKNOWN
    assert unknown.error == ErrorInfo("OutcomeUnknown", "no answer", 504, True, None, "req-1")
    assert ledger.claim("flu-1", "b") == State.UNKNOWN
    ledger.mark_failed("flu-1", "b", State.FAILED, ErrorInfo("AuthenticationError", "renew"))

    # blocked and held targets are never claimed
    assert ledger.claim("flu-1", "stopped") is None
    assert ledger.claim("flu-1", "held") is None
    assert ledger.claim("flu-1", "nobody") is None

    # an approval binds to the exact draft
    draft_hash = rows["held"].draft.content_hash()
    assert not _approved(ledger, "flu-1", "held", draft_hash)
    ledger.approve("flu-1", "held", approver="privacy-office", draft_hash=draft_hash,
                   note="ok to post")
    assert _approved(ledger, "flu-1", "held", draft_hash)
    assert not _approved(ledger, "flu-1", "held", "0" * 64)
    assert not _approved(ledger, "flu-1", "a", draft_hash)

    # a re-run records the review again: published stays published, unknown stays unknown
    ledger.record(post, [_row(post, "a", State.BLOCKED), _row(post, "b")])
    assert ledger.attempt("flu-1", "a").state == State.PUBLISHED
    assert ledger.attempt("flu-1", "b").state == State.PENDING  # failed may be re-reviewed

    # other content under an id that went out is refused
    with pytest.raises(InvalidPost, match="new id"):
        ledger.record(Post(id="flu-1", text="Edited."), [])

    kinds = Counter(e.kind for e in ledger.audit_events("flu-1"))
    assert kinds == {"review": 6, "send": 3, "published": 1, "unknown": 1, "failed": 1,
                     "approval": 1}
    events = ledger.audit_events()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert ledger.verify_audit() == []


def test_edit_before_send_replaces_the_stored_post(ledger: Ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post, "a")])
    edited = Post(id="p1", text="hello again")
    ledger.record(edited, [_row(edited, "a")])
    assert ledger.get_post("p1") == edited
    assert ledger.attempt("p1", "a").draft.text == "hello again"


def test_a_stale_sending_row_is_claimed_for_reconcile(ledger: Ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post, "a")])
    assert ledger.claim("p1", "a") == State.PENDING
    assert ledger.claim("p1", "a", stale_after=60) is None
    with ledger.engine.begin() as conn:  # the worker that claimed it died two minutes ago
        conn.execute(sa.text("UPDATE carecast_attempts SET updated_at = :t"),
                     {"t": datetime.now(UTC) - timedelta(minutes=2)})
    assert ledger.claim("p1", "a", stale_after=60) == State.SENDING
    assert ledger.attempt("p1", "a").tries == 2


@pytest.mark.parametrize("tamper", [
    "UPDATE carecast_audit SET data = '{\"state\":\"pending\"}' WHERE seq = 2",
    "DELETE FROM carecast_audit WHERE seq = 3",
    "DELETE FROM carecast_audit WHERE seq = (SELECT max(seq) FROM carecast_audit)",
    "UPDATE carecast_audit SET at = '2020-01-01T00:00:00+00:00' WHERE seq = 1",
    # two events swapped, hashes and all (PostgreSQL reads the FROM rows before the update)
    "UPDATE carecast_audit AS a SET post_id = b.post_id, account = b.account, kind = b.kind, "
    "data = b.data, prev_hash = b.prev_hash, hash = b.hash, at = b.at FROM carecast_audit AS b "
    "WHERE (a.seq = 2 AND b.seq = 3) OR (a.seq = 3 AND b.seq = 2)",
], ids=["edit", "delete", "truncate", "backdate", "swap"])
def test_tampering_is_detected(ledger: Ledger, tamper: str) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post, "a"), _row(post, "b")])
    for account in ("a", "b"):
        ledger.claim("p1", account)
        ledger.mark_published(_receipt(post, account))
    assert ledger.verify_audit() == []
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(tamper))
    assert ledger.verify_audit() != []


def test_reopening_keeps_everything(store_url: str) -> None:
    post = Post(id="p1", text="hello")
    with Ledger(store_url) as first:
        first.record(post, [_row(post, "a")])
        first.claim("p1", "a")
        first.mark_published(_receipt(post, "a"))
    with Ledger(store_url) as again:  # create_all and the audit head are idempotent
        assert again.attempt("p1", "a").state == State.PUBLISHED
        assert len(again.audit_events()) == 3
        assert again.verify_audit() == []


# -- publishing through the Publisher on PostgreSQL --------------------------------------------


POST = Post(id="flu-clinic", text="Our flu clinic opens Monday at 9.", hashtags=["flu"])


def test_publish_on_postgres(fake_publisher, postgres_url: str) -> None:
    publisher = fake_publisher(config=fake_config(["a", "b", "c"], store_url=postgres_url))
    assert publisher.ledger.engine.dialect.name == "postgresql"
    publisher.platform.fail("a", ("after", ChannelServerError("boom", status=500)))
    publisher.platform.fail("b", AuthenticationError("token expired; renew it", status=401))
    report = publisher.publish(POST)
    assert report["a"].state == State.PUBLISHED
    assert report["a"].receipt.reconciled  # stored, then 500: found by lookup, not resent
    assert report["b"].state == State.FAILED
    assert report["b"].error.type == "AuthenticationError"
    assert report["c"].state == State.PUBLISHED

    retried = publisher.retry(POST.id)
    assert {o.account: o.state for o in retried.outcomes} == dict.fromkeys("abc",
                                                                            State.PUBLISHED)
    assert Counter(publisher.platform.sends) == {idempotency_key(POST.id, n): 1 for n in "abc"}
    again = publisher.publish(POST)
    assert all(o.already_published for o in again.outcomes)
    assert len(publisher.platform.sends) == 3
    assert publisher.ledger.verify_audit() == []

    engine = sa.create_engine(postgres_url)  # what is really in the server
    try:
        with engine.connect() as conn:
            states = dict(conn.execute(sa.text(
                "SELECT account, state FROM carecast_attempts WHERE post_id = :p"),
                {"p": POST.id}).all())
            kinds = conn.execute(sa.text("SELECT count(*) FROM carecast_audit")).scalar()
    finally:
        engine.dispose()
    assert states == dict.fromkeys("abc", "published")
    assert kinds == len(publisher.ledger.audit_events())


# -- several workers sharing one PostgreSQL store --------------------------------------------


ACCOUNTS = ("a", "b", "c", "d")


def _worker(platform: FakePlatform, url: str) -> Publisher:
    channel = type("FakeChannel", (FakeChannel,), {"platform": platform})
    config = fake_config(ACCOUNTS, store_url=url, stale_sending_after=60, concurrency=4)
    return Publisher(config, entry_point_plugins=False, channel_classes={"fake": channel},
                     retry=RetryPolicy(clock=NoWaitClock(), max_attempts=5))


def _run_workers(workers: Sequence[Publisher], plans: Sequence[Sequence[Post]]
                 ) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers))

    def run(worker: Publisher, posts: Sequence[Post]) -> None:
        start.wait()
        for post in posts:
            try:
                worker.publish(post)
            except BaseException as exc:  # collected: a thread must not swallow them
                errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(workers, plans,
                                                                       strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return errors


def _posts(prefix: str, n: int) -> list[Post]:
    return [Post(id=f"{prefix}-{i}", text=f"Flu clinic {i} opens Monday at 9.") for i in range(n)]


def test_two_workers_on_different_posts_share_one_audit_chain(postgres_url: str) -> None:
    platform = FakePlatform()
    workers = [_worker(platform, postgres_url) for _ in range(2)]
    try:
        plans = [_posts("left", 15), _posts("right", 15)]
        errors = _run_workers(workers, plans)
        assert errors == []
        assert Counter(platform.sends) == {
            idempotency_key(p.id, a): 1 for plan in plans for p in plan for a in ACCOUNTS}
        ledger = workers[0].ledger
        for post in plans[0] + plans[1]:
            assert {a.state for a in ledger.attempts(post.id)} == {State.PUBLISHED}
        events = ledger.audit_events()
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert ledger.verify_audit() == []
    finally:
        for worker in workers:
            worker.close()


def test_two_workers_on_the_same_posts_publish_each_once(postgres_url: str) -> None:
    platform = FakePlatform()
    workers = [_worker(platform, postgres_url) for _ in range(2)]
    posts = _posts("shared", 30)
    try:
        errors = _run_workers(workers, [posts, posts])
        if errors:
            raise errors[0]
        # a target one worker left 'sending' is the other's to finish: a last pass settles it
        for post in posts:
            workers[0].publish(post)
        assert Counter(platform.sends) == {
            idempotency_key(p.id, a): 1 for p in posts for a in ACCOUNTS}
        ledger = workers[1].ledger
        for post in posts:
            assert {a.state for a in ledger.attempts(post.id)} == {State.PUBLISHED}
        assert ledger.verify_audit() == []
    finally:
        for worker in workers:
            worker.close()


# -- input PostgreSQL checks and SQLite does not -----------------------------------------------


def _refused_or_done(fn: Callable[[], Any]) -> Any:
    """``fn()``, or the carecast error that refused the input; a store failure fails the test."""
    try:
        return fn()
    except StoreError:
        raise
    except CarecastError as exc:
        return exc


@pytest.mark.parametrize("data", [
    {"id": "a" * 128 + "\n", "text": "hello"},
    {"id": "ok", "text": "hello", "targets": ["x" * 64 + "\n"]},
    {"id": "a" * 128, "text": "hello"},
    {"id": "ok", "text": "hello", "targets": ["a", "x" * 64]},
], ids=["id-129", "target-65", "id-128", "target-64"])
def test_a_post_that_validates_never_fails_in_the_database(fake_publisher, postgres_url: str,
                                                           data: dict) -> None:
    publisher = fake_publisher(config=fake_config(["a"], store_url=postgres_url))
    try:
        post = post_from_dict(data)
    except InvalidPost:
        return  # refused up front: fine
    report = _refused_or_done(lambda: publisher.publish(post))  # no database error may follow
    if not isinstance(report, CarecastError):
        assert {o.state for o in report.outcomes} <= {State.PUBLISHED, State.FAILED}
    assert publisher.ledger.verify_audit() == []


@pytest.mark.parametrize(("approver", "note"), [("x" * 201, ""), ("privacy", "ok\x00")],
                         ids=["long-approver", "nul-in-note"])
def test_approval_input_never_raises_a_database_error(postgres_url: str, approver: str,
                                                      note: str) -> None:
    with Ledger(postgres_url) as ledger:
        post = Post(id="p1", text="hello")
        ledger.record(post, [_row(post, "a", State.AWAITING_APPROVAL)])
        error = _refused_or_done(lambda: ledger.approve(
            "p1", "a", approver=approver, draft_hash="h" * 64, note=note))
        if error is not None:  # refused is fine; a database error is not
            assert str(error).split(":")[0] in {"approver", "note"}
        assert ledger.verify_audit() == []


def test_one_misconfigured_account_never_stops_the_others(postgres_url: str) -> None:
    from carecast.config import Config

    config = Config.from_dict({
        "store": {"url": postgres_url}, "brands": {"b": {"name": "Clinic"}},
        "accounts": {"good": {"channel": "fake", "brand": "b"},
                     "bad": {"channel": "x" * 65, "brand": "b"}}}, environ={})
    platform = FakePlatform()
    channel = type("FakeChannel", (FakeChannel,), {"platform": platform})
    with Publisher(config, entry_point_plugins=False, channel_classes={"fake": channel}) as pub:
        report = pub.publish(POST)
    assert report["good"].state == State.PUBLISHED
    assert report["bad"].state == State.FAILED


def _approved(ledger: Ledger, post_id: str, account: str, draft_hash: str) -> bool:
    """Whether this exact draft has an approval decision."""
    return any(d.decision == "approve" for d in ledger.decisions(post_id, account, draft_hash))
