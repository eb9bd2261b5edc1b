"""Threads replies and keyword search at the HTTP layer.

Shapes follow Meta's Threads API documentation: a reply is ``POST /{user}/threads`` with
``media_type=TEXT``, ``text`` and ``reply_to_id``, then ``POST /{user}/threads_publish``
with ``creation_id`` (each answering ``{"id"}``); ``/{user}/replies`` lists the profile's
replies with ``replied_to``; ``GET /keyword_search`` takes ``q``, ``search_type`` (TOP or
RECENT), ``since``/``until`` (Unix times), ``limit`` and ``fields`` and answers ``{"data":
[{"id", "text", "username", "timestamp", "permalink"}], "paging"}``; errors are Graph's.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from carecast.channels.threads import ThreadsChannel, ThreadsOptions
from carecast.errors import (
    ChannelError,
    InvalidPost,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Mention, Post
from carecast.testing import FrozenClock

from .test_threads import BASE, LIMIT, NOW, TOKEN, USER

SAID = "My son Eli Brooks was in your ICU after his overdose on 11/14, please call me back."
REPLY = "Thank you for reaching out; please contact our patient relations team at 555-0142."


def make() -> ThreadsChannel:
    opts = ThreadsOptions(access_token=TOKEN, user_id=USER, poll_interval=5)
    return ThreadsChannel("riverside-threads", opts, clock=FrozenClock(NOW))


def mention(remote_id: str = "18031234567890123") -> Mention:
    return Mention(channel="threads", account="riverside-threads", remote_id=remote_id,
                   author="dana.brooks", text=SAID, kind="reply",
                   created_at=NOW - timedelta(hours=1))


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body or "").items()}


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def graph_error(code: int, message: str = "An error", subcode: int | None = None) -> dict:
    error = {"message": message, "type": "THApiException", "code": code, "fbtrace_id": "AbC"}
    return {"error": {**error, **({"error_subcode": subcode} if subcode else {})}}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


def test_a_reply_is_a_text_container_replying_to_the_mention(mocked) -> None:
    th = make()
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    create = mocked.post(f"{BASE}/{USER}/threads", json={"id": "c-1"})
    mocked.get(f"{BASE}/c-1", json={"status": "FINISHED", "id": "c-1"})
    publish = mocked.post(f"{BASE}/{USER}/threads_publish", json={"id": "18099"})
    mocked.get(f"{BASE}/18099", json={"permalink": "https://www.threads.com/@rg/post/x",
                                      "timestamp": "2026-11-20T09:00:03+0000"})
    receipt = make().reply(mention(), th.render_reply(Post(id="reply-1", text=REPLY)), "k-7")
    assert form(create.calls[0]) == {"media_type": "TEXT", "text": REPLY,
                                     "reply_to_id": "18031234567890123"}
    assert form(publish.calls[0]) == {"creation_id": "c-1"}
    assert create.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert receipt.remote_id == "18099"
    assert receipt.url == "https://www.threads.com/@rg/post/x"
    assert receipt.extra == {"kind": "reply", "parent": "18031234567890123", "key": "k-7"}


def test_a_used_up_reply_quota_sends_nothing(mocked) -> None:
    th = make()
    full = {"data": [{**LIMIT["data"][0], "quota_usage": 250, "reply_quota_usage": 1000}]}
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=full)
    with pytest.raises(RateLimited, match="1000 of 1000 replies"):
        th.reply(mention(), th.render_reply(Post(id="r", text=REPLY)))


def test_a_reply_without_the_permission_names_it(mocked) -> None:
    th = make()
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", status=403, json=graph_error(
        10, "Application does not have permission for this action"))
    with pytest.raises(PermissionDenied, match="threads_manage_replies"):
        th.reply(mention(), th.render_reply(Post(id="r", text=REPLY)))


def test_a_reply_to_a_deleted_post_and_a_bad_id_are_clear(mocked) -> None:
    th = make()
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", status=400, json=graph_error(
        100, "Unsupported post request. Object with ID '18031234567890123' does not exist",
        33))
    draft = th.render_reply(Post(id="r", text=REPLY))
    with pytest.raises(PlatformRejected, match="Graph refused"):
        th.reply(mention(), draft)
    with pytest.raises(InvalidPost, match=r"mention.remote_id: .* not a Threads media id"):
        th.reply(mention("18031/../me/threads_publish"), draft)


def test_an_error_quoting_the_mention_never_shows_it(mocked, caplog) -> None:
    th = make()
    caplog.set_level(logging.DEBUG)
    mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
    mocked.post(f"{BASE}/{USER}/threads", status=400, json=graph_error(
        100, f"Cannot reply to '{SAID}' (by dana.brooks): reply_control"))
    with pytest.raises(ChannelError) as caught:
        th.reply(mention(), th.render_reply(Post(id="r", text=REPLY)))
    shown = [str(caught.value), repr(caught.value), str(caught.value.code),
             "".join(traceback.format_exception(caught.value)), caplog.text]
    assert all("Eli" not in s and "overdose" not in s and "dana.brooks" not in s
               for s in shown)
    assert "Threads refused the request" in shown[0]


def test_lookup_reply_finds_the_reply_to_this_mention(mocked) -> None:
    th = make()
    draft = th.render_reply(Post(id="r", text=REPLY))
    mocked.get(f"{BASE}/{USER}/replies", json={"data": [
        {"id": "18100", "text": REPLY, "timestamp": "2026-11-20T08:59:00+0000",
         "permalink": "https://www.threads.com/@rg/post/y",
         "replied_to": {"id": "18031234567890123"}}]})
    found = th.lookup_reply(mention(), draft, "k")
    assert found is not None
    assert found.reconciled
    assert found.remote_id == "18100"
    assert th.lookup_reply(mention("18031234567890999"), draft, "k") is None


def test_keyword_search_reads_recent_posts_after_the_marker(mocked) -> None:
    th = make()
    after = "2026-11-19T09:00:00+00:00"
    search = mocked.get(f"{BASE}/keyword_search", json={"data": [
        {"id": "p2", "text": "Riverside General ER was quick", "username": "ann",
         "timestamp": "2026-11-20T08:00:00+0000", "permalink": "https://www.threads.com/p2"},
        {"id": "p1", "text": "riverside genral parking?", "username": "bo",
         "timestamp": "2026-11-19T12:00:00+0000"},
        {"id": "p0", "text": "seen before", "username": "cy",
         "timestamp": "2026-11-19T09:00:00+0000"}]})
    found, marker = th.search_mentions(["Riverside General", "Riverside Genral"], after)
    asked = query(search.calls[0])
    assert asked["q"] == "Riverside General"
    assert asked["search_type"] == "RECENT"
    assert asked["since"] == str(int(datetime.fromisoformat(after).timestamp()))
    assert asked["until"] == str(int(NOW.timestamp()))
    assert set(asked["fields"].split(",")) >= {"id", "text", "username", "timestamp"}
    assert query(search.calls[1])["q"] == "Riverside Genral"
    assert [(m.remote_id, m.kind) for m in found] == [("p1", "search"), ("p2", "search")]
    assert marker == "2026-11-20T08:00:00+00:00"
    search.body = '{"data": []}'
    assert th.search_mentions(["Riverside General"], marker) == ([], marker)


def test_keyword_search_caps_what_it_reads(mocked) -> None:
    th = make()
    mocked.get(f"{BASE}/keyword_search", json={"data": [
        {"id": f"p{i}", "text": "Riverside", "username": "u",
         "timestamp": f"2026-11-20T0{i}:00:00+0000"} for i in range(5)]})
    found, _ = th.search_mentions(["Riverside", "Riverside General"], None, limit=3)
    assert len(found) == 3
    assert len(mocked.calls) == 1
    assert query(mocked.calls[0])["limit"] == "3"
    assert query(mocked.calls[0])["since"] == "1688540400"  # as far back as Threads goes


def test_keyword_search_errors_are_mapped(mocked) -> None:
    th = make()
    mocked.get(f"{BASE}/keyword_search", status=403, json=graph_error(
        10, "Application does not have permission for this action"))
    with pytest.raises(PermissionDenied, match="threads_keyword_search"):
        th.search_mentions(["Riverside"], None)
    mocked.replace(responses.GET, f"{BASE}/keyword_search", status=429,
                   json=graph_error(613, "Calls to this api have exceeded the rate limit."))
    with pytest.raises(RateLimited):
        th.search_mentions(["Riverside"], None)
    calls = len(mocked.calls)
    with pytest.raises(PlatformRejected, match="search term takes 1 to 200"):
        th.search_mentions(["Riverside", "x" * 201], None)
    assert len(mocked.calls) == calls  # nothing searched


def test_carecast_listen_searches_threads_for_each_query(tmp_path, mocked) -> None:
    from carecast.config import Config
    from carecast.listen import Listener
    from carecast.publish import Publisher

    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"thr": {"channel": "threads", "brand": "riverside", "user_id": USER,
                             "access_token": TOKEN}},
        "listen": {"queries": {"rival": {"terms": ["Lakeside Medical"], "kind": "competitor",
                                         "brand": "riverside"}}},
    }, root=tmp_path, environ={})
    mocked.get(f"{BASE}/{USER}/mentions", json={"data": []})
    mocked.get(f"{BASE}/{USER}/threads", json={"data": []})
    search = mocked.get(f"{BASE}/keyword_search", json={"data": [
        {"id": "p9", "text": "Lakeside Medical fined for billing", "username": "news",
         "timestamp": "2026-11-20T08:00:00+0000"}]})
    with Publisher(config, clock=FrozenClock(NOW), entry_point_plugins=False) as publisher:
        listener = Listener(publisher)
        report = listener.run_once()
        assert {r.source: (r.status, r.new) for r in report.results} == {
            "own:thr": ("ok", 0), "search:thr:rival": ("ok", 1)}
        [item] = listener.store.search(query="rival")
        assert (item.mention.kind, item.labels) == ("search", ("competitor",))
        listener.run_once()
        assert query(search.calls[-1])["since"] == str(int(datetime(
            2026, 11, 20, 8, tzinfo=UTC).timestamp()))


def test_a_threads_reply_goes_through_the_gate_and_approval(tmp_path, mocked) -> None:
    from carecast.config import Config
    from carecast.publish import Publisher
    from carecast.records import State
    from carecast.replies import Replies

    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"riverside": {"name": "Riverside General", "replies": {
            "contact": "555-0142", "templates": {"contact_us": REPLY.replace(
                "555-0142", "{contact}")}}}},
        "accounts": {"riverside-threads": {"channel": "threads", "brand": "riverside",
                                           "user_id": USER, "access_token": TOKEN}},
    }, root=tmp_path, environ={})
    with Publisher(config, clock=FrozenClock(NOW), entry_point_plugins=False) as publisher:
        replies = Replies(publisher)
        unsafe = replies.compose(mention(), text="So sorry about Eli's stay in our ICU; "
                                                 "we hope he is recovering.")
        assert replies.send(mention(), unsafe).state == State.BLOCKED
        post = replies.compose(mention(), template="contact_us")
        assert replies.send(mention(), post).state == State.AWAITING_APPROVAL
        publisher.approve(post.id, "Dana Reyes")
        mocked.get(f"{BASE}/{USER}/threads_publishing_limit", json=LIMIT)
        create = mocked.post(f"{BASE}/{USER}/threads", json={"id": "c-1"})
        mocked.get(f"{BASE}/c-1", json={"status": "FINISHED", "id": "c-1"})
        mocked.post(f"{BASE}/{USER}/threads_publish", json={"id": "18099"})
        mocked.get(f"{BASE}/18099", json={"timestamp": "2026-11-20T09:00:03+0000"})
        assert replies.send(mention(), post).state == State.PUBLISHED
        assert [form(c)["reply_to_id"] for c in create.calls] == ["18031234567890123"]
        assert replies.send(mention(), post).already_published
        assert create.call_count == 1


def test_keyword_search_follows_paging(mocked) -> None:
    th = make()
    page2 = f"{BASE}/keyword_search?q=Riverside&after=QVFIU&access_token=leaked"
    first = mocked.get(f"{BASE}/keyword_search", match=[
        responses.matchers.query_param_matcher({"after": "QVFIU"}, strict_match=False)],
        json={"data": [{"id": "p1", "text": "Riverside", "username": "u",
                        "timestamp": "2026-11-20T01:00:00+0000"}]})
    mocked.get(f"{BASE}/keyword_search", json={"data": [
        {"id": "p2", "text": "Riverside", "username": "u",
         "timestamp": "2026-11-20T02:00:00+0000"}], "paging": {"next": page2}})
    found, _ = th.search_mentions(["Riverside"], None)
    assert [m.remote_id for m in found] == ["p1", "p2"]
    assert first.call_count == 1
    assert "access_token" not in first.calls[0].request.url
