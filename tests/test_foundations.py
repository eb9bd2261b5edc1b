"""The foundations: one frozen clock everywhere, built-in checks that always load, a review
that reads only, and plugin mistakes reported as carecast errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import carecast.plugins
from carecast import ConfigurationError, Post, hookimpl
from carecast.config import Config
from carecast.publish import Publisher
from carecast.records import State
from carecast.testing import FakeChannel, FakePlatform, FrozenClock

SSN_POST = "Our patient (SSN 123-45-6789, MRN 00482913) went home today."
AT = datetime(2031, 7, 4, 16, 30, tzinfo=UTC)


def config(root: Path, *, store: str | None = None, **extra: Any) -> Config:
    return Config.from_dict({
        "store": {"url": store or f"sqlite:///{root}/carecast.db"},
        "brands": {"riverside": {"name": "Riverside General", **extra.pop("brand", {})}},
        "accounts": {"a": {"channel": "fake", "brand": "riverside"}},
        **extra,
    }, root=root, environ={})


def publisher(cfg: Config, **kw: Any) -> Publisher:
    fake = type("Fake", (FakeChannel,), {"platform": FakePlatform()})
    return Publisher(cfg, channel_classes={"fake": fake}, **kw)


# -- one clock --------------------------------------------------------------------------------


def test_the_ledger_the_retry_policy_and_every_channel_share_the_publishers_clock(
        tmp_path: Path) -> None:
    clock = FrozenClock(AT)
    with publisher(config(tmp_path), clock=clock) as pub:
        assert pub.retry_policy.clock is clock
        assert pub.channel("a").clock is clock
        report = pub.publish(Post(id="clock-1", text="The clinic opens at nine."))
        assert report["a"].state == State.PUBLISHED
        assert pub.ledger.clock is clock
        assert pub.ledger.stored_at("clock-1") == AT
        assert pub.ledger.attempt("clock-1", "a").updated_at == AT
        assert report["a"].receipt.published_at == AT
        assert {e.at for e in pub.ledger.audit_events("clock-1")} == {AT.isoformat()}


def test_a_retry_policy_given_without_a_clock_lends_the_publisher_its_own(tmp_path: Path,
                                                                         no_sleep: Any) -> None:
    with publisher(config(tmp_path), retry=no_sleep) as pub:
        assert pub.clock is no_sleep.clock
        assert pub.ledger.clock is no_sleep.clock


def test_no_module_reads_the_system_clock_but_carecast_clock() -> None:
    src = Path(carecast.plugins.__file__).parent
    readers = ("datetime.now(", "time.time(", "time.monotonic(", "time.sleep(", "date.today(",
               "utcnow(")
    offenders = [f"{path.relative_to(src)}:{n}"
                 for path in src.rglob("*.py") if path.name != "clock.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if any(r in line for r in readers)]
    assert offenders == []


# -- built-in checks ---------------------------------------------------------------------------


def test_leaving_out_third_party_plugins_keeps_the_phi_guard(tmp_path: Path) -> None:
    with publisher(config(tmp_path), entry_point_plugins=False) as pub:
        report = pub.publish(Post(id="ssn-1", text=SSN_POST))
        assert report["a"].state == State.BLOCKED
        assert {f.check for f in report["a"].findings} >= {"phi"}
        assert pub.channel("a").platform.sends == []


def test_a_check_turned_off_for_a_brand_says_who_in_the_audit_trail(tmp_path: Path) -> None:
    off = {"checks": {"voice": {"enabled": False, "disabled_by": "Dana Lee, brand director",
                                "reason": "style guide under review"}}}
    with publisher(config(tmp_path, brand=off), entry_point_plugins=False) as pub:
        report = pub.publish(Post(id="off-1", text="Flu shots this Saturday."))
        assert report["a"].state == State.PUBLISHED
        notes = [f.get("note", "") for e in pub.ledger.audit_events("off-1")
                 for f in e.data.get("findings", [])]
    assert any("voice" in n and "Dana Lee, brand director" in n
               and "style guide under review" in n for n in notes)


def test_turning_a_check_off_without_saying_who_blocks(tmp_path: Path) -> None:
    off = {"checks": {"phi": {"enabled": False}}}
    with publisher(config(tmp_path, brand=off)) as pub:
        found = pub.preview(Post(text="Flu shots this Saturday.")).targets[0]
    assert found.state == State.BLOCKED
    assert any(f.code == "phi.settings" and "disabled_by" in f.message for f in found.findings)


# -- review reads only -------------------------------------------------------------------------


def _needs_approval_and_consent(root: Path) -> tuple[dict[str, Any], Post]:
    Image.new("RGB", (40, 30), (120, 160, 200)).save(root / "ward.jpg")
    extra = {"approvals": {"campaigns": ["patient-stories"],
                           "steps": [{"name": "privacy", "approvers": ["Sam Ortiz"]}]}}
    post = Post(id="story-1", text="Our new rehab gym is open.", campaign="patient-stories",
                media=[{"source": "ward.jpg", "alt_text": "The rehab gym",
                        "consent": "C-2031-7"}], author="Alex Kim")
    return extra, post


def test_preview_and_dry_run_leave_no_store_behind(tmp_path: Path) -> None:
    extra, post = _needs_approval_and_consent(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with publisher(config(tmp_path, **extra)) as pub:
        preview = pub.preview(post)
        report = pub.publish(post, dry_run=True)
    assert preview.targets[0].state == State.BLOCKED  # the consent is not on record
    assert any(f.code == "consent.unknown" for f in preview.targets[0].findings)
    assert report.dry_run
    assert report["a"].state == State.BLOCKED
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_preview_reads_an_existing_store_without_writing_it(tmp_path: Path) -> None:
    extra, post = _needs_approval_and_consent(tmp_path)
    from carecast import Consent

    with publisher(config(tmp_path, **extra)) as pub:
        pub.ledger.add_consent(Consent(id="C-2031-7", initials="R.T.", channels=["fake"],
                                       media=["ward.jpg"],
                                       expires=datetime.now(UTC) + timedelta(days=400)))
    store = tmp_path / "carecast.db"
    stamp = store.stat().st_mtime_ns, store.stat().st_size
    with publisher(config(tmp_path, **extra)) as pub:
        target = pub.preview(post).targets[0]
    assert target.state == State.AWAITING_APPROVAL  # consent found: it waits for privacy
    assert (store.stat().st_mtime_ns, store.stat().st_size) == stamp


def test_preview_works_with_an_unreachable_database(tmp_path: Path) -> None:
    extra, post = _needs_approval_and_consent(tmp_path)
    cfg = config(tmp_path, store="postgresql+psycopg://carecast@127.0.0.1:1/carecast", **extra)
    with publisher(cfg) as pub:
        assert pub.preview(post).targets[0].state == State.BLOCKED
        assert pub.publish(post, dry_run=True)["a"].state == State.BLOCKED


# -- plugin mistakes ---------------------------------------------------------------------------


def test_a_misspelt_hook_is_a_configuration_error(tmp_path: Path) -> None:
    class Typo:
        @hookimpl
        def carecast_review_drafts(self, draft: Any) -> list[Any]:
            return []

    with pytest.raises(ConfigurationError) as info:
        publisher(config(tmp_path), plugins=[Typo()])
    message = str(info.value)
    assert "Typo" in message
    assert "carecast_review_drafts" in message
    assert "carecast_review_draft" in message.split("hooks are")[1]


def test_a_wrong_argument_name_is_a_configuration_error(tmp_path: Path) -> None:
    class Wrong:
        @hookimpl
        def carecast_review_draft(self, drafts: Any) -> list[Any]:
            return []

    with pytest.raises(ConfigurationError, match=r"Wrong.*drafts.*docs/hooks.md"):
        publisher(config(tmp_path), plugins=[Wrong()])


def test_a_plugin_that_fails_to_import_is_one_line_and_blocks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = EntryPoint(name="broken-check", value="carecast_no_such_plugin_module",
                        group="carecast.hooks")
    monkeypatch.setattr(carecast.plugins, "entry_points", lambda group: [broken])
    with caplog.at_level("ERROR", logger="carecast.plugins"), publisher(config(tmp_path)) as pub:
        target = pub.preview(Post(text="Flu shots this Saturday.")).targets[0]
    assert target.state == State.BLOCKED
    assert [f.code for f in target.findings if f.check == "broken-check"] == [
        "review.plugin_error"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "\n" not in lines[0]
    assert "broken-check" in lines[0]
    assert "ModuleNotFoundError" in lines[0]


def test_state_is_plain_data_without_the_store() -> None:
    code = ("import sys, carecast; carecast.State.PUBLISHED; "
            "from carecast.records import Attempt, ErrorInfo, Decision; "
            "print('sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_a_preview_then_a_publish_on_one_publisher(tmp_path: Path) -> None:
    with publisher(config(tmp_path)) as pub:
        pub.publish(Post(id="first", text="The clinic opens at nine."))
    with publisher(config(tmp_path)) as pub:
        assert pub.preview(Post(id="second", text="The lab opens at eight.")).ok
        assert pub.publish(Post(id="second", text="The lab opens at eight.")).ok
        assert pub.records is pub.ledger


def test_a_given_ledger_stamps_with_the_publishers_clock(tmp_path: Path) -> None:
    from carecast.store import Ledger

    clock = FrozenClock(AT)
    with Ledger(f"sqlite:///{tmp_path}/given.db") as ledger, \
            publisher(config(tmp_path), ledger=ledger, clock=clock) as pub:
        pub.publish(Post(id="given", text="The clinic opens at nine."))
        assert ledger.stored_at("given") == AT
