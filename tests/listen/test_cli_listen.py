"""``carecast listen`` on the fake Bluesky PDS: once, ``--follow --rounds``, the JSON report,
and no item's text in any log record."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from carecast.cli import commands
from carecast.publish import Publisher
from carecast.testing import FrozenClock
from channels.test_bluesky import HANDLE, PASSWORD
from test_cli import run

from .conftest import SearchPDS, post
from .test_collect import _seed


@pytest.fixture
def config(tmp_path: Path, pds: SearchPDS, clock: FrozenClock,
           monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "carecast.toml"
    path.write_text(f"""
[store]
url = "sqlite:///{tmp_path / 'carecast.db'}"
[brands.riverside]
name = "Riverside General"
[accounts.sky]
channel = "bluesky"
brand = "riverside"
handle = "{HANDLE}"
app_password = "{PASSWORD}"
[listen]
interval = 60
stream = false  # polling only; streaming is tests/listen/test_stream.py
[listen.queries.brand]
terms = ["riverside"]
brand = "riverside"
""")
    http = httpx.Client(transport=pds.transport())

    def open_publisher(cfg: Any) -> Publisher:
        return Publisher(cfg, sessions={"sky": http}, clock=clock, entry_point_plugins=False)

    monkeypatch.setattr(commands, "open_publisher", open_publisher)
    return path


def test_listen_once_then_follow(config: Path, pds: SearchPDS, clock: FrozenClock,
                                 caplog: pytest.LogCaptureFixture) -> None:
    _seed(pds)
    caplog.set_level(logging.DEBUG)
    once = json.loads(run("--config", config, "listen", "--json").stdout)
    assert once["new"] == 6
    assert {s["source"] for s in once["sources"]} == {"own:sky", "search:sky:brand"}
    start = clock.now()
    pds.posts.append(post(20, "Riverside walk-in clinic", "2026-09-21T13:55:00.000Z"))
    rounds = json.loads(run("--config", config, "listen", "--follow", "--rounds", "2",
                            "--json").stdout)
    assert [r["new"] for r in rounds] == [1, 0]
    assert (clock.now() - start).total_seconds() == 60  # one interval slept between rounds
    table = run("--config", config, "listen").stdout
    assert "search:sky:brand" in table
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for words in ("terrible", "flu clinic", "walk-in", "Lakeside"):
        assert words not in logged
        assert words not in table
