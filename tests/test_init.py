"""``carecast init``: the starter files publish locally as written, and nothing is overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carecast.cli import app
from carecast.cli.init import STARTER_FILES, write_starter

runner = CliRunner()


def test_the_starter_publishes_to_every_local_account(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARECAST_CONFIG", raising=False)
    made = runner.invoke(app, ["init"])
    assert made.exit_code == 0, made.output
    assert sorted(STARTER_FILES) == sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    sent = runner.invoke(app, ["publish", "posts/first-post.yaml", "--json"])
    assert sent.exit_code == 0, sent.output
    [report] = json.loads(sent.stdout)
    assert {o["account"]: o["state"] for o in report["outcomes"]} == {
        "newsroom": "published", "outbox": "published"}
    assert (tmp_path / "out" / "outbox.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_init_writes_into_a_named_folder(tmp_path: Path) -> None:
    made = runner.invoke(app, ["init", str(tmp_path / "site")])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "site" / "carecast.toml").is_file()
    assert f"cd {tmp_path / 'site'} && carecast publish" in made.output


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "carecast.toml").write_text("# mine\n", encoding="utf-8")
    refused = runner.invoke(app, ["init", str(tmp_path)])
    assert refused.exit_code == 2
    assert "already exists; pass --force" in refused.output
    assert (tmp_path / "carecast.toml").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "posts").exists()  # nothing half-written
    written = write_starter(tmp_path, force=True)
    assert tmp_path / "carecast.toml" in written
    assert "[brands.hospital]" in (tmp_path / "carecast.toml").read_text(encoding="utf-8")
