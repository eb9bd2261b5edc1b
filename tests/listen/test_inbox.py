"""The inbox: crisis first under the brand's protocol, PHI masked, the CLI's JSON, and the
HTML digest (self-contained, autoescaped, a CSP) looked at in headless Chromium."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from browser import dump_dom, needs_chromium, screenshot
from carecast.config import Config
from carecast.listen import inbox, inbox_html
from carecast.listen.triage import phi_marks, triage
from carecast.post import Mention
from carecast.store import Ledger
from carecast.store.mentions import MentionStore, StoredMention
from carecast.testing import FrozenClock
from test_cli import run

from .conftest import NOW, make_config

PROTOCOL = "Call the on-call social worker at 217-555-0199 now; give 988. Never reply with advice."
TEXTS = {
    "crisis": "I can't go on, I want to end my life after what happened",
    "phi": "My mother Margaret Okafor, MRN 5521873, was discharged too early",
    "complaint": "Worst ER visit ever, waited 7 hours and nobody helped",
    "question": "Do you take walk-ins for flu shots on Saturday?",
    "script": "<script>alert(1)</script> is this escaped?",
    "plain": "Nice new building",
}


def _config(tmp_path: Path) -> Config:
    return make_config(tmp_path, brands={"riverside": {"crisis_protocol": PROTOCOL}})


@pytest.fixture
def store(tmp_path: Path) -> MentionStore:
    store = MentionStore(Ledger(f"sqlite:///{tmp_path / 'carecast.db'}",
                                clock=FrozenClock(NOW)))
    items = []
    for n, (name, text) in enumerate(TEXTS.items()):
        marks = phi_marks(text)
        items.append(StoredMention(mention=Mention(
            channel="bluesky", account="sky", remote_id=name, author=f"person{n}.bsky.social",
            text=text, created_at=NOW - timedelta(minutes=n * 10),
            url=f"https://bsky.app/profile/p/post/{name}",
            kind="reply"), brand="riverside", findings=marks, labels=triage(text, marks)))
    store.save(items, source="s", cursor=None)
    return store


def test_crisis_comes_first_with_the_protocol_and_phi_is_masked(store: MentionStore,
                                                                tmp_path: Path) -> None:
    box = inbox(store, _config(tmp_path))
    assert [i.key.rsplit(":", 1)[-1] for i in box.items] == [
        "crisis", "phi", "complaint", "question", "script"]  # "plain" needs no one
    assert box.protocols == (("riverside", PROTOCOL),)
    phi = box.items[1]
    assert "Okafor" not in phi.text
    assert "5521873" not in phi.text
    assert "[MRN]" in phi.text
    assert len(inbox(store, _config(tmp_path), every=True).items) == 6


def test_the_cli_prints_the_inbox_as_json(store: MentionStore, tmp_path: Path) -> None:
    path = tmp_path / "carecast.toml"
    path.write_text(f"""
[store]
url = "sqlite:///{tmp_path / 'carecast.db'}"
[listen.brands.riverside]
crisis_protocol = "{PROTOCOL}"
""")
    data = json.loads(run("--config", path, "inbox", "--json").stdout)
    assert data["items"][0]["labels"][0] == "crisis"
    assert data["crisis_protocols"] == [{"brand": "riverside", "protocol": PROTOCOL}]
    assert "Okafor" not in json.dumps(data)
    shown = run("--config", path, "inbox").stdout
    assert shown.index("CRISIS PROTOCOL") < shown.index("crisis")
    assert "Okafor" not in shown
    bad = run("--config", path, "inbox", "--since", "yesterday", code=2)
    assert "--since" in bad.stderr
    written = run("--config", path, "inbox", "--html", tmp_path / "digest.html").stdout
    assert "inbox page written" in written
    assert "Content-Security-Policy" in (tmp_path / "digest.html").read_text()
    nowhere = run("--config", path, "inbox", "--html", tmp_path / "no" / "d.html", code=2)
    assert "--html: cannot write" in nowhere.stderr


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.csp = ""
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if found.get("http-equiv") == "Content-Security-Policy":
            self.csp = found.get("content") or ""
        self.srcs += [v or "" for k, v in attrs if k in ("src", "href")]


def test_the_digest_is_escaped_self_contained_and_masked(store: MentionStore,
                                                         tmp_path: Path) -> None:
    page = inbox_html(inbox(store, _config(tmp_path)))
    parsed = _Page()
    parsed.feed(page)
    assert "script" not in parsed.tags  # the writer's <script> is text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert parsed.srcs == []  # nothing loads from anywhere
    assert "default-src 'none'" in parsed.csp
    assert "script-src" not in parsed.csp  # so no script may run
    assert "Okafor" not in page
    assert "5521873" not in page
    assert page.index(PROTOCOL.replace("'", "&#39;")) < page.index("I can&#39;t go on")


@needs_chromium
def test_the_digest_renders_in_chromium(store: MentionStore, tmp_path: Path) -> None:
    page = tmp_path / "inbox.html"
    page.write_text(inbox_html(inbox(store, _config(tmp_path))), encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    assert dom.count('<li class="item') == 5
    assert "<script>" not in dom
    png = tmp_path / "inbox.png"
    screenshot(page, png, tmp_path / "profile", size="1000,1200")
    with Image.open(png) as shot:
        rgb = shot.convert("RGB")
        assert rgb.getpixel((5, 5)) == (11, 79, 108)  # the header: the style applied (its hash)
        raw = rgb.tobytes()
        colours = {raw[i:i + 3] for i in range(0, len(raw), 3)}
    assert bytes((253, 226, 225)) in colours  # the crisis protocol's panel
    assert bytes((29, 39, 51)) in colours  # the masks
    if os.environ.get("CARECAST_WRITE_SCREENSHOTS"):
        (Path(__file__).parents[2] / "docs" / "images" / "inbox.png").write_bytes(
            png.read_bytes())
