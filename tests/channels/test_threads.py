"""The Threads channel at the HTTP layer: containers, status polling, carousels, reply chains,
the publishing limit, the character count, reconcile, delete and reads.

Shapes follow Meta's Threads API reference: ``POST /{user}/threads`` and
``/threads_publish`` answer ``{"id": ...}``; ``GET /{container}?fields=status,error_message``
answers ``{"status": "FINISHED", "id": ...}`` or ``{"status": "ERROR", "error_message":
"FAILED_DOWNLOADING_VIDEO"}``; ``threads_publishing_limit`` answers ``data[0].quota_usage``
with ``config.quota_total`` / ``quota_duration`` (and ``reply_*``); ``DELETE /{id}``
answers ``{"success": true, "deleted_id": ...}``; errors are Graph's (restfb's
``threads__exception.json``: ``THApiException``, code 100, subcode 33).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from responses.registries import OrderedRegistry

from carecast.channels.threads import (
    CONTAINER_ERRORS,
    ThreadsChannel,
    ThreadsOptions,
    threads_length,
)
from carecast.config import Config
from carecast.errors import (
    AuthenticationError,
    ChannelServerError,
    ChannelTimeout,
    InvalidPost,
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

TOKEN = "THAAG-thr3ads-secret-tok"
USER = "25212345678901234"
BASE = "https://graph.threads.net/v1.0"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
STAMP = "2026-11-20T09:00:05+0000"
IMAGE = Media(source="https://cdn.riverside.example/lobby.jpg", alt_text="The new lobby")
VIDEO = Media(source="https://cdn.riverside.example/tour.mp4")
POST = Post(id="flu-1", text="Flu shots are free this Saturday at every Riverside clinic.")
LIMIT = {"data": [{"quota_usage": 3, "config": {"quota_total": 250, "quota_duration": 86400},
                   "reply_quota_usage": 1,
                   "reply_config": {"quota_total": 1000, "quota_duration": 86400}}]}


def make(tmp_path: Path | None = None, **options) -> ThreadsChannel:
    opts = ThreadsOptions(access_token=TOKEN, user_id=USER, poll_interval=5, **options)
    return ThreadsChannel("riverside-threads", opts, root=tmp_path, clock=FrozenClock(NOW))


@pytest.fixture
def th(tmp_path) -> ThreadsChannel:
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
    return {k: v[0] for k, v in parse_qs(call.request.body or "").items()}


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def graph_error(code: int, subcode: int | None = None, message: str = "An error",
                kind: str = "THApiException") -> dict:
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfG"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def script_part(rsps, container: str, media_id: str, *, polls: int = 1) -> None:
    rsps.post(f"{BASE}/{USER}/threads", json={"id": container})
    for _ in range(polls - 1):
        rsps.get(f"{BASE}/{container}", json={"status": "IN_PROGRESS", "id": container})
    rsps.get(f"{BASE}/{container}", json={"status": "FINISHED", "id": container})
    rsps.post(f"{BASE}/{USER}/threads_publish", json={"id": media_id})


def script_permalink(rsps, media_id: str) -> None:
    rsps.get(f"{BASE}/{media_id}", json={
        "permalink": "https://www.threads.com/@riversidegeneral/post/DAbc12",
        "timestamp": STAMP, "id": media_id})


# -- the character count -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "length"), [
    ("Flu shots", 9),
    ("café", 4),                                   # one character, two UTF-8 bytes: 1
    ("👍", 4),                                     # an emoji counts its UTF-8 bytes
    ("👍🏽", 8),                                    # with a skin tone modifier
    ("👨‍👩‍👧", 18),                                  # a ZWJ family: 3 emoji, 2 joiners
    ("🇺🇸", 8),                                     # a flag: two regional indicators
    ("❤️", 6),                                     # U+2764 and its variation selector
    ("日本語", 3),                                  # CJK counts one per character
    ("Open 9\u20135 \u2705", 12),                 # en dash 1, check mark emoji 3
    ("\u0915\u094d\u20e3\u0915\u094d", 15),  # a keycap in an Indic conjunct: one grapheme
])
def test_threads_counts_emoji_as_utf8_bytes(text, length) -> None:
    assert threads_length(text) == length


def _by_graphemes(text: str) -> int:
    """The count the slow, plain way: each grapheme holding an emoji counts its bytes."""
    import regex

    return sum(len(g.encode("utf-8")) if regex.search(
        r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]", g) else len(g)
        for g in regex.findall(r"\X", text))


PIECES = ["a", " ", "9", "#", ".", "\u00e9", "e\u0301", "\u65e5", "\u3042", "\u00a9",
          "\U0001f44d", "\U0001f3fd", "\u200d", "\ufe0f", "\u20e3", "\U0001f1fa",
          "\U0001f1f8", "\u2764", "\u2705", "\U0001f469", "\u2695", "\u0915\u094d",
          "\U000e0067", "\U0001f3f4", "\U0001faf6", "\u2014"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_the_fast_count_is_the_grapheme_count(pieces) -> None:
    text = "".join(pieces)
    assert threads_length(text) == _by_graphemes(text)


def test_text_over_500_becomes_a_reply_chain(th) -> None:
    words = " ".join(["Vaccines"] * 60) + "."  # 539 characters
    draft = th.render(Post(id="long", text=words))
    assert len(draft.parts) == 2
    assert all(p.length <= 500 for p in draft.parts)
    assert draft.parts[0].text.endswith(" 1/2")
    base = ("Shots " * 82).strip()  # 491 characters
    fits = th.render(Post(id="e", text=base + " 👍👍"))  # 491 + 1 + 2 * 4 = 500
    assert [p.length for p in fits.parts] == [500]
    over = base + " 👍👍👍"  # 504 as Threads counts, though Python's len() says 495
    assert len(over) == 495
    assert len(th.render(Post(id="e", text=over)).parts) == 2


def test_more_than_five_links_are_refused(th) -> None:
    links = " ".join(f"https://riverside.example/{i}" for i in range(6))
    with pytest.raises(LimitExceeded) as info:
        th.render(Post(id="p", text=f"Clinics: {links}"))
    assert (info.value.field, info.value.limit, info.value.value) == ("text", 5, 6)
    with pytest.raises(LimitExceeded) as reply:
        th.render(Post(id="p", text="Clinics near you.", thread=("Hours.", f"All: {links}")))
    assert reply.value.field == "thread[1]"
    same = " ".join(["https://riverside.example/flu"] * 6)  # unique links are counted
    assert th.render(Post(id="p", text=same)).parts


def test_local_file_needs_a_media_host(th, tmp_path) -> None:
    (tmp_path / "lobby.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    with pytest.raises(InvalidPost) as info:
        th.render(Post(id="p", text="Lobby", media=[Media(source="lobby.png", alt_text="x")]))
    assert "media[0].source" in str(info.value)
    assert "media_host_path" in str(info.value)


# -- publishing --------------------------------------------------------------------------------


def test_text_post(th, ordered) -> None:
    ordered.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    script_part(ordered, "c-1", "18000000000000001")
    script_permalink(ordered, "18000000000000001")
    receipt = th.publish(th.render(POST), "cc-key")
    calls = ordered.calls
    assert query(calls[0])["fields"] == "quota_usage,config,reply_quota_usage,reply_config"
    assert form(calls[1]) == {"media_type": "TEXT", "text": POST.text}
    assert query(calls[2])["fields"] == "status,error_message"
    assert form(calls[3]) == {"creation_id": "c-1"}
    assert (receipt.remote_id, receipt.part_ids) == ("18000000000000001",
                                                     ("18000000000000001",))
    assert receipt.url == "https://www.threads.com/@riversidegeneral/post/DAbc12"
    assert receipt.published_at == datetime(2026, 11, 20, 9, 0, 5, tzinfo=UTC)
    for call in calls:  # the token travels in a header, never in a URL
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in call.request.url
        assert call.request.url.startswith(BASE)


def test_image_post_with_alt_text_and_reply_control(tmp_path, ordered) -> None:
    th = make(tmp_path, reply_control="accounts_you_follow")
    ordered.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    script_part(ordered, "c-1", "m-1")
    script_permalink(ordered, "m-1")
    th.publish(th.render(Post(id="p", text="Our new lobby.", media=[IMAGE])), "k")
    assert form(ordered.calls[1]) == {"media_type": "IMAGE", "image_url": IMAGE.source,
                                      "alt_text": "The new lobby", "text": "Our new lobby.",
                                      "reply_control": "accounts_you_follow"}


def test_carousel_of_image_and_video(th, ordered) -> None:
    ordered.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    ordered.post(f"{BASE}/{USER}/threads", json={"id": "item-1"})
    ordered.post(f"{BASE}/{USER}/threads", json={"id": "item-2"})
    ordered.get(f"{BASE}/item-1", json={"status": "FINISHED", "id": "item-1"})
    ordered.get(f"{BASE}/item-2", json={"status": "IN_PROGRESS", "id": "item-2"})
    ordered.get(f"{BASE}/item-2", json={"status": "FINISHED", "id": "item-2"})
    script_part(ordered, "carousel-1", "m-9")
    script_permalink(ordered, "m-9")
    receipt = th.publish(th.render(Post(id="p", text="Tour", media=[IMAGE, VIDEO])), "k")
    calls = ordered.calls
    assert form(calls[1]) == {"is_carousel_item": "true", "media_type": "IMAGE",
                              "image_url": IMAGE.source, "alt_text": "The new lobby"}
    assert form(calls[2]) == {"is_carousel_item": "true", "media_type": "VIDEO",
                              "video_url": VIDEO.source}
    assert form(calls[6]) == {"text": "Tour", "media_type": "CAROUSEL",
                              "children": "item-1,item-2"}
    assert receipt.remote_id == "m-9"
    assert th.clock.sleeps == [5]


def test_carousel_over_20_is_refused(th) -> None:
    items = [Media(source=f"https://cdn.riverside.example/{i}.jpg", alt_text="x")
             for i in range(21)]
    with pytest.raises(LimitExceeded) as info:
        th.render(Post(id="p", text="Many", media=items))
    assert (info.value.field, info.value.limit) == ("media", 20)


def test_reply_chain_links_each_part_to_the_one_before(th, ordered) -> None:
    ordered.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    script_part(ordered, "c-1", "m-1")
    script_part(ordered, "c-2", "m-2")
    script_part(ordered, "c-3", "m-3")
    script_permalink(ordered, "m-1")
    post = Post(id="p", text="Flu season is here.", thread=("Shots are free.", "Walk in."))
    receipt = th.publish(th.render(post), "k")
    creates = [form(c) for c in ordered.calls if c.request.url == f"{BASE}/{USER}/threads"]
    assert creates == [{"media_type": "TEXT", "text": "Flu season is here."},
                       {"media_type": "TEXT", "text": "Shots are free.", "reply_to_id": "m-1"},
                       {"media_type": "TEXT", "text": "Walk in.", "reply_to_id": "m-2"}]
    assert receipt.part_ids == ("m-1", "m-2", "m-3")


def test_a_failed_reply_deletes_the_parts_sent(th, ordered) -> None:
    ordered.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    script_part(ordered, "c-1", "m-1")
    ordered.post(f"{BASE}/{USER}/threads", status=400,
                 json=graph_error(100, message="(#100) Invalid parameter"))
    ordered.delete(f"{BASE}/m-1", json={"success": True, "deleted_id": "m-1"})
    with pytest.raises(PlatformRejected):
        th.publish(th.render(Post(id="p", text="One.", thread=("Two.",))), "k")
    assert ordered.calls[-1].request.method == "DELETE"


@pytest.mark.parametrize("code", sorted(CONTAINER_ERRORS))
def test_a_failed_container_names_its_error(th, mocked, code) -> None:
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", json={"id": "c-1"})
    mocked.get(f"{BASE}/c-1", json={"status": "ERROR", "id": "c-1", "error_message": code})
    with pytest.raises(PlatformRejected) as info:
        th.publish(th.render(Post(id="p", text="Tour", media=[VIDEO])), "k")
    assert info.value.code == code
    assert CONTAINER_ERRORS[code] in str(info.value)
    assert not info.value.retryable
    assert not any(c.request.url.endswith("threads_publish") for c in mocked.calls)


def test_an_expired_container_may_be_retried(th, mocked) -> None:
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", json={"id": "c-1"})
    mocked.get(f"{BASE}/c-1", json={"status": "EXPIRED", "id": "c-1"})
    with pytest.raises(PlatformRejected) as info:
        th.publish(th.render(POST), "k")
    assert info.value.retryable
    assert "expired" in str(info.value)


def test_a_container_still_in_progress_times_out_unpublished(tmp_path, mocked) -> None:
    th = make(tmp_path, poll_timeout=20)
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", json={"id": "c-1"})
    mocked.get(f"{BASE}/c-1", json={"status": "IN_PROGRESS", "id": "c-1"})
    with pytest.raises(ChannelTimeout) as info:
        th.publish(th.render(Post(id="p", text="Tour", media=[VIDEO])), "k")
    assert not info.value.may_have_been_sent
    assert th.clock.sleeps == [5, 5, 5]  # four polls over 20 seconds


@pytest.mark.parametrize(("limit", "post"), [
    ({"quota_usage": 250, "config": {"quota_total": 250, "quota_duration": 86400}}, POST),
    ({"quota_usage": 1, "config": {"quota_total": 250, "quota_duration": 86400},
      "reply_quota_usage": 999, "reply_config": {"quota_total": 1000, "quota_duration": 86400}},
     Post(id="p", text="One.", thread=("Two.", "Three."))),
], ids=["posts", "replies"])
def test_used_up_publishing_limit_sends_nothing(th, mocked, limit, post) -> None:
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json={"data": [limit]})
    with pytest.raises(RateLimited) as info:
        th.publish(th.render(post), "k")
    assert info.value.retry_after == 3600
    assert "nothing was sent" in str(info.value)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(("code", "subcode", "cls"), [
    (190, 463, AuthenticationError), (190, 460, AuthenticationError),
    (4, None, RateLimited), (17, None, RateLimited), (10, None, PermissionDenied),
    (200, None, PermissionDenied), (100, 33, PlatformRejected), (2, None, ChannelServerError),
    (1, None, ChannelServerError),
])
def test_graph_errors_on_container_creation(th, mocked, code, subcode, cls) -> None:
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", status=400 if code != 2 else 500,
                json=graph_error(code, subcode, message=f"(#{code}) echo {TOKEN}"))
    with pytest.raises(cls) as info:
        th.publish(th.render(POST), "k")
    assert type(info.value) is cls
    assert TOKEN not in str(info.value) + repr(info.value)
    if cls is AuthenticationError:
        assert "Threads user access token" in str(info.value)
        assert "docs/channels/threads.md" in str(info.value)


def test_an_error_inside_a_200_is_an_error(th, mocked) -> None:
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", json=graph_error(190, 467))
    with pytest.raises(AuthenticationError):
        th.publish(th.render(POST), "k")


def test_local_file_is_copied_to_the_media_host(tmp_path, ordered) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "lobby.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    th = make(tmp_path, media_host_path="site", media_host_url="https://riverside.example/m")
    ordered.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    script_part(ordered, "c-1", "m-1")
    script_permalink(ordered, "m-1")
    th.publish(th.render(Post(id="p", text="Lobby", media=[
        Media(source="lobby.png", alt_text="Lobby")])), "k")
    url = form(ordered.calls[1])["image_url"]
    assert url.startswith("https://riverside.example/m/")
    assert (tmp_path / "site" / url.rsplit("/", 1)[1]).exists()


# -- through the publisher: an unknown outcome is reconciled -----------------------------------


def config(tmp_path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"riverside-threads": {"channel": "threads", "brand": "riverside",
                                           "user_id": USER}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__RIVERSIDE_THREADS__ACCESS_TOKEN": TOKEN})


def test_a_publish_timeout_is_reconciled_without_a_second_post(tmp_path, no_sleep,
                                                               mocked) -> None:
    sent_at = no_sleep.clock.now()
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", json={"id": "c-1"})
    mocked.get(f"{BASE}/c-1", json={"status": "FINISHED", "id": "c-1"})
    mocked.post(f"{BASE}/{USER}/threads_publish", body=requests.ReadTimeout("read timed out"))
    stamp = (sent_at + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    mocked.get(f"{BASE}/{USER}/threads", json={"data": [
        {"id": "m-other", "text": "Something else", "timestamp": stamp},
        {"id": "m-1", "text": POST.text, "timestamp": stamp,
         "permalink": "https://www.threads.com/@riversidegeneral/post/DAbc12"},
        {"id": "m-old", "text": POST.text,  # last year's words: not this post
         "timestamp": (sent_at - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S+0000")}]})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["riverside-threads"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.reconciled
    assert outcome.receipt.remote_id == "m-1"
    publishes = [c for c in mocked.calls if c.request.url.endswith("/threads_publish")]
    assert len(publishes) == 1


# -- lookup, delete, reads ---------------------------------------------------------------------


def test_lookup_finds_the_whole_chain(th, mocked) -> None:
    draft = th.render(Post(id="p", text="One.", thread=("Two.",)))
    mocked.get(f"{BASE}/{USER}/threads", json={"data": [
        {"id": "m-1", "text": "One.", "timestamp": STAMP}]})
    mocked.get(f"{BASE}/m-1/replies", json={"data": [
        {"id": "r-x", "text": "Two.", "timestamp": STAMP, "is_reply_owned_by_me": False},
        {"id": "m-2", "text": "Two.", "timestamp": STAMP, "is_reply_owned_by_me": True}]})
    found = th.lookup("k", draft)
    assert found is not None
    assert (found.part_ids, found.reconciled) == (("m-1", "m-2"), True)
    assert query(mocked.calls[0])["fields"] == "id,text,permalink,timestamp"


def test_lookup_of_half_a_chain_asks_a_person(th, mocked) -> None:
    draft = th.render(Post(id="p", text="One.", thread=("Two.",)))
    mocked.get(f"{BASE}/{USER}/threads", json={"data": [
        {"id": "m-1", "text": "One.", "timestamp": STAMP}]})
    mocked.get(f"{BASE}/m-1/replies", json={"data": []})
    with pytest.raises(OutcomeUnknown) as info:
        th.lookup("k", draft)
    assert not info.value.retryable
    assert "1 of the thread's 2 parts" in str(info.value)


def test_lookup_not_found(th, mocked) -> None:
    mocked.get(f"{BASE}/{USER}/threads", json={"data": [{"id": "1", "text": "Other",
                                                         "timestamp": STAMP}]})
    assert th.lookup("k", th.render(POST)) is None


def test_delete_removes_the_last_reply_first(th, mocked) -> None:
    for media_id in ("m-1", "m-2"):
        mocked.delete(f"{BASE}/{media_id}", json={"success": True, "deleted_id": media_id})
    th.delete(Receipt(post_id="p", account="riverside-threads", channel="threads",
                      remote_id="m-1", part_ids=("m-1", "m-2"), published_at=NOW))
    assert [c.request.url for c in mocked.calls] == [f"{BASE}/m-2", f"{BASE}/m-1"]


def test_delete_without_the_permission(th, mocked) -> None:
    mocked.delete(f"{BASE}/m-1", status=403, json=graph_error(
        10, message="Application does not have permission for this action"))
    with pytest.raises(PermissionDenied):
        th.delete(Receipt(post_id="p", account="riverside-threads", channel="threads",
                          remote_id="m-1", published_at=NOW))


def test_fetch_profile(th, mocked) -> None:
    mocked.get(f"{BASE}/{USER}", json={
        "id": USER, "username": "riversidegeneral", "name": "Riverside General Hospital",
        "threads_profile_picture_url": "https://scontent.cdninstagram.com/v/logo.jpg",
        "threads_biography": "Caring for the river valley since 1921.", "is_verified": True})
    profile = th.fetch_profile()
    assert (profile.display_name, profile.handle) == ("Riverside General Hospital",
                                                      "riversidegeneral")
    assert profile.description == "Caring for the river valley since 1921."
    assert profile.avatar_url == "https://scontent.cdninstagram.com/v/logo.jpg"
    assert profile.extra == {"url": "https://www.threads.com/@riversidegeneral",
                             "is_verified": True}


def test_fetch_mentions_and_replies(th, mocked) -> None:
    since = datetime(2026, 11, 19, tzinfo=UTC)
    mocked.get(f"{BASE}/{USER}/mentions", json={"data": [
        {"id": "t1", "text": "Great care at @riversidegeneral", "username": "annlee",
         "timestamp": "2026-11-19T12:00:00+0000", "permalink": "https://www.threads.com/t1"},
        {"id": "t0", "text": "old", "username": "x", "timestamp": "2026-10-01T00:00:00+0000"}]})
    mocked.get(f"{BASE}/{USER}/threads", json={"data": [{"id": "m-1", "timestamp": STAMP}]})
    mocked.get(f"{BASE}/m-1/replies", json={"data": [
        {"id": "r1", "text": "Is it open Sundays?", "username": "bo",
         "timestamp": "2026-11-19T10:00:00+0000", "is_reply_owned_by_me": False},
        {"id": "r2", "text": "Yes!", "username": "riversidegeneral",
         "timestamp": "2026-11-19T11:00:00+0000", "is_reply_owned_by_me": True}]})
    mentions = th.fetch_mentions(since)
    assert [(m.remote_id, m.kind, m.author) for m in mentions] == [
        ("r1", "reply", "bo"), ("t1", "mention", "annlee")]
    assert query(mocked.calls[0])["since"] == str(int(since.timestamp()))
    th.fetch_mentions(datetime(2020, 1, 1, tzinfo=UTC))  # before Threads existed
    last = [c for c in mocked.calls if "/mentions" in c.request.url][-1]
    assert query(last)["since"] == "1688540400"


def test_fetch_metrics(th, mocked) -> None:
    mocked.get(f"{BASE}/m-1/insights", json={"data": [
        {"name": name, "period": "lifetime", "values": [{"value": value}], "title": name,
         "description": "...", "id": f"m-1/insights/{name}/lifetime"}
        for name, value in (("views", 5400), ("likes", 230), ("replies", 14),
                            ("reposts", 9), ("quotes", 3), ("shares", 12))]})
    metrics = th.fetch_metrics(Receipt(post_id="p", account="riverside-threads",
                                       channel="threads", remote_id="m-1", published_at=NOW))
    assert (metrics.impressions, metrics.likes, metrics.replies, metrics.reposts) == (
        5400, 230, 14, 9)
    assert metrics.extra == {"quotes": 3, "shares": 12}
    assert query(mocked.calls[0])["metric"] == "views,likes,replies,reposts,quotes,shares"


def test_secrets_never_shown(th) -> None:
    for text in (repr(th), str(th.options), repr(th.options), th.options.model_dump_json()):
        assert TOKEN not in text
