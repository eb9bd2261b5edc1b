"""Google Business Profile reviews at the HTTP layer: listening (``reviews.list``, paged and
newest change first), the owner's reply (``PUT .../reviews/{id}/reply``), its lookup, the
errors (a rate limit, a review deleted before the reply) and what never leaks.

Shapes follow Google's v4 reference: ``reviews.list`` answers ``{"reviews": [Review],
"averageRating", "totalReviewCount", "nextPageToken"}``; a ``Review`` is ``{"name":
"accounts/{a}/locations/{l}/reviews/{id}", "reviewId", "reviewer": {"displayName",
"profilePhotoUrl", "isAnonymous"}, "starRating": "ONE".."FIVE", "comment", "createTime",
"updateTime", "reviewReply": {"comment", "updateTime"}}``; ``updateReply`` takes and answers
a ``ReviewReply``; errors are ``google.rpc.Status``.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from carecast.channels.gbp import GoogleBusinessChannel, GoogleBusinessOptions
from carecast.config import Config
from carecast.errors import (
    ChannelError,
    InvalidPost,
    LimitExceeded,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Mention, Post
from carecast.publish import Publisher
from carecast.publish.retry import RetryPolicy
from carecast.records import State
from carecast.replies import Replies
from carecast.store.mentions import MentionStore, StoredMention
from carecast.testing import FrozenClock

ACCOUNT = "1122334455"
TOKEN = "ya29.gbp-access-secret"
V4 = f"https://mybusiness.googleapis.com/v4/accounts/{ACCOUNT}/locations"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SAID = "Dr. Patel misread my mother Rosa Alvarez's MRI on 11/12, we waited 6 hours. Awful."
WRITER = "Miguel Alvarez"
TEMPLATE = "Thank you for your feedback; please contact our patient relations team at {contact}."
REVIEW = f"accounts/{ACCOUNT}/locations/77/reviews/AIe9_BGx7Kq2hYc3"


def stamp(days: float) -> str:
    """A time ``days`` before NOW as Google writes it (nanoseconds, Z)."""
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


def review(rid: str, days: float, *, stars: str = "FIVE", comment: str | None = "Kind staff.",
           anonymous: bool = False, location: str = "77", **more: object) -> dict:
    item: dict = {"name": f"accounts/{ACCOUNT}/locations/{location}/reviews/{rid}",
                  "reviewId": rid, "starRating": stars, "createTime": stamp(days + 1),
                  "updateTime": stamp(days),
                  "reviewer": {"isAnonymous": True} if anonymous else {
                      "displayName": "Ann Lee", "profilePhotoUrl": "https://lh3.example/a"}}
    if comment is not None:
        item["comment"] = comment
    return {**item, **more}


def make(**options: object) -> GoogleBusinessChannel:
    opts = GoogleBusinessOptions(account_id=ACCOUNT, access_token=TOKEN, **options)
    return GoogleBusinessChannel("riverside-gbp", opts, clock=FrozenClock(NOW))


def mention(remote_id: str = REVIEW, text: str = SAID) -> Mention:
    return Mention(channel="gbp", account="riverside-gbp", remote_id=remote_id, author=WRITER,
                   text=text, kind="review", rating=1, created_at=NOW - timedelta(hours=3),
                   parent_id="locations/77")


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def status(code: int, name: str, message: str, *details: dict) -> dict:
    return {"error": {"code": code, "message": message, "status": name,
                      "details": list(details)}}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


def test_reviews_are_read_newest_change_first_paged_and_stopped_at_since(mocked) -> None:
    gbp = make(locations=("77", "78"))
    first = mocked.get(f"{V4}/77/reviews", match=[responses.matchers.query_param_matcher(
        {"pageSize": "50", "orderBy": "updateTime desc"})], json={
        "reviews": [review("r3", 0.5, stars="ONE", comment=SAID),
                    review("r2", 1, stars="FOUR", anonymous=True)],
        "averageRating": 4.1, "totalReviewCount": 3, "nextPageToken": "page-2"})
    second = mocked.get(f"{V4}/77/reviews", match=[responses.matchers.query_param_matcher(
        {"pageSize": "50", "orderBy": "updateTime desc", "pageToken": "page-2"})], json={
        "reviews": [review("r1", 2, stars="THREE", comment=None),
                    review("r0", 9, comment="older than since: not read on"),
                    review("never", 1)],  # after an older one: Google's order ends the read
        "nextPageToken": "page-3"})
    mocked.get(f"{V4}/78/reviews", json={"reviews": [
        review("s1", 0.25, location="78", reviewReply={"comment": "Thank you!",
                                                        "updateTime": stamp(0.1)})]})
    found = gbp.fetch_mentions(NOW - timedelta(days=3))
    assert first.call_count == second.call_count == 1  # page 3 never asked for
    assert [(m.remote_id.rsplit("/", 1)[-1], m.rating, m.author, m.kind) for m in found] == [
        ("r1", 3, "Ann Lee", "review"), ("r2", 4, "anonymous", "review"),
        ("r3", 1, "Ann Lee", "review"), ("s1", 5, "Ann Lee", "review")]
    assert found[0].text == ""
    assert found[2].text == SAID
    assert found[2].created_at.replace(microsecond=0) == NOW - timedelta(hours=12)  # updateTime
    assert found[3].parent_id == "locations/78"
    assert found[0].key == f"gbp:riverside-gbp:accounts/{ACCOUNT}/locations/77/reviews/r1"


def test_every_location_of_the_account_is_read_when_none_is_configured(mocked) -> None:
    mocked.get("https://mybusinessbusinessinformation.googleapis.com/v1/accounts/"
               f"{ACCOUNT}/locations", json={"locations": [{"name": "locations/77"}]})
    mocked.get(f"{V4}/77/reviews", json={"totalReviewCount": 0})  # no reviews: no list
    assert make().fetch_mentions(NOW - timedelta(days=1)) == []


def test_a_rate_limited_read_waits_as_google_says(mocked) -> None:
    mocked.get(f"{V4}/77/reviews", status=429, json=status(
        429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests'.",
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "42s"}))
    with pytest.raises(RateLimited) as caught:
        make(locations=("77",)).fetch_mentions(NOW - timedelta(days=1))
    assert caught.value.retry_after == 42.0
    assert caught.value.retryable


def test_the_reply_replaces_the_reviews_one_reply(mocked) -> None:
    gbp = make(locations=("77",))
    text = TEMPLATE.replace("{contact}", "555-0142")
    put = mocked.put(f"https://mybusiness.googleapis.com/v4/{REVIEW}/reply",
                     json={"comment": text, "updateTime": "2026-11-20T09:00:01Z"})
    draft = gbp.render_reply(Post(id="reply-1", text=text))
    receipt = gbp.reply(mention(), draft, "k-1")
    assert json.loads(put.calls[0].request.body) == {"comment": text}
    assert put.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert receipt.remote_id == f"{REVIEW}/reply"
    assert receipt.published_at == datetime(2026, 11, 20, 9, 0, 1, tzinfo=UTC)
    assert receipt.extra == {"kind": "review_reply", "parent": REVIEW, "key": "k-1"}
    gbp.reply(mention(), draft, "k-1")  # a resend overwrites the same reply
    assert put.call_count == 2


def test_a_reply_is_capped_at_4096_bytes_and_needs_a_review_of_this_account() -> None:
    gbp = make(locations=("77",))
    with pytest.raises(LimitExceeded, match=r"text: .*4096 bytes"):
        gbp.render_reply(Post(id="r", text="é" * 2100))  # 2,100 characters, 4,200 bytes
    assert gbp.render_reply(Post(id="r", text="a" * 4096)).text
    draft = gbp.render_reply(Post(id="r", text="Thank you."))
    for wrong in ("accounts/999/locations/77/reviews/abc",
                  f"accounts/{ACCOUNT}/locations/77/reviews/../../localPosts",
                  f"accounts/{ACCOUNT}/locations/77"):
        with pytest.raises(InvalidPost, match=r"mention.remote_id: .* is not a review"):
            gbp.reply(mention(wrong), draft)


def test_a_review_deleted_before_the_reply_says_so(mocked) -> None:
    mocked.put(f"https://mybusiness.googleapis.com/v4/{REVIEW}/reply", status=404,
               json=status(404, "NOT_FOUND", "Requested entity was not found."))
    gbp = make(locations=("77",))
    with pytest.raises(PlatformRejected, match="no longer on Google") as caught:
        gbp.reply(mention(), gbp.render_reply(Post(id="r", text="Thank you.")))
    assert caught.value.status == 404
    assert not caught.value.retryable


def test_a_missing_permission_names_the_scope(mocked) -> None:
    mocked.put(f"https://mybusiness.googleapis.com/v4/{REVIEW}/reply", status=403,
               json=status(403, "PERMISSION_DENIED", "The caller does not have permission"))
    gbp = make(locations=("77",))
    with pytest.raises(PermissionDenied, match=r"business\.manage"):
        gbp.reply(mention(), gbp.render_reply(Post(id="r", text="Thank you.")))


def test_lookup_reply_reads_the_reviews_reply(mocked) -> None:
    gbp = make(locations=("77",))
    draft = gbp.render_reply(Post(id="r", text="Thank you for   your feedback."))
    get = mocked.get(f"https://mybusiness.googleapis.com/v4/{REVIEW}", json=review(
        "AIe9_BGx7Kq2hYc3", 0.1, comment=SAID, reviewReply={
            "comment": "Thank you for your feedback.", "updateTime": "2026-11-20T08:59:00Z"}))
    found = gbp.lookup_reply(mention(), draft, "k")
    assert found is not None
    assert found.reconciled
    assert found.remote_id == f"{REVIEW}/reply"
    get.body = json.dumps(review("AIe9_BGx7Kq2hYc3", 0.1, comment=SAID))
    assert gbp.lookup_reply(mention(), draft, "k") is None  # no reply: sending is safe


def test_an_error_quoting_the_review_never_shows_it(mocked, caplog) -> None:
    echo = (f"Reply refused: it answers the review '{SAID}' by {WRITER}; "
            "see https://support.google.com/business")
    mocked.put(f"https://mybusiness.googleapis.com/v4/{REVIEW}/reply", status=400,
               headers={"X-Debug": SAID[:40]},
               json=status(400, "INVALID_ARGUMENT", echo, {
                   "@type": "type.googleapis.com/google.rpc.BadRequest",
                   "fieldViolations": [{"field": "comment", "description": echo}]}))
    mocked.get(f"https://mybusiness.googleapis.com/v4/{REVIEW}", status=500,
               json=status(500, "INTERNAL", f"backend failed on '{SAID[20:70]}'"))
    gbp = make(locations=("77",))
    draft = gbp.render_reply(Post(id="r", text="Thank you."))
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    for call in (lambda: gbp.reply(mention(), draft),
                 lambda: gbp.lookup_reply(mention(), draft, "k")):
        with pytest.raises(ChannelError) as caught:
            call()
        error = caught.value
        shown += [str(error), repr(error), json.dumps(error.headers), str(error.code),
                  "".join(traceback.format_exception(error))]
    shown.append(caplog.text)
    for text in shown:
        assert "Rosa" not in text
        assert "Alvarez" not in text
        assert "MRI" not in text
    assert "Google Business Profile refused the request" in shown[0]


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[Publisher]:
    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"riverside": {"name": "Riverside General", "phone": ["555-0142"],
                                 "replies": {"contact": "555-0142",
                                             "templates": {"contact_us": TEMPLATE}}}},
        "accounts": {"riverside-gbp": {"channel": "gbp", "brand": "riverside",
                                       "account_id": ACCOUNT, "locations": ["77"],
                                       "access_token": TOKEN}},
    }, root=tmp_path, environ={})
    clock = FrozenClock(NOW)
    with Publisher(config, clock=clock, entry_point_plugins=False,
                   retry=RetryPolicy(clock=clock, max_attempts=1)) as made:
        yield made


def test_a_review_reply_goes_through_the_gate_and_approval(publisher, mocked) -> None:
    replies = Replies(publisher)
    unsafe = replies.compose(mention(), text="So sorry Rosa's MRI was misread by Dr. Patel; "
                                             "we will review her chart.")
    assert replies.send(mention(), unsafe).state == State.BLOCKED
    post = replies.compose(mention(), template="contact_us")
    assert replies.send(mention(), post).state == State.AWAITING_APPROVAL
    publisher.approve(post.id, "Dana Reyes")
    put = mocked.put(f"https://mybusiness.googleapis.com/v4/{REVIEW}/reply",
                     json={"comment": post.text, "updateTime": "2026-11-20T09:00:01Z"})
    outcome = replies.send(mention(), post)
    assert outcome.state == State.PUBLISHED
    assert [json.loads(c.request.body)["comment"] for c in put.calls] == [post.text]
    assert replies.send(mention(), post).already_published
    assert put.call_count == 1
    events = json.dumps([e.data for e in publisher.ledger.audit_events()])
    assert "Rosa" not in events
    assert WRITER not in events


def test_an_unknown_outcome_is_reconciled_from_the_reviews_reply(publisher, mocked) -> None:
    replies = Replies(publisher)
    post = replies.compose(mention(), template="contact_us")
    replies.send(mention(), post)
    publisher.approve(post.id, "Dana Reyes")
    url = f"https://mybusiness.googleapis.com/v4/{REVIEW}/reply"
    mocked.put(url, body=requests.exceptions.ReadTimeout("read timed out"))
    first = replies.send(mention(), post)
    assert first.state == State.UNKNOWN
    mocked.get(f"https://mybusiness.googleapis.com/v4/{REVIEW}", json=review(
        "AIe9_BGx7Kq2hYc3", 0.1, reviewReply={"comment": post.text,
                                              "updateTime": "2026-11-20T09:00:01Z"}))
    second = replies.send(mention(), post)
    assert second.state == State.PUBLISHED
    assert second.receipt.reconciled
    assert len([c for c in mocked.calls if c.request.method == "PUT"]) == 1


def test_the_store_keeps_a_reviews_stars(publisher) -> None:
    store = MentionStore(publisher.ledger)
    store.save([StoredMention(mention=mention(), brand="riverside")], source="own:riverside-gbp",
               cursor=NOW.isoformat())
    [kept] = store.search(channel="gbp")
    assert (kept.mention.kind, kept.mention.rating) == ("review", 1)
    assert "Rosa" not in repr(kept)


def test_carecast_listen_collects_reviews_once_with_their_stars(publisher, mocked) -> None:
    from carecast.listen import Listener

    reviews = mocked.get(f"{V4}/77/reviews", json={"reviews": [
        review("r2", 0.5, stars="ONE", comment=SAID), review("r1", 1, stars="FIVE")]})
    listener = Listener(publisher)
    report = listener.run_once()
    assert {r.source: (r.status, r.new) for r in report.results} == {
        "own:riverside-gbp": ("ok", 2)}
    items = {i.mention.remote_id.rsplit("/", 1)[-1]: i for i in listener.store.search()}
    assert (items["r2"].mention.kind, items["r2"].mention.rating) == ("review", 1)
    assert "complaint" in items["r2"].labels
    assert items["r1"].mention.rating == 5
    assert listener.run_once().new == 0  # the cursor: read again, stored once
    assert reviews.call_count == 2


def test_a_rate_limit_pauses_only_the_review_source_until_googles_wait(publisher,
                                                                        mocked) -> None:
    from carecast.listen import Listener

    mocked.get(f"{V4}/77/reviews", status=429, json=status(
        429, "RESOURCE_EXHAUSTED", "Quota exceeded.",
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "120s"}))
    listener = Listener(publisher)
    [result] = listener.run_once().results
    assert result.status == "paused"
    [again] = listener.run_once().results  # the pause is kept: Google is not asked again
    assert again.status == "paused"
    assert len(mocked.calls) == 1


def test_a_store_from_before_ratings_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    from carecast.store import Ledger

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Ledger(url, clock=FrozenClock(NOW)).close()
    with sqlite3.connect(tmp_path / "old.db") as db:  # the table as an earlier carecast made it
        db.execute("ALTER TABLE carecast_mentions DROP COLUMN rating")
        db.execute("PRAGMA user_version = 12345")  # that carecast's schema fingerprint
    ledger = Ledger(url, clock=FrozenClock(NOW))
    try:
        store = MentionStore(ledger)
        store.save([StoredMention(mention=mention(), brand="riverside")], source="own:gbp",
                   cursor=None)
        assert [i.mention.rating for i in store.search()] == [1]
    finally:
        ledger.close()
