"""The Instagram channel at the HTTP layer: containers, polling, the quota, media hosting, reads.

Shapes follow python-facebook's test data (``instagram__apidata__publish__create_photo.json``
``{"id": ...}``, ``..._container_info.json`` ``{"id", "status", "status_code": "FINISHED"}``,
``..._publish_container.json``, ``..._publish_limit_resp.json``) and restfb's
``instagram__content_publishing_limit.json`` (``data[0].quota_usage`` and
``config.quota_total`` / ``quota_duration``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

from carecast.channels.instagram import InstagramChannel, InstagramOptions, caption_counts
from carecast.config import Config
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    InvalidPost,
    LimitExceeded,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, Post, Receipt
from carecast.publish import Publisher
from carecast.records import State
from carecast.testing import FrozenClock

TOKEN = "EAAGig-tok3n-secret"
IG = "17841400008460056"
BASE = "https://graph.facebook.com/v27.0"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
IMAGE = Media(source="https://cdn.riverside.example/lobby.jpg", alt_text="The new lobby")
REEL = Media(source="https://cdn.riverside.example/tour.mp4")
POST = Post(id="lobby-1", text="Our new lobby is open! #riverside", media=[IMAGE])
CONTAINER = "17889455560051444"
MEDIA_ID = "17920238422030506"
LIMIT = {"data": [{"quota_usage": 2, "config": {"quota_total": 100, "quota_duration": 86400}}]}


def make(tmp_path: Path | None = None, **options) -> InstagramChannel:
    opts = InstagramOptions(ig_user_id=IG, access_token=TOKEN, poll_interval=2, **options)
    return InstagramChannel("riverside-ig", opts, root=tmp_path, clock=FrozenClock(NOW))


@pytest.fixture
def ig(tmp_path) -> InstagramChannel:
    return make(tmp_path)


@pytest.fixture
def ordered():
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def status(code: str, text: str = "") -> dict:
    return {"id": CONTAINER, "status": text or f"{code.title()}: ...", "status_code": code}


def graph_error(code: int, subcode: int | None = None, message: str = "An error") -> dict:
    error = {"message": message, "type": "OAuthException", "code": code,
             "fbtrace_id": "AQt_hJ68vFybS4"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def script_success(rsps, *, polls: int = 1, container: str = CONTAINER) -> None:
    rsps.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    rsps.post(f"{BASE}/{IG}/media", json={"id": container})
    for _ in range(polls - 1):
        rsps.get(f"{BASE}/{container}", json=status("IN_PROGRESS"))
    rsps.get(f"{BASE}/{container}", json=status(
        "FINISHED", "Finished: Media has been uploaded and it is ready to be published."))
    rsps.post(f"{BASE}/{IG}/media_publish", json={"id": MEDIA_ID})
    rsps.get(f"{BASE}/{MEDIA_ID}", json={"permalink": "https://www.instagram.com/p/DAbc123/",
                                         "timestamp": "2026-11-20T09:00:05+0000",
                                         "id": MEDIA_ID})


# -- post kinds --------------------------------------------------------------------------------


def test_image_post(ig, ordered) -> None:
    script_success(ordered)
    receipt = ig.publish(ig.render(POST), "cc-key")
    calls = ordered.calls
    assert query(calls[0])["fields"] == "quota_usage,config"
    assert form(calls[1]) == {"caption": "Our new lobby is open! #riverside",
                              "image_url": IMAGE.source, "alt_text": "The new lobby"}
    assert form(calls[3]) == {"creation_id": CONTAINER}
    assert receipt.remote_id == MEDIA_ID
    assert receipt.url == "https://www.instagram.com/p/DAbc123/"
    assert receipt.published_at == datetime(2026, 11, 20, 9, 0, 5, tzinfo=UTC)
    assert receipt.part_ids == (MEDIA_ID,)
    assert receipt.extra["container"] == CONTAINER
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in calls)
    assert not any(TOKEN in c.request.url for c in calls)


def test_reel_container_takes_several_polls(ig, ordered) -> None:
    script_success(ordered, polls=4)
    post = Post(id="r", text="Take the tour.", media=[REEL])
    receipt = ig.publish(ig.render(post), "k")
    assert form(ordered.calls[1]) == {"caption": "Take the tour.", "media_type": "REELS",
                                      "video_url": REEL.source}
    polls = [c for c in ordered.calls if c.request.url.startswith(f"{BASE}/{CONTAINER}?")]
    assert len(polls) == 4
    assert query(polls[0])["fields"] == "status_code,status"
    assert ig.clock.sleeps == [2, 2, 2]
    assert receipt.remote_id == MEDIA_ID


def test_carousel_of_image_and_video(ig, ordered) -> None:
    ordered.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    ordered.post(f"{BASE}/{IG}/media", json={"id": "c1"})
    ordered.post(f"{BASE}/{IG}/media", json={"id": "c2"})
    ordered.get(f"{BASE}/c1", json=status("FINISHED"))
    ordered.get(f"{BASE}/c2", json=status("IN_PROGRESS"))
    ordered.get(f"{BASE}/c2", json=status("FINISHED"))
    ordered.post(f"{BASE}/{IG}/media", json={"id": "parent"})
    ordered.get(f"{BASE}/parent", json=status("FINISHED"))
    ordered.post(f"{BASE}/{IG}/media_publish", json={"id": MEDIA_ID})
    ordered.get(f"{BASE}/{MEDIA_ID}", json={"id": MEDIA_ID})
    post = Post(id="c", text="Open house.", media=[IMAGE, REEL])
    receipt = ig.publish(ig.render(post), "k")
    assert form(ordered.calls[1]) == {"is_carousel_item": "true", "image_url": IMAGE.source,
                                      "alt_text": "The new lobby"}
    assert form(ordered.calls[2]) == {"is_carousel_item": "true", "media_type": "VIDEO",
                                      "video_url": REEL.source}
    assert form(ordered.calls[6]) == {"media_type": "CAROUSEL", "children": "c1,c2",
                                      "caption": "Open house."}
    assert form(ordered.calls[8]) == {"creation_id": "parent"}
    assert ig.clock.sleeps == [2]
    assert receipt.url is None  # the permalink was not given: no guess
    assert receipt.published_at == NOW + timedelta(seconds=2)  # stamped after the 2 s poll


@pytest.mark.parametrize("code", ["ERROR", "EXPIRED"])
def test_failed_container_is_refused_with_its_reason(ig, ordered, code) -> None:
    ordered.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    ordered.post(f"{BASE}/{IG}/media", json={"id": CONTAINER})
    ordered.get(f"{BASE}/{CONTAINER}", json=status(code, f"{code.title()}: 2207026"))
    with pytest.raises(PlatformRejected, match=f"container {code}.*2207026") as info:
        ig.publish(ig.render(POST), "k")
    assert not info.value.retryable
    assert len(ordered.calls) == 3  # never published


def test_container_still_processing_is_retryable_and_unpublished(tmp_path, mocked) -> None:
    ig = make(tmp_path, poll_timeout=6)
    mocked.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{IG}/media", json={"id": CONTAINER})
    mocked.get(f"{BASE}/{CONTAINER}", json=status("IN_PROGRESS"))
    with pytest.raises(ChannelTimeout, match="still processing") as info:
        ig.publish(ig.render(POST), "k")
    assert info.value.retryable
    assert not info.value.may_have_been_sent  # no container was published
    assert ig.clock.sleeps == [2, 2]
    assert not any("media_publish" in c.request.url for c in mocked.calls)


def test_by_default_the_status_is_read_once_a_minute_for_five_minutes(tmp_path, mocked) -> None:
    """Meta: "We recommend querying a container's status once per minute, for no more than
    5 minutes" (content publishing guide), not every few seconds."""
    ig = InstagramChannel("riverside-ig", InstagramOptions(ig_user_id=IG, access_token=TOKEN),
                          root=tmp_path, clock=FrozenClock(NOW))
    mocked.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{IG}/media", json={"id": CONTAINER})
    mocked.get(f"{BASE}/{CONTAINER}", json=status("IN_PROGRESS"))
    with pytest.raises(ChannelTimeout, match="still processing"):
        ig.publish(ig.render(Post(id="r", text="Take the tour.", media=[REEL])), "k")
    assert ig.clock.sleeps == [60, 60, 60, 60]
    assert sum(c.request.url.startswith(f"{BASE}/{CONTAINER}?") for c in mocked.calls) == 5


def test_used_up_quota_sends_nothing(ig, mocked) -> None:
    # restfb's instagram__content_publishing_limit.json shape, with the quota used up
    mocked.get(f"{BASE}/{IG}/content_publishing_limit", json={"data": [
        {"quota_usage": 25, "config": {"quota_total": 25, "quota_duration": 86400}}]})
    with pytest.raises(RateLimited, match="25 of 25 posts in 24 hours") as info:
        ig.publish(ig.render(POST), "k")
    assert info.value.retry_after == 3600
    assert len(mocked.calls) == 1


def test_local_file_is_copied_to_the_media_host(tmp_path, ordered) -> None:
    data = b"\xff\xd8\xff\xe0JPEGDATA"
    (tmp_path / "lobby.jpg").write_bytes(data)
    ig = make(tmp_path, media_host_path="site/media",
              media_host_url="https://riverside.example/media")
    script_success(ordered)
    post = Post(id="p", text="Lobby.", media=[Media(source="lobby.jpg", alt_text="Lobby")])
    ig.publish(ig.render(post), "k")
    name = hashlib.sha256(data).hexdigest()[:20] + ".jpg"
    assert (tmp_path / "site" / "media" / name).read_bytes() == data
    assert form(ordered.calls[1])["image_url"] == f"https://riverside.example/media/{name}"


@pytest.mark.parametrize(("size", "ok"), [((1080, 1350), True), ((1080, 566), True),
                                           ((1080, 1440), False), ((2000, 1000), False)])
def test_an_image_outside_4_5_to_1_91_is_refused_before_any_call(tmp_path, mocked, size,
                                                                  ok) -> None:
    """Meta's image specifications: aspect ratio 4:5 to 1.91:1; refused at render (nothing
    sent), not by a container that fails after the quota check and the upload."""
    from PIL import Image

    Image.new("RGB", size, (200, 210, 220)).save(tmp_path / "photo.jpg")
    ig = make(tmp_path, media_host_path="site/media", media_host_url="https://r.example/m/")
    post = Post(id="p", text="Lobby.", media=[Media(source="photo.jpg", alt_text="Lobby")])
    if ok:
        assert ig.render(post).media[0].source == "photo.jpg"
    else:
        with pytest.raises(LimitExceeded, match=r"^media\[0\]\.source: the image is "
                                                r"\d+x\d+ pixels.*4:5 \(0\.80:1\) to 1\.91:1"):
            ig.render(post)
    assert len(mocked.calls) == 0


def test_media_host_that_cannot_be_written_is_an_error(tmp_path, mocked) -> None:
    (tmp_path / "lobby.jpg").write_bytes(b"jpeg")
    (tmp_path / "blocked").write_text("a file, not a folder")
    ig = make(tmp_path, media_host_path="blocked", media_host_url="https://r.example/m/")
    mocked.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    post = Post(id="p", text="Lobby.", media=[Media(source="lobby.jpg", alt_text="Lobby")])
    with pytest.raises(ChannelError, match="media_host_path") as info:
        ig.publish(ig.render(post), "k")
    assert not info.value.retryable


# -- render ------------------------------------------------------------------------------------


def test_local_file_without_a_media_host_is_refused_in_render(ig, tmp_path) -> None:
    (tmp_path / "lobby.jpg").write_bytes(b"jpeg")
    post = Post(id="p", text="x", media=[IMAGE, Media(source="lobby.jpg", alt_text="L")])
    with pytest.raises(InvalidPost, match=r"media_host_path .*media_host_url") as info:
        ig.render(post)
    assert info.value.problems[0][0] == "media[1].source"


def test_caption_limits(ig) -> None:
    tags = " ".join(f"#t{i}" for i in range(31))
    with pytest.raises(LimitExceeded, match="31 hashtags") as info:
        ig.render(Post(id="p", text=tags, media=[IMAGE]))
    assert (info.value.field, info.value.limit, info.value.value) == ("text", 30, 31)
    ig.render(Post(id="p", text=" ".join(f"#t{i}" for i in range(30)), media=[IMAGE]))
    at = " ".join(f"@user{i}" for i in range(21))
    with pytest.raises(LimitExceeded, match="@mentions") as info:
        ig.render(Post(id="p", text=at, media=[IMAGE]))
    assert (info.value.field, info.value.limit) == ("text", 20)
    with pytest.raises(LimitExceeded) as info:
        ig.render(Post(id="p", text="x" * 2201, media=[IMAGE]))
    assert info.value.field == "text"
    with pytest.raises(LimitExceeded) as info:
        ig.render(Post(id="p", text="ok", media=[IMAGE],
                       overrides={"instagram": {"text": tags}}))
    assert info.value.field == "overrides.instagram.text"
    with pytest.raises(LimitExceeded) as info:
        ig.render(Post(id="p", text="No picture."))
    assert info.value.field == "media"


def test_caption_counts() -> None:
    assert caption_counts("#flu #vaccines and C# is not a tag, nor is &#35;") == (2, 0)
    assert caption_counts("Ask @nurse.jo or email care@riverside.example") == (0, 1)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "subcode", "cls"), [
    (190, 463, AuthenticationError), (4, None, RateLimited), (9, 2207042, RateLimited),
    (10, None, PermissionDenied), (100, 2207052, PlatformRejected),
    (2, None, ChannelServerError),
])
def test_container_errors(ig, mocked, code, subcode, cls) -> None:
    mocked.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{IG}/media", status=400, json=graph_error(code, subcode))
    with pytest.raises(cls) as info:
        ig.publish(ig.render(POST), "k")
    assert type(info.value) is cls
    assert TOKEN not in str(info.value) + repr(info.value)


# -- through the publisher ---------------------------------------------------------------------


def config(tmp_path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"riverside-ig": {"channel": "instagram", "brand": "riverside",
                                      "ig_user_id": IG}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__RIVERSIDE_IG__ACCESS_TOKEN": TOKEN})


def test_usage_header_rate_limit_then_success(tmp_path, no_sleep, ordered) -> None:
    usage = {"1234": [{"type": "instagram", "call_count": 100, "total_cputime": 3,
                       "total_time": 4, "estimated_time_to_regain_access": 2}]}
    ordered.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    ordered.post(f"{BASE}/{IG}/media", status=400, json=graph_error(80002),
                 headers={"x-business-use-case-usage": json.dumps(usage)})
    script_success(ordered)
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-ig"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == MEDIA_ID
    assert no_sleep.clock.sleeps == [120.0]


def test_timeout_is_reconciled_without_a_second_post(tmp_path, no_sleep, mocked) -> None:
    mocked.get(f"{BASE}/{IG}/content_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{IG}/media", json={"id": CONTAINER})
    mocked.get(f"{BASE}/{CONTAINER}", json=status("FINISHED"))
    mocked.post(f"{BASE}/{IG}/media_publish", body=requests.ReadTimeout("read timed out"))
    mocked.get(f"{BASE}/{IG}/media", json={"data": [
        {"id": "1790", "caption": "Something else", "timestamp": "2026-11-19T09:00:00+0000"},
        {"id": MEDIA_ID, "caption": "Our new lobby is open! #riverside",
         "permalink": "https://www.instagram.com/p/DAbc123/",
         "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")},
        {"id": "1701", "caption": "Our new lobby is open! #riverside",  # last year's words
         "timestamp": "2025-11-20T09:00:05+0000"}],
        "paging": {"cursors": {"after": "x"}}})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-ig"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.reconciled
    assert outcome.receipt.remote_id == MEDIA_ID
    posts = [c.request.url for c in mocked.calls if c.request.method == "POST"]
    assert posts == [f"{BASE}/{IG}/media", f"{BASE}/{IG}/media_publish"]  # one of each


# -- lookup, delete, reads ---------------------------------------------------------------------


def test_lookup_not_found(ig, mocked) -> None:
    mocked.get(f"{BASE}/{IG}/media", json={"data": [{"id": "1", "caption": "Other"}]})
    assert ig.lookup("k", ig.render(POST)) is None
    assert query(mocked.calls[0])["fields"] == "id,caption,permalink,timestamp"


def test_delete(ig, mocked) -> None:
    mocked.delete(f"{BASE}/{MEDIA_ID}", json={"success": True})
    ig.delete(Receipt(post_id="p", account="riverside-ig", channel="instagram",
                      remote_id=MEDIA_ID, published_at=NOW))
    assert len(mocked.calls) == 1


def test_fetch_profile(ig, mocked) -> None:
    mocked.get(f"{BASE}/{IG}", json={
        "username": "riversidegeneral", "name": "Riverside General Hospital",
        "biography": "Caring for the river valley since 1921.",
        "website": "https://riverside.example",
        "profile_picture_url": "https://scontent.cdninstagram.com/v/logo.jpg",
        "followers_count": 8100, "media_count": 412, "id": IG})
    profile = ig.fetch_profile()
    assert (profile.display_name, profile.handle) == ("Riverside General Hospital",
                                                      "riversidegeneral")
    assert profile.description == "Caring for the river valley since 1921."
    assert profile.website == "https://riverside.example"
    assert profile.avatar_url == "https://scontent.cdninstagram.com/v/logo.jpg"
    assert profile.extra == {"followers_count": 8100, "media_count": 412}


def test_fetch_mentions(ig, mocked) -> None:
    since = datetime(2026, 11, 19, tzinfo=UTC)
    mocked.get(f"{BASE}/{IG}/tags", json={"data": [
        {"id": "t1", "caption": "Great care at @riversidegeneral", "username": "annlee",
         "timestamp": "2026-11-19T12:00:00+0000", "permalink": "https://www.instagram.com/p/T1/"},
        {"id": "t0", "caption": "old", "username": "x", "timestamp": "2026-10-01T00:00:00+0000"}]})
    mocked.get(f"{BASE}/{IG}/media", json={"data": [{"id": MEDIA_ID, "comments": {"data": [
        {"id": "c1", "text": "Is it open Sundays?", "username": "bo",
         "timestamp": "2026-11-19T10:00:00+0000", "from": {"id": "555", "username": "bo"}},
        {"id": "c2", "text": "Yes!", "username": "riversidegeneral",
         "timestamp": "2026-11-19T11:00:00+0000", "from": {"id": IG,
                                                          "username": "riversidegeneral"}}]}}]})
    mentions = ig.fetch_mentions(since)
    assert [(m.remote_id, m.kind, m.author, m.text) for m in mentions] == [
        ("c1", "comment", "bo", "Is it open Sundays?"),
        ("t1", "mention", "annlee", "Great care at @riversidegeneral")]


def test_fetch_metrics(ig, mocked) -> None:
    mocked.get(f"{BASE}/{MEDIA_ID}", json={"like_count": 230, "comments_count": 14,
                                           "id": MEDIA_ID})
    mocked.get(f"{BASE}/{MEDIA_ID}/insights", json={"data": [
        {"name": "views", "period": "lifetime", "values": [{"value": 5400}]},
        {"name": "reach", "period": "lifetime", "values": [{"value": 3900}]},
        {"name": "saved", "period": "lifetime", "values": [{"value": 31}]},
        {"name": "shares", "period": "lifetime", "values": [{"value": 12}]}]})
    receipt = Receipt(post_id="p", account="riverside-ig", channel="instagram",
                      remote_id=MEDIA_ID, published_at=NOW)
    metrics = ig.fetch_metrics(receipt)
    assert (metrics.likes, metrics.replies, metrics.reposts, metrics.impressions) == (
        230, 14, 12, 5400)
    assert metrics.extra == {"reach": 3900, "saved": 31}
    assert query(mocked.calls[1])["metric"] == "views,reach,saved,shares"
    mocked.replace(responses.GET, f"{BASE}/{MEDIA_ID}/insights", status=403,
                   json=graph_error(10, message="(#10) Not enough viewers"))
    assert ig.fetch_metrics(receipt).impressions is None


def test_secrets_never_shown(ig) -> None:
    for text in (repr(ig), str(ig.options), repr(ig.options), ig.options.model_dump_json()):
        assert TOKEN not in text
