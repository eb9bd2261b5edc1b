"""The Celery tasks, run eagerly over a fake platform: the same claims, each target once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

pytest.importorskip("celery")

from carecast import Post
from carecast.celery import CelerySettings, make_app
from carecast.errors import ChannelServerError, ConfigurationError, PlatformRejected
from carecast.records import State
from carecast.testing import FrozenClock, fake_config

SETTINGS = CelerySettings(broker_url="memory://", visibility_timeout=600, beat_interval=1)


def _app(publisher: Any) -> Any:
    app = make_app(settings=SETTINGS, publisher=publisher)
    app.conf.task_always_eager = True
    return app


def test_beat_scan_publishes_each_due_target_once(fake_publisher: Any) -> None:
    clock = FrozenClock()
    publisher = fake_publisher(["a", "b"], clock=clock)
    for i in range(3):
        publisher.publish(Post(id=f"p{i}", text=f"Flu clinic {i} opens Monday.",
                               schedule=clock.now() + timedelta(hours=1)))
    assert publisher.platform.sends == []
    app = _app(publisher)
    assert app.tasks["carecast.enqueue_due"].delay().get() == 0  # nothing due yet
    clock.advance(hours=2)
    assert app.tasks["carecast.enqueue_due"].delay().get() == 6
    assert app.tasks["carecast.enqueue_due"].delay().get() == 0
    assert app.tasks["carecast.fan_out"].delay("p0").get() == 0
    assert sorted(set(publisher.platform.sends)) == sorted(publisher.platform.sends)
    assert len(publisher.platform.sends) == 6
    assert {r.state for i in range(3) for r in publisher.status(f"p{i}")} == {State.PUBLISHED}


def test_a_visibility_timeout_shorter_than_the_lease_is_refused() -> None:
    config = fake_config(["a"], stale_sending_after=900)
    with pytest.raises(ConfigurationError, match="CARECAST_CELERY_VISIBILITY_TIMEOUT"):
        make_app(config, settings=SETTINGS)


def test_the_app_acks_late_and_prefetches_one() -> None:
    app = make_app(fake_config(["a"]), settings=SETTINGS)
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options == {"visibility_timeout": 600}
    assert "carecast-enqueue-due" in app.conf.beat_schedule


# -- what is due: Ledger.due_targets, on SQLite and PostgreSQL --------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'carecast.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _statements(ledger: Any) -> list[str]:
    """Every SQL statement the ledger runs from now on but transaction control (appended as
    they run)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(sql)

    event.listen(ledger.engine, "before_cursor_execute", note)
    return seen


def test_due_targets_are_the_targets_with_work_now_in_one_query(
        fake_publisher: Any, store_url: str) -> None:
    clock = FrozenClock()
    config = fake_config(["a", "b"], store_url=store_url)
    publisher = fake_publisher(config=config, clock=clock)
    for i, hours in enumerate((1, 1, 5)):
        publisher.publish(Post(id=f"p{i}", text=f"Flu clinic {i} opens Monday.",
                               schedule=clock.now() + timedelta(hours=hours)))
    ledger = publisher.ledger
    due = {"stale_after": 300.0, "rounds": 2}
    assert ledger.due_targets(**due) == []
    clock.advance(hours=2)
    statements = _statements(ledger)
    assert ledger.due_targets(**due) == [("p0", "a"), ("p0", "b"), ("p1", "a"), ("p1", "b")]
    assert len(statements) == 1
    assert statements[0].lstrip().upper().startswith("SELECT")
    assert ledger.due_targets(**due, post_id="p1") == [("p1", "a"), ("p1", "b")]
    assert ledger.due_targets(**due, post_id="p2") == []  # not its time yet
    assert ledger.due_targets(**due, limit=3) == [("p0", "a"), ("p0", "b"), ("p1", "a")]
    assert ledger.due(**due) == ["p0", "p1"]  # the posts of the same rule

    publisher.platform.fail("b", PlatformRejected("no", channel="fake", account="b",
                                                  status=400))
    publisher.loop.run_post("p0")  # a: published (done); b: failed once, a round left
    assert ledger.due_targets(**due, post_id="p0") == [("p0", "b")]
    assert ledger.due_targets(stale_after=300.0, rounds=1, post_id="p0") == []
    assert ledger.claim("p1", "a", stale_after=300.0) == State.PENDING  # a live send
    assert ledger.due_targets(**due, post_id="p1") == [("p1", "b")]
    clock.advance(seconds=301)  # the lease ran out: another worker may take it over
    assert ledger.due_targets(**due, post_id="p1") == [("p1", "a"), ("p1", "b")]


def test_the_beat_scan_reads_what_is_due_in_a_fixed_number_of_queries(
        fake_publisher: Any) -> None:
    def scan_with(posts: int) -> int:
        clock = FrozenClock()
        publisher = fake_publisher(["a", "b", "c"], clock=clock)
        for i in range(posts):
            publisher.publish(Post(id=f"p{i}", text=f"Flu clinic {i} opens Monday.",
                                   schedule=clock.now() + timedelta(hours=1)))
        clock.advance(hours=2)
        app = _app(publisher)
        app.conf.task_always_eager = False  # enqueue only: nothing is sent here
        app.conf.broker_url = "memory://"
        statements = _statements(publisher.ledger)
        assert app.tasks["carecast.enqueue_due"].apply().get() == posts * 3
        return len(statements)

    assert scan_with(3) == scan_with(30) == 1


# -- sending again: the dispatcher's retry decision -------------------------------------------


def test_a_target_the_retry_policy_retries_is_sent_again_and_published_once(
        fake_publisher: Any) -> None:
    publisher = fake_publisher(["a"])
    # Every try of the first task fails (5 tries: the dispatcher's policy), the last after
    # the platform stored the post; the task enqueued again reconciles and finds it.
    failure = ChannelServerError("boom", channel="fake", account="a", status=503)
    publisher.platform.fail("a", *[failure] * 4, ("after", failure))
    publisher.publish(Post(id="p0", text="Flu clinic opens Monday.",
                           schedule=publisher.clock.now() + timedelta(hours=1)))
    publisher.clock.advance(hours=2)
    result = _app(publisher).tasks["carecast.publish_target"].delay("p0", "a").get()
    assert result["state"] == "unknown"  # the first task's own outcome
    [row] = publisher.status("p0")
    assert row.state == State.PUBLISHED
    assert row.receipt is not None
    assert row.receipt.reconciled
    assert row.tries == 2
    assert publisher.platform.sends == [row.key]


def test_a_target_the_retry_policy_does_not_retry_is_left_to_the_beat(
        fake_publisher: Any) -> None:
    publisher = fake_publisher(["a"])
    publisher.platform.fail("a", PlatformRejected("bad media", channel="fake", account="a",
                                                  status=422), None)
    publisher.publish(Post(id="p0", text="Flu clinic opens Monday.",
                           schedule=publisher.clock.now() + timedelta(hours=1)))
    publisher.clock.advance(hours=2)
    result = _app(publisher).tasks["carecast.publish_target"].delay("p0", "a").get()
    assert result["state"] == "failed"
    [row] = publisher.status("p0")
    assert row.state == State.FAILED
    assert row.tries == 1
    assert publisher.platform.script["a"] == [None]  # not sent again by the task
    assert publisher.platform.sends == []
