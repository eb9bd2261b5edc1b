"""The WordPress channel: the REST API mocked with ``responses``, then a real WordPress.

Bodies are shaped on the WordPress REST API handbook (developer.wordpress.org/rest-api:
posts, media, tags, categories, comments and the index at ``/wp-json/``) and on WordPress
6.1's ``WP_REST_Controller`` errors (``{"code", "message", "data": {"status", "params"}}``),
which the real-server test at the end checks against Debian's WordPress.
"""

from __future__ import annotations

import base64
import json
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from carecast.channels.wordpress import WordPressChannel, WordPressOptions, slug_of
from carecast.config import Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    ConfigurationError,
    InvalidPost,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, Post, Receipt
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.records import State
from carecast.testing import FrozenClock, unique_marker
from real_software import unavailable

SITE = "https://news.riverside.example"
API = f"{SITE}/wp-json"
PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
KEY = "cc-0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
POST = Post(id="flu-1", title="Flu clinic opens", text="Flu shots on Monday.\n\nWalk-ins "
            "welcome: see https://riverside.example/flu", hashtags=["flu", "vaccines"])
SLUG = slug_of("Flu clinic opens", KEY)


def make(root: Path | None = None, **options: Any) -> WordPressChannel:
    opts = {"site_url": SITE, "user": "comms", "application_password": PASSWORD, **options}
    return WordPressChannel("blog", WordPressOptions(**opts), root=root, clock=FrozenClock(NOW))


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def wp_error(code: str, message: str, status: int, **data: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status, **data}}


def wp_post(post_id: int = 42, **fields: Any) -> dict[str, Any]:
    """A post in the edit context (trimmed)."""
    return {"id": post_id, "date_gmt": "2026-03-02T20:00:01", "slug": SLUG, "status": "publish",
            "type": "post", "link": f"{SITE}/{SLUG}/", "title": {"raw": "Flu clinic opens"},
            "featured_media": 0, **fields}


def no_posts(rsps: responses.RequestsMock, slug: str = SLUG) -> None:
    rsps.get(f"{API}/wp/v2/posts", json=[], match=[matchers.query_param_matcher(
        {"slug": slug, "status": "any", "context": "edit"})])


def terms(rsps: responses.RequestsMock, taxonomy: str, existing: dict[str, int]) -> None:
    """GET ?search= answers with the matching existing terms; POST creates the others."""
    def search(request: Any) -> tuple[int, dict[str, str], str]:
        wanted = request.params["search"].lower()
        found = [{"id": i, "name": n, "slug": n.lower()} for n, i in existing.items()
                 if wanted in n.lower()]
        return 200, {}, json.dumps(found)

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        name = json.loads(request.body)["name"]
        existing[name] = 100 + len(existing)
        return 201, {}, json.dumps({"id": existing[name], "name": name, "slug": name.lower()})

    rsps.add_callback(responses.GET, f"{API}/wp/v2/{taxonomy}", callback=search)
    rsps.add_callback(responses.POST, f"{API}/wp/v2/{taxonomy}", callback=create)


def sent(rsps: responses.RequestsMock, method: str, path: str) -> list[Any]:
    return [c.request for c in rsps.calls
            if c.request.method == method and c.request.url.split("?")[0] == f"{API}/{path}"]


# -- render ----------------------------------------------------------------------------------


def test_render_keeps_hashtags_as_tags() -> None:
    draft = make(categories=("News",)).render(POST)
    assert draft.text == POST.text  # no "#flu" appended: hashtags are WordPress tags
    assert draft.options == {"categories": ["News"], "tags": ["flu", "vaccines"],
                             "excerpt": None, "status": "publish", "sticky": False,
                             "comment_status": None}


def test_render_titles_an_untitled_post_with_its_first_sentence() -> None:
    assert make().render(Post(id="p", text="Flu shots on Monday. Bring ID.")).title == \
        "Flu shots on Monday"


def test_bad_post_options_name_the_field() -> None:
    with pytest.raises(InvalidPost) as info:
        make().render(Post(**{**POST.model_dump(), "overrides": {"wordpress": {"options": {
            "status": "published", "colour": "red"}}}}))
    assert [f for f, _ in info.value.problems] == ["overrides.wordpress.options.status",
                                                   "overrides.wordpress.options.colour"]


def test_slug_is_readable_and_stable_per_key() -> None:
    assert SLUG.startswith("flu-clinic-opens-")
    assert slug_of("Flu clinic opens", KEY) == SLUG
    assert slug_of("Flu clinic opens", KEY + "x") != SLUG
    assert slug_of("Ça va? ¡Vacúnate!", KEY).startswith("ca-va-vacunate-")
    assert slug_of("", KEY).startswith("post-")


# -- publish ---------------------------------------------------------------------------------


def test_publish_with_featured_image_tags_and_categories(tmp_path, mocked) -> None:
    (tmp_path / "clinic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "map.jpg").write_bytes(b"\xff\xd8\xff" + bytes(64))
    post = POST.model_copy(update={"media": (
        Media(source="clinic.png", alt_text="The clinic entrance", title="Entrance"),
        Media(source="map.jpg", alt_text="Map to the clinic"))})
    channel = make(tmp_path, categories=("News",))
    draft = channel.render(post)
    no_posts(mocked)
    for media_id, name in ((7, "clinic.png"), (8, "map.jpg")):
        mocked.post(f"{API}/wp/v2/media", status=201, json={
            "id": media_id, "source_url": f"{SITE}/wp-content/uploads/2026/03/{name}",
            "media_type": "image", "alt_text": ""})
        mocked.post(f"{API}/wp/v2/media/{media_id}", json={"id": media_id, "source_url":
                    f"{SITE}/wp-content/uploads/2026/03/{name}", "alt_text": "set"})
    terms(mocked, "categories", {"News": 3})
    terms(mocked, "tags", {"flu": 12})
    mocked.post(f"{API}/wp/v2/posts", status=201, json=wp_post(featured_media=7))
    receipt = channel.publish(draft, KEY)
    assert (receipt.remote_id, receipt.url, receipt.part_ids) == ("42", f"{SITE}/{SLUG}/",
                                                                  ("42",))
    assert receipt.published_at == datetime(2026, 3, 2, 20, 0, 1, tzinfo=UTC)
    assert receipt.extra == {"status": "publish", "slug": SLUG, "featured_media": 7}
    upload = sent(mocked, "POST", "wp/v2/media")[0]
    assert upload.headers["Content-Disposition"] == 'attachment; filename="clinic.png"'
    assert upload.headers["Content-Type"] == "image/png"
    assert upload.headers["Authorization"] == "Basic " + base64.b64encode(
        f"comms:{PASSWORD}".encode()).decode()
    alt = json.loads(sent(mocked, "POST", "wp/v2/media/7")[0].body)
    assert alt == {"alt_text": "The clinic entrance", "title": "Entrance"}
    body = json.loads(sent(mocked, "POST", "wp/v2/posts")[0].body)
    assert body["title"] == "Flu clinic opens"
    assert body["slug"] == SLUG
    assert body["status"] == "publish"
    assert body["featured_media"] == 7
    assert body["categories"] == [3]
    assert body["tags"] == [12, 101]  # flu found, vaccines created
    assert json.loads(sent(mocked, "POST", "wp/v2/tags")[0].body) == {"name": "vaccines"}
    assert body["content"] == (
        "<p>Flu shots on Monday.</p>\n"
        '<p>Walk-ins welcome: see <a href="https://riverside.example/flu">'
        "https://riverside.example/flu</a></p>\n"
        f'<figure><img src="{SITE}/wp-content/uploads/2026/03/map.jpg" '
        'alt="Map to the clinic"></figure>')


def test_a_scheduled_post_is_future_with_date_gmt(mocked) -> None:
    channel = make(status="publish")
    later = POST.model_copy(update={"schedule": datetime(2026, 3, 9, 14, 0, tzinfo=UTC)})
    no_posts(mocked)
    terms(mocked, "tags", {"flu": 1, "vaccines": 2})
    mocked.post(f"{API}/wp/v2/posts", status=201, json=wp_post(
        status="future", date_gmt="2026-03-09T14:00:00"))
    receipt = channel.publish(channel.render(later), KEY)
    body = json.loads(sent(mocked, "POST", "wp/v2/posts")[0].body)
    assert (body["status"], body["date_gmt"]) == ("future", "2026-03-09T14:00:00")
    assert receipt.extra["status"] == "future"


def test_publish_finds_a_post_it_already_made(mocked) -> None:
    mocked.get(f"{API}/wp/v2/posts", json=[wp_post()])
    receipt = make().publish(make().render(POST), KEY)
    assert (receipt.remote_id, receipt.reconciled) == ("42", True)
    assert len(mocked.calls) == 1  # nothing created


def test_media_are_not_uploaded_again_on_retry(tmp_path, mocked) -> None:
    (tmp_path / "clinic.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    channel = make(tmp_path)
    draft = channel.render(Post(id="p", title="Flu clinic opens", text="Shots.", media=[
        Media(source="clinic.png", alt_text="Entrance")]))
    no_posts(mocked)
    no_posts(mocked)
    mocked.post(f"{API}/wp/v2/media", status=201, json={"id": 7, "source_url": "x"})
    mocked.post(f"{API}/wp/v2/media/7", json={"id": 7, "source_url": "x"})
    mocked.post(f"{API}/wp/v2/posts", status=503)
    mocked.post(f"{API}/wp/v2/posts", status=201, json=wp_post(featured_media=7))
    with pytest.raises(ChannelServerError):
        channel.publish(draft, KEY)
    assert channel.publish(draft, KEY).remote_id == "42"
    assert len(sent(mocked, "POST", "wp/v2/media")) == 1


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "cls", "words"), [
    (401, wp_error("rest_not_logged_in", "You are not currently logged in.", 401),
     AuthenticationError, "application password"),
    (401, wp_error("incorrect_password", "The provided password is an invalid application "
                   "password.", 401), AuthenticationError, "Application Passwords"),
    (403, wp_error("rest_cannot_create", "Sorry, you are not allowed to create posts as this "
                   "user.", 403), PermissionDenied, "Editor"),
    (400, wp_error("rest_invalid_param", "Invalid parameter(s): status", 400,
                   params={"status": "status is not one of publish, future, draft."}),
     PlatformRejected, "rest_invalid_param"),
    (404, wp_error("rest_no_route", "No route was found matching the URL and request method.",
                   404), PlatformRejected, "api_url"),
    (429, {}, RateLimited, "rate limited"),
    (500, wp_error("db_insert_error", "Could not insert post into the database.", 500),
     ChannelServerError, "HTTP 500"),
    (503, None, ChannelServerError, "HTTP 503"),
])
def test_errors_map_to_carecast_errors(mocked, status, body, cls, words) -> None:
    no_posts(mocked)
    terms(mocked, "tags", {"flu": 1, "vaccines": 2})
    mocked.post(f"{API}/wp/v2/posts", status=status, json=body,
                headers={"Retry-After": "9"} if status in (429, 503) else {})
    with pytest.raises(cls) as info:
        make().publish(make().render(POST), KEY)
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert words in str(error)
    assert error.code == ((body or {}).get("code") or None)
    if status == 400:
        assert "check status" in str(error)
    if status in (429, 503):
        assert error.retry_after == 9
    texts = str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert PASSWORD not in texts
    assert "Flu shots" not in texts


@pytest.mark.parametrize(("exc", "cls"), [
    (requests.ConnectTimeout("timed out"), ChannelConnectionError),
    (requests.ReadTimeout("read timed out"), OutcomeUnknown),
])
def test_transport_errors(mocked, exc, cls) -> None:
    no_posts(mocked)
    terms(mocked, "tags", {"flu": 1, "vaccines": 2})
    mocked.post(f"{API}/wp/v2/posts", body=exc)
    with pytest.raises(cls) as info:
        make().publish(make().render(POST), KEY)
    assert info.value.may_have_been_sent == (cls is OutcomeUnknown)


def test_a_redirect_says_to_fix_the_url(mocked) -> None:
    mocked.get(f"{API}/wp/v2/posts", status=301, headers={"Location": "https://elsewhere/"})
    with pytest.raises(PlatformRejected, match="HTTP 301"):
        make().lookup(KEY, make().render(POST))


def test_a_login_page_is_not_an_answer(mocked) -> None:
    mocked.get(f"{API}/wp/v2/posts", body="<html>Log in</html>", content_type="text/html")
    with pytest.raises(OutcomeUnknown, match="without the JSON expected") as info:
        make().lookup(KEY, make().render(POST))
    assert not info.value.retryable


def test_an_answer_of_the_wrong_shape_is_not_a_post(mocked) -> None:
    no_posts(mocked)
    terms(mocked, "tags", {"flu": 1, "vaccines": 2})
    mocked.post(f"{API}/wp/v2/posts", status=201, json=["not", "a", "post"])
    with pytest.raises(OutcomeUnknown) as info:
        make().publish(make().render(POST), KEY)
    assert not info.value.retryable  # a person looks before anything is sent again


def test_a_term_made_meanwhile_is_found_again(mocked) -> None:
    mocked.get(f"{API}/wp/v2/tags", json=[])
    mocked.post(f"{API}/wp/v2/tags", status=400, json=wp_error(
        "term_exists", "A term with the name provided already exists.", 400, term_id=5))
    mocked.get(f"{API}/wp/v2/tags", json=[{"id": 5, "name": "flu", "slug": "flu"}])
    assert make()._term("tags", "flu") == 5


# -- lookup, delete, reading -----------------------------------------------------------------


def test_lookup(mocked) -> None:
    no_posts(mocked)
    assert make().lookup(KEY, make().render(POST)) is None
    mocked.get(f"{API}/wp/v2/posts", json=[wp_post(status="draft")])
    found = make().lookup(KEY, make().render(POST))
    assert (found.remote_id, found.reconciled, found.extra["status"]) == ("42", True, "draft")


def test_publisher_reconciles_a_timeout_by_slug(tmp_path, no_sleep, mocked) -> None:
    cfg = Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"blog": {"channel": "wordpress", "brand": "riverside", "site_url": SITE,
                              "user": "comms"}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__BLOG__APPLICATION_PASSWORD": PASSWORD})
    slug = slug_of("Flu clinic opens", idempotency_key("flu-1", "blog"))
    no_posts(mocked, slug)
    terms(mocked, "tags", {"flu": 1, "vaccines": 2})
    mocked.post(f"{API}/wp/v2/posts", body=requests.ReadTimeout("read timed out"))
    mocked.get(f"{API}/wp/v2/posts", json=[wp_post(slug=slug)])
    with Publisher(cfg, entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["blog"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.reconciled
    assert len(sent(mocked, "POST", "wp/v2/posts")) == 1


def test_publisher_waits_out_a_rate_limit(tmp_path, no_sleep, mocked) -> None:
    cfg = Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"blog": {"channel": "wordpress", "brand": "riverside", "site_url": SITE,
                              "user": "comms"}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__BLOG__APPLICATION_PASSWORD": PASSWORD})
    mocked.get(f"{API}/wp/v2/posts", status=429, headers={"Retry-After": "4"})
    mocked.get(f"{API}/wp/v2/posts", json=[])
    terms(mocked, "tags", {"flu": 1, "vaccines": 2})
    mocked.post(f"{API}/wp/v2/posts", status=201, json=wp_post())
    with Publisher(cfg, entry_point_plugins=False, retry=no_sleep) as publisher:
        assert publisher.publish(POST)["blog"].state == State.PUBLISHED
    assert 4 in no_sleep.clock.sleeps


def test_delete(mocked) -> None:
    receipt = Receipt(post_id="flu-1", account="blog", channel="wordpress", remote_id="42",
                      published_at=NOW)
    mocked.delete(f"{API}/wp/v2/posts/42", json=wp_post(status="trash"))
    mocked.delete(f"{API}/wp/v2/posts/42", status=410, json=wp_error(
        "rest_already_trashed", "The post has already been deleted.", 410))
    mocked.delete(f"{API}/wp/v2/posts/42", json={"deleted": True},
                  match=[matchers.query_param_matcher({"force": "true"})])
    make().delete(receipt)
    make().delete(receipt)
    make(delete_permanently=True).delete(receipt)
    assert len(mocked.calls) == 3


def test_fetch_profile(mocked) -> None:
    mocked.get(f"{API}/", json={"name": "Riverside General News", "description":
                                "Care close to home", "url": SITE, "home": SITE,
                                "gmt_offset": -5, "timezone_string": "America/New_York",
                                "site_icon_url": f"{SITE}/icon.png", "namespaces": ["wp/v2"]})
    profile = make().fetch_profile()
    assert (profile.display_name, profile.description, profile.website, profile.avatar_url) == (
        "Riverside General News", "Care close to home", SITE, f"{SITE}/icon.png")


def test_fetch_mentions_pages_through_comments(mocked) -> None:
    def comment(cid: int, parent: int = 0) -> dict[str, Any]:
        return {"id": cid, "post": 42, "parent": parent, "author_name": "Pat",
                "date_gmt": f"2026-03-02T1{cid}:00:00", "link": f"{SITE}/{SLUG}/#comment-{cid}",
                "content": {"rendered": "<p>Is it free? &amp; walk-in?</p>\n"}}
    mocked.get(f"{API}/wp/v2/comments", json=[comment(1)], headers={"X-WP-TotalPages": "2"})
    mocked.get(f"{API}/wp/v2/comments", json=[comment(2, parent=1)],
               headers={"X-WP-TotalPages": "2"})
    mentions = make().fetch_mentions(datetime(2026, 3, 1, tzinfo=UTC))
    assert [(m.remote_id, m.kind) for m in mentions] == [("1", "comment"), ("2", "reply")]
    assert mentions[0].text == "Is it free? & walk-in?"
    assert mentions[0].created_at == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert mocked.calls[0].request.params["after"] == "2026-03-01T00:00:00"
    assert mocked.calls[1].request.params["page"] == "2"


def test_fetch_metrics_counts_comments(mocked) -> None:
    mocked.get(f"{API}/wp/v2/comments", json=[{"id": 1}], headers={"X-WP-Total": "3"},
               match=[matchers.query_param_matcher({"post": "42", "per_page": "1"})])
    receipt = Receipt(post_id="flu-1", account="blog", channel="wordpress", remote_id="42",
                      published_at=NOW)
    metrics = make().fetch_metrics(receipt)
    assert (metrics.replies, metrics.likes, metrics.impressions) == (3, None, None)


def test_options_are_checked_and_secret() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        WordPressOptions(site_url="news.example", user="u", application_password="p")
    channel = make(api_url=f"{SITE}/?rest_route=")
    assert channel.api == f"{SITE}/?rest_route="
    assert PASSWORD not in repr(channel.options) + str(channel.options) + repr(channel)
    with pytest.raises(ConfigurationError):
        WordPressChannel.from_config(
            Config.from_dict({"accounts": {"blog": {"channel": "wordpress"}}},
                             environ={}).accounts["blog"])


# -- a real WordPress ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wordpress() -> Iterator[Any]:
    """Debian's WordPress on 127.0.0.1, installed and started when it is not running."""
    from wordpress_server import WordPressServer, WordPressUnavailable

    try:
        server = WordPressServer.ensure()
    except WordPressUnavailable as exc:
        unavailable("WordPress", "CARECAST_TEST_REQUIRE_WORDPRESS", exc)
    print(f"\nWordPress ready at {server.url} in {server.setup_seconds:.1f}s")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_a_real_wordpress(wordpress, tmp_path, no_sleep) -> None:
    run = unique_marker()
    (tmp_path / "entrance.png").write_bytes(_png())
    (tmp_path / "nurse.png").write_bytes(_png())
    cfg = Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"blog": {"channel": "wordpress", "brand": "riverside",
                              "site_url": wordpress.url, "user": wordpress.user,
                              "categories": ["Clinic news"]}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__BLOG__APPLICATION_PASSWORD":
                               wordpress.app_password})
    post = Post(id=f"real-{run}", title=f"Flu clinic {run} opens",
                text="Flu shots on Monday.\n\nSee https://riverside.example/flu for hours.",
                hashtags=["flu", f"tag{run}"], media=[
                    Media(source=str(tmp_path / "entrance.png"), alt_text="The entrance"),
                    Media(source=str(tmp_path / "nurse.png"), alt_text="A nurse smiling")])
    with Publisher(cfg, entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(post)["blog"]
        assert outcome.state == State.PUBLISHED, outcome.error
        assert publisher.publish(post)["blog"].already_published
        profile = publisher.channel("blog").fetch_profile()
    assert (profile.display_name, profile.description) == ("Riverside General News",
                                                           "Care close to home")
    api = requests.Session()
    api.auth = (wordpress.user, wordpress.app_password)
    remote = api.get(f"{wordpress.url}/wp-json/wp/v2/posts/{outcome.receipt.remote_id}",
                     params={"context": "edit"}, timeout=30).json()
    assert remote["title"]["raw"] == f"Flu clinic {run} opens"
    assert remote["status"] == "publish"
    assert remote["slug"] == slug_of(post.title, idempotency_key(post.id, "blog"))
    assert remote["link"] == outcome.receipt.url
    content = remote["content"]["raw"]
    assert "<p>Flu shots on Monday.</p>" in content
    assert '<a href="https://riverside.example/flu">' in content
    assert 'alt="A nurse smiling"' in content
    featured = api.get(f"{wordpress.url}/wp-json/wp/v2/media/{remote['featured_media']}",
                       timeout=30).json()
    assert featured["alt_text"] == "The entrance"
    assert featured["mime_type"] == "image/png"
    names = {t["name"] for t in api.get(f"{wordpress.url}/wp-json/wp/v2/tags", params={
        "include": ",".join(map(str, remote["tags"]))}, timeout=30).json()}
    assert names == {"flu", f"tag{run}"}
    category = api.get(f"{wordpress.url}/wp-json/wp/v2/categories/{remote['categories'][0]}",
                       timeout=30).json()
    assert category["name"] == "Clinic news"
    # A re-run with the ledger lost (a new process, the channel alone) finds the post by
    # its slug: nothing is published twice.
    channel = WordPressChannel.from_config(cfg.accounts["blog"], root=tmp_path)
    draft = channel.render(post)
    second = channel.publish(draft, idempotency_key(post.id, "blog"))
    assert second.remote_id == outcome.receipt.remote_id
    found = api.get(f"{wordpress.url}/wp-json/wp/v2/posts", params={
        "search": f"Flu clinic {run}", "status": "any", "context": "edit"}, timeout=30).json()
    assert [p["id"] for p in found] == [int(outcome.receipt.remote_id)]
    # Scheduled: WordPress holds it as "future".
    later = post.model_copy(update={"id": f"later-{run}", "title": f"Later {run}",
                                    "schedule": datetime.fromtimestamp(time.time() + 86400,
                                                                       tz=UTC)})
    receipt = channel.publish(channel.render(later), idempotency_key(later.id, "blog"))
    assert receipt.extra["status"] == "future"
    channel.delete(receipt)
    trashed = api.get(f"{wordpress.url}/wp-json/wp/v2/posts/{receipt.remote_id}",
                      params={"context": "edit"}, timeout=30).json()
    assert trashed["status"] == "trash"
    channel.close()
    # A takedown through the publisher: trashed on WordPress, recorded in the audit trail.
    with Publisher(cfg, entry_point_plugins=False, retry=no_sleep) as publisher:
        done = publisher.takedown(post.id, reason="a test takedown", by="privacy officer")
        assert [(d.account, d.error) for d in done] == [("blog", None)]
        assert publisher.status(post.id)[0].state == State.TAKEN_DOWN
        assert [e.data["by"] for e in publisher.ledger.audit_events(post.id)
                if e.kind == "takedown"] == ["privacy officer"]
    gone = api.get(f"{wordpress.url}/wp-json/wp/v2/posts/{outcome.receipt.remote_id}",
                   params={"context": "edit"}, timeout=30).json()
    assert gone["status"] == "trash"


def _png() -> bytes:
    """A valid 1x1 PNG (WordPress checks uploaded images)."""
    return base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
                            "/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==")
