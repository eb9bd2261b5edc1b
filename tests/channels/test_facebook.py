"""The Facebook Page channel at the HTTP layer: every post kind, errors, reconcile, reads.

Bodies follow the Graph API: a feed post answers ``{"id": "<page>_<post>"}``, a photo
``{"id": "<photo>", "post_id": "<page>_<post>"}``, a video ``{"id": "<video>"}``; Meta's
Resumable Upload API answers ``{"id": "upload:<session>"}``, ``{"h": "<file handle>"}`` and
``{"id": ..., "file_offset": N}``. Page, feed, post and comment shapes follow
python-facebook's test data (``facebook__apidata__pages__single_default_page.json``,
``..._posts__feed_fields_p1.json``, ``..._posts__single_post_data.json``,
``..._comments__create_resp.json``); error bodies follow restfb's ``exampleErrorNew.json``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

from carecast.channels.facebook import FacebookChannel, FacebookOptions
from carecast.config import Config
from carecast.errors import (
    AuthenticationError,
    ChannelServerError,
    DuplicatePost,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, Post, Receipt
from carecast.publish import Publisher
from carecast.records import State
from carecast.testing import FrozenClock

TOKEN = "EAAGpage-tok3n-secret"
PAGE = "175154750010052"
BASE = "https://graph.facebook.com/v27.0"
VIDEO = "https://graph-video.facebook.com/v27.0"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
POST = Post(id="flu-1", text="Free flu shots this week at Riverside General.",
            link="https://riverside.example/flu", hashtags=["flu"])
TEXT = ("Free flu shots this week at Riverside General.\n\nhttps://riverside.example/flu\n\n"
        "#flu")


def make(tmp_path=None, **options) -> FacebookChannel:
    opts = FacebookOptions(page_id=PAGE, access_token=TOKEN, **options)
    return FacebookChannel("riverside-fb", opts, root=tmp_path, clock=FrozenClock(NOW))


@pytest.fixture
def fb(tmp_path) -> FacebookChannel:
    return make(tmp_path)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def ordered():
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


def form(call) -> dict[str, str]:
    """The form fields of a urlencoded request body."""
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def multipart(call) -> dict[str, bytes]:
    """The parts of a multipart request body, by field name."""
    body = call.request.body
    fields = {}
    for part in re.split(rb"--[0-9a-f]{32}", body):
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if name:
            fields[name.group(1).decode()] = value.removesuffix(b"\r\n")
    return fields


def graph_error(code: int, subcode: int | None = None, **extra) -> dict:
    error = {"message": "Message describing the error", "type": "OAuthException", "code": code,
             "fbtrace_id": "EJplcsCHuLu", **extra}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# -- post kinds --------------------------------------------------------------------------------


def test_text_and_link_post(fb, mocked) -> None:
    mocked.post(f"{BASE}/{PAGE}/feed", json={"id": f"{PAGE}_424924701699721"})
    receipt = fb.publish(fb.render(POST), "cc-key")
    assert form(mocked.calls[0]) == {"message": TEXT, "link": "https://riverside.example/flu"}
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in mocked.calls[0].request.url
    assert receipt.remote_id == f"{PAGE}_424924701699721"
    assert receipt.url == f"https://www.facebook.com/{PAGE}/posts/424924701699721"
    assert receipt.part_ids == (receipt.remote_id,)
    assert receipt.published_at == NOW
    assert (receipt.post_id, receipt.account, receipt.channel) == (
        "flu-1", "riverside-fb", "facebook")


def test_photo_by_url_with_alt_text(fb, mocked) -> None:
    mocked.post(f"{BASE}/{PAGE}/photos", json={"id": "10158249017468553",
                                               "post_id": f"{PAGE}_77"})
    post = Post(id="p", text="Our new clinic entrance.", media=[
        Media(source="https://cdn.riverside.example/entrance.jpg", alt_text="Glass doors")])
    receipt = fb.publish(fb.render(post), "k")
    assert form(mocked.calls[0]) == {"caption": "Our new clinic entrance.",
                                     "alt_text_custom": "Glass doors",
                                     "url": "https://cdn.riverside.example/entrance.jpg"}
    assert receipt.remote_id == f"{PAGE}_77"
    assert receipt.extra["photo_id"] == "10158249017468553"


def test_local_photo_is_uploaded(fb, mocked, tmp_path) -> None:
    (tmp_path / "entrance.png").write_bytes(b"\x89PNG\r\n\x1a\nPIXELS")
    mocked.post(f"{BASE}/{PAGE}/photos", json={"id": "9", "post_id": f"{PAGE}_9"})
    post = Post(id="p", text="Entrance.", media=[Media(source="entrance.png",
                                                       alt_text="Glass doors")])
    fb.publish(fb.render(post), "k")
    parts = multipart(mocked.calls[0])
    assert parts["source"] == b"\x89PNG\r\n\x1a\nPIXELS"
    assert parts["caption"] == b"Entrance."
    assert parts["alt_text_custom"] == b"Glass doors"


def test_multi_photo_post_attaches_unpublished_photos(fb, ordered) -> None:
    ordered.post(f"{BASE}/{PAGE}/photos", json={"id": "101"})
    ordered.post(f"{BASE}/{PAGE}/photos", json={"id": "102"})
    ordered.post(f"{BASE}/{PAGE}/feed", json={"id": f"{PAGE}_555"})
    post = Post(id="p", text="Open house photos.", media=[
        Media(source="https://cdn.riverside.example/a.jpg", alt_text="Lobby"),
        Media(source="https://cdn.riverside.example/b.jpg", alt_text="Garden")])
    receipt = fb.publish(fb.render(post), "k")
    first, second, feed = (form(c) for c in ordered.calls)
    assert first == {"published": "false", "alt_text_custom": "Lobby",
                     "url": "https://cdn.riverside.example/a.jpg"}
    assert second["alt_text_custom"] == "Garden"
    assert feed == {"message": "Open house photos.",
                    "attached_media[0]": json.dumps({"media_fbid": "101"}),
                    "attached_media[1]": json.dumps({"media_fbid": "102"})}
    assert receipt.remote_id == f"{PAGE}_555"


def test_video_by_url(fb, mocked) -> None:
    mocked.post(f"{VIDEO}/{PAGE}/videos", json={"id": "1192957457884299"})
    post = Post(id="p", title="Meet our nurses", text="A day on the ward.", media=[
        Media(source="https://cdn.riverside.example/nurses.mp4")])
    receipt = fb.publish(fb.render(post), "k")
    assert form(mocked.calls[0]) == {"description": "A day on the ward.",
                                     "title": "Meet our nurses",
                                     "file_url": "https://cdn.riverside.example/nurses.mp4"}
    assert receipt.remote_id == "1192957457884299"
    assert receipt.url == f"https://www.facebook.com/{PAGE}/videos/1192957457884299"
    assert receipt.extra["kind"] == "video"


def test_small_local_video_is_one_upload(tmp_path, mocked) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"v" * 20)
    fb = make(tmp_path, resumable_above=100)
    mocked.post(f"{VIDEO}/{PAGE}/videos", json={"id": "77"})
    fb.publish(fb.render(Post(id="p", text="Clip.", media=[Media(source="clip.mp4")])), "k")
    parts = multipart(mocked.calls[0])
    assert parts["source"] == b"v" * 20
    assert parts["description"] == b"Clip."
    assert "upload_phase" not in parts


APP = "1234567890123"
SESSION = "upload:MTphdHRhY2htZW50Ojk1NGU0NzFiLWU1ZjktNGM4Ni1hNDA3LWQ2NDZjNjJhYWUyMg=="
HANDLE = "2:c2FtcGxlLm1wNA==:dmlkZW8vbXA0:ARZT0X6pfUW5x6z3JXKsgNDNAiBfypOL1zyp"
USER_TOKEN = "EAAGuser-upl0ad-secret"


def resumable(tmp_path, data: bytes = bytes(range(25)), **options) -> FacebookChannel:
    (tmp_path / "tour.mp4").write_bytes(data)
    return make(tmp_path, resumable_above=10, app_id=APP, upload_access_token=USER_TOKEN,
                **options)


TOUR = Post(id="p", title="Tour", text="A tour of the new wing.",
            media=[Media(source="tour.mp4")])


def body_of(call) -> bytes:
    body = call.request.body
    return body.read() if hasattr(body, "read") else bytes(body or b"")


def test_large_video_goes_through_the_resumable_upload_api(tmp_path, ordered) -> None:
    """Meta's Resumable Upload API (Graph API guide "Upload a file"; Video API "Publish"): a
    session at /{app-id}/uploads answers {"id": "upload:..."}, the bytes POSTed there with
    file_offset answer {"h": handle}, and the page's video is made from the handle."""
    fb = resumable(tmp_path)
    ordered.post(f"{BASE}/{APP}/uploads", json={"id": SESSION})
    ordered.post(f"{BASE}/{SESSION}", json={"h": HANDLE})
    ordered.post(f"{VIDEO}/{PAGE}/videos", json={"id": "2893"})
    receipt = fb.publish(fb.render(TOUR), "k")
    assert receipt.remote_id == "2893"
    start, upload, publish = ordered.calls
    assert form(start) == {"file_name": "tour.mp4", "file_length": "25",
                           "file_type": "video/mp4"}
    assert start.request.headers["Authorization"] == f"Bearer {USER_TOKEN}"
    assert upload.request.headers["Authorization"] == f"OAuth {USER_TOKEN}"
    assert upload.request.headers["file_offset"] == "0"
    assert body_of(upload) == bytes(range(25))
    assert form(publish) == {"fbuploader_video_file_chunk": HANDLE, "title": "Tour",
                             "description": "A tour of the new wing."}
    assert publish.request.headers["Authorization"] == f"Bearer {TOKEN}"  # the Page token
    assert fb.upload_sessions.get("k") is None  # done: nothing left to resume


def test_an_interrupted_upload_resumes_at_metas_offset(tmp_path, ordered) -> None:
    fb = resumable(tmp_path)
    ordered.post(f"{BASE}/{APP}/uploads", json={"id": SESSION})
    ordered.post(f"{BASE}/{SESSION}", body=requests.ConnectionError("reset mid-body"))
    ordered.get(f"{BASE}/{SESSION}", json={"id": SESSION, "file_offset": 10})
    ordered.post(f"{BASE}/{SESSION}", json={"h": HANDLE})
    ordered.post(f"{VIDEO}/{PAGE}/videos", json={"id": "2893"})
    assert fb.publish(fb.render(TOUR), "k").remote_id == "2893"
    resumed = ordered.calls[3]
    assert resumed.request.headers["file_offset"] == "10"
    assert body_of(resumed) == bytes(range(10, 25))  # the rest, not the whole file again
    assert [c.request.method for c in ordered.calls] == ["POST", "POST", "GET", "POST", "POST"]


def test_a_kept_session_is_resumed_by_another_process(tmp_path, ordered) -> None:
    """The session lives in upload_sessions (the publisher's ledger), not in the instance."""
    first = resumable(tmp_path, transfer_retries=0)
    ordered.post(f"{BASE}/{APP}/uploads", json={"id": SESSION})
    ordered.post(f"{BASE}/{SESSION}", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknown):
        first.publish(first.render(TOUR), "k")
    other = resumable(tmp_path)
    other.upload_sessions = first.upload_sessions  # what a shared ledger gives both
    ordered.get(f"{BASE}/{SESSION}", json={"id": SESSION, "file_offset": 20})
    ordered.post(f"{BASE}/{SESSION}", json={"h": HANDLE})
    ordered.post(f"{VIDEO}/{PAGE}/videos", json={"id": "2893"})
    assert other.publish(other.render(TOUR), "k").remote_id == "2893"
    assert [c.request.url.split("?")[0] for c in ordered.calls].count(
        f"{BASE}/{APP}/uploads") == 1  # one session, never a second upload
    assert body_of(ordered.calls[3]) == bytes(range(20, 25))


def test_a_lost_answer_to_the_video_step_reuses_the_handle(tmp_path, ordered) -> None:
    fb = resumable(tmp_path)
    ordered.post(f"{BASE}/{APP}/uploads", json={"id": SESSION})
    ordered.post(f"{BASE}/{SESSION}", json={"h": HANDLE})
    ordered.post(f"{VIDEO}/{PAGE}/videos", body=requests.ReadTimeout("read timed out"))
    ordered.post(f"{VIDEO}/{PAGE}/videos", json={"id": "2893"})
    with pytest.raises(OutcomeUnknown):
        fb.publish(fb.render(TOUR), "k")
    assert fb.publish(fb.render(TOUR), "k").remote_id == "2893"  # after carecast's lookup
    assert len(ordered.calls) == 4  # the bytes went up once
    assert form(ordered.calls[3])["fbuploader_video_file_chunk"] == HANDLE


def test_a_transfer_that_keeps_failing_gives_up(tmp_path, ordered) -> None:
    fb = resumable(tmp_path, transfer_retries=2)
    ordered.post(f"{BASE}/{APP}/uploads", json={"id": SESSION})
    ordered.post(f"{BASE}/{SESSION}", body=requests.ReadTimeout("read timed out"))
    for _ in range(2):
        ordered.get(f"{BASE}/{SESSION}", json={"id": SESSION, "file_offset": 0})
        ordered.post(f"{BASE}/{SESSION}", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknown):
        fb.publish(fb.render(TOUR), "k")
    assert len(ordered.calls) == 6  # the start, then three sends with two questions between
    assert fb.upload_sessions.get("k") == SESSION  # kept: the next attempt resumes it


def test_a_refused_upload_is_not_retried_and_forgotten(tmp_path, ordered) -> None:
    fb = resumable(tmp_path)
    ordered.post(f"{BASE}/{APP}/uploads", json={"id": SESSION})
    ordered.post(f"{BASE}/{SESSION}", status=400,
                 json=graph_error(100, message="(#100) Invalid parameter"))
    with pytest.raises(PlatformRejected):
        fb.publish(fb.render(TOUR), "k")
    assert len(ordered.calls) == 2
    assert fb.upload_sessions.get("k") is None


def test_a_large_video_without_the_app_id_is_refused_at_render(tmp_path) -> None:
    (tmp_path / "tour.mp4").write_bytes(bytes(25))
    fb = make(tmp_path, resumable_above=10)
    with pytest.raises(InvalidPost) as info:
        fb.render(TOUR)
    assert "accounts.riverside-fb.app_id" in str(info.value)
    assert "Resumable Upload API" in str(info.value)


def test_the_upload_token_is_never_shown(tmp_path, ordered) -> None:
    fb = resumable(tmp_path)
    ordered.post(f"{BASE}/{APP}/uploads", status=401, json=graph_error(190, 460))
    with pytest.raises(AuthenticationError) as info:
        fb.publish(fb.render(TOUR), "k")
    assert USER_TOKEN not in str(info.value) + repr(info.value) + repr(fb.options)


def test_scheduled_post(fb, mocked) -> None:
    mocked.post(f"{BASE}/{PAGE}/feed", json={"id": f"{PAGE}_9"})
    when = NOW + timedelta(hours=2)
    receipt = fb.publish(fb.render(POST.model_copy(update={"schedule": when})), "k")
    body = form(mocked.calls[0])
    assert body["published"] == "false"
    assert body["scheduled_publish_time"] == str(int(when.timestamp()))
    assert receipt.extra["scheduled"] == when.isoformat()
    assert FacebookChannel.supports_scheduling


@pytest.mark.parametrize("ahead", [timedelta(minutes=5), timedelta(days=31)])
def test_schedule_outside_facebooks_window_is_refused_before_sending(fb, mocked, ahead) -> None:
    draft = fb.render(POST.model_copy(update={"schedule": NOW + ahead}))
    with pytest.raises(PlatformRejected, match="10 minutes to 30 days ahead") as info:
        fb.publish(draft, "k")
    assert not info.value.retryable
    assert len(mocked.calls) == 0


def test_a_schedule_already_due_publishes_now(fb, mocked) -> None:
    mocked.post(f"{BASE}/{PAGE}/feed", json={"id": f"{PAGE}_9"})
    fb.publish(fb.render(POST.model_copy(update={"schedule": NOW - timedelta(minutes=1)})), "k")
    assert "published" not in form(mocked.calls[0])


def test_scheduled_multi_photo_uses_temporary_photos(fb, mocked) -> None:
    mocked.post(f"{BASE}/{PAGE}/photos", json={"id": "1"})
    mocked.post(f"{BASE}/{PAGE}/feed", json={"id": f"{PAGE}_2"})
    post = Post(id="p", text="Soon.", schedule=NOW + timedelta(days=1), media=[
        Media(source="https://cdn.riverside.example/a.jpg", alt_text="A"),
        Media(source="https://cdn.riverside.example/b.jpg", alt_text="B")])
    fb.publish(fb.render(post), "k")
    assert form(mocked.calls[0])["temporary"] == "true"
    assert form(mocked.calls[2])["published"] == "false"


# -- render ------------------------------------------------------------------------------------


def test_render_rules(fb) -> None:
    assert fb.render(Post(id="p", title="Visiting hours change")).text == "Visiting hours change"
    with pytest.raises(LimitExceeded, match="one video") as info:
        fb.render(Post(id="p", text="x", media=[
            Media(source="https://cdn.example/a.mp4"), Media(source="https://cdn.example/b.jpg",
                                                              alt_text="b")]))
    assert info.value.field == "media"
    with pytest.raises(LimitExceeded) as info:
        fb.render(Post(id="p", text="x" * 63207))
    assert info.value.field == "text"


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "subcode", "cls"), [
    (190, 460, AuthenticationError), (190, 463, AuthenticationError),
    (190, 467, AuthenticationError), (32, None, RateLimited), (80001, None, RateLimited),
    (2, None, ChannelServerError), (506, None, DuplicatePost), (368, None, PlatformRejected),
])
def test_publish_errors(fb, mocked, code, subcode, cls) -> None:
    mocked.post(f"{BASE}/{PAGE}/feed", status=400, json=graph_error(code, subcode))
    with pytest.raises(cls) as info:
        fb.publish(fb.render(POST), "k")
    assert type(info.value) is cls
    assert TOKEN not in str(info.value) + repr(info.value)
    if cls is AuthenticationError:
        assert "long-lived Page access token" in str(info.value)


# -- through the publisher ---------------------------------------------------------------------


def config(tmp_path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"riverside-fb": {"channel": "facebook", "brand": "riverside",
                                      "page_id": PAGE}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__RIVERSIDE_FB__ACCESS_TOKEN": TOKEN})


def test_usage_header_rate_limit_then_success(tmp_path, no_sleep, ordered) -> None:
    usage = {PAGE: [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
                     "estimated_time_to_regain_access": 1}]}
    ordered.post(f"{BASE}/{PAGE}/feed", status=400, json=graph_error(32),
                 headers={"x-business-use-case-usage": json.dumps(usage)})
    ordered.post(f"{BASE}/{PAGE}/feed", json={"id": f"{PAGE}_1"})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-fb"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == f"{PAGE}_1"
    assert no_sleep.clock.sleeps == [60.0]  # one minute, as the usage header said
    assert len(ordered.calls) == 2


def test_timeout_is_reconciled_without_a_second_post(tmp_path, no_sleep, mocked) -> None:
    mocked.post(f"{BASE}/{PAGE}/feed", body=requests.ReadTimeout("read timed out"))
    just_now = datetime.now(UTC).replace(microsecond=0)
    mocked.get(f"{BASE}/{PAGE}/posts", json={"data": [  # newest first, as Graph lists them
        {"id": f"{PAGE}_2", "message": "Happy Thanksgiving!", "created_time":
         just_now.strftime("%Y-%m-%dT%H:%M:%S+0000")},
        {"id": f"{PAGE}_3", "message": TEXT, "created_time":
         just_now.strftime("%Y-%m-%dT%H:%M:%S+0000"),
         "permalink_url": f"https://www.facebook.com/{PAGE}/posts/3"},
        # the same words a year ago: an earlier post, never taken for this one
        {"id": f"{PAGE}_1", "message": TEXT, "created_time": "2025-11-20T09:00:01+0000"}],
        "paging": {"cursors": {"before": "b", "after": "a"}}})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-fb"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.reconciled
    assert outcome.receipt.remote_id == f"{PAGE}_3"
    assert outcome.receipt.published_at == just_now
    assert [c.request.method for c in mocked.calls] == ["POST", "GET"]


# -- lookup, delete, reads ---------------------------------------------------------------------


def test_lookup_not_found_and_scheduled(fb, mocked) -> None:
    mocked.get(f"{BASE}/{PAGE}/posts", json={"data": [{"id": f"{PAGE}_2", "message": "Other"}]})
    assert fb.lookup("k", fb.render(POST)) is None
    mocked.get(f"{BASE}/{PAGE}/scheduled_posts", json={"data": [
        {"id": f"{PAGE}_8", "message": TEXT, "created_time": "2026-11-20T08:00:00+0000"}]})
    later = fb.render(POST.model_copy(update={"schedule": NOW + timedelta(days=1)}))
    found = fb.lookup("k", later)
    assert found is not None
    assert found.remote_id == f"{PAGE}_8"
    assert "limit=25" in mocked.calls[0].request.url


def test_lookup_cannot_tell_without_text(fb) -> None:
    draft = fb.render(Post(id="p", media=[Media(source="https://cdn.example/a.jpg",
                                                alt_text="a")]))
    with pytest.raises(OutcomeUnknown) as info:
        fb.lookup("k", draft)
    assert not info.value.retryable


def test_lookup_failure_is_raised(fb, mocked) -> None:
    mocked.get(f"{BASE}/{PAGE}/posts", status=500, body="")
    with pytest.raises(ChannelServerError):
        fb.lookup("k", fb.render(POST))


def test_delete(fb, mocked) -> None:
    mocked.delete(f"{BASE}/{PAGE}_9", json={"success": True})
    fb.delete(Receipt(post_id="p", account="riverside-fb", channel="facebook",
                      remote_id=f"{PAGE}_9", part_ids=(f"{PAGE}_9",), published_at=NOW))
    assert len(mocked.calls) == 1


def test_fetch_profile(fb, mocked) -> None:
    mocked.get(f"{BASE}/{PAGE}", json={
        "name": "Riverside General Hospital", "username": "riversidegeneral",
        "about": "Caring for the river valley since 1921.",
        "website": "https://riverside.example", "phone": "+1 555-0100",
        "single_line_address": "1 River Rd, Springfield, IL 62701",
        "link": "https://www.facebook.com/riversidegeneral/", "category": "Hospital",
        "picture": {"data": {"height": 200, "is_silhouette": False,
                             "url": "https://scontent.xx.fbcdn.net/p200x200/logo.jpg",
                             "width": 200}}, "id": PAGE})
    profile = fb.fetch_profile()
    assert (profile.display_name, profile.handle, profile.phone) == (
        "Riverside General Hospital", "riversidegeneral", "+1 555-0100")
    assert profile.description == "Caring for the river valley since 1921."
    assert profile.website == "https://riverside.example"
    assert profile.location == "1 River Rd, Springfield, IL 62701"
    assert profile.avatar_url == "https://scontent.xx.fbcdn.net/p200x200/logo.jpg"
    assert "picture.type(large)" in parse_qs(mocked.calls[0].request.url.split("?")[1])[
        "fields"][0]


def test_fetch_mentions(fb, mocked) -> None:
    since = datetime(2026, 11, 19, tzinfo=UTC)
    mocked.get(f"{BASE}/{PAGE}/tagged", json={"data": [
        {"id": "88_1", "message": "Thanks @Riverside General for the care",
         "from": {"name": "Ann Lee", "id": "88"}, "created_time": "2026-11-19T12:00:00+0000",
         "permalink_url": "https://www.facebook.com/88/posts/1"}]})
    mocked.get(f"{BASE}/{PAGE}/posts", json={"data": [{"id": f"{PAGE}_3", "comments": {
        "data": [
            {"id": "3_10", "message": "Is parking free?", "from": {"name": "Bo", "id": "9"},
             "created_time": "2026-11-19T10:00:00+0000"},
            {"id": "3_11", "message": "Yes, it is.", "from": {"name": "Riverside", "id": PAGE},
             "created_time": "2026-11-19T11:00:00+0000"},
            {"id": "3_12", "message": "Old", "from": {"name": "Cy", "id": "7"},
             "created_time": "2026-11-01T11:00:00+0000"}],
        "paging": {"cursors": {"before": "b", "after": "a"}}}}]})
    mentions = fb.fetch_mentions(since)
    assert [(m.remote_id, m.kind, m.author) for m in mentions] == [
        ("3_10", "comment", "Bo"), ("88_1", "mention", "Ann Lee")]
    assert f"since={int(since.timestamp())}" in mocked.calls[0].request.url


def test_fetch_metrics(fb, mocked) -> None:
    post_id = f"{PAGE}_424924701699721"
    mocked.get(f"{BASE}/{post_id}", json={
        "reactions": {"data": [], "summary": {"total_count": 41, "viewer_reaction": "NONE"}},
        "comments": {"data": [], "summary": {"order": "chronological", "total_count": 6,
                                             "can_comment": True}},
        "shares": {"count": 3}, "id": post_id})
    mocked.get(f"{BASE}/{post_id}/insights", json={"data": [
        {"name": "post_media_view", "period": "lifetime", "values": [{"value": 1520}],
         "title": "Views", "id": f"{post_id}/insights/post_media_view/lifetime"}]})
    receipt = Receipt(post_id="p", account="riverside-fb", channel="facebook",
                      remote_id=post_id, published_at=NOW)
    metrics = fb.fetch_metrics(receipt)
    assert (metrics.likes, metrics.replies, metrics.reposts, metrics.impressions) == (
        41, 6, 3, 1520)
    mocked.replace(responses.GET, f"{BASE}/{post_id}/insights", status=400,
                   json=graph_error(100, message="(#100) The value must be a valid insights "
                                    "metric"))
    assert fb.fetch_metrics(receipt).impressions is None


def test_secrets_never_shown(fb) -> None:
    for text in (repr(fb), str(fb.options), repr(fb.options), fb.options.model_dump_json()):
        assert TOKEN not in text


# -- update_profile (brand sync) ----------------------------------------------------------------
# POST /{page-id} with Page fields answers {"success": true} (Graph API reference, Page,
# "Updating"); a token without pages_manage_metadata gets error code 200 (restfb's shapes).


def test_update_profile_posts_the_page_fields(fb, mocked) -> None:
    from carecast.post import ProfileChanges

    mocked.post(f"{BASE}/{PAGE}", json={"success": True})
    fb.update_profile(ProfileChanges(description="Care close to home since 1921.",
                                     website="https://riverside.example",
                                     phone="(217) 555-0142"))
    (call,) = mocked.calls
    assert form(call) == {"about": "Care close to home since 1921.",
                          "website": "https://riverside.example", "phone": "(217) 555-0142"}
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_update_profile_refusals(fb, mocked) -> None:
    from carecast.errors import PermissionDenied
    from carecast.post import ProfileChanges

    with pytest.raises(PlatformRejected, match="over Facebook's limit of 100"):
        fb.update_profile(ProfileChanges(description="x" * 101))
    with pytest.raises(PlatformRejected, match="cannot change a Page's display_name"):
        fb.update_profile(ProfileChanges(display_name="Riverside"))
    assert len(mocked.calls) == 0
    mocked.post(f"{BASE}/{PAGE}", status=403, json={"error": {
        "message": "(#200) Requires pages_manage_metadata permission to manage the object",
        "type": "OAuthException", "code": 200, "fbtrace_id": "AbCdEf"}})
    with pytest.raises(PermissionDenied) as info:
        fb.update_profile(ProfileChanges(phone="(217) 555-0142"))
    assert TOKEN not in str(info.value)
    assert "update_profile" in FacebookChannel.capabilities()


def test_an_older_post_with_the_same_words_is_not_taken_for_this_one(tmp_path, no_sleep,
                                                                      mocked) -> None:
    mocked.post(f"{BASE}/{PAGE}/feed", body=requests.ReadTimeout("read timed out"))
    mocked.get(f"{BASE}/{PAGE}/posts", json={"data": [
        {"id": f"{PAGE}_1", "message": TEXT, "created_time": "2025-11-20T09:00:01+0000"}],
        "paging": {"cursors": {"before": "b", "after": "a"}}})
    mocked.post(f"{BASE}/{PAGE}/feed", json={"id": f"{PAGE}_9"})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-fb"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == f"{PAGE}_9"  # sent again, not matched to last year's
    assert not outcome.receipt.reconciled


def feed(posts: list[dict[str, str]], page_size: int = 25):
    """A Page feed served newest first in pages with ``paging.next`` (Graph's cursor paging,
    as in sns-sdks/python-facebook testdata ``feed`` pages)."""
    def answer(request):
        start = int(request.params.get("after") or 0)
        items = posts[start:start + page_size]
        body: dict = {"data": items, "paging": {"cursors": {"before": "b", "after": "a"}}}
        if start + page_size < len(posts):
            body["paging"]["next"] = (f"{BASE}/{PAGE}/posts?access_token=x&limit={page_size}"
                                      f"&after={start + page_size}")
        return 200, {}, json.dumps(body)
    return answer


def others(count: int, at: datetime) -> list[dict[str, str]]:
    return [{"id": f"{PAGE}_{900 + n}", "message": f"Other {n}",
             "created_time": at.strftime("%Y-%m-%dT%H:%M:%S+0000")} for n in range(count)]


def test_lookup_pages_back_to_the_send_time(fb, mocked) -> None:
    """Issue 13 item 1: more posts than one page since the send; the match is on page 3."""
    from carecast.channels.base import sent_after

    when = (NOW - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    posts = [*others(60, NOW), {"id": f"{PAGE}_7", "message": TEXT, "created_time": when},
             *others(5, NOW - timedelta(days=3))]
    mocked.add_callback(responses.GET, f"{BASE}/{PAGE}/posts", callback=feed(posts))
    with sent_after(NOW - timedelta(minutes=10)):
        found = fb.lookup("k", fb.render(POST))
    assert found is not None
    assert found.remote_id == f"{PAGE}_7"
    assert len(mocked.calls) == 3
    assert "access_token=x" not in mocked.calls[2].request.url  # the next link's own token


def test_lookup_that_cannot_reach_the_send_time_is_unknown(fb, mocked, monkeypatch) -> None:
    from carecast.channels import paging
    from carecast.channels.base import sent_after

    monkeypatch.setattr(paging, "MAX_PAGES", 2)
    mocked.add_callback(responses.GET, f"{BASE}/{PAGE}/posts", callback=feed(others(80, NOW)))
    with sent_after(NOW - timedelta(minutes=10)), pytest.raises(OutcomeUnknown) as info:
        fb.lookup("k", fb.render(POST))
    assert not info.value.retryable
    assert len(mocked.calls) == 2


def test_lookup_stops_at_the_send_time(fb, mocked) -> None:
    from carecast.channels.base import sent_after

    posts = [*others(10, NOW), *others(200, NOW - timedelta(days=2))]
    mocked.add_callback(responses.GET, f"{BASE}/{PAGE}/posts", callback=feed(posts))
    with sent_after(NOW - timedelta(minutes=10)):
        assert fb.lookup("k", fb.render(POST)) is None
    assert len(mocked.calls) == 1  # the first page already reached back past the send
