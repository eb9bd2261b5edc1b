"""Mastodon: statuses on any Mastodon instance.

Counts text as Mastodon does (graphemes, each URL as 23, ``@user@domain`` as ``@user``, the
content warning included), sends the target's ``Idempotency-Key`` on every status (part ``i``
of a thread with ``part_key(key, i)``, so a retry completes a thread without a duplicate, and
a status replayed for a key is checked against what is sent now), uploads media with alt text
and focus point and waits for the instance to process it, and posts long text as a reply
thread. Visibility and content warnings come from the account's table and, per post, from
``overrides.mastodon.options``.

The instance's own character limit: ``render`` is pure, so it uses ``max_characters`` from
the account's table, else the limit this process already read from the instance (when the
channel was built), else Mastodon's default of 500. ``publish`` reads the instance's
configuration once per process and instance (``/api/v2/instance``, falling back to v1) and
refuses, before sending anything, a draft whose parts are over it.

The hot path (the instance's limit, creating a status, reading the account's statuses back to
reconcile) calls the REST API directly and reads only the fields carecast uses from the JSON:
Mastodon.py turns every answer into typed objects, about 1.8 ms of CPU per status, more than
the rest of a send. Mastodon.py stays for the long tail (media, deletes, the profile,
mentions, metrics) and for counting text the way Mastodon does.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

import requests
from pydantic import Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import (
    new_session,
    request,
    server_time,
    transport_error,
)
from carecast.channels.media import avatar_bytes, media_bytes
from carecast.channels.paging import Page, since_send
from carecast.channels.thread import part_key, send_thread
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import (
    AccountMetrics,
    Draft,
    Media,
    MediaKind,
    Mention,
    Metrics,
    Part,
    Post,
    Profile,
    ProfileChanges,
    Receipt,
)

__all__ = ["MastodonChannel", "MastodonOptions", "cached_limit"]

DEFAULT_MAX_CHARACTERS = 500
#: Mastodon remembers an ``Idempotency-Key`` for one hour (``PostStatusService``).
IDEMPOTENCY_WINDOW = 3600.0
#: A status returned for a key that is older than this was made by an earlier request.
REPLAY_AGE = 60.0
#: The API floor carecast relies on: ``/api/v2/media`` and ``/api/v2/instance``.
API_VERSION = "4.0.0"
Visibility = Literal["public", "unlisted", "private", "direct"]
VISIBILITIES: tuple[str, ...] = ("public", "unlisted", "private", "direct")
POST_OPTIONS = ("focus", "sensitive", "spoiler_text", "visibility")
_MiB = 1024 * 1024
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_REMOTE_MENTION = re.compile(r"@(\w[\w.]*)@[\w.-]*\w", re.ASCII)
_FOCUS = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*")
_LOCATION_FIELDS = ("location", "address", "where")
_WEBSITE_FIELDS = ("website", "web", "homepage", "site", "url")
#: Mastodon's limits on an account: display name, note (bio), profile fields.
MAX_DISPLAY_NAME, MAX_NOTE, MAX_FIELDS = 30, 500, 4

_limits: dict[str, int] = {}
_limits_lock = threading.Lock()


def cached_limit(api_base_url: str) -> int | None:
    """The character limit this process read from the instance, if it did."""
    with _limits_lock:
        return _limits.get(api_base_url.rstrip("/"))


def _remember_limit(api_base_url: str, limit: int) -> None:
    with _limits_lock:
        _limits[api_base_url.rstrip("/")] = limit


#: Hosts where plain http is allowed: a test instance on this machine.
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _sdk() -> Any:
    """Mastodon.py, imported on first use (the ``carecast[mastodon]`` extra)."""
    try:
        import mastodon  # the SDK package, not this module: imports are absolute
    except ImportError:
        raise ConfigurationError(MastodonChannel.install_hint("Mastodon.py")) from None
    return mastodon


class MastodonOptions(ChannelOptions):
    """Settings of a Mastodon account."""

    api_base_url: str = Field(description="The instance, such as https://mastodon.social.")
    access_token: SecretStr = Field(description="An access token with write:statuses, "
                                    "write:media, read:accounts, read:statuses, "
                                    "read:notifications.")
    visibility: Visibility = "public"
    language: str | None = Field(default=None, description="ISO 639 code, such as 'en'.")
    spoiler_text: str | None = Field(
        default=None, description="A default content warning for every status.")
    max_characters: int | None = Field(
        default=None, ge=20, le=1_000_000,
        description="The instance's limit, for render; publish reads it from the instance.")
    timeout: float = Field(default=30.0, gt=0, le=300)
    connect_timeout: float = Field(default=10.0, gt=0, le=60)
    media_wait: float = Field(
        default=120.0, gt=0, le=3600,
        description="Seconds to wait for the instance to process uploaded media.")

    @field_validator("api_base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if (parts.scheme != "https" and not loopback) or not parts.hostname or parts.query \
                or parts.fragment:
            raise ValueError("give the instance's https URL, such as https://mastodon.social "
                             "(http only on 127.0.0.1, for tests)")
        return value.strip().rstrip("/")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.fullmatch(value):
            raise ValueError("give a two- or three-letter ISO 639 code, such as 'en'")
        return value


class MastodonChannel(Channel):
    """Statuses on a Mastodon instance: threads, media with alt text, content warnings."""

    name: ClassVar[str] = "mastodon"
    title: ClassVar[str] = "Mastodon"
    Options = MastodonOptions
    max_text: ClassVar[int | None] = DEFAULT_MAX_CHARACTERS
    text_unit: ClassVar[str] = "graphemes"
    url_length: ClassVar[int | None] = 23
    max_media = 4
    media_kinds = frozenset(MediaKind)
    max_media_bytes = {MediaKind.IMAGE: 16 * _MiB, MediaKind.GIF: 16 * _MiB,
                       MediaKind.VIDEO: 99 * _MiB, MediaKind.AUDIO: 99 * _MiB}
    #: Longest media description (alt text) Mastodon stores.
    max_alt_text: ClassVar[int] = 1500
    supports_threads = True
    supports_scheduling = False
    #: An instance allows 300 requests per 5 minutes per account.
    per_account: ClassVar[int] = 4
    per_host: ClassVar[int] = 64
    #: What ``update_profile`` changes.
    profile_fields: ClassVar[frozenset[str]] = frozenset({
        "display_name", "description", "website", "avatar"})
    extra: ClassVar[str | None] = "mastodon"
    packages: ClassVar[tuple[str, ...]] = ("mastodon",)
    #: Mastodon never refuses a status for repeating another, so a 409 is a plain refusal.
    status_errors: ClassVar[Mapping[int, type[ChannelError]]] = {409: PlatformRejected}
    error_messages: ClassVar[Mapping[int | type[ChannelError], str]] = {
        AuthenticationError: "the instance refused the access token{said}; renew it "
        "(Preferences > Development > your application > regenerate) and update access_token",
        PermissionDenied: "the access token may not do this{said}; give the application the "
        "scopes the mastodon channel page lists and create a new token",
        404: "not found on the instance{said}",
        RateLimited: "rate limited by the instance",
        ChannelServerError: "the instance failed with HTTP {status}{said}; it may have stored "
        "the status",
        PlatformRejected: "the instance refused the request{said}",
    }
    options: MastodonOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None
        self.max_text = (  # type: ignore[misc]  # this account's limit, fixed for render
            self.options.max_characters or cached_limit(self.options.api_base_url)
            or DEFAULT_MAX_CHARACTERS)
        self._client: Any = None
        self._me: str | None = None
        self._last = threading.local()
        self.session.hooks.setdefault("response", []).append(self._remember_response)

    # -- rendering -------------------------------------------------------------------------

    def count(self, text: str) -> int:
        """Length as Mastodon counts it: graphemes, URLs as 23, remote mentions as local
        (counted once per text: render, the gate and publish all ask)."""
        sdk = _sdk()
        if not getattr(sdk.utility, "IMPL_HAS_GRAPHEME", True):  # its grapheme module is missing
            raise ConfigurationError(
                "counting Mastodon text needs the grapheme module: "
                "pip install 'carecast[mastodon]'")
        return _status_length(text)

    def render(self, post: Post) -> Draft:
        """The draft, its room reduced by the content warning, which Mastodon counts too."""
        override = post.override_for(self.name, self.account)
        where = (f"overrides.{self.account if post.overrides.get(self.account) else self.name}"
                 if override else "")
        settings = self._settings(override.options if override else {}, where)
        warning = str(settings.get("spoiler_text") or "")
        assert self.max_text is not None
        room = self.max_text - (self.count(warning) if warning else 0)
        if room < 20:
            field = f"{where or 'overrides.mastodon'}.options.spoiler_text"
            raise LimitExceeded(
                f"{field}: the content warning leaves {room} of {self.max_text} graphemes for "
                "the text; shorten it", field=field, limit=self.max_text - 20,
                value=self.max_text - room)
        narrowed = copy.copy(self)
        narrowed.max_text = room  # type: ignore[misc]
        draft = Channel.render(narrowed, post)
        if not draft.media and not any(p.text.strip() for p in draft.parts):
            field = f"{where}.text" if where else "text"
            raise LimitExceeded(
                f"{field}: a Mastodon status needs text or media (a title is not shown); "
                f"write text or give overrides.{self.name}.text",
                field=field, limit="required", value="missing")
        if "focus" in settings:
            settings["focus"] = _focus_points(settings["focus"], draft.media, where)
        language = (draft.language or self.options.language or "").split("-")[0].lower()
        return draft.model_copy(update={"options": settings,
                                        "language": language or None})

    def _settings(self, given: dict[str, Any], where: str) -> dict[str, Any]:
        """The status settings: the post's override options over the account's defaults."""
        prefix = f"{where or 'overrides.' + self.name}.options"
        unknown = sorted(set(given) - set(POST_OPTIONS))
        if unknown:
            raise InvalidPost(
                f"{prefix}.{unknown[0]}: not a Mastodon option (options: "
                f"{', '.join(POST_OPTIONS)})", [(f"{prefix}.{k}", "unknown option")
                                                 for k in unknown])
        visibility = given.get("visibility", self.options.visibility)
        if visibility not in VISIBILITIES:
            raise InvalidPost(f"{prefix}.visibility: give one of {', '.join(VISIBILITIES)}",
                              [(f"{prefix}.visibility", "unknown visibility")])
        warning = given.get("spoiler_text", self.options.spoiler_text)
        if warning is not None and not isinstance(warning, str):
            raise InvalidPost(f"{prefix}.spoiler_text: give the warning as text",
                              [(f"{prefix}.spoiler_text", "not text")])
        sensitive = given.get("sensitive", False)
        if not isinstance(sensitive, bool):
            raise InvalidPost(f"{prefix}.sensitive: give true or false",
                              [(f"{prefix}.sensitive", "not a boolean")])
        settings: dict[str, Any] = {"visibility": visibility}
        if warning and warning.strip():
            settings["spoiler_text"] = warning.strip()
        if sensitive:
            settings["sensitive"] = True
        if "focus" in given:
            settings["focus"] = given["focus"]
        return settings

    def check_media(self, media: Sequence[Media], where: str = "") -> None:
        """The base checks, then Mastodon's: video or audio alone, alt text length."""
        super().check_media(media, where)
        prefix = f"{where}.media" if where else "media"
        for i, item in enumerate(media):
            if item.alt_text and len(item.alt_text) > self.max_alt_text:
                raise LimitExceeded(
                    f"{prefix}[{i}].alt_text: {len(item.alt_text)} characters is over "
                    f"Mastodon's limit of {self.max_alt_text}; shorten it",
                    field=f"{prefix}[{i}].alt_text", limit=self.max_alt_text,
                    value=len(item.alt_text))
        if len(media) > 1 and any(m.kind in (MediaKind.VIDEO, MediaKind.AUDIO) for m in media):
            raise LimitExceeded(
                f"{prefix}: Mastodon takes a video or an audio file alone, not with other "
                "media; keep one or give overrides.mastodon.media",
                field=prefix, limit=1, value=len(media))

    # -- the client and its errors ---------------------------------------------------------

    def _remember_response(self, response: requests.Response, *args: Any,
                           **kwargs: Any) -> None:
        """Session hook: Mastodon.py's errors drop the headers (rate-limit reset, request id)."""
        self._last.response = response

    def client(self) -> Any:
        """The Mastodon.py client: never sleeps on rate limits, never checks versions online."""
        if self._client is None:
            self._client = _sdk().Mastodon(
                access_token=self.options.access_token.get_secret_value(),
                api_base_url=self.options.api_base_url, ratelimit_method="throw",
                request_timeout=self._timeout(),
                mastodon_version=API_VERSION, version_check_mode="created",
                session=self.session, user_agent="carecast")
        return self._client

    def _api(self, method: str, path: str, **kwargs: Any) -> tuple[Any, requests.Response]:
        """One REST call on the raw JSON (``path`` below the instance, or a page URL the
        instance gave); its answer and the response. Errors map as Mastodon.py's do."""
        where: dict[str, Any] = {"channel": self.name, "account": self.account}
        base = self.options.api_base_url
        url = path if path.startswith(base + "/") else base + path
        headers = {"Authorization": f"Bearer {self.options.access_token.get_secret_value()}",
                   "User-Agent": "carecast", "Accept": "application/json",
                   **kwargs.pop("headers", {})}
        write = method != "GET"
        response = request(self.session, method, url, headers=headers, timeout=self._timeout(),
                           **where, **kwargs)
        self._last.response = response
        status = response.status_code
        if status == 429:
            raise self._rate_limited(response)
        if 300 <= status < 400 and not write:
            raise self.error(ChannelServerError, f"the instance answered with a redirect "
                             f"(HTTP {status}); check api_base_url", status=status)
        if status >= 300 or (write and status == 408):
            raise self.error(response=response, method=method, said=_said(_reason(response)))
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, (dict, list)):
            if write:
                raise OutcomeUnknown("the instance's answer could not be read; the request "
                                     "may have been stored", status=status, **where)
            raise ChannelServerError("the instance's answer could not be read", status=status,
                                     **where)
        return data, response

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a Mastodon.py method; every SDK error becomes a carecast ``ChannelError``."""
        sdk = _sdk()
        client = self.client()
        self._last.response = None
        failure: Exception | None = None
        try:
            return getattr(client, method)(*args, **kwargs)
        except sdk.MastodonError as exc:
            failure = exc
        # Raised here, outside the except block: the SDK's message quotes the URL and the
        # requests error, so it is neither the cause nor the context of what callers see.
        raise self._error(failure)

    def _error(self, exc: Exception) -> ChannelError:
        """The carecast error for a Mastodon.py exception and the answer it came from."""
        sdk = _sdk()
        where: dict[str, Any] = {"channel": self.name, "account": self.account}
        response: requests.Response | None = getattr(self._last, "response", None)
        if isinstance(exc, sdk.MastodonNetworkError):
            return transport_error(exc, **where)
        status: int | None = None
        reason = ""
        if isinstance(exc, sdk.MastodonRatelimitError):
            if response is None or response.status_code == 429:
                return self._rate_limited(response)
            status = response.status_code  # its reset header was unreadable: go by status
        elif isinstance(exc, sdk.MastodonAPIError) and len(exc.args) > 1 \
                and isinstance(exc.args[1], int):
            status = exc.args[1]
            if len(exc.args) > 3 and isinstance(exc.args[3], str):
                reason = exc.args[3][:300]  # Mastodon's "error": fixed texts, never the post
        if status is None or status < 400:
            if response is not None and response.ok:
                return OutcomeUnknown(
                    "the instance's answer could not be read; the request may have been "
                    "stored", status=response.status_code, **where)
            return ChannelError(f"Mastodon.py refused the call ({type(exc).__name__}); "
                                "nothing was sent", **where)
        if response is None or response.status_code != status:
            response = requests.Response()
            response.status_code = status
        return self.error(response=response, said=_said(reason))

    def _rate_limited(self, response: requests.Response | None) -> RateLimited:
        if response is None:
            return self.error(RateLimited, "rate limited by the instance", status=429)
        return self.error(RateLimited, "rate limited by the instance", response=response)

    # -- publishing ------------------------------------------------------------------------

    def instance_limit(self) -> int:
        """The instance's character limit, read once per process and instance."""
        known = cached_limit(self.options.api_base_url)
        if known is not None:
            return known
        try:
            info, _ = self._api("GET", "/api/v2/instance/")
        except PlatformRejected as exc:
            if exc.status != 404:
                raise
            info, _ = self._api("GET", "/api/v1/instance/")  # before Mastodon 4.0
        if not isinstance(info, dict):
            info = {}
        statuses = ((info.get("configuration") or {}).get("statuses") or {})
        value = statuses.get("max_characters") or info.get("max_toot_chars")
        limit = value if isinstance(value, int) and value > 0 else DEFAULT_MAX_CHARACTERS
        _remember_limit(self.options.api_base_url, limit)
        return limit

    def publish(self, draft: Draft, key: str) -> Receipt:
        return self._post(draft, key, None)

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A status with ``in_reply_to_id`` set to the mention's status id; a long reply's
        later parts reply to the part before."""
        return self._post(draft, self.reply_key(draft, key), mention.remote_id)

    def _post(self, draft: Draft, key: str, parent: str | None) -> Receipt:
        self._check_instance_limit(draft)
        warning = str(draft.options.get("spoiler_text") or "") or None
        common: dict[str, Any] = {
            "visibility": draft.options.get("visibility", self.options.visibility),
            "spoiler_text": warning, "language": draft.language,
            "sensitive": bool(draft.options.get("sensitive", False))}
        statuses: list[Any] = []

        def send_one(index: int, part: Part, reply_to: str | None) -> str:
            media_ids = [self._upload(item, _focus_of(draft, n), n)
                         for n, item in enumerate(part.media)]
            form: dict[str, Any] = {"status": part.text, "visibility": common["visibility"],
                                    "sensitive": "1" if common["sensitive"] else "0"}
            for name, value in (("in_reply_to_id", reply_to), ("spoiler_text", warning),
                                ("language", draft.language)):
                if value:
                    form[name] = value
            if media_ids:
                form["media_ids[]"] = media_ids
            status, response = self._api("POST", "/api/v1/statuses", data=form,
                                         headers={"Idempotency-Key": part_key(key, index)})
            if not isinstance(status, dict) or "id" not in status:
                raise self.error(
                    OutcomeUnknown, "the instance's answer holds no status; the status may "
                                     "have been stored", status=response.status_code)
            self._check_replay(status, response, part, index, warning)
            statuses.append(status)
            return str(status["id"])

        # Mastodon dedups each part by its key: a retry finds the parts already sent.
        send_thread(draft.parts, lambda i, part, to: send_one(i, part, to or parent), undo=None)
        return self._receipt(draft, statuses)

    def _check_replay(self, status: dict[str, Any], response: requests.Response, part: Part,
                      index: int, warning: str | None) -> None:
        """Refuse a status the instance returned for a key it had seen with other content.

        Mastodon answers a known ``Idempotency-Key`` with the status it made then. A draft
        rendered differently since (another ``max_characters``, content warning or instance
        limit) would otherwise build a thread from old and new parts. An answer older than
        a minute is a replay: its source is compared with what was sent.
        """
        served = server_time(response.headers, self.clock.time)
        if served - _utc(status.get("created_at"), self.clock.now()).timestamp() < REPLAY_AGE:
            return
        source, _ = self._api("GET", f"/api/v1/statuses/{status['id']}/source")
        if not isinstance(source, dict):
            source = {}
        if (_normal(source.get("text") or ""), (source.get("spoiler_text") or "").strip()) \
                == (_normal(part.text), (warning or "").strip()):
            return
        raise self.error(
            OutcomeUnknown,
            f"part {index + 1} was sent earlier with other content under the same key (id "
            f"{status['id']}): the draft changed since (max_characters, content warning or "
            "the instance's limit). Check the account; delete what is wrong, then an hour "
            "later (Mastodon keeps keys that long) run: carecast retry POST_ID "
            "--resend-unknown", retryable=False, next_step_given=True)

    def _check_instance_limit(self, draft: Draft) -> None:
        limit = self.instance_limit()
        warning = str(draft.options.get("spoiler_text") or "")
        extra = self.count(warning) if warning else 0
        for i, part in enumerate(draft.parts):
            length = self.count(part.text) + extra
            if length > limit:
                raise self.error(
                    PlatformRejected,
                    f"part {i + 1} is {length} graphemes (content warning included), over "
                    f"this instance's limit of {limit}; nothing was sent: set max_characters "
                    f"= {limit} for the account and render again")

    def _upload(self, media: Media, focus: tuple[float, float] | None, index: int) -> str:
        """Upload one file with its alt text; wait until the instance has processed it."""
        data = self._media_bytes(media, index)
        attachment = self._call("media_post", data, mime_type=media.mime_type,
                                description=media.alt_text, focus=focus,
                                file_name=media.filename)
        waited, delay = 0.0, 1.0
        while not attachment.get("url"):  # 202 from POST /api/v2/media, 206 from GET
            if waited >= self.options.media_wait:
                raise self.error(
                    ChannelTimeout,
                    f"the instance had not processed media[{index}] after {waited:.0f} s; "
                    "nothing was posted (raise media_wait for long videos)")
            self.clock.sleep(delay)
            waited += delay
            delay = min(delay * 2, 10.0)
            attachment = self._call("media", attachment["id"])
        return str(attachment["id"])

    def _media_bytes(self, media: Media, index: int) -> bytes:
        """The file's bytes: read from disk, or downloaded (up to the size limit) from its URL."""
        return media_bytes(media, root=self.root, channel=self.name, account=self.account,
                           rules=self.media_rules,
                           field=f"media[{index}]", timeout=self.options.timeout,
                           cap=self.max_media_bytes.get(media.kind or MediaKind.IMAGE))

    def _timeout(self) -> tuple[float, float]:
        return (self.options.connect_timeout, self.options.timeout)

    def _receipt(self, draft: Draft, statuses: Sequence[Any], *,
                 reconciled: bool = False) -> Receipt:
        first = statuses[0]
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=str(first["id"]), url=first.get("url"),
                       published_at=_utc(first.get("created_at"), self.clock.now()),
                       part_ids=tuple(str(s["id"]) for s in statuses), reconciled=reconciled,
                       extra={"visibility": first.get("visibility")})

    # -- reading back ----------------------------------------------------------------------

    def _me_id(self) -> str:
        if self._me is None:
            me, _ = self._api("GET", "/api/v1/accounts/verify_credentials")
            if not isinstance(me, dict) or "id" not in me:
                raise self.error(ChannelServerError, "the instance's answer holds no account id")
            self._me = str(me["id"])
        return self._me

    def _created(self, status: Any) -> datetime:
        return _utc(status.get("created_at"), self.clock.now())

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """Find the thread by its parts' exact text among the account's statuses made since
        the send (pages of 40 followed back to the send time, else unknown).

        Mastodon's idempotency keys cannot be queried. A thread found only in part is None
        while the instance still remembers the keys (a resend completes it without a
        duplicate), and a non-retryable ``OutcomeUnknown`` after that.
        """
        if not draft.parts[0].text.strip():
            raise self.error(
                OutcomeUnknown,
                "a status without text cannot be found by its text; check the account, then "
                "run: carecast retry POST_ID --resend-unknown", retryable=False,
                next_step_given=True)
        def page(older: str | None) -> Page[dict[str, Any], str]:  # the Link header's next
            if older is None:
                items, response = self._api(
                    "GET", f"/api/v1/accounts/{self._me_id()}/statuses",
                    params={"limit": "40", "exclude_reblogs": "1"})
            else:
                items, response = self._api("GET", older)
            statuses = [s for s in items if isinstance(s, dict)] \
                if isinstance(items, list) else []
            return Page(statuses, self._next_page(response) if statuses else None)

        recent = [s for s in since_send(page, self._created, channel=self.name,
                                        account=self.account)
                  if not self.made_too_early(self._created(s))]
        chain: list[Any] = []
        for part in draft.parts:
            parent = str(chain[-1]["id"]) if chain else None
            found = next((s for s in recent if _reply_to(s) == parent
                          and _normal(_plain(s.get("content") or "")) == _normal(part.text)),
                         None)
            if found is None:
                break
            chain.append(found)
        if not chain:
            return None
        if len(chain) == len(draft.parts):
            return self._receipt(draft, chain, reconciled=True)
        age = self.clock.time() - _utc(chain[0].get("created_at"), self.clock.now()).timestamp()
        if age < IDEMPOTENCY_WINDOW - 300:
            return None  # a resend with the same keys returns the parts already there
        raise self.error(
            OutcomeUnknown,
            f"{len(chain)} of the thread's {len(draft.parts)} parts are on the instance "
            f"(first id {chain[0]['id']}) and it no longer remembers their keys; delete them "
            "or finish the thread by hand, then run: carecast retry POST_ID --resend-unknown",
            retryable=False, next_step_given=True)

    def _next_page(self, response: requests.Response) -> str | None:
        """The URL of the next (older) page from the ``Link`` header: only on this instance,
        since the access token goes with it."""
        url = (response.links.get("next") or {}).get("url")
        if not url:
            return None
        if not url.startswith(self.options.api_base_url + "/"):
            raise self.error(
                OutcomeUnknown,
                "the instance's next page of statuses is on another host; carecast does not "
                "send the token there: check the account by hand, then run: carecast retry "
                "POST_ID --resend-unknown", retryable=False, next_step_given=True)
        return str(url)

    def delete(self, receipt: Receipt) -> None:
        """Delete every part, the last reply first; a part already gone is fine."""
        for remote_id in reversed(receipt.part_ids or (receipt.remote_id,)):
            try:
                self._call("status_delete", remote_id)
            except PlatformRejected as exc:
                if exc.status != 404:
                    raise

    def fetch_profile(self) -> Profile:
        me = self._call("account_verify_credentials")
        self._me = str(me["id"])
        fields = {str(f.get("name", "")): f.get("value") or "" for f in me.get("fields") or ()}
        website = next((href for value in fields.values() for href in _links(value)), None)
        location = next((_plain(v).strip() for k, v in fields.items()
                         if k.strip().lower() in _LOCATION_FIELDS), None)
        host = urlsplit(self.options.api_base_url).hostname
        acct = str(me.get("acct") or me.get("username") or "")
        return Profile(
            channel=self.name, account=self.account,
            display_name=me.get("display_name") or me.get("username"),
            handle=f"@{acct}" if "@" in acct else f"@{acct}@{host}",
            description=_plain(me.get("note") or "").strip() or None,
            website=website, avatar_url=me.get("avatar"), location=location,
            extra={"url": me.get("url"),
                   "fields": {k: _plain(v).strip() for k, v in fields.items()},
                   "followers": me.get("followers_count")})

    def update_profile(self, changes: ProfileChanges) -> None:
        """``PATCH /api/v1/accounts/update_credentials``: display name, note and avatar; the
        website is the profile field named Website (added if absent), the others kept."""
        unknown = [f for f in changes.fields() if f not in self.profile_fields]
        if unknown:
            raise self.error(
                PlatformRejected, f"Mastodon's API cannot change the profile's {unknown[0]}; "
                                   "add it to the description instead")
        args: dict[str, Any] = {}
        for field, param, limit in (("display_name", "display_name", MAX_DISPLAY_NAME),
                                    ("description", "note", MAX_NOTE)):
            value = getattr(changes, field)
            if value is not None:
                if len(value) > limit:
                    raise self.error(
                        PlatformRejected,
                        f"profile {field}: {len(value)} characters is over Mastodon's limit "
                        f"of {limit}; shorten it")
                args[param] = value
        if changes.website is not None:
            args["fields"] = self._fields_with_website(changes.website)
        if changes.avatar is not None:
            path = changes.avatar if changes.avatar.is_absolute() else self.root / changes.avatar
            args["avatar"] = avatar_bytes(self, path)
            args["avatar_mime_type"] = Media(source=str(path), kind=MediaKind.IMAGE).mime_type
        self._call("account_update_credentials", **args)

    def _fields_with_website(self, url: str) -> list[tuple[str, str]]:
        """The account's profile fields as written (``source.fields``), Website set to url."""
        me = self._call("account_verify_credentials")
        source = (me.get("source") or {}).get("fields") or me.get("fields") or []
        fields = [(str(f.get("name", "")), _plain(str(f.get("value") or "")))
                  for f in source]
        at = next((i for i, (name, _) in enumerate(fields)
                   if name.strip().lower() in _WEBSITE_FIELDS), None)
        if at is not None:
            fields[at] = (fields[at][0], url)
        elif len(fields) >= MAX_FIELDS:
            raise self.error(
                PlatformRejected,
                f"the profile has {MAX_FIELDS} fields, Mastodon's most, and none is a website; "
                "free one on the instance, then sync again")
        else:
            fields.append(("Website", url))
        return fields

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Statuses that mention the account since ``since`` (its notifications), oldest first."""
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        me = self._me_id()
        mentions: list[Mention] = []
        max_id: str | None = None
        for _ in range(10):  # up to 400 notifications back
            page = self._call("notifications", types=["mention"], limit=40, max_id=max_id)
            if not page:
                break
            for note in page:
                if _utc(note.get("created_at"), self.clock.now()) < since:
                    return sorted(mentions, key=lambda m: m.created_at)
                mention = self._notification_mention(note, me)
                if mention is not None:
                    mentions.append(mention)
            max_id = str(page[-1]["id"])
        return sorted(mentions, key=lambda m: m.created_at)

    def _notification_mention(self, note: Mapping[str, Any], me: str) -> Mention | None:
        """The mention, reply or quote a ``mention`` notification holds (None: another type)."""
        status = note.get("status")
        if not isinstance(status, Mapping) or note.get("type") != "mention" or "id" not in status:
            return None
        reply = str(status.get("in_reply_to_account_id")) == me
        quoted = _quoted_id(status, me)
        kind = "reply" if reply else "quote" if quoted else "mention"
        return Mention(
            channel=self.name, account=self.account, remote_id=str(status["id"]),
            author=str((note.get("account") or {}).get("acct") or ""),
            text=_plain(status.get("content") or "").strip(), url=status.get("url"),
            created_at=_utc(note.get("created_at"), self.clock.now()), kind=kind,
            parent_id=str(status["in_reply_to_id"]) if reply and status.get(
                "in_reply_to_id") else quoted)

    def _status_mention(self, status: Mapping[str, Any]) -> Mention:
        """A status that matched a listening query."""
        return Mention(
            channel=self.name, account=self.account, remote_id=str(status["id"]),
            author=str((status.get("account") or {}).get("acct") or ""),
            text=_plain(status.get("content") or "").strip(), url=status.get("url"),
            created_at=self._created(status), kind="search")

    def streaming_url(self) -> str:
        """Where the instance streams (``configuration.urls.streaming`` of
        ``GET /api/v2/instance`` as http(s)); the API's own address when it names none, one
        that is not https (http only on 127.0.0.1), or another host that is not public
        (an instance's answer never sends the token to a private address)."""
        answer, _ = self._api("GET", "/api/v2/instance")
        urls = ((answer.get("configuration") or {}).get("urls") or {}) \
            if isinstance(answer, dict) else {}
        given = urls.get("streaming") if isinstance(urls, dict) else None
        if isinstance(given, str):
            url = re.sub(r"^ws(s?)://", r"http\1://", given.strip()).rstrip("/")
            parts = urlsplit(url)
            own = urlsplit(self.options.api_base_url).hostname
            if parts.hostname and (parts.scheme == "https" or (
                    parts.scheme == "http" and parts.hostname in _LOOPBACK)) and (
                    parts.hostname == own or _public_host(parts.hostname)):
                return url
        return self.options.api_base_url

    def stream_headers(self) -> dict[str, str]:
        """The headers a streaming request sends (the token: never logged)."""
        return {"Authorization": f"Bearer {self.options.access_token.get_secret_value()}",
                "User-Agent": "carecast", "Accept": "text/event-stream"}

    def stream_mention(self, event: str, data: str) -> Mention | None:
        """The item one server-sent event holds: a ``notification`` of the user stream
        (parsed as ``fetch_mentions`` parses it) or an ``update`` of a hashtag stream
        (as ``search_mentions`` does); None for every other event."""
        if event not in ("notification", "update"):
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            raise self.error(ChannelServerError, f"the instance streamed a {event} event that "
                             "is not JSON") from None
        if not isinstance(payload, dict):
            return None
        if event == "notification":
            return self._notification_mention(payload, self._me_id())
        return self._status_mention(payload) if "id" in payload else None

    def search_mentions(self, terms: Sequence[str], after: str | None, *,
                        limit: int | None = None) -> tuple[list[Mention], str | None]:
        """Statuses matching each of ``terms`` (``GET /api/v2/search?type=statuses``: the
        instance's full-text search, which covers the posts its users made searchable)
        newer than the status id ``after``; oldest first, and the newest id. A term that is
        a hashtag (``#flu``) reads the hashtag's public timeline instead."""
        found: dict[str, Mention] = {}
        newest = after
        cap = limit if limit is not None else 400
        for term in terms:
            if term.startswith("#") and len(term) > 1:
                path = f"/api/v1/timelines/tag/{quote(term[1:], safe='')}"
                params: dict[str, Any] = {"limit": 40}
            else:
                path, params = "/api/v2/search", {"q": term, "type": "statuses",
                                                  "resolve": "false", "limit": 40}
            if after:
                params["min_id"] = after
            answer, _ = self._api("GET", path, params=params)
            statuses = answer.get("statuses", []) if isinstance(answer, dict) else answer
            for status in statuses if isinstance(statuses, list) else []:
                if not isinstance(status, dict) or "id" not in status or len(found) >= cap:
                    continue
                sid = str(status["id"])
                found.setdefault(sid, self._status_mention(status))
                if newest is None or int(sid) > int(newest):
                    newest = sid
        return sorted(found.values(), key=lambda m: m.created_at), newest

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Favourites, boosts and replies of the first status (Mastodon counts no views)."""
        status = self._call("status", receipt.remote_id)
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=datetime.fromtimestamp(self.clock.time(), UTC),
                       likes=status.get("favourites_count"),
                       reposts=status.get("reblogs_count"),
                       replies=status.get("replies_count"),
                       extra={"quotes": status.get("quotes_count")}
                       if status.get("quotes_count") is not None else {})


    def fetch_account_metrics(self) -> AccountMetrics:
        """Followers, following and statuses of the account (``verify_credentials``)."""
        me = self._call("account_verify_credentials")
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=datetime.fromtimestamp(self.clock.time(), UTC),
                              followers=me.get("followers_count"),
                              following=me.get("following_count"),
                              posts=me.get("statuses_count"))

# -- helpers -------------------------------------------------------------------------------


def _quoted_id(status: Mapping[str, Any], me: str) -> str | None:
    """The id of the account's status that ``status`` quotes (Mastodon 4.4's ``quote``)."""
    quote = status.get("quote")
    quoted = quote.get("quoted_status") if isinstance(quote, Mapping) else None
    if isinstance(quoted, Mapping) and str((quoted.get("account") or {}).get("id")) == me:
        return str(quoted.get("id"))
    return None


@functools.lru_cache(maxsize=4096)
def _status_length(text: str) -> int:
    """Mastodon's count of ``text``, once per text (Mastodon.py's grapheme walk is slow)."""
    return int(_sdk().Mastodon.get_status_length(text))


def _reason(response: requests.Response) -> str:
    """Mastodon's ``error`` text of an error answer (fixed texts, never the post)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    reason = data.get("error") if isinstance(data, dict) else None
    return reason[:300] if isinstance(reason, str) else ""


def _said(reason: str) -> str:
    """Mastodon's reason as the messages quote it."""
    return f": {reason}" if reason else ""


def _focus_points(given: Any, media: Sequence[Media], where: str) -> list[str | None]:
    """``focus`` as one ``"x,y"`` per media item: one string for all, or a list by index."""
    field = f"{where or 'overrides.mastodon'}.options.focus"
    items = given if isinstance(given, list) else [given] * len(media)
    if len(items) > len(media):
        raise InvalidPost(f"{field}: {len(items)} focus points for {len(media)} media items",
                          [(field, "more focus points than media")])
    points: list[str | None] = []
    for i, item in enumerate(items):
        if item is None:
            points.append(None)
            continue
        match = _FOCUS.fullmatch(item) if isinstance(item, str) else None
        if not match or not all(-1.0 <= float(v) <= 1.0 for v in match.groups()):
            raise InvalidPost(
                f"{field}: give \"x,y\" with x and y from -1 to 1 (0,0 is the centre), such "
                "as \"0,0.5\"", [(f"{field}[{i}]" if isinstance(given, list) else field,
                                  "not a focus point")])
        points.append(f"{float(match[1])},{float(match[2])}")
    return points


def _focus_of(draft: Draft, index: int) -> tuple[float, float] | None:
    points = draft.options.get("focus")
    if not isinstance(points, list) or index >= len(points) or not points[index]:
        return None
    x, y = str(points[index]).split(",")
    return float(x), float(y)


def _utc(value: Any, fallback: datetime) -> datetime:
    """A status time (Mastodon.py gives aware datetimes; the API gives ISO text) in UTC;
    ``fallback`` when it has none."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return fallback
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _reply_to(status: Any) -> str | None:
    parent = status.get("in_reply_to_id")
    return None if parent is None else str(parent)


class _Text(HTMLParser):
    """The text of a status' HTML: paragraphs and line breaks kept, every span's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.pieces.append("\n")
        elif tag == "a":
            href = dict(attrs).get("href")
            if href and urlsplit(href).scheme in ("http", "https"):
                self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.pieces.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.pieces.append(data)


def _parse(content: str) -> _Text:
    parser = _Text()
    parser.feed(content)
    parser.close()
    return parser


def _plain(content: str) -> str:
    """A status' or profile's HTML as the text that was written."""
    return "".join(_parse(content).pieces).rstrip("\n")


def _links(content: str) -> list[str]:
    """The http(s) links in an HTML fragment (a profile field's value)."""
    return _parse(content).links


def _normal(text: str) -> str:
    """Text compared for lookup: remote mentions shown as local, whitespace collapsed."""
    return " ".join(_REMOTE_MENTION.sub(r"@\1", text).split())


def _public_host(host: str) -> bool:
    """Whether every address ``host`` resolves to is public (False when it resolves to none)."""
    import socket

    from carecast.confine import public_address

    try:
        infos = socket.getaddrinfo(host.strip("[]"), 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(public_address(str(info[4][0])) for info in infos)
