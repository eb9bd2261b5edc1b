"""The webhook channel: signed JSON POST, every HTTP failure mapped, secrets never shown."""

from __future__ import annotations

import email.utils
import json
import socket
import traceback
from datetime import UTC, datetime
from http.client import RemoteDisconnected

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from carecast.channels.webhook import WebhookChannel, WebhookOptions, sign
from carecast.config import AccountConfig, Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    DuplicatePost,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Post, Receipt
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.records import State
from carecast.testing import FrozenClock

URL = "https://hooks.example.org/services/T0001/B0002/tok3n-in-the-url"
LOOKUP = "https://hooks.example.org/lookup/tok3n-in-lookup"
SECRET = "hmac-s3cret-value-" + "4f9c2a7e1b8d3f60" * 4
SECRETS = ("tok3n-in-the-url", "tok3n-in-lookup", SECRET, "hooks.example.org")
NOW = 1_790_000_000
POST = Post(id="flu-1", title="Flu clinic", text="Flu shots on Monday.", hashtags=["flu"])


def make(**options) -> WebhookChannel:
    opts = {"url": URL, "secret": SECRET, **options}
    return WebhookChannel("intranet", WebhookOptions(**opts),
                          clock=FrozenClock(datetime.fromtimestamp(NOW, UTC)))


@pytest.fixture
def hook() -> WebhookChannel:
    return make(lookup_url=LOOKUP)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def assert_no_secrets(*objects: object) -> None:
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        for text in texts:
            for secret in SECRETS:
                assert secret not in text, f"{secret!r} shown in {text!r}"


# -- the request -----------------------------------------------------------------------------


def test_publish_posts_signed_json_with_the_key(hook, mocked) -> None:
    mocked.post(URL, json={"id": "remote-7", "url": "https://intranet.example/7"}, status=201)
    draft = hook.render(POST)
    receipt = hook.publish(draft, "cc-key-1")
    assert (receipt.remote_id, receipt.url) == ("remote-7", "https://intranet.example/7")
    assert (receipt.post_id, receipt.account, receipt.channel) == ("flu-1", "intranet", "webhook")
    request = mocked.calls[0].request
    assert request.headers["Idempotency-Key"] == "cc-key-1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "carecast"
    assert request.headers["Carecast-Signature"] == sign(SECRET, request.body, NOW)
    assert request.headers["Carecast-Signature"].startswith(f"t={NOW},v1=")
    body = json.loads(request.body)
    assert body["key"] == "cc-key-1"
    assert "sent_at" in body
    assert {k: v for k, v in body.items() if k not in ("key", "sent_at")} == draft.model_dump(
        mode="json")
    assert body["parts"][0]["text"] == "Flu shots on Monday.\n\n#flu"


def test_signature_is_hmac_sha256_of_time_and_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"k", b"123." + body, hashlib.sha256).hexdigest()
    assert sign("k", body, 123) == f"t=123,v1={expected}"
    assert sign("k", body, 124) != sign("k", body, 123)
    assert sign("other", body, 123) != sign("k", body, 123)


def test_without_a_secret_there_is_no_signature(mocked) -> None:
    mocked.post(URL, body="ok")  # a non-JSON answer: the key is the remote id
    channel = make(secret=None)
    receipt = channel.publish(channel.render(POST), "cc-key-1")
    assert receipt.remote_id == "cc-key-1"
    assert receipt.url is None
    assert "Carecast-Signature" not in mocked.calls[0].request.headers


def test_timeouts_are_passed(mocked) -> None:
    mocked.post(URL, json={})
    channel = make(timeout=7.5, connect_timeout=2.0)
    channel.publish(channel.render(POST), "k")
    assert mocked.calls[0].request.req_kwargs["timeout"] == (2.0, 7.5)


def test_delete_sends_a_signed_notice(hook, mocked) -> None:
    mocked.post(URL, json={})
    receipt = Receipt(post_id="flu-1", account="intranet", channel="webhook",
                      remote_id="remote-7", published_at="2026-01-01T00:00:00Z")
    hook.delete(receipt)
    request = mocked.calls[0].request
    assert json.loads(request.body) == {"deleted": "remote-7", "post_id": "flu-1"}
    assert request.headers["Carecast-Signature"] == sign(SECRET, request.body, NOW)


def test_profile_and_capabilities() -> None:
    assert make().fetch_profile().display_name == "intranet"
    assert make(name="Staff intranet").fetch_profile().display_name == "Staff intranet"
    assert not make().idempotent_publish
    assert make(idempotent=True).idempotent_publish
    assert WebhookChannel.limits()["max_text"] is None


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), [
    (400, PlatformRejected), (422, PlatformRejected), (401, AuthenticationError),
    (403, PermissionDenied), (409, DuplicatePost), (429, RateLimited),
    (500, ChannelServerError), (502, ChannelServerError), (503, ChannelServerError),
])
def test_http_errors_map_to_carecast_errors(hook, mocked, status, cls) -> None:
    mocked.post(URL, status=status, json={"error": "nope"},
                headers={"X-Request-Id": "req-42"})
    with pytest.raises(cls) as info:
        hook.publish(hook.render(POST), "cc-key-1")
    error = info.value
    assert type(error) is cls
    assert (error.status, error.request_id) == (status, "req-42")
    assert (error.channel, error.account) == ("webhook", "intranet")
    assert error.retryable == (status in (429, 500, 502, 503))
    assert error.may_have_been_sent == (status >= 500)
    assert f"(HTTP {status})" in str(error)
    assert_no_secrets(error)


def test_authentication_error_says_how_to_renew(hook, mocked) -> None:
    mocked.post(URL, status=401)
    with pytest.raises(AuthenticationError, match="renew"):
        hook.publish(hook.render(POST), "k")


@pytest.mark.parametrize(("headers", "low", "high"), [
    (lambda: {"Retry-After": "30"}, 30, 30),
    (lambda: {"Retry-After": email.utils.formatdate(NOW + 120, usegmt=True)}, 110, 121),
    (lambda: {"x-rate-limit-reset": str(int(NOW) + 60)}, 50, 61),
    (lambda: {"x-ratelimit-reset": datetime.fromtimestamp(NOW + 90, UTC).isoformat()},
     80, 91),  # Mastodon: an ISO time
    (lambda: {"ratelimit-reset": str(int(NOW) + 40)}, 30, 41),  # Bluesky: a Unix time
    (lambda: {"ratelimit-reset": "25"}, 25, 25),  # IETF draft: seconds from now
    # measured on the platform's clock: its Date is an hour behind ours, its reset too
    (lambda: {"x-rate-limit-reset": str(int(NOW) - 3600 + 60),
              "Date": email.utils.formatdate(NOW - 3600, usegmt=True)}, 50, 61),
    (dict, None, None),
], ids=["seconds", "date", "reset", "iso-reset", "epoch-reset", "delta-reset", "skewed",
        "none"])
def test_rate_limits_carry_the_wait(hook, mocked, headers, low, high) -> None:
    mocked.post(URL, status=429, headers=headers())  # made now: a date made at collection ages
    with pytest.raises(RateLimited) as info:
        hook.publish(hook.render(POST), "k")
    if low is None:
        assert info.value.retry_after is None
    else:
        assert low <= info.value.retry_after <= high


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(MaxRetryError(None, URL, reason=reason))


@pytest.mark.parametrize(("exc", "cls", "sent"), [
    (refused(), ChannelConnectionError, False),
    (requests.ConnectTimeout(f"timed out connecting to {URL}"), ChannelTimeout, False),
    (requests.ReadTimeout(f"read timed out from {URL}"), OutcomeUnknown, True),
    (requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected(
        "Remote end closed connection without response"))), OutcomeUnknown, True),
    (requests.exceptions.ChunkedEncodingError("broken"), OutcomeUnknown, True),
])
def test_transport_failures(hook, mocked, exc, cls, sent) -> None:
    mocked.post(URL, body=exc)
    with pytest.raises(cls) as info:
        hook.publish(hook.render(POST), "k")
    assert type(info.value) is cls
    assert info.value.may_have_been_sent is sent
    assert info.value.retryable
    assert_no_secrets(info.value)


def test_a_real_refused_connection_was_not_sent() -> None:
    with socket.socket() as sock:  # a free port on this machine, then nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook/tok3n-in-the-url"
    channel = WebhookChannel("intranet", WebhookOptions(url=url, connect_timeout=2))
    with pytest.raises(ChannelConnectionError) as info:
        channel.publish(channel.render(POST), "k")
    assert type(info.value) is ChannelConnectionError
    assert not info.value.may_have_been_sent
    assert_no_secrets(info.value)


# -- lookup ----------------------------------------------------------------------------------


def test_lookup_found(hook, mocked) -> None:
    mocked.get(LOOKUP, json={"id": "remote-7", "url": "https://intranet.example/7"},
               match=[matchers.query_param_matcher({"key": "cc-key-1"})])
    found = hook.lookup("cc-key-1", hook.render(POST))
    assert (found.remote_id, found.url, found.post_id) == (
        "remote-7", "https://intranet.example/7", "flu-1")
    assert hook.can_lookup


def test_lookup_not_found(hook, mocked) -> None:
    mocked.get(LOOKUP, status=404)
    assert hook.lookup("cc-key-1", hook.render(POST)) is None


def test_lookup_failure_is_raised(hook, mocked) -> None:
    mocked.get(LOOKUP, status=500)
    with pytest.raises(ChannelServerError) as info:
        hook.lookup("cc-key-1", hook.render(POST))
    assert_no_secrets(info.value)


def test_without_lookup_url_it_cannot_look_up() -> None:
    channel = make()
    assert not channel.can_lookup
    with pytest.raises(NotImplementedError):
        channel.lookup("k", channel.render(POST))


# -- secrets ---------------------------------------------------------------------------------


def test_secrets_never_shown(hook) -> None:
    assert_no_secrets(hook, hook.options, hook.options.url, hook.options.secret,
                      hook.options.lookup_url, hook.options.model_dump())
    assert hook.options.url.get_secret_value() == URL


def test_bad_url_error_does_not_echo_it() -> None:
    account = AccountConfig(name="intranet", channel="webhook",
                            options={"url": "ftp://hooks.example.org/tok3n-in-the-url",
                                     "secret": SECRET})
    with pytest.raises(ConfigurationError, match=r"accounts\.intranet\.url: give an http") as info:
        WebhookChannel.from_config(account)
    assert_no_secrets(info.value, account)


def test_missing_url_says_where_to_set_it() -> None:
    with pytest.raises(ConfigurationError, match="CARECAST_ACCOUNTS__INTRANET__URL"):
        WebhookChannel.from_config(AccountConfig(name="intranet", channel="webhook"))


# -- end to end ------------------------------------------------------------------------------


def config(tmp_path, **options) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"intranet": {"channel": "webhook", "brand": "riverside", "url": URL,
                                  **options}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__INTRANET__SECRET": SECRET})


def test_publisher_end_to_end(tmp_path, no_sleep, mocked) -> None:
    mocked.post(URL, json={"id": "remote-1", "url": "https://intranet.example/1"})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        report = publisher.publish(POST)
        assert report.ok
        receipt = report["intranet"].receipt
        assert (receipt.remote_id, receipt.url) == ("remote-1", "https://intranet.example/1")
        assert publisher.publish(POST)["intranet"].already_published
    assert len(mocked.calls) == 1
    request = mocked.calls[0].request
    assert request.headers["Idempotency-Key"] == idempotency_key(POST.id, "intranet")
    assert request.headers["Carecast-Signature"] == sign(SECRET, request.body, int(
        request.headers["Carecast-Signature"].split(",")[0].removeprefix("t=")))
    assert (tmp_path / "carecast.db").is_file()
    for path in tmp_path.iterdir():  # the ledger never stores the URL or the secret
        stored = path.read_bytes()
        assert not [s for s in SECRETS if s.encode() in stored], path.name


def test_publisher_reconciles_a_server_error_by_lookup(tmp_path, no_sleep, mocked) -> None:
    mocked.post(URL, status=503)
    mocked.get(LOOKUP, status=404)
    mocked.post(URL, json={"id": "remote-2"})
    with Publisher(config(tmp_path, lookup_url=LOOKUP), entry_point_plugins=False,
                   retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["intranet"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.remote_id == "remote-2"
    assert [c.request.method for c in mocked.calls] == ["POST", "GET", "POST"]


def test_publisher_does_not_resend_blindly(tmp_path, no_sleep, mocked) -> None:
    mocked.post(URL, body=requests.ReadTimeout("read timed out"))
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["intranet"]
    assert outcome.state == State.UNKNOWN
    assert len(mocked.calls) == 1  # no lookup_url and not idempotent: never sent twice
    assert outcome.error.type == "OutcomeUnknown"
    assert "carecast retry" in outcome.error.message
    assert_no_secrets(outcome.error.message)


@pytest.mark.parametrize("status", [303, 307, 408])
def test_an_answer_that_may_follow_a_write_is_unknown_and_reconciled(
        tmp_path, no_sleep, mocked, status) -> None:
    """Issue 13 item 2: a receiver that stores the post, then answers 303 (or 408), is not
    'failed': `retry` looks the post up and never sends it again."""
    stored: list[str] = []

    def receive(request):
        stored.append(json.loads(request.body)["key"])
        return status, {"Location": "https://intranet.example/posts/9"}, ""

    def find(request):
        if request.params["key"] in stored:
            return 200, {}, json.dumps({"id": "remote-9"})
        return 404, {}, ""

    mocked.add_callback(responses.POST, URL, callback=receive)
    mocked.add_callback(responses.GET, LOOKUP, callback=find)
    with Publisher(config(tmp_path, lookup_url=LOOKUP), entry_point_plugins=False,
                   retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["intranet"]
        assert outcome.state == State.UNKNOWN
        assert (outcome.error.type, outcome.error.status) == ("OutcomeUnknown", status)
        assert "reconcile" in outcome.error.message
        retried = publisher.retry(POST.id)["intranet"]
    assert retried.state == State.PUBLISHED
    assert (retried.receipt.remote_id, retried.receipt.reconciled) == ("remote-9", True)
    assert len(stored) == 1
    assert [c.request.method for c in mocked.calls] == ["POST", "GET"]


def test_a_redirect_without_lookup_stays_unknown_on_retry(tmp_path, no_sleep, mocked) -> None:
    mocked.post(URL, status=303, headers={"Location": "https://intranet.example/posts/9"})
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        assert publisher.publish(POST)["intranet"].state == State.UNKNOWN
        assert publisher.retry(POST.id)["intranet"].state == State.UNKNOWN
    assert len(mocked.calls) == 1


def test_a_redirect_to_a_read_is_still_an_error_to_fix(hook, mocked) -> None:
    mocked.get(LOOKUP, status=302, headers={"Location": "https://login.example/"})
    with pytest.raises(PlatformRejected, match="HTTP 302"):
        hook.lookup("cc-key-1", hook.render(POST))


def test_an_unknown_outcome_says_what_to_run_with_the_posts_own_id(tmp_path, no_sleep,
                                                                   mocked) -> None:
    """The platform may have stored a write answered 408: the message names this post's
    id (never a placeholder) and, as this channel cannot look posts up, says to check
    the account before resending."""
    mocked.post(URL, status=408)
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep) as publisher:
        outcome = publisher.publish(POST)["intranet"]
    assert outcome.state == State.UNKNOWN
    assert "POST_ID" not in outcome.error.message
    assert outcome.error.message.endswith(
        f"check the intranet account; only if the post is not there, run: "
        f"carecast retry {POST.id} --resend-unknown")
    assert len(mocked.calls) == 1


def test_a_channels_suggested_command_gets_the_posts_id() -> None:
    from carecast.errors import OutcomeUnknown
    from carecast.records import ErrorInfo

    exc = OutcomeUnknown("check the account, then run: carecast retry POST_ID --resend-unknown",
                         channel="mastodon", account="news", retryable=False)
    assert "carecast retry p-1 --resend-unknown" in ErrorInfo.from_exception(
        exc, post_id="p-1").message
    assert "POST_ID" in ErrorInfo.from_exception(exc).message  # no post, no id to give
