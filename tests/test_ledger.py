"""The SQLite ledger: states, claims, crash leftovers, the hash-chained audit trail."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

import pytest

from carecast import InvalidPost, Post
from carecast.post import Draft, Part, Receipt
from carecast.records import Attempt, ErrorInfo, State
from carecast.store import Ledger


@pytest.fixture
def ledger(tmp_path):
    with Ledger(f"sqlite:///{tmp_path}/ledger.db") as ledger:
        yield ledger


def _row(post: Post, account: str = "a", state: State = State.PENDING) -> Attempt:
    draft = Draft(post_id=post.id, account=account, channel="fake",
                  parts=(Part(text=post.text, length=len(post.text)),))
    return Attempt(post.id, account, "fake", state, f"key-{account}", 0, datetime.now(UTC),
                   draft)


def _receipt(post: Post, account: str = "a") -> Receipt:
    return Receipt(post_id=post.id, account=account, channel="fake", remote_id="r1",
                   published_at=datetime.now(UTC))


def test_intent_then_receipt(ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post)])
    assert ledger.attempt("p1", "a").state == State.PENDING
    assert ledger.claim("p1", "a") == State.PENDING
    row = ledger.attempt("p1", "a")
    assert row.state == State.SENDING
    assert row.tries == 1
    ledger.mark_published(_receipt(post))
    row = ledger.attempt("p1", "a")
    assert row.state == State.PUBLISHED
    assert row.receipt.remote_id == "r1"
    assert ledger.claim("p1", "a") is None  # published: never claimed again
    assert ledger.get_post("p1") == post


def _set_owner(ledger: Ledger, owner: str) -> None:
    import sqlalchemy as sa

    from carecast.store.schema import attempts

    with ledger.engine.begin() as conn:
        conn.execute(sa.update(attempts).values(owner=owner))


def test_a_live_claim_is_never_taken_over(ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post)])
    assert ledger.claim("p1", "a") == State.PENDING
    # a re-run records the review again: the 'sending' state must survive it
    ledger.record(post, [_row(post)])
    assert ledger.attempt("p1", "a").state == State.SENDING
    # this process is alive and sending: a second publish must not take it over
    assert ledger.claim("p1", "a") is None
    assert ledger.claim("p1", "a", stale_after=0) is None  # 0: never take over our own
    # ... unless the claim is older than stale_after (a hung send)
    time.sleep(0.02)
    assert ledger.claim("p1", "a", stale_after=0.01) == State.SENDING


def test_a_crashed_claim_is_taken_over_at_once(ledger) -> None:
    import socket
    import subprocess

    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post)])
    ledger.claim("p1", "a")
    gone = subprocess.Popen(["true"])
    gone.wait()
    _set_owner(ledger, f"{socket.gethostname()}:{gone.pid}")
    assert ledger.claim("p1", "a") == State.SENDING  # reconcile first, then send


def test_another_machines_claim_waits_for_stale_after(ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post)])
    ledger.claim("p1", "a")
    _set_owner(ledger, "worker-7.example.internal:4242")
    assert ledger.claim("p1", "a", stale_after=60) is None
    assert ledger.claim("p1", "a", stale_after=0) == State.SENDING


def test_failed_and_unknown_keep_their_error(ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post, "a"), _row(post, "b")])
    ledger.claim("p1", "a")
    ledger.mark_failed("p1", "a", State.FAILED, ErrorInfo("AuthenticationError", "renew it", 401))
    ledger.claim("p1", "b")
    ledger.mark_failed("p1", "b", State.UNKNOWN, ErrorInfo("OutcomeUnknown", "no answer"))
    rows = {r.account: r for r in ledger.attempts("p1")}
    assert rows["a"].error.status == 401
    assert rows["b"].state == State.UNKNOWN
    assert ledger.claim("p1", "b") == State.UNKNOWN


def test_published_rows_are_not_overwritten(ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post)])
    ledger.claim("p1", "a")
    ledger.mark_published(_receipt(post))
    ledger.record(post, [_row(post, state=State.BLOCKED)])
    assert ledger.attempt("p1", "a").state == State.PUBLISHED


def test_edited_content_under_a_published_id_is_refused(ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post)])
    # not sent yet: the edit replaces the stored post
    edited = Post(id="p1", text="hello again")
    ledger.record(edited, [_row(edited)])
    assert ledger.get_post("p1") == edited
    ledger.claim("p1", "a")
    with pytest.raises(InvalidPost, match="new id"):
        ledger.record(post, [_row(post)])


def test_approval_binds_to_the_draft_hash(ledger) -> None:
    ledger.record(Post(id="p1", text="x"), [])
    ledger.approve("p1", "a", approver="privacy", draft_hash="h1")
    assert _approved(ledger, "p1", "a", "h1")
    assert not _approved(ledger, "p1", "a", "h2")


def _populate(ledger: Ledger) -> None:
    post = Post(id="p1", text="hello")
    ledger.record(post, [_row(post, "a"), _row(post, "b")])
    for account in ("a", "b"):
        ledger.claim("p1", account)
        ledger.mark_published(_receipt(post, account))


def test_audit_chain_verifies(ledger) -> None:
    _populate(ledger)
    events = ledger.audit_events("p1")
    assert [e.kind for e in events][:2] == ["review", "review"]
    assert {"send", "published"} <= {e.kind for e in events}
    assert ledger.verify_audit() == []


@pytest.mark.parametrize("tamper", ["edit", "delete", "swap", "truncate"])
def test_audit_tampering_is_detected(tmp_path, tamper: str) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(f"sqlite:///{path}") as ledger:
        _populate(ledger)
    db = sqlite3.connect(path)
    with db:
        if tamper == "edit":
            db.execute("UPDATE carecast_audit SET data = '{\"state\":\"blocked\"}' WHERE seq = 2")
        elif tamper == "delete":
            db.execute("DELETE FROM carecast_audit WHERE seq = 3")
        elif tamper == "swap":
            a, b = (db.execute("SELECT post_id, account, kind, data, prev_hash, hash, at FROM "
                               "carecast_audit WHERE seq = ?", (s,)).fetchone() for s in (2, 3))
            for seq, row in ((2, b), (3, a)):
                db.execute("UPDATE carecast_audit SET post_id=?, account=?, kind=?, data=?, "
                           "prev_hash=?, hash=?, at=? WHERE seq=?", (*row, seq))
        else:
            last = db.execute("SELECT max(seq) FROM carecast_audit").fetchone()[0]
            db.execute("DELETE FROM carecast_audit WHERE seq = ?", (last,))
    db.close()
    with Ledger(f"sqlite:///{path}") as ledger:
        assert ledger.verify_audit() != []


def test_audit_never_holds_post_text(ledger) -> None:
    post = Post(id="p1", text="Jane Roe was discharged")
    ledger.record(post, [_row(post)])
    assert "Jane Roe" not in str([e.data for e in ledger.audit_events()])


def test_bad_store_url_is_a_configuration_error() -> None:
    from carecast import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"\[store\] url"):
        Ledger("nosuchdialect://x")


def test_store_errors_hide_the_password() -> None:
    from carecast import ConfigurationError

    # nothing listens on port 1: the error must not echo the URL's password
    with pytest.raises(ConfigurationError) as info:
        Ledger("postgresql+psycopg://user:pa55word@127.0.0.1:1/db")
    assert "pa55word" not in str(info.value)
    assert info.value.__cause__ is None


def test_concurrent_writes_commit_together_and_chain_in_order(ledger) -> None:
    """Claims queued by 40 threads while a transaction runs commit together in the next one;
    each call returns with its own write committed, and the audit chain stays whole."""
    import threading

    post = Post(id="fan", text="Fan-out")
    accounts = [f"acct-{i:02d}" for i in range(40)]
    ledger.record(post, [_row(post, a) for a in accounts])
    batches = []
    transaction = ledger._batch._transaction
    ledger._batch._transaction = lambda: batches.append(1) or transaction()
    seen: dict[str, tuple[State | None, State]] = {}

    def worker(account: str) -> None:
        previous = ledger.claim(post.id, account)
        row = ledger.attempt(post.id, account)  # read right after: must be committed
        assert row is not None
        seen[account] = (previous, row.state)
        ledger.mark_published(_receipt(post, account))

    threads = [threading.Thread(target=worker, args=(a,)) for a in accounts]
    with ledger._batch._turn:  # as if a transaction were running: every claim queues
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(ledger._batch._queue) < len(accounts) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(ledger._batch._queue) == len(accounts)
    for t in threads:
        t.join()
    assert seen == dict.fromkeys(accounts, (State.PENDING, State.SENDING))
    assert all(r.state == State.PUBLISHED for r in ledger.attempts(post.id))
    assert len(batches) <= 1 + len(accounts)  # all the claims in one, then the receipts
    assert ledger.verify_audit() == []
    kinds = [e.kind for e in ledger.audit_events(post.id) if e.account == "acct-07"]
    assert kinds == ["review", "send", "published"]


def test_every_transaction_holds_the_write_lock_from_its_start(ledger, tmp_path) -> None:
    """Reads then writes in one transaction (``record``) need SQLite's lock before the read."""
    with ledger._tx() as conn:
        assert conn.connection.dbapi_connection.in_transaction
        other = sqlite3.connect(tmp_path / "ledger.db", timeout=0.05)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


def test_a_store_locked_at_begin_is_a_store_error(ledger, tmp_path) -> None:
    """The write lock is taken on the driver's connection; failing there is still the
    ledger's ``StoreError``, not the driver's exception."""
    from carecast.errors import StoreError

    post = Post(id="locked", text="x")
    ledger.record(post, [_row(post)])
    with ledger.engine.connect() as conn:  # the pooled connection the ledger uses next
        conn.exec_driver_sql("PRAGMA busy_timeout=50")
    other = sqlite3.connect(tmp_path / "ledger.db")
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="nothing is lost") as raised:
            ledger.claim(post.id, "a")
        assert raised.value.__cause__ is None
    finally:
        other.rollback()
        other.close()
    assert ledger.claim(post.id, "a") == State.PENDING


def test_a_failed_batch_fails_every_write_in_it(ledger, monkeypatch) -> None:
    from carecast.errors import StoreError

    post = Post(id="broken", text="x")
    ledger.record(post, [_row(post)])

    def broken(*args, **kwargs):
        raise __import__("sqlalchemy").exc.OperationalError("stmt", {}, Exception("disk I/O"))

    monkeypatch.setattr(ledger, "_chain", broken)
    with pytest.raises(StoreError, match="nothing is lost"):
        ledger.claim(post.id, "a")
    monkeypatch.undo()
    row = ledger.attempt(post.id, "a")
    assert row is not None
    assert row.state == State.PENDING
    assert ledger.claim(post.id, "a") == State.PENDING


def test_record_claims_the_ready_targets_in_its_transaction(ledger) -> None:
    post = Post(id="p9", text="Hello")
    claims = ledger.record(post, [_row(post, "a"), _row(post, "b")], claim=["a"])
    assert claims == {"a": State.PENDING}
    assert ledger.attempt("p9", "a").state == State.SENDING
    assert ledger.attempt("p9", "b").state == State.PENDING
    again = ledger.record(post, [_row(post, "a"), _row(post, "b")], claim=["a", "b"])
    assert again == {"a": None, "b": State.PENDING}  # a: being sent by this process
    assert ledger.verify_audit() == []


def test_a_claim_is_renewed_only_by_its_holder(ledger) -> None:
    post = Post(id="p10", text="Hello")
    ledger.record(post, [_row(post, "a")], claim=["a"])
    assert ledger.renew_claim("p10", "a")
    _set_owner(ledger, "another-host:4242")  # taken over by another worker
    assert not ledger.renew_claim("p10", "a")


def test_a_rerun_does_not_restart_another_workers_claim_clock(ledger) -> None:
    post = Post(id="p11", text="Hello")
    ledger.record(post, [_row(post, "a")], claim=["a"])
    _set_owner(ledger, "another-host:4242")  # a worker on another machine, silent since
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE carecast_attempts SET updated_at = '2026-01-01 00:00:00'")
    assert ledger.record(post, [_row(post, "a")], claim=["a"], stale_after=3600) == {
        "a": State.SENDING}  # stale long ago: taken over, to be reconciled first
    assert ledger.attempt("p11", "a").tries == 2


def _approved(ledger: Ledger, post_id: str, account: str, draft_hash: str) -> bool:
    """Whether this exact draft has an approval decision."""
    return any(d.decision == "approve" for d in ledger.decisions(post_id, account, draft_hash))


def test_a_wave_of_results_is_one_transaction(ledger) -> None:
    from carecast.store import Failure

    post = Post(id="wave", text="Wave")
    accounts = [f"acct-{i:02d}" for i in range(30)]
    ledger.record(post, [_row(post, a) for a in accounts], claim=accounts)
    transactions = []
    transaction = ledger._batch._transaction
    ledger._batch._transaction = lambda: transactions.append(1) or transaction()
    error = ErrorInfo("ChannelServerError", "HTTP 503", 503, True)
    ledger.settle([_receipt(post, a) if i % 3 else Failure(post.id, a, State.UNKNOWN, error)
                   for i, a in enumerate(accounts)])
    assert len(transactions) == 1
    states = {a.account: a.state for a in ledger.attempts(post.id)}
    assert states == {a: State.UNKNOWN if i % 3 == 0 else State.PUBLISHED
                      for i, a in enumerate(accounts)}
    assert ledger.verify_audit() == []
    kinds = [e.kind for e in ledger.audit_events(post.id) if e.account == "acct-03"]
    assert kinds == ["review", "send", "unknown"]


def test_a_wave_killed_inside_its_transaction_leaves_none_of_it(tmp_path) -> None:
    """A process killed (SIGKILL) after the wave's first statement ran, before its commit:
    every target of the wave stays ``sending`` (reconciled before any resend), no audit event
    of it is kept, and the chain and its checkpoint still verify."""
    import subprocess
    import sys
    import textwrap

    db = tmp_path / "ledger.db"
    post = Post(id="killed", text="Killed mid-wave")
    accounts = ["a", "b", "c", "d"]
    with Ledger(f"sqlite:///{db}") as ledger:
        ledger.record(post, [_row(post, a) for a in accounts], claim=accounts)
        events_before = len(ledger.audit_events())
    script = textwrap.dedent(f"""
        import os, signal
        from datetime import UTC, datetime
        from sqlalchemy import event
        from carecast.post import Receipt
        from carecast.records import ErrorInfo, State
        from carecast.store import Failure, Ledger

        ledger = Ledger({f"sqlite:///{db}"!r})

        @event.listens_for(ledger.engine, "after_cursor_execute")
        def die(conn, cursor, statement, params, context, executemany):
            if executemany and statement.startswith("UPDATE carecast_attempts"):
                os.kill(os.getpid(), signal.SIGKILL)  # the first rows are written, not committed

        at = datetime.now(UTC)
        ledger.settle([
            Receipt(post_id="killed", account="a", channel="fake", remote_id="r-a",
                    published_at=at),
            Receipt(post_id="killed", account="b", channel="fake", remote_id="r-b",
                    published_at=at),
            Failure("killed", "c", State.FAILED, ErrorInfo("PlatformRejected", "HTTP 422")),
            Failure("killed", "d", State.FAILED, ErrorInfo("PlatformRejected", "HTTP 422")),
        ])
        print("committed")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == -9, done.stderr
    assert "committed" not in done.stdout
    with Ledger(f"sqlite:///{db}") as ledger:
        assert {a.account: a.state for a in ledger.attempts(post.id)} == dict.fromkeys(
            accounts, State.SENDING)
        assert len(ledger.audit_events()) == events_before
        assert ledger.verify_audit() == []
        ledger.settle([_receipt(post, a) for a in accounts])  # the re-run's reconcile
        assert {a.state for a in ledger.attempts(post.id)} == {State.PUBLISHED}
        assert ledger.verify_audit() == []
