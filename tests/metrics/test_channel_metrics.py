"""Each channel's metrics at the HTTP layer, in the platforms' own shapes.

Graph API: an ``/insights`` answer is ``{"data": [{"name", "period", "values": [{"value"}],
"title", "description", "id"}]}``; a retired metric is refused with code 100, "(#100) The
value must be a valid insights metric", for the whole request, naming none (Meta's
deprecated Page Insights metrics, November 2025). X: ``public_metrics`` and, for the account's
own posts younger than 30 days, ``non_public_metrics`` (``impression_count``,
``url_link_clicks``, ``user_profile_clicks``). LinkedIn: ``networkSizes`` answers
``{"firstDegreeSize": N}``. Mastodon's Account entity, YouTube's ``channels.list``
statistics (counts as strings) and WordPress's ``X-WP-Total`` header.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from googleapiclient.http import HttpMockSequence
from responses import matchers

from carecast.channels.facebook import FacebookChannel, FacebookOptions
from carecast.channels.instagram import InstagramChannel, InstagramOptions
from carecast.channels.linkedin import LinkedInChannel, LinkedInOptions
from carecast.channels.mastodon import MastodonChannel, MastodonOptions
from carecast.channels.wordpress import WordPressChannel, WordPressOptions
from carecast.channels.x import XChannel, XOptions
from carecast.channels.youtube import YouTubeChannel, YouTubeOptions
from carecast.errors import PlatformRejected
from carecast.post import Receipt
from carecast.testing import FrozenClock

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
GRAPH = "https://graph.facebook.com/v27.0"
PAGE = "175154750010052"
POST_ID = f"{PAGE}_2870365543187433"
RETIRED = {"error": {"message": "(#100) The value must be a valid insights metric",
                     "type": "OAuthException", "code": 100, "fbtrace_id": "AbCdEfGh123"}}


def insight(name: str, value: int, period: str = "lifetime") -> dict[str, Any]:
    return {"name": name, "period": period, "values": [{"value": value}],
            "title": name, "description": name, "id": f"{POST_ID}/insights/{name}/{period}"}


def metric_of(call: Any) -> str:
    return parse_qs(urlsplit(call.request.url).query)["metric"][0]


def receipt(channel: str, remote_id: str, published: datetime = NOW - timedelta(days=1),
            **extra: Any) -> Receipt:
    return Receipt(post_id="flu-1", account=f"riverside-{channel}", channel=channel,
                   remote_id=remote_id, published_at=published, extra=extra)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def facebook() -> FacebookChannel:
    return FacebookChannel("riverside-facebook",
                           FacebookOptions(page_id=PAGE, access_token="EAAG-page-s3cret"),
                           clock=FrozenClock(NOW))


def post_node(mocked) -> None:
    mocked.get(f"{GRAPH}/{POST_ID}", json={
        "id": POST_ID, "shares": {"count": 5},
        "reactions": {"data": [], "summary": {"total_count": 48, "viewer_reaction": "NONE"}},
        "comments": {"data": [], "summary": {"order": "ranked", "total_count": 6,
                                             "can_comment": True}}})


def test_facebook_a_retired_metric_does_not_blank_the_others(mocked) -> None:
    fb = facebook()
    post_node(mocked)
    every = "post_media_view,post_total_media_view_unique,post_clicks"
    mocked.get(f"{GRAPH}/{POST_ID}/insights", status=400, json=RETIRED,
               match=[matchers.query_param_matcher({"metric": every}, strict_match=False)])
    mocked.get(f"{GRAPH}/{POST_ID}/insights", json={"data": [insight("post_media_view", 2210)]},
               match=[matchers.query_param_matcher({"metric": "post_media_view"},
                                                   strict_match=False)])
    mocked.get(f"{GRAPH}/{POST_ID}/insights",
               json={"data": [insight("post_total_media_view_unique", 1630)]},
               match=[matchers.query_param_matcher({"metric": "post_total_media_view_unique"},
                                                   strict_match=False)])
    mocked.get(f"{GRAPH}/{POST_ID}/insights", status=400, json=RETIRED,
               match=[matchers.query_param_matcher({"metric": "post_clicks"},
                                                   strict_match=False)])
    metrics = fb.fetch_metrics(receipt("facebook", POST_ID))
    assert (metrics.likes, metrics.replies, metrics.reposts) == (48, 6, 5)
    assert (metrics.impressions, metrics.reach, metrics.clicks) == (2210, 1630, None)
    assert metrics.extra == {"unavailable": ["post_clicks"]}
    assert fb.retired_metrics == {"post_clicks"}
    # the channel remembers: the next read asks for the two that work, in one request
    post_node(mocked)
    mocked.get(f"{GRAPH}/{POST_ID}/insights", json={"data": [
        insight("post_media_view", 2300), insight("post_total_media_view_unique", 1700)]},
        match=[matchers.query_param_matcher(
            {"metric": "post_media_view,post_total_media_view_unique"}, strict_match=False)])
    before = len(mocked.calls)
    again = fb.fetch_metrics(receipt("facebook", POST_ID))
    assert (again.impressions, again.reach) == (2300, 1700)
    assert [metric_of(c) for c in mocked.calls[before:] if "insights" in c.request.url] == [
        "post_media_view,post_total_media_view_unique"]


def test_facebook_insights_all_current_in_one_request(mocked) -> None:
    post_node(mocked)
    mocked.get(f"{GRAPH}/{POST_ID}/insights", json={"data": [
        insight("post_media_view", 900), insight("post_total_media_view_unique", 700),
        insight("post_clicks", 41)]})
    metrics = facebook().fetch_metrics(receipt("facebook", POST_ID))
    assert (metrics.impressions, metrics.reach, metrics.clicks) == (900, 700, 41)
    assert metrics.extra == {}
    assert len([c for c in mocked.calls if "insights" in c.request.url]) == 1


def test_facebook_a_missing_permission_leaves_the_counts(mocked) -> None:
    post_node(mocked)
    mocked.get(f"{GRAPH}/{POST_ID}/insights", status=403, json={"error": {
        "message": "(#10) This endpoint requires the 'read_insights' permission",
        "type": "OAuthException", "code": 10, "fbtrace_id": "Xy"}})
    metrics = facebook().fetch_metrics(receipt("facebook", POST_ID))
    assert metrics.likes == 48
    assert metrics.impressions is None
    assert metrics.extra["unavailable"] == ["post_media_view", "post_total_media_view_unique",
                                            "post_clicks"]


def test_facebook_account_metrics(mocked) -> None:
    mocked.get(f"{GRAPH}/{PAGE}", json={"followers_count": 15210, "fan_count": 14002,
                                        "id": PAGE},
               match=[matchers.query_param_matcher({"fields": "followers_count,fan_count"},
                                                   strict_match=False)])
    mocked.get(f"{GRAPH}/{PAGE}/published_posts", json={
        "data": [], "summary": {"total_count": 812}})
    counts = facebook().fetch_account_metrics()
    assert (counts.followers, counts.posts, counts.extra) == (15210, 812, {"likes": 14002})
    assert "fetch_account_metrics" in FacebookChannel.capabilities()


def test_instagram_views_and_a_retired_metric(mocked) -> None:
    ig = InstagramChannel("riverside-instagram", InstagramOptions(
        ig_user_id="17841400008460056", access_token="EAAG-ig-s3cret"), clock=FrozenClock(NOW))
    media = "17895695668004550"
    mocked.get(f"{GRAPH}/{media}", json={"like_count": 120, "comments_count": 9, "id": media})
    mocked.get(f"{GRAPH}/{media}/insights", status=400, json=RETIRED,
               match=[matchers.query_param_matcher({"metric": "views,reach,saved,shares"},
                                                   strict_match=False)])
    for name, value in (("views", 5400), ("reach", 3900), ("saved", 31)):
        mocked.get(f"{GRAPH}/{media}/insights", json={"data": [insight(name, value)]},
                   match=[matchers.query_param_matcher({"metric": name}, strict_match=False)])
    mocked.get(f"{GRAPH}/{media}/insights", status=400, json=RETIRED,
               match=[matchers.query_param_matcher({"metric": "shares"}, strict_match=False)])
    metrics = ig.fetch_metrics(receipt("instagram", media))
    assert (metrics.likes, metrics.impressions, metrics.reach, metrics.reposts) == (
        120, 5400, 3900, None)
    assert metrics.extra == {"reach": 3900, "saved": 31, "unavailable": ["shares"]}
    mocked.get(f"{GRAPH}/17841400008460056", json={
        "followers_count": 8800, "follows_count": 120, "media_count": 431, "id": "1784"})
    counts = ig.fetch_account_metrics()
    assert (counts.followers, counts.following, counts.posts) == (8800, 120, 431)


# -- X ----------------------------------------------------------------------------------------

X_API = "https://api.twitter.com/2"
TWEET = "1456012973835788293"
OAUTH1 = {"consumer_key": "ck-s3cret", "consumer_secret": "cs-s3cret",
          "access_token": "2244994945-at-s3cret", "access_token_secret": "ats-s3cret"}


def x_channel() -> XChannel:
    return XChannel("riverside-x", XOptions(**OAUTH1), clock=FrozenClock(NOW))


def test_x_reads_non_public_metrics_within_30_days(mocked) -> None:
    mocked.get(f"{X_API}/tweets/{TWEET}", json={"data": {
        "id": TWEET, "text": "Flu shots", "edit_history_tweet_ids": [TWEET],
        "public_metrics": {"retweet_count": 4, "reply_count": 2, "like_count": 31,
                           "quote_count": 1, "bookmark_count": 3, "impression_count": 1250},
        "non_public_metrics": {"impression_count": 1262, "url_link_clicks": 57,
                               "user_profile_clicks": 9}}},
        match=[matchers.query_param_matcher(
            {"tweet.fields": "public_metrics,non_public_metrics"})])
    metrics = x_channel().fetch_metrics(receipt("x", TWEET, NOW - timedelta(days=29)))
    assert (metrics.likes, metrics.reposts, metrics.replies) == (31, 4, 2)
    assert (metrics.impressions, metrics.clicks) == (1262, 57)
    assert metrics.extra == {"quote_count": 1, "bookmark_count": 3, "profile_clicks": 9}


def test_x_asks_public_metrics_only_after_30_days(mocked) -> None:
    mocked.get(f"{X_API}/tweets/{TWEET}", json={"data": {
        "id": TWEET, "text": "Flu shots", "public_metrics": {
            "retweet_count": 5, "reply_count": 2, "like_count": 40, "quote_count": 1,
            "bookmark_count": 3, "impression_count": 1900}}},
        match=[matchers.query_param_matcher({"tweet.fields": "public_metrics"})])
    metrics = x_channel().fetch_metrics(receipt("x", TWEET, NOW - timedelta(days=31)))
    assert (metrics.impressions, metrics.clicks) == (1900, None)


def test_x_account_metrics(mocked) -> None:
    mocked.get(f"{X_API}/users/me", json={"data": {
        "id": "2244994945", "name": "Riverside General", "username": "RiversideGeneral",
        "public_metrics": {"followers_count": 20310, "following_count": 412,
                           "tweet_count": 9021, "listed_count": 88, "like_count": 1200}}},
        match=[matchers.query_param_matcher({"user.fields": "public_metrics"})])
    counts = x_channel().fetch_account_metrics()
    assert (counts.followers, counts.following, counts.posts) == (20310, 412, 9021)
    assert counts.extra == {"listed": 88}


# -- LinkedIn, Mastodon, WordPress, YouTube ----------------------------------------------------


def test_linkedin_share_statistics_and_followers(mocked) -> None:
    li = LinkedInChannel("riverside-li", LinkedInOptions(access_token="AQV-s3cret",
                                                         organization_id=2414183),
                         clock=FrozenClock(NOW))
    urn = "urn:li:share:6844785523593134080"
    mocked.get(f"https://api.linkedin.com/rest/socialMetadata/{urn.replace(':', '%3A')}",
               json={"reactionSummaries": {"LIKE": {"reactionType": "LIKE", "count": 8},
                                           "EMPATHY": {"reactionType": "EMPATHY", "count": 3}},
                     "commentSummary": {"count": 4, "topLevelCount": 4},
                     "commentsState": "OPEN", "entity": urn})
    mocked.get("https://api.linkedin.com/rest/organizationalEntityShareStatistics", json={
        "elements": [{"totalShareStatistics": {
            "uniqueImpressionsCount": 800, "shareCount": 6, "engagement": 0.041,
            "clickCount": 31, "likeCount": 11, "impressionCount": 1200, "commentCount": 4},
            "organizationalEntity": "urn:li:organization:2414183", "share": urn}]})
    metrics = li.fetch_metrics(receipt("linkedin", urn))
    assert (metrics.likes, metrics.replies, metrics.reposts, metrics.impressions,
            metrics.clicks) == (11, 4, 6, 1200, 31)
    mocked.get("https://api.linkedin.com/rest/networkSizes/urn%3Ali%3Aorganization%3A2414183",
               json={"firstDegreeSize": 5120},
               match=[matchers.query_param_matcher({"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"})])
    assert li.fetch_account_metrics().followers == 5120
    assert mocked.calls[-1].request.headers["LinkedIn-Version"]


def test_mastodon_account_counts(mocked) -> None:
    base = "https://health.example.social"
    masto = MastodonChannel("riverside-masto", MastodonOptions(
        api_base_url=base, access_token="masto-s3cret"), clock=FrozenClock(NOW))
    mocked.get(f"{base}/api/v1/accounts/verify_credentials", json={
        "id": "109", "username": "riverside", "acct": "riverside", "display_name": "Riverside",
        "followers_count": 3120, "following_count": 88, "statuses_count": 640,
        "note": "", "url": f"{base}/@riverside", "avatar": "", "fields": []})
    counts = masto.fetch_account_metrics()
    assert (counts.followers, counts.following, counts.posts) == (3120, 88, 640)


def test_wordpress_counts_comments_and_posts(mocked) -> None:
    site = "https://news.riverside.example"
    wp = WordPressChannel("blog", WordPressOptions(site_url=site, user="comms",
                                                   application_password="abcd EFGH 1234"),
                          clock=FrozenClock(NOW))
    mocked.get(f"{site}/wp-json/wp/v2/comments", json=[{"id": 1}],
               headers={"X-WP-Total": "12", "X-WP-TotalPages": "12"})
    assert wp.fetch_metrics(receipt("wordpress", "42")).replies == 12
    mocked.get(f"{site}/wp-json/wp/v2/posts", json=[{"id": 42}],
               headers={"X-WP-Total": "318", "X-WP-TotalPages": "318"},
               match=[matchers.query_param_matcher({"per_page": "1", "status": "publish"})])
    assert wp.fetch_account_metrics().posts == 318


def test_youtube_statistics(tmp_path) -> None:
    video = {"items": [{"kind": "youtube#video", "id": "D-lhorsDlUQ", "statistics": {
        "viewCount": "1500", "likeCount": "42", "favoriteCount": "0", "commentCount": "7"}}]}
    channel = {"items": [{"kind": "youtube#channel", "id": "UC_clinic", "statistics": {
        "viewCount": "250000", "subscriberCount": "4100", "hiddenSubscriberCount": False,
        "videoCount": "212"}}]}
    http = HttpMockSequence([({"status": "200"}, json.dumps(video)),
                             ({"status": "200"}, json.dumps(channel))])
    tube = YouTubeChannel("tube", YouTubeOptions(
        client_id="123-abc.apps.googleusercontent.com", client_secret="gocspx-s3cret",
        refresh_token="1//refresh-s3cret"), root=tmp_path, session=http,
        clock=FrozenClock(NOW))
    metrics = tube.fetch_metrics(receipt("youtube", "D-lhorsDlUQ"))
    assert (metrics.likes, metrics.replies, metrics.impressions) == (42, 7, 1500)
    counts = tube.fetch_account_metrics()
    assert (counts.followers, counts.posts, counts.extra) == (4100, 212, {"views": 250000})
    assert "part=statistics" in http.request_sequence[1][0]


def test_a_deleted_post_is_an_error_the_collector_gives_up_on(mocked) -> None:
    mocked.get(f"{GRAPH}/{POST_ID}", status=400, json={"error": {
        "message": "Unsupported get request. Object with ID does not exist",
        "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "Q"}})
    with pytest.raises(PlatformRejected) as caught:
        facebook().fetch_metrics(receipt("facebook", POST_ID))
    assert not caught.value.retryable
