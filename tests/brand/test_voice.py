"""The brand voice plugin, run by the publisher as any plugin is, and shown by preview."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from carecast.brand import voice
from carecast.cli import app, commands
from carecast.config import Config
from carecast.findings import Action
from carecast.post import Post
from carecast.publish import Publisher
from carecast.testing import FakeChannel

VOICE = {"names": ["MyChart", "Riverside General"], "banned": ["world-class", "miracle cure"],
         "suggest": {"world-class": "nationally ranked"}, "hashtags": ["RiversideCares"],
         "campaign_hashtags": {"flu-2026": ["FluFree"]}}


def make_config(root: Path, checks: dict[str, Any] | None = None) -> Config:
    brand: dict[str, Any] = {"name": "Riverside General", "voice": VOICE}
    if checks is not None:
        brand["checks"] = {"voice": checks}
    return Config.from_dict({
        "store": {"url": f"sqlite:///{root}/carecast.db"}, "brands": {"r": brand},
        "accounts": {"main": {"channel": "fake", "brand": "r"}}}, root=root)


def preview(root: Path, post: Post, checks: dict[str, Any] | None = None) -> Any:
    """The publisher's preview, with the voice check's findings only (the other built-in
    checks run too)."""
    with Publisher(make_config(root, checks), plugins=[voice], entry_point_plugins=False,
                   channel_classes={"fake": FakeChannel}) as publisher:
        seen = publisher.preview(post)
    return dataclasses.replace(seen, findings=tuple(f for f in seen.findings
                                                    if f.check == "voice"))


def test_spelling_banned_and_hashtags(tmp_path: Path) -> None:
    text = "Book in My Chart today. Riverside Generel offers world-class care."
    found = preview(tmp_path, Post(text=text, campaign="flu-2026",
                                   hashtags=["RiversideCares"])).findings
    by_code: dict[str, list[Any]] = {}
    for f in found:
        by_code.setdefault(f.code, []).append(f)
    assert set(by_code) == {"voice.spelling", "voice.banned", "voice.hashtag"}
    assert all(f.action is Action.WARN and f.check.endswith("voice") for f in found)
    spans = sorted((text[s.start:s.end], s.replacement)
                   for f in by_code["voice.spelling"] for s in f.spans)
    assert spans == [("My Chart", "MyChart"), ("Riverside Generel", "Riverside General")]
    (banned,) = by_code["voice.banned"]
    assert (text[banned.spans[0].start:banned.spans[0].end], banned.spans[0].replacement) == (
        "world-class", "nationally ranked")
    assert "write 'nationally ranked' instead" in banned.message
    (tag,) = by_code["voice.hashtag"]
    assert "#FluFree" in tag.message
    assert "campaign 'flu-2026'" in tag.message


def test_clean_post_has_no_findings(tmp_path: Path) -> None:
    post = Post(text="Sign in to MyChart: Riverside General's flu clinic is open. "
                     "#RiversideCares", title="Riverside General flu clinic")
    assert preview(tmp_path, post).findings == ()


def test_title_and_thread_are_read(tmp_path: Path) -> None:
    post = Post(text="#RiversideCares", title="A miracle cure?", thread=["Open Mychart."])
    fields = sorted((f.field, f.code) for f in preview(tmp_path, post).findings)
    assert fields == [("thread[0]", "voice.spelling"), ("title", "voice.banned")]


def test_the_brand_can_block(tmp_path: Path) -> None:
    post = Post(text="World-class care. #RiversideCares")
    result = preview(tmp_path, post, {"action": "block"})
    assert [f.action for f in result.findings] == [Action.BLOCK]
    assert not result.ok
    only = preview(tmp_path, Post(text="World-class care in My Chart. #RiversideCares"),
                   {"actions": {"banned": "block"}})
    assert sorted(f.action for f in only.findings) == [Action.BLOCK, Action.WARN]
    off = preview(tmp_path, post, {"enabled": False, "disabled_by": "Brand team"})
    assert off.findings == ()


def test_bad_settings_block_with_the_key_named(tmp_path: Path) -> None:
    (finding,) = preview(tmp_path, Post(text="#RiversideCares"), {"threshold": 5}).findings
    assert finding.action is Action.BLOCK
    assert "checks.voice.threshold" in finding.message


def test_a_post_without_a_brand_is_not_checked() -> None:
    from carecast.config import CheckSettings

    cfg = Config()
    assert voice.carecast_review_post(Post(text="My Chart"), None, CheckSettings(cfg)) == []


def test_preview_shows_the_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "carecast.toml").write_text(
        '[brands.r]\nname = "Riverside General"\n[brands.r.voice]\nnames = ["MyChart"]\n'
        'banned = ["world-class"]\n[accounts.main]\nchannel = "fake"\nbrand = "r"\n')
    (tmp_path / "post.yaml").write_text("text: World-class care in My Chart.\n")

    def open_publisher(config: Any) -> Publisher:
        return Publisher(config, plugins=[voice], entry_point_plugins=False,
                         channel_classes={"fake": FakeChannel})

    monkeypatch.setattr(commands, "open_publisher", open_publisher)
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "carecast.toml"), "preview",
                                      str(tmp_path / "post.yaml")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "voice.banned" in result.stdout
    assert "voice.spelling" in result.stdout
    assert "write 'MyChart'" in result.stdout
