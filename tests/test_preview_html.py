"""The preview page: each account's draft as its platform shows it, findings marked in the
text, escaped, self-contained; written by ``carecast preview --html``, served by the REST
service, and looked at in headless Chromium (which also made ``docs/images/preview.png``)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from browser import dump_dom, needs_chromium, screenshot
from carecast.cli import render
from carecast.config import Config
from carecast.findings import Action, Finding, Span
from carecast.post import Post
from carecast.preview_page import content_security_policy, marks, preview_html, segments
from carecast.publish import Preview, Publisher
from test_cli import run
from test_server import MRN_TEXT, _post, clock, receiver, serve  # noqa: F401  (the service on 127.0.0.1)

MRN = "4482913"
TEXT = (f"Our patient John Smith, MRN {MRN}, came back to say thanks. Face drooping, arm "
        "weakness, speech trouble: call 911 at once. Every minute counts, and our stroke team "
        "is ready day and night to help you and your family.")
SCREENING = "Free stroke screenings this Saturday in the main lobby, 9 a.m. to noon."
LINK = "https://www.riverside-general.example/stroke"


POSTER_GREEN = (42, 157, 87)


def _png(path: Path) -> Path:
    """A poster: a green field, a white panel and the signs written on it."""
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (1200, 675), POSTER_GREEN)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((90, 80, 1110, 595), radius=40, fill=(255, 255, 255))
    font = ImageFont.load_default(size=64)
    for i, line in enumerate(("Stroke? Act FAST", "Face  Arm  Speech", "Time: call 911")):
        draw.text((150, 130 + i * 140), line, fill=(11, 79, 108), font=font)
    image.save(path)
    return path


def social_config(tmp_path: Path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General Hospital"}},
        "accounts": {
            "x-main": {"channel": "x", "brand": "riverside", "access_token": "t"},
            "mastodon": {"channel": "mastodon", "brand": "riverside", "access_token": "t",
                         "api_base_url": "https://mastodon.example"},
            "bluesky": {"channel": "bluesky", "brand": "riverside", "app_password": "p",
                        "handle": "riverside.bsky.example"}},
        "media": {"roots": ["."]},
    }, root=tmp_path, environ={})


def stroke_post(tmp_path: Path) -> Post:
    _png(tmp_path / "lobby.png")
    return Post(id="stroke-talk", title="Know the signs of stroke", text=TEXT,
                thread=(SCREENING,), link=LINK, hashtags=("StrokeAwareness",),
                media=({"source": "lobby.png", "alt_text": "A nurse points at the stroke "
                        "signs poster in the lobby"}, {"source": "lobby.png"}))


@pytest.fixture
def preview(tmp_path: Path) -> Preview:
    with Publisher(social_config(tmp_path), entry_point_plugins=False) as publisher:
        return publisher.preview(stroke_post(tmp_path))


class Page(HTMLParser):
    """What a browser would load and run from the page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


# -- the marking, shared with the terminal ---------------------------------------------------

def _finding(code: str, *spans: tuple[int, int], field: str = "text",
             action: Action = Action.REVIEW) -> Finding:
    return Finding(action=action, code=code, message="at a place", field=field,
                   spans=tuple(Span(start=a, end=b) for a, b in spans))


def test_marks_are_ordered_the_first_of_overlapping_spans_kept_and_out_of_range_left_out(
) -> None:
    value = "John Smith, MRN 4482913, 3 March"
    found = marks([_finding("phi.mrn", (16, 23), action=Action.BLOCK),
                   _finding("phi.name", (0, 10), (5, 12)), _finding("phi.date", (25, 99)),
                   _finding("phi.date", (25, 32), field="title")], "text", value)
    assert [(m.start, m.end, m.code, m.action) for m in found] == [
        (0, 10, "phi.name", Action.REVIEW), (16, 23, "phi.mrn", Action.BLOCK)]
    assert segments(value, found) == [("John Smith", found[0]), (", MRN ", None),
                                      ("4482913", found[1]), (", 3 March", None)]


def test_the_terminal_preview_marks_with_the_same_function() -> None:
    post = Post(id="p", text="John Smith, MRN 4482913.")
    lines = render.marked_post(post, [_finding("phi.name", (0, 10)),
                                      _finding("phi.mrn", (16, 23))])
    assert [line.plain for line in lines] == [
        "text: John Smith«phi.name», MRN 4482913«phi.mrn»."]


# -- the page ----------------------------------------------------------------------------------

def test_each_account_is_shown_as_its_platform_shows_it(preview: Preview) -> None:
    page = preview_html(preview)
    for account, platform in (("x-main", "X"), ("mastodon", "Mastodon"), ("bluesky", "Bluesky")):
        section = page.split(f'id="account-{account}"', 1)[1].split("</article>", 1)[0]
        assert f'<span class="platform">{platform}' in section
        target = next(t for t in preview.targets if t.account == account)
        assert target.draft is not None
        parts = target.draft.parts
        # every part of the thread, in order, each with its length against the limit
        at = [section.index(f"part {i + 1} of {len(parts)}") for i in range(len(parts))]
        assert at == sorted(at)
        for part in parts:
            assert f"{part.length}/{part.limit} " in section
        assert section.index("Free stroke screenings") > section.index("Face drooping")
        # the image grid: each image (a small copy, inline), its alt text or its absence
        assert section.count("<figure>") == 2
        assert section.count('<img src="data:image/jpeg;base64,') == 2
        assert 'alt="A nurse points at the stroke signs poster in the lobby"' in section
        assert "alt text: A nurse points at the stroke signs poster in the lobby" in section
        assert '<figcaption class="missing">no alt text</figcaption>' in section
        # the link card, with the part that carries the link
        assert '<div class="host">www.riverside-general.example</div>' in section
        assert "Know the signs of stroke" in section


def test_findings_are_marked_inside_the_text_by_span_and_category(preview: Preview) -> None:
    page = preview_html(preview)
    mrn = next(f for f in preview.findings if f.code == "phi.mrn")
    assert mrn.action is Action.BLOCK
    marked = f'<mark class="block" title="block: phi.mrn">{MRN}<span class="code">phi.mrn</span>'
    # once in the post as written, once in the first part of each account's draft
    assert page.count(marked) == 1 + len(preview.targets)
    # the flagged text is in the page only where the post and the drafts hold it
    assert page.count(MRN) == 1 + len(preview.targets)
    assert f"text at {mrn.spans[0].start}-{mrn.spans[0].end}" in page  # where, not what


def test_a_finding_is_marked_in_the_part_of_a_thread_that_holds_it(tmp_path: Path) -> None:
    text = ("Every minute counts in a stroke. Learn the signs with BE FAST: balance, eyes, "
            "face, arms, speech, time. " * 3 + f"Thanks to John Smith, MRN {MRN}, for his "
            "story.")
    with Publisher(social_config(tmp_path), entry_point_plugins=False) as publisher:
        shown = publisher.preview(Post(id="thread", text=text, targets=("x-main",)))
    parts = shown.targets[0].draft.parts  # type: ignore[union-attr]
    assert len(parts) == 2
    assert text not in parts[1].text  # X cut the text: no part holds it whole
    assert MRN in parts[1].text
    page = preview_html(shown)
    second = page.split('<li>')[2].split('</li>')[0]
    assert f'<mark class="block" title="block: phi.mrn">{MRN}<span' in second
    assert "<mark" not in page.split('<li>')[1].split('</li>')[0]


def test_a_count_over_the_limit_is_shown_as_such(tmp_path: Path) -> None:
    post = Post(id="long", text="Stroke care. " * 40, targets=("x-main",))
    with Publisher(social_config(tmp_path), entry_point_plugins=False) as publisher:
        shown = publisher.preview(post)
    page = preview_html(shown)
    parts = shown.targets[0].draft.parts  # type: ignore[union-attr]
    assert len(parts) > 1  # X splits it into a thread, each part within the limit
    assert 'class="count over"' not in page
    target = shown.targets[0]
    assert target.draft is not None
    over = target.draft.model_copy(update={"parts": (parts[0].model_copy(
        update={"length": 300}),)})  # as a channel that cannot split would count it
    forced = Preview(shown.post, shown.findings, (dataclasses.replace(target, draft=over),))
    assert '<span class="count over">300/280 weighted</span>' in preview_html(forced)


def test_the_page_is_escaped_self_contained_and_runs_nothing(tmp_path: Path) -> None:
    post = stroke_post(tmp_path).model_copy(update={
        "text": f"{TEXT} <script>alert(1)</script>", "title": "<b onclick=x()>Stroke</b>"})
    with Publisher(social_config(tmp_path), entry_point_plugins=False) as publisher:
        page = preview_html(publisher.preview(post))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b onclick=x()&gt;Stroke&lt;/b&gt;" in page
    tags = Page(page).tags
    assert [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed")] == []
    # images only inline (the media's own copies); nothing else points anywhere
    assert [a for t, a in tags if t == "img" and not (a["src"] or "").startswith(
        "data:image/jpeg;base64,")] == []
    assert [a for t, a in tags if t != "img" and {"src", "href", "action"} & set(a)] == []
    assert [a for _, a in tags if any(k.startswith("on") for k in a)] == []
    csp = next(a["content"] for t, a in tags if a.get("http-equiv") == "Content-Security-Policy")
    assert csp == content_security_policy()
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp  # its own style, by hash: nothing inline else


def test_the_cli_writes_the_page(tmp_path: Path) -> None:
    config = tmp_path / "carecast.toml"
    config.write_text(
        '[brands.riverside]\nname = "Riverside"\n\n[accounts.x-main]\nchannel = "x"\n'
        'brand = "riverside"\naccess_token = "t"\n\n[media]\nroots = ["."]\n')
    (tmp_path / "post.yaml").write_text(
        "id: stroke\ntext: Face drooping, arm weakness, speech trouble? Call 911 at once.\n"
        f"thread: ['{SCREENING}']\n")
    out = tmp_path / "preview.html"
    result = run("--config", config, "preview", tmp_path / "post.yaml", "--html", out)
    assert f"preview page written to {out}" in " ".join(result.output.split())
    page = out.read_text(encoding="utf-8")
    assert 'id="account-x-main"' in page
    assert "part 2 of 2" in page
    bad = run("--config", config, "preview", tmp_path / "post.yaml", "--html",
              tmp_path / "missing" / "p.html", code=2)
    assert "--html: cannot write" in bad.output


# -- the REST service --------------------------------------------------------------------------

def test_the_service_serves_the_page_for_a_new_and_a_stored_post(serve: Any) -> None:  # noqa: F811
    service = serve()
    answer = service.call("POST", "/v1/preview.html", json={"post": _post(text=MRN_TEXT)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["Content-Security-Policy"] == (
        f"{content_security_policy()}; frame-ancestors 'none'")
    assert answer.headers["Cache-Control"] == "no-store"
    assert '<mark class="block" title="block: phi.mrn">' in answer.text
    assert service.publisher.platform.sends == []
    assert service.publisher.ledger.post_ids() == []  # nothing stored
    # outside the client's scope, or without a key: refused, as every call
    assert service.call("POST", "/v1/preview.html", client="anne",
                        json={"post": _post()}).status_code == 403
    assert service.call("POST", "/v1/preview.html", client=None,
                        json={"post": _post()}).status_code == 401
    bad = service.call("POST", "/v1/preview.html", json={"post": {"text": 5}})
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "post.text"
    # a stored post: its stored targets; the page as the store holds it
    post_id = service.call("POST", "/v1/posts", json={
        "action": "publish", "post": _post(targets=["feed"])}).json()["post_id"]
    page = service.call("GET", f"/v1/posts/{post_id}/preview.html", client="reader")
    assert page.status_code == 200
    assert re.findall(r'id="account-([\w-]+)"', page.text) == ["feed"]
    assert service.call("GET", f"/v1/posts/{post_id}/preview.html",
                        client="anne").status_code == 403
    assert service.call("GET", "/v1/posts/nope/preview.html").status_code == 404
    kinds = [e.data["verb"] for e in service.publisher.ledger.audit_events()
             if e.kind == "api.preview"]
    assert kinds == ["preview", "preview"]


def test_a_post_withheld_in_the_store_shows_masked(serve: Any) -> None:  # noqa: F811
    service = serve()
    stored = service.call("POST", "/v1/posts", json={
        "action": "publish", "post": _post(text=MRN_TEXT)}).json()
    page = service.call("GET", f"/v1/posts/{stored['post_id']}/preview.html")
    assert page.status_code == 200
    assert "00482913" not in page.text  # the store never held it; neither does the page


# -- in a browser ------------------------------------------------------------------------------

@needs_chromium
def test_the_page_renders_in_chromium(preview: Preview, tmp_path: Path) -> None:
    page = tmp_path / "preview.html"
    page.write_text(preview_html(preview), encoding="utf-8")
    png = tmp_path / "preview.png"
    dom = dump_dom(page, tmp_path / "profile")
    assert dom.count("<article") == len(preview.targets)
    assert dom.count('<mark class="block"') == 1 + len(preview.targets)
    screenshot(page, png, tmp_path / "profile", size="1280,1100")
    with Image.open(png) as shot:
        rgb = shot.convert("RGB")
        assert rgb.getpixel((5, 5)) == (11, 79, 108)  # the header: the style applied (its hash)
        raw = rgb.tobytes()
        colours = {raw[i:i + 3] for i in range(0, len(raw), 3)}
    # the BLOCK and REVIEW marks and the platforms' accents were drawn
    for colour in ((254, 202, 202), (253, 230, 138), (99, 100, 255), (17, 133, 254)):
        assert bytes(colour) in colours, colour
    # and the image itself, from its inline copy
    assert any(all(abs(c[k] - POSTER_GREEN[k]) < 6 for k in range(3)) for c in colours)
    if os.environ.get("CARECAST_WRITE_SCREENSHOTS"):  # how docs/images/preview.png is made
        (Path(__file__).parents[1] / "docs" / "images" / "preview.png").write_bytes(
            png.read_bytes())
