"""The publishing loop: brand time, slots, not_after, run_due, the worker, freeze, takedown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from carecast.cli import app
from carecast.cli import commands as cli_commands
from carecast.config import Config
from carecast.errors import ConfigurationError, InvalidPost
from carecast.post import Post
from carecast.publish.worker import Worker
from carecast.records import State
from carecast.schedule import in_zone, next_slot, parse_slot
from carecast.testing import FrozenClock

NY = ZoneInfo("America/New_York")


def _config(tmp_path, *, tz: str = "America/New_York", slots=None, accounts=("one", "two"),
            store: str | None = None) -> Config:
    return Config.from_dict({
        "store": {"url": store or f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"test": {"name": "Test Hospital", "timezone": tz}},
        "accounts": {n: {"channel": "fake", "brand": "test", **({"slots": slots} if slots
                                                                 else {})}
                     for n in accounts},
    }, root=tmp_path, environ={})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))


@pytest.fixture
def make(fake_publisher, tmp_path, clock):
    def build(**kw):
        return fake_publisher(config=_config(tmp_path, **kw), clock=clock)
    return build


# -- brand time ------------------------------------------------------------------------------

def test_local_times_are_read_in_the_brand_zone_across_both_dst_changes() -> None:
    # 14 March 2027 the clocks in New York go forward at 2 a.m.; 7 November they go back.
    assert in_zone(datetime(2027, 3, 13, 9, 0), NY, field="schedule") == \
        datetime(2027, 3, 13, 14, 0, tzinfo=UTC)
    assert in_zone(datetime(2027, 3, 14, 9, 0), NY, field="schedule") == \
        datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    assert in_zone(datetime(2027, 11, 7, 9, 0), NY, field="schedule") == \
        datetime(2027, 11, 7, 14, 0, tzinfo=UTC)
    aware = datetime(2027, 3, 14, 9, 0, tzinfo=UTC)
    assert in_zone(aware, NY, field="schedule") == aware


def test_a_skipped_or_repeated_local_time_is_a_clear_error() -> None:
    with pytest.raises(InvalidPost, match=r"schedule: 2027-03-14 02:30 does not exist in "
                                          r"America/New_York.*UTC offset"):
        in_zone(datetime(2027, 3, 14, 2, 30), NY, field="schedule")
    with pytest.raises(InvalidPost, match=r"not_after: 2027-11-07 01:30 happens twice.*-04:00"):
        in_zone(datetime(2027, 11, 7, 1, 30), NY, field="not_after")


def test_a_post_in_local_time_is_stored_in_utc(make, clock) -> None:
    publisher = make()
    report = publisher.publish(Post(id="p1", text="Flu clinic opens.",
                                    schedule=datetime(2027, 3, 14, 9, 0)))
    stored = publisher.ledger.get_post("p1")
    assert stored.schedule == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    assert all(o.held_until == stored.schedule for o in report.outcomes)
    assert not publisher.platform.sends


def test_a_bad_time_zone_names_the_field(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match=r"brands\.test\.timezone.*IANA"):
        _config(tmp_path, tz="Mars/Olympus")


# -- slots -----------------------------------------------------------------------------------

def test_slots_parse_days_ranges_and_daily() -> None:
    assert parse_slot("Tue, Thu 10:00").days == {1, 3}
    assert parse_slot("Mon-Fri 12:30").days == {0, 1, 2, 3, 4}
    assert parse_slot("Sat-Mon 08:00").days == {5, 6, 0}
    assert parse_slot("daily 09:00").days == set(range(7))
    for bad in ("Tue 25:00", "Someday 10:00", "10:00", "Tue"):
        with pytest.raises(ValueError, match="slot"):
            parse_slot(bad)


def test_a_bad_slot_in_the_config_names_the_account(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match=r"accounts\.one\.slots"):
        _config(tmp_path, slots=["Tuesday at ten"])


def test_next_slot_skips_taken_slots_and_the_hour_a_dst_change_skips() -> None:
    slots = [parse_slot("Tue, Thu 10:00")]
    after = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)  # a Wednesday
    first = next_slot(slots, NY, after)
    assert first == datetime(2027, 3, 11, 15, 0, tzinfo=UTC)  # Thu 10:00 EST
    second = next_slot(slots, NY, after, frozenset({first}))
    assert second == datetime(2027, 3, 16, 14, 0, tzinfo=UTC)  # Tue 10:00 EDT
    skipped = [parse_slot("Sun 02:30")]  # 14 March 2027 has no 02:30 in New York
    assert next_slot(skipped, NY, after) == datetime(2027, 3, 21, 6, 30, tzinfo=UTC)


def test_next_slot_never_searches_forever() -> None:
    with pytest.raises(ConfigurationError, match="no posting slots"):
        next_slot([], NY, datetime(2027, 3, 10, tzinfo=UTC), account="one")
    daily = [parse_slot("daily 10:00")]
    start = datetime(2027, 3, 10, tzinfo=UTC)
    taken = frozenset(in_zone(datetime(2027, 3, 10, 10) + timedelta(days=d), NY, field="x")
                      for d in range(400))
    with pytest.raises(ConfigurationError, match="every slot in the next 366 days is taken"):
        next_slot(daily, NY, start, taken, account="one")


def test_the_publisher_finds_the_next_free_slot(make) -> None:
    publisher = make(slots=["Tue, Thu 10:00"])
    first = publisher.next_slot("one")
    publisher.publish(Post(id="p1", text="One.", schedule=first))
    assert publisher.next_slot("one") == datetime(2027, 3, 16, 14, 0, tzinfo=UTC)  # EDT now


# -- not_after -------------------------------------------------------------------------------

def test_a_post_whose_moment_passed_is_held_not_published_late(make, clock) -> None:
    publisher = make()
    post = Post(id="sat", text="Flu clinic this Saturday.",
                schedule=datetime(2027, 3, 10, 8, 0), not_after=datetime(2027, 3, 13, 17, 0))
    publisher.publish(post)
    assert not publisher.platform.sends
    clock.advance(days=4)
    publisher.run_due()
    rows = publisher.status("sat")
    assert {r.state for r in rows} == {State.HELD}
    assert "not_after" in rows[0].error.message
    assert rows[0].error.rejected
    assert not publisher.platform.sends


def test_before_not_after_it_goes_out(make, clock) -> None:
    publisher = make()
    publisher.publish(Post(id="ok", text="Flu clinic this Saturday.",
                           not_after=datetime(2027, 3, 13, 17, 0)))
    assert {r.state for r in publisher.status("ok")} == {State.PUBLISHED}


# -- run_due and the worker ------------------------------------------------------------------

def test_run_due_publishes_scheduled_posts_when_their_time_comes(make, clock) -> None:
    publisher = make()
    publisher.publish(Post(id="later", text="Later.",
                           schedule=clock.now() + timedelta(hours=2)))
    publisher.publish(Post(id="soon", text="Soon.", schedule=clock.now() + timedelta(hours=1)))
    assert publisher.run_due() == []
    clock.advance(hours=1, minutes=1)
    reports = publisher.run_due()
    assert [r.post_id for r in reports] == ["soon"]
    clock.advance(hours=1)
    assert [r.post_id for r in publisher.run_due()] == ["later"]
    assert publisher.run_due() == []
    assert len(publisher.platform.sends) == 4


def test_run_due_sends_an_approved_draft_without_resume(tmp_path, fake_publisher, clock) -> None:
    cfg = _config(tmp_path)
    cfg = cfg.model_copy(update={"approvals": cfg.approvals.model_copy(
        update={"every_post": True})})
    publisher = fake_publisher(config=cfg, clock=clock)
    publisher.publish(Post(id="a", text="Needs a sign-off.", author="writer"))
    assert publisher.run_due()
    assert not publisher.platform.sends
    publisher.approve("a", "editor")
    publisher.run_due()
    assert {r.state for r in publisher.status("a")} == {State.PUBLISHED}


def test_run_due_reconciles_a_send_a_crashed_worker_left(make, clock) -> None:
    publisher = make(accounts=("one",))
    publisher.platform.fail("one", ("after", KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # the process "dies" after the platform stored it
        publisher.publish(Post(id="crash", text="Stored, then the worker died."))
    assert publisher.status("crash")[0].state == State.SENDING
    clock.advance(seconds=publisher.config.publish.stale_sending_after + 1)
    publisher.run_due()
    row = publisher.status("crash")[0]
    assert row.state == State.PUBLISHED
    assert row.receipt.reconciled
    assert len(publisher.platform.sends) == 1


def test_a_worker_runs_until_stopped_and_one_per_sqlite_store(make, clock) -> None:
    publisher = make()
    publisher.publish(Post(id="w", text="Due in a minute.",
                           schedule=clock.now() + timedelta(minutes=1)))

    class StopAfter:
        def __init__(self, n: int) -> None:
            self.n = n

        def is_set(self) -> bool:
            self.n -= 1
            return self.n < 0

    with Worker(publisher) as worker:
        with pytest.raises(ConfigurationError, match="another worker runs on this SQLite"):
            Worker(publisher).__enter__()
        handled = worker.run(interval=30, stop=StopAfter(2000))  # type: ignore[arg-type]
    assert handled == 2
    assert {r.state for r in publisher.status("w")} == {State.PUBLISHED}
    with Worker(publisher):  # the lock is released on exit
        pass


# -- freeze and thaw -------------------------------------------------------------------------

def test_a_freeze_stops_every_send_and_a_thaw_never_back_fires(make, clock) -> None:
    publisher = make()
    publisher.publish(Post(id="before", text="Scheduled before the freeze.",
                           schedule=clock.now() + timedelta(hours=1)))
    publisher.publish(Post(id="after", text="Scheduled after the freeze.",
                           schedule=clock.now() + timedelta(days=2)))
    freeze = publisher.freeze(reason="a shooting nearby", by="comms lead")
    report = publisher.publish(Post(id="during", text="Written during the freeze."))
    assert {o.state for o in report.outcomes} == {State.PENDING}
    assert all("freeze" in o.error.message for o in report.outcomes)
    clock.advance(hours=2)
    publisher.run_due()
    assert not publisher.platform.sends
    assert [f.id for f in publisher.thaw(by="comms lead")] == [freeze.id]
    publisher.run_due()
    assert not publisher.platform.sends  # both fell due during the freeze: held
    for post_id in ("before", "during"):
        rows = publisher.status(post_id)
        assert {r.state for r in rows} == {State.HELD}, post_id
        assert rows[0].error.type == "MissedDuringFreeze"
    clock.advance(days=2)
    publisher.run_due()
    assert {r.state for r in publisher.status("after")} == {State.PUBLISHED}
    publisher.schedule("during", clock.now() + timedelta(minutes=5))
    assert {r.state for r in publisher.status("during")} == {State.PENDING}
    clock.advance(minutes=6)
    publisher.run_due()
    assert {r.state for r in publisher.status("during")} == {State.PUBLISHED}
    kinds = [e.kind for e in publisher.ledger.audit_events("")]
    assert kinds == ["freeze", "thaw"]
    assert publisher.ledger.audit_events("")[0].data["reason"] == "a shooting nearby"


def test_another_process_freeze_stops_a_queued_send_within_a_second(make, tmp_path,
                                                                   fake_publisher, clock):
    publisher = make(accounts=("one",))
    other = fake_publisher(config=_config(tmp_path, accounts=("one",)), clock=clock)
    assert publisher.loop.frozen("test") is None  # caches "not frozen" for a second
    other.freeze(reason="incident", by="someone else")
    clock.advance(seconds=1)
    report = publisher.publish(Post(id="q", text="Queued."))
    assert report.outcomes[0].state == State.PENDING
    assert not publisher.platform.sends


def test_a_brand_freeze_leaves_other_brands_alone(tmp_path, fake_publisher, clock) -> None:
    cfg = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
        "brands": {"a": {"name": "A Hospital"}, "b": {"name": "B Clinic"}},
        "accounts": {"a1": {"channel": "fake", "brand": "a"},
                     "b1": {"channel": "fake", "brand": "b"}}}, root=tmp_path, environ={})
    publisher = fake_publisher(config=cfg, clock=clock)
    publisher.freeze(reason="incident at A", by="lead", brand="a")
    publisher.publish(Post(id="pa", text="A news.", brand="a"))
    publisher.publish(Post(id="pb", text="B news.", brand="b"))
    assert publisher.status("pa")[0].state == State.PENDING
    assert publisher.status("pb")[0].state == State.PUBLISHED
    with pytest.raises(InvalidPost, match="brand"):
        publisher.freeze(reason="x", by="y", brand="nope")


def test_a_freeze_until_ends_by_itself(make, clock) -> None:
    publisher = make(accounts=("one",))
    publisher.freeze(reason="maintenance", by="lead", until=clock.now() + timedelta(hours=1))
    clock.advance(hours=1, seconds=1)
    publisher.publish(Post(id="x", text="After the window."))
    assert publisher.status("x")[0].state == State.PUBLISHED


# -- takedown --------------------------------------------------------------------------------

def test_takedown_deletes_everywhere_and_records_each(make, clock) -> None:
    publisher = make()
    publisher.publish(Post(id="leak", text="Oops."))
    assert len(publisher.platform.posts) == 2
    clock.advance(minutes=3)
    done = publisher.takedown("leak", reason="privacy officer request", by="privacy officer")
    assert {d.account for d in done} == {"one", "two"}
    assert all(d.removed_at == clock.now() for d in done)
    assert all(d.error is None for d in done)
    assert not publisher.platform.posts
    assert {r.state for r in publisher.status("leak")} == {State.TAKEN_DOWN}
    events = [e for e in publisher.ledger.audit_events("leak") if e.kind == "takedown"]
    assert len(events) == 2
    assert events[0].data["by"] == "privacy officer"
    assert publisher.ledger.verify_audit() == []
    assert publisher.takedown("leak", reason="again", by="x") == []  # nothing left
    with pytest.raises(InvalidPost, match="not a target"):
        publisher.takedown("leak", reason="r", by="x", accounts=["nope"])
    with pytest.raises(InvalidPost, match="reason"):
        publisher.takedown("leak", reason=" ", by="x")


# -- the CLI ---------------------------------------------------------------------------------

def test_the_cli_freezes_lists_schedules_and_takes_down(make, monkeypatch, clock,
                                                         tmp_path) -> None:
    publisher = make()
    monkeypatch.setattr(cli_commands, "open_publisher", lambda _config: publisher)
    monkeypatch.setattr(publisher, "close", lambda: None)
    (tmp_path / "carecast.toml").write_text(
        '[brands.test]\nname = "Test Hospital"\n[accounts.one]\nchannel = "fake"\n')
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    publisher.publish(Post(id="p", text="Hello."))
    out = runner.invoke(app, ["posts", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == [{
        "post_id": "p", "brand": None, "stored_at": clock.now().isoformat(), "schedule": None,
        "not_after": None, "targets": {"one": "published", "two": "published"}}]
    assert json.loads(runner.invoke(app, ["posts", "--json", "--state", "held"]).stdout) == []
    out = runner.invoke(app, ["freeze", "--reason", "incident", "--as", "lead", "--json"])
    assert out.exit_code == 0
    assert json.loads(out.stdout)["by"] == "lead"
    assert "1 freeze(s) ended" in runner.invoke(app, ["thaw", "--as", "lead"]).output
    out = runner.invoke(app, ["schedule", "p", "--at", "2027-03-14T02:30"])
    assert out.exit_code == 2
    assert "does not exist" in out.output
    out = runner.invoke(app, ["takedown", "p", "--reason", "leak", "--as", "po", "--json"])
    assert out.exit_code == 0, out.output
    assert {d["account"] for d in json.loads(out.stdout)} == {"one", "two"}
    out = runner.invoke(app, ["worker", "--once"])
    assert out.exit_code == 0, out.output


def test_a_freeze_takes_a_natively_scheduled_facebook_post_off_its_schedule(tmp_path) -> None:
    import responses

    from carecast.publish import Publisher

    base, page = "https://graph.facebook.com/v27.0", "175154750010052"
    clock = FrozenClock(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
    cfg = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
        "brands": {"test": {"name": "Test Hospital", "timezone": "America/New_York"}},
        "accounts": {"fb": {"channel": "facebook", "brand": "test", "page_id": page}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__FB__ACCESS_TOKEN": "EAAGpage-tok3n-secret"})
    with responses.RequestsMock() as mocked, \
            Publisher(cfg, entry_point_plugins=False, clock=clock) as publisher:
        mocked.post(f"{base}/{page}/feed", json={"id": f"{page}_9"})
        publisher.publish(Post(id="fb1", text="Flu clinic tomorrow.",
                               schedule=datetime(2027, 3, 11, 9, 0)))
        assert publisher.status("fb1")[0].state == State.PUBLISHED  # Facebook holds it
        gone = mocked.delete(f"{base}/{page}_9", json={"success": True})
        publisher.freeze(reason="incident", by="lead")
        assert gone.call_count == 1
        row = publisher.status("fb1")[0]
        assert row.state == State.HELD
        assert row.error.type == "Frozen"
        publisher.thaw(by="lead")
        clock.advance(days=2)
        publisher.run_due()  # nothing is back-fired
        assert publisher.status("fb1")[0].state == State.HELD
        assert len(mocked.calls) == 2
