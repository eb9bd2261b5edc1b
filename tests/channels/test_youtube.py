"""The YouTube channel against googleapiclient's ``HttpMockSequence``: no network.

Response bodies are shaped on the YouTube Data API v3 reference (videos, channels,
playlistItems, commentThreads, captions, thumbnails resources) and on recorded answers in
sns-sdks/python-youtube (testdata: videos.insert response, channel info) and
googleapis/google-api-python-client (tests/data: 500 / 503 / 400 error bodies).
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httplib2
import pytest
import requests
import responses
from google.auth.exceptions import RefreshError
from googleapiclient.http import HttpMockSequence

from carecast.channels.youtube import (
    YouTubeChannel,
    YouTubeOptions,
    marker_tag,
    quota_reset_in,
    tags_length,
)
from carecast.config import Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
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
from carecast.post import Media, Post, Receipt
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.records import State
from carecast.store import Ledger
from carecast.testing import FrozenClock

CLIENT_SECRET = "gocspx-s3cret-value"
REFRESH_TOKEN = "1//refresh-t0ken-value"
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN)
NOW = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # noon in Los Angeles (PST)
KEY = "cc-0123456789abcdef0123456789abcdef"
CHUNK = 256 * 1024
SIZE = 2 * CHUNK + 90_000  # three chunks
UPLOAD_URL = "https://www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&upload_id=ABC"
VIDEO_ID = "D-lhorsDlUQ"


def video(video_id: str = VIDEO_ID, tags: list[str] | None = None) -> dict[str, Any]:
    """A video resource (videos.insert answer; sns-sdks videos__insert_response.json)."""
    return {"kind": "youtube#video", "etag": "dbCtFPFQrd6OMTnWAYrcpZDPai0", "id": video_id,
            "snippet": {"publishedAt": "2026-03-02T20:00:05Z", "channelId": "UC_clinic",
                        "title": "Flu clinic", "description": "Flu shots on Monday.",
                        "tags": tags or ["flu"], "categoryId": "27"},
            "status": {"uploadStatus": "uploaded", "privacyStatus": "public",
                       "selfDeclaredMadeForKids": False}}


def error_body(status: int, reason: str, domain: str = "youtube.api",
               message: str = "The request failed.") -> str:
    """A Google API error body (google-api-python-client tests/data/*.json shape)."""
    return json.dumps({"error": {"code": status, "message": message, "errors": [
        {"message": message, "domain": domain, "reason": reason}]}})


CHANNEL = {  # channels.list mine=true (sns-sdks channel_info_single.json, trimmed)
    "kind": "youtube#channelListResponse", "pageInfo": {"totalResults": 1},
    "items": [{"kind": "youtube#channel", "id": "UC_clinic",
               "snippet": {"title": "Riverside General", "description": "Care close to home.",
                           "customUrl": "@riversidegeneral", "country": "US",
                           "thumbnails": {"default": {"url": "https://yt3.ggpht.com/a=s88"},
                                          "high": {"url": "https://yt3.ggpht.com/a=s800"}}},
               "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UU_clinic"}},
               "brandingSettings": {"channel": {"keywords": "hospital health"}}}]}


class Mock(HttpMockSequence):
    """``HttpMockSequence`` that raises an exception given as an answer, and keeps the bytes
    of each uploaded chunk (the client sends a stream slice)."""

    def request(self, uri: str, method: str = "GET", body: Any = None,
                headers: Any = None, redirections: int = 1,
                connection_type: Any = None) -> Any:
        if hasattr(body, "read"):
            body = body.read()
        entry = self._iterable[0]
        content = entry if isinstance(entry, BaseException) else entry[1]
        if isinstance(content, BaseException):
            self._iterable.pop(0)
            self.request_sequence.append((uri, method, body, headers))
            raise content
        return super().request(uri, method, body, headers, redirections, connection_type)

    @property
    def left(self) -> int:
        return len(self._iterable)


def ok(body: Any = "", **headers: str) -> tuple[dict[str, str], Any]:
    return ({"status": "200", **headers}, body if isinstance(body, str) else json.dumps(body))


def resume(last: int) -> tuple[dict[str, str], str]:
    return ({"status": "308", "range": f"bytes=0-{last}"}, "")


def fail(status: int, reason: str, **headers: str) -> tuple[dict[str, str], str]:
    return ({"status": str(status), "content-type": "application/json", **headers},
            error_body(status, reason))


START = ok(location=UPLOAD_URL)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "clip.mp4").write_bytes(bytes(range(256)) * (SIZE // 256) + bytes(SIZE % 256))
    (tmp_path / "small.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    (tmp_path / "thumb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "captions.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello.\n")
    return tmp_path


def make(root: Path, http: Any = None, **options: Any) -> YouTubeChannel:
    opts = {"client_id": "123-abc.apps.googleusercontent.com", "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN, "chunk_size": CHUNK, **options}
    return YouTubeChannel("tube", YouTubeOptions(**opts), root=root, session=http,
                          clock=FrozenClock(NOW))


def post(clip: str = "clip.mp4", **fields: Any) -> Post:
    return Post(**{"id": "flu-1", "title": "Flu clinic", "text": "Flu shots on Monday.",
                   "hashtags": ["flu"], "media": [Media(source=clip, alt_text="A nurse")],
                   **fields})


def assert_no_secrets(*objects: object) -> None:
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        for text in texts:
            for secret in SECRETS:
                assert secret not in text


def headers_of(http: Mock, index: int) -> dict[str, str]:
    return {k.lower(): v for k, v in (http.request_sequence[index][3] or {}).items()}


# -- render ----------------------------------------------------------------------------------


def test_render_resolves_the_video_settings(root) -> None:
    channel = make(root, category_id="27", playlist_id="PL_flu")
    draft = channel.render(post())
    assert draft.text == "Flu shots on Monday.\n\n#flu"
    assert draft.parts[0].length == len(draft.text.encode())
    assert draft.options == {
        "tags": ["flu"], "category_id": "27", "privacy_status": "public",
        "made_for_kids": False, "notify_subscribers": True, "playlist_id": "PL_flu",
        "thumbnail": None, "captions": None, "caption_language": "en", "caption_name": ""}


def test_a_post_without_a_video_is_refused_plainly(root) -> None:
    with pytest.raises(LimitExceeded, match="a YouTube post is a video") as info:
        make(root).render(Post(id="p", title="Flu", text="No video."))
    assert (info.value.field, info.value.limit) == ("media", "required")
    with pytest.raises(LimitExceeded, match="takes: video") as info:
        make(root).render(post(clip="thumb.png"))
    assert info.value.field == "media[0].kind"


def test_title_is_required_and_at_most_100_characters(root) -> None:
    with pytest.raises(LimitExceeded, match="needs a title") as info:
        make(root).render(post(title=None))
    assert info.value.field == "title"
    with pytest.raises(LimitExceeded) as info:
        make(root).render(post(title="T" * 101))
    assert (info.value.limit, info.value.value) == (100, 101)
    assert make(root).render(post(title="T" * 100)).title == "T" * 100


def test_description_is_counted_in_bytes(root) -> None:
    assert make(root).render(post(text="é" * 2490, hashtags=[]))  # 4,980 bytes
    with pytest.raises(LimitExceeded) as info:
        make(root).render(post(text="é" * 2501, hashtags=[]))  # 2,501 characters, 5,002 bytes
    assert (info.value.field, info.value.limit, info.value.value) == ("text", 5000, 5002)


@pytest.mark.parametrize(("fields", "name"), [({"title": "BP > 140"}, "title"),
                                              ({"text": "Ages <5 welcome"}, "text")])
def test_angle_brackets_are_refused(root, fields, name) -> None:
    with pytest.raises(InvalidPost, match=rf"^{name}: YouTube refuses"):
        make(root).render(post(**fields))


def test_tags_are_counted_as_youtube_counts_them() -> None:
    assert tags_length(["flu", "flu shots"]) == 3 + 1 + 11  # the comma; quotes around a space
    assert tags_length([]) == 0
    assert marker_tag(KEY) == marker_tag(KEY)
    assert len(marker_tag(KEY)) == 15
    assert marker_tag(KEY) != marker_tag(KEY + "x")


def test_tags_over_500_characters_are_refused(root) -> None:
    room = 500 - 16  # carecast's lookup tag and its comma
    fits = ["a" * 9] * 48 + ["b" * 4]  # 48 * 9 + 4, and 48 commas: 484
    draft = make(root).render(post(overrides={"youtube": {"options": {"tags": fits}}}))
    assert tags_length(draft.options["tags"]) == room
    spaced = ["flu shot"] * 50  # 10 each as counted, 49 commas: 549
    with pytest.raises(LimitExceeded) as info:
        make(root).render(post(overrides={"youtube": {"options": {"tags": spaced}}}))
    assert info.value.field == "overrides.youtube.options.tags"
    assert (info.value.limit, info.value.value) == (room, 549)


def test_bad_post_options_name_the_field(root) -> None:
    bad = {"privacy_status": "secret", "colour": "red"}
    with pytest.raises(InvalidPost) as info:
        make(root).render(post(overrides={"tube": {"options": bad}}))
    fields = [field for field, _ in info.value.problems]
    assert fields == ["overrides.tube.options.privacy_status", "overrides.tube.options.colour"]
    with pytest.raises(InvalidPost, match=r"overrides\.youtube\.options\.thumbnail: no readable"):
        make(root).render(post(overrides={"youtube": {"options": {"thumbnail": "no.png"}}}))
    with pytest.raises(InvalidPost, match=r"options\.captions: YouTube takes \.vtt"):
        make(root).render(post(overrides={"youtube": {"options": {"captions": "clip.mp4"}}}))


# -- upload ----------------------------------------------------------------------------------


def test_a_multi_chunk_upload_reports_progress(root) -> None:
    http = Mock([START, resume(CHUNK - 1), resume(2 * CHUNK - 1), ok(video())])
    seen: list[tuple[str, int, int]] = []
    channel = make(root, http)
    channel.progress = lambda key, sent, total: seen.append((key, sent, total))
    receipt = channel.publish(channel.render(post()), KEY)
    assert (receipt.remote_id, receipt.url) == (VIDEO_ID,
                                                "https://www.youtube.com/watch?v=D-lhorsDlUQ")
    assert receipt.part_ids == (VIDEO_ID,)
    assert receipt.published_at == datetime(2026, 3, 2, 20, 0, 5, tzinfo=UTC)
    assert seen == [(KEY, CHUNK, SIZE), (KEY, 2 * CHUNK, SIZE), (KEY, SIZE, SIZE)]
    uri, method, body, _ = http.request_sequence[0]
    assert method == "POST"
    assert "uploadType=resumable" in uri
    assert "notifySubscribers=true" in uri
    assert headers_of(http, 0)["x-upload-content-length"] == str(SIZE)
    assert headers_of(http, 0)["x-upload-content-type"] == "video/mp4"
    meta = json.loads(body)
    assert meta["snippet"] == {"title": "Flu clinic", "description": "Flu shots on Monday.\n\n#flu",
                               "tags": ["flu", marker_tag(KEY)], "categoryId": "22"}
    assert meta["status"] == {"privacyStatus": "public", "selfDeclaredMadeForKids": False}
    ranges = [headers_of(http, i)["content-range"] for i in (1, 2, 3)]
    assert ranges == [f"bytes 0-{CHUNK - 1}/{SIZE}", f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}",
                      f"bytes {2 * CHUNK}-{SIZE - 1}/{SIZE}"]
    data = (root / "clip.mp4").read_bytes()
    assert b"".join(http.request_sequence[i][2] for i in (1, 2, 3)) == data
    assert all(http.request_sequence[i][0] == UPLOAD_URL for i in (1, 2, 3))


def test_an_interrupted_upload_resumes_at_the_confirmed_byte(root) -> None:
    http = Mock([START, resume(CHUNK - 1), ConnectionResetError(104, "reset by peer"),
                 resume(CHUNK - 1), resume(2 * CHUNK - 1), ok(video())])
    channel = make(root, http)
    draft = channel.render(post())
    with pytest.raises(OutcomeUnknown) as info:
        channel.publish(draft, KEY)
    assert info.value.may_have_been_sent
    assert channel.lookup(KEY, draft) is None  # unfinished here: publish resumes it
    receipt = channel.publish(draft, KEY)
    assert receipt.remote_id == VIDEO_ID
    assert http.left == 0
    methods = [(r[1], headers_of(http, i).get("content-range")) for i, r in
               enumerate(http.request_sequence)]
    assert methods == [
        ("POST", None),
        ("PUT", f"bytes 0-{CHUNK - 1}/{SIZE}"),
        ("PUT", f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}"),  # broken
        ("PUT", f"bytes */{SIZE}"),  # where did it stop? 308 Range: bytes=0-262143
        ("PUT", f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}"),  # resumed, not restarted
        ("PUT", f"bytes {2 * CHUNK}-{SIZE - 1}/{SIZE}"),
    ]
    assert len([r for r in http.request_sequence if r[1] == "POST"]) == 1


def test_a_server_error_mid_upload_resumes_too(root) -> None:
    http = Mock([START, fail(503, "backendError"), resume(CHUNK - 1), resume(2 * CHUNK - 1),
                 ok(video())])
    channel = make(root, http)
    draft = channel.render(post())
    with pytest.raises(ChannelServerError) as info:
        channel.publish(draft, KEY)
    assert (info.value.status, info.value.code) == (503, "backendError")
    assert channel.publish(draft, KEY).remote_id == VIDEO_ID
    assert headers_of(http, 2)["content-range"] == f"bytes */{SIZE}"
    assert headers_of(http, 3)["content-range"] == f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}"


def test_a_finished_upload_whose_answer_was_lost_is_not_sent_again(root) -> None:
    http = Mock([START, TimeoutError("timed out"), ok(video())])
    channel = make(root, http)
    draft = channel.render(post("small.mp4"))
    with pytest.raises(OutcomeUnknown):
        channel.publish(draft, KEY)
    assert channel.publish(draft, KEY).remote_id == VIDEO_ID  # the status query says: done
    assert [r[1] for r in http.request_sequence] == ["POST", "PUT", "PUT"]
    assert headers_of(http, 2)["content-range"] == "bytes */1012"


def test_schedule_makes_it_private_until_publish_at(root) -> None:
    http = Mock([START, ok(video())])
    channel = make(root, http)
    later = post("small.mp4", schedule="2026-03-09T09:00:00-05:00")
    channel.publish(channel.render(later), KEY)
    status = json.loads(http.request_sequence[0][2])["status"]
    assert status == {"privacyStatus": "private", "publishAt": "2026-03-09T14:00:00Z",
                      "selfDeclaredMadeForKids": False}
    http = Mock([START, ok(video())])
    channel = make(root, http, made_for_kids=True, privacy_status="unlisted")
    past = post("small.mp4", schedule="2026-03-01T09:00:00-05:00")  # already due: now
    channel.publish(channel.render(past), KEY)
    assert json.loads(http.request_sequence[0][2])["status"] == {
        "privacyStatus": "unlisted", "selfDeclaredMadeForKids": True}


def test_thumbnail_captions_and_playlist(root) -> None:
    caption = {"kind": "youtube#caption", "id": "AUieDaZ1", "snippet": {
        "videoId": VIDEO_ID, "language": "es", "name": "Español", "trackKind": "standard"}}
    item = {"kind": "youtube#playlistItem", "id": "UExfZmx1LjE", "snippet": {
        "playlistId": "PL_flu", "resourceId": {"kind": "youtube#video", "videoId": VIDEO_ID}}}
    thumbs = {"kind": "youtube#thumbnailSetResponse", "items": [
        {"default": {"url": "https://i.ytimg.com/vi/D-lhorsDlUQ/default.jpg"}}]}
    http = Mock([START, ok(video()), ok(thumbs), ok(caption), ok(item)])
    channel = make(root, http)
    options = {"thumbnail": "thumb.png", "captions": "captions.vtt", "caption_language": "es",
               "caption_name": "Español", "playlist_id": "PL_flu"}
    draft = channel.render(post("small.mp4", overrides={"youtube": {"options": options}}))
    receipt = channel.publish(draft, KEY)
    assert receipt.extra == {"privacy_status": "public", "thumbnail": True,
                             "caption_id": "AUieDaZ1", "playlist_item_id": "UExfZmx1LjE"}
    uri, _, body, headers = http.request_sequence[2]
    assert "/upload/youtube/v3/thumbnails/set" in uri
    assert "videoId=D-lhorsDlUQ" in uri
    assert headers["content-type"] == "image/png"
    assert body.startswith(b"\x89PNG")
    uri, _, body, _ = http.request_sequence[3]
    assert "/upload/youtube/v3/captions" in uri
    body = body if isinstance(body, bytes) else body.encode()
    assert b'"videoId": "D-lhorsDlUQ"' in body
    assert b'"language": "es"' in body
    assert b"WEBVTT" in body
    uri, _, body, _ = http.request_sequence[4]
    assert "/youtube/v3/playlistItems?part=snippet" in uri
    assert json.loads(body) == {"snippet": {"playlistId": "PL_flu", "resourceId": {
        "kind": "youtube#video", "videoId": VIDEO_ID}}}


def test_a_failed_extra_after_the_upload_never_uploads_again(root) -> None:
    http = Mock([START, ok(video()), fail(500, "internalError"), ok({"items": []}),
                 ok({"id": "PLI_1"})])
    channel = make(root, http)
    draft = channel.render(post("small.mp4", overrides={"youtube": {"options": {
        "playlist_id": "PL_flu"}}}))
    with pytest.raises(ChannelServerError) as info:
        channel.publish(draft, KEY)
    assert info.value.may_have_been_sent
    assert channel.lookup(KEY, draft) is None  # this process finishes the job itself
    receipt = channel.publish(draft, KEY)
    assert receipt.extra["playlist_item_id"] == "PLI_1"
    assert [r[1] for r in http.request_sequence] == ["POST", "PUT", "POST", "GET", "POST"]
    assert "playlistId=PL_flu&videoId=D-lhorsDlUQ" in http.request_sequence[3][0]


def test_an_extra_that_landed_despite_an_error_is_not_made_twice(root) -> None:
    listed = {"items": [{"kind": "youtube#caption", "id": "AUieDaZ1", "snippet": {
        "videoId": VIDEO_ID, "language": "en", "name": ""}}]}
    http = Mock([START, ok(video()), TimeoutError("timed out"), ok(listed)])
    channel = make(root, http)
    draft = channel.render(post("small.mp4", overrides={"youtube": {"options": {
        "captions": "captions.vtt"}}}))
    with pytest.raises(OutcomeUnknown):
        channel.publish(draft, KEY)
    assert channel.publish(draft, KEY).extra["caption_id"] == "AUieDaZ1"
    assert [r[1] for r in http.request_sequence] == ["POST", "PUT", "POST", "GET"]
    assert "captions?part=snippet&videoId=D-lhorsDlUQ" in http.request_sequence[3][0]


def test_a_rate_limited_extra_is_tried_again_without_looking(root) -> None:
    http = Mock([START, ok(video()), fail(429, "rateLimitExceeded"), ok({"id": "PLI_1"})])
    channel = make(root, http)
    draft = channel.render(post("small.mp4", overrides={"youtube": {"options": {
        "playlist_id": "PL_flu"}}}))
    with pytest.raises(RateLimited) as info:
        channel.publish(draft, KEY)
    assert info.value.may_have_been_sent  # the video is live: carecast looks it up first
    assert channel.publish(draft, KEY).extra["playlist_item_id"] == "PLI_1"
    assert [r[1] for r in http.request_sequence] == ["POST", "PUT", "POST", "POST"]


def test_a_refused_thumbnail_is_reported_in_the_receipt(root) -> None:
    http = Mock([START, ok(video()), fail(403, "forbidden")])
    channel = make(root, http)
    draft = channel.render(post("small.mp4", overrides={"youtube": {"options": {
        "thumbnail": "thumb.png"}}}))
    receipt = channel.publish(draft, KEY)
    assert receipt.remote_id == VIDEO_ID
    assert receipt.extra["problems"] == [
        "thumbnail: PermissionDenied: [tube] YouTube refused this action (forbidden); the "
        "account lacks the permission (the youtube.force-ssl scope, a verified channel for "
        "thumbnails, or owning the video) (HTTP 403)"]


# -- errors ----------------------------------------------------------------------------------


def test_quota_errors_wait_until_midnight_pacific(root) -> None:
    for status, reason in ((403, "quotaExceeded"), (400, "uploadLimitExceeded")):
        http = Mock([fail(status, reason)])
        channel = make(root, http)
        with pytest.raises(RateLimited) as info:
            channel.publish(channel.render(post()), KEY)
        assert info.value.retry_after == 12 * 3600  # noon PST to midnight
        assert (info.value.status, info.value.code) == (status, reason)
        assert "midnight Pacific" in str(info.value)
    summer = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # 23:30 PDT
    assert quota_reset_in(summer) == 30 * 60


@pytest.mark.parametrize(("answer", "cls", "retryable", "sent"), [
    (fail(400, "invalidTitle"), PlatformRejected, False, False),
    (fail(401, "authError"), AuthenticationError, False, False),
    (fail(403, "forbidden"), PermissionDenied, False, False),
    (fail(404, "videoNotFound"), PlatformRejected, False, False),
    (fail(403, "rateLimitExceeded"), RateLimited, True, False),
    (fail(429, "rateLimitExceeded", **{"retry-after": "30"}), RateLimited, True, False),
    (fail(500, "internalError"), ChannelServerError, True, True),
    (fail(503, "backendError", **{"retry-after": "7"}), ChannelServerError, True, True),
], ids=lambda v: v if isinstance(v, str) else None)
def test_http_errors_map_to_carecast_errors(root, answer, cls, retryable, sent) -> None:
    http = Mock([answer])
    channel = make(root, http)
    with pytest.raises(cls) as info:
        channel.publish(channel.render(post()), KEY)
    error = info.value
    assert type(error) is cls
    assert (error.retryable, error.may_have_been_sent) == (retryable, sent)
    assert (error.channel, error.account, error.status) == ("youtube", "tube",
                                                            int(answer[0]["status"]))
    assert error.code == json.loads(answer[1])["error"]["errors"][0]["reason"]
    assert "Flu shots" not in str(error)
    if answer[0].get("retry-after"):
        assert error.retry_after == float(answer[0]["retry-after"])
    if cls is AuthenticationError:
        assert "refresh_token" in str(error)
    if cls is PlatformRejected and error.status == 400:
        assert "invalidTitle" in str(error)
    assert_no_secrets(error)


@pytest.mark.parametrize(("exc", "write_cls", "read_cls"), [
    (ConnectionRefusedError(111, "refused"), ChannelConnectionError, ChannelConnectionError),
    (httplib2.ServerNotFoundError("no such host"), ChannelConnectionError,
     ChannelConnectionError),
    (TimeoutError("timed out"), OutcomeUnknown, ChannelTimeout),
    (ConnectionResetError(104, "reset"), OutcomeUnknown, ChannelConnectionError),
    (BrokenPipeError(32, "broken pipe"), OutcomeUnknown, ChannelConnectionError),
    (RefreshError("invalid_grant: Token has been expired or revoked."), AuthenticationError,
     AuthenticationError),
])
def test_transport_errors(root, exc, write_cls, read_cls) -> None:
    http = Mock([exc])
    channel = make(root, http)
    with pytest.raises(write_cls) as info:
        channel.publish(channel.render(post()), KEY)
    assert type(info.value) is write_cls
    assert info.value.may_have_been_sent == (write_cls is OutcomeUnknown)
    assert_no_secrets(info.value)
    reader = make(root, Mock([exc]))
    with pytest.raises(read_cls) as info:
        reader.fetch_profile()
    assert type(info.value) is read_cls
    assert not info.value.may_have_been_sent


def test_a_refused_upload_is_forgotten(root) -> None:
    http = Mock([fail(400, "invalidCategoryId"), START, ok(video())])
    channel = make(root, http)
    draft = channel.render(post("small.mp4"))
    with pytest.raises(PlatformRejected, match="category_id"):
        channel.publish(draft, KEY)
    assert channel.publish(draft, KEY).remote_id == VIDEO_ID
    assert [r[1] for r in http.request_sequence] == ["POST", "POST", "PUT"]


# -- lookup, delete, reading -----------------------------------------------------------------


def uploads(*ids: str) -> dict[str, Any]:
    return {"kind": "youtube#playlistItemListResponse", "items": [
        {"kind": "youtube#playlistItem", "id": f"item-{i}",
         "contentDetails": {"videoId": i, "videoPublishedAt": "2026-03-02T20:00:05Z"}}
        for i in ids]}


def test_lookup_finds_the_video_by_its_hidden_tag(root) -> None:
    listed = {"kind": "youtube#videoListResponse", "items": [
        video("other", ["flu"]), video(VIDEO_ID, ["flu", marker_tag(KEY)])]}
    http = Mock([ok(CHANNEL), ok(uploads("other", VIDEO_ID)), ok(listed)])
    channel = make(root, http)  # a new process: nothing in memory
    found = channel.lookup(KEY, channel.render(post()))
    assert found is not None
    assert (found.remote_id, found.reconciled, found.post_id) == (VIDEO_ID, True, "flu-1")
    assert "playlistId=UU_clinic" in http.request_sequence[1][0]
    assert "maxResults=50" in http.request_sequence[1][0]
    assert "id=other%2CD-lhorsDlUQ" in http.request_sequence[2][0]


def test_lookup_not_found(root) -> None:
    listed = {"kind": "youtube#videoListResponse", "items": [video("other", ["flu"])]}
    channel = make(root, Mock([ok(CHANNEL), ok(uploads("other")), ok(listed)]))
    assert channel.lookup(KEY, channel.render(post())) is None
    empty = make(root, Mock([ok(CHANNEL), ok(uploads())]))
    assert empty.lookup(KEY, empty.render(post())) is None


def test_lookup_that_cannot_tell_raises(root) -> None:
    channel = make(root, Mock([ok(CHANNEL), fail(500, "internalError")]))
    with pytest.raises(ChannelServerError):
        channel.lookup(KEY, channel.render(post()))


def receipt() -> Receipt:
    return Receipt(post_id="flu-1", account="tube", channel="youtube", remote_id=VIDEO_ID,
                   published_at=NOW)


def test_delete(root) -> None:
    http = Mock([({"status": "204"}, ""), fail(404, "videoNotFound"), fail(403, "forbidden")])
    channel = make(root, http)
    channel.delete(receipt())
    channel.delete(receipt())  # already gone
    with pytest.raises(PermissionDenied):
        channel.delete(receipt())
    assert http.request_sequence[0][1] == "DELETE"
    assert "videos?id=D-lhorsDlUQ" in http.request_sequence[0][0]


def test_fetch_profile(root) -> None:
    http = Mock([ok(CHANNEL)])
    profile = make(root, http).fetch_profile()
    assert (profile.display_name, profile.handle, profile.description) == (
        "Riverside General", "@riversidegeneral", "Care close to home.")
    assert profile.website is None  # a channel's links are not in the Data API
    assert profile.avatar_url == "https://yt3.ggpht.com/a=s800"
    assert profile.location == "US"
    assert profile.extra == {"channel_id": "UC_clinic", "keywords": "hospital health",
                             "url": "https://www.youtube.com/@riversidegeneral"}
    assert "mine=true" in http.request_sequence[0][0]


def test_a_google_account_without_a_channel(root) -> None:
    with pytest.raises(PermissionDenied, match="no YouTube channel"):
        make(root, Mock([ok({"kind": "youtube#channelListResponse", "items": []})])
             ).fetch_profile()


def thread(thread_id: str, when: str, text: str) -> dict[str, Any]:
    """A commentThread resource (part=snippet)."""
    return {"kind": "youtube#commentThread", "id": thread_id, "snippet": {
        "channelId": "UC_clinic", "videoId": VIDEO_ID, "totalReplyCount": 0,
        "topLevelComment": {"kind": "youtube#comment", "id": f"c-{thread_id}", "snippet": {
            "authorDisplayName": "@viewer", "textDisplay": text, "textOriginal": text,
            "publishedAt": when, "videoId": VIDEO_ID}}}}


def test_fetch_mentions_pages_until_since(root) -> None:
    first = {"items": [thread("t3", "2026-03-02T19:00:00Z", "Thanks!"),
                       thread("t2", "2026-03-02T10:00:00Z", "When do you open?")],
             "nextPageToken": "NEXT"}
    second = {"items": [thread("t1", "2026-02-01T10:00:00Z", "Old.")],
              "nextPageToken": "MORE"}
    http = Mock([ok(CHANNEL), ok(first), ok(second)])
    mentions = make(root, http).fetch_mentions(datetime(2026, 3, 1, tzinfo=UTC))
    assert [m.remote_id for m in mentions] == ["t2", "t3"]
    assert mentions[0].text == "When do you open?"
    assert mentions[0].kind == "comment"
    assert mentions[0].url == "https://www.youtube.com/watch?v=D-lhorsDlUQ&lc=c-t2"
    assert "allThreadsRelatedToChannelId=UC_clinic" in http.request_sequence[1][0]
    assert "pageToken=NEXT" in http.request_sequence[2][0]
    assert http.left == 0  # stopped at the first page older than since


def test_fetch_metrics(root) -> None:
    stats = {"items": [{"id": VIDEO_ID, "statistics": {
        "viewCount": "1500", "likeCount": "42", "favoriteCount": "0", "commentCount": "7"}}]}
    http = Mock([ok(stats), ok({"items": []})])
    metrics = make(root, http).fetch_metrics(receipt())
    assert (metrics.likes, metrics.replies, metrics.extra) == (42, 7, {"views": 1500,
                                                                        "favorites": 0})
    assert "part=statistics" in http.request_sequence[0][0]
    with pytest.raises(PlatformRejected, match="no such video"):
        make(root, Mock([ok({"items": []})])).fetch_metrics(receipt())


# -- setup -----------------------------------------------------------------------------------


def test_without_the_sdk_it_says_which_extra(root, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "googleapiclient.discovery", None)
    channel = make(root)
    with pytest.raises(ConfigurationError, match=r"pip install 'carecast\[youtube\]'"):
        _ = channel.client


def test_its_own_client_uses_the_refresh_token(root) -> None:
    channel = make(root)
    client = channel.client  # built offline from the bundled discovery document
    assert client is channel.client
    assert channel.owns_session
    credentials = channel.session.credentials
    assert credentials.refresh_token == REFRESH_TOKEN
    assert credentials.client_secret == CLIENT_SECRET
    assert credentials.token_uri == "https://oauth2.googleapis.com/token"
    assert_no_secrets(channel, channel.options)
    channel.close()


def test_chunk_size_must_be_whole_256_kib() -> None:
    with pytest.raises(ValueError, match="multiple of 262144"):
        YouTubeOptions(client_id="c", client_secret="s", refresh_token="r",
                       chunk_size=300_000)


# -- end to end ------------------------------------------------------------------------------


def config(tmp_path: Path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"tube": {"channel": "youtube", "brand": "riverside",
                              "client_id": "123-abc.apps.googleusercontent.com",
                              "chunk_size": CHUNK}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__TUBE__CLIENT_SECRET": CLIENT_SECRET,
                               "CARECAST_ACCOUNTS__TUBE__REFRESH_TOKEN": REFRESH_TOKEN})


def e2e_post(root: Path, clip: str) -> Post:
    return post(clip=str(root / clip), text="Flu shots on Monday.")


def test_publisher_waits_out_a_rate_limit(root, no_sleep) -> None:
    http = Mock([fail(429, "rateLimitExceeded", **{"retry-after": "5"}), START, ok(video())])
    with Publisher(config(root), entry_point_plugins=False, retry=no_sleep,
                   sessions={"tube": http}) as publisher:
        outcome = publisher.publish(e2e_post(root, "small.mp4"))["tube"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == VIDEO_ID
    assert 5 in no_sleep.clock.sleeps
    tags = json.loads(http.request_sequence[1][2])["snippet"]["tags"]
    assert tags[-1] == marker_tag(idempotency_key("flu-1", "tube"))


def test_publisher_resumes_an_interrupted_upload(root, no_sleep) -> None:
    http = Mock([START, resume(CHUNK - 1), TimeoutError("timed out"), resume(CHUNK - 1),
                 resume(2 * CHUNK - 1), ok(video())])
    with Publisher(config(root), entry_point_plugins=False, retry=no_sleep,
                   sessions={"tube": http}) as publisher:
        outcome = publisher.publish(e2e_post(root, "clip.mp4"))["tube"]
        assert outcome.state == State.PUBLISHED
        assert publisher.publish(e2e_post(root, "clip.mp4"))["tube"].already_published
    assert http.left == 0
    assert [r[1] for r in http.request_sequence].count("POST") == 1  # one videos.insert
    assert headers_of(http, 3)["content-range"] == f"bytes */{SIZE}"
    assert headers_of(http, 4)["content-range"] == f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}"


def test_publisher_resumes_a_lost_final_answer_in_a_new_process(root, no_sleep) -> None:
    """Issue 22: the session URI is kept in the ledger, so a new process asks the same upload
    where it stands instead of trusting the uploads playlist (it lags behind a finished
    upload, and a miss there uploaded the video twice)."""
    first = Mock([START, TimeoutError("timed out")])
    cfg = config(root)
    with Publisher(cfg, entry_point_plugins=False, retry=no_sleep.__class__(
            clock=no_sleep.clock, max_attempts=1), sessions={"tube": first}) as publisher:
        assert publisher.publish(e2e_post(root, "small.mp4"))["tube"].state == State.UNKNOWN
        key = idempotency_key("flu-1", "tube")
        assert publisher.ledger.upload_sessions.get(key) == UPLOAD_URL
    second = Mock([ok(video())])  # the status query answers with the finished video
    with Publisher(cfg, entry_point_plugins=False, retry=no_sleep,
                   sessions={"tube": second}) as publisher:
        outcome = publisher.publish(e2e_post(root, "small.mp4"))["tube"]
        assert publisher.ledger.upload_sessions.get(key) is None  # gone with the publish
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == VIDEO_ID
    assert [(r[0], r[1]) for r in second.request_sequence] == [(UPLOAD_URL, "PUT")]
    assert headers_of(second, 0)["content-range"] == "bytes */1012"  # nothing re-sent
    assert [r[1] for r in first.request_sequence + second.request_sequence].count("POST") == 1
    for path in root.iterdir():
        if path.suffix == ".db":
            assert not [s for s in SECRETS if s.encode() in path.read_bytes()]


def test_a_kept_session_resumes_at_the_confirmed_byte_in_another_process(root,
                                                                         tmp_path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'state.db'}", clock=FrozenClock(NOW))
    one = make(root, Mock([START, resume(CHUNK - 1), ConnectionResetError(104, "reset")]))
    one.upload_sessions = ledger.upload_sessions
    draft = one.render(post())
    with pytest.raises(OutcomeUnknown):
        one.publish(draft, KEY)
    http = Mock([resume(CHUNK - 1), resume(2 * CHUNK - 1), ok(video())])
    other = make(root, http)  # a new process: nothing of the first upload in memory
    other.upload_sessions = ledger.upload_sessions
    assert other.lookup(KEY, draft) is None  # a kept session: publish resumes it
    assert other.publish(draft, KEY).remote_id == VIDEO_ID
    assert [(r[1], headers_of(http, i).get("content-range"))
            for i, r in enumerate(http.request_sequence)] == [
        ("PUT", f"bytes */{SIZE}"),
        ("PUT", f"bytes {CHUNK}-{2 * CHUNK - 1}/{SIZE}"),
        ("PUT", f"bytes {2 * CHUNK}-{SIZE - 1}/{SIZE}")]
    assert ledger.upload_sessions.get(KEY) is None
    ledger.close()


def test_an_expired_kept_session_is_not_restarted_blindly(root, tmp_path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'state.db'}", clock=FrozenClock(NOW))
    ledger.upload_sessions.put(KEY, UPLOAD_URL)
    channel = make(root, Mock([fail(404, "notFound")]))
    channel.upload_sessions = ledger.upload_sessions
    with pytest.raises(OutcomeUnknown) as info:
        channel.publish(channel.render(post("small.mp4")), KEY)
    assert not info.value.retryable  # the video may exist: a person looks first
    assert "--resend-unknown" in str(info.value)
    assert ledger.upload_sessions.get(KEY) is None
    ledger.close()

def test_a_video_by_url_is_downloaded_then_uploaded(root, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(500)
    http = Mock([START, ok(video())])
    channel = make(root, http)
    draft = channel.render(post("https://cdn.example.org/media/flu.mp4"))
    with responses.RequestsMock() as cdn:
        cdn.get("https://cdn.example.org/media/flu.mp4", body=data,
                content_type="video/mp4")
        assert channel.publish(draft, KEY).remote_id == VIDEO_ID
    assert http.request_sequence[1][2] == data
    assert not list(tmp_path.glob("carecast-*"))  # the download is gone


def test_a_failed_download_was_not_sent(root) -> None:
    channel = make(root, Mock([]))
    draft = channel.render(post("https://cdn.example.org/media/flu.mp4"))
    with responses.RequestsMock() as cdn:
        cdn.get("https://cdn.example.org/media/flu.mp4", status=404)
        with pytest.raises(PlatformRejected, match="could not download") as info:
            channel.publish(draft, KEY)
        assert not info.value.may_have_been_sent
        cdn.replace(responses.GET, "https://cdn.example.org/media/flu.mp4",
                    body=requests.ReadTimeout("read timed out"))
        with pytest.raises(ChannelConnectionError) as info:
            channel.publish(draft, KEY)
        assert info.value.retryable
        assert not info.value.may_have_been_sent



# -- profile sync ------------------------------------------------------------------------------


def test_update_profile_sends_back_the_whole_branding(root) -> None:
    from carecast.post import ProfileChanges

    branding = {"kind": "youtube#channelListResponse", "items": [{
        "kind": "youtube#channel", "id": "UC_clinic", "brandingSettings": {
            "channel": {"title": "Riverside General", "description": "Old words.",
                        "keywords": "hospital health", "country": "US"},
            "image": {"bannerExternalUrl": "https://yt3.ggpht.com/banner"}}}]}
    http = Mock([ok(branding), ok(branding["items"][0])])
    make(root, http).update_profile(ProfileChanges(description="Care close to home."))
    (list_uri, _, _, _), (update_uri, method, body, _) = http.request_sequence
    assert "part=brandingSettings" in list_uri
    assert "mine=true" in list_uri
    assert method == "PUT"
    assert "part=brandingSettings" in update_uri
    sent = json.loads(body)
    assert sent["id"] == "UC_clinic"
    assert sent["brandingSettings"]["channel"] == {
        "title": "Riverside General", "description": "Care close to home.",
        "keywords": "hospital health", "country": "US"}
    assert sent["brandingSettings"]["image"] == {"bannerExternalUrl":
                                                 "https://yt3.ggpht.com/banner"}


def test_update_profile_refuses_what_youtube_cannot_change(root) -> None:
    from carecast.post import ProfileChanges

    http = Mock([])
    channel = make(root, http)
    with pytest.raises(PlatformRejected, match="cannot change the channel's website"):
        channel.update_profile(ProfileChanges(website="https://riverside.example"))
    with pytest.raises(PlatformRejected, match="over YouTube's limit of 1000"):
        channel.update_profile(ProfileChanges(description="x" * 1001))
    assert http.request_sequence == []
    assert channel.capabilities() >= {"update_profile"}


def test_lookup_follows_next_page_token_back_to_the_send_time(root) -> None:
    """Issue 13 item 1: the video is on the second page of uploads (``nextPageToken``)."""
    from carecast.channels.base import sent_after

    def dated(ids: list[str], at: str, token: str | None = None) -> dict[str, Any]:
        page = uploads(*ids)
        for item in page["items"]:
            item["contentDetails"]["videoPublishedAt"] = at
        return {**page, **({"nextPageToken": token} if token else {})}

    first = dated([f"new{n}" for n in range(50)], "2026-03-02T20:30:00Z", token="P2")
    second = dated([VIDEO_ID, "old"], "2026-03-01T08:00:00Z")
    none_tagged = {"kind": "youtube#videoListResponse", "items": [video("new0", ["flu"])]}
    listed = {"kind": "youtube#videoListResponse", "items": [
        video(VIDEO_ID, ["flu", marker_tag(KEY)])]}
    http = Mock([ok(CHANNEL), ok(first), ok(second), ok(none_tagged), ok(listed)])
    channel = make(root, http)
    with sent_after(datetime(2026, 3, 2, 20, 0, tzinfo=UTC)):
        found = channel.lookup(KEY, channel.render(post()))
    assert found is not None
    assert found.remote_id == VIDEO_ID
    assert "pageToken=P2" in http.request_sequence[2][0]
