"""Each channel's search at the HTTP layer: Mastodon's v2 search and hashtag timelines, and
YouTube comment threads with ``searchTerms``; markers resume after the newest item, and
comments name their video."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses
from responses import matchers

from carecast.errors import RateLimited
from channels.test_mastodon import BASE
from channels.test_mastodon import make as make_masto
from channels.test_youtube import CHANNEL, VIDEO_ID, Mock, fail, ok, thread
from channels.test_youtube import make as make_youtube


def status(sid: str, text: str, when: str) -> dict[str, object]:
    return {"id": sid, "created_at": when, "content": f"<p>{text}</p>",
            "url": f"{BASE}/@ann/{sid}", "account": {"id": "9", "acct": "ann@other.example"}}


@responses.activate
def test_mastodon_search_and_hashtag_resume_after_the_newest_id(tmp_path: Path) -> None:
    masto = make_masto(tmp_path)
    responses.get(f"{BASE}/api/v2/search", json={"accounts": [], "hashtags": [], "statuses": [
        status("110000000000000020", "Riverside ER was quick", "2026-09-21T10:00:00.000Z")]},
        match=[matchers.query_param_matcher({"q": "riverside general", "type": "statuses",
                                             "resolve": "false", "limit": "40"})])
    responses.get(f"{BASE}/api/v1/timelines/tag/riversideflu", json=[
        status("110000000000000031", "Got my #RiversideFlu shot", "2026-09-21T11:00:00.000Z")],
        match=[matchers.query_param_matcher({"limit": "40"})])
    found, marker = masto.search_mentions(["riverside general", "#riversideflu"], None)
    assert [(m.remote_id, m.kind, m.text) for m in found] == [
        ("110000000000000020", "search", "Riverside ER was quick"),
        ("110000000000000031", "search", "Got my #RiversideFlu shot")]
    assert marker == "110000000000000031"
    responses.get(f"{BASE}/api/v2/search", json={"statuses": []}, match=[
        matchers.query_param_matcher({"min_id": marker}, strict_match=False)])
    responses.get(f"{BASE}/api/v1/timelines/tag/riversideflu", json=[], match=[
        matchers.query_param_matcher({"min_id": marker}, strict_match=False)])
    assert masto.search_mentions(["riverside general", "#riversideflu"], marker) == ([], marker)


@responses.activate
def test_mastodon_search_rate_limit_carries_the_reset(tmp_path: Path) -> None:
    masto = make_masto(tmp_path)
    responses.get(f"{BASE}/api/v2/search", status=429, json={"error": "Too many requests"},
                  headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                           "X-RateLimit-Reset": "2026-09-21T14:05:00.000Z",
                           "Date": "Mon, 21 Sep 2026 14:00:00 GMT"})
    with pytest.raises(RateLimited) as caught:
        masto.search_mentions(["riverside"], None)
    assert caught.value.retry_after == pytest.approx(300, abs=1)


def test_youtube_comment_search_names_the_video_and_stops_at_the_marker(tmp_path: Path) -> None:
    first = {"items": [thread("t3", "2026-03-02T19:00:00Z", "Riverside staff were kind"),
                       thread("t2", "2026-03-02T10:00:00Z", "riverside parking?")],
             "nextPageToken": "NEXT"}
    second = {"items": [thread("t1", "2026-02-01T10:00:00Z", "Old riverside note")]}
    http = Mock([ok(CHANNEL), ok(first), ok(second)])
    found, marker = make_youtube(tmp_path, http).search_mentions(["riverside"], None)
    assert [m.remote_id for m in found] == ["t1", "t2", "t3"]
    assert {m.parent_id for m in found} == {VIDEO_ID}
    assert marker == datetime(2026, 3, 2, 19, 0, tzinfo=UTC).isoformat()
    assert "searchTerms=riverside" in http.request_sequence[1][0]
    again = Mock([ok(CHANNEL), ok(first)])
    assert make_youtube(tmp_path, again).search_mentions(["riverside"], marker) == ([], marker)
    assert again.left == 0  # stopped at the first page older than the marker


def test_youtube_quota_is_a_rate_limit(tmp_path: Path) -> None:
    http = Mock([ok(CHANNEL), fail(403, "quotaExceeded")])
    with pytest.raises(RateLimited) as caught:  # the listener pauses the source till then
        make_youtube(tmp_path, http).search_mentions(["riverside"], None)
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0
