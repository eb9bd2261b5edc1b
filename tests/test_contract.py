"""The channel contract, run over every registered channel, and the error tree.

The channel table is whatever the ``carecast.channels`` entry-point group holds at collection
time, plus ``carecast.testing.FakeChannel``. A new channel needs no test edits here unless its
required options cannot be guessed from their types: then add them to ``SAMPLE_OPTIONS``.
"""

from __future__ import annotations

import inspect
import json
import re
import socket
import threading
import typing
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

import carecast
from carecast import errors
from carecast.channels import Channel, ChannelOptions, channel_names, get_channel_class
from carecast.channels.base import OPTIONAL_CAPABILITIES
from carecast.channels.http import error_for_status
from carecast.config import AccountConfig
from carecast.errors import (
    AuthenticationError,
    CarecastError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    DuplicatePost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    PostRejected,
    RateLimited,
)
from carecast.post import Draft, Media, MediaKind, Post
from carecast.testing import FakeChannel

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
}
ACCOUNT = "contract-acct"
LIMIT_KEYS = {"max_text", "text_unit", "url_length", "max_title", "requires_title", "max_media",
              "media_kinds", "max_media_bytes", "requires_media", "supports_threads",
              "supports_scheduling", "per_account", "per_host",
              "rate_limits_by"}
TEXT_UNITS = {"characters", "graphemes", "weighted", "bytes"}
SECRET_NAMES = re.compile(r"token|secret|password|passwd|api_?key|access_?key|credential",
                          re.IGNORECASE)
EXTENSION = {MediaKind.IMAGE: "png", MediaKind.GIF: "gif", MediaKind.VIDEO: "mp4",
             MediaKind.AUDIO: "mp3"}


def channel_class(name: str) -> type[Channel]:
    if name in EXTRA:
        return EXTRA[name]
    try:
        return get_channel_class(name)
    except ConfigurationError as exc:
        pytest.skip(f"{name} cannot be imported (see test_every_registered_channel_imports): "
                    f"{exc}")


def _guess(name: str, annotation: Any) -> Any:
    """A value for a required option, from its name and type."""
    types = set(typing.get_args(annotation)) | {annotation}
    if "url" in name:
        return f"https://example.invalid/contract/{name}"
    if types & {str, SecretStr}:
        return f"contract-{name}"
    if types & {int, float}:
        return 1
    if bool in types:
        return False
    if Path in types:
        return f"contract-{name}"
    raise LookupError(name)


def sample_options(name: str, cls: type[Channel]) -> dict[str, Any]:
    if name in SAMPLE_OPTIONS:
        return dict(SAMPLE_OPTIONS[name])
    try:
        return {field: _guess(field, info.annotation)
                for field, info in cls.Options.model_fields.items() if info.is_required()}
    except LookupError as exc:
        pytest.fail(f"cannot guess the required option {exc} of the {name} channel: add its "
                    "options to SAMPLE_OPTIONS in tests/test_contract.py")


def build(name: str, root: Path, **extra_options: Any) -> Channel:
    cls = channel_class(name)
    account = AccountConfig(name=ACCOUNT, channel=name,
                            options={**sample_options(name, cls), **extra_options})
    try:
        return cls.from_config(account, root=root)
    except ConfigurationError as exc:
        pytest.fail(f"the sample options of the {name} channel do not validate ({exc}): fix "
                    "SAMPLE_OPTIONS in tests/test_contract.py")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    (path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (path / "clip.mp4").write_bytes(bytes(128))
    (path / "episode.mp3").write_bytes(bytes(96))
    return path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any connect attempt raises (and is recorded)."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any, *args: Any) -> Any:
        attempts.append(address)
        raise OSError("render must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    return attempts


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for folder in folders for p in [folder, *folder.rglob("*")]}


def sample_posts(cls: type[Channel]) -> list[Post]:
    """Posts that exercise every part of render, within what the channel takes."""
    kinds = sorted(cls.media_kinds)[:max(cls.max_media, 0)]
    url_media = tuple(Media(source=f"https://cdn.example.org/m{i}.{EXTENSION[k]}",
                            alt_text=f"Item {i}") for i, k in enumerate(kinds))
    local = ()
    if cls.max_media and MediaKind.IMAGE in cls.media_kinds:
        local = (Media(source="photo.png", alt_text="The new clinic entrance",
                       consent="consent-2026-001"),)
    title = "Flu clinic" if cls.max_title is None or cls.max_title >= 10 else "Flu"
    posts = [
        Post(id="plain", text="Our flu clinic opens Monday at 9."),
        Post(id="full", text="Flu shots for everyone over 6 months.", title=title,
             link="https://example.org/flu", hashtags=["flu", "#vaccines"],
             thread=("Walk-ins welcome.",), language="en-US", campaign="flu-2026",
             media=local or url_media[:1]),
        Post(id="title-only", title=title, text=""),
        Post(id="override", text="Generic text.", overrides={
            cls.name: {"text": "Channel text.", "hashtags": ["clinic"]},
            ACCOUNT: {"title": title}}),
        Post(id="schedule", text="Later.", schedule="2030-01-01T09:00:00-05:00"),
    ]
    if url_media:
        posts.append(Post(id="media", text="Pictures.", media=url_media))
    if cls.requires_title:
        posts = [p.model_copy(update={"title": p.title or title}) for p in posts]
    if cls.requires_media and (local or url_media):
        needed = local or url_media[:1]
        posts = [p.model_copy(update={"media": p.media or needed}) for p in posts]
    return posts


def render_or_reject(channel: Channel, post: Post) -> Draft | PostRejected:
    try:
        return channel.render(post)
    except PostRejected as exc:
        return exc


# -- registration and declarations ------------------------------------------------------------


def test_builtins_are_registered() -> None:
    assert {"blog", "outbox", "webhook"} <= set(REGISTERED)


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_channel_imports(name: str) -> None:
    cls = get_channel_class(name)
    assert issubclass(cls, Channel)


@pytest.mark.parametrize("name", CHANNELS)
def test_declares_its_name_and_title(name: str) -> None:
    cls = channel_class(name)
    assert cls.name == name
    assert re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", cls.name)
    assert isinstance(cls.title, str)
    assert cls.title.strip()
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"
    assert not inspect.isabstract(cls), f"{cls.__name__} leaves abstract methods"


@pytest.mark.parametrize("name", CHANNELS)
def test_limits_are_complete_and_sane(name: str) -> None:
    cls = channel_class(name)
    limits = cls.limits()
    assert set(limits) == LIMIT_KEYS
    json.dumps(limits)  # plain data, for listings

    def positive_or_none(value: Any) -> bool:
        return value is None or (type(value) is int and value > 0)

    assert positive_or_none(limits["max_text"])
    assert limits["text_unit"] in TEXT_UNITS
    assert positive_or_none(limits["url_length"])
    assert positive_or_none(limits["max_title"])
    assert type(limits["max_media"]) is int
    assert limits["max_media"] >= 0
    for domain in ("per_account", "per_host"):
        assert type(limits[domain]) is int, domain
        assert limits[domain] >= 1, domain
    assert limits["per_account"] <= limits["per_host"]
    assert limits["rate_limits_by"] in ("account", "host")
    for flag in ("requires_title", "requires_media", "supports_threads", "supports_scheduling"):
        assert type(limits[flag]) is bool, flag
    kinds = limits["media_kinds"]
    assert kinds == sorted(kinds)
    assert set(kinds) <= {k.value for k in MediaKind}
    assert all(isinstance(k, MediaKind) for k in cls.media_kinds)
    assert set(limits["max_media_bytes"]) <= set(kinds)
    assert all(type(v) is int and v > 0 for v in limits["max_media_bytes"].values())
    assert bool(kinds) == (limits["max_media"] > 0), "media kinds without media, or the reverse"
    if limits["requires_media"]:
        assert limits["max_media"] >= 1
    if limits["url_length"] is not None:
        assert limits["max_text"] is not None
    if limits["supports_threads"]:
        assert limits["max_text"] is None or limits["max_text"] >= 20


@pytest.mark.parametrize("name", CHANNELS)
def test_capabilities_are_the_optional_calls(name: str) -> None:
    cls = channel_class(name)
    capabilities = cls.capabilities()
    assert capabilities <= set(OPTIONAL_CAPABILITIES)
    assert set(OPTIONAL_CAPABILITIES) == {"lookup", "fetch_mentions", "fetch_metrics",
                                          "update_profile"}
    for capability in capabilities:
        assert getattr(cls, capability) is not getattr(Channel, capability)


@pytest.mark.parametrize("name", CHANNELS)
def test_options_forbid_unknown_settings(name: str, root: Path) -> None:
    cls = channel_class(name)
    assert issubclass(cls.Options, ChannelOptions)
    assert cls.Options.model_config.get("extra") == "forbid"
    account = AccountConfig(name=ACCOUNT, channel=name, options={
        **sample_options(name, cls), "no_such_option": "value-7f1e"})
    with pytest.raises(ConfigurationError) as info:
        cls.from_config(account, root=root)
    message = str(info.value)
    assert f"accounts.{ACCOUNT}.no_such_option" in message
    assert "value-7f1e" not in message
    assert isinstance(info.value, CarecastError)


@pytest.mark.parametrize("name", CHANNELS)
def test_missing_required_options_name_their_env_var(name: str, root: Path) -> None:
    cls = channel_class(name)
    required = [f for f, info in cls.Options.model_fields.items() if info.is_required()]
    if not required:
        cls.from_config(AccountConfig(name=ACCOUNT, channel=name), root=root)
        return
    with pytest.raises(ConfigurationError) as info:
        cls.from_config(AccountConfig(name=ACCOUNT, channel=name), root=root)
    for option in required:
        assert f"accounts.{ACCOUNT}.{option}" in str(info.value)
        assert f"CARECAST_ACCOUNTS__CONTRACT_ACCT__{option.upper()}" in str(info.value)


@pytest.mark.parametrize("name", CHANNELS)
def test_secret_options_are_secret_and_never_printed(name: str, root: Path) -> None:
    cls = channel_class(name)
    for option, info in cls.Options.model_fields.items():
        if SECRET_NAMES.search(option):
            assert SecretStr in {info.annotation, *typing.get_args(info.annotation)}, (
                f"{name}: option {option!r} looks like a secret; type it SecretStr")
    channel = build(name, root)
    values = [str(v) for v in sample_options(name, cls).values() if len(str(v)) >= 4]
    for text in (repr(channel), str(channel)):
        for value in values:
            assert value not in text
    secrets = [v.get_secret_value() for v in dict(channel.options).values()
               if isinstance(v, SecretStr)]
    for text in (repr(channel.options), str(channel.options),
                 channel.options.model_dump_json()):
        for secret in secrets:
            assert secret not in text


# -- render: pure, deterministic, refuses what the platform cannot take ----------------------


@pytest.mark.parametrize("name", CHANNELS)
def test_render_is_pure_and_deterministic(name: str, root: Path, tmp_path: Path,
                                          no_network: list[Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    channel = build(name, root)
    twin = build(name, root)
    before = snapshot(tmp_path)
    rendered = 0
    for post in sample_posts(type(channel)):
        first = render_or_reject(channel, post)
        again = render_or_reject(channel, post)
        other = render_or_reject(twin, post)
        if isinstance(first, PostRejected):
            assert type(again) is type(first)
            assert str(again) == str(first)
            continue
        rendered += 1
        assert isinstance(first, Draft)
        assert first == again == other
        assert first.content_hash() == again.content_hash()
        assert (first.post_id, first.account, first.channel) == (post.id, ACCOUNT, name)
        assert first.parts, "a draft has at least one part"
        for part in first.parts:
            assert part.length == channel.count(part.text)
            assert part.limit == channel.max_text
            if channel.max_text is not None:
                assert part.length <= channel.max_text
        assert len(first.media) <= channel.max_media
    assert rendered >= 3, "the sample posts should mostly render"
    assert no_network == []
    assert snapshot(tmp_path) == before, "render wrote files"


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


def _expect_limit(channel: Channel, post: Post, field: str, limit: Any) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        channel.render(post)
    error = info.value
    assert error.field == field
    assert error.limit == limit
    assert field in str(error)
    return error


@pytest.mark.parametrize("name", CHANNELS)
def test_text_over_the_limit_is_refused_naming_the_field(name: str, root: Path) -> None:
    channel = build(name, root)
    limit = channel.max_text
    if limit is None:
        pytest.skip(f"{name} declares no text limit")
    long_text = " ".join(["word"] * limit)
    if channel.supports_threads:  # long text becomes a thread; a long thread part cannot
        error = _expect_limit(channel, Post(id="p", text="Short.", thread=(long_text,)),
                              "thread[0]", limit)
        word = _expect_limit(channel, Post(id="p", text="x" * (limit + 1)), "text",
                             _pack_room(channel))  # one word never splits
        assert word.value == limit + 1
    else:
        error = _expect_limit(channel, Post(id="p", text=long_text), "text", limit)
    assert error.value > limit


def _pack_room(channel: Channel) -> int:
    """The room split_thread leaves for text after the ' k/n' numbering."""
    assert channel.max_text is not None
    return channel.max_text - channel.count(" 9/9")


@pytest.mark.parametrize("name", CHANNELS)
def test_title_over_the_limit_is_refused_naming_the_field(name: str, root: Path) -> None:
    channel = build(name, root)
    if channel.max_title is None:
        pytest.skip(f"{name} declares no title limit")
    title = "T" * (channel.max_title + 1)
    error = _expect_limit(channel, Post(id="p", text="Body.", title=title), "title",
                          channel.max_title)
    assert error.value == channel.max_title + 1
    _expect_limit(channel, Post(id="p", text="Body.", overrides={name: {"title": title}}),
                  f"overrides.{name}.title", channel.max_title)


@pytest.mark.parametrize("name", CHANNELS)
def test_too_many_media_are_refused_naming_the_field(name: str, root: Path) -> None:
    channel = build(name, root)
    kind = min(channel.media_kinds) if channel.media_kinds else MediaKind.IMAGE
    items = [Media(source=f"https://cdn.example.org/{i}.{EXTENSION[kind]}", alt_text="x")
             for i in range(channel.max_media + 1)]
    error = _expect_limit(channel, Post(id="p", text="Body.", media=items), "media",
                          channel.max_media)
    assert error.value == channel.max_media + 1


@pytest.mark.parametrize("name", CHANNELS)
@pytest.mark.parametrize("kind", sorted(MediaKind))
def test_media_kinds_it_does_not_take_are_refused(name: str, kind: MediaKind,
                                                  root: Path) -> None:
    channel = build(name, root)
    post = Post(id="p", text="Body.", title="Flu" if channel.requires_title else None, media=[
        Media(source=f"https://cdn.example.org/a.{EXTENSION[kind]}", alt_text="x")])
    if channel.max_media == 0:
        _expect_limit(channel, post, "media", 0)
    elif kind in channel.media_kinds:
        assert channel.render(post).media[0].kind == kind
    else:
        error = _expect_limit(channel, post, "media[0].kind", error_limit(channel))
        assert error.value == kind.value


def error_limit(channel: Channel) -> str:
    return ", ".join(sorted(k.value for k in channel.media_kinds)) or "none"


@pytest.mark.parametrize("name", CHANNELS)
def test_media_over_the_size_limit_are_refused(name: str, root: Path) -> None:
    channel = build(name, root)
    if not channel.max_media_bytes:
        pytest.skip(f"{name} declares no media size limits")
    for kind, cap in channel.max_media_bytes.items():
        big = root / f"big.{EXTENSION[kind]}"
        with big.open("wb") as f:
            f.truncate(cap + 1)  # sparse: no real bytes written
        error = _expect_limit(channel, Post(id="p", text="x", media=[
            Media(source=big.name, kind=kind, alt_text="x")]), "media[0]", cap)
        assert error.value == cap + 1


@pytest.mark.parametrize("name", CHANNELS)
def test_required_title_and_media_are_named(name: str, root: Path) -> None:
    channel = build(name, root)
    if not (channel.requires_title or channel.requires_media):
        pytest.skip(f"{name} requires neither a title nor media")
    media = [Media(source=f"https://cdn.example.org/a.{EXTENSION[min(channel.media_kinds)]}",
                   alt_text="x")] if channel.media_kinds else []
    if channel.requires_title:  # each requirement checked on a post that meets the other
        _expect_limit(channel, Post(id="p", text="Body.", media=media), "title", "required")
    if channel.requires_media:
        _expect_limit(channel, Post(id="p", text="Body.",
                                    title="Flu" if channel.requires_title else None),
                      "media", "required")


@pytest.mark.parametrize("name", CHANNELS)
def test_an_override_text_over_the_limit_names_the_override(name: str, root: Path) -> None:
    channel = build(name, root)
    if channel.max_text is None:
        pytest.skip(f"{name} declares no text limit")
    post = Post(id="p", text="Short.", overrides={
        ACCOUNT: {"text": "x" * (channel.max_text + 1)}})
    with pytest.raises(LimitExceeded) as info:
        channel.render(post)
    assert info.value.field == f"overrides.{ACCOUNT}.text"


# -- HTTP channels: status codes and transport errors map to carecast errors ------------------

HOOK = SAMPLE_OPTIONS["webhook"]["url"]
STATUS_TABLE = [
    # status, class, retryable, may have been sent
    (400, PlatformRejected, False, False),
    (401, AuthenticationError, False, False),
    (403, PermissionDenied, False, False),
    (404, PlatformRejected, False, False),
    (409, DuplicatePost, False, False),
    (413, PlatformRejected, False, False),
    (422, PlatformRejected, False, False),
    (429, RateLimited, True, False),
    (500, ChannelServerError, True, True),
    (502, ChannelServerError, True, True),
    (503, ChannelServerError, True, True),
    (504, ChannelServerError, True, True),
]


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


@pytest.mark.parametrize(("status", "cls", "retryable", "maybe_sent"), STATUS_TABLE,
                         ids=[str(row[0]) for row in STATUS_TABLE])
def test_http_status_maps_to_a_carecast_error(webhook: Channel, mock: responses.RequestsMock,
                                               status: int,
                                               cls: type[ChannelError], retryable: bool,
                                               maybe_sent: bool) -> None:
    mock.add(responses.POST, HOOK, status=status, json={"error": "nope"},
                  headers={"X-Request-Id": f"req-{status}", "Retry-After": "7"})
    error = _publish_error(webhook)
    assert type(error) is cls
    assert (error.retryable, error.may_have_been_sent) == (retryable, maybe_sent)
    assert (error.status, error.request_id) == (status, f"req-{status}")
    assert (error.channel, error.account) == ("webhook", ACCOUNT)
    assert f"HTTP {status}" in str(error)
    assert "T0KEN" not in str(error) + repr(error)
    if cls is RateLimited:
        assert error.retry_after == 7
    if cls is AuthenticationError:
        assert "renew" in str(error)


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


TRANSPORT_TABLE = [
    ("connect-timeout", requests.ConnectTimeout(_pool_error(ConnectTimeoutError("slow"))),
     ChannelTimeout, True, False),
    ("connection-refused", requests.ConnectionError(_pool_error(NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"))),  # type: ignore[arg-type]
     ChannelConnectionError, True, False),
    ("read-timeout", requests.ReadTimeout(_pool_error(ReadTimeoutError(None, "/", "slow"))),  # type: ignore[arg-type]
     OutcomeUnknown, True, True),
    ("reset-mid-response", requests.ConnectionError(ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))),
     OutcomeUnknown, True, True),
    ("chunked-encoding", requests.exceptions.ChunkedEncodingError("broken"),
     OutcomeUnknown, True, True),
]


@pytest.mark.parametrize(("label", "exc", "cls", "retryable", "maybe_sent"), TRANSPORT_TABLE,
                         ids=[row[0] for row in TRANSPORT_TABLE])
def test_transport_errors_map_to_carecast_errors(webhook: Channel,
                                                 mock: responses.RequestsMock, label: str,
                                                 exc: Exception, cls: type[ChannelError],
                                                 retryable: bool, maybe_sent: bool) -> None:
    mock.add(responses.POST, HOOK, body=exc)
    error = _publish_error(webhook)
    assert type(error) is cls, label
    assert (error.retryable, error.may_have_been_sent) == (retryable, maybe_sent)
    assert error.status is None
    assert "T0KEN" not in str(error) + repr(error)
    chain: list[BaseException] = []
    item: BaseException | None = error
    while item is not None and len(chain) < 10:  # hidden or not, no link may quote the URL
        chain.append(item)
        item = item.__cause__ or item.__context__
    assert not any("T0KEN" in str(e) + repr(e) for e in chain)


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
