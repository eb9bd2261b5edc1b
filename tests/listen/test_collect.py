"""Collection at the HTTP layer: own mentions, replies and quotes, keyword searches, cursors
that survive a crash, rate limits, and X's monthly read budget."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import responses
from responses import matchers

from carecast.listen import Listener
from carecast.publish import Publisher
from carecast.store import Ledger
from carecast.store.mentions import MentionStore
from carecast.testing import FrozenClock
from channels.test_bluesky import error

from .conftest import NOW, SearchPDS, make_config, notification, post

OWN = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kown0000001"


def _seed(pds: SearchPDS) -> None:
    ref = {"uri": OWN, "cid": "bafyown"}
    pds.notifications = [  # newest first, as listNotifications answers
        notification(3, "quote", "Worth reading", "2026-09-21T13:30:00.000Z",
                     embed={"$type": "app.bsky.embed.record", "record": ref}),
        notification(2, "reply", "We waited 5 hours in your ER, terrible.",
                     "2026-09-21T13:00:00.000Z", reply={"root": ref, "parent": ref}),
        notification(1, "mention", "@riverside-health.bsky.social when is the flu clinic?",
                     "2026-09-21T12:00:00.000Z")]
    pds.posts = [post(10, "Riverside opens a new wing", "2026-09-21T11:00:00.000Z"),
                 post(11, "Lakeside hospital fined", "2026-09-21T11:30:00.000Z"),
                 post(12, "riverside parking is awful", "2026-09-21T12:30:00.000Z"),
                 post(13, "Riverside flu clinic today", "2026-09-21T13:10:00.000Z")]


def test_own_items_have_their_kinds_parents_and_labels(listener: Listener,
                                                       pds: SearchPDS) -> None:
    _seed(pds)
    report = listener.run_once()
    assert {r.source: (r.status, r.new) for r in report.results} == {
        "own:sky": ("ok", 3), "search:sky:brand": ("ok", 3), "search:sky:rival": ("ok", 1)}
    items = {i.mention.text: i for i in listener.store.search()}
    reply = items["We waited 5 hours in your ER, terrible."]
    assert (reply.mention.kind, reply.mention.parent_id) == ("reply", OWN)
    assert "complaint" in reply.labels
    quote = items["Worth reading"]
    assert (quote.mention.kind, quote.mention.parent_id) == ("quote", OWN)
    assert items["@riverside-health.bsky.social when is the flu clinic?"].labels == (
        "question",)
    rival = items["Lakeside hospital fined"]
    assert (rival.mention.kind, rival.queries, rival.labels) == (
        "search", ("rival",), ("competitor",))
    assert items["Riverside opens a new wing"].queries == ("brand",)
    # each search's request: the term, newest first; the first read has no since
    searched = [c for c in pds.calls if c.url.path.endswith("searchPosts")]
    assert {c.url.params["q"] for c in searched} == {"riverside", "lakeside"}
    assert all(c.url.params["sort"] == "latest" and "since" not in c.url.params
               for c in searched)


def test_a_restart_repeats_nothing_and_reads_on_from_the_cursors(
        listener: Listener, pds: SearchPDS) -> None:
    _seed(pds)
    listener.run_once()
    total = len(listener.store.search())
    assert listener.run_once().new == 0
    assert len(listener.store.search()) == total
    searched = [c for c in pds.calls if c.url.params.get("q") == "riverside"][-1]
    assert searched.url.params["since"] == "2026-09-21T13:10:00.000Z"  # the newest seen
    pds.posts.append(post(14, "Riverside ER wait times", "2026-09-21T13:50:00.000Z"))
    again = listener.run_once()
    assert {r.source: r.new for r in again.results}["search:sky:brand"] == 1


def test_a_crash_before_the_commit_loses_nothing(listener: Listener, pds: SearchPDS,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(pds)
    real = MentionStore.save
    calls = {"n": 0}

    def crash(self: MentionStore, *args: object, **kw: object) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # the process dies while the second source is being stored
            raise SystemExit("killed")
        return real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(MentionStore, "save", crash)
    with pytest.raises(SystemExit):
        listener.run_once()
    assert listener.store.cursor("own:sky") is not None  # the first source committed
    assert listener.store.cursor("search:sky:brand") is None  # the second did not move
    monkeypatch.setattr(MentionStore, "save", real)
    report = listener.run_once()
    assert {r.source: r.new for r in report.results} == {
        "own:sky": 0, "search:sky:brand": 3, "search:sky:rival": 1}
    keys = [i.mention.key for i in listener.store.search()]
    assert len(keys) == len(set(keys)) == 7


def test_a_rate_limit_pauses_its_source_until_the_reset(listener: Listener, pds: SearchPDS,
                                                        clock: FrozenClock) -> None:
    _seed(pds)
    reset = int(NOW.timestamp()) + 300
    pds.fail["app.bsky.feed.searchPosts"] = [error(
        429, "RateLimitExceeded", "Rate Limit Exceeded", **{
            "RateLimit-Limit": "3000", "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset), "RateLimit-Policy": "3000;w=300"})]
    first = {r.source: r for r in listener.run_once().results}
    assert first["search:sky:brand"].status == "paused"
    assert first["own:sky"].status == "ok"
    assert first["search:sky:rival"].status == "ok"
    paused = listener.store.paused_until("search:sky:brand")
    assert paused is not None
    assert paused.timestamp() == pytest.approx(reset, abs=1)
    before = len(pds.calls)
    second = {r.source: r for r in listener.run_once().results}
    assert second["search:sky:brand"].status == "paused"
    assert not any(c.url.params.get("q") == "riverside" for c in pds.calls[before:])
    clock.advance(301)
    third = {r.source: r for r in listener.run_once().results}
    assert (third["search:sky:brand"].status, third["search:sky:brand"].new) == ("ok", 3)


def test_a_failing_source_is_reported_and_the_others_go_on(listener: Listener,
                                                           pds: SearchPDS) -> None:
    _seed(pds)
    pds.fail["app.bsky.notification.listNotifications"] = [
        error(502, "UpstreamFailure", "Upstream Failure")] * 3
    results = {r.source: r for r in listener.run_once().results}
    assert results["own:sky"].status == "failed"
    assert "[sky]" in results["own:sky"].message
    assert results["search:sky:brand"].new == 3
    assert listener.store.cursor("own:sky") is None


# -- X: recent search behind a monthly read budget ---------------------------------------------

SEARCH = "https://api.twitter.com/2/tweets/search/recent"
MENTIONS = "https://api.twitter.com/2/users/2244994945/mentions"
OAUTH1 = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "2244994945-at",
          "access_token_secret": "ats"}


def _tweets(first: int, count: int) -> dict[str, object]:
    return {"data": [{"id": str(1_800_000_000_000_000_000 + first + i),
                      "text": f"Riverside post {first + i}", "author_id": "11",
                      "created_at": f"2026-09-21T12:{i:02d}:00.000Z"} for i in range(count)],
            "includes": {"users": [{"id": "11", "name": "Ann", "username": "ann"}]},
            "meta": {"result_count": count,
                     "newest_id": str(1_800_000_000_000_000_000 + first + count - 1)}}


@pytest.fixture
def x_listener(tmp_path: Path, clock: FrozenClock) -> Listener:
    config = make_config(tmp_path, x_monthly_reads=25)
    config = config.model_copy(update={"accounts": {"xa": config.accounts["sky"].model_copy(
        update={"name": "xa", "channel": "x", "options": OAUTH1})}})
    return Listener(Publisher(config, clock=clock, entry_point_plugins=False,
                              ledger=Ledger(f"sqlite:///{tmp_path / 'carecast.db'}")))


@responses.activate
def test_x_search_reads_within_the_budget_and_counts_every_read(x_listener: Listener) -> None:
    responses.get(MENTIONS, json={"meta": {"result_count": 0}})
    responses.get(SEARCH, json=_tweets(0, 10), match=[matchers.query_param_matcher({
        "query": "riverside -is:retweet", "max_results": "25"}, strict_match=False)])
    responses.get(SEARCH, json=_tweets(50, 3), match=[matchers.query_param_matcher({
        "query": "lakeside -is:retweet", "max_results": "15"}, strict_match=False)])
    first = {r.source: r for r in x_listener.run_once().results}
    assert (first["search:xa:brand"].status, first["search:xa:brand"].read) == ("ok", 10)
    assert x_listener.store.reads("xa") == 13
    # 12 reads left: one page (10 at least) still fits; since_id is the newest seen
    responses.get(SEARCH, json=_tweets(100, 10), match=[matchers.query_param_matcher({
        "since_id": "1800000000000000009", "max_results": "12"}, strict_match=False)])
    second = {r.source: r for r in x_listener.run_once().results}
    assert second["search:xa:brand"].new == 10
    assert second["search:xa:rival"].status == "refused"
    assert "x_monthly_reads" in second["search:xa:rival"].message
    assert x_listener.store.reads("xa") == 23
    calls = len(responses.calls)
    third = {r.source: r for r in x_listener.run_once().results}
    assert {third[s].status for s in ("own:xa", "search:xa:brand", "search:xa:rival")} == {
        "refused"}  # mention reads are billed too
    assert len([c for c in responses.calls[calls:] if "search" in c.request.url]) == 0


@responses.activate
def test_x_budget_is_per_month(x_listener: Listener, clock: FrozenClock) -> None:
    responses.get(MENTIONS, json={"meta": {"result_count": 0}})
    responses.get(SEARCH, json=_tweets(0, 10))
    x_listener.run_once()
    assert x_listener.store.reads("xa") >= 20
    clock.advance(timedelta(days=10).total_seconds())  # 1 October: a new month
    assert x_listener.store.reads("xa") == 0
    assert x_listener.store.reads("xa", NOW) >= 20


def test_the_report_holds_no_text(listener: Listener, pds: SearchPDS) -> None:
    _seed(pds)
    report = listener.run_once()
    dumped = json.dumps(report.to_dict())
    assert "terrible" not in dumped
    assert "Lakeside" not in dumped
    assert "terrible" not in repr(listener.store.search())


def test_nothing_is_collected_for_a_disabled_account(tmp_path: Path, clock: FrozenClock,
                                                     pds: SearchPDS) -> None:
    config = make_config(tmp_path)
    config = config.model_copy(update={"accounts": {
        "sky": config.accounts["sky"].model_copy(update={"enabled": False})}})
    with httpx.Client(transport=pds.transport()) as http:
        listener = Listener(Publisher(config, sessions={"sky": http}, clock=clock,
                                      entry_point_plugins=False))
        assert listener.sources() == []
