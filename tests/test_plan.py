"""The 90-day plan: observances as rules, the plan file, plan check and plan apply."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carecast.cli import app
from carecast.cli import commands as cli_commands
from carecast.config import Config
from carecast.errors import InvalidPost
from carecast.observances import load_observances, observances_between
from carecast.plan import load_plan, plan_from_dict
from carecast.post import Post
from carecast.testing import FrozenClock

OBS = {o.id: o for o in load_observances()}


# -- observances -----------------------------------------------------------------------------

@pytest.mark.parametrize("year", [2026, 2027, 2028, 2031])
def test_observances_follow_their_rules_every_year(year: int) -> None:
    first, last = OBS["american-heart-month"].dates(year)
    assert (first, last) == (date(year, 2, 1), date(year, 3, 1) - timedelta(days=1))
    assert OBS["breast-cancer-awareness-month"].dates(year) == (date(year, 10, 1),
                                                                date(year, 10, 31))
    assert OBS["national-nurses-week"].dates(year) == (date(year, 5, 6), date(year, 5, 12))
    # Women's Health Week starts on Mother's Day, the second Sunday of May
    whw = OBS["national-womens-health-week"].dates(year)
    assert whw[0].weekday() == 6
    assert 8 <= whw[0].day <= 14
    assert whw[0].month == 5
    assert (whw[1] - whw[0]).days == 6
    # Men's Health Week ends on Father's Day, the third Sunday of June, and starts Monday
    mhw = OBS["mens-health-week"].dates(year)
    assert mhw[1].weekday() == 6
    assert 15 <= mhw[1].day <= 21
    assert mhw[0].weekday() == 0
    # Public Health Week is the first full week (Monday to Sunday) of April
    phw = OBS["national-public-health-week"].dates(year)
    assert phw[0].weekday() == 0
    assert phw[0].month == 4
    assert phw[0].day <= 7
    # Hospital Week is the Sunday-to-Saturday week that holds May 12
    nhw = OBS["national-hospital-week"].dates(year)
    assert nhw[0].weekday() == 6
    assert nhw[0] <= date(year, 5, 12) <= nhw[1]
    # Wear Red Day, the first Friday of February; the Great American Smokeout, third Thursday
    red = OBS["national-wear-red-day"].dates(year)[0]
    assert red.weekday() == 4
    assert red.day <= 7
    assert red.month == 2
    smoke = OBS["great-american-smokeout"].dates(year)[0]
    assert smoke.weekday() == 3
    assert 15 <= smoke.day <= 21
    assert smoke.month == 11


def test_known_dates_of_2024_and_2025() -> None:
    # as their sponsors announced them
    assert OBS["national-public-health-week"].dates(2024) == (date(2024, 4, 1), date(2024, 4, 7))
    assert OBS["national-public-health-week"].dates(2025) == (date(2025, 4, 7),
                                                              date(2025, 4, 13))
    assert OBS["national-womens-health-week"].dates(2024) == (date(2024, 5, 12),
                                                              date(2024, 5, 18))
    assert OBS["mens-health-week"].dates(2024) == (date(2024, 6, 10), date(2024, 6, 16))
    assert OBS["national-influenza-vaccination-week"].dates(2023) == (date(2023, 12, 4),
                                                                      date(2023, 12, 8))
    assert OBS["national-wear-red-day"].dates(2024)[0] == date(2024, 2, 2)


def test_a_window_across_new_year_finds_both_years() -> None:
    found = {o.id: (a, b) for o, a, b in observances_between(date(2027, 12, 1),
                                                             date(2028, 2, 29))}
    assert found["world-aids-day"] == (date(2027, 12, 1), date(2027, 12, 1))
    assert found["cervical-health-awareness-month"] == (date(2028, 1, 1), date(2028, 1, 31))
    assert found["american-heart-month"] == (date(2028, 2, 1), date(2028, 2, 29))  # leap
    assert "breast-cancer-awareness-month" not in found


def test_every_observance_names_its_sponsor_and_the_data_cites_its_source() -> None:
    assert len(OBS) >= 50
    assert all(o.sponsor and o.name for o in OBS.values())
    data = (Path(__file__).parents[1] / "src/carecast/data/observances.toml").read_text()
    assert "Office of Disease Prevention and Health Promotion" in data
    assert "public domain" in data


# -- the plan file ---------------------------------------------------------------------------

def _config(tmp_path: Path, **approvals: object) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"test": {"name": "Test Hospital", "timezone": "America/New_York"}},
        "accounts": {
            "social": {"channel": "fake", "brand": "test", "slots": ["Tue, Thu 10:00"]},
            "blog": {"channel": "outbox", "brand": "test", "path": str(tmp_path / "o.jsonl")},
        },
        **({"approvals": approvals} if approvals else {}),
    }, root=tmp_path, environ={})


def _plan(tmp_path: Path, **changes: object) -> dict[str, object]:
    (tmp_path / "heart.yaml").write_text(
        "title: Heart Month\ntext: Free blood-pressure checks every Tuesday.\n"
        "campaign: heart\n", encoding="utf-8")
    plan: dict[str, object] = {
        "brand": "test", "start": date(2027, 2, 1), "days": 14,
        "cadence": {"fake": {"min": 1, "max": 2}},
        "campaigns": [{"id": "heart", "title": "Heart health", "start": date(2027, 2, 1),
                       "end": date(2027, 2, 28), "owner": "Dana",
                       "observance": "american-heart-month"}],
        "posts": [
            {"file": "heart.yaml", "at": datetime(2027, 2, 2, 9, 0)},
            {"draft": {"text": "Wear red on Friday."}, "at": datetime(2027, 2, 5, 8, 0),
             "campaign": "heart"},
            {"draft": {"text": "Ask us about blood pressure."}, "slot": "social",
             "day": date(2027, 2, 8), "accounts": ["social"], "owner": "Sam"},
        ],
    }
    plan.update(changes)
    return plan


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2027, 1, 10, 12, 0, tzinfo=UTC))


def test_a_plan_file_reads_yaml_and_toml_and_names_bad_fields(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(
        "brand: test\nstart: 2027-02-01\nposts:\n  - draft: {text: Hi}\n    at: 2027-02-02 09:00\n",
        encoding="utf-8")
    assert load_plan(tmp_path / "plan.yaml").posts[0].draft == {"text": "Hi"}
    (tmp_path / "plan.toml").write_text(
        'brand = "test"\nstart = 2027-02-01\n[[posts]]\ndraft = {text = "Hi"}\n'
        'at = 2027-02-02T09:00:00\n', encoding="utf-8")
    assert load_plan(tmp_path / "plan.toml").posts[0].at == datetime(2027, 2, 2, 9, 0)
    with pytest.raises(InvalidPost, match=r"posts\[0\]: give either file .* or draft"):
        plan_from_dict({"brand": "test", "start": "2027-02-01", "posts": [{"at": "2027-02-02"}]})
    with pytest.raises(InvalidPost, match=r"days: .*less than or equal to 400"):
        plan_from_dict({"brand": "test", "start": "2027-02-01", "days": 4000})
    with pytest.raises(InvalidPost, match=r"campaigns\[0\]: end is before start"):
        plan_from_dict({"brand": "test", "start": "2027-02-01", "campaigns": [
            {"id": "c", "title": "C", "start": "2027-03-01", "end": "2027-02-01"}]})
    (tmp_path / "alias.yaml").write_text("a: &x [1]\nbrand: *x\n", encoding="utf-8")
    with pytest.raises(InvalidPost, match="not valid YAML"):
        load_plan(tmp_path / "alias.yaml")
    (tmp_path / "big.yaml").write_text("brand: test\n" + "#" * 2000, encoding="utf-8")
    with pytest.raises(InvalidPost, match="CARECAST_MAX_POST_BYTES"):
        load_plan(tmp_path / "big.yaml", max_bytes=1000)


# -- plan check ------------------------------------------------------------------------------

def _codes(issues) -> list[tuple[str, str, str]]:
    return [(i.severity, i.code, i.where) for i in issues]


def test_a_sound_plan_has_only_suggestions(fake_publisher, tmp_path, clock) -> None:
    publisher = fake_publisher(config=_config(tmp_path), clock=clock)
    issues = publisher.plan_check(plan_from_dict(_plan(tmp_path), root=tmp_path))
    assert {i.severity for i in issues} == {"suggestion"}
    suggested = {i.where for i in issues}
    assert "national-wear-red-day" in suggested  # a day in the window, no campaign for it
    assert "american-heart-month" not in suggested  # the heart campaign takes it up
    assert "national-childrens-dental-health-month" in suggested


def test_gaps_over_posting_and_posts_outside_their_campaign(fake_publisher, tmp_path,
                                                            clock) -> None:
    publisher = fake_publisher(config=_config(tmp_path), clock=clock)
    plan = _plan(tmp_path, days=21, campaigns=[
        {"id": "heart", "title": "Heart health", "start": date(2027, 2, 3),
         "end": date(2027, 2, 28)}])
    plan["posts"] = [*plan["posts"],  # type: ignore[misc]
                     *({"draft": {"text": f"Tip {i}."}, "at": datetime(2027, 2, 3, 9 + i),
                        "accounts": ["social"]} for i in range(2))]
    issues = _codes(publisher.plan_check(plan_from_dict(plan, root=tmp_path)))
    assert ("error", "plan.over_cadence", "week 1") in issues  # four fake posts, max two
    assert ("error", "plan.outside_campaign", "posts[0]") in issues  # 2 Feb, campaign from 3
    assert ("warning", "plan.empty_week", "week 3") in issues
    assert ("warning", "plan.channel_gap", "week 2") not in issues  # the slot post is there
    assert issues[0][0] == "error"  # errors first


def test_an_approval_deadline_that_cannot_be_met(fake_publisher, tmp_path, clock) -> None:
    config = _config(tmp_path, campaigns=["heart"], deadline=86400,
                     steps=[{"name": "legal"}, {"name": "comms"}])
    publisher = fake_publisher(config=config, clock=clock)
    plan = plan_from_dict(_plan(tmp_path), root=tmp_path)
    assert not [i for i in publisher.plan_check(plan) if i.code == "plan.approval_deadline"]
    # two steps of a day each, due a day before 2 Feb 09:00 EST (1 Feb 14:00 UTC): from
    # 31 Jan noon UTC that cannot be met; 5 Feb's post (due 4 Feb) still can
    clock.advance(days=21)
    late = [i for i in publisher.plan_check(plan) if i.code == "plan.approval_deadline"]
    assert [i.where for i in late] == ["posts[0]"]
    assert "2 step(s), 1 day(s) each" in late[0].message
    assert "2027-02-01T14:00:00+00:00" in late[0].message


def test_unknown_accounts_campaigns_and_cadence_keys_are_errors(fake_publisher, tmp_path,
                                                                clock) -> None:
    publisher = fake_publisher(config=_config(tmp_path), clock=clock)
    plan = _plan(tmp_path, cadence={"tiktok": {"min": 1}}, themes={9: "Later"})
    plan["posts"] = [{"draft": {"text": "x"}, "at": datetime(2027, 2, 2, 9), "accounts": ["nope"]},
                     {"draft": {"text": "y"}, "at": datetime(2027, 2, 2, 9), "campaign": "zzz"},
                     {"draft": {"text": "z"}, "slot": "blog"}]
    issues = _codes(publisher.plan_check(plan_from_dict(plan, root=tmp_path)))
    for expected in [("error", "plan.account", "posts[0]"),
                     ("error", "plan.campaign", "posts[1]"),
                     ("error", "plan.slot", "posts[2]"),
                     ("error", "plan.cadence", "cadence.tiktok"),
                     ("error", "plan.theme", "themes.9")]:
        assert expected in issues


# -- plan apply ------------------------------------------------------------------------------

def test_apply_schedules_each_post_once_and_twice_changes_nothing(fake_publisher, tmp_path,
                                                                  clock) -> None:
    publisher = fake_publisher(config=_config(tmp_path), clock=clock)
    publisher.publish(Post(id="other", text="Already in the 9 Feb slot.", targets=("social",),
                           schedule=datetime(2027, 2, 9, 15, 0, tzinfo=UTC)))
    plan = plan_from_dict(_plan(tmp_path), root=tmp_path)
    steps = publisher.plan_apply(plan)
    assert [s.action for s in steps] == ["schedule"] * 3
    assert steps[0].schedule == datetime(2027, 2, 2, 14, 0, tzinfo=UTC)  # 09:00 EST
    assert steps[2].schedule == datetime(2027, 2, 11, 15, 0, tzinfo=UTC)  # Thu: Tue is taken
    assert [s.owner for s in steps] == ["Dana", "Dana", "Sam"]  # campaign owner, own owner
    stored = publisher.ledger.get_post(steps[1].post_id)
    assert (stored.brand, stored.campaign, stored.schedule) == ("test", "heart",
                                                                steps[1].schedule)
    events = len(publisher.ledger.audit_events())
    again = publisher.plan_apply(plan)
    assert [s.action for s in again] == ["unchanged"] * 3
    assert [s.schedule for s in again] == [s.schedule for s in steps]  # the slot is kept
    assert len(publisher.ledger.audit_events()) == events
    assert len(publisher.ledger.post_ids()) == 4
    assert not publisher.platform.sends


def test_an_edited_post_is_updated_and_a_past_time_is_skipped(fake_publisher, tmp_path,
                                                              clock) -> None:
    publisher = fake_publisher(config=_config(tmp_path), clock=clock)
    plan = plan_from_dict(_plan(tmp_path), root=tmp_path)
    first = publisher.plan_apply(plan)
    (tmp_path / "heart.yaml").write_text(
        "title: Heart Month\ntext: Free checks every Tuesday, 10 to 2.\ncampaign: heart\n",
        encoding="utf-8")
    steps = publisher.plan_apply(plan)
    assert [s.action for s in steps] == ["update", "unchanged", "unchanged"]
    assert steps[0].post_id == first[0].post_id  # same entry, same post
    assert "10 to 2" in publisher.ledger.get_post(steps[0].post_id).text
    clock.advance(days=30)
    late = _plan(tmp_path)
    late["posts"] = [{"draft": {"text": "Too late."}, "at": datetime(2027, 2, 3, 9)}]
    skipped = publisher.plan_apply(plan_from_dict(late, root=tmp_path))
    assert [s.action for s in skipped] == ["skipped"]
    assert publisher.ledger.get_post(skipped[0].post_id) is None


def test_a_dry_run_writes_nothing_and_a_plan_with_errors_is_refused(fake_publisher, tmp_path,
                                                                    clock) -> None:
    publisher = fake_publisher(config=_config(tmp_path), clock=clock)
    steps = publisher.plan_apply(plan_from_dict(_plan(tmp_path), root=tmp_path), dry_run=True)
    assert [s.action for s in steps] == ["schedule"] * 3
    assert not (tmp_path / "carecast.db").exists()
    bad = _plan(tmp_path, cadence={"fake": {"min": 0, "max": 1}})
    bad["posts"] = [*bad["posts"],  # type: ignore[misc]
                    {"draft": {"text": "More."}, "at": datetime(2027, 2, 4, 9)}]
    with pytest.raises(InvalidPost,
                       match=r"(?s)the plan has 1 error\(s\).*week 1: fake: 3 posts.*more than"):
        publisher.plan_apply(plan_from_dict(bad, root=tmp_path))


def test_the_cli_checks_and_applies_with_json(fake_publisher, tmp_path, clock,
                                              monkeypatch) -> None:
    publisher = fake_publisher(config=_config(tmp_path), clock=clock)
    monkeypatch.setattr(cli_commands, "open_publisher", lambda _config: publisher)
    monkeypatch.setattr(cli_commands, "_config", lambda _ctx: publisher.config)
    monkeypatch.setattr(publisher, "close", lambda: None)
    import yaml

    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(_plan(tmp_path)), encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(app, ["plan", "check", str(tmp_path / "plan.yaml"), "--json"])
    assert done.exit_code == 0, done.output
    assert {i["severity"] for i in json.loads(done.stdout)} == {"suggestion"}
    done = runner.invoke(app, ["plan", "apply", str(tmp_path / "plan.yaml"), "--dry-run",
                               "--json"])
    assert done.exit_code == 0, done.output
    assert [s["action"] for s in json.loads(done.stdout)] == ["schedule"] * 3
    done = runner.invoke(app, ["plan", "apply", str(tmp_path / "plan.yaml")])
    assert done.exit_code == 0, done.output
    assert "schedule" in done.stdout
    assert len(publisher.ledger.post_ids()) == 3
