"""The X channel at the HTTP layer: tweepy's requests and X's media upload, every error mapped.

Bodies are shaped on X's answers: ``POST /2/tweets`` 201 and ``DELETE /2/tweets/:id`` from
tweepy's recorded cassettes (test_client_create_and_delete_tweet.yaml, whose post id
1456012973835788293 dates to 2021-11-03 21:38:39 UTC, the cassette's own Date header); the
v2 media upload bodies from sns-sdks/python-twitter's testdata and docs.x.com (media upload,
initialize, append, finalize, status, metadata); the 403 duplicate-content body as X sends it
(``{"detail": "You are not allowed to create a Tweet with duplicate content.", ...}``); the
400 problem body from sns-sdks' streams__delete_error.json.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from carecast.channels.x import XChannel, XOptions, XTokens
from carecast.config import AccountConfig, Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    DuplicatePost,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, MediaKind, Post, Receipt
from carecast.publish import Publisher
from carecast.records import State
from carecast.testing import FrozenClock

API = "https://api.twitter.com/2"  # tweepy's host
TWEETS = f"{API}/tweets"
ME = f"{API}/users/me"
USER_ID = "2244994945"
TIMELINE = f"{API}/users/{USER_ID}/tweets"
MENTIONS = f"{API}/users/{USER_ID}/mentions"
MEDIA = "https://api.x.com/2/media/upload"
METADATA = "https://api.x.com/2/media/metadata"
TOKEN = "https://api.x.com/2/oauth2/token"
CDN = "https://cdn.riverside-general.org/img/entrance.png"

OAUTH1 = {"consumer_key": "ck-s3cret-4f1a", "consumer_secret": "cs-s3cret-77b2",
          "access_token": f"{USER_ID}-at-s3cret-91c3", "access_token_secret": "ats-s3cret-0d9e"}
OAUTH2 = {"access_token": "oauth2-access-s3cret-5a5a", "refresh_token": "refresh-s3cret-6b6b",
          "client_id": "riverside-client-id", "client_secret": "client-s3cret-7c7c"}
NEW_ACCESS, NEW_REFRESH = "oauth2-new-access-s3cret-8d8d", "refresh-new-s3cret-9e9e"
SECRETS = (*OAUTH1.values(), *(v for k, v in OAUTH2.items() if k != "client_id"), NEW_ACCESS,
           NEW_REFRESH)
NOW = 1_790_000_000.0
ID1, ID2, ID3 = "1456012973835788293", "1456012973835788294", "1456012973835788295"
POST = Post(id="flu-1", text="Flu shots are free at Riverside this week.", hashtags=["flu"])
TEXT = "Flu shots are free at Riverside this week.\n\n#flu"
LONG = ("Our flu clinic opens Monday at 9 in the east wing. " * 4
        + "Bring your insurance card if you have one, and wear a short-sleeved shirt. " * 3
        + "Details: https://riverside-general.org/news/flu-clinic-2026 #FluSeason "
        + "@RiversideHealth")


def make(creds: dict[str, str] | None = None, **options: object) -> XChannel:
    opts = {**(creds or OAUTH1), **options}
    return XChannel("x-main", XOptions(**opts), clock=FrozenClock(datetime.fromtimestamp(NOW, UTC)))


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels made here read media from their root, the working folder: tmp_path."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def x() -> XChannel:
    return make()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def created(remote_id: str = ID1, text: str = TEXT) -> dict[str, object]:
    return {"data": {"id": remote_id, "text": text}}


RATE = {"x-rate-limit-limit": "200", "x-rate-limit-remaining": "199",
        "x-rate-limit-reset": "1635976418", "x-transaction-id": "e92f067a164a24a1"}


def assert_no_secrets(*objects: object) -> None:
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        for text in texts:
            for secret in SECRETS:
                assert secret not in text, f"{secret!r} shown in {text!r}"


def json_body(call) -> dict:
    return json.loads(call.request.body)


# -- rendering: X's weighted length, threads, media rules -------------------------------------


def test_limits_are_declared() -> None:
    limits = XChannel.limits()
    assert (limits["max_text"], limits["text_unit"], limits["url_length"]) == (280, "weighted",
                                                                               23)
    assert limits["max_media"] == 4
    assert limits["media_kinds"] == ["gif", "image", "video"]
    assert limits["max_media_bytes"] == {"image": 5 * 2**20, "gif": 15 * 2**20,
                                         "video": 512 * 2**20}
    assert limits["supports_threads"]
    assert XChannel.capabilities() == {"lookup", "fetch_mentions", "fetch_metrics",
                                       "fetch_account_metrics", "update_profile", "reply"}


@pytest.mark.parametrize(("text", "length"), [
    ("Flu shots", 9),
    ("Details: https://riverside-general.org/news/flu-clinic-2026", 9 + 23),
    ("Details: riverside-general.org", 9 + 23),  # a bare domain is a link on X too
    ("\u65e5\u672c\u8a9e", 6),  # CJK counts 2
    ("caf\u00e9", 4),
    ("\U0001f637", 2),
    ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 2),  # one emoji sequence
])
def test_count_is_x_weighted_length(x, text, length) -> None:
    assert x.count(text) == length


def test_a_draft_carries_weighted_lengths(x) -> None:
    draft = x.render(POST)
    assert draft.parts[0].text == TEXT
    assert (draft.parts[0].length, draft.parts[0].limit) == (len(TEXT), 280)


def test_long_text_becomes_a_numbered_thread_of_whole_words(x) -> None:
    draft = x.render(Post(id="p", text=LONG))
    n = len(draft.parts)
    assert n >= 2
    words = []
    for i, part in enumerate(draft.parts, 1):
        assert part.text.endswith(f" {i}/{n}")
        assert part.length == x.count(part.text) <= 280
        words += part.text.removesuffix(f" {i}/{n}").split()
    assert words == LONG.split()  # nothing lost, nothing cut
    for token in ("https://riverside-general.org/news/flu-clinic-2026", "#FluSeason",
                  "@RiversideHealth"):
        assert sum(token in p.text.split() for p in draft.parts) == 1


@pytest.mark.parametrize("token", [
    "https://riverside-general.org/news/2026/flu-clinic-opens-monday-in-the-east-wing",
    "#RiversideFluClinic2026", "@RiversideGeneralHealth"])
def test_a_cut_never_falls_inside_a_url_hashtag_or_mention(x, token) -> None:
    # padding puts the token across the point where part 1 is full
    for pad in range(200, 276, 3):
        text = f"{'a' * pad} {token} and then more words follow here to finish."
        draft = x.render(Post(id="p", text=text))
        texts = [p.text for p in draft.parts]
        assert sum(token in t.split() for t in texts) == 1, texts
        assert all(p.length <= 280 for p in draft.parts)


def test_a_url_counts_23_when_splitting(x) -> None:
    url = "https://riverside-general.org/" + "long-path/" * 30  # 334 characters
    draft = x.render(Post(id="p", text=f"Read more: {url}"))
    assert len(draft.parts) == 1
    assert draft.parts[0].length == 11 + 23


@pytest.mark.parametrize(("kinds", "ok"), [
    ([MediaKind.IMAGE] * 4, True), ([MediaKind.GIF], True), ([MediaKind.VIDEO], True),
    ([MediaKind.IMAGE, MediaKind.GIF], False), ([MediaKind.VIDEO, MediaKind.IMAGE], False),
    ([MediaKind.GIF, MediaKind.GIF], False),
])
def test_four_images_or_one_gif_or_one_video(x, kinds, ok) -> None:
    ext = {MediaKind.IMAGE: "png", MediaKind.GIF: "gif", MediaKind.VIDEO: "mp4"}
    media = [Media(source=f"https://cdn.example.org/{i}.{ext[k]}", alt_text="x")
             for i, k in enumerate(kinds)]
    post = Post(id="p", text="Clinic photos.", media=media)
    if ok:
        assert len(x.render(post).media) == len(kinds)
    else:
        with pytest.raises(LimitExceeded, match="4 images, or 1 GIF, or 1 video") as info:
            x.render(post)
        assert info.value.field == "media"


def test_alt_text_over_1000_characters_is_refused(x) -> None:
    post = Post(id="p", text="Entrance.", media=[
        Media(source=CDN, alt_text="a" * 1001)])
    with pytest.raises(LimitExceeded) as info:
        x.render(post)
    assert (info.value.field, info.value.limit, info.value.value) == (
        "media[0].alt_text", 1000, 1001)


def test_an_empty_post_is_refused(x) -> None:
    with pytest.raises(LimitExceeded) as info:
        x.render(Post(id="p", title="Only a title", text=""))
    assert info.value.field == "text"
    assert x.render(Post(id="p", text="", media=[Media(source=CDN, alt_text="x")])).media


def test_a_character_x_refuses_is_named(x) -> None:
    with pytest.raises(InvalidPost, match="U\\+FEFF") as info:
        x.render(Post(id="p", text="Flu\ufeff shots"))
    assert info.value.problems[0][0] == "text"


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "where"), [
    ({k: v for k, v in OAUTH1.items() if k != "consumer_secret"}, "access_token_secret"),
    ({k: v for k, v in OAUTH1.items() if k != "access_token_secret"}, "access_token_secret"),
    ({"access_token": "t", "refresh_token": "r-s3cret"}, "refresh_token"),
    ({**OAUTH1, "client_id": "c"}, "access_token_secret"),
])
def test_credentials_must_make_one_whole_flow(options, where) -> None:
    account = AccountConfig(name="x-main", channel="x", options=options)
    with pytest.raises(ConfigurationError, match=f"accounts\\.x-main\\.{where}") as info:
        XChannel.from_config(account)
    assert_no_secrets(info.value)


def test_both_flows_validate() -> None:
    assert XChannel.from_config(AccountConfig(name="a", channel="x", options=OAUTH1))
    assert XChannel.from_config(AccountConfig(name="a", channel="x", options=OAUTH2))
    assert XChannel.from_config(AccountConfig(name="a", channel="x",
                                              options={"access_token": "t"}))


def test_the_module_imports_without_the_sdk() -> None:
    code = ("import sys; sys.modules['tweepy'] = None; sys.modules['twitter_text'] = None\n"
            "from carecast.channels.x import XChannel\n"
            "print(XChannel.limits()['max_text'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "280"


def test_a_missing_sdk_says_how_to_install_it(x, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tweepy", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'carecast\[x\]'"):
        x.publish(x.render(POST), "k")


# -- publishing ------------------------------------------------------------------------------


def test_publish_posts_with_oauth1(x, mocked) -> None:
    mocked.post(TWEETS, json=created(), status=201, headers=RATE)
    receipt = x.publish(x.render(POST), "cc-key-1")
    assert (receipt.remote_id, receipt.part_ids) == (ID1, (ID1,))
    assert receipt.url == f"https://x.com/i/web/status/{ID1}"
    assert receipt.published_at == datetime(2021, 11, 3, 21, 38, 39, 32000, tzinfo=UTC)
    assert (receipt.post_id, receipt.account, receipt.channel) == ("flu-1", "x-main", "x")
    request = mocked.calls[0].request
    assert json_body(mocked.calls[0]) == {"text": TEXT}
    auth = request.headers["Authorization"]
    assert auth.startswith("OAuth ")
    assert f'oauth_consumer_key="{OAUTH1["consumer_key"]}"' in auth
    assert 'oauth_signature_method="HMAC-SHA1"' in auth
    assert request.req_kwargs["timeout"] == (10.0, 30.0)  # tweepy sends none of its own
    assert x._tweepy_client().wait_on_rate_limit is False  # carecast's retry policy waits


def test_publish_posts_with_an_oauth2_token(mocked) -> None:
    x = make(OAUTH2)
    bearer = {"Authorization": f"Bearer {OAUTH2['access_token']}"}
    mocked.post(TWEETS, json=created(), status=201, match=[matchers.header_matcher(bearer)])
    assert x.publish(x.render(POST), "k").remote_id == ID1


def test_a_thread_is_posted_as_replies_in_order(x, mocked) -> None:
    for remote_id in (ID1, ID2, ID3):
        mocked.post(TWEETS, json=created(remote_id), status=201)
    draft = x.render(Post(id="p", text=LONG))
    assert len(draft.parts) == 3
    receipt = x.publish(draft, "k")
    assert (receipt.remote_id, receipt.part_ids) == (ID1, (ID1, ID2, ID3))
    bodies = [json_body(c) for c in mocked.calls]
    assert [b["text"] for b in bodies] == [p.text for p in draft.parts]
    assert "reply" not in bodies[0]
    assert [b["reply"] for b in bodies[1:]] == [{"in_reply_to_tweet_id": ID1},
                                                {"in_reply_to_tweet_id": ID2}]


def test_a_failed_thread_part_deletes_the_parts_before_it(x, mocked) -> None:
    mocked.post(TWEETS, json=created(ID1), status=201)
    mocked.post(TWEETS, json=created(ID2), status=201)
    mocked.post(TWEETS, status=503, json={"title": "Service Unavailable"})
    mocked.delete(f"{TWEETS}/{ID2}", json={"data": {"deleted": True}})
    mocked.delete(f"{TWEETS}/{ID1}", json={"data": {"deleted": True}})
    with pytest.raises(ChannelServerError):
        x.publish(x.render(Post(id="p", text=LONG)), "k")
    assert [(c.request.method, c.request.url) for c in mocked.calls][3:] == [
        ("DELETE", f"{TWEETS}/{ID2}"), ("DELETE", f"{TWEETS}/{ID1}")]


def test_an_image_goes_up_in_one_request_with_its_alt_text(x, mocked, tmp_path) -> None:
    photo = tmp_path / "entrance.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    # docs.x.com "Upload media": {"data": {"id", "media_key", "size", "expires_after_secs",
    # "image": {...}}}
    mocked.post(MEDIA, json={"data": {
        "id": "1726817595448610817", "media_key": "3_1726817595448610817", "size": 208,
        "expires_after_secs": 86400, "image": {"image_type": "image/png", "w": 8, "h": 8}}})
    mocked.post(METADATA, json={"data": {"id": "1726817595448610817", "associated_metadata": {
        "alt_text": {"text": "The new clinic entrance"}}}})
    mocked.post(TWEETS, json=created(), status=201)
    post = Post(id="p", text="Our new entrance.", media=[
        Media(source=str(photo), alt_text="The new clinic entrance")])
    x.publish(x.render(post), "k")
    upload, metadata, tweet = mocked.calls
    assert upload.request.headers["Content-Type"].startswith("multipart/form-data")
    assert upload.request.headers["Authorization"].startswith("OAuth ")
    body = upload.request.body
    assert b'name="media_category"\r\n\r\ntweet_image' in body
    assert b'name="media_type"\r\n\r\nimage/png' in body
    assert b'name="media"; filename="entrance.png"' in body
    assert b"\x89PNG\r\n\x1a\n" + bytes(200) in body
    assert json_body(metadata) == {"id": "1726817595448610817", "metadata": {
        "alt_text": {"text": "The new clinic entrance"}}}
    assert json_body(tweet) == {"text": "Our new entrance.",
                                "media": {"media_ids": ["1726817595448610817"]}}


def test_an_image_by_url_is_downloaded_first(mocked) -> None:
    x = make(OAUTH2)
    mocked.get(CDN, body=b"\x89PNG-bytes", content_type="image/png")
    # the one-request answer as sns-sdks recorded it, without "data" around it
    mocked.post(MEDIA, json={"id": "1726817595448610817", "media_key": "3_1726817595448610817",
                             "size": 11, "expires_after_secs": 86400},
                match=[matchers.header_matcher({
                    "Authorization": f"Bearer {OAUTH2['access_token']}"})])
    mocked.post(TWEETS, json=created(), status=201)
    x.publish(x.render(Post(id="p", text="Entrance.", media=[Media(source=CDN)])), "k")
    assert b"\x89PNG-bytes" in mocked.calls[1].request.body
    assert json_body(mocked.calls[2])["media"] == {"media_ids": ["1726817595448610817"]}


def test_a_missing_url_media_is_named(x, mocked) -> None:
    mocked.get(CDN, status=404)
    with pytest.raises(PlatformRejected, match=r"media\[0\]: could not download 'entrance.png'"):
        x.publish(x.render(Post(id="p", text="E.", media=[Media(source=CDN)])), "k")


def video(tmp_path: Path, size: int = 25, name: str = "tour.mp4") -> Media:
    path = tmp_path / name
    path.write_bytes(bytes(range(size)))
    return Media(source=str(path), alt_text="A tour of the new wing")


def chunked_upload(mocked, media_id: str = "1912090619981471744", *, states=("succeeded",),
                   category_check=None) -> None:
    # docs.x.com initialize / append / finalize / status; sns-sdks media_upload_v2 bodies
    mocked.post(f"{MEDIA}/initialize", json={"data": {
        "id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}})
    for _ in range(3):
        mocked.post(f"{MEDIA}/{media_id}/append", json={"data": {"expires_at": 1790086400}})
    mocked.post(f"{MEDIA}/{media_id}/finalize", json={"data": {
        "id": media_id, "media_key": f"7_{media_id}", "size": 25, "expires_after_secs": 86400,
        "processing_info": {"state": "pending", "check_after_secs": 1}}})
    for state in states:
        info = {"state": state, "progress_percent": 100 if state == "succeeded" else 40}
        if state == "in_progress":
            info["check_after_secs"] = 5
        if state == "failed":
            info["error"] = {"code": 1, "name": "InvalidMedia",
                             "message": "Unsupported video format"}
        mocked.get(MEDIA, json={"data": {"id": media_id, "media_key": f"7_{media_id}",
                                          "expires_after_secs": 83800,
                                          "processing_info": info, "size": 25}},
                   match=[matchers.query_param_matcher({"command": "STATUS",
                                                        "media_id": media_id})])


def test_a_video_goes_up_in_chunks_and_waits_for_processing(x, mocked, tmp_path) -> None:
    x.chunk_size = 10
    chunked_upload(mocked, states=("in_progress", "succeeded"))
    mocked.post(METADATA, json={"data": {"id": "1912090619981471744"}})
    mocked.post(TWEETS, json=created(), status=201)
    x.publish(x.render(Post(id="p", text="Tour.", media=[video(tmp_path)])), "k")
    urls = [(c.request.method, c.request.url.split("?")[0]) for c in mocked.calls]
    media_id = "1912090619981471744"
    assert urls == [("POST", f"{MEDIA}/initialize"),
                    *[("POST", f"{MEDIA}/{media_id}/append")] * 3,
                    ("POST", f"{MEDIA}/{media_id}/finalize"),
                    ("GET", MEDIA), ("GET", MEDIA), ("POST", METADATA), ("POST", TWEETS)]
    assert json_body(mocked.calls[0]) == {"media_type": "video/mp4", "total_bytes": 25,
                                          "media_category": "tweet_video"}
    data = bytes(range(25))
    for segment, call in enumerate(mocked.calls[1:4]):
        body = call.request.body
        assert f'name="segment_index"\r\n\r\n{segment}'.encode() in body
        assert data[segment * 10:(segment + 1) * 10] in body
    assert x.clock.sleeps == [1.0, 5.0]  # check_after_secs, never a real sleep
    assert json_body(mocked.calls[-1])["media"] == {"media_ids": [media_id]}


def test_a_gif_goes_up_in_chunks_as_tweet_gif(x, mocked, tmp_path) -> None:
    x.chunk_size = 10
    chunked_upload(mocked)
    mocked.post(METADATA, json={})
    mocked.post(TWEETS, json=created(), status=201)
    gif = video(tmp_path, name="wave.gif")
    x.publish(x.render(Post(id="p", text="Hi.", media=[gif])), "k")
    assert json_body(mocked.calls[0]) == {"media_type": "image/gif", "total_bytes": 25,
                                          "media_category": "tweet_gif"}


def test_failed_processing_is_refused_with_x_reason(x, mocked, tmp_path) -> None:
    x.chunk_size = 10
    chunked_upload(mocked, states=("failed",))
    with pytest.raises(PlatformRejected, match=r"media\[0\]: Unsupported video format"):
        x.publish(x.render(Post(id="p", text="Tour.", media=[video(tmp_path)])), "k")
    assert not [c for c in mocked.calls if c.request.url == TWEETS]


def test_processing_that_never_ends_stops_at_max_processing_wait(mocked, tmp_path) -> None:
    x = make(max_processing_wait=12)
    x.chunk_size = 10
    chunked_upload(mocked, states=("in_progress",) * 2)
    with pytest.raises(ChannelTimeout, match="still processing media") as info:
        x.publish(x.render(Post(id="p", text="Tour.", media=[video(tmp_path)])), "k")
    assert x.clock.sleeps == [1.0, 5.0, 5.0]  # a fourth wait would pass 12 s
    assert info.value.retryable
    assert not info.value.may_have_been_sent


@pytest.mark.parametrize(("failure", "cls"), [
    ({"status": 503}, ChannelServerError),
    ({"body": requests.ReadTimeout("read timed out")}, ChannelConnectionError),
])
def test_a_failed_upload_is_never_a_maybe_sent_post(x, mocked, tmp_path, failure, cls) -> None:
    mocked.post(MEDIA, **failure)
    post = Post(id="p", text="E.", media=[video(tmp_path, name="e.png")])
    with pytest.raises(cls) as info:
        x.publish(x.render(post), "k")
    assert not info.value.may_have_been_sent
    assert info.value.retryable


# -- errors ----------------------------------------------------------------------------------

DUPLICATE = {"detail": "You are not allowed to create a Tweet with duplicate content.",
             "type": "about:blank", "title": "Forbidden", "status": 403}
INVALID = {"errors": [{"parameters": {"text": []},
                       "message": "JSON doesn't match expected schema"}],
           "title": "Invalid Request",
           "detail": "One or more parameters to your request was invalid.",
           "type": "https://api.twitter.com/2/problems/invalid-request"}
NOT_PERMITTED = {"detail": "You are not permitted to perform this action.",
                 "type": "about:blank", "title": "Forbidden", "status": 403}
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401,
                "detail": "Unauthorized"}


@pytest.mark.parametrize(("status", "body", "cls", "says"), [
    (400, INVALID, PlatformRejected,
     "One or more parameters to your request was invalid.; JSON doesn't match"),
    (401, UNAUTHORIZED, AuthenticationError, "regenerate the access token"),
    (403, DUPLICATE, DuplicatePost, "duplicate content"),
    (403, NOT_PERMITTED, PermissionDenied, "Read and Write"),
    (404, {"title": "Not Found Error", "detail": "Could not find"}, PlatformRejected,
     "Could not find"),
    (429, {"title": "Too Many Requests", "detail": "Too Many Requests"}, RateLimited,
     "rate limited"),
    (500, {"title": "Internal Server Error"}, ChannelServerError, "may have stored"),
    (503, {"title": "Service Unavailable"}, ChannelServerError, "HTTP 503"),
])
def test_x_errors_map_to_carecast_errors(x, mocked, status, body, cls, says) -> None:
    mocked.post(TWEETS, status=status, json=body, headers={
        "x-transaction-id": "e92f067a164a24a1", "x-rate-limit-reset": str(int(NOW) + 600),
        "x-rate-limit-remaining": "0"})
    with pytest.raises(cls) as info:
        x.publish(x.render(POST), "k")
    error = info.value
    assert type(error) is cls
    assert says in str(error)
    assert (error.status, error.request_id) == (status, "e92f067a164a24a1")
    assert (error.channel, error.account) == ("x", "x-main")
    assert error.retryable == (status in (429, 500, 503))
    assert error.may_have_been_sent == (status >= 500)
    assert "Flu shots" not in str(error)  # X's reason, never the post text
    if cls is RateLimited:
        assert error.retry_after == 600
    assert error.__cause__ is None
    assert_no_secrets(error)


def test_a_spent_daily_cap_waits_for_its_own_reset(x, mocked) -> None:
    mocked.post(TWEETS, status=429, json={"title": "Too Many Requests"}, headers={
        "x-rate-limit-remaining": "150", "x-rate-limit-reset": str(int(NOW) + 900),
        "x-user-limit-24hour-limit": "100", "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(NOW) + 20_000),
        "x-app-limit-24hour-remaining": "1200",
        "x-app-limit-24hour-reset": str(int(NOW) + 50_000)})
    with pytest.raises(RateLimited) as info:
        x.publish(x.render(POST), "k")
    assert info.value.retry_after == 20_000


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(MaxRetryError(None, TWEETS, reason=reason))


@pytest.mark.parametrize(("exc", "cls"), [
    (requests.ReadTimeout("read timed out"), OutcomeUnknown),
    (requests.ConnectTimeout("connect timed out"), ChannelTimeout),
    (refused(), ChannelConnectionError),
])
def test_transport_failures_are_carecast_errors(x, mocked, exc, cls) -> None:
    mocked.post(TWEETS, body=exc)
    with pytest.raises(cls) as info:
        x.publish(x.render(POST), "k")
    assert type(info.value) is cls
    assert info.value.may_have_been_sent == (cls is OutcomeUnknown)
    assert_no_secrets(info.value)


def test_a_2xx_without_an_id_is_an_unknown_outcome(x, mocked) -> None:
    mocked.post(TWEETS, json={"errors": [{"message": "odd"}]}, status=201)
    with pytest.raises(OutcomeUnknown):
        x.publish(x.render(POST), "k")


# -- OAuth 2.0 refresh -----------------------------------------------------------------------


def token_answer() -> dict[str, object]:
    return {"token_type": "bearer", "expires_in": 7200, "access_token": NEW_ACCESS,
            "scope": "tweet.read tweet.write users.read media.write offline.access",
            "refresh_token": NEW_REFRESH}


def test_a_refused_token_is_refreshed_once_and_handed_back(mocked) -> None:
    seen: list[XTokens] = []
    x = make(OAUTH2)
    x.on_token_refresh = seen.append
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    mocked.post(TOKEN, json=token_answer())
    mocked.post(TWEETS, json=created(), status=201,
                match=[matchers.header_matcher({"Authorization": f"Bearer {NEW_ACCESS}"})])
    assert x.publish(x.render(POST), "k").remote_id == ID1
    token = mocked.calls[1].request
    assert parse_qs(token.body) == {"grant_type": ["refresh_token"],
                                    "client_id": ["riverside-client-id"],
                                    "refresh_token": [OAUTH2["refresh_token"]]}
    basic = base64.b64encode(b"riverside-client-id:" + OAUTH2["client_secret"].encode())
    assert token.headers["Authorization"] == f"Basic {basic.decode()}"
    [tokens] = seen
    assert tokens.access_token.get_secret_value() == NEW_ACCESS
    assert tokens.refresh_token.get_secret_value() == NEW_REFRESH
    assert tokens.expires_at == datetime.fromtimestamp(NOW + 7200, UTC)
    assert_no_secrets(tokens)


def test_the_new_refresh_token_is_used_next_time(mocked) -> None:
    x = make({k: v for k, v in OAUTH2.items() if k != "client_secret"})
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    mocked.post(TOKEN, json=token_answer())
    mocked.post(TWEETS, json=created(), status=201)
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    mocked.post(TOKEN, json={**token_answer(), "access_token": "third-access"})
    mocked.post(TWEETS, json=created(ID2), status=201)
    x.publish(x.render(POST), "k")
    x.publish(x.render(POST), "k2")
    second = [c for c in mocked.calls if c.request.url == TOKEN][1].request
    assert parse_qs(second.body)["refresh_token"] == [NEW_REFRESH]
    assert "Authorization" not in second.headers  # a public client: no secret


def test_a_refused_refresh_says_to_authorize_again(mocked) -> None:
    x = make(OAUTH2)
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    mocked.post(TOKEN, status=400, json={"error": "invalid_request",
                                         "error_description": "Value passed for the token "
                                         "was invalid."})
    with pytest.raises(AuthenticationError, match="authorize the app again") as info:
        x.publish(x.render(POST), "k")
    assert_no_secrets(info.value)


def test_a_second_401_after_a_refresh_is_raised(mocked) -> None:
    x = make(OAUTH2)
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    mocked.post(TOKEN, json=token_answer())
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    with pytest.raises(AuthenticationError, match="authorize the app again"):
        x.publish(x.render(POST), "k")
    assert len([c for c in mocked.calls if c.request.url == TOKEN]) == 1


def test_oauth1_is_never_refreshed(x, mocked) -> None:
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    with pytest.raises(AuthenticationError):
        x.publish(x.render(POST), "k")
    assert len(mocked.calls) == 1


def test_a_failing_callback_does_not_lose_the_post(mocked, caplog) -> None:
    x = make(OAUTH2)

    def broken(tokens: XTokens) -> None:
        raise OSError(f"disk full writing {tokens.access_token.get_secret_value()}")

    x.on_token_refresh = broken
    mocked.post(TWEETS, status=401, json=UNAUTHORIZED)
    mocked.post(TOKEN, json=token_answer())
    mocked.post(TWEETS, json=created(), status=201)
    with caplog.at_level(logging.INFO, logger="carecast"):
        assert x.publish(x.render(POST), "k").remote_id == ID1
    assert "on_token_refresh raised OSError" in caplog.text
    assert_no_secrets(caplog.text)


def test_media_upload_refreshes_too(mocked, tmp_path) -> None:
    x = make(OAUTH2)
    mocked.post(MEDIA, status=401, json=UNAUTHORIZED)
    mocked.post(TOKEN, json=token_answer())
    mocked.post(MEDIA, json={"data": {"id": "1"}},
                match=[matchers.header_matcher({"Authorization": f"Bearer {NEW_ACCESS}"})])
    mocked.post(TWEETS, json=created(), status=201)
    photo = video(tmp_path, name="e.png")
    x.publish(x.render(Post(id="p", text="E.", media=[
        photo.model_copy(update={"alt_text": None})])), "k")
    first, _, again, _ = mocked.calls
    for call in (first, again):  # the file is sent whole again
        assert bytes(range(25)) + b"\r\n--" in call.request.body


@pytest.mark.parametrize("creds", [OAUTH1, OAUTH2], ids=["oauth1", "oauth2"])
def test_debug_logs_never_show_a_credential(mocked, caplog, tmp_path, creds) -> None:
    x = make(creds)
    mocked.post(MEDIA, json={"data": {"id": "1"}})
    mocked.post(TWEETS, json=created(), status=201)
    photo = video(tmp_path, name="e.png").model_copy(update={"alt_text": None})
    with caplog.at_level(logging.DEBUG):  # tweepy, requests_oauthlib and oauthlib log at DEBUG
        x.publish(x.render(Post(id="p", text="E.", media=[photo])), "k")
    assert "[hidden by carecast]" in caplog.text
    assert_no_secrets(caplog.text)


# -- lookup, delete, profile, mentions, metrics -----------------------------------------------


def timeline(*tweets: dict[str, object]) -> dict[str, object]:
    return {"data": list(tweets), "meta": {"result_count": len(tweets)}}


def tweet(remote_id: str, text: str, *, reply_to: str | None = None,
          urls: list[dict[str, object]] | None = None) -> dict[str, object]:
    out: dict[str, object] = {"id": remote_id, "text": text,
                              "created_at": "2026-11-21T09:00:00.000Z",
                              "edit_history_tweet_ids": [remote_id]}
    if reply_to:
        out["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
    if urls:
        out["entities"] = {"urls": urls}
    return out


LINKED = Post(id="p", text="Flu & COVID shots: https://riverside-general.org/flu",
              media=[Media(source=CDN, alt_text="Entrance")])


def linked_tweet(remote_id: str = ID1) -> dict[str, object]:
    """How X gives the post back: links as t.co, '&' escaped, a link to the photo at the end."""
    return tweet(remote_id, "Flu &amp; COVID shots: https://t.co/AbC123 https://t.co/PiC456",
                 urls=[{"start": 22, "end": 45, "url": "https://t.co/AbC123",
                        "expanded_url": "https://riverside-general.org/flu",
                        "display_url": "riverside-general.org/flu"},
                       {"start": 46, "end": 69, "url": "https://t.co/PiC456",
                        "expanded_url": f"https://x.com/riverside/status/{remote_id}/photo/1",
                        "display_url": "pic.x.com/PiC456", "media_key": "3_1"}])


def test_lookup_finds_the_post_as_x_rewrote_it(x, mocked) -> None:
    mocked.get(TIMELINE, json=timeline(tweet(ID2, "Something else"), linked_tweet()),
               match=[matchers.query_param_matcher({
                   "max_results": "100",
                   "tweet.fields": "created_at,entities,referenced_tweets"})])
    found = x.lookup("k", x.render(LINKED))
    assert (found.remote_id, found.part_ids, found.post_id) == (ID1, (ID1,), "p")
    assert found.url == f"https://x.com/i/web/status/{ID1}"


def test_lookup_matches_a_link_x_wrote_another_way(x, mocked) -> None:
    post = Post(id="p", text="Flu shots: riverside-general.org/flu")
    mocked.get(TIMELINE, json=timeline(tweet(ID1, "Flu shots: https://t.co/AbC123", urls=[
        {"start": 11, "end": 34, "url": "https://t.co/AbC123",
         "expanded_url": "http://riverside-general.org/flu",
         "display_url": "riverside-general.org/flu"}])))
    assert x.lookup("k", x.render(post)).remote_id == ID1


def test_lookup_of_an_absent_post_is_none(x, mocked) -> None:
    mocked.get(TIMELINE, json=timeline(tweet(ID2, "Flu shots are free at Riverside.")))
    assert x.lookup("k", x.render(POST)) is None
    mocked.replace(responses.GET, TIMELINE, json={"meta": {"result_count": 0}})
    assert x.lookup("k", x.render(POST)) is None


def test_lookup_needs_every_part_of_a_thread_in_order(x, mocked) -> None:
    draft = x.render(Post(id="p", text=LONG))
    texts = [p.text for p in draft.parts]
    mocked.get(TIMELINE, json=timeline(tweet(ID3, texts[2], reply_to=ID2),
                                       tweet(ID2, texts[1], reply_to=ID1),
                                       tweet(ID1, texts[0])))
    assert x.lookup("k", draft).part_ids == (ID1, ID2, ID3)
    mocked.replace(responses.GET, TIMELINE, json=timeline(tweet(ID2, texts[1], reply_to=ID1),
                                                          tweet(ID1, texts[0])))
    with pytest.raises(OutcomeUnknown, match="found 2 of the 3 parts") as info:
        x.lookup("k", draft)
    assert not info.value.retryable


def test_lookup_with_oauth2_finds_the_user_id_once(mocked) -> None:
    x = make(OAUTH2)
    mocked.get(ME, json={"data": {"id": USER_ID, "name": "Riverside", "username": "riverside"}})
    mocked.get(TIMELINE, json=timeline())
    x.lookup("k", x.render(POST))
    x.lookup("k", x.render(POST))
    assert [c.request.url.split("?")[0] for c in mocked.calls] == [ME, TIMELINE, TIMELINE]


def test_lookup_errors_are_raised(x, mocked) -> None:
    mocked.get(TIMELINE, status=503, json={"title": "Service Unavailable"})
    with pytest.raises(ChannelServerError):
        x.lookup("k", x.render(POST))


def receipt(*ids: str) -> Receipt:
    return Receipt(post_id="p", account="x-main", channel="x", remote_id=ids[0],
                   published_at="2026-11-21T09:00:00Z", part_ids=ids)


def test_delete_removes_every_part_last_first(x, mocked) -> None:
    for remote_id in (ID3, ID2, ID1):
        mocked.delete(f"{TWEETS}/{remote_id}", json={"data": {"deleted": True}})
    x.delete(receipt(ID1, ID2, ID3))
    assert [c.request.url for c in mocked.calls] == [f"{TWEETS}/{i}" for i in (ID3, ID2, ID1)]
    assert all(c.request.headers["Authorization"].startswith("OAuth ") for c in mocked.calls)


def test_delete_of_a_post_already_gone_is_done(x, mocked) -> None:
    mocked.delete(f"{TWEETS}/{ID1}", status=404, json={"title": "Not Found Error"})
    x.delete(receipt(ID1))
    mocked.delete(f"{TWEETS}/{ID2}", status=403, json=NOT_PERMITTED)
    with pytest.raises(PermissionDenied):
        x.delete(receipt(ID2))


def test_fetch_profile(x, mocked) -> None:
    # GET /2/users/me, shaped on sns-sdks' user__me_resp.json with the user fields asked for
    mocked.get(ME, json={"data": {
        "id": USER_ID, "name": "Riverside General", "username": "RiversideGeneral",
        "description": "Care close to home.", "location": "Riverside, CA",
        "url": "https://t.co/xyz", "profile_image_url": "https://pbs.twimg.com/p/a_normal.jpg",
        "entities": {"url": {"urls": [{"start": 0, "end": 23, "url": "https://t.co/xyz",
                                       "expanded_url": "https://riverside-general.org",
                                       "display_url": "riverside-general.org"}]}}}},
        match=[matchers.query_param_matcher({
            "user.fields": "description,location,url,profile_image_url,entities"})])
    profile = x.fetch_profile()
    assert (profile.display_name, profile.handle) == ("Riverside General", "@RiversideGeneral")
    assert (profile.description, profile.location) == ("Care close to home.", "Riverside, CA")
    assert profile.website == "https://riverside-general.org"
    assert profile.avatar_url == "https://pbs.twimg.com/p/a_normal.jpg"


def test_fetch_mentions_oldest_first_across_pages(x, mocked) -> None:
    since = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    users = {"users": [{"id": "11", "name": "A", "username": "ann"},
                       {"id": "12", "name": "B", "username": "bob"}]}
    mocked.get(MENTIONS, json={"data": [
        {"id": ID3, "text": "@RiversideGeneral thanks &amp; well done", "author_id": "11",
         "created_at": "2026-11-21T10:00:00.000Z", "in_reply_to_user_id": USER_ID,
         "referenced_tweets": [{"type": "replied_to", "id": ID1}]}],
        "includes": users, "meta": {"next_token": "page2", "result_count": 1}},
        match=[matchers.query_param_matcher({
            "start_time": "2026-11-20T12:00:00Z", "max_results": "100",
            "tweet.fields": "created_at,author_id,in_reply_to_user_id,referenced_tweets",
            "expansions": "author_id", "user.fields": "username"})])
    mocked.get(MENTIONS, json={"data": [
        {"id": ID2, "text": "Is @RiversideGeneral open today?", "author_id": "12",
         "created_at": "2026-11-21T08:00:00.000Z"}], "includes": users,
        "meta": {"result_count": 1}},
        match=[matchers.query_param_matcher({"pagination_token": "page2"}, strict_match=False)])
    mentions = x.fetch_mentions(since)
    assert [(m.remote_id, m.author, m.kind) for m in mentions] == [
        (ID2, "@bob", "mention"), (ID3, "@ann", "reply")]
    assert mentions[1].text == "@RiversideGeneral thanks & well done"
    assert (mentions[1].parent_id, mentions[0].parent_id) == (ID1, None)
    assert mentions[0].url == f"https://x.com/bob/status/{ID2}"


def test_fetch_metrics(x, mocked) -> None:
    mocked.get(f"{TWEETS}/{ID1}", json={"data": {"id": ID1, "text": TEXT, "public_metrics": {
        "retweet_count": 4, "reply_count": 2, "like_count": 31, "quote_count": 1,
        "bookmark_count": 3, "impression_count": 1250}}},
        match=[matchers.query_param_matcher(
            {"tweet.fields": "public_metrics,non_public_metrics"})])
    metrics = x.fetch_metrics(receipt(ID1))
    assert (metrics.likes, metrics.reposts, metrics.replies, metrics.impressions) == (
        31, 4, 2, 1250)
    assert metrics.extra == {"quote_count": 1, "bookmark_count": 3}
    assert metrics.fetched_at == datetime.fromtimestamp(NOW, UTC)


# -- end to end through the publisher ---------------------------------------------------------


def config(tmp_path: Path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"x-main": {"channel": "x", "brand": "riverside",
                                "consumer_key": OAUTH1["consumer_key"],
                                "access_token": OAUTH1["access_token"]}},
    }, root=tmp_path, environ={
        "CARECAST_ACCOUNTS__X_MAIN__CONSUMER_SECRET": OAUTH1["consumer_secret"],
        "CARECAST_ACCOUNTS__X_MAIN__ACCESS_TOKEN_SECRET": OAUTH1["access_token_secret"]})


def test_a_rate_limit_then_success_through_the_publisher(tmp_path, no_sleep, mocked) -> None:
    reset = int(no_sleep.clock.time()) + 30
    mocked.post(TWEETS, status=429, json={"title": "Too Many Requests"},
                headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    mocked.post(TWEETS, json=created(), status=201, headers=RATE)
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["x-main"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == ID1
    assert len(mocked.calls) == 2
    assert len(no_sleep.clock.sleeps) == 1
    assert 20 <= no_sleep.clock.sleeps[0] <= 31  # X's reset time, not a guess
    for path in tmp_path.iterdir():  # the ledger never stores a credential
        assert not [s for s in SECRETS if s.encode() in path.read_bytes()], path.name


def fresh_id() -> str:
    """A post id X would give now (a snowflake: milliseconds since X's epoch << 22)."""
    return str((int(time.time() * 1000) - 1288834974657) << 22)


def test_a_timeout_is_reconciled_by_lookup_without_a_second_post(tmp_path, no_sleep,
                                                                 mocked) -> None:
    new = fresh_id()
    mocked.post(TWEETS, body=requests.ReadTimeout("read timed out"))
    # newest first; ID1 (2021) has the same words: an earlier post, never taken for this one
    mocked.get(TIMELINE, json=timeline(tweet(new, TEXT), tweet(ID1, TEXT)))
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["x-main"]
        again = publisher.publish(POST)["x-main"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == new
    assert outcome.receipt.reconciled
    assert again.already_published
    assert [c.request.method for c in mocked.calls] == ["POST", "GET"]  # exactly one post


def test_a_duplicate_after_a_timeout_means_the_first_send_landed(tmp_path, no_sleep,
                                                                 mocked) -> None:
    mocked.post(TWEETS, body=requests.ReadTimeout("read timed out"))
    mocked.get(TIMELINE, json=timeline())  # X's timeline has not caught up yet
    mocked.post(TWEETS, status=403, json=DUPLICATE)
    new = fresh_id()
    mocked.get(TIMELINE, json=timeline(tweet(new, TEXT)))
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["x-main"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == new
    assert [c.request.method for c in mocked.calls] == ["POST", "GET", "POST", "GET"]


def test_a_bug_is_not_dressed_as_a_platform_error(x, mocked) -> None:
    mocked.post(TWEETS, body=ValueError("not a requests error"))
    with pytest.raises(ValueError):  # the publisher turns it into a guarded unknown outcome
        x.publish(x.render(POST), "k")


# -- update_profile (brand sync) ----------------------------------------------------------------
# POST 1.1/account/update_profile.json and update_profile_image.json answer the user object
# (developer.x.com v1.1 reference, "POST account/update_profile"); errors are v1.1's
# {"errors": [{"code", "message"}]}.

PROFILE_UPDATE = "https://api.x.com/1.1/account/update_profile.json"
PROFILE_IMAGE = "https://api.x.com/1.1/account/update_profile_image.json"
V1_USER = {"id": int(USER_ID), "id_str": USER_ID, "name": "Riverside General",
           "screen_name": "RiversideGeneral", "description": "Care close to home."}


def test_update_profile_sends_the_v1_fields_signed(x, mocked, tmp_path) -> None:
    from carecast.post import ProfileChanges

    mocked.post(PROFILE_UPDATE, json=V1_USER)
    mocked.post(PROFILE_IMAGE, json=V1_USER)
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    x.update_profile(ProfileChanges(display_name="Riverside General",
                                    description="Care close to home.",
                                    website="https://riverside-general.org",
                                    location="Springfield, IL", avatar=logo))
    first, second = mocked.calls
    assert {k: v[0] for k, v in parse_qs(first.request.body).items()} == {
        "name": "Riverside General", "description": "Care close to home.",
        "url": "https://riverside-general.org", "location": "Springfield, IL",
        "skip_status": "true"}
    assert first.request.headers["Authorization"].startswith("OAuth ")
    assert "oauth_signature" in first.request.headers["Authorization"]
    assert b'name="image"; filename="logo.png"' in second.request.body
    assert second.request.headers["Authorization"].startswith("OAuth ")


def test_update_profile_checks_before_sending(x, mocked) -> None:
    from carecast.post import ProfileChanges

    with pytest.raises(PlatformRejected, match="over X's limit of 160"):
        x.update_profile(ProfileChanges(description="x" * 161))
    with pytest.raises(PlatformRejected, match="cannot change the profile's phone"):
        x.update_profile(ProfileChanges(phone="+12175550142"))
    with pytest.raises(ConfigurationError, match=r"OAuth 1\.0a"):
        make(OAUTH2).update_profile(ProfileChanges(description="Care."))
    assert len(mocked.calls) == 0


def test_update_profile_errors_are_mapped(x, mocked) -> None:
    from carecast.post import ProfileChanges

    mocked.post(PROFILE_UPDATE, status=403, json={"errors": [
        {"code": 453, "message": "You currently have access to a subset of X API V2 endpoints "
                                 "and limited v1.1 endpoints only."}]})
    with pytest.raises(PermissionDenied) as info:
        x.update_profile(ProfileChanges(description="Care."))
    assert info.value.status == 403
    # the fix is the access level, not the permissions the plain 403 message points to
    assert "error 453" in str(info.value)
    assert "higher access level" in str(info.value)
    assert "Read and Write permission" not in str(info.value)
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_carecast_channels_says_profile_updates_need_the_access_level() -> None:
    """Issue 22: the 453 caveat is in ``carecast channels`` (table and JSON), not only in the
    error a sync meets."""
    from typer.testing import CliRunner

    from carecast.cli import app

    runner = CliRunner()
    table = runner.invoke(app, ["channels"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    line = next(text for text in table.stdout.splitlines() if text.startswith("x: "))
    assert "error 453" in line
    assert "higher access level, not other app permissions" in line
    listed = runner.invoke(app, ["channels", "--json"])
    row = next(row for row in json.loads(listed.stdout) if row["name"] == "x")
    assert any("453" in note for note in row["features"]["notes"])
    assert (row["features"]["extra"], row["features"]["missing_packages"]) == ("x", [])


def snowflake(at: datetime, n: int = 0) -> str:
    """An X post id made at ``at`` (milliseconds since X's epoch, shifted left 22 bits)."""
    return str(((int(at.timestamp() * 1000) - 1288834974657) << 22) + n)


def test_lookup_follows_next_token_back_to_the_send_time(x, mocked) -> None:
    """Issue 13 item 1: 150 newer posts push the match to the second page of 100."""
    from carecast.channels.base import sent_after

    sent = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    newer = [tweet(snowflake(sent + timedelta(minutes=5), n), f"Other {n}") for n in range(150)]
    ours = tweet(snowflake(sent), x.render(POST).parts[0].text)
    older = [tweet(snowflake(sent - timedelta(days=2), n), f"Old {n}") for n in range(20)]

    def answer(request):
        start = int(request.params.get("pagination_token") or 0)
        items = [*newer, ours, *older][start:start + 100]
        meta = {"result_count": len(items), **({"next_token": str(start + 100)}
                                               if start + 100 < 171 else {})}
        return 200, {}, json.dumps({"data": items, "meta": meta})

    mocked.add_callback(responses.GET, TIMELINE, callback=answer)
    with sent_after(sent - timedelta(minutes=10)):
        found = x.lookup("k", x.render(POST))
    assert found is not None
    assert found.remote_id == ours["id"]
    assert len(mocked.calls) == 2


def test_lookup_that_cannot_reach_the_send_time_is_unknown(x, mocked, monkeypatch) -> None:
    from carecast.channels import paging
    from carecast.channels.base import sent_after

    monkeypatch.setattr(paging, "MAX_PAGES", 1)
    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    mocked.get(TIMELINE, json={"data": [tweet(snowflake(now, n), f"Other {n}")
                                        for n in range(100)], "meta": {"next_token": "t2"}})
    with sent_after(now - timedelta(minutes=10)), pytest.raises(OutcomeUnknown) as info:
        x.lookup("k", x.render(POST))
    assert not info.value.retryable
