"""``carecast brand audit`` and ``brand sync``: tables, JSON, HTML, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from typer.testing import CliRunner, Result

from carecast.cli import app, commands
from carecast.publish import Publisher

from ._helpers import StaticChannel, UpdatableChannel
from ._images import brand_png, other_png

runner = CliRunner()
CONFIG = """
[store]
url = "sqlite:///state/carecast.db"

[brands.riverside]
name = "Riverside General"
description = "Care close to home since 1921."
website = "https://riverside-general.org"
avatar = "logo.png"

[accounts.main]
channel = "updatable"
brand = "riverside"

[accounts.clinic]
channel = "static"
brand = "riverside"
"""
GOOD = {"display_name": "Riverside General", "description": "Care close to home since 1921.",
        "website": "https://riverside-general.org", "avatar_url": "https://cdn.example/good.png"}


def invoke(*args: Any, code: int) -> Result:
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "carecast.toml").write_text(CONFIG)
    (tmp_path / "logo.png").write_bytes(brand_png())
    UpdatableChannel.changes = []

    def open_publisher(config: Any) -> Publisher:
        return Publisher(config, entry_point_plugins=False, channel_classes={
            "static": StaticChannel, "updatable": UpdatableChannel})

    monkeypatch.setattr(commands, "open_publisher", open_publisher)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "carecast.toml"


@pytest.fixture
def cdn() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get("https://cdn.example/good.png", body=brand_png())
        mocked.get("https://cdn.example/old.png", body=other_png())
        yield mocked


def test_audit_exits_0_when_every_profile_matches(setup: Path, cdn: Any) -> None:
    StaticChannel.profiles = {"main": GOOD, "clinic": GOOD}
    result = invoke("--config", setup, "brand", "audit", code=0)
    assert "main (updatable)" in result.stdout
    assert "0 drift" in result.stdout
    assert (setup.parent / "state" / ".carecast-cache" / "avatars").is_dir()


def test_audit_exits_1_on_drift_with_json(setup: Path, cdn: Any) -> None:
    StaticChannel.profiles = {"main": GOOD, "clinic": {
        **GOOD, "description": "Led by CEO Jane Roe.", "avatar_url": "https://cdn.example/old.png"}}
    result = invoke("--config", setup, "brand", "audit", "--json", "--brand", "riverside",
                    code=1)
    data = json.loads(result.stdout)
    assert data["drift"] is True
    assert data["counts"]["drift"] == 2
    clinic = next(a for a in data["accounts"] if a["account"] == "clinic")
    statuses = {c["field"]: c["status"] for c in clinic["checks"]}
    assert statuses == {"name": "match", "description": "drift", "website": "match",
                        "avatar": "drift"}


def test_audit_writes_a_self_contained_html_page(setup: Path, cdn: Any, tmp_path: Path) -> None:
    StaticChannel.profiles = {"main": GOOD, "clinic": {**GOOD, "display_name": "<b>RG</b>"}}
    page = tmp_path / "report.html"
    result = invoke("--config", setup, "brand", "audit", "--html", page,
                    "--cache-dir", tmp_path / "cache", code=1)
    assert f"report written to {page}" in result.stdout
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 5  # the header, and live + brand per card
    assert "&lt;b&gt;RG&lt;/b&gt;" in text
    assert "<b>RG</b>" not in text
    assert "https://cdn.example" not in text.split("<main>")[0]


def test_json_and_html_together_are_refused(setup: Path) -> None:
    result = invoke("--config", setup, "brand", "audit", "--json", "--html", "x.html", code=2)
    assert "give one of them" in result.output


def test_an_unknown_brand_is_a_configuration_error(setup: Path) -> None:
    result = invoke("--config", setup, "brand", "audit", "--brand", "nope", code=2)
    assert "brand 'nope' is not configured" in result.output


def test_sync_shows_then_applies(setup: Path, cdn: Any) -> None:
    StaticChannel.profiles = {"main": {**GOOD, "description": "Old bio."},
                              "clinic": {**GOOD, "description": "Old bio."}}
    shown = invoke("--config", setup, "brand", "sync", code=0)
    assert "- Old bio." in shown.stdout
    assert "+ Care close to home since 1921." in shown.stdout
    assert "Static allows no profile update through its API" in shown.stdout
    assert "run again with --apply" in shown.stdout
    assert UpdatableChannel.changes == []
    done = invoke("--config", setup, "brand", "sync", "--apply", "--json", code=0)
    data = json.loads(done.stdout)
    main = next(s for s in data if s["account"] == "main")
    assert main == {"account": "main", "channel": "updatable", "applied": True, "error": None,
                    "changes": {"description": "Care close to home since 1921."},
                    "by_hand": []}
    assert [a for a, _ in UpdatableChannel.changes] == ["main"]


def test_sync_with_nothing_to_do(setup: Path, cdn: Any) -> None:
    StaticChannel.profiles = {"main": GOOD, "clinic": GOOD}
    result = invoke("--config", setup, "brand", "sync", code=0)
    assert "nothing to change" in result.stdout


def test_delivery_only_accounts_are_not_audited(setup: Path, cdn: Any) -> None:
    setup.write_text(CONFIG + '\n[accounts.feed]\nchannel = "outbox"\nbrand = "riverside"\n'
                     'path = "out/outbox.jsonl"\n')
    StaticChannel.profiles = {"main": GOOD, "clinic": GOOD}
    result = invoke("--config", setup, "brand", "audit", "--json", code=0)
    audited = {a["account"] for a in json.loads(result.stdout)["accounts"]}
    assert audited == {"main", "clinic"}  # the outbox has no face to compare


def test_a_brand_with_only_delivery_accounts_says_so(setup: Path) -> None:
    setup.write_text(CONFIG.split("[accounts.main]")[0] + '[accounts.feed]\nchannel = "outbox"\n'
                     'brand = "riverside"\npath = "out/outbox.jsonl"\n')
    result = invoke("--config", setup, "brand", "audit", code=2)
    assert "no enabled account with a public profile" in result.output
