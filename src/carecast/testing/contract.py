"""The channel contract suite, for carecast's own channels and for third-party ones.

Subclass ``ChannelContract`` in a test module, name the channel class, its sample options and
a small table of platform answers, and pytest runs every check on it::

    from carecast.errors import AuthenticationError, RateLimited
    from carecast.testing import ChannelContract, PlatformAnswer

    class TestTeamsContract(ChannelContract):
        channel = TeamsChannel
        options = {"url": "https://example.webhook.office.com/webhookb2/T0KEN"}
        answers = [PlatformAnswer(200), PlatformAnswer(401, AuthenticationError),
                   PlatformAnswer(429, RateLimited, headers={"Retry-After": "7"})]

The checks: name, title and docstring declared; limits complete and sane; capabilities are the
optional calls; options forbid unknown settings and name the environment variable of a missing
one; secret options are ``SecretStr`` and never printed; ``render`` is pure (no network, no
files written) and deterministic; text, title, media count, kind and size over the declared
limits are refused naming the field; and each platform answer becomes the right receipt or
``carecast`` error (the answers need ``responses``, so they fit channels that send with
``requests``, as carecast's own HTTP helpers do).
"""

from __future__ import annotations

import inspect
import json
import json as _json
import re
import socket
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from pydantic import SecretStr

from carecast.channels.base import OPTIONAL_CAPABILITIES, Channel, ChannelOptions
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
from carecast.post import Draft, Media, MediaKind, Mention, Post, Receipt

__all__ = [
    "EXTENSION",
    "PLATFORMS",
    "STATUS_TABLE",
    "TRANSPORT_TABLE",
    "ChannelContract",
    "Httplib2Platform",
    "HttpxPlatform",
    "Platform",
    "PlatformAnswer",
    "RequestsPlatform",
    "refuse_network",
    "render_or_reject",
    "requests_failure",
    "sample_options",
    "sample_posts",
    "sample_root",
]

ACCOUNT = "contract-acct"
LIMIT_KEYS = {"max_text", "text_unit", "url_length", "max_title", "requires_title", "max_media",
              "media_kinds", "max_media_bytes", "requires_media", "supports_threads",
              "max_parts", "supports_scheduling", "per_account", "per_host",
              "rate_limits_by"}
FEATURE_KEYS = {"calls", "idempotent_publish", "public_profile", "extra", "packages",
                "missing_packages", "notes"}
TEXT_UNITS = {"characters", "graphemes", "weighted", "bytes"}
SECRET_NAMES = re.compile(r"token|secret|password|passwd|api_?key|access_?key|credential",
                          re.IGNORECASE)
EXTENSION = {MediaKind.IMAGE: "png", MediaKind.GIF: "gif", MediaKind.VIDEO: "mp4",
             MediaKind.AUDIO: "mp3"}


@dataclass(frozen=True)
class PlatformAnswer:
    """One answer the platform gives to a publish, and what carecast must make of it:
    a receipt (``error`` None) or exactly the ``error`` class, with the answer's status."""

    status: int
    error: type[ChannelError] | None = None
    json: Any = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    retryable: bool | None = None

    def __str__(self) -> str:
        return f"{self.status}-{self.error.__name__ if self.error else 'receipt'}"


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


def sample_options(cls: type[Channel], given: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """``given``, else a value for each required option guessed from its name and type."""
    if given:
        return dict(given)
    try:
        return {name: _guess(name, info.annotation)
                for name, info in cls.Options.model_fields.items() if info.is_required()}
    except LookupError as exc:
        pytest.fail(f"cannot guess the required option {exc} of the {cls.name} channel: set "
                    "`options` on its contract class")


def sample_posts(cls: type[Channel]) -> list[Post]:
    """Posts that exercise every part of render, within what the channel takes."""
    kinds = sorted(cls.media_kinds)[:max(cls.max_media, 0)]
    url_media = tuple(Media(source=f"https://cdn.example.org/m{i}.{EXTENSION[k]}",
                            alt_text=f"Item {i}") for i, k in enumerate(kinds))
    local: tuple[Media, ...] = ()
    if cls.max_media and MediaKind.IMAGE in cls.media_kinds:
        local = (Media(source="photo.png", alt_text="The new clinic entrance",
                       consent="consent-2026-001"),)
    title = "Flu clinic" if cls.max_title is None or cls.max_title >= 10 else "Flu"
    posts = [
        Post(id="plain", text="Our flu clinic opens Monday at 9."),
        Post(id="full", text="Flu shots for everyone over 6 months.", title=title,
             link="https://example.org/flu", hashtags=("flu", "#vaccines"),
             thread=("Walk-ins welcome.",), language="en-US", campaign="flu-2026",
             media=local or url_media[:1]),
        Post(id="title-only", title=title, text=""),
        Post.model_validate({"id": "override", "text": "Generic text.", "overrides": {
            cls.name: {"text": "Channel text.", "hashtags": ["clinic"]},
            ACCOUNT: {"title": title}}}),
        Post.model_validate({"id": "schedule", "text": "Later.",
                             "schedule": "2030-01-01T09:00:00-05:00"}),
    ]
    if url_media:
        posts.append(Post(id="media", text="Pictures.", media=url_media))
    if cls.requires_title:
        posts = [p.model_copy(update={"title": p.title or title}) for p in posts]
    if cls.requires_media and (local or url_media):
        needed = local or url_media[:1]
        posts = [p.model_copy(update={"media": p.media or needed}) for p in posts]
    return posts


def sample_root(path: Path) -> Path:
    """Make ``path``, a configuration folder with small sample media, and return it."""
    path.mkdir()
    (path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (path / "clip.mp4").write_bytes(bytes(128))
    (path / "episode.mp3").write_bytes(bytes(96))
    return path


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make every connect attempt raise; returns the list they are recorded in."""
    attempts: list[Any] = []

    def refuse(_self: Any, address: Any, *args: Any) -> Any:
        attempts.append(address)
        raise OSError("render must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))
    return attempts


def render_or_reject(channel: Channel, post: Post) -> Draft | PostRejected:
    try:
        return channel.render(post)
    except PostRejected as exc:
        return exc


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in [folder, *folder.rglob("*")]}


def _expect_limit(channel: Channel, post: Post, where: str, limit: Any) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        channel.render(post)
    error = info.value
    assert error.field == where
    assert error.limit == limit
    assert where in str(error)
    return error


def _pack_room(channel: Channel) -> int:
    """The room split_thread leaves for text after the ' k/n' numbering."""
    assert channel.max_text is not None
    return channel.max_text - channel.count(" 9/9")


# -- the status and transport tables, run over every HTTP channel's publish ----------------------

K = TypeVar("K", int, str)


def _overridden(row: tuple[K, type[ChannelError], bool, bool],
                overrides: Mapping[K, type[ChannelError]]
                ) -> tuple[K, type[ChannelError], bool, bool]:
    """A table row as a channel's contract overrides it: another class, with that class's
    own flags."""
    cls = overrides.get(row[0])
    return row if cls is None else (row[0], cls, cls.retryable, cls.may_have_been_sent)


#: What each HTTP error status of a publish must become: ``(status, class, retryable, may have
#: been sent)``. A channel whose platform means a status otherwise lists it in its contract's
#: ``status_overrides``; the flags are then that class's own.
STATUS_TABLE: tuple[tuple[int, type[ChannelError], bool, bool], ...] = (
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
)
#: What each transport failure of a publish must become: ``(failure, class, retryable, may
#: have been sent)``. Each ``Platform`` raises its own transport's exception for a failure.
TRANSPORT_TABLE: tuple[tuple[str, type[ChannelError], bool, bool], ...] = (
    ("connect-timeout", ChannelTimeout, True, False),
    ("connection-refused", ChannelConnectionError, True, False),
    ("read-timeout", OutcomeUnknown, True, True),
    ("reset-mid-response", OutcomeUnknown, True, True),
    ("broken-body", OutcomeUnknown, True, True),
)
#: A path segment every platform double puts in its answers' failures: it must never be shown.
HIDDEN = "T0KEN-contract-41c7"


class Platform:
    """A platform double: every request the channel makes gets one scripted answer.

    ``session`` is what the channel is built with (None when the double patches the
    transport itself, as ``responses`` does).
    """

    session: Any = None

    def answer(self, status: int, *, json: Any, headers: Mapping[str, str]) -> None:
        """Every request gets this answer."""
        raise NotImplementedError

    def fail(self, failure: str) -> None:
        """Every request fails as the ``TRANSPORT_TABLE`` row ``failure`` names."""
        raise NotImplementedError


class RequestsPlatform(Platform):
    """For channels on ``requests`` (carecast's HTTP helpers, tweepy, Mastodon.py)."""

    def __init__(self, mock: Any) -> None:
        self.mock = mock

    def _add(self, **answer: Any) -> None:
        import responses

        for method in (responses.GET, responses.POST, responses.PUT, responses.PATCH,
                       responses.DELETE):
            self.mock.add(method, re.compile(r"https?://.*"), **answer)

    def answer(self, status: int, *, json: Any, headers: Mapping[str, str]) -> None:
        self._add(status=status, json=json, headers=dict(headers))

    def fail(self, failure: str) -> None:
        self._add(body=requests_failure(failure))


def requests_failure(failure: str) -> Exception:
    """The exception ``requests`` raises for a ``TRANSPORT_TABLE`` failure, wrapped as
    urllib3 wraps it (its message quotes the path, as a real one does)."""
    import requests
    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
    )

    def pool(reason: Exception) -> MaxRetryError:
        return MaxRetryError(None, f"/services/{HIDDEN}", reason)  # type: ignore[arg-type]

    make: dict[str, Callable[[], Exception]] = {
        "connect-timeout": lambda: requests.ConnectTimeout(pool(ConnectTimeoutError("slow"))),
        "connection-refused": lambda: requests.ConnectionError(pool(NewConnectionError(
            None, "Failed to establish a new connection: [Errno 111] Connection refused"))),  # type: ignore[arg-type]
        "read-timeout": lambda: requests.ReadTimeout(pool(ReadTimeoutError(
            None, f"/{HIDDEN}", "slow"))),  # type: ignore[arg-type]
        "reset-mid-response": lambda: requests.ConnectionError(ProtocolError(
            "Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))),
        "broken-body": lambda: requests.exceptions.ChunkedEncodingError(f"broken /{HIDDEN}"),
    }
    return make[failure]()


class HttpxPlatform(Platform):
    """For channels on ``httpx`` (atproto): an ``httpx.Client`` over a ``MockTransport``."""

    def __init__(self) -> None:
        import httpx

        self._handle: Callable[[Any], Any] = self._unset
        self.session = httpx.Client(transport=httpx.MockTransport(
            lambda request: self._handle(request)))

    @staticmethod
    def _unset(request: Any) -> Any:
        raise AssertionError("no answer scripted")

    def answer(self, status: int, *, json: Any, headers: Mapping[str, str]) -> None:
        import httpx

        self._handle = lambda request: httpx.Response(status, json=json, headers=headers)

    def fail(self, failure: str) -> None:
        import httpx

        make: type[httpx.TransportError] = {
            "connect-timeout": httpx.ConnectTimeout, "connection-refused": httpx.ConnectError,
            "read-timeout": httpx.ReadTimeout, "reset-mid-response": httpx.ReadError,
            "broken-body": httpx.RemoteProtocolError}[failure]

        def handle(request: Any) -> Any:
            raise make(f"failed at /{HIDDEN}", request=request)

        self._handle = handle


class Httplib2Platform(Platform):
    """For channels on ``httplib2`` (google-api-python-client): the object ``build`` takes
    as ``http``."""

    def __init__(self) -> None:
        self.session = self
        self._reply: Any = None

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = 1, connection_type: Any = None) -> Any:
        """httplib2's ``Http.request``: the scripted answer, or the scripted failure."""
        return self._reply()

    def answer(self, status: int, *, json: Any, headers: Mapping[str, str]) -> None:
        import httplib2  # type: ignore[import-untyped]

        content = _json.dumps(json).encode()
        self._reply = lambda: (httplib2.Response({
            "status": str(status), "content-type": "application/json", **headers}), content)

    def fail(self, failure: str) -> None:
        from http.client import IncompleteRead

        makers: dict[str, Callable[[], Exception]] = {
            "connect-timeout": lambda: TimeoutError("timed out"),
            "connection-refused": lambda: ConnectionRefusedError(111, "Connection refused"),
            "read-timeout": lambda: TimeoutError("timed out"),
            "reset-mid-response": lambda: ConnectionResetError(104, "Connection reset"),
            "broken-body": lambda: IncompleteRead(b"", 10)}
        make = makers[failure]

        def reply() -> Any:
            raise make()

        self._reply = reply


PLATFORMS: dict[str, Callable[[Any], Platform]] = {
    "requests": RequestsPlatform,
    "httpx": lambda _mock: HttpxPlatform(),
    "httplib2": lambda _mock: Httplib2Platform(),
}


class ChannelContract:
    """The contract checks; subclass it with ``channel``, ``options`` and ``answers``, and,
    for a channel that publishes over HTTP, ``transport`` (the status and transport tables
    then run on its publish)."""

    #: The channel class under test.
    channel: ClassVar[type[Channel]]
    #: Options that validate (default: guessed from the required options' types).
    options: ClassVar[Mapping[str, Any]] = {}
    #: Platform answers to a publish and the receipt or error each must become.
    answers: ClassVar[Sequence[PlatformAnswer]] = ()
    #: The HTTP library the channel publishes with (a key of ``PLATFORMS``: ``"requests"``,
    #: ``"httpx"``, ``"httplib2"``); None for a channel that sends no HTTP.
    transport: ClassVar[str | None] = None
    #: Statuses the platform means otherwise than ``STATUS_TABLE`` says, ``{status: class}``.
    status_overrides: ClassVar[Mapping[int, type[ChannelError]]] = {}
    #: Failures the channel's client library cannot tell apart as ``TRANSPORT_TABLE`` does,
    #: ``{failure: class}`` (httplib2 has one timeout for connect and read).
    transport_overrides: ClassVar[Mapping[str, type[ChannelError]]] = {}
    #: The media the tables' post carries where the channel requires media: a file of
    #: ``sample_root`` (``clip.mp4``...) for a channel that takes no media by URL; None for a
    #: URL of the first media kind it takes.
    table_media: ClassVar[str | None] = None
    #: The error body the platform sends with a status, ``{status: JSON}``, shaped on a real
    #: recording (the others get a body that says nothing the channel can read).
    error_bodies: ClassVar[Mapping[int, Any]] = {}
    #: What a person wrote on this platform, for a channel that declares ``reply``: its
    #: ``remote_id`` shaped as the platform's ids (the status and transport tables run on the
    #: reply too, and it must name the channel and account as a publish does).
    reply_mention: ClassVar[Mention | None] = None

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize the answer, table and media-kind checks from the subclass's tables."""
        if "answer" in metafunc.fixturenames:
            metafunc.parametrize("answer", list(self.answers) or [None], ids=str)
        if "status_row" in metafunc.fixturenames:
            metafunc.parametrize("status_row", STATUS_TABLE, ids=[str(r[0]) for r in
                                                                  STATUS_TABLE])
        if "transport_row" in metafunc.fixturenames:
            metafunc.parametrize("transport_row", TRANSPORT_TABLE,
                                 ids=[r[0] for r in TRANSPORT_TABLE])
        if "kind" in metafunc.fixturenames:
            metafunc.parametrize("kind", sorted(MediaKind), ids=str)

    # -- fixtures and helpers ----------------------------------------------------------------

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        """A configuration folder with small sample media."""
        return sample_root(tmp_path / "root")

    @pytest.fixture
    def no_network(self, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        """Any connect attempt raises (and is recorded)."""
        return refuse_network(monkeypatch)

    def sample_options(self) -> dict[str, Any]:
        """The options every check builds the channel with."""
        return sample_options(self.channel, self.options)

    def build(self, root: Path, session: Any = None, **extra_options: Any) -> Channel:
        """The channel, configured as account ``contract-acct``."""
        account = AccountConfig(name=ACCOUNT, channel=self.channel.name,
                                options={**self.sample_options(), **extra_options})
        try:
            return self.channel.from_config(account, root=root, session=session)
        except ConfigurationError as exc:
            pytest.fail(f"the sample options of the {self.channel.name} channel do not "
                        f"validate ({exc}): fix `options` on its contract class")

    # -- declarations ------------------------------------------------------------------------

    def test_declares_its_name_and_title(self) -> None:
        cls = self.channel
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", cls.name)
        assert isinstance(cls.title, str)
        assert cls.title.strip()
        assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"
        assert not inspect.isabstract(cls), f"{cls.__name__} leaves abstract methods"

    def test_limits_are_complete_and_sane(self) -> None:
        cls = self.channel
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
        for flag in ("requires_title", "requires_media", "supports_threads",
                     "supports_scheduling"):
            assert type(limits[flag]) is bool, flag
        kinds = limits["media_kinds"]
        assert kinds == sorted(kinds)
        assert set(kinds) <= {k.value for k in MediaKind}
        assert all(isinstance(k, MediaKind) for k in cls.media_kinds)
        assert set(limits["max_media_bytes"]) <= set(kinds)
        assert all(type(v) is int and v > 0 for v in limits["max_media_bytes"].values())
        assert bool(kinds) == (limits["max_media"] > 0), "media kinds without media, or " \
            "the reverse"
        if limits["requires_media"]:
            assert limits["max_media"] >= 1
        if limits["url_length"] is not None:
            assert limits["max_text"] is not None
        assert type(limits["max_parts"]) is int
        assert limits["max_parts"] >= 1
        if limits["supports_threads"]:
            assert limits["max_text"] is None or limits["max_text"] >= 20

    def test_capabilities_are_the_optional_calls(self) -> None:
        cls = self.channel
        capabilities = cls.capabilities()
        assert capabilities <= set(OPTIONAL_CAPABILITIES)
        for capability in capabilities:
            assert getattr(cls, capability) is not getattr(Channel, capability)

    def test_features_are_declared_in_one_place(self) -> None:
        cls = self.channel
        features = cls.features()
        json.dumps(features)  # plain data, for listings
        assert set(features) == FEATURE_KEYS
        assert features["calls"] == sorted(cls.capabilities())
        assert type(features["idempotent_publish"]) is bool
        assert type(features["public_profile"]) is bool
        if features["packages"]:
            assert features["extra"], f"{cls.name}: name the extra that installs its packages"
        assert set(features["missing_packages"]) <= set(features["packages"])
        assert all(isinstance(note, str) and note.strip() for note in features["notes"])
        for status, error in cls.status_errors.items():
            assert 400 <= status <= 599, status
            assert issubclass(error, ChannelError), status

    # -- options -----------------------------------------------------------------------------

    def test_options_forbid_unknown_settings(self, root: Path) -> None:
        cls = self.channel
        assert issubclass(cls.Options, ChannelOptions)
        assert cls.Options.model_config.get("extra") == "forbid"
        account = AccountConfig(name=ACCOUNT, channel=cls.name, options={
            **self.sample_options(), "no_such_option": "value-7f1e"})
        with pytest.raises(ConfigurationError) as info:
            cls.from_config(account, root=root)
        message = str(info.value)
        assert f"accounts.{ACCOUNT}.no_such_option" in message
        assert "value-7f1e" not in message
        assert isinstance(info.value, CarecastError)

    def test_missing_required_options_name_their_env_var(self, root: Path) -> None:
        cls = self.channel
        required = [f for f, info in cls.Options.model_fields.items() if info.is_required()]
        if not required:
            cls.from_config(AccountConfig(name=ACCOUNT, channel=cls.name), root=root)
            return
        with pytest.raises(ConfigurationError) as info:
            cls.from_config(AccountConfig(name=ACCOUNT, channel=cls.name), root=root)
        for option in required:
            assert f"accounts.{ACCOUNT}.{option}" in str(info.value)
            assert f"CARECAST_ACCOUNTS__CONTRACT_ACCT__{option.upper()}" in str(info.value)

    def test_secret_options_are_secret_and_never_printed(self, root: Path) -> None:
        cls = self.channel
        for option, info in cls.Options.model_fields.items():
            if SECRET_NAMES.search(option):
                assert SecretStr in {info.annotation, *typing.get_args(info.annotation)}, (
                    f"{cls.name}: option {option!r} looks like a secret; type it SecretStr")
        channel = self.build(root)
        values = [str(v) for v in self.sample_options().values() if len(str(v)) >= 4]
        for text in (repr(channel), str(channel)):
            for value in values:
                assert value not in text
        secrets = [v.get_secret_value() for v in dict(channel.options).values()
                   if isinstance(v, SecretStr)]
        for text in (repr(channel.options), str(channel.options),
                     channel.options.model_dump_json()):
            for secret in secrets:
                assert secret not in text

    # -- render ------------------------------------------------------------------------------

    def test_render_is_pure_and_deterministic(self, root: Path, tmp_path: Path,
                                              no_network: list[Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        cwd = tmp_path / "cwd"
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        channel = self.build(root)
        twin = self.build(root)
        before = _snapshot(tmp_path)
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
            assert (first.post_id, first.account, first.channel) == (
                post.id, ACCOUNT, channel.name)
            assert first.parts, "a draft has at least one part"
            for part in first.parts:
                assert part.length == channel.count(part.text)
                assert part.limit == channel.max_text
                if channel.max_text is not None:
                    assert part.length <= channel.max_text
            assert len(first.media) <= channel.max_media
        assert rendered >= 3, "the sample posts should mostly render"
        assert no_network == []
        assert _snapshot(tmp_path) == before, "render wrote files"

    def test_text_over_the_limit_is_refused_naming_the_field(self, root: Path) -> None:
        channel = self.build(root)
        limit = channel.max_text
        if limit is None:
            pytest.skip(f"{channel.name} declares no text limit")
        long_text = " ".join(["word"] * limit)
        if channel.supports_threads:  # long text becomes a thread; a long thread part cannot
            error = _expect_limit(channel, Post(id="p", text="Short.", thread=(long_text,)),
                                  "thread[0]", limit)
            word = _expect_limit(channel, Post(id="p", text="x" * (limit + 1)), "text",
                                 _pack_room(channel))  # one word never splits
            assert word.value == limit + 1
        else:
            error = _expect_limit(channel, Post(id="p", text=long_text), "text", limit)
        assert isinstance(error.value, int)
        assert error.value > limit

    def test_a_thread_past_max_parts_is_refused(self, root: Path) -> None:
        channel = self.build(root)
        limit, most = channel.max_text, channel.max_parts
        if limit is None or not channel.supports_threads:
            pytest.skip(f"{channel.name} splits no text into a thread")
        words = ("word " * (limit * most // 5)).strip()  # more parts once each is numbered
        huge = "word " * (limit * most)  # past any split: refused before splitting
        for text in (words, huge):
            with pytest.raises(LimitExceeded) as info:
                channel.render(Post(id="p", text=text))
            assert info.value.field == "text"
            assert info.value.limit == most
            assert "shorten" in str(info.value)
        with pytest.raises(LimitExceeded) as info:
            channel.render(Post(id="p", text="Short.", thread=("More.",) * most))
        assert info.value.field == "thread"

    def test_an_override_text_over_the_limit_names_the_override(self, root: Path) -> None:
        channel = self.build(root)
        if channel.max_text is None:
            pytest.skip(f"{channel.name} declares no text limit")
        post = Post.model_validate({"id": "p", "text": "Short.", "overrides": {
            ACCOUNT: {"text": "x" * (channel.max_text + 1)}}})
        with pytest.raises(LimitExceeded) as info:
            channel.render(post)
        assert info.value.field == f"overrides.{ACCOUNT}.text"

    def test_title_over_the_limit_is_refused_naming_the_field(self, root: Path) -> None:
        channel = self.build(root)
        if channel.max_title is None:
            pytest.skip(f"{channel.name} declares no title limit")
        title = "T" * (channel.max_title + 1)
        error = _expect_limit(channel, Post(id="p", text="Body.", title=title), "title",
                              channel.max_title)
        assert error.value == channel.max_title + 1
        _expect_limit(channel, Post.model_validate({
            "id": "p", "text": "Body.", "overrides": {channel.name: {"title": title}}}),
            f"overrides.{channel.name}.title", channel.max_title)

    def test_too_many_media_are_refused_naming_the_field(self, root: Path) -> None:
        channel = self.build(root)
        kind = min(channel.media_kinds) if channel.media_kinds else MediaKind.IMAGE
        items = tuple(Media(source=f"https://cdn.example.org/{i}.{EXTENSION[kind]}",
                            alt_text="x") for i in range(channel.max_media + 1))
        error = _expect_limit(channel, Post(id="p", text="Body.", media=items), "media",
                              channel.max_media)
        assert error.value == channel.max_media + 1

    def test_media_kinds_it_does_not_take_are_refused(self, kind: MediaKind,
                                                      root: Path) -> None:
        channel = self.build(root)
        post = Post(id="p", text="Body.", title="Flu" if channel.requires_title else None,
                    media=(Media(source=f"https://cdn.example.org/a.{EXTENSION[kind]}",
                                 alt_text="x"),))
        if channel.max_media == 0:
            _expect_limit(channel, post, "media", 0)
        elif kind in channel.media_kinds:
            assert channel.render(post).media[0].kind == kind
        else:
            taken = ", ".join(sorted(k.value for k in channel.media_kinds)) or "none"
            error = _expect_limit(channel, post, "media[0].kind", taken)
            assert error.value == kind.value

    def test_media_over_the_size_limit_are_refused(self, root: Path) -> None:
        channel = self.build(root)
        if not channel.max_media_bytes:
            pytest.skip(f"{channel.name} declares no media size limits")
        for kind, cap in channel.max_media_bytes.items():
            big = root / f"big.{EXTENSION[kind]}"
            with big.open("wb") as f:
                f.truncate(cap + 1)  # sparse: no real bytes written
            error = _expect_limit(channel, Post(id="p", text="x", media=(
                Media(source=big.name, kind=kind, alt_text="x"),)), "media[0]", cap)
            assert error.value == cap + 1

    def test_required_title_and_media_are_named(self, root: Path) -> None:
        channel = self.build(root)
        if not (channel.requires_title or channel.requires_media):
            pytest.skip(f"{channel.name} requires neither a title nor media")
        media = (Media(source=f"https://cdn.example.org/a.{EXTENSION[min(channel.media_kinds)]}",
                       alt_text="x"),) if channel.media_kinds else ()
        if channel.requires_title:  # each requirement checked on a post that meets the other
            _expect_limit(channel, Post(id="p", text="Body.", media=media), "title",
                          "required")
        if channel.requires_media:
            _expect_limit(channel, Post(id="p", text="Body.",
                                        title="Flu" if channel.requires_title else None),
                          "media", "required")

    # -- platform answers --------------------------------------------------------------------

    @pytest.fixture
    def platform(self) -> Iterator[Any]:
        """Every request the channel makes gets the scripted answer (``responses``)."""
        responses = pytest.importorskip("responses", reason="the answers table needs "
                                        "responses: pip install responses")
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            yield mock

    def test_platform_answers_become_receipts_or_carecast_errors(
            self, answer: PlatformAnswer | None, root: Path, platform: Any) -> None:
        if answer is None:
            pytest.skip(f"no platform answers are listed for {self.channel.name}")
        import responses

        for method in (responses.GET, responses.POST, responses.PUT, responses.DELETE):
            platform.add(method, re.compile(r"https?://.*"), status=answer.status,
                         json=answer.json, headers={"X-Request-Id": f"req-{answer.status}",
                                                    **answer.headers})
        channel = self.build(root)
        post = Post(id="p", text="Flu clinic opens Monday.",
                    title="Flu clinic" if channel.requires_title else None)
        draft = channel.render(post)
        secrets = [str(v.get_secret_value()) for v in dict(channel.options).values()
                   if isinstance(v, SecretStr)]
        if answer.error is None:
            receipt = channel.publish(draft, "cc-contract-key")
            assert isinstance(receipt, Receipt)
            assert (receipt.post_id, receipt.account, receipt.channel) == (
                "p", ACCOUNT, channel.name)
            return
        with pytest.raises(ChannelError) as info:
            channel.publish(draft, "cc-contract-key")
        error = info.value
        assert type(error) is answer.error, f"HTTP {answer.status} became " \
            f"{type(error).__name__}, not {answer.error.__name__}"
        assert error.status == answer.status
        assert (error.channel, error.account) == (channel.name, ACCOUNT)
        if answer.retryable is not None:
            assert error.retryable == answer.retryable
        for secret in secrets:
            assert secret not in str(error) + repr(error)

    # -- the status and transport tables ---------------------------------------------------

    @pytest.fixture
    def double(self) -> Iterator[Platform]:
        """The platform double of the channel's ``transport``."""
        if self.transport is None:
            pytest.skip(f"{self.channel.name} publishes no HTTP (no transport declared)")
        responses = pytest.importorskip("responses", reason="the tables need responses: "
                                        "pip install responses")
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            yield PLATFORMS[self.transport](mock)

    def table_post(self) -> Post:
        """The post the tables publish: text, and a title or media where required."""
        kinds = sorted(self.channel.media_kinds)
        source = self.table_media or (f"https://cdn.example.org/m.{EXTENSION[kinds[0]]}"
                                      if kinds else "")
        media = (Media(source=source, alt_text="The clinic"),) \
            if self.channel.requires_media else ()
        return Post(id="p", text="Flu clinic opens Monday.", media=media,
                    title="Flu clinic" if self.channel.requires_title else None)

    def _publish_failure(self, root: Path, double: Platform, *, reply: bool = False
                         ) -> ChannelError:
        channel = self.build(root, session=double.session)
        mention = self.reply_mention if reply else None
        draft = channel.render_reply(Post(id="p", text="Thank you for reaching out.")) \
            if mention is not None else channel.render(self.table_post())

        def send() -> Receipt:
            if mention is not None:
                return channel.reply(mention, draft, "cc-contract-key")
            return channel.publish(draft, "cc-contract-key")

        with pytest.raises(ChannelError) as info:
            send()
        error = info.value
        assert (error.channel, error.account) == (channel.name, ACCOUNT)
        secrets = [str(v.get_secret_value()) for v in dict(channel.options).values()
                   if isinstance(v, SecretStr)]
        chain: list[BaseException] = []
        item: BaseException | None = error
        while item is not None and len(chain) < 10:  # no link may quote a secret or the URL
            chain.append(item)
            item = item.__cause__ or item.__context__
        for text in [str(e) + repr(e) for e in chain]:
            assert HIDDEN not in text
            for secret in secrets:
                assert secret not in text
        return error

    def test_http_status_maps_to_a_carecast_error(
            self, status_row: tuple[int, type[ChannelError], bool, bool], root: Path,
            double: Platform) -> None:
        self._check_status(status_row, root, double, reply=False)

    def test_a_replys_http_status_maps_to_a_carecast_error(
            self, status_row: tuple[int, type[ChannelError], bool, bool], root: Path,
            double: Platform) -> None:
        self._needs_reply()
        self._check_status(status_row, root, double, reply=True)

    def test_a_replys_transport_failure_maps_to_a_carecast_error(
            self, transport_row: tuple[str, type[ChannelError], bool, bool], root: Path,
            double: Platform) -> None:
        self._needs_reply()
        self._check_transport(transport_row, root, double, reply=True)

    def _needs_reply(self) -> None:
        if "reply" not in self.channel.capabilities():
            pytest.skip(f"{self.channel.name} declares no reply")
        if self.reply_mention is None:
            pytest.fail(f"{self.channel.name} declares reply: give its contract a "
                        "reply_mention (a Mention with a remote_id of the platform's shape)")

    def _check_status(self, status_row: tuple[int, type[ChannelError], bool, bool],
                      root: Path, double: Platform, *, reply: bool) -> None:
        status, cls, retryable, maybe_sent = _overridden(status_row, self.status_overrides)
        double.answer(status, json=self.error_bodies.get(status, {"error": "nope",
                                                                  "message": "nope"}),
                      headers={"X-Request-Id": f"req-{status}", "Retry-After": "7"})
        error = self._publish_failure(root, double, reply=reply)
        assert type(error) is cls, f"HTTP {status} became {type(error).__name__}, not " \
            f"{cls.__name__}"
        assert (error.retryable, error.may_have_been_sent) == (retryable, maybe_sent)
        assert error.status == status
        assert error.request_id == f"req-{status}"
        if isinstance(error, RateLimited):
            assert error.retry_after == 7
        if cls is AuthenticationError:
            assert re.search(r"renew|new|again|refresh|create", str(error)), "say how to renew"

    def test_transport_failure_maps_to_a_carecast_error(
            self, transport_row: tuple[str, type[ChannelError], bool, bool], root: Path,
            double: Platform) -> None:
        self._check_transport(transport_row, root, double, reply=False)

    def _check_transport(self, transport_row: tuple[str, type[ChannelError], bool, bool],
                         root: Path, double: Platform, *, reply: bool) -> None:
        failure, cls, retryable, maybe_sent = _overridden(transport_row,
                                                          self.transport_overrides)
        double.fail(failure)
        error = self._publish_failure(root, double, reply=reply)
        assert type(error) is cls, f"{failure} became {type(error).__name__}, not " \
            f"{cls.__name__}"
        assert (error.retryable, error.may_have_been_sent) == (retryable, maybe_sent)
        assert error.status is None
