"""The shared Graph API client: URLs, the token kept out of URLs, error codes, usage headers.

Error bodies are shaped on Graph's error object as recorded in restfb's test resources
(``exampleErrorNew.json``: message, type, code, error_subcode, fbtrace_id) and python-facebook's
(``base__error_data.json``: a code-100 error); the business-use-case header on restfb's
``api__header-business.json``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
import requests
import responses

from carecast.channels.facebook import FacebookChannel, FacebookOptions
from carecast.channels.graph import (
    DEFAULT_VERSION,
    GraphClient,
    graph_time,
    insight_values,
    same_text,
    usage_wait,
)
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    DuplicatePost,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)

TOKEN = "EAAGtok3n-page-secret"
APP_SECRET = "app-s3cret"
BASE = f"https://graph.facebook.com/{DEFAULT_VERSION}"


class _Clock:
    def time(self) -> float:
        return 1.79e9


def client(**options) -> GraphClient:
    """The Graph client of a Facebook account: its errors come from ``Channel.error``."""
    opts = FacebookOptions(page_id="123", access_token=TOKEN, **options)
    page = FacebookChannel("riverside-fb", opts, session=requests.Session(),
                           clock=_Clock())  # type: ignore[arg-type]
    return page.graph


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def graph_body(code: int, subcode: int | None = None, message: str = "Message describing the "
               "error", **extra) -> dict:
    error = {"message": message, "type": "OAuthException", "code": code,
             "fbtrace_id": "EJplcsCHuLu", **extra}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def test_default_version_is_current_and_configurable() -> None:
    assert DEFAULT_VERSION == "v27.0"  # the newest in Meta's changelog, released 2026-11-04
    assert client().url("123/feed") == "https://graph.facebook.com/v27.0/123/feed"
    assert client(graph_version="v25.0").url("1/videos", video=True) == \
        "https://graph-video.facebook.com/v25.0/1/videos"
    with pytest.raises(ValueError, match="graph_version"):
        FacebookOptions(page_id="1", access_token=TOKEN, graph_version="26")


def test_token_travels_in_the_header_never_the_url(mocked, caplog) -> None:
    mocked.get(f"{BASE}/123", json={"id": "123", "name": "Riverside General"})
    caplog.set_level(logging.DEBUG)
    assert client().get("123", fields="name")["name"] == "Riverside General"
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in request.url
    assert "access_token" not in request.url
    assert TOKEN not in caplog.text


def test_appsecret_proof_signs_the_token(mocked) -> None:
    mocked.post(f"{BASE}/123/feed", json={"id": "123_456"})
    client(app_secret=APP_SECRET).post("123/feed", {"message": "hi"})
    proof = hmac.new(APP_SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert f"appsecret_proof={proof}" in mocked.calls[0].request.body
    assert APP_SECRET not in mocked.calls[0].request.body


def test_paging_follows_next_without_its_token(mocked) -> None:
    # python-facebook's feed_fields_p1.json: a "next" link that embeds access_token
    nxt = (f"{BASE}/4/posts?access_token=access_token&pretty=0&fields=id%2Cmessage"
           "&limit=2&after=QVFIUm")
    mocked.get(f"{BASE}/4/posts", json={"data": [{"id": "4_1"}, {"id": "4_2"}],
                                        "paging": {"cursors": {"after": "QVFIUm"}, "next": nxt}})
    mocked.get(f"{BASE}/4/posts", json={"data": [{"id": "4_3"}], "paging": {}})
    items = list(client().pages("4/posts", limit=5, fields="id,message"))
    assert [i["id"] for i in items] == ["4_1", "4_2", "4_3"]
    second = mocked.calls[1].request
    assert "access_token" not in second.url
    assert "after=QVFIUm" in second.url
    assert len(mocked.calls) == 2
    assert [i["id"] for i in client().pages("4/posts", limit=1, fields="id")] == ["4_3"]
    assert len(mocked.calls) == 3  # the limit stops paging


ERROR_TABLE = [
    # Graph code, subcode, HTTP status, class, retryable
    (190, 460, 400, AuthenticationError, False),
    (190, 463, 400, AuthenticationError, False),
    (190, 467, 401, AuthenticationError, False),
    (190, None, 400, AuthenticationError, False),
    (4, None, 403, RateLimited, True),
    (17, None, 400, RateLimited, True),
    (32, None, 400, RateLimited, True),
    (613, None, 400, RateLimited, True),
    (80001, None, 400, RateLimited, True),
    (80004, None, 400, RateLimited, True),
    (1, None, 500, ChannelServerError, True),
    (2, None, 503, ChannelServerError, True),
    (1, 1965014, 400, ChannelServerError, True),
    (506, None, 400, DuplicatePost, False),
    (100, None, 400, PlatformRejected, False),
    (200, None, 403, PermissionDenied, False),
    (210, None, 400, PermissionDenied, False),
    (299, None, 400, PermissionDenied, False),
    (10, None, 403, PermissionDenied, False),
    (368, 1390008, 400, PlatformRejected, False),
    (9004, 2207052, 400, PlatformRejected, False),
]


@pytest.mark.parametrize(("code", "subcode", "status", "cls", "retryable"), ERROR_TABLE,
                         ids=[f"{r[0]}-{r[1]}" for r in ERROR_TABLE])
def test_errors_map_by_code_and_subcode(mocked, code, subcode, status, cls, retryable) -> None:
    mocked.post(f"{BASE}/123/feed", status=status, json=graph_body(code, subcode))
    with pytest.raises(ChannelError) as info:
        client().post("123/feed", {"message": "Flu clinic"})
    error = info.value
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status == status
    assert error.code == (f"{code}/{subcode}" if subcode else str(code))
    assert error.request_id == "EJplcsCHuLu"
    assert (error.channel, error.account) == ("facebook", "riverside-fb")
    assert TOKEN not in str(error) + repr(error)


def test_the_message_never_decides_the_class(mocked) -> None:
    mocked.post(f"{BASE}/1/feed", status=400, json=graph_body(
        100, message="(#190) Error validating access token: rate limit duplicate"))
    with pytest.raises(PlatformRejected):
        client().post("1/feed", {})


def test_expired_token_says_why_and_how_to_renew(mocked) -> None:
    mocked.get(f"{BASE}/1", status=400, json=graph_body(190, 463))
    with pytest.raises(AuthenticationError,
                       match=r"it expired .*get a new long-lived Page access token") as info:
        client().get("1")
    assert "subcode 463" in str(info.value)


def test_parameter_is_named(mocked) -> None:
    mocked.post(f"{BASE}/1/feed", status=400,
                json=graph_body(100, message="(#100) param link must be a valid URL"))
    with pytest.raises(PlatformRejected, match="the parameter 'link'"):
        client().post("1/feed", {})


def test_policy_block_is_final_and_says_so(mocked) -> None:
    mocked.post(f"{BASE}/1/feed", status=400, json=graph_body(
        368, 1390008, message="It looks like you were misusing this feature"))
    with pytest.raises(PlatformRejected, match=r"blocked by Meta.s policies .*not retried") as info:
        client().post("1/feed", {})
    assert not info.value.retryable


@pytest.mark.parametrize(("header", "value", "wait"), [
    # restfb api__header-business.json: estimated_time_to_regain_access in minutes
    ("x-business-use-case-usage", {"1234": [{"type": "pages", "call_count": 100,
                                             "total_cputime": 16, "total_time": 45,
                                             "estimated_time_to_regain_access": 10}]}, 600),
    ("x-page-usage", {"call_count": 100, "total_cputime": 8, "total_time": 9,
                      "estimated_time_to_regain_access": 3}, 180),
    ("x-app-usage", {"call_count": 100, "total_cputime": 2, "total_time": 2}, None),
])
def test_rate_limit_wait_comes_from_usage_headers(mocked, header, value, wait) -> None:
    mocked.post(f"{BASE}/1/feed", status=400, json=graph_body(32),
                headers={header: json.dumps(value)})
    with pytest.raises(RateLimited) as info:
        client().post("1/feed", {})
    assert info.value.retry_after == wait


def test_usage_wait_takes_the_longest_and_survives_junk() -> None:
    headers = {"X-Business-Use-Case-Usage": json.dumps({
        "1": [{"type": "pages", "estimated_time_to_regain_access": 2}],
        "2": [{"type": "instagram", "estimated_time_to_regain_access": 5}]}),
        "x-app-usage": "not json"}
    assert usage_wait(headers) == 300
    assert usage_wait({"x-page-usage": '{"estimated_time_to_regain_access": 0}'}) is None
    assert usage_wait({}) is None


def test_retry_after_is_used_when_usage_headers_say_nothing(mocked) -> None:
    mocked.post(f"{BASE}/1/feed", status=400, json=graph_body(4), headers={"Retry-After": "42"})
    with pytest.raises(RateLimited) as info:
        client().post("1/feed", {})
    assert info.value.retry_after == 42


@pytest.mark.parametrize(("status", "body", "content_type"), [
    (502, "<html><body>502 Bad Gateway</body></html>", "text/html"),
    (500, "", "text/plain"),
    (503, "Service Unavailable", "text/plain"),
])
def test_non_json_5xx_is_a_server_error(mocked, status, body, content_type) -> None:
    mocked.post(f"{BASE}/1/feed", status=status, body=body, content_type=content_type)
    with pytest.raises(ChannelServerError) as info:
        client().post("1/feed", {})
    assert info.value.status == status
    assert info.value.may_have_been_sent


def test_an_error_object_in_a_200_is_an_error(mocked) -> None:
    mocked.get(f"{BASE}/1", json=graph_body(2))
    with pytest.raises(ChannelServerError):
        client().get("1")


def test_a_200_without_json_is_not_taken_as_success(mocked) -> None:
    mocked.post(f"{BASE}/1/feed", body="<html>proxy login</html>", content_type="text/html")
    with pytest.raises(ChannelServerError, match="without a JSON object"):
        client().post("1/feed", {})


def test_bare_true_is_success(mocked) -> None:
    mocked.delete(f"{BASE}/1_2", body="true", content_type="application/json")
    assert client().delete("1_2") == {"success": True}


def test_transport_errors_pass_through(mocked) -> None:
    mocked.post(f"{BASE}/1/feed", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknown):
        client().post("1/feed", {})
    mocked.post(f"{BASE}/1/feed", body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(ChannelConnectionError):
        client().post("1/feed", {})


def test_usage_of_the_last_answer_is_kept(mocked) -> None:
    mocked.get(f"{BASE}/1", json={"id": "1"},
               headers={"x-app-usage": '{"call_count": 28, "total_time": 25}'})
    graph = client()
    graph.get("1")
    assert graph.usage["x-app-usage"] == {"call_count": 28, "total_time": 25}


def test_small_helpers() -> None:
    when = graph_time("2021-07-04T19:50:58+0000")
    assert when is not None
    assert when.utcoffset() is not None
    assert (when.year, when.hour) == (2021, 19)
    assert graph_time(None) is None
    assert graph_time("yesterday") is None
    assert same_text("Flu  shots\n\nMonday", "Flu shots Monday")
    assert not same_text("Flu shots", "Flu shot")
    assert insight_values({"data": [
        {"name": "views", "period": "lifetime", "values": [{"value": 812}]},
        {"name": "reach", "total_value": {"value": 640}}]}) == {"views": 812, "reach": 640}
