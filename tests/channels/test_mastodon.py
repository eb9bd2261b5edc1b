"""The Mastodon channel, tested on Mastodon.py's real requests with ``responses``.

Bodies are shaped on the Mastodon API documentation (docs.joinmastodon.org, entities Status,
MediaAttachment, Instance, Account, Notification; methods statuses, media, instance,
notifications) and on Mastodon's own controllers (``Api::V1::MediaController`` answers 206
while processing).
"""

from __future__ import annotations

import email.utils
import json
import re
import subprocess
import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

import carecast.channels.mastodon as mastodon_channel
from carecast.channels.mastodon import MastodonChannel, MastodonOptions
from carecast.channels.thread import part_key
from carecast.config import AccountConfig, Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Draft, Media, Post, Receipt
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.records import State
from carecast.testing import FrozenClock

BASE = "https://health.example.social"
TOKEN = "masto-s3cret-t0ken-81f2"
ACCOUNT = "riverside-masto"
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
STATUSES = f"{BASE}/api/v1/statuses"
INSTANCE = f"{BASE}/api/v2/instance/"
VERIFY = f"{BASE}/api/v1/accounts/verify_credentials"
ME = "109337262836745983"
POST = Post(id="flu-1", text="Flu shots are free at every Riverside clinic this week.",
            hashtags=["flu"], language="en-US")


# -- bodies shaped on the Mastodon API docs ---------------------------------------------------


def instance(max_characters: int = 500) -> dict[str, Any]:
    """``GET /api/v2/instance`` (entities/Instance), trimmed to what matters here."""
    return {
        "domain": "health.example.social", "title": "Health Social", "version": "4.3.2",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A server for health workers.",
        "usage": {"users": {"active_month": 1204}},
        "thumbnail": {"url": f"{BASE}/packs/media/images/preview.png"},
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": "wss://health.example.social"},
            "accounts": {"max_featured_tags": 10},
            "statuses": {"max_characters": max_characters, "max_media_attachments": 4,
                         "characters_reserved_per_url": 23},
            "media_attachments": {"supported_mime_types": ["image/jpeg", "image/png"],
                                  "image_size_limit": 16777216, "image_matrix_limit": 33177600,
                                  "video_size_limit": 103809024, "video_frame_rate_limit": 120,
                                  "video_matrix_limit": 8294400},
            "polls": {"max_options": 4, "max_characters_per_option": 50,
                      "min_expiration": 300, "max_expiration": 2629746},
            "translation": {"enabled": False},
        },
        "registrations": {"enabled": False, "approval_required": True, "message": None},
        "contact": {"email": "staff@health.example.social", "account": None},
        "rules": [],
        "api_versions": {"mastodon": 2},
    }


def account(**extra: Any) -> dict[str, Any]:
    """An Account entity (entities/Account), with the fields a hospital fills in."""
    return {
        "id": ME, "username": "riverside", "acct": "riverside",
        "display_name": "Riverside General", "locked": False, "bot": False,
        "created_at": "2022-11-08T00:00:00.000Z",
        "note": "<p>News and health tips from Riverside General.<br />Not medical advice.</p>",
        "url": f"{BASE}/@riverside", "avatar": "https://files.example.social/avatars/r.png",
        "avatar_static": "https://files.example.social/avatars/r.png",
        "header": "https://files.example.social/headers/r.png",
        "followers_count": 5120, "following_count": 80, "statuses_count": 940,
        "last_status_at": "2026-11-20",
        "emojis": [],
        "fields": [
            {"name": "Website", "value": '<a href="https://riverside-general.example" '
             'target="_blank" rel="nofollow noopener me" translate="no"><span class="invisible">'
             'https://</span><span class="">riverside-general.example</span>'
             '<span class="invisible"></span></a>', "verified_at": "2026-01-02T10:00:00.000+00:00"},
            {"name": "Location", "value": "Springfield, IL", "verified_at": None},
        ],
        **extra,
    }


def status(id: str, content: str, *, reply_to: str | None = None,
           created: datetime = NOW, **extra: Any) -> dict[str, Any]:
    """A Status entity (entities/Status)."""
    return {
        "id": id, "created_at": created.isoformat().replace("+00:00", ".000Z"),
        "in_reply_to_id": reply_to, "in_reply_to_account_id": ME if reply_to else None,
        "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
        "uri": f"{BASE}/users/riverside/statuses/{id}", "url": f"{BASE}/@riverside/{id}",
        "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "edited_at": None,
        "content": content, "reblog": None, "application": {"name": "carecast", "website": None},
        "account": account(), "media_attachments": [], "mentions": [], "tags": [],
        "emojis": [], "card": None, "poll": None, **extra,
    }


def as_html(text: str) -> str:
    """How Mastodon renders plain text: paragraphs, line breaks, linked hashtags and URLs."""
    import html
    import re

    def link(match: re.Match[str]) -> str:
        url = match[0]
        scheme, rest = url.split("://", 1)
        return (f'<a href="{url}" target="_blank" rel="nofollow noopener" translate="no">'
                f'<span class="invisible">{scheme}://</span><span class="">{rest}</span>'
                '<span class="invisible"></span></a>')

    def tag(match: re.Match[str]) -> str:
        return (f'<a href="{BASE}/tags/{match[1]}" class="mention hashtag" rel="tag">'
                f'#<span>{match[1]}</span></a>')

    paragraphs = []
    for block in text.split("\n\n"):
        escaped = html.escape(block, quote=False)
        escaped = re.sub(r"https?://\S+", link, escaped)
        escaped = re.sub(r"(?<![\w/])#(\w+)", tag, escaped)
        paragraphs.append("<p>" + escaped.replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


def media_attachment(id: str, *, url: str | None, description: str | None) -> dict[str, Any]:
    """A MediaAttachment (methods/media: ``url`` is null while processing)."""
    return {
        "id": id, "type": "image", "url": url,
        "preview_url": f"https://files.example.social/media/small/{id}.png",
        "remote_url": None, "text_url": None,
        "meta": {"focus": {"x": 0.0, "y": -0.5},
                 "original": {"width": 640, "height": 480, "size": "640x480", "aspect": 1.33}},
        "description": description, "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
    }


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_limit_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mastodon_channel, "_limits", {})


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "clinic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return tmp_path


def make(root: Path | None = None, **options: Any) -> MastodonChannel:
    opts = {"api_base_url": BASE, "access_token": TOKEN, **options}
    return MastodonChannel(ACCOUNT, MastodonOptions(**opts), root=root,
                           clock=FrozenClock(NOW))


@pytest.fixture
def masto(root: Path) -> MastodonChannel:
    return make(root)


def form(call: Any) -> dict[str, list[str]]:
    return parse_qs(call.request.body, keep_blank_values=True)


def status_posts(mocked: responses.RequestsMock) -> list[Any]:
    return [c for c in mocked.calls if c.request.method == "POST"
            and c.request.url == STATUSES]


def assert_no_secrets(*objects: object) -> None:
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        for text in texts:
            assert TOKEN not in text, text


# -- publish ------------------------------------------------------------------------------------


def test_publish_one_status_with_its_key(masto, mocked) -> None:
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, json=status("1101", as_html("x")))
    draft = masto.render(POST)
    receipt = masto.publish(draft, "cc-key-1")
    assert (receipt.remote_id, receipt.url) == ("1101", f"{BASE}/@riverside/1101")
    assert receipt.part_ids == ("1101",)
    assert receipt.published_at == NOW
    assert (receipt.post_id, receipt.account, receipt.channel) == ("flu-1", ACCOUNT, "mastodon")
    request = status_posts(mocked)[0].request
    assert request.headers["Idempotency-Key"] == "cc-key-1"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["User-Agent"] == "carecast"
    body = form(status_posts(mocked)[0])
    assert body["status"] == [POST.text + "\n\n#flu"]
    assert body["visibility"] == ["public"]
    assert body["language"] == ["en"]  # en-US: Mastodon takes the ISO 639 code
    assert "spoiler_text" not in body
    assert "in_reply_to_id" not in body


def test_a_long_text_is_a_reply_thread_with_a_key_per_part(masto, mocked) -> None:
    sentence = "Flu vaccines are safe for most people over six months of age. "
    post = Post(id="flu-thread", text=sentence * 12)
    draft = masto.render(post)
    assert len(draft.parts) == 2
    assert [p.text[-4:] for p in draft.parts] == [" 1/2", " 2/2"]
    assert all(p.length <= 500 and p.limit == 500 for p in draft.parts)
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, json=status("2001", "<p>one</p>"),
                match=[matchers.header_matcher({"Idempotency-Key": "cc-k"})])
    mocked.post(STATUSES, json=status("2002", "<p>two</p>", reply_to="2001"),
                match=[matchers.header_matcher({"Idempotency-Key": "cc-k.1"})])
    receipt = masto.publish(draft, "cc-k")
    assert receipt.part_ids == ("2001", "2002")
    assert receipt.remote_id == "2001"
    first, second = status_posts(mocked)
    assert "in_reply_to_id" not in form(first)
    assert form(second)["in_reply_to_id"] == ["2001"]
    assert [form(c)["status"][0] for c in (first, second)] == [p.text for p in draft.parts]


class Instance:
    """An instance that keeps statuses by ``Idempotency-Key`` as ``PostStatusService`` does:
    a key it has seen returns its status and makes nothing new. ``now`` stamps new statuses;
    ``/api/v1/statuses/:id/source`` gives back what was sent."""

    def __init__(self, *failures: int, now: Any = lambda: NOW) -> None:
        self.held: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self.sources: dict[str, dict[str, str]] = {}
        self.failures = list(failures)  # statuses answered to the next new replies
        self.now = now

    def create(self, request: Any) -> tuple[int, dict[str, str], str]:
        key = request.headers["Idempotency-Key"]
        if key in self.held:
            return 200, {}, json.dumps(self.held[key])
        fields = parse_qs(request.body)
        reply_to = fields.get("in_reply_to_id", [None])[0]
        if reply_to and self.failures:
            code = self.failures.pop(0)
            return code, {}, json.dumps({"error": "Service Unavailable"})
        new = status(str(3000 + len(self.created)), as_html(fields["status"][0]),
                     reply_to=reply_to, created=self.now())
        self.held[key] = new
        self.created.append(new)
        self.sources[new["id"]] = {"id": new["id"], "text": fields["status"][0],
                                   "spoiler_text": fields.get("spoiler_text", [""])[0]}
        return 200, {}, json.dumps(new)

    def source(self, request: Any) -> tuple[int, dict[str, str], str]:
        status_id = request.url.rsplit("/", 2)[1]
        return 200, {}, json.dumps(self.sources[status_id])

    def install(self, mocked: responses.RequestsMock) -> None:
        mocked.get(INSTANCE, json=instance())
        mocked.add_callback(responses.POST, STATUSES, callback=self.create)
        mocked.add_callback(responses.GET, re.compile(rf"{STATUSES}/\d+/source"),
                            callback=self.source)


def sources_read(mocked: responses.RequestsMock) -> list[str]:
    return [c.request.url.rsplit("/", 2)[1] for c in mocked.calls
            if c.request.url.endswith("/source")]


def test_a_thread_whose_second_part_failed_is_completed_without_a_duplicate(masto,
                                                                           mocked) -> None:
    server = Instance(503, now=masto.clock.now)
    server.install(mocked)
    draft = masto.render(Post(id="t", text="Wash your hands often. " * 30))
    assert len(draft.parts) == 2
    with pytest.raises(ChannelServerError):
        masto.publish(draft, "cc-t")
    assert len(server.created) == 1  # the first part is live; nothing was deleted
    assert sources_read(mocked) == []  # a new status is not checked
    masto.clock.advance(120)  # the retry comes two minutes later
    receipt = masto.publish(draft, "cc-t")
    assert sources_read(mocked) == ["3000"]  # the replayed part's source matched
    keys = [c.request.headers["Idempotency-Key"] for c in status_posts(mocked)]
    assert keys == ["cc-t", "cc-t.1", "cc-t", "cc-t.1"]
    assert [s["id"] for s in server.created] == ["3000", "3001"]  # no duplicate first part
    assert server.created[1]["in_reply_to_id"] == "3000"
    assert receipt.part_ids == ("3000", "3001")
    assert [c for c in mocked.calls if c.request.method == "DELETE"] == []


def test_a_key_replayed_with_other_content_stops_the_thread(root, mocked) -> None:
    """The draft was split at 500, then at 1000 (max_characters set): the first part's key
    returns the old first part, whose text differs. Nothing more is sent."""
    server = Instance()
    server.install(mocked)
    text = "Stay home when you have a fever. " * 25
    old = make(root).render(Post(id="f", text=text))
    server.held["cc-f"] = status("3990", as_html(old.parts[0].text),
                                 created=NOW - timedelta(minutes=10))
    server.sources["3990"] = {"id": "3990", "text": old.parts[0].text, "spoiler_text": ""}
    mocked.replace(responses.GET, INSTANCE, json=instance(max_characters=1000))
    wider = make(root, max_characters=1000)
    with pytest.raises(OutcomeUnknown, match="sent earlier with other content") as info:
        wider.publish(wider.render(Post(id="f", text=text)), "cc-f")
    assert not info.value.retryable
    assert [c.request.headers["Idempotency-Key"] for c in status_posts(mocked)] == ["cc-f"]
    assert server.created == []


def test_a_changed_content_warning_is_a_changed_replay(masto, mocked) -> None:
    server = Instance()
    server.install(mocked)
    draft = masto.render(Post(id="w", text="Grief after a loss.", overrides={
        "mastodon": {"options": {"spoiler_text": "Pregnancy loss"}}}))
    server.held["cc-w"] = status("3991", as_html(draft.text), created=NOW - timedelta(hours=1))
    server.sources["3991"] = {"id": "3991", "text": draft.text, "spoiler_text": ""}
    with pytest.raises(OutcomeUnknown, match="other content"):
        masto.publish(draft, "cc-w")


def test_media_is_uploaded_with_alt_text_and_focus_and_awaited(masto, mocked) -> None:
    post = Post(id="m", text="Our new clinic entrance.", media=[
        Media(source="clinic.png", alt_text="A glass entrance with a ramp")],
        overrides={"mastodon": {"options": {"focus": "0,-0.5"}}})
    draft = masto.render(post)
    assert draft.options["focus"] == ["0.0,-0.5"]
    mocked.get(INSTANCE, json=instance())
    mocked.post(f"{BASE}/api/v2/media", status=202,
                json=media_attachment("77", url=None, description="A glass entrance with a ramp"))
    mocked.get(f"{BASE}/api/v1/media/77", status=206,
               json=media_attachment("77", url=None, description="x"))
    mocked.get(f"{BASE}/api/v1/media/77", status=200, json=media_attachment(
        "77", url="https://files.example.social/media/original/77.png", description="x"))
    mocked.post(STATUSES, json=status("4001", as_html(draft.text)))
    receipt = masto.publish(draft, "cc-m")
    assert receipt.remote_id == "4001"
    assert masto.clock.sleeps == [1.0, 2.0]  # polled GET /api/v1/media/77 twice, never slept
    upload = next(c.request for c in mocked.calls if c.request.url.endswith("/api/v2/media"))
    body = upload.body
    assert b'name="description"\r\n\r\nA glass entrance with a ramp' in body
    assert b'name="focus"\r\n\r\n0.0,-0.5' in body
    assert b'filename="clinic.png"' in body
    assert b"Content-Type: image/png" in body
    assert b"\x89PNG" in body
    assert form(status_posts(mocked)[0])["media_ids[]"] == ["77"]


def test_media_from_a_url_is_downloaded_then_uploaded(masto, mocked) -> None:
    cdn = "https://cdn.riverside-general.example/flu.png"
    post = Post(id="u", text="Get your flu shot.", media=[Media(source=cdn, alt_text="A nurse")])
    mocked.get(INSTANCE, json=instance())
    mocked.get(cdn, body=b"\x89PNG-from-cdn", content_type="image/png")
    mocked.post(f"{BASE}/api/v2/media", json=media_attachment(
        "78", url="https://files.example.social/78.png", description="A nurse"))
    mocked.post(STATUSES, json=status("4002", "<p>x</p>"))
    masto.publish(masto.render(post), "cc-u")
    upload = next(c.request for c in mocked.calls if c.request.url.endswith("/api/v2/media"))
    assert b"\x89PNG-from-cdn" in upload.body
    assert "Authorization" not in mocked.calls[1].request.headers  # the token stays home


def test_a_failed_download_names_the_media_and_sends_nothing(masto, mocked) -> None:
    cdn = "https://cdn.riverside-general.example/gone.png"
    mocked.get(INSTANCE, json=instance())
    mocked.get(cdn, status=404)
    with pytest.raises(ChannelError, match=r"media\[0\]: could not download 'gone.png'") as info:
        masto.publish(masto.render(Post(id="g", text="x", media=[Media(source=cdn)])), "k")
    assert not info.value.retryable
    assert status_posts(mocked) == []


def test_media_processing_that_never_ends_times_out_without_posting(root, mocked) -> None:
    masto = make(root, media_wait=5)
    mocked.get(INSTANCE, json=instance())
    mocked.post(f"{BASE}/api/v2/media", status=202,
                json=media_attachment("79", url=None, description=None))
    mocked.get(f"{BASE}/api/v1/media/79", status=206,
               json=media_attachment("79", url=None, description=None))
    post = Post(id="v", text="x", media=[Media(source="clinic.png", alt_text="y")])
    with pytest.raises(ChannelTimeout, match="media_wait"):
        masto.publish(masto.render(post), "k")
    assert masto.clock.sleeps == [1.0, 2.0, 4.0]
    assert status_posts(mocked) == []


def test_media_processing_failure_is_refused(masto, mocked) -> None:
    mocked.get(INSTANCE, json=instance())
    mocked.post(f"{BASE}/api/v2/media", status=202,
                json=media_attachment("80", url=None, description=None))
    mocked.get(f"{BASE}/api/v1/media/80", status=422,
               json={"error": "Error processing thumbnail for uploaded media"})
    post = Post(id="v", text="x", media=[Media(source="clinic.png", alt_text="y")])
    with pytest.raises(PlatformRejected, match="Error processing thumbnail") as info:
        masto.publish(masto.render(post), "k")
    assert info.value.status == 422


# -- visibility, content warnings, options ------------------------------------------------------


def test_content_warning_and_visibility_come_from_the_post(masto, mocked) -> None:
    post = Post(id="cw", text=POST.text, hashtags=["flu"], overrides={"mastodon": {"options": {
        "spoiler_text": "Vaccines", "visibility": "unlisted", "sensitive": True}}})
    draft = masto.render(post)
    assert draft.options == {"visibility": "unlisted", "spoiler_text": "Vaccines",
                             "sensitive": True}
    assert draft.parts[0].limit == 500 - len("Vaccines")  # Mastodon counts the warning
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, json=status("5001", "<p>x</p>", spoiler_text="Vaccines"))
    masto.publish(draft, "k")
    body = form(status_posts(mocked)[0])
    assert (body["spoiler_text"], body["visibility"], body["sensitive"]) == (
        ["Vaccines"], ["unlisted"], ["1"])


def test_the_account_default_warning_applies_to_every_part_unless_the_post_clears_it(
        root, mocked) -> None:
    masto = make(root, spoiler_text="Health topic", visibility="private", language="es")
    draft = masto.render(Post(id="w", text="Aspirin and you. " * 40))
    assert draft.options == {"visibility": "private", "spoiler_text": "Health topic"}
    assert draft.language == "es"
    assert all(p.length + len("Health topic") <= 500 for p in draft.parts)
    mocked.get(INSTANCE, json=instance())
    assert len(draft.parts) == 2
    mocked.post(STATUSES, json=status("6001", "<p>x</p>"))
    mocked.post(STATUSES, json=status("6002", "<p>x</p>", reply_to="6001"))
    masto.publish(draft, "k")
    assert {form(c)["spoiler_text"][0] for c in status_posts(mocked)} == {"Health topic"}
    cleared = masto.render(Post(id="c", text="News.", overrides={
        ACCOUNT: {"options": {"spoiler_text": ""}}}))
    assert "spoiler_text" not in cleared.options


@pytest.mark.parametrize(("options", "field"), [
    ({"visibilty": "public"}, "overrides.mastodon.options.visibilty"),
    ({"visibility": "followers"}, "overrides.mastodon.options.visibility"),
    ({"spoiler_text": 3}, "overrides.mastodon.options.spoiler_text"),
    ({"sensitive": "yes"}, "overrides.mastodon.options.sensitive"),
    ({"focus": "2,0"}, "overrides.mastodon.options.focus"),
    ({"focus": ["0,0", "0,0"]}, "overrides.mastodon.options.focus"),
])
def test_bad_post_options_name_the_field(masto, options, field) -> None:
    post = Post(id="b", text="x", media=[Media(source="clinic.png")],
                overrides={"mastodon": {"options": options}})
    with pytest.raises(InvalidPost) as info:
        masto.render(post)
    assert str(info.value).startswith(field)


def test_a_warning_that_leaves_no_room_is_refused(masto) -> None:
    post = Post(id="w", text="x", overrides={"mastodon": {"options": {"spoiler_text": "w" * 490}}})
    with pytest.raises(LimitExceeded) as info:
        masto.render(post)
    assert info.value.field == "overrides.mastodon.options.spoiler_text"


def test_video_goes_alone_and_alt_text_fits(masto, root) -> None:
    (root / "tour.mp4").write_bytes(bytes(32))
    with pytest.raises(LimitExceeded, match="video or an audio file alone"):
        masto.render(Post(id="v", text="x", media=[Media(source="tour.mp4"),
                                                    Media(source="clinic.png")]))
    with pytest.raises(LimitExceeded) as info:
        masto.render(Post(id="a", text="x", media=[Media(source="clinic.png",
                                                         alt_text="a" * 1501)]))
    assert info.value.field == "media[0].alt_text"


def test_a_status_needs_text_or_media(masto) -> None:
    with pytest.raises(LimitExceeded, match="needs text or media"):
        masto.render(Post(id="t", title="Flu clinic"))


# -- counting and the instance's limit ----------------------------------------------------------


@pytest.mark.parametrize(("text", "length"), [
    ("Hello", 5),
    ("See https://riverside-general.org/news/2026/flu-clinic-opens-monday", 4 + 23),
    ("example.invalid/x is no link", len("example.invalid/x is no link")),
    ("Thanks @drlee@med.example.social!", len("Thanks @drlee!")),
    ("Nurse 👩🏽‍⚕️ day", len("Nurse x day")),  # one grapheme
    ("e\u0301", 1),
])
def test_count_is_mastodons(masto, text, length) -> None:
    assert masto.count(text) == length


def test_render_uses_the_option_then_the_cached_limit_then_500(root, mocked) -> None:
    long = Post(id="l", text="Stay home when you have a fever. " * 25)  # 825 graphemes
    assert len(make(root).render(long).parts) == 2
    assert len(make(root, max_characters=1000).render(long).parts) == 1
    early = make(root)
    mocked.get(INSTANCE, json=instance(max_characters=1000))
    assert early.instance_limit() == 1000
    assert early.instance_limit() == 1000  # read once per process and instance
    assert len(mocked.calls) == 1
    assert len(make(root).render(long).parts) == 1  # a channel built after the read
    assert len(early.render(long).parts) == 2  # fixed when built: render stays pure
    assert early.render(long) == early.render(long)


def test_the_limit_falls_back_to_instance_v1(masto, mocked) -> None:
    mocked.get(INSTANCE, status=404, json={"error": "Not Found"})
    mocked.get(f"{BASE}/api/v1/instance/", json={
        "uri": "health.example.social", "title": "Health Social", "version": "3.5.3",
        "configuration": {"statuses": {"max_characters": 700, "max_media_attachments": 4,
                                       "characters_reserved_per_url": 23}}})
    assert masto.instance_limit() == 700


def test_a_draft_over_the_instances_limit_is_refused_before_sending(root, mocked) -> None:
    masto = make(root, max_characters=1000)
    draft = masto.render(Post(id="o", text="Stay home when you have a fever. " * 25))
    mocked.get(INSTANCE, json=instance(max_characters=500))
    with pytest.raises(PlatformRejected, match="over this instance's limit of 500") as info:
        masto.publish(draft, "k")
    assert not info.value.retryable
    assert status_posts(mocked) == []


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "body", "cls", "text"), [
    (401, {"error": "The access token is invalid"}, AuthenticationError, "renew"),
    (403, {"error": "This action is outside the authorized scopes"}, PermissionDenied,
     "outside the authorized scopes"),
    (404, {"error": "Record not found"}, PlatformRejected, "Record not found"),
    (422, {"error": "Validation failed: Text character limit of 500 exceeded"},
     PlatformRejected, "Validation failed: Text character limit of 500 exceeded"),
    (500, {"error": "Internal Server Error"}, ChannelServerError, "HTTP 500"),
    (502, {"error": "Bad Gateway"}, ChannelServerError, "HTTP 502"),
    (503, {"error": "Service Unavailable"}, ChannelServerError, "HTTP 503"),
    (504, {"error": "Gateway Timeout"}, ChannelServerError, "HTTP 504"),
])
def test_api_errors_map_to_carecast_errors(masto, mocked, code, body, cls, text) -> None:
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, status=code, json=body,
                headers={"X-Request-Id": "req-9f1", "Retry-After": "12"})
    with pytest.raises(ChannelError) as info:
        masto.publish(masto.render(POST), "k")
    error = info.value
    assert type(error) is cls
    assert text in str(error)
    assert (error.status, error.request_id) == (code, "req-9f1")
    assert (error.channel, error.account) == ("mastodon", ACCOUNT)
    assert error.retryable == (code >= 500)
    assert error.may_have_been_sent == (code >= 500)
    if cls is ChannelServerError:
        assert error.retry_after == 12
    assert error.__cause__ is None
    assert error.__context__ is None  # the SDK's message (URL, requests error) is not chained
    assert_no_secrets(error)


def test_a_rate_limit_waits_until_the_iso_reset_time(masto, mocked) -> None:
    reset = NOW + timedelta(seconds=90)
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, status=429, json={"error": "Too many requests"}, headers={
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
        "X-Request-Id": "req-429"})
    with pytest.raises(RateLimited) as info:
        masto.publish(masto.render(POST), "k")
    assert info.value.retry_after == pytest.approx(90)
    assert (info.value.status, info.value.request_id) == (429, "req-429")
    assert info.value.retryable
    assert masto.clock.sleeps == []  # Mastodon.py threw; nothing slept
    assert masto.client().ratelimit_method == "throw"


def test_the_rate_limit_reset_is_measured_on_the_servers_clock(masto, mocked) -> None:
    server_now = NOW - timedelta(seconds=300)  # our clock runs five minutes ahead
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, status=429, json={"error": "Too many requests"}, headers={
        "X-RateLimit-Reset": (server_now + timedelta(seconds=40)).isoformat(),
        "Date": email.utils.format_datetime(server_now, usegmt=True)})
    with pytest.raises(RateLimited) as info:
        masto.publish(masto.render(POST), "k")
    assert info.value.retry_after == pytest.approx(40)


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(MaxRetryError(None, STATUSES, reason=reason))


@pytest.mark.parametrize(("exc", "cls", "sent"), [
    (refused(), ChannelConnectionError, False),
    (requests.ConnectTimeout(f"timed out connecting to {BASE}"), ChannelTimeout, False),
    (requests.ReadTimeout(f"read timed out from {BASE}"), OutcomeUnknown, True),
    (requests.exceptions.ChunkedEncodingError("broken"), OutcomeUnknown, True),
])
def test_transport_failures(masto, mocked, exc, cls, sent) -> None:
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, body=exc)
    with pytest.raises(ChannelError) as info:
        masto.publish(masto.render(POST), "k")
    assert type(info.value) is cls
    assert info.value.may_have_been_sent is sent
    assert info.value.retryable
    assert info.value.__context__ is None
    assert_no_secrets(info.value)


@pytest.mark.parametrize(("code", "cls"), [
    (200, None), (401, AuthenticationError), (503, ChannelServerError)])
def test_an_unreadable_rate_limit_header_goes_by_the_status(masto, mocked, code, cls) -> None:
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, status=code, json=status("1", "<p>x</p>"),
                headers={"X-RateLimit-Reset": "soon"})  # Mastodon.py could not read it
    if cls is None:  # the status is read from the JSON; the header does not matter
        assert masto.publish(masto.render(POST), "k").remote_id == "1"
        return
    with pytest.raises(ChannelError) as info:
        masto.publish(masto.render(POST), "k")
    assert type(info.value) is cls
    assert info.value.status == code


def test_a_next_page_on_another_host_is_not_followed(masto, mocked) -> None:
    """The token goes only to the instance: a Link header pointing elsewhere is refused."""
    mocked.get(VERIFY, json=account())
    mocked.get(f"{BASE}/api/v1/accounts/{ME}/statuses", json=[status("9", as_html("other"))],
               headers={"Link": '<https://elsewhere.example/api/v1/accounts/1/statuses'
                                '?max_id=9>; rel="next"'})
    with pytest.raises(OutcomeUnknown, match="another host") as info:
        masto.lookup("k", masto.render(POST))
    assert not info.value.retryable
    assert all("elsewhere" not in c.request.url for c in mocked.calls)


def test_a_call_mastodon_py_refuses_sends_nothing(masto, mocked) -> None:
    with pytest.raises(ChannelError, match=r"Mastodon\.py refused the call") as info:
        masto._call("media_post", b"bytes without a type")
    assert not info.value.retryable
    assert not info.value.may_have_been_sent
    assert len(mocked.calls) == 0


def test_an_unreadable_success_may_have_been_stored(masto, mocked) -> None:
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, body="<html>proxy page</html>", status=200)
    with pytest.raises(OutcomeUnknown):
        masto.publish(masto.render(POST), "k")


def test_without_the_sdk_the_message_says_what_to_install(masto, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mastodon", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'carecast\[mastodon\]'"):
        masto.client()
    with pytest.raises(ConfigurationError, match=r"pip install 'carecast\[mastodon\]'"):
        masto.render(POST)


def test_without_the_grapheme_module_counting_says_what_to_install(masto,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr("mastodon.utility.IMPL_HAS_GRAPHEME", False)
    with pytest.raises(ConfigurationError, match=r"carecast\[mastodon\]"):
        masto.count("x")


def test_the_module_imports_and_lists_limits_without_the_sdk() -> None:
    code = ("import sys; sys.modules['mastodon'] = None; "
            "from carecast.channels.mastodon import MastodonChannel as C; "
            "print(C.limits()['max_text'], C.limits()['text_unit'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["500", "graphemes"]


# -- lookup, delete, profile, mentions, metrics -------------------------------------------------


def recent(*statuses: dict[str, Any]) -> None:
    responses.get(VERIFY, json=account())
    responses.get(f"{BASE}/api/v1/accounts/{ME}/statuses", json=list(statuses),
                  match=[matchers.query_param_matcher({"limit": "40", "exclude_reblogs": "1"})])


@responses.activate
def test_lookup_finds_the_status_by_its_text(masto) -> None:
    post = Post(id="f", text="Thanks @drlee@med.example.social for the talk!\nSlides: "
                "https://riverside-general.example/talks/flu-2026 & more", hashtags=["flu"])
    draft = masto.render(post)
    recent(status("7002", "<p>Another post</p>"),
           status("7001", as_html(draft.text).replace(
               "@drlee@med.example.social",
               '<span class="h-card"><a href="https://med.example.social/@drlee" '
               'class="u-url mention">@<span>drlee</span></a></span>')))
    found = masto.lookup("k", draft)
    assert found is not None
    assert (found.remote_id, found.part_ids, found.reconciled) == ("7001", ("7001",), True)


@responses.activate
def test_lookup_not_found(masto) -> None:
    recent(status("7003", "<p>Flu shots are free at every Riverside clinic.</p>"))
    assert masto.lookup("k", masto.render(POST)) is None


@responses.activate
def test_lookup_finds_a_whole_thread(masto) -> None:
    draft = masto.render(Post(id="t", text="Hydrate in the heat. " * 40))
    parts = [status(str(8000 + i), as_html(p.text), reply_to=str(7999 + i) if i else None)
             for i, p in enumerate(draft.parts)]
    recent(*reversed(parts))
    found = masto.lookup("k", draft)
    assert found is not None
    assert found.part_ids == tuple(s["id"] for s in parts)


@responses.activate
def test_a_half_thread_is_resent_while_its_keys_hold_then_needs_a_person(masto) -> None:
    draft = masto.render(Post(id="t", text="Hydrate in the heat. " * 40))
    first = status("8100", as_html(draft.parts[0].text), created=NOW - timedelta(minutes=5))
    recent(first)
    assert masto.lookup("k", draft) is None  # a resend with the same keys completes it
    old = status("8100", as_html(draft.parts[0].text), created=NOW - timedelta(hours=2))
    responses.replace(responses.GET, f"{BASE}/api/v1/accounts/{ME}/statuses", json=[old])
    with pytest.raises(OutcomeUnknown, match="1 of the thread's") as info:
        masto.lookup("k", draft)
    assert not info.value.retryable


@responses.activate
def test_lookup_errors_are_raised(masto) -> None:
    responses.get(VERIFY, status=503, json={"error": "Service Unavailable"})
    with pytest.raises(ChannelServerError):
        masto.lookup("k", masto.render(POST))


@responses.activate
def test_delete_removes_every_part_last_first(masto) -> None:
    for remote_id in ("9002", "9001"):
        responses.delete(f"{STATUSES}/{remote_id}", json=status(remote_id, "<p>x</p>"))
    responses.delete(f"{STATUSES}/9003", status=404, json={"error": "Record not found"})
    receipt = Receipt(post_id="p", account=ACCOUNT, channel="mastodon", remote_id="9001",
                      published_at=NOW, part_ids=("9001", "9002", "9003"))
    masto.delete(receipt)
    assert [c.request.url.rsplit("/", 1)[1] for c in responses.calls] == [
        "9003", "9002", "9001"]
    responses.replace(responses.DELETE, f"{STATUSES}/9001", status=500)
    with pytest.raises(ChannelServerError):
        masto.delete(receipt.model_copy(update={"part_ids": ()}))


@responses.activate
def test_fetch_profile(masto) -> None:
    responses.get(VERIFY, json=account())
    profile = masto.fetch_profile()
    assert profile.display_name == "Riverside General"
    assert profile.handle == "@riverside@health.example.social"
    assert profile.description == "News and health tips from Riverside General.\n" \
        "Not medical advice."
    assert profile.website == "https://riverside-general.example"
    assert profile.location == "Springfield, IL"
    assert profile.avatar_url == "https://files.example.social/avatars/r.png"
    assert profile.extra["fields"]["Website"] == "https://riverside-general.example"


@responses.activate
def test_fetch_mentions_since(masto) -> None:
    def note(id: str, minutes: int, text: str, **extra: Any) -> dict[str, Any]:
        when = NOW - timedelta(minutes=minutes)
        author = account(id="42", username="pat", acct="pat@other.example",
                         display_name="Pat")
        return {"id": id, "type": "mention",
                "created_at": when.isoformat().replace("+00:00", ".000Z"),
                "account": author,
                "status": status(f"s{id}", f"<p>{text}</p>", created=when,
                                 account=author, **extra)}

    responses.get(VERIFY, json=account())
    responses.get(f"{BASE}/api/v1/notifications", json=[
        note("303", 5, "@riverside when is the flu clinic?"),
        note("302", 30, "@riverside thanks!", in_reply_to_id="1101",
             in_reply_to_account_id=ME),
    ], match=[matchers.query_param_matcher({"types[]": "mention", "limit": "40"})])
    responses.get(f"{BASE}/api/v1/notifications", json=[
        note("301", 90, "@riverside older"),
    ], match=[matchers.query_param_matcher({"types[]": "mention", "limit": "40",
                                            "max_id": "302"})])
    mentions = masto.fetch_mentions(NOW - timedelta(hours=1))
    assert [m.remote_id for m in mentions] == ["s302", "s303"]  # oldest first, none older
    assert [m.kind for m in mentions] == ["reply", "mention"]
    assert mentions[1].author == "pat@other.example"
    assert mentions[1].text == "@riverside when is the flu clinic?"
    assert mentions[1].url == f"{BASE}/@riverside/s303"


@responses.activate
def test_fetch_metrics(masto) -> None:
    responses.get(f"{STATUSES}/1101", json=status(
        "1101", "<p>x</p>", favourites_count=31, reblogs_count=12, replies_count=4))
    receipt = Receipt(post_id="p", account=ACCOUNT, channel="mastodon", remote_id="1101",
                      published_at=NOW)
    metrics = masto.fetch_metrics(receipt)
    assert (metrics.likes, metrics.reposts, metrics.replies, metrics.impressions) == (
        31, 12, 4, None)
    assert MastodonChannel.capabilities() == {"lookup", "fetch_mentions", "fetch_metrics",
                                              "fetch_account_metrics", "update_profile", "reply"}


# -- configuration and secrets ------------------------------------------------------------------


def test_the_token_never_shows(masto) -> None:
    assert_no_secrets(masto, masto.options, masto.options.model_dump(),
                      masto.options.model_dump_json())


@pytest.mark.parametrize("url", ["http://health.example.social", "health.example.social",
                                 "https://health.example.social/?token=x"])
def test_the_instance_url_must_be_https(url) -> None:
    account_cfg = AccountConfig(name="masto", channel="mastodon",
                                options={"api_base_url": url, "access_token": TOKEN})
    with pytest.raises(ConfigurationError, match=r"accounts\.masto\.api_base_url") as info:
        MastodonChannel.from_config(account_cfg)
    assert_no_secrets(info.value)


# -- end to end through the Publisher -----------------------------------------------------------


def config(tmp_path: Path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"masto": {"channel": "mastodon", "brand": "riverside",
                               "api_base_url": BASE}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__MASTO__ACCESS_TOKEN": TOKEN})


def test_publisher_waits_out_a_rate_limit_then_publishes(tmp_path, no_sleep, mocked) -> None:
    reset = no_sleep.clock.now() + timedelta(seconds=30)
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, status=429, json={"error": "Too many requests"},
                headers={"X-RateLimit-Reset": reset.isoformat()})
    mocked.post(STATUSES, json=status("1201", "<p>x</p>", created=no_sleep.clock.now()))
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["masto"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == "1201"
    assert len(no_sleep.clock.sleeps) == 1
    assert 20 <= no_sleep.clock.sleeps[0] <= 31
    key = idempotency_key(POST.id, "masto")
    assert [c.request.headers["Idempotency-Key"] for c in status_posts(mocked)] == [key, key]


def test_publisher_reconciles_a_timeout_by_lookup(tmp_path, no_sleep, mocked) -> None:
    mocked.get(INSTANCE, json=instance())
    mocked.post(STATUSES, body=requests.ReadTimeout("read timed out"))
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        draft: Draft = publisher.preview(POST).targets[0].draft
        mocked.get(VERIFY, json=account())
        mocked.get(f"{BASE}/api/v1/accounts/{ME}/statuses",
                   json=[status("1301", as_html(draft.text))])
        outcome = publisher.publish(POST)["masto"]
        assert outcome.state == State.PUBLISHED
        assert outcome.receipt.reconciled
        assert outcome.receipt.remote_id == "1301"
        assert publisher.publish(POST)["masto"].already_published
    assert len(status_posts(mocked)) == 1  # exactly one create: the post was found
    for path in tmp_path.iterdir():
        assert TOKEN.encode() not in path.read_bytes(), path.name


def test_publisher_completes_a_thread_after_a_failed_reply(tmp_path, no_sleep, mocked) -> None:
    """503 on the reply: the publisher looks the thread up (half there, keys still held),
    then sends again with the same keys; the instance returns the first part, adds the reply."""
    server = Instance(503, now=lambda: datetime.now(UTC))
    server.install(mocked)
    mocked.assert_all_requests_are_fired = False  # the source is read for replays only
    mocked.get(VERIFY, json=account())
    mocked.add_callback(
        responses.GET, f"{BASE}/api/v1/accounts/{ME}/statuses",
        callback=lambda request: (200, {}, json.dumps(server.created[::-1])))
    post = Post(id="heat", text="Drink water before you feel thirsty. " * 20)
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(post)["masto"]
    assert outcome.state == State.PUBLISHED
    key = idempotency_key(post.id, "masto")
    keys = [c.request.headers["Idempotency-Key"] for c in status_posts(mocked)]
    assert keys == [key, part_key(key, 1), key, part_key(key, 1)]
    assert [s["id"] for s in server.created] == ["3000", "3001"]
    assert outcome.receipt.part_ids == ("3000", "3001")
    assert not outcome.receipt.reconciled
    lookups = [c for c in mocked.calls if c.request.url.startswith(
        f"{BASE}/api/v1/accounts/{ME}/statuses")]
    assert len(lookups) == 1  # the 503 may have stored the reply: looked up before resending


# -- update_profile (brand sync) ----------------------------------------------------------------
# PATCH /api/v1/accounts/update_credentials answers the CredentialAccount (entities/Account with
# ``source``: the note and fields as written, docs.joinmastodon.org methods/accounts).

UPDATE = f"{BASE}/api/v1/accounts/update_credentials"


def credential_account(**extra: Any) -> dict[str, Any]:
    return account(source={
        "privacy": "public", "sensitive": False, "language": "en",
        "note": "News and health tips from Riverside General.", "follow_requests_count": 0,
        "fields": [{"name": "Website", "value": "https://old.riverside.example",
                    "verified_at": None},
                   {"name": "Location", "value": "Springfield, IL", "verified_at": None}]},
        **extra)


def sent_form(call: Any) -> dict[str, list[str]]:
    body = call.request.body
    return parse_qs(body.decode() if isinstance(body, bytes) else body)


@responses.activate
def test_update_profile_text_and_website_keeps_other_fields(masto) -> None:
    from carecast.post import ProfileChanges

    responses.get(VERIFY, json=credential_account())
    responses.patch(UPDATE, json=credential_account())
    masto.update_profile(ProfileChanges(display_name="Riverside General",
                                        description="Care close to home. Not medical advice.",
                                        website="https://riverside-general.example"))
    form = sent_form(responses.calls[-1])
    assert form["display_name"] == ["Riverside General"]
    assert form["note"] == ["Care close to home. Not medical advice."]
    assert form["fields_attributes[0][name]"] == ["Website"]
    assert form["fields_attributes[0][value]"] == ["https://riverside-general.example"]
    assert form["fields_attributes[1][name]"] == ["Location"]
    assert form["fields_attributes[1][value]"] == ["Springfield, IL"]
    assert responses.calls[-1].request.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate
def test_update_profile_adds_a_website_field_and_uploads_the_avatar(masto, root) -> None:
    from carecast.post import ProfileChanges

    one_field = credential_account()
    one_field["source"]["fields"] = one_field["source"]["fields"][1:]
    responses.get(VERIFY, json=one_field)
    responses.patch(UPDATE, json=credential_account())
    masto.update_profile(ProfileChanges(website="https://riverside-general.example",
                                        avatar=Path("clinic.png")))
    body = responses.calls[-1].request.body
    assert b'name="avatar"' in body
    assert b"image/png" in body
    assert b'name="fields_attributes[1][name]"\r\n\r\nWebsite' in body


@responses.activate
def test_update_profile_refusals(masto) -> None:
    from carecast.post import ProfileChanges

    with pytest.raises(PlatformRejected, match="over Mastodon's limit of 30"):
        masto.update_profile(ProfileChanges(display_name="R" * 31))
    with pytest.raises(PlatformRejected, match="cannot change the profile's phone"):
        masto.update_profile(ProfileChanges(phone="+12175550142"))
    full = credential_account()
    full["source"]["fields"] = [{"name": f"F{i}", "value": "v"} for i in range(4)]
    responses.get(VERIFY, json=full)
    with pytest.raises(PlatformRejected, match="4 fields"):
        masto.update_profile(ProfileChanges(website="https://riverside-general.example"))
    responses.patch(UPDATE, status=422, json={"error": "Validation failed: Note is too long"})
    with pytest.raises(PlatformRejected) as info:
        masto.update_profile(ProfileChanges(description="Care."))
    assert info.value.status == 422
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(("given", "resolves", "used"), [
    ("wss://health.example.social", [], BASE),  # the API's own host: no lookup needed
    ("wss://streaming.health.example.social", ["93.184.215.14"],
     "https://streaming.health.example.social"),
    ("wss://streaming.health.example.social", ["10.20.0.7"], BASE),  # private: not trusted
    ("wss://streaming.health.example.social", ["93.184.215.14", "127.0.0.1"], BASE),
    ("wss://169.254.169.254", ["169.254.169.254"], BASE),  # a cloud metadata address
    ("ws://streaming.health.example.social", ["93.184.215.14"], BASE),  # not TLS
])
def test_the_streaming_address_is_trusted_only_on_a_public_host(
        mocked: responses.RequestsMock, masto: MastodonChannel,
        monkeypatch: pytest.MonkeyPatch, given: str, resolves: list[str], used: str) -> None:
    import socket

    answer = instance()
    answer["configuration"]["urls"]["streaming"] = given
    mocked.get(INSTANCE.rstrip("/"), json=answer)
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 443)) for ip in resolves])
    assert masto.streaming_url() == used
