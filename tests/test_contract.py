"""The channel contract, run over every registered channel, and the error tree.

The contract checks are ``carecast.testing.ChannelContract``, the same suite third-party
channel authors run: one ``TestContract<name>`` class per channel the ``carecast.channels``
entry-point group holds at collection time, plus ``carecast.testing.FakeChannel``. A new
channel needs no test edits here unless its required options cannot be guessed from their
types: then add them to ``SAMPLE_OPTIONS``.
"""

from __future__ import annotations

import inspect
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3.exceptions import (
    MaxRetryError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

import carecast
from carecast import errors
from carecast.channels import Channel, channel_names, get_channel_class
from carecast.channels.base import OPTIONAL_CAPABILITIES
from carecast.channels.http import error_for_status
from carecast.errors import (
    AuthenticationError,
    CarecastError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ConfigurationError,
    LimitExceeded,
    OutcomeUnknown,
    PlatformRejected,
    PostRejected,
)
from carecast.post import Media, MediaKind, Mention, Post
from carecast.testing import ChannelContract, FakeChannel, PlatformAnswer
from carecast.testing.contract import (
    ACCOUNT,
    EXTENSION,
    STATUS_TABLE,
    refuse_network,
    render_or_reject,
    sample_root,
)

REGISTERED = channel_names()
CHANNELS = [*REGISTERED, "fake"]
EXTRA = {"fake": FakeChannel}

#: Options for channels whose required settings cannot be guessed from their types.
SAMPLE_OPTIONS: dict[str, dict[str, Any]] = {
    "webhook": {"url": "https://hooks.example.org/services/T0KEN-contract-41c7",
                "secret": "hmac-contract-9d2e" + "b71f3ac05e9d2846" * 4, "lookup_url":
                "https://hooks.example.org/lookup/LOOKUP-contract-77aa"},
    "blog": {"path": "contract-blog-out", "title": "Contract Clinic Blog"},
    "outbox": {"path": "contract-outbox.jsonl"},
    # Instagram needs media, and local sample media need a host to be fetched from.
    "instagram": {"ig_user_id": "17841400008460056", "access_token": "contract-ig-token-5b1d",
                  "media_host_path": "contract-media",
                  "media_host_url": "https://media.example.org/contract/"},
    # Twilio's SIDs have a fixed shape; the channel's own contract run (with a store holding
    # an opted-in number) is in tests/channels/test_sms.py.
    "sms": {"account_sid": "AC" + "0f" * 16, "auth_token": "contract-twilio-token-8e1d",
            "from_number": "+15017122661"},
    # Google Business Profile: an account number, and a token given (no refresh in the tables).
    "gbp": {"account_id": "1234567890", "access_token": "contract-gbp-token-7c2e"},
    "email": {"host": "smtp.example.org", "from_address": "Riverside News <news@example.org>",
              "list_address": "patients-news@lists.example.org",
              "list_id": "news.riverside.example.org", "username": "news@example.org",
              "password": "smtp-contract-pass-3c9a",
              "unsubscribe_url": "https://example.org/unsubscribe"},
    "foursquare": {"venue_id": "4b0588f4f964a520a6d722e3",
                   "api_key": "fsq3-contract-service-key-61b0"},
    "listmonk": {"url": "https://lists.example.org", "api_user": "carecast",
                 "api_token": "listmonk-contract-token-8e1f", "lists": [3]},
}
#: The HTTP library each channel publishes with: the status and transport tables run on it.
TRANSPORTS = {"webhook": "requests", "wordpress": "requests", "facebook": "requests",
              "instagram": "requests", "linkedin": "requests", "x": "requests",
              "mastodon": "requests", "bluesky": "httpx", "youtube": "httplib2",
              "threads": "requests", "gbp": "requests", "listmonk": "requests"}
#: Where a platform means a status otherwise than STATUS_TABLE says (each with its reason).
STATUS_OVERRIDES: dict[str, dict[int, type[ChannelError]]] = {
    # A publish first signs in (createSession): its 400 is a refused handle or app password.
    "bluesky": {400: AuthenticationError},
    # These platforms never refuse content for repeating other content with a 409 (X says
    # so in a 403, Mastodon and YouTube never): a 409 is a plain refusal.
    "mastodon": {409: PlatformRejected},
    "x": {409: PlatformRejected},
    "youtube": {409: PlatformRejected},
}
#: Where a channel's client library cannot tell the failures of TRANSPORT_TABLE apart.
TRANSPORT_OVERRIDES: dict[str, dict[str, type[ChannelError]]] = {
    # httplib2 raises one socket timeout whether connecting or reading: a write that timed
    # out may have been sent.
    "youtube": {"connect-timeout": OutcomeUnknown},
}
#: Error bodies as the platforms send them, copied from public recordings: Graph's from
#: restfb (exampleErrorNew.json) and python-facebook (base__error_data.json); LinkedIn's from
#: linkedin-v2's VCR cassettes; X's v2 problem from python-twitter (streams__delete_error.json);
#: Google's from google-api-python-client's tests/data and python-youtube's testdata.
GRAPH_BODIES = {
    400: {"error": {"message": "(#100) Object does not exist, cannot be loaded due to missing "
                    "permission or reviewable feature, or does not support this operation.",
                    "type": "OAuthException", "code": 100, "fbtrace_id": "AQt_hJ68vFybS4T"}},
    401: {"error": {"message": "Message describing the error", "type": "OAuthException",
                    "code": 190, "error_subcode": 460, "error_user_title": "A title",
                    "error_user_msg": "A message", "fbtrace_id": "EJplcsCHuLu"}},
}


def _google(status: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    return {"error": {"errors": [{"domain": domain, "reason": reason, "message": message}],
                      "code": status, "message": message}}


ERROR_BODIES: dict[str, dict[int, Any]] = {
    "facebook": GRAPH_BODIES,
    "instagram": GRAPH_BODIES,
    "threads": GRAPH_BODIES,
    "linkedin": {
        400: {"serviceErrorCode": 0, "message": "Illegal field name '['", "status": 400},
        401: {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401},
        404: {"serviceErrorCode": 0, "message": "Resource me does not exist", "status": 404},
    },
    "x": {400: {"errors": [{"parameters": {"delete": []},
                            "message": "JSON doesn't match expected schema"}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request"}},
    # Google's canonical error JSON (google.rpc.Status), as the Business Profile APIs send it.
    "gbp": {
        400: {"error": {"code": 400, "message": "Request contains an invalid argument.",
                        "status": "INVALID_ARGUMENT", "details": [{
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "summary",
                                                 "description": "Too long"}]}]}},
        401: {"error": {"code": 401, "message": "Request had invalid authentication "
                        "credentials.", "status": "UNAUTHENTICATED"}},
        403: {"error": {"code": 403, "message": "The caller does not have permission",
                        "status": "PERMISSION_DENIED"}},
        404: {"error": {"code": 404, "message": "Requested entity was not found.",
                        "status": "NOT_FOUND"}},
        429: {"error": {"code": 429, "message": "Quota exceeded for quota metric "
                        "'Requests' and limit 'Requests per minute'.",
                        "status": "RESOURCE_EXHAUSTED", "details": [{
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "RATE_LIMIT_EXCEEDED",
                            "domain": "googleapis.com"}]}},
        503: {"error": {"code": 503, "message": "The service is currently unavailable.",
                        "status": "UNAVAILABLE"}},
    },
    "youtube": {
        400: _google(400, "keyInvalid", "Bad Request", "usageLimits"),
        403: {"error": {"code": 403, "message": "The caller does not have permission",
                        "errors": [{"message": "Permission denied.",
                                    "domain": "youtube.CoreErrorDomain",
                                    "reason": "SERVICE_UNAVAILABLE"}],
                        "status": "PERMISSION_DENIED"}},
        500: _google(500, "internalError", "We encountered an internal error. Please try "
                     "again using truncated exponential backoff."),
        503: _google(503, "backendError", "We encountered an internal error. Please try "
                     "again using truncated exponential backoff."),
    },
}
#: YouTube takes no video by URL in the tables (a URL is downloaded first, through requests).
TABLE_MEDIA = {"youtube": "clip.mp4"}
#: The platform answers the webhook channel's contract runs (its own tests go further below).
ANSWERS = {"webhook": [PlatformAnswer(200, json={"id": "w-1"}),
                       *(PlatformAnswer(status, cls, retryable=retryable)
                         for status, cls, retryable, _ in STATUS_TABLE)],
           # One JSON answers every call: no campaign found, one created already running.
           # Listmonk's auth middleware answers 403 for a bad token and a missing permission.
           "listmonk": [PlatformAnswer(200, json={"data": {"results": [], "id": 5,
                                                           "status": "running"}}),
                        PlatformAnswer(403, AuthenticationError,
                                       json={"message": "invalid API credentials"}),
                        PlatformAnswer(403, errors.PermissionDenied,
                                       json={"message": "permission denied: campaigns:get"})]}


def _mention(channel: str, remote_id: str, kind: str = "comment") -> Mention:
    return Mention(channel=channel, account="contract-acct", remote_id=remote_id,
                   author="a_patient", text="Thanks for the flu clinic!", kind=kind,
                   created_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


#: A mention of each channel that replies, its id shaped as the platform's.
REPLY_MENTIONS = {
    "mastodon": _mention("mastodon", "109876543210987654", "mention"),
    "bluesky": _mention("bluesky", "at://did:plc:patient7/app.bsky.feed.post/3kq2x7abc2k2a",
                        "reply"),
    "x": _mention("x", "1780000000000000001", "mention"),
    "facebook": _mention("facebook", "112233445566_778899001122"),
    "instagram": _mention("instagram", "17873440459141021"),
    "youtube": _mention("youtube", "UgzDE2tasfmrYLyNkGt4AaABAg"),
    "linkedin": _mention("linkedin", "urn:li:comment:(urn:li:activity:7100000000000000001,"
                                     "7100000000000000777)"),
    "wordpress": _mention("wordpress", "42"),
    "gbp": _mention("gbp", "accounts/1234567890/locations/4455667788/reviews/"
                           "AIe9_BGx7Kq2hYc3", "review"),
    "threads": _mention("threads", "18031234567890123", "reply"),
}


def _importable(name: str) -> type[Channel] | None:
    try:
        return EXTRA.get(name) or get_channel_class(name)
    except ConfigurationError:  # test_every_registered_channel_imports reports it
        return None


CONTRACTS: dict[str, type[ChannelContract]] = {}
for _name in CHANNELS:
    _cls = _importable(_name)
    if _cls is not None:
        CONTRACTS[_name] = type(f"TestContract_{_name}", (ChannelContract,), {
            "channel": _cls, "options": SAMPLE_OPTIONS.get(_name, {}),
            "answers": ANSWERS.get(_name, ()), "transport": TRANSPORTS.get(_name),
            "status_overrides": STATUS_OVERRIDES.get(_name, {}),
            "transport_overrides": TRANSPORT_OVERRIDES.get(_name, {}),
            "table_media": TABLE_MEDIA.get(_name), "reply_mention": REPLY_MENTIONS.get(_name),
            "error_bodies": ERROR_BODIES.get(_name, {})})
globals().update({cls.__name__: cls for cls in CONTRACTS.values()})


def contract(name: str) -> ChannelContract:
    if name not in CONTRACTS:
        pytest.skip(f"{name} cannot be imported (see test_every_registered_channel_imports)")
    return CONTRACTS[name]()


def build(name: str, root: Path, **extra_options: Any) -> Channel:
    return contract(name).build(root, **extra_options)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return sample_root(tmp_path / "root")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    return refuse_network(monkeypatch)


# -- registration -----------------------------------------------------------------------------


def test_builtins_are_registered() -> None:
    assert {"blog", "outbox", "webhook"} <= set(REGISTERED)


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_channel_imports(name: str) -> None:
    cls = get_channel_class(name)
    assert issubclass(cls, Channel)
    assert cls.name == name
    assert name in CONTRACTS


def test_override_of_takes_the_accounts_own_before_its_channels(root: Path) -> None:
    channel = build("webhook", root)
    both = Post.model_validate({"id": "p", "text": "x", "overrides": {
        "webhook": {"text": "channel"}, ACCOUNT: {"text": "account"}}})
    own = channel.override_of(both)
    assert own.given is not None
    assert (own.given.text, own.where) == ("account", f"overrides.{ACCOUNT}")
    shared = channel.override_of(Post.model_validate({"id": "p", "text": "x", "overrides": {
        "webhook": {"text": "channel"}}}))
    assert shared.given is not None
    assert (shared.given.text, shared.where) == ("channel", "overrides.webhook")
    assert channel.override_of(Post(id="p", text="x")).given is None


def test_the_optional_capabilities_are_the_documented_ones() -> None:
    assert set(OPTIONAL_CAPABILITIES) == {"lookup", "fetch_mentions", "fetch_metrics",
                                          "fetch_account_metrics", "update_profile", "reply"}


# -- render never raises anything but PostRejected --------------------------------------------

POST_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                    max_size=400)


@pytest.mark.parametrize("name", CHANNELS)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_render_only_raises_post_rejected(name: str, root: Path, no_network: list[Any],
                                          data: st.DataObject) -> None:
    kinds = st.sampled_from(sorted(MediaKind))
    media = st.builds(lambda k, i, local: Media(
        source="photo.png" if local else f"https://cdn.example.org/{i}.{EXTENSION[k]}",
        kind=MediaKind.IMAGE if local else k), kinds, st.integers(0, 9), st.booleans())
    post = data.draw(st.builds(
        Post, id=st.just("gen"), text=POST_TEXT.filter(str.strip),
        title=st.none() | POST_TEXT, link=st.none() | st.just("https://example.org/x?y=1"),
        hashtags=st.lists(st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True), max_size=4),
        thread=st.lists(POST_TEXT, max_size=3), media=st.lists(media, max_size=5)))
    channel = build(name, root)
    result = render_or_reject(channel, post)
    assert result == render_or_reject(channel, post) or isinstance(result, PostRejected)
    if isinstance(result, LimitExceeded):
        assert result.field.split("[")[0].split(".")[0] in {
            "text", "title", "media", "thread", "overrides"}
    assert no_network == []


# -- HTTP channels: status codes and transport errors map to carecast errors ------------------
# STATUS_TABLE and TRANSPORT_TABLE run on every HTTP channel's publish in its contract class
# (TestContract_<name>::test_http_status_maps_to_a_carecast_error and
# ::test_transport_failure_maps_to_a_carecast_error); the webhook's own cases follow.

HOOK = SAMPLE_OPTIONS["webhook"]["url"]


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def webhook(root: Path, mock: responses.RequestsMock) -> Channel:
    return build("webhook", root)


def _publish_error(channel: Channel) -> ChannelError:
    draft = channel.render(Post(id="p", text="Flu clinic opens Monday."))
    with pytest.raises(ChannelError) as info:
        channel.publish(draft, "cc-key")
    return info.value


def NO_TIME() -> float:
    return 0.0


def test_the_status_table_matches_error_for_status() -> None:
    for status, cls, _, _ in STATUS_TABLE:
        response = requests.Response()
        response.status_code = status
        assert type(error_for_status(response, channel="c", account="a", now=NO_TIME)) is cls
    for status in (418, 451):
        response = requests.Response()
        response.status_code = status
        error = error_for_status(response, channel="c", account="a", now=NO_TIME)
        assert type(error) is PlatformRejected
    response = requests.Response()
    response.status_code = 599
    error = error_for_status(response, channel="c", account="a", now=NO_TIME)
    assert type(error) is ChannelServerError


def _pool_error(reason: Exception) -> MaxRetryError:
    return MaxRetryError(None, "/services/T0KEN-contract-41c7", reason)  # type: ignore[arg-type]


def test_tls_failure_is_surely_not_sent(webhook: Channel,
                                        mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, HOOK, body=requests.exceptions.SSLError(
        _pool_error(Urllib3SSLError("certificate verify failed"))))
    error = _publish_error(webhook)
    assert type(error) is ChannelConnectionError
    assert not error.may_have_been_sent


@pytest.mark.parametrize("status", [502, 503, 504])
def test_retry_after_on_5xx_is_kept(webhook: Channel, mock: responses.RequestsMock,
                                    status: int) -> None:
    mock.add(responses.POST, HOOK, status=status, headers={"Retry-After": "30"})
    error = _publish_error(webhook)
    assert type(error) is ChannelServerError
    assert getattr(error, "retry_after", None) == 30


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_redirect_is_not_a_receipt(webhook: Channel, mock: responses.RequestsMock,
                                     status: int) -> None:
    moved = "https://hooks.example.org/moved"
    mock.add(responses.POST, HOOK, status=status, headers={"Location": moved})
    mock.add(responses.GET, moved, status=200, json={"ok": True})
    draft = webhook.render(Post(id="p", text="Flu clinic opens Monday."))
    # followed, the POST would become a GET without its body, and its 200 a false receipt
    with pytest.raises(OutcomeUnknown) as info:
        webhook.publish(draft, "cc-key")
    # not a receipt, and not "failed" either: the receiver may have stored it (issue 13)
    assert not info.value.retryable
    assert [c.request.method for c in mock.calls] == ["POST"]
    assert f"HTTP {status}" in str(info.value)
    assert "T0KEN" not in str(info.value) + repr(info.value)


class _Server:
    """A socket on 127.0.0.1 that misbehaves in one way."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)  # the request reached the platform
            if self.mode == "hang":
                self.done.wait(5)
            # "close": hang up without an answer

    def close(self) -> None:
        self.done.set()
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize(("mode", "cls"), [("close", OutcomeUnknown), ("hang", OutcomeUnknown),
                                           ("refused", ChannelConnectionError)])
def test_real_transport_failures_on_127_0_0_1(root: Path, mode: str,
                                              cls: type[ChannelError]) -> None:
    if mode == "refused":
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = None
    else:
        server = _Server(mode)
        port = server.port
    try:
        channel = build("webhook", root, url=f"http://127.0.0.1:{port}/hook/T0KEN-real",
                        timeout=0.5, connect_timeout=0.5)
        error = _publish_error(channel)
    finally:
        if server:
            server.close()
    assert type(error) is cls
    assert error.may_have_been_sent == (cls is OutcomeUnknown)
    assert "T0KEN" not in str(error) + repr(error)


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"id": "remote-9", "url": "https://intranet.example.org/p/9"}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_real_2xx_is_a_receipt(root: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        channel = build("webhook", root,
                        url=f"http://127.0.0.1:{server.server_port}/hook/T0KEN-real")
        draft = channel.render(Post(id="p", text="Flu clinic opens Monday."))
        receipt = channel.publish(draft, "cc-key")
    finally:
        server.shutdown()
        server.server_close()
    assert (receipt.remote_id, receipt.url) == ("remote-9", "https://intranet.example.org/p/9")
    assert (receipt.account, receipt.channel, receipt.post_id) == (ACCOUNT, "webhook", "p")


# -- the error tree ---------------------------------------------------------------------------

_TREE_LINE = re.compile(r"^(?P<indent>(?:[│ ] {3})*)(?:[├└]── )?(?P<body>\w.*)$")


def parse_tree() -> dict[str, tuple[str | None, bool]]:
    """``{class: (parent, retryable mark)}`` from the tree in errors.py's docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("```")[1]
    tree: dict[str, tuple[str | None, bool]] = {}
    parents: list[str] = []
    for line in block.strip("\n").splitlines():
        match = _TREE_LINE.match(line)
        assert match, f"cannot read the tree line {line!r}"
        depth = len(match["indent"]) // 4 + (1 if re.search(r"[├└]── ", line) else 0)
        body = re.sub(r"\([^)]*\)", "", match["body"])  # (.attrs) and (comments)
        chain = [n.strip() for n in body.split("──") if n.strip()]
        del parents[depth:]
        parent = parents[-1] if parents else None
        for item in chain:
            name = item.split()[0].rstrip("*")
            assert name not in tree, f"{name} appears twice in the tree"
            tree[name] = (parent, item.split()[0].endswith("*"))
            parent = name
        parents.append(chain[0].split()[0].rstrip("*"))
    return tree


def test_errors_are_built_whole_and_replaced_not_amended() -> None:
    error = OutcomeUnknown("lost", channel="x", account="a", status=408, retryable=False)
    assert (error.retryable, error.may_have_been_sent) == (False, True)  # given, class default
    assert OutcomeUnknown("lost").retryable  # the class's own default stays
    known = ChannelServerError("failed", channel="x", account="a", status=503, retry_after=7,
                               request_id="req-1").replace(may_have_been_sent=False)
    assert type(known) is ChannelServerError
    assert (known.may_have_been_sent, known.retryable, known.retry_after) == (False, True, 7)
    assert (known.status, known.request_id, str(known)) == (
        503, "req-1", "[a] failed (HTTP 503) (request id req-1)")
    assert ChannelServerError("failed").may_have_been_sent  # the class is left as it was
    with pytest.raises(TypeError, match="no field 'colour'"):
        error.replace(colour="red")


def test_every_error_class_is_in_the_tree_under_its_parent() -> None:
    tree = parse_tree()
    assert set(tree) == set(errors.__all__)
    for name, (parent, starred) in tree.items():
        cls = getattr(errors, name)
        expected = getattr(errors, parent) if parent else Exception
        assert cls.__bases__ == (expected,), f"{name}: the tree says {parent}"
        if issubclass(cls, ChannelError):
            assert cls.retryable == starred, f"{name}: '*' marks the retryable errors"
        else:
            assert not starred


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_class_has_a_one_line_summary(name: str) -> None:
    cls = getattr(errors, name)
    doc = cls.__dict__.get("__doc__")
    assert (doc or "").strip(), f"{name} has no docstring of its own"
    summary = doc.strip().splitlines()[0]
    assert summary.endswith("."), f"{name}: the summary is one sentence ending in '.'"
    assert len(summary) <= 100
    assert issubclass(cls, CarecastError)


def test_error_tree_and_all_are_sorted_and_resolve() -> None:
    assert errors.__all__ == sorted(errors.__all__)
    assert carecast.__all__ == sorted(carecast.__all__)
    assert len(set(carecast.__all__)) == len(carecast.__all__)
    for name in carecast.__all__:
        assert getattr(carecast, name) is not None, name
    assert set(errors.__all__) <= set(carecast.__all__), "every error is public"
    public = {n for n, v in vars(carecast).items()
              if not n.startswith("_") and not inspect.ismodule(v)} - {
        "annotations", "import_module", "TYPE_CHECKING", "Any"}
    assert public <= set(carecast.__all__), public - set(carecast.__all__)


def test_unsorted_or_broken_all_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(carecast, "__all__", [*carecast.__all__, "Aaa"])
    with pytest.raises(AssertionError):
        test_error_tree_and_all_are_sorted_and_resolve()
    monkeypatch.setattr(carecast, "__all__", [*sorted([*carecast.__all__[:-1], "zzz_missing"])])
    with pytest.raises((AssertionError, AttributeError)):
        test_error_tree_and_all_are_sorted_and_resolve()


LOOKUP = SAMPLE_OPTIONS["webhook"]["lookup_url"]


def test_lookup_found_and_not_found(webhook: Channel, mock: responses.RequestsMock) -> None:
    draft = webhook.render(Post(id="p", text="Flu clinic opens Monday."))
    mock.add(responses.GET, LOOKUP, status=404)
    assert webhook.lookup("cc-key", draft) is None
    mock.replace(responses.GET, LOOKUP, json={"id": "remote-7", "url": "https://i.example/7"})
    found = webhook.lookup("cc-key", draft)
    assert found is not None
    assert (found.remote_id, found.url) == ("remote-7", "https://i.example/7")
    assert mock.calls[-1].request.params == {"key": "cc-key"}
    mock.replace(responses.GET, LOOKUP, status=500)
    with pytest.raises(ChannelServerError):
        webhook.lookup("cc-key", draft)


@pytest.mark.parametrize(("status", "body", "content_type"), [
    (200, "<html><body>Please sign in</body></html>", "text/html"),
    (200, "", "text/plain"),
    (204, "", "text/plain"),
], ids=["html-200", "empty-200", "204"])
def test_lookup_needs_a_json_answer_to_call_a_post_found(
        webhook: Channel, mock: responses.RequestsMock, status: int, body: str,
        content_type: str) -> None:
    draft = webhook.render(Post(id="p", text="Flu clinic opens Monday."))
    mock.add(responses.GET, LOOKUP, status=status, body=body, content_type=content_type)
    try:
        found = webhook.lookup("cc-key", draft)
    except ChannelError:
        return  # refusing to decide is fine: the target stays unknown
    assert found is None, "a non-JSON answer was taken as proof the post is there"
