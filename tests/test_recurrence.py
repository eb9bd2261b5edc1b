"""Recurring posts: every N days or weekly, until a day or a count, DST-correct in brand time;
each occurrence its own post, never scheduled twice; and the loop's reads stay bounded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from carecast.errors import InvalidPost
from carecast.post import Post, Repeat, post_from_dict
from carecast.publish.loop import occurrence_id
from carecast.records import State
from carecast.schedule import occurrences
from carecast.testing import FrozenClock
from test_loop import _config  # the loop tests' config: the same brand and fake accounts

NY = ZoneInfo("America/New_York")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def make(fake_publisher, tmp_path, clock):
    def build(**kw):
        return fake_publisher(config=_config(tmp_path, **kw), clock=clock)
    return build


def _local(moments: list[datetime]) -> list[str]:
    return [f"{m.astimezone(NY):%a %m-%d %H:%M}" for m in moments]


# -- the rule --------------------------------------------------------------------------------

def test_daily_keeps_nine_local_across_the_spring_change() -> None:
    # 14 March 2027 New York goes from EST (-5) to EDT (-4)
    first = datetime(2027, 3, 12, 14, 0, tzinfo=UTC)  # 09:00 EST
    moments = occurrences(Repeat(count=4), first, NY)
    assert [m.hour for m in moments] == [14, 14, 13, 13]
    assert {m.astimezone(NY).hour for m in moments} == {9}


def test_daily_keeps_nine_local_across_the_autumn_change() -> None:
    # 7 November 2027 New York goes back from EDT (-4) to EST (-5)
    first = datetime(2027, 11, 5, 13, 0, tzinfo=UTC)  # 09:00 EDT
    moments = occurrences(Repeat(until=date(2027, 11, 8)), first, NY)
    assert [m.hour for m in moments] == [13, 13, 14, 14]
    assert _local(moments) == ["Fri 11-05 09:00", "Sat 11-06 09:00", "Sun 11-07 09:00",
                               "Mon 11-08 09:00"]


def test_every_n_days_and_weekly_on_days_every_other_week() -> None:
    first = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # Monday 10:00 EST
    assert _local(occurrences(Repeat(every=3, count=3), first, NY)) == [
        "Mon 03-01 10:00", "Thu 03-04 10:00", "Sun 03-07 10:00"]
    weekly = occurrences(Repeat(every=2, weekdays=("thu", "Tue"), until=date(2027, 3, 25)),
                         first, NY)
    # the first week holds Tue 2 and Thu 4, the next is skipped, then Tue 16 and Thu 18
    assert _local(weekly) == ["Tue 03-02 10:00", "Thu 03-04 10:00", "Tue 03-16 10:00",
                              "Thu 03-18 10:00"]


def test_count_and_until_together_stop_at_the_first_reached() -> None:
    first = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
    assert len(occurrences(Repeat(count=10, until=date(2027, 3, 3)), first, NY)) == 3
    assert len(occurrences(Repeat(count=2, until=date(2027, 3, 30)), first, NY)) == 2


def test_an_occurrence_in_a_skipped_or_repeated_hour_reads_as_rfc_5545() -> None:
    skipped = occurrences(Repeat(count=3), datetime(2027, 3, 13, 7, 30, tzinfo=UTC), NY)
    # 02:30 does not exist on 14 March: the offset before the change applies (03:30 EDT)
    assert _local(skipped) == ["Sat 03-13 02:30", "Sun 03-14 03:30", "Mon 03-15 02:30"]
    repeated = occurrences(Repeat(count=2), datetime(2027, 11, 6, 5, 30, tzinfo=UTC), NY)
    # 01:30 happens twice on 7 November: the first (EDT) is taken
    assert repeated[1] == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_a_rule_must_end_and_name_its_fault() -> None:
    with pytest.raises(InvalidPost, match=r"repeat: give until .* or count"):
        post_from_dict({"text": "x", "schedule": "2027-03-02T10:00", "repeat": {"every": 2}})
    with pytest.raises(InvalidPost, match=r"repeat\.weekdays.*weekdays as mon"):
        post_from_dict({"text": "x", "schedule": "2027-03-02T10:00",
                        "repeat": {"weekdays": ["someday"], "count": 2}})
    with pytest.raises(InvalidPost, match=r"repeat: a recurring post needs a schedule"):
        post_from_dict({"text": "x", "repeat": {"count": 2}})
    with pytest.raises(InvalidPost, match=r"repeat: more than 500 occurrences"):
        occurrences(Repeat(until=date(2029, 1, 1)), datetime(2027, 3, 1, tzinfo=UTC), NY)


def test_a_post_without_repeat_keeps_its_id() -> None:
    # the new fields count in the content hash only when set
    plain = Post(text="Flu clinic.")
    assert plain.id == Post(text="Flu clinic.", repeat=None, series=None).id
    assert plain.id != Post(text="Flu clinic.", schedule=datetime(2027, 3, 2, tzinfo=UTC),
                            repeat=Repeat(count=2)).id


# -- through the publisher -------------------------------------------------------------------

def _weekly() -> Post:
    return Post(id="vax", text="Walk-in vaccination clinic today, 10-2.",
                schedule=datetime(2027, 3, 9, 9, 0),  # Tuesday 09:00 brand time
                not_after=datetime(2027, 3, 9, 12, 0),  # never more than 3 h late
                repeat=Repeat(weekdays=("tue",), until=date(2027, 3, 30)))


def test_each_occurrence_is_its_own_scheduled_post(make, clock) -> None:
    publisher = make()
    reports = publisher.publish_series(_weekly())
    assert [r.post_id for r in reports] == [
        "vax:20270309T1400Z", "vax:20270316T1300Z", "vax:20270323T1300Z",
        "vax:20270330T1300Z"]  # 09:00 local before and after the change on 14 March
    stored = publisher.ledger.get_post("vax:20270316T1300Z")
    assert stored.series == "vax"
    assert stored.repeat is None
    assert stored.not_after == datetime(2027, 3, 16, 16, 0, tzinfo=UTC)
    assert not publisher.platform.sends
    assert occurrence_id("vax", stored.schedule) == stored.id


def test_reapplying_or_rerunning_never_makes_a_second_occurrence(make, clock) -> None:
    publisher = make()
    publisher.publish_series(_weekly())
    events = len(publisher.ledger.audit_events())
    assert publisher.publish_series(_weekly()) == []  # nothing new, nothing re-recorded
    assert len(publisher.ledger.audit_events()) == events
    assert len(publisher.ledger.post_ids()) == 4
    clock.advance(days=8, hours=3)  # Tue 9 March, an hour after the first moment
    for _ in range(4):  # a worker's passes each week, twice, and the series re-applied
        publisher.run_due()
        publisher.run_due()
        publisher.publish_series(_weekly())
        clock.advance(days=7)
    sent = publisher.platform.sends
    assert len(sent) == len(set(sent)) == 8  # 4 occurrences x 2 accounts, once each
    assert len(publisher.ledger.post_ids()) == 4


def test_not_after_holds_a_late_occurrence_and_the_next_still_goes(make, clock) -> None:
    publisher = make()
    publisher.publish_series(_weekly())
    clock.advance(days=8, hours=12)  # Tue 9 March 19:00 local: hours past its 12:00
    publisher.run_due()
    late = publisher.status("vax:20270309T1400Z")
    assert {r.state for r in late} == {State.HELD}
    assert late[0].error.type == "Expired"
    clock.advance(days=6, hours=14)  # Tue 16 March 10:00 local: within its window
    publisher.run_due()
    assert {r.state for r in publisher.status("vax:20270316T1300Z")} == {State.PUBLISHED}
    assert len(publisher.platform.sends) == 2


def test_moments_already_passed_are_never_scheduled(make, clock) -> None:
    publisher = make()
    clock.advance(days=16)  # 17 March: the first two Tuesdays are gone
    reports = publisher.publish_series(_weekly())
    assert [r.post_id for r in reports] == ["vax:20270323T1300Z", "vax:20270330T1300Z"]


def test_a_dry_run_stores_nothing_and_publish_refuses_a_series(make, clock) -> None:
    publisher = make()
    assert len(publisher.publish_series(_weekly(), dry_run=True)) == 4
    assert publisher.ledger.post_ids() == []
    with pytest.raises(InvalidPost, match="publish_series"):
        publisher.publish(_weekly())


# -- bounded reads ---------------------------------------------------------------------------

def _queries(publisher, action) -> int:
    count = 0

    def seen(*_args: object) -> None:
        nonlocal count
        count += 1

    sa.event.listen(publisher.ledger.engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        sa.event.remove(publisher.ledger.engine, "before_cursor_execute", seen)
    return count


@pytest.mark.parametrize("what", ["next_slot", "posts", "freeze"])
def test_the_loop_reads_the_store_a_bounded_number_of_times(fake_publisher, tmp_path_factory,
                                                            clock, what) -> None:
    def measure(stored: int) -> int:
        config = _config(tmp_path_factory.mktemp("store"), slots=["daily 10:00"])
        publisher = fake_publisher(config=config, clock=clock)
        for i in range(stored):
            publisher.publish(Post(id=f"p{i}", text=f"Post {i}.",
                                   schedule=clock.now() + timedelta(days=i + 1)))
        return _queries(publisher, {
            "next_slot": lambda: publisher.next_slot("one"),
            "posts": publisher.ledger.stored,
            "freeze": lambda: publisher.freeze(reason="incident", by="comms"),
        }[what])

    assert measure(3) == measure(30)


def test_a_pass_over_due_posts_reads_the_freezes_once(make, clock, monkeypatch) -> None:
    publisher = make()
    publisher.freeze(reason="incident", by="comms")
    publisher.thaw(by="comms")
    for i in range(20):
        publisher.publish(Post(id=f"p{i}", text=f"Post {i}.",
                               schedule=clock.now() + timedelta(hours=1)))
    clock.advance(hours=2)
    reads = []
    real = publisher.ledger.freezes
    monkeypatch.setattr(publisher.ledger, "freezes", lambda: reads.append(1) or real())
    publisher.run_due()
    assert len(publisher.platform.sends) == 40
    assert len(reads) <= 2  # once per FREEZE_CHECK second of the pass, not once per post
