"""The Google Business Profile channel at the HTTP layer: the OAuth token, the location list,
local posts to every location (all or nothing), special hours, Google's error JSON, reconcile,
delete and the per-location profiles of the brand audit.

Shapes follow Google's references: ``accounts.locations.list`` answers ``{"locations":
[{"name": "locations/{id}", "title", "phoneNumbers": {"primaryPhone"}, "websiteUri",
"storefrontAddress": {PostalAddress}, "metadata": {"mapsUri"}}], "nextPageToken"}``;
``localPosts.create`` answers a ``LocalPost`` (``name``, ``state``, ``searchUrl``,
``createTime``); ``locations.patch`` with ``updateMask=specialHours`` takes and answers a
``Location``; errors are ``google.rpc.Status`` (``code``, ``message``, ``status``,
``details`` with ``ErrorInfo``, ``BadRequest``, ``RetryInfo`` or the v4 API's
``ValidationError``); the token endpoint answers ``{"access_token", "expires_in",
"token_type"}`` or ``{"error": "invalid_grant"}``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses.registries import OrderedRegistry

from carecast.brand.audit import audit
from carecast.channels.gbp import (
    GoogleBusinessChannel,
    GoogleBusinessOptions,
    LocalPostOptions,
    SpecialHoursPeriod,
)
from carecast.config import Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    ConfigurationError,
    DuplicatePost,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, Post, Receipt
from carecast.testing import FrozenClock

ACCOUNT = "1122334455"
TOKEN = "ya29.gbp-access-secret"
REFRESH = "1//gbp-refresh-secret"
CLIENT_SECRET = "GOCSPX-gbp-client-secret"
POSTS = f"https://mybusiness.googleapis.com/v4/accounts/{ACCOUNT}/locations"
INFO = "https://mybusinessbusinessinformation.googleapis.com/v1"
LIST = f"{INFO}/accounts/{ACCOUNT}/locations"
TOKEN_URL = "https://oauth2.googleapis.com/token"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
POST = Post(id="flu-1", text="Flu shots are free this Saturday.",
            link="https://riverside.example/flu")


def make(**options) -> GoogleBusinessChannel:
    options.setdefault("access_token", TOKEN)
    opts = GoogleBusinessOptions(account_id=ACCOUNT, **options)
    return GoogleBusinessChannel("riverside-gbp", opts, clock=FrozenClock(NOW))


@pytest.fixture
def gbp() -> GoogleBusinessChannel:
    return make()


@pytest.fixture
def ordered():
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def body(call) -> dict:
    return json.loads(call.request.body)


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def local_post(location: str, post: str, summary: str = POST.text, **more) -> dict:
    return {"name": f"accounts/{ACCOUNT}/locations/{location}/localPosts/{post}",
            "languageCode": "en-US", "summary": summary, "state": "LIVE",
            "topicType": "STANDARD", "createTime": "2026-11-20T09:00:03.123Z",
            "updateTime": "2026-11-20T09:00:03.123Z",
            "searchUrl": f"https://local.google.com/place?id={location}&use=posts&lpsid={post}",
            **more}


def google_error(code: int, status: str, message: str = "An error", *details) -> dict:
    return {"error": {"code": code, "message": message, "status": status,
                      "details": list(details)}}


def hours(*options) -> Post:
    return Post.model_validate({"id": "storm", "text": "Closed for the storm.", "overrides": {
        "gbp": {"options": {"kind": "special_hours", "special_hours": list(options)}}}})


# -- credentials -------------------------------------------------------------------------------


def test_the_refresh_token_gets_an_access_token_reused_until_it_is_due(mocked) -> None:
    clock = FrozenClock(NOW)
    opts = GoogleBusinessOptions(account_id=ACCOUNT, client_id="123.apps.googleusercontent.com",
                                 client_secret=CLIENT_SECRET, refresh_token=REFRESH,
                                 locations=("111",))
    gbp = GoogleBusinessChannel("riverside-gbp", opts, clock=clock)
    mocked.post(TOKEN_URL, json={"access_token": TOKEN, "expires_in": 3599,
                                 "token_type": "Bearer", "scope": "https://www.googleapis.com/"
                                 "auth/business.manage"})
    mocked.post(f"{POSTS}/111/localPosts", json=local_post("111", "p1"))
    gbp.publish(gbp.render(POST), "k")
    gbp.publish(gbp.render(POST), "k")
    token_calls = [c for c in mocked.calls if c.request.url == TOKEN_URL]
    assert len(token_calls) == 1
    raw = token_calls[0].request.body
    sent = parse_qs(raw.decode() if isinstance(raw, bytes) else raw)
    assert sent["grant_type"] == ["refresh_token"]
    assert sent["refresh_token"] == [REFRESH]
    api = [c for c in mocked.calls if c.request.url != TOKEN_URL]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in api)
    clock.advance(3600)  # the hour is up: a new token
    gbp.publish(gbp.render(POST), "k")
    assert len([c for c in mocked.calls if c.request.url == TOKEN_URL]) == 2


def test_a_refused_refresh_token_says_how_to_renew(mocked) -> None:
    opts = GoogleBusinessOptions(account_id=ACCOUNT, client_id="123.apps.googleusercontent.com",
                                 client_secret=CLIENT_SECRET, refresh_token=REFRESH,
                                 locations=("111",))
    gbp = GoogleBusinessChannel("riverside-gbp", opts, clock=FrozenClock(NOW))
    mocked.post(TOKEN_URL, status=400, json={"error": "invalid_grant",
                                             "error_description": f"Bad token {REFRESH}"})
    with pytest.raises(AuthenticationError) as info:
        gbp.publish(gbp.render(POST), "k")
    text = str(info.value) + repr(info.value)
    assert "authorise again" in text
    assert "accounts.riverside-gbp.refresh_token" in text
    for secret in (REFRESH, CLIENT_SECRET):
        assert secret not in text
    assert info.value.__cause__ is None


def test_a_token_refused_early_is_refreshed_once(ordered) -> None:
    opts = GoogleBusinessOptions(account_id=ACCOUNT, client_id="123.apps.googleusercontent.com",
                                 client_secret=CLIENT_SECRET, refresh_token=REFRESH,
                                 locations=("111",))
    gbp = GoogleBusinessChannel("riverside-gbp", opts, clock=FrozenClock(NOW))
    ordered.post(TOKEN_URL, json={"access_token": "ya29.revoked", "expires_in": 3599})
    ordered.post(f"{POSTS}/111/localPosts", status=401, json=google_error(
        401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
    ordered.post(TOKEN_URL, json={"access_token": TOKEN, "expires_in": 3599})
    ordered.post(f"{POSTS}/111/localPosts", json=local_post("111", "p1"))
    receipt = gbp.publish(gbp.render(POST), "k")
    assert receipt.remote_id.endswith("/localPosts/p1")
    assert ordered.calls[-1].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_credentials_are_required() -> None:
    with pytest.raises(ValueError, match="client_id, client_secret and refresh_token"):
        GoogleBusinessOptions(account_id=ACCOUNT, client_id="x")
    with pytest.raises(ValueError, match="not a location id"):
        GoogleBusinessOptions(account_id=ACCOUNT, access_token=TOKEN, locations=("abc",))


# -- local posts -------------------------------------------------------------------------------


def test_a_post_goes_to_every_location_the_account_lists(gbp, ordered) -> None:
    ordered.get(LIST, json={"locations": [{"name": "locations/111"}],
                            "nextPageToken": "page-2"})
    ordered.get(LIST, json={"locations": [{"name": "locations/222"}]})
    ordered.post(f"{POSTS}/111/localPosts", json=local_post("111", "p1"))
    ordered.post(f"{POSTS}/222/localPosts", json=local_post("222", "p2"))
    receipt = gbp.publish(gbp.render(POST), "k")
    calls = ordered.calls
    assert query(calls[0]) == {"readMask": "name", "pageSize": "100"}
    assert query(calls[1])["pageToken"] == "page-2"
    assert body(calls[2]) == {
        "languageCode": "en-US", "summary": "Flu shots are free this Saturday.",
        "topicType": "STANDARD",
        "callToAction": {"actionType": "LEARN_MORE", "url": "https://riverside.example/flu"}}
    assert body(calls[3]) == body(calls[2])
    assert receipt.part_ids == (f"accounts/{ACCOUNT}/locations/111/localPosts/p1",
                                f"accounts/{ACCOUNT}/locations/222/localPosts/p2")
    assert receipt.url == "https://local.google.com/place?id=111&use=posts&lpsid=p1"
    assert receipt.extra == {"kind": "post", "locations": ["111", "222"]}
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in calls)


def test_the_configured_locations_skip_the_list(mocked) -> None:
    gbp = make(locations=("333",))
    mocked.post(f"{POSTS}/333/localPosts", json=local_post("333", "p3"))
    gbp.publish(gbp.render(POST), "k")
    assert [c.request.url for c in mocked.calls] == [f"{POSTS}/333/localPosts"]


def test_an_account_without_locations_is_refused(gbp, mocked) -> None:
    mocked.get(LIST, json={})
    with pytest.raises(PlatformRejected, match="lists no locations"):
        gbp.publish(gbp.render(POST), "k")


def test_a_failed_location_deletes_the_posts_made(mocked) -> None:
    gbp = make(locations=("111", "222"))
    mocked.post(f"{POSTS}/111/localPosts", json=local_post("111", "p1"))
    mocked.post(f"{POSTS}/222/localPosts", status=400, json=google_error(
        400, "FAILED_PRECONDITION", "Location is not verified."))
    mocked.delete(f"{POSTS}/111/localPosts/p1", json={})
    with pytest.raises(PlatformRejected) as info:
        gbp.publish(gbp.render(POST), "k")
    assert "FAILED_PRECONDITION" in str(info.value)
    assert mocked.calls[-1].request.method == "DELETE"


def test_event_post_with_photo(mocked) -> None:
    gbp = make(locations=("111",))
    mocked.post(f"{POSTS}/111/localPosts", json=local_post("111", "p1"))
    post = Post.model_validate({
        "id": "fair", "text": "Free screenings for the whole family.", "title": "Health fair",
        "media": [{"source": "https://cdn.riverside.example/fair.jpg", "alt_text": "Tents"}],
        "overrides": {"gbp": {"options": {"topic": "EVENT", "action": "SIGN_UP",
                                          "action_url": "https://riverside.example/fair",
                                          "starts": "2026-12-05T09:00:00",
                                          "ends": "2026-12-05T15:30:00"}}}})
    gbp.publish(gbp.render(post), "k")
    assert body(mocked.calls[0]) == {
        "languageCode": "en-US", "summary": "Free screenings for the whole family.",
        "topicType": "EVENT",
        "callToAction": {"actionType": "SIGN_UP", "url": "https://riverside.example/fair"},
        "event": {"title": "Health fair", "schedule": {
            "startDate": {"year": 2026, "month": 12, "day": 5},
            "endDate": {"year": 2026, "month": 12, "day": 5},
            "startTime": {"hours": 9, "minutes": 0, "seconds": 0, "nanos": 0},
            "endTime": {"hours": 15, "minutes": 30, "seconds": 0, "nanos": 0}}},
        "media": [{"mediaFormat": "PHOTO",
                   "sourceUrl": "https://cdn.riverside.example/fair.jpg"}]}


def test_offer_post(mocked) -> None:
    gbp = make(locations=("111",))
    mocked.post(f"{POSTS}/111/localPosts", json=local_post("111", "p1"))
    post = Post.model_validate({
        "id": "offer", "text": "Sports physicals at half price in December.",
        "link": "https://riverside.example/physicals",
        "overrides": {"gbp": {"options": {"topic": "OFFER", "event_title": "Half-price physicals",
                                          "starts": "2026-12-01", "ends": "2026-12-31",
                                          "coupon_code": "SPORT26",
                                          "terms": "One per student."}}}})
    gbp.publish(gbp.render(post), "k")
    sent = body(mocked.calls[0])
    assert "callToAction" not in sent  # Google ignores it on offers
    assert sent["offer"] == {"couponCode": "SPORT26",
                             "redeemOnlineUrl": "https://riverside.example/physicals",
                             "termsConditions": "One per student."}
    assert sent["event"] == {"title": "Half-price physicals", "schedule": {
        "startDate": {"year": 2026, "month": 12, "day": 1},
        "endDate": {"year": 2026, "month": 12, "day": 31}}}
    assert "https://riverside.example/physicals" not in sent["summary"]


def test_a_call_button_has_no_url(mocked) -> None:
    gbp = make(locations=("111",))
    mocked.post(f"{POSTS}/111/localPosts", json=local_post("111", "p1"))
    post = Post.model_validate({"id": "c", "text": "Questions? Call our nurse line.",
                                "overrides": {"gbp": {"options": {"action": "CALL"}}}})
    gbp.publish(gbp.render(post), "k")
    assert body(mocked.calls[0])["callToAction"] == {"actionType": "CALL"}


@pytest.mark.parametrize(("options", "field"), [
    ({"topic": "EVENT"}, "overrides.gbp.options"),
    ({"topic": "EVENT", "starts": "2026-12-05", "ends": "2026-12-06"},
     "overrides.gbp.options.event_title"),
    ({"action": "BOOK"}, "overrides.gbp.options.action_url"),
    ({"action": "CALL", "action_url": "https://x.example"}, "overrides.gbp.options"),
    ({"topic": "NEWS"}, "overrides.gbp.options.topic"),
    ({"colour": "red"}, "overrides.gbp.options.colour"),
    ({"kind": "special_hours"}, "overrides.gbp.options"),
], ids=["event-no-dates", "event-no-title", "button-no-url", "call-with-url", "bad-topic",
        "unknown", "hours-none"])
def test_bad_post_options_name_the_field(gbp, options, field) -> None:
    post = Post.model_validate({"id": "p", "text": "Body.", "overrides": {
        "gbp": {"options": options}}})
    with pytest.raises(InvalidPost) as info:
        gbp.render(post)
    assert field in str(info.value)
    assert any(f.startswith(field) for f, _ in info.value.problems)


def test_render_refuses_what_google_would(gbp, tmp_path) -> None:
    with pytest.raises(LimitExceeded) as info:
        gbp.render(Post(id="p", text="x" * 1501))
    assert (info.value.field, info.value.limit) == ("text", 1500)
    with pytest.raises(LimitExceeded, match="needs text"):
        gbp.render(Post(id="p", text=" ", title="Only a title"))
    with pytest.raises(LimitExceeded) as title:
        gbp.render(Post.model_validate({"id": "p", "text": "Body.", "title": "T" * 59,
                                        "overrides": {"gbp": {"options": {
                                            "topic": "EVENT", "starts": "2026-12-05",
                                            "ends": "2026-12-05"}}}}))
    assert (title.value.field, title.value.limit) == ("title", 58)
    gbp.root = tmp_path
    gbp.media_rules = type(gbp.media_rules)(roots=(tmp_path,))
    (tmp_path / "fair.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    with pytest.raises(InvalidPost, match=r"media\[0\]\.source"):
        gbp.render(Post(id="p", text="Fair", media=[Media(source="fair.png", alt_text="x")]))


# -- special hours -----------------------------------------------------------------------------


STORM = {"start_date": "2026-12-14", "end_date": "2026-12-15", "closed": True}
CHRISTMAS_EVE = {"start_date": "2026-12-24", "closed": False, "opens": "08:00",
                 "closes": "12:30"}
OLD_DEC_14 = {"startDate": {"year": 2026, "month": 12, "day": 14},
              "endDate": {"year": 2026, "month": 12, "day": 14},
              "openTime": {"hours": 10}, "closeTime": {"hours": 14}}
NEW_YEAR = {"startDate": {"year": 2027, "month": 1, "day": 1},
            "endDate": {"year": 2027, "month": 1, "day": 1}, "closed": True}
STORM_GOOGLE = {"startDate": {"year": 2026, "month": 12, "day": 14},
                "endDate": {"year": 2026, "month": 12, "day": 15}, "closed": True}
EVE_GOOGLE = {"startDate": {"year": 2026, "month": 12, "day": 24},
              "endDate": {"year": 2026, "month": 12, "day": 24},
              "openTime": {"hours": 8, "minutes": 0}, "closeTime": {"hours": 12, "minutes": 30}}


def test_special_hours_replace_those_on_the_same_days_and_keep_the_rest(mocked) -> None:
    gbp = make(locations=("111", "222"))
    mocked.get(f"{INFO}/locations/111", json={"name": "locations/111", "specialHours": {
        "specialHourPeriods": [OLD_DEC_14, NEW_YEAR]}})
    mocked.get(f"{INFO}/locations/222", json={"name": "locations/222"})
    mocked.patch(f"{INFO}/locations/111", json={"name": "locations/111"})
    mocked.patch(f"{INFO}/locations/222", json={"name": "locations/222"})
    receipt = gbp.publish(gbp.render(hours(STORM, CHRISTMAS_EVE)), "k")
    reads = [c for c in mocked.calls if c.request.method == "GET"]
    patches = [c for c in mocked.calls if c.request.method == "PATCH"]
    assert [query(c) for c in reads] == [{"readMask": "specialHours"}] * 2
    assert [query(c) for c in patches] == [{"updateMask": "specialHours"}] * 2
    assert body(patches[0]) == {"specialHours": {"specialHourPeriods": [
        NEW_YEAR, STORM_GOOGLE, EVE_GOOGLE]}}
    assert body(patches[1]) == {"specialHours": {"specialHourPeriods": [
        STORM_GOOGLE, EVE_GOOGLE]}}
    assert receipt.part_ids == ("locations/111/specialHours/2026-12-14",
                                "locations/222/specialHours/2026-12-14")
    assert receipt.extra["kind"] == "special_hours"


def test_special_hours_are_reconciled_by_reading_them_back(mocked) -> None:
    gbp = make(locations=("111",))
    draft = gbp.render(hours(STORM))
    mocked.get(f"{INFO}/locations/111", json={"specialHours": {"specialHourPeriods": [
        NEW_YEAR]}})
    assert gbp.lookup("k", draft) is None  # not there: writing them again is safe
    mocked.replace(responses.GET, f"{INFO}/locations/111", json={"specialHours": {
        "specialHourPeriods": [NEW_YEAR, STORM_GOOGLE]}})
    found = gbp.lookup("k", draft)
    assert found is not None
    assert found.reconciled


def test_taking_special_hours_down_leaves_the_others(mocked) -> None:
    gbp = make(locations=("111",))
    mocked.get(f"{INFO}/locations/111", json={"specialHours": {"specialHourPeriods": [
        NEW_YEAR, STORM_GOOGLE]}})
    mocked.patch(f"{INFO}/locations/111", json={})
    gbp.delete(Receipt(post_id="storm", account="riverside-gbp", channel="gbp",
                       remote_id="locations/111/specialHours/2026-12-14", published_at=NOW,
                       extra={"kind": "special_hours", "locations": ["111"],
                              "periods": [STORM_GOOGLE]}))
    assert body(mocked.calls[-1]) == {"specialHours": {"specialHourPeriods": [NEW_YEAR]}}


def test_special_hours_periods_are_checked() -> None:
    with pytest.raises(ValueError, match="needs both opens and closes"):
        SpecialHoursPeriod(start_date=date(2026, 12, 24), closed=False, opens="08:00")
    with pytest.raises(ValueError, match="closed period has no opens"):
        SpecialHoursPeriod(start_date=date(2026, 12, 24), opens="08:00", closes="12:00")
    with pytest.raises(ValueError, match="end_date is before start_date"):
        SpecialHoursPeriod(start_date=date(2026, 12, 24), end_date=date(2026, 12, 23))
    assert LocalPostOptions(kind="special_hours", special_hours=[STORM]).special_hours


# -- errors ------------------------------------------------------------------------------------

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


@pytest.mark.parametrize(("status", "code", "details", "cls", "words"), [
    (400, "INVALID_ARGUMENT", [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                "fieldViolations": [{"field": "local_post.summary",
                                                     "description": "Too long"}]}],
     PlatformRejected, "local_post.summary"),
    (400, "INVALID_ARGUMENT", [{"@type": "type.googleapis.com/google.mybusiness.v4."
                                "ValidationError", "errorDetails": [
                                    {"code": 3, "field": "event.schedule",
                                     "message": "End time must be after start time"}]}],
     PlatformRejected, "event.schedule"),
    (400, "FAILED_PRECONDITION", [{"@type": ERROR_INFO, "reason": "PIN_DROP_REQUIRED"}],
     PlatformRejected, "map pin"),
    (401, "UNAUTHENTICATED", [], AuthenticationError, "authorise again"),
    (403, "PERMISSION_DENIED", [{"@type": ERROR_INFO, "reason": "SERVICE_DISABLED",
                                 "domain": "googleapis.com"}],
     PermissionDenied, "enable the API"),
    (403, "PERMISSION_DENIED", [{"@type": ERROR_INFO,
                                 "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}],
     PermissionDenied, "business.manage"),
    (404, "NOT_FOUND", [], PlatformRejected, "NOT_FOUND"),
    (409, "ALREADY_EXISTS", [], DuplicatePost, "ALREADY_EXISTS"),
    (409, "ABORTED", [], ChannelServerError, "ABORTED"),
    (429, "RESOURCE_EXHAUSTED", [{"@type": ERROR_INFO, "reason": "RATE_LIMIT_EXCEEDED"}],
     RateLimited, "300 requests a minute"),
    (429, "RESOURCE_EXHAUSTED", [{"@type": ERROR_INFO, "reason": "THROTTLED"}],
     RateLimited, "10 a minute"),
    (500, "INTERNAL", [], ChannelServerError, "INTERNAL"),
    (503, "UNAVAILABLE", [], ChannelServerError, "UNAVAILABLE"),
    (504, "DEADLINE_EXCEEDED", [], ChannelServerError, "DEADLINE_EXCEEDED"),
    (501, "UNIMPLEMENTED", [], PlatformRejected, "UNIMPLEMENTED"),
])
def test_google_errors_are_mapped(mocked, status, code, details, cls, words) -> None:
    gbp = make(locations=("111",))
    mocked.post(f"{POSTS}/111/localPosts", status=status, headers={"X-Request-Id": "rq-9"},
                json=google_error(status, code, f"Refused, token {TOKEN}", *details))
    with pytest.raises(cls) as info:
        gbp.publish(gbp.render(POST), "k")
    error = info.value
    assert type(error) is cls
    assert words in str(error)
    assert (error.status, error.request_id) == (status, "rq-9")
    assert TOKEN not in str(error) + repr(error)


def test_retry_info_gives_the_wait(mocked) -> None:
    gbp = make(locations=("111",))
    mocked.post(f"{POSTS}/111/localPosts", status=429, json=google_error(
        429, "RESOURCE_EXHAUSTED", "Quota exceeded",
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "42s"}))
    with pytest.raises(RateLimited) as info:
        gbp.publish(gbp.render(POST), "k")
    assert info.value.retry_after == 42


def test_an_answer_without_json_may_have_stored_the_post(mocked) -> None:
    gbp = make(locations=("111",))
    mocked.post(f"{POSTS}/111/localPosts", body="<html>ok</html>", content_type="text/html")
    with pytest.raises(ChannelServerError) as info:
        gbp.publish(gbp.render(POST), "k")
    assert info.value.may_have_been_sent


def test_token_endpoint_unreachable_is_a_connection_error(mocked) -> None:
    import requests

    opts = GoogleBusinessOptions(account_id=ACCOUNT, client_id="123.apps.googleusercontent.com",
                                 client_secret=CLIENT_SECRET, refresh_token=REFRESH,
                                 locations=("111",))
    gbp = GoogleBusinessChannel("riverside-gbp", opts, clock=FrozenClock(NOW))
    mocked.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(ChannelConnectionError):
        gbp.publish(gbp.render(POST), "k")
    assert not any(c.request.url.startswith(POSTS) for c in mocked.calls)


# -- reconcile, delete, reads ------------------------------------------------------------------


def test_lookup_finds_the_post_on_every_location(mocked) -> None:
    gbp = make(locations=("111", "222"))
    mocked.get(f"{POSTS}/111/localPosts", json={"localPosts": [
        local_post("111", "other", "Something else"), local_post("111", "p1")]})
    mocked.get(f"{POSTS}/222/localPosts", json={"localPosts": [local_post("222", "p2")]})
    found = gbp.lookup("k", gbp.render(POST))
    assert found is not None
    assert found.part_ids == (f"accounts/{ACCOUNT}/locations/111/localPosts/p1",
                              f"accounts/{ACCOUNT}/locations/222/localPosts/p2")
    assert found.published_at == datetime(2026, 11, 20, 9, 0, 3, 123000, tzinfo=UTC)


def test_lookup_on_some_locations_asks_a_person(mocked) -> None:
    gbp = make(locations=("111", "222"))
    mocked.get(f"{POSTS}/111/localPosts", json={"localPosts": [local_post("111", "p1")]})
    mocked.get(f"{POSTS}/222/localPosts", json={})
    with pytest.raises(OutcomeUnknown) as info:
        gbp.lookup("k", gbp.render(POST))
    assert not info.value.retryable
    assert "1 of the 2 locations" in str(info.value)


def test_lookup_not_found_pages_through(mocked) -> None:
    gbp = make(locations=("111",))
    mocked.get(f"{POSTS}/111/localPosts", json={"localPosts": [
        local_post("111", "o1", "Other")], "nextPageToken": "t2"})
    mocked.get(f"{POSTS}/111/localPosts", json={"localPosts": [local_post("111", "o2",
                                                                          "Other 2")]})
    assert gbp.lookup("k", gbp.render(POST)) is None


def test_delete_removes_each_location_post(gbp, mocked) -> None:
    names = (f"accounts/{ACCOUNT}/locations/111/localPosts/p1",
             f"accounts/{ACCOUNT}/locations/222/localPosts/p2")
    for name in names:
        mocked.delete(f"https://mybusiness.googleapis.com/v4/{name}", json={})
    gbp.delete(Receipt(post_id="p", account="riverside-gbp", channel="gbp", remote_id=names[0],
                       part_ids=names, published_at=NOW, extra={"kind": "post"}))
    assert len(mocked.calls) == 2


LOCATIONS = {"locations": [
    {"name": "locations/111", "title": "Riverside General Hospital",
     "phoneNumbers": {"primaryPhone": "(217) 555-0142"},
     "websiteUri": "https://riverside.example/",
     "storefrontAddress": {"regionCode": "US", "languageCode": "en", "postalCode": "62701",
                           "administrativeArea": "IL", "locality": "Springfield",
                           "addressLines": ["100 River Rd"]},
     "metadata": {"mapsUri": "https://maps.google.com/maps?cid=111"}},
    {"name": "locations/222", "title": "Riverside Urgent Care East",
     "phoneNumbers": {"primaryPhone": "(217) 555-0199"},
     "websiteUri": "https://riverside-east.example/",
     "storefrontAddress": {"regionCode": "US", "postalCode": "62702",
                           "administrativeArea": "IL", "locality": "Springfield",
                           "addressLines": ["9 Elm St", "Suite 2"]}}]}


def test_fetch_profile_lists_every_location(gbp, mocked) -> None:
    mocked.get(LIST, json=LOCATIONS)
    profile = gbp.fetch_profile()
    assert query(mocked.calls[0])["readMask"] == \
        "name,title,phoneNumbers,websiteUri,storefrontAddress,metadata"
    assert (profile.display_name, profile.phone, profile.website, profile.location) == (
        "Riverside General Hospital", "(217) 555-0142", "https://riverside.example/",
        "100 River Rd, Springfield, IL 62701")
    rows = profile.extra["locations"]
    assert [r["extra"]["location"] for r in rows] == ["locations/111", "locations/222"]
    assert rows[1]["location"] == "9 Elm St, Suite 2, Springfield, IL 62702"


def test_the_brand_audit_has_one_row_per_location(tmp_path, mocked) -> None:
    config = Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General Hospital",
                                 "website": "https://riverside.example/",
                                 "phone": ["+1 217 555 0142"],
                                 "address": ["100 River Rd, Springfield, IL 62701"]}},
        "accounts": {"riverside-gbp": {"channel": "gbp", "brand": "riverside",
                                       "account_id": ACCOUNT}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__RIVERSIDE_GBP__ACCESS_TOKEN": TOKEN})
    mocked.get(LIST, json=LOCATIONS)
    report = audit(config, None, lambda name: make(), fetch_image=lambda url: b"")
    rows = {(a.account, a.location): {c.field: c.status.value for c in a.checks}
            for a in report.accounts}
    assert set(rows) == {("riverside-gbp", "locations/111"), ("riverside-gbp", "locations/222")}
    main, east = rows[("riverside-gbp", "locations/111")], rows[("riverside-gbp",
                                                                 "locations/222")]
    assert main["phone"] == main["website"] == main["address"] == "match"
    assert east["phone"] == east["website"] == east["address"] == "drift"


def test_missing_google_auth_names_the_extra(monkeypatch, mocked) -> None:
    import builtins

    real = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("google.auth") or name.startswith("google.oauth2"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    opts = GoogleBusinessOptions(account_id=ACCOUNT, client_id="123.apps.googleusercontent.com",
                                 client_secret=CLIENT_SECRET, refresh_token=REFRESH,
                                 locations=("111",))
    gbp = GoogleBusinessChannel("riverside-gbp", opts, clock=FrozenClock(NOW))
    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(ConfigurationError, match=r"carecast\[gbp\]"):
        gbp.publish(gbp.render(POST), "k")


def test_secrets_never_shown() -> None:
    opts = GoogleBusinessOptions(account_id=ACCOUNT, client_id="123.apps.googleusercontent.com",
                                 client_secret=CLIENT_SECRET, refresh_token=REFRESH)
    gbp = GoogleBusinessChannel("riverside-gbp", opts)
    for text in (repr(gbp), str(gbp.options), repr(gbp.options), gbp.options.model_dump_json()):
        for secret in (CLIENT_SECRET, REFRESH):
            assert secret not in text
