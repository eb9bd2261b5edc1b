"""The LinkedIn organization page channel, at the HTTP layer with ``responses``.

Shapes follow LinkedIn's Community Management docs (Posts, Images, Videos, Organizations,
socialActions, socialMetadata, organizationalEntityShareStatistics) and, for error bodies, the
recorded v2 answers in mdesjardins/linkedin-v2 spec/vcr_cassettes (``{"serviceErrorCode",
"message", "status"}``) and the current ``{"status", "code", "message", "errorDetails"}`` form.
"""

from __future__ import annotations

import json
import time
import traceback
from datetime import UTC, datetime

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from carecast.channels.linkedin import (
    DEFAULT_VERSION,
    VIDEO_POLL_SECONDS,
    LinkedInChannel,
    LinkedInOptions,
)
from carecast.channels.linkedin_api import from_little, to_little
from carecast.config import AccountConfig, Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    ConfigurationError,
    DuplicatePost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, Post, Receipt
from carecast.publish import Publisher
from carecast.records import State
from carecast.testing import FrozenClock

TOKEN = "AQVli-t0ken-9f8e7d"
ORG = 2414183
AUTHOR = f"urn:li:organization:{ORG}"
REST = "https://api.linkedin.com/rest"
POSTS = f"{REST}/posts"
SHARE = "urn:li:share:6844785523593134080"
SHARE_PATH = "urn%3Ali%3Ashare%3A6844785523593134080"
IMAGE_INIT = f"{REST}/images?action=initializeUpload"
VIDEO_INIT = f"{REST}/videos?action=initializeUpload"
VIDEO_FINALIZE = f"{REST}/videos?action=finalizeUpload"
UPLOAD = "https://www.linkedin.com/dms-uploads/sp/v2/D4E10AQ/uploaded-image/0"
DATE = "Mon, 02 Nov 2026 15:04:05 GMT"
POST = Post(id="flu-1", text="Flu shots on Monday.")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def li(tmp_path, clock) -> LinkedInChannel:
    (tmp_path / "ward.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    (tmp_path / "tour.mp4").write_bytes(bytes(range(256)) * 4)  # 1024 bytes
    return make(tmp_path, clock)


def make(tmp_path, clock, **options) -> LinkedInChannel:
    opts = LinkedInOptions(access_token=TOKEN, organization_id=ORG, **options)
    return LinkedInChannel("riverside-li", opts, root=tmp_path, clock=clock)


def created(mocked, urn: str = SHARE) -> None:
    """LinkedIn's answer to a created post: 201, empty body, the URN in x-restli-id."""
    mocked.post(POSTS, status=201, body="", headers={"x-restli-id": urn, "Date": DATE,
                                                      "x-li-uuid": "AAYtrace=="})


def sent_body(mocked, index: int = -1) -> dict:
    return json.loads(mocked.calls[index].request.body)


def image_init(mocked, n: int, host: str = "https://www.linkedin.com") -> None:
    mocked.post(IMAGE_INIT, json={"value": {
        "uploadUrlExpiresAt": 1790000000000,
        "uploadUrl": f"{host}/dms-uploads/sp/v2/D4E10AQ/uploaded-image/{n}",
        "image": f"urn:li:image:C4E10AQ{n}"}})


def assert_no_token(*objects: object) -> None:
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        assert not any(TOKEN in t for t in texts)


# -- posts -----------------------------------------------------------------------------------


def test_text_post_sends_the_documented_body_and_headers(li, mocked) -> None:
    created(mocked)
    receipt = li.publish(li.render(POST), "cc-key-1")
    request = mocked.calls[0].request
    assert request.headers["LinkedIn-Version"] == DEFAULT_VERSION == "202609"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.body) == {
        "author": AUTHOR,
        "commentary": "Flu shots on Monday.",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert (receipt.remote_id, receipt.part_ids) == (SHARE, (SHARE,))
    assert receipt.url == f"https://www.linkedin.com/feed/update/{SHARE}/"
    assert receipt.published_at == datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC)
    assert (receipt.post_id, receipt.account, receipt.channel) == ("flu-1", "riverside-li",
                                                                     "linkedin")


def test_reserved_characters_arrive_escaped_and_hashtags_stay_hashtags(li, mocked) -> None:
    created(mocked)
    text = ("Flu clinic (Mon-Fri) [walk-ins] {free} <today> @ 9 | ask *nurse* _Ana_ ~ C# "
            "back\\slash #FluSeason2026 #flu_shot")
    li.publish(li.render(Post(id="p", text=text, hashtags=["vaccines"])), "k")
    assert sent_body(mocked)["commentary"] == (
        "Flu clinic \\(Mon-Fri\\) \\[walk-ins\\] \\{free\\} \\<today\\> \\@ 9 \\| ask "
        "\\*nurse\\* \\_Ana\\_ \\~ C\\# back\\\\slash {hashtag|\\#|FluSeason2026} "
        "{hashtag|\\#|flu\\_shot}\n\n{hashtag|\\#|vaccines}")
    # read back, the commentary is exactly the text the person wrote
    assert from_little(sent_body(mocked)["commentary"]) == text + "\n\n#vaccines"


def test_links_are_sent_as_written_so_linkedin_links_them() -> None:
    """An escaped ``_`` in ``utm_source`` breaks LinkedIn's auto-link (issue 22)."""
    link = "https://www.riverside.example/flu_clinic?utm_source=linkedin&utm_medium=social#hours"
    text = f"Book now (free): {link}. #flu_shot"
    little = to_little(text)
    assert little == f"Book now \\(free\\): {link}. {{hashtag|\\#|flu\\_shot}}"
    assert from_little(little) == text


@given(st.lists(st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
    st.builds("https://{}".format, st.text(st.characters(exclude_categories=["Cs"]),
                                           max_size=20))), max_size=8).map(" ".join))
def test_little_text_with_links_round_trips(text: str) -> None:
    assert from_little(to_little(text)) == text


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=200))
def test_little_text_round_trips(text: str) -> None:
    assert from_little(to_little(text)) == text


def test_article_share_with_title_description_and_thumbnail(li, mocked) -> None:
    image_init(mocked, 0)
    mocked.put(f"{UPLOAD[:-1]}0", status=201)
    created(mocked)
    post = Post(id="a", text="New cardiac wing.", title="Our new cardiac wing",
                link="https://riverside.example/news/cardiac",
                media=[Media(source="ward.png", alt_text="The ward")],
                overrides={"linkedin": {"options": {"description": "Opening in May."}}})
    li.publish(li.render(post), "k")
    assert json.loads(mocked.calls[0].request.body) == {
        "initializeUploadRequest": {"owner": AUTHOR}}
    assert mocked.calls[1].request.body == (li.root / "ward.png").read_bytes()
    assert sent_body(mocked)["content"] == {"article": {
        "source": "https://riverside.example/news/cardiac", "title": "Our new cardiac wing",
        "description": "Opening in May.", "thumbnail": "urn:li:image:C4E10AQ0"}}


def test_link_previews_off_keeps_an_image_post(tmp_path, clock, li, mocked) -> None:
    image_init(mocked, 0)
    mocked.put(f"{UPLOAD[:-1]}0", status=201)
    created(mocked)
    channel = make(tmp_path, clock, link_previews=False)
    channel.publish(channel.render(Post(id="a", text="News.", link="https://r.example/n",
                                        media=[Media(source="ward.png", alt_text="Ward")])),
                    "k")
    assert sent_body(mocked)["content"] == {
        "media": {"id": "urn:li:image:C4E10AQ0", "altText": "Ward"}}


def test_single_image_with_alt_text(li, mocked) -> None:
    image_init(mocked, 0)
    mocked.put(f"{UPLOAD[:-1]}0", status=201)
    created(mocked)
    li.publish(li.render(Post(id="i", text="Our ward.",
                              media=[Media(source="ward.png", alt_text="Bright ward")])), "k")
    put = mocked.calls[1].request
    assert put.method == "PUT"
    assert put.headers["Authorization"] == f"Bearer {TOKEN}"  # a linkedin.com upload URL
    assert "LinkedIn-Version" not in put.headers
    assert sent_body(mocked)["content"] == {
        "media": {"id": "urn:li:image:C4E10AQ0", "altText": "Bright ward"}}


def test_multi_image(li, mocked) -> None:
    for n in range(3):
        image_init(mocked, n)
        mocked.put(f"{UPLOAD[:-1]}{n}", status=201)
    created(mocked)
    media = [Media(source="ward.png", alt_text=f"Photo {n}") for n in range(3)]
    li.publish(li.render(Post(id="m", text="Open day.", media=media)), "k")
    assert sent_body(mocked)["content"] == {"multiImage": {"images": [
        {"id": f"urn:li:image:C4E10AQ{n}", "altText": f"Photo {n}"} for n in range(3)]}}


def test_the_token_never_goes_to_a_foreign_upload_host(li, mocked) -> None:
    image_init(mocked, 0, host="https://uploads.cdn.example")
    mocked.put("https://uploads.cdn.example/dms-uploads/sp/v2/D4E10AQ/uploaded-image/0")
    created(mocked)
    li.publish(li.render(Post(id="i", text="x", media=[Media(source="ward.png")])), "k")
    assert "Authorization" not in mocked.calls[1].request.headers


def test_media_by_url_is_downloaded_then_uploaded(li, mocked) -> None:
    mocked.get("https://cdn.riverside.example/ward.jpg", body=b"\xff\xd8jpeg-bytes")
    image_init(mocked, 0)
    mocked.put(f"{UPLOAD[:-1]}0", status=201)
    created(mocked)
    li.publish(li.render(Post(id="u", text="x", media=[
        Media(source="https://cdn.riverside.example/ward.jpg", alt_text="Ward")])), "k")
    assert mocked.calls[2].request.body == b"\xff\xd8jpeg-bytes"


def test_a_media_file_gone_at_publish_time_is_refused_by_name(li, mocked) -> None:
    draft = li.render(Post(id="g", text="x", media=[Media(source="ward.png")]))
    (li.root / "ward.png").unlink()
    with pytest.raises(PlatformRejected, match=r"(cannot read|no readable file) 'ward\.png'"):
        li.publish(draft, "k")
    assert not mocked.calls


def test_a_retry_after_the_post_failed_does_not_upload_images_again(li, mocked) -> None:
    image_init(mocked, 0)
    mocked.put(f"{UPLOAD[:-1]}0", status=201)
    mocked.post(POSTS, status=429, json={"status": 429, "code": "TOO_MANY_REQUESTS",
                                         "message": "Resource level throttle"})
    draft = li.render(Post(id="i", text="x", media=[Media(source="ward.png")]))
    with pytest.raises(RateLimited):
        li.publish(draft, "k")
    created(mocked)
    li.publish(draft, "k")
    assert [c.request.method for c in mocked.calls] == ["POST", "PUT", "POST", "POST"]


# -- video -----------------------------------------------------------------------------------

VIDEO = "urn:li:video:C5F10AQGKQg_6y2a4sQ"
PART_URLS = ["https://www.linkedin.com/dms-uploads/sp/v2/C5F10AQ/part/0",
             "https://www.linkedin.com/dms-uploads/sp/v2/C5F10AQ/part/1"]
VIDEO_STATUS = f"{REST}/videos/urn%3Ali%3Avideo%3AC5F10AQGKQg_6y2a4sQ"


def video_init(mocked) -> None:
    # Videos API initializeUpload: two parts covering the 1024-byte file
    mocked.post(VIDEO_INIT, json={"value": {
        "uploadUrlsExpireAt": 4102444800000, "video": VIDEO, "uploadToken": "",
        "uploadInstructions": [
            {"uploadUrl": PART_URLS[0], "firstByte": 0, "lastByte": 511},
            {"uploadUrl": PART_URLS[1], "firstByte": 512, "lastByte": 1023}]}})


VIDEO_POST = Post(id="v", text="A tour of the ward.", title="A tour of the new wing",
                  media=[Media(source="tour.mp4", alt_text="A walk through the ward")])


def test_video_is_uploaded_in_parts_finalized_and_waited_for(li, mocked, clock) -> None:
    video_init(mocked)
    mocked.put(PART_URLS[0], headers={"ETag": "etag-part-0"})
    mocked.put(PART_URLS[1], headers={"ETag": "etag-part-1"})
    mocked.post(VIDEO_FINALIZE, body="")
    mocked.get(VIDEO_STATUS, json={"id": VIDEO, "status": "PROCESSING"})
    mocked.get(VIDEO_STATUS, json={"id": VIDEO, "status": "AVAILABLE",
                                   "downloadUrl": "https://dms.licdn.com/v"})
    created(mocked, "urn:li:ugcPost:7100000000000000000")
    receipt = li.publish(li.render(VIDEO_POST), "k")
    data = (li.root / "tour.mp4").read_bytes()
    assert json.loads(mocked.calls[0].request.body) == {"initializeUploadRequest": {
        "owner": AUTHOR, "fileSizeBytes": 1024, "uploadCaptions": False,
        "uploadThumbnail": False}}
    assert mocked.calls[1].request.body == data[:512]
    assert mocked.calls[2].request.body == data[512:]
    assert json.loads(mocked.calls[3].request.body) == {"finalizeUploadRequest": {
        "video": VIDEO, "uploadToken": "", "uploadedPartIds": ["etag-part-0", "etag-part-1"]}}
    assert clock.sleeps == [VIDEO_POLL_SECONDS]
    assert sent_body(mocked)["content"] == {"media": {"id": VIDEO,
                                                      "title": "A tour of the new wing"}}
    assert receipt.remote_id == "urn:li:ugcPost:7100000000000000000"


def test_an_interrupted_video_upload_resumes_with_the_missing_parts(li, mocked) -> None:
    video_init(mocked)
    mocked.put(PART_URLS[0], headers={"ETag": "etag-part-0"})
    mocked.put(PART_URLS[1], body=requests.ConnectionError("Connection reset by peer"))
    draft = li.render(VIDEO_POST)
    with pytest.raises(ChannelConnectionError) as info:
        li.publish(draft, "k")
    assert not info.value.may_have_been_sent  # no post exists: a plain retry is safe
    assert info.value.retryable
    mocked.put(PART_URLS[1], headers={"ETag": "etag-part-1"})
    mocked.post(VIDEO_FINALIZE, body="")
    mocked.get(VIDEO_STATUS, json={"id": VIDEO, "status": "AVAILABLE"})
    created(mocked)
    li.publish(draft, "k")
    urls = [c.request.url for c in mocked.calls]
    assert urls.count(VIDEO_INIT) == 1
    assert urls.count(PART_URLS[0]) == 1  # confirmed once, never sent again
    assert urls.count(PART_URLS[1]) == 2
    assert json.loads(mocked.calls[4].request.body)["finalizeUploadRequest"][
        "uploadedPartIds"] == ["etag-part-0", "etag-part-1"]
    assert [c.request.method for c in mocked.calls].count("POST") == 3  # init, finalize, post


def test_a_part_without_etag_is_not_counted_as_sent(li, mocked) -> None:
    video_init(mocked)
    mocked.put(PART_URLS[0], status=200)
    with pytest.raises(ChannelConnectionError, match="did not confirm part 1 of 2"):
        li.publish(li.render(VIDEO_POST), "k")


def test_video_processing_failure_names_the_reason(li, mocked) -> None:
    video_init(mocked)
    mocked.put(PART_URLS[0], headers={"ETag": "e0"})
    mocked.put(PART_URLS[1], headers={"ETag": "e1"})
    mocked.post(VIDEO_FINALIZE, body="")
    mocked.get(VIDEO_STATUS, json={"id": VIDEO, "status": "PROCESSING_FAILED",
                                   "processingFailureReason": "Video is too short"})
    with pytest.raises(PlatformRejected, match="Video is too short"):
        li.publish(li.render(VIDEO_POST), "k")


def test_video_still_processing_is_retryable_and_not_sent(tmp_path, clock, li, mocked) -> None:
    channel = make(tmp_path, clock, video_wait=12)
    video_init(mocked)
    mocked.put(PART_URLS[0], headers={"ETag": "e0"})
    mocked.put(PART_URLS[1], headers={"ETag": "e1"})
    mocked.post(VIDEO_FINALIZE, body="")
    mocked.get(VIDEO_STATUS, json={"id": VIDEO, "status": "PROCESSING"})
    with pytest.raises(ChannelConnectionError, match="still processing") as info:
        channel.publish(channel.render(VIDEO_POST), "k")
    assert not info.value.may_have_been_sent
    assert clock.sleeps == [5.0, 5.0, 5.0]


# -- render ----------------------------------------------------------------------------------


def test_render_refuses_a_video_with_other_media(li) -> None:
    post = Post(id="x", text="x", media=[Media(source="tour.mp4"), Media(source="ward.png")])
    with pytest.raises(LimitExceeded) as info:
        li.render(post)
    assert info.value.field == "media"


def test_length_counts_the_escaped_commentary(li) -> None:
    assert li.count("(a)") == 5
    assert li.count("#tag") == len("{hashtag|\\#|tag}")
    with pytest.raises(LimitExceeded) as info:
        li.render(Post(id="x", text="(" * 1501))
    assert (info.value.limit, info.value.value) == (3000, 3002)
    assert li.render(Post(id="x", text="a" * 3000)).parts[0].length == 3000


# -- errors ----------------------------------------------------------------------------------

ERRORS = [
    # v2 cassette (mdesjardins/linkedin-v2 organization_data.yml): an invalid token
    (401, {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401},
     AuthenticationError, "60 days"),
    (403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
           "message": "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260901"},
     PermissionDenied, "w_organization_social"),
    (403, {"status": 403, "code": "ACCESS_DENIED",
           "message": "Member is missing the r_organization_social permission"},
     PermissionDenied, "r_organization_social permission"),
    (429, {"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS",
           "message": "Resource level throttle APPLICATION DAY limit for calls to this "
                      "resource is reached."}, RateLimited, "APPLICATION DAY limit"),
    (422, {"errorDetailType": "com.linkedin.common.error.BadRequest",
           "message": "ERROR :: /commentary :: length 3456 exceeds 3000",
           "errorDetails": {"inputErrors": [{"description": "Field value is too long",
                                             "input": {"inputPath": {"fieldPath": "/commentary"}},
                                             "code": "FIELD_LENGTH_TOO_LONG"}]},
           "status": 422}, PlatformRejected, "length 3456 exceeds 3000 [FIELD_LENGTH_TOO_LONG]"),
    # v2 cassette: a 400 with serviceErrorCode 0
    (400, {"serviceErrorCode": 0, "message": "Illegal field name '['", "status": 400},
     PlatformRejected, "Illegal field name"),
    (422, {"message": "Content is a duplicate of urn:li:share:7012345678901234567",
           "errorDetails": {"inputErrors": [{"description": "Duplicate post is detected",
                                             "code": "DUPLICATE_POST"}]}, "status": 422},
     DuplicatePost, "as urn:li:share:7012345678901234567"),
    (409, {"status": 409, "message": "Conflict"}, DuplicatePost, "already holds"),
    (426, {"status": 426, "code": "NONEXISTENT_VERSION",
           "message": "Requested version 20200101 is not active"},
     PlatformRejected, "set api_version"),
    # v2 cassette: a 500 body
    (500, {"message": "INTERNAL SERVER ERROR", "status": 500}, ChannelServerError,
     "INTERNAL SERVER ERROR"),
    (503, "<html>Service Unavailable</html>", ChannelServerError, "HTTP 503"),
]


@pytest.mark.parametrize(("status", "body", "cls", "says"), ERRORS,
                         ids=[f"{row[0]}-{row[2].__name__}" for row in ERRORS])
def test_linkedin_errors_map_to_carecast_errors(li, mocked, status, body, cls, says) -> None:
    headers = {"x-li-uuid": "AAYtrace==", "Retry-After": "60"}
    if isinstance(body, dict):
        mocked.post(POSTS, status=status, json=body, headers=headers)
    else:
        mocked.post(POSTS, status=status, body=body, headers=headers)
    with pytest.raises(cls) as info:
        li.publish(li.render(POST), "k")
    error = info.value
    assert type(error) is cls
    assert says in str(error)
    assert (error.status, error.request_id) == (status, "AAYtrace==")
    assert (error.channel, error.account) == ("linkedin", "riverside-li")
    assert error.retryable == (status in (429, 500, 503))
    assert error.may_have_been_sent == (status >= 500)
    if cls in (RateLimited, ChannelServerError):
        assert error.retry_after == 60
    assert_no_token(error)


@pytest.mark.parametrize(("exc", "cls"), [
    (requests.ReadTimeout("read timed out"), OutcomeUnknown),
    (requests.ConnectionError(MaxRetryError(None, POSTS, reason=NewConnectionError(
        None, "Failed to establish a new connection: refused"))), ChannelConnectionError),
])
def test_transport_failures(li, mocked, exc, cls) -> None:
    mocked.post(POSTS, body=exc)
    with pytest.raises(cls) as info:
        li.publish(li.render(POST), "k")
    assert type(info.value) is cls
    assert_no_token(info.value)


def test_a_201_without_the_post_urn_is_an_unknown_outcome(li, mocked) -> None:
    mocked.post(POSTS, status=201, body="")
    with pytest.raises(OutcomeUnknown) as info:
        li.publish(li.render(POST), "k")
    assert info.value.may_have_been_sent


# -- the Publisher ---------------------------------------------------------------------------


def config(tmp_path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"riverside-li": {"channel": "linkedin", "brand": "riverside",
                                      "organization_id": f"urn:li:organization:{ORG}"}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__RIVERSIDE_LI__ACCESS_TOKEN": TOKEN})


def test_a_rate_limit_then_success_through_the_publisher(tmp_path, no_sleep, mocked) -> None:
    mocked.post(POSTS, status=429, headers={"Retry-After": "7"},
                json={"status": 429, "code": "TOO_MANY_REQUESTS", "message": "throttled"})
    created(mocked)
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-li"]
    assert outcome.state == State.PUBLISHED, outcome.findings
    assert outcome.receipt.remote_id == SHARE
    assert no_sleep.clock.sleeps == [7.0]
    assert [c.request.method for c in mocked.calls] == ["POST", "POST"]
    for path in tmp_path.iterdir():  # the ledger never stores the token
        assert TOKEN.encode() not in path.read_bytes()


def test_a_timeout_is_reconciled_without_a_second_post(tmp_path, no_sleep, mocked) -> None:
    mocked.post(POSTS, body=requests.ReadTimeout("read timed out"))
    now_ms = int(time.time() * 1000)
    mocked.get(POSTS, json={"paging": {"start": 0, "count": 20}, "elements": [
        {"id": SHARE, "author": AUTHOR, "commentary": "Flu shots on Monday.",
         "lifecycleState": "PUBLISHED", "publishedAt": now_ms, "createdAt": now_ms},
        {"id": "urn:li:share:6900000000000000001", "author": AUTHOR,  # last year's words
         "commentary": "Flu shots on Monday.", "lifecycleState": "PUBLISHED",
         "publishedAt": 1763545445000, "createdAt": 1763545445000}]})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-li"]
    assert outcome.state == State.PUBLISHED, outcome.findings
    assert outcome.receipt.remote_id == SHARE
    assert outcome.receipt.reconciled
    assert [c.request.method for c in mocked.calls] == ["POST", "GET"]


def test_the_publisher_resumes_an_interrupted_video_upload(tmp_path, no_sleep, mocked) -> None:
    (tmp_path / "tour.mp4").write_bytes(bytes(1024))
    video_init(mocked)
    mocked.put(PART_URLS[0], headers={"ETag": "etag-part-0"})
    mocked.put(PART_URLS[1], status=503, body="<html>busy</html>")
    mocked.put(PART_URLS[1], headers={"ETag": "etag-part-1"})
    mocked.post(VIDEO_FINALIZE, body="")
    mocked.get(VIDEO_STATUS, json={"id": VIDEO, "status": "AVAILABLE"})
    created(mocked)
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(VIDEO_POST)["riverside-li"]
    assert outcome.state == State.PUBLISHED, outcome.findings
    assert outcome.tries == 2
    urls = [c.request.url for c in mocked.calls]
    assert urls == [VIDEO_INIT, PART_URLS[0], PART_URLS[1], PART_URLS[1], VIDEO_FINALIZE,
                    VIDEO_STATUS, POSTS]  # no lookup: the failed upload created no post


def test_a_duplicate_after_a_timeout_is_the_first_send_found(tmp_path, no_sleep,
                                                             mocked) -> None:
    mocked.post(POSTS, body=requests.ReadTimeout("read timed out"))
    mocked.get(POSTS, json=posts_page())  # not listed yet
    mocked.post(POSTS, status=422, json={
        "message": f"Content is a duplicate of {SHARE}", "status": 422})
    mocked.get(POSTS, json=posts_page({"id": SHARE, "commentary": "Flu shots on Monday.",
                                       "lifecycleState": "PUBLISHED"}))
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-li"]
    assert outcome.state == State.PUBLISHED, outcome.findings
    assert outcome.receipt.remote_id == SHARE
    assert [c.request.method for c in mocked.calls] == ["POST", "GET", "POST", "GET"]


# -- lookup, delete, profile, mentions, metrics ----------------------------------------------


def posts_page(*elements: dict) -> dict:
    return {"paging": {"start": 0, "count": 20, "links": []}, "elements": list(elements)}


def test_lookup_matches_the_commentary_among_recent_posts(li, mocked) -> None:
    draft = li.render(Post(id="p", text="Clinic (Mon) open #flu"))
    mocked.get(POSTS, json=posts_page(
        {"id": "urn:li:share:1", "commentary": "Something else", "lifecycleState": "PUBLISHED",
         "createdAt": 1793545000000},
        {"id": SHARE, "commentary": "Clinic \\(Mon\\) open {hashtag|\\#|flu}",
         "lifecycleState": "PUBLISHED", "createdAt": 1793545445000}),
        match=[matchers.query_param_matcher({"author": AUTHOR, "q": "author", "count": "20",
                                             "sortBy": "CREATED"})])
    found = li.lookup("k", draft)
    assert found is not None
    assert (found.remote_id, found.post_id) == (SHARE, "p")
    assert found.published_at == datetime.fromtimestamp(1793545445, UTC)
    request = mocked.calls[0].request
    assert "author=urn%3Ali%3Aorganization%3A2414183" in request.url
    assert request.headers["X-RestLi-Method"] == "FINDER"


def test_lookup_not_found_and_undecidable(li, mocked) -> None:
    draft = li.render(POST)
    mocked.get(POSTS, json=posts_page({"id": SHARE, "commentary": "Flu shots on Tuesday\\.",
                                       "lifecycleState": "PUBLISHED"}))
    assert li.lookup("k", draft) is None
    mocked.replace(responses.GET, POSTS, json={"unexpected": True})
    with pytest.raises(ChannelServerError, match="without 'elements'"):
        li.lookup("k", draft)
    mocked.replace(responses.GET, POSTS, status=500, json={"message": "boom", "status": 500})
    with pytest.raises(ChannelServerError):
        li.lookup("k", draft)


def test_delete_encodes_the_urn_in_the_path(li, mocked) -> None:
    mocked.delete(f"{POSTS}/{SHARE_PATH}", status=204)
    receipt = Receipt(post_id="p", account="riverside-li", channel="linkedin",
                      remote_id=SHARE, part_ids=(SHARE,), published_at=datetime.now(UTC))
    li.delete(receipt)
    request = mocked.calls[0].request
    assert request.url == f"{POSTS}/{SHARE_PATH}"
    assert request.headers["X-RestLi-Method"] == "DELETE"
    mocked.replace(responses.DELETE, f"{POSTS}/{SHARE_PATH}", status=404,
                   json={"status": 404, "message": "Not found"})
    li.delete(receipt)  # already gone
    mocked.replace(responses.DELETE, f"{POSTS}/{SHARE_PATH}", status=403,
                   json={"status": 403, "code": "ACCESS_DENIED", "message": "Not enough"})
    with pytest.raises(PermissionDenied, match="w_organization_social"):
        li.delete(receipt)


def test_fetch_profile(li, mocked) -> None:
    mocked.get(f"{REST}/organizations/{ORG}", json={
        "id": ORG, "vanityName": "riverside-general", "localizedName": "Riverside General",
        "localizedDescription": "A community hospital since 1921.",
        "localizedWebsite": "https://riverside.example",
        "locations": [
            {"locationType": "OTHER", "address": {"city": "Elsewhere", "country": "US"}},
            {"locationType": "HEADQUARTERS", "address": {
                "line1": "1 Hospital Way", "city": "Springfield", "geographicArea": "IL",
                "postalCode": "62701", "country": "US"}}],
        "logoV2": {"original": "urn:li:digitalmediaAsset:C4D0BAQ", "cropped":
                   "urn:li:digitalmediaAsset:C4D0BAQ"}})
    mocked.get(f"{REST}/images/urn%3Ali%3Aimage%3AC4D0BAQ", json={
        "id": "urn:li:image:C4D0BAQ", "status": "AVAILABLE",
        "downloadUrl": "https://media.licdn.com/dms/image/C4D0BAQ/logo"})
    profile = li.fetch_profile()
    assert (profile.display_name, profile.handle) == ("Riverside General", "riverside-general")
    assert profile.description == "A community hospital since 1921."
    assert profile.website == "https://riverside.example"
    assert profile.location == "1 Hospital Way, Springfield, IL 62701, US"
    assert profile.avatar_url == "https://media.licdn.com/dms/image/C4D0BAQ/logo"
    assert profile.extra["urn"] == AUTHOR


def test_fetch_mentions_reads_comments_and_page_mentions(li, mocked) -> None:
    li.api.now = lambda: 1_794_000_000.0
    mocked.get(POSTS, json=posts_page({"id": SHARE, "commentary": "x"},
                                      {"id": "urn:li:ugcPost:2", "commentary": "y"}))
    mocked.get(f"{REST}/socialActions/{SHARE_PATH}/comments", json={"elements": [
        {"actor": "urn:li:person:A1", "commentUrn": f"urn:li:comment:({SHARE},11)",
         "created": {"actor": "urn:li:person:A1", "time": 1793600000000},
         "message": {"text": "When does it open?", "attributes": []}, "object": SHARE},
        {"actor": AUTHOR, "commentUrn": f"urn:li:comment:({SHARE},12)",
         "created": {"time": 1793600100000}, "message": {"text": "At 9."}},
        {"actor": "urn:li:person:B2", "commentUrn": f"urn:li:comment:({SHARE},10)",
         "created": {"time": 1700000000000}, "message": {"text": "Old comment"}}]})
    mocked.get(f"{REST}/socialActions/urn%3Ali%3AugcPost%3A2/comments", json={"elements": [
        {"actor": "urn:li:person:C3", "commentUrn": "urn:li:comment:(urn:li:ugcPost:2,5)",
         "created": {"time": 1793500000000}, "message": {"text": "Thank you!"}}]})
    mention_post = "urn:li:share:7300000000000000001"
    mocked.get(f"{REST}/organizationalEntityNotifications", json={"elements": [
        {"action": "SHARE_MENTION", "organizationalEntity": AUTHOR, "sourcePost": mention_post,
         "generatedActivity": "urn:li:activity:7300000000000000002",
         "lastModifiedAt": 1793700000000}]})
    mocked.get(f"{REST}/posts/urn%3Ali%3Ashare%3A7300000000000000001", json={
        "id": mention_post, "author": "urn:li:person:D4", "lifecycleState": "PUBLISHED",
        "commentary": "Thanks \\@Riverside for the \\(free\\) check-up {hashtag|\\#|health}",
        "publishedAt": 1793700000000})
    since = datetime(2026, 11, 1, tzinfo=UTC)
    mentions = li.fetch_mentions(since)
    assert [(m.author, m.text, m.kind) for m in mentions] == [
        ("urn:li:person:C3", "Thank you!", "comment"),
        ("urn:li:person:A1", "When does it open?", "comment"),
        ("urn:li:person:D4", "Thanks @Riverside for the (free) check-up #health", "mention")]
    assert mentions[1].url == f"https://www.linkedin.com/feed/update/{SHARE}/"
    assert mentions[1].remote_id == f"urn:li:comment:({SHARE},11)"
    notes = next(c.request for c in mocked.calls if "Notifications" in c.request.url)
    assert notes.url == (
        f"{REST}/organizationalEntityNotifications?q=criteria&organizationalEntity="
        f"urn%3Ali%3Aorganization%3A{ORG}&actions=List(SHARE_MENTION)"
        f"&timeRange=(start:{int(since.timestamp() * 1000)},end:1794000000000)")


def test_fetch_metrics(li, mocked) -> None:
    mocked.get(f"{REST}/socialMetadata/{SHARE_PATH}", json={
        "reactionSummaries": {"LIKE": {"reactionType": "LIKE", "count": 8},
                              "PRAISE": {"reactionType": "PRAISE", "count": 2}},
        "commentsState": "OPEN", "commentSummary": {"count": 3, "topLevelCount": 2},
        "entity": SHARE})
    mocked.get(f"{REST}/organizationalEntityShareStatistics", json={"elements": [{
        "totalShareStatistics": {"uniqueImpressionsCount": 900, "shareCount": 4,
                                 "engagement": 0.02, "clickCount": 31, "likeCount": 10,
                                 "impressionCount": 1200, "commentCount": 3},
        "organizationalEntity": AUTHOR, "share": SHARE}]})
    receipt = Receipt(post_id="p", account="riverside-li", channel="linkedin",
                      remote_id=SHARE, published_at=datetime.now(UTC))
    metrics = li.fetch_metrics(receipt)
    assert (metrics.likes, metrics.replies, metrics.reposts, metrics.impressions,
            metrics.clicks) == (10, 3, 4, 1200, 31)
    assert metrics.extra["reactions"] == {"LIKE": 8, "PRAISE": 2}
    assert mocked.calls[1].request.url == (
        f"{REST}/organizationalEntityShareStatistics?q=organizationalEntity"
        f"&organizationalEntity=urn%3Ali%3Aorganization%3A{ORG}&shares=List({SHARE_PATH})")


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [ORG, str(ORG), f"urn:li:organization:{ORG}"])
def test_organization_id_takes_the_number_or_the_urn(value) -> None:
    assert LinkedInOptions(access_token=TOKEN, organization_id=value).organization_id == ORG


def test_bad_options_name_the_field_and_never_the_token() -> None:
    account = AccountConfig(name="riverside-li", channel="linkedin", options={
        "access_token": TOKEN, "organization_id": "riverside-general", "api_version": "2026"})
    with pytest.raises(ConfigurationError) as info:
        LinkedInChannel.from_config(account)
    message = str(info.value)
    assert "accounts.riverside-li.organization_id: give the page's numeric id" in message
    assert "accounts.riverside-li.api_version" in message
    assert_no_token(info.value)


def test_secrets_never_shown(li) -> None:
    assert_no_token(li, li.options, li.api, li.options.model_dump_json())


def test_own_session_is_closed(tmp_path, clock) -> None:
    channel = make(tmp_path, clock)
    assert channel.owns_session
    given_session = requests.Session()
    opts = LinkedInOptions(access_token=TOKEN, organization_id=ORG)
    assert not LinkedInChannel("a", opts, session=given_session).owns_session


def test_lookup_pages_back_to_the_send_time(li, mocked) -> None:
    """Issue 13 item 1: 45 posts modified since the send; the match is on the third page of
    20 (Rest.li ``start`` / ``count``); a page modified before the send ends the search."""
    from carecast.channels.base import sent_after

    sent = 1793545445000

    def post(n: int, text: str, at: int) -> dict:
        return {"id": f"urn:li:share:{n}", "commentary": text, "lifecycleState": "PUBLISHED",
                "createdAt": at, "lastModifiedAt": at}

    posts = [*(post(100 + n, f"Other {n}", sent + 60_000) for n in range(45)),
             post(7, "Flu shots on Monday\\.", sent),
             *(post(200 + n, f"Old {n}", sent - 86_400_000) for n in range(40))]

    def answer(request):
        start, count = int(request.params.get("start", 0)), int(request.params["count"])
        return 200, {}, json.dumps(posts_page(*posts[start:start + count]))

    mocked.add_callback(responses.GET, POSTS, callback=answer)
    with sent_after(datetime.fromtimestamp(sent / 1000 - 600, UTC)):
        found = li.lookup("k", li.render(Post(id="p", text="Flu shots on Monday.")))
    assert found is not None
    assert found.remote_id == "urn:li:share:7"
    assert len(mocked.calls) == 3  # the third page holds posts modified before the send
