"""The channel contract: declared limits, a pure ``render`` and the platform calls.

A channel class declares what its platform accepts as class attributes, in the manner of
Apprise's service classes, and implements ``publish``, ``delete`` and ``fetch_profile``;
``lookup``, ``fetch_mentions``, ``fetch_metrics``, ``fetch_account_metrics``,
``update_profile`` and ``reply`` are optional capabilities. ``render`` has a default that suits
most platforms; a channel overrides ``compose``, ``count`` or ``render`` itself where its
platform differs.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar, overload
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.config import AccountConfig
from carecast.confine import MediaRules
from carecast.errors import (
    ChannelError,
    ConfigurationError,
    InputRefused,
    InvalidPost,
    LimitExceeded,
)
from carecast.post import (
    AccountMetrics,
    ChannelOverride,
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
from carecast.scrub import remember_options

if TYPE_CHECKING:
    from carecast.store import Ledger

__all__ = ["Channel", "ChannelOptions", "LazyUploadSessions", "MemoryUploadSessions",
           "Override", "UploadSessions",
           "earliest_send", "post_options", "sent_after", "split_thread"]

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=ChannelError)
#: While carecast reconciles, the earliest time the post it looks for can have been created.
_SENT_AFTER: ContextVar[datetime | None] = ContextVar("carecast_sent_after", default=None)
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
# A sentence ends at . ! ? … before a space, or at a full-width full stop, exclamation or
# question mark (U+3002, U+FF01, U+FF1F: Chinese and Japanese put no space after them).
_SENTENCE_END = re.compile("(?<=[.!?\u2026])\\s+|(?<=[\u3002\uff01\uff1f])\\s*")
OPTIONAL_CAPABILITIES = ("lookup", "fetch_mentions", "fetch_metrics", "fetch_account_metrics",
                         "update_profile", "reply")


@dataclass(frozen=True)
class Override:
    """The override a post gives one account: its own, else its channel's."""

    #: The override that applies, or None.
    given: ChannelOverride | None
    #: Where it is in the post, for messages: ``overrides.ACCOUNT`` when the account has its
    #: own, else ``overrides.CHANNEL``.
    where: str


class UploadSessions(Protocol):
    """Where a channel keeps a resumable upload's session URI by target key, so any process
    resumes the same upload (``Ledger.upload_sessions``; the publisher hands it over)."""

    def get(self, key: str) -> str | None:
        """The session kept for ``key``, if any."""

    def put(self, key: str, uri: str) -> None:
        """Keep ``uri`` as the session of ``key``."""

    def drop(self, key: str) -> None:
        """Forget the session of ``key``."""


class MemoryUploadSessions:
    """``UploadSessions`` of this process only: what a channel keeps without a ledger."""

    def __init__(self) -> None:
        self._kept: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """The session kept for ``key``, if any."""
        with self._lock:
            return self._kept.get(key)

    def put(self, key: str, uri: str) -> None:
        """Keep ``uri`` as the session of ``key``."""
        with self._lock:
            self._kept[key] = uri

    def drop(self, key: str) -> None:
        """Forget the session of ``key``."""
        with self._lock:
            self._kept.pop(key, None)


class LazyUploadSessions:
    """``UploadSessions`` from ``source()``, called at first use (the ledger is opened only
    when a channel uploads, never for a preview)."""

    def __init__(self, source: Callable[[], UploadSessions]) -> None:
        self._source = source

    def get(self, key: str) -> str | None:
        """The session kept for ``key``, if any."""
        return self._source().get(key)

    def put(self, key: str, uri: str) -> None:
        """Keep ``uri`` as the session of ``key``."""
        self._source().put(key, uri)

    def drop(self, key: str) -> None:
        """Forget the session of ``key``."""
        self._source().drop(key)


class ChannelOptions(BaseModel):
    """A channel's settings from its ``[accounts.NAME]`` table; subclass per channel.

    Type secrets as ``pydantic.SecretStr`` so they never print.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class Channel(ABC):
    """Base class of every channel; one subclass per platform, one instance per account."""

    #: Registry name, as written in ``channel = "..."`` and the entry point.
    name: ClassVar[str]
    #: Human name of the platform.
    title: ClassVar[str]
    #: The settings model for an account of this channel.
    Options: ClassVar[type[ChannelOptions]] = ChannelOptions

    # -- declared limits ---------------------------------------------------------------------
    #: Longest text of one part, in ``text_unit``; None for no limit.
    max_text: ClassVar[int | None] = None
    #: How ``count`` measures text: characters, graphemes, weighted or bytes.
    text_unit: ClassVar[str] = "characters"
    #: Each URL counts as this many units (the platform shortens links); None counts them as is.
    url_length: ClassVar[int | None] = None
    max_title: ClassVar[int | None] = None
    requires_title: ClassVar[bool] = False
    #: Most media items per part; 0 for none.
    max_media: ClassVar[int] = 0
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset()
    #: Largest file per media kind, in bytes.
    max_media_bytes: ClassVar[Mapping[MediaKind, int]] = {}
    requires_media: ClassVar[bool] = False
    #: Longest reply (a comment) in ``text_unit``, where it differs from ``max_text``.
    max_reply_text: ClassVar[int | None] = None
    #: Long text becomes a reply thread instead of being refused.
    supports_threads: ClassVar[bool] = False
    #: Most parts of one thread (each is a platform call and a post in followers' feeds):
    #: longer text is refused, not sent as hundreds of replies.
    max_parts: ClassVar[int] = 25
    #: The platform holds a post until ``draft.schedule`` itself; otherwise carecast keeps a
    #: scheduled post pending until a run at or after its time.
    supports_scheduling: ClassVar[bool] = False
    # -- rate-limit domains: set them from the platform's documented limits ----------------
    #: Sends to one account in flight at once, unless the account's ``concurrency``,
    #: ``[publish.channels.NAME] per_account`` or ``[publish] per_account`` says otherwise.
    per_account: ClassVar[int] = 4
    #: Sends to one API host in flight at once, every account on it together, unless
    #: ``[publish.channels.NAME] per_host`` or ``[publish] per_host`` says otherwise.
    per_host: ClassVar[int] = 64
    #: What a rate-limit answer (429 with a reset) slows down until the reset: ``"account"``
    #: (the platform limits each account) or ``"host"`` (one budget for every account on the
    #: host: an app-wide API quota, one site's server). Never the whole channel.
    rate_limits_by: ClassVar[str] = "account"
    #: The platform's API host when it is the same for every account (X, Graph); otherwise
    #: the host comes from the account's URL option (a Mastodon instance, a WordPress site).
    api_host: ClassVar[str | None] = None
    # -- capabilities: everything a channel can do or needs, declared here -----------------
    #: The account has a profile its followers see (a name, a description, a picture); the
    #: brand audit compares it with the brand. False for delivery-only channels.
    public_profile: ClassVar[bool] = True
    #: Posts go to the account. False for a listing the brand audit only reads (Foursquare):
    #: a post's default targets (its brand's accounts) leave it out.
    publishes: ClassVar[bool] = True
    #: True when the platform itself refuses a second create with the same key, so a resend
    #: after an unknown outcome cannot double-post even without ``lookup`` (an account's
    #: option may set it per instance).
    idempotent_publish: bool = False
    #: The ``carecast[...]`` extra that installs the packages this channel imports; None when
    #: it needs nothing beyond carecast's own dependencies.
    extra: ClassVar[str | None] = None
    #: The modules the channel imports from its extra, as ``import`` names.
    packages: ClassVar[tuple[str, ...]] = ()
    #: What a user must know about the platform beyond the limits (listed by
    #: ``carecast channels``): an access level a call needs, a known platform bug.
    notes: ClassVar[tuple[str, ...]] = ()
    # -- errors: the one mapping (``http.error_for_status``) with this platform's exceptions
    #: HTTP statuses this platform means otherwise than ``http.STATUS_CLASSES`` says.
    status_errors: ClassVar[Mapping[int, type[ChannelError]]] = {}
    #: The message (what to do) for an error answer, by status or by class; ``{status}``
    #: and ``{said}`` (the platform's reason) are filled in.
    error_messages: ClassVar[Mapping[int | type[ChannelError], str]] = {}
    _merged_status_table: ClassVar[Mapping[int, type[ChannelError]]]  # set by status_table

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.account = account
        remember_options(options)  # its platform's error texts are scrubbed of them
        #: The publisher's clock: every time this channel reads, waits for or stamps.
        self.clock = clock
        self.options = options
        self.root = root or Path.cwd()
        #: Where media may be read from and fetched (the publisher sets the ``[media]`` rules).
        self.media_rules = MediaRules(roots=(self.root,))
        self.session = session
        #: Set by a channel that made its own session, so ``close`` knows to close it.
        self.owns_session = False
        #: Where resumable upload sessions are kept: the publisher sets its ledger's, so they
        #: outlive this process; by default this instance's memory.
        self.upload_sessions: UploadSessions = MemoryUploadSessions()
        #: The store, for a channel that keeps its own rows there (SMS: per-recipient sends
        #: and consents); the publisher sets it, opened at first use.
        self.store: Callable[[], Ledger] | None = None

    @classmethod
    def from_config(cls, account: AccountConfig, *, root: Path | None = None,
                    session: Any = None, clock: Clock = SYSTEM_CLOCK) -> Self:
        """Build the channel for a configured account; raises ``ConfigurationError``."""
        lines: list[str] = []
        try:
            options = cls.Options.model_validate(account.options)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                msg = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    allowed = ", ".join(sorted(cls.Options.model_fields)) or "none"
                    msg = f"unknown option for the {cls.name} channel (options: {allowed})"
                elif err["type"] == "missing":
                    msg = (f"required; set it in carecast.toml or in the environment variable "
                           f"CARECAST_ACCOUNTS__{account.name.upper().replace('-', '_')}__"
                           f"{loc.upper()}")
                lines.append(f"  accounts.{account.name}.{loc}: {msg}")
        if lines:  # raised outside the except: pydantic's error quotes the (secret) inputs
            raise ConfigurationError(
                f"account {account.name!r} ({cls.name}) is not configured right:\n"
                + "\n".join(lines))
        return cls(account.name, options, root=root, session=session, clock=clock)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.account!r}>"

    @functools.cached_property
    def limit_host(self) -> str:
        """The host whose limits this account's sends share: ``[publish] per_host`` applies
        to all the accounts on it together (found once per account: every send asks)."""
        for option in ("api_base_url", "api_url", "site_url", "service_url", "url"):
            value = getattr(self.options, option, None)
            if value is None:
                continue
            text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            host = urlsplit(str(text)).hostname
            if host:
                return host.lower()
        return self.api_host or self.name

    def close(self) -> None:
        """Release what the channel opened (its own HTTP session); a given session is left."""
        if self.owns_session and hasattr(self.session, "close"):
            self.session.close()

    # -- capabilities ------------------------------------------------------------------------

    @classmethod
    def capabilities(cls) -> frozenset[str]:
        """The optional calls this channel implements."""
        return frozenset(
            name for name in OPTIONAL_CAPABILITIES
            if getattr(cls, name) is not getattr(Channel, name)
        )

    @classmethod
    def features(cls) -> dict[str, Any]:
        """Every declared capability, for listings and docs: the optional calls, the flags,
        the extra and packages it needs (and whether they are installed), the notes."""
        missing = [name for name in cls.packages if not _installed(name)]
        return {
            "calls": sorted(cls.capabilities()),
            "idempotent_publish": bool(cls.idempotent_publish),
            "public_profile": cls.public_profile,
            "extra": cls.extra,
            "packages": list(cls.packages),
            "missing_packages": missing,
            "notes": list(cls.notes),
        }

    @classmethod
    def install_hint(cls, package: str) -> str:
        """The message for a missing package, naming the extra that installs it."""
        extra = f"pip install 'carecast[{cls.extra}]'" if cls.extra else f"pip install {package}"
        return f"the {cls.name} channel needs {package}; install it with: {extra}"

    @classmethod
    def status_table(cls) -> Mapping[int, type[ChannelError]]:
        """``http.STATUS_CLASSES`` with this channel's ``status_errors``, merged once."""
        merged = cls.__dict__.get("_merged_status_table")
        if merged is None:
            from carecast.channels.http import STATUS_CLASSES

            merged = MappingProxyType({**STATUS_CLASSES, **cls.status_errors})
            cls._merged_status_table = merged
        return merged

    @overload
    def error(self, cls: type[E], message: str, /, *, response: Any = None,
              method: str | None = None, said: str = "", **fields: Any) -> E: ...

    @overload
    def error(self, cls: type[ChannelError] | None = None, message: str | None = None, /, *,
              response: Any,
              method: str | None = None, said: str = "", **fields: Any) -> ChannelError: ...

    def error(self, cls: type[ChannelError] | None = None, message: str | None = None, /, *,
              response: Any = None, method: str | None = None, said: str = "",
              **fields: Any) -> ChannelError:
        """This account's error, built whole (not raised: the caller raises it).

        Without ``response``: ``cls(message)`` with the channel, the account and ``fields``
        (``retryable``, ``may_have_been_sent``, ``status``, ``code``...). With an HTTP
        ``response`` (requests or httpx): ``http.error_for_status`` with this channel's
        ``status_table`` and ``error_messages``; ``cls`` and ``message`` there are what the
        platform's error body said, if anything.
        """
        if response is None:
            if cls is None or message is None:
                raise TypeError("Channel.error needs a class and a message, or a response")
            return cls(message, channel=self.name, account=self.account, **fields)
        from carecast.channels.http import error_for_status

        return error_for_status(response, channel=self.name, account=self.account,
                                now=self.clock.time, method=method, message=message, cls=cls,
                                table=self.status_table(), messages=self.error_messages,
                                said=said, **fields)

    def withheld(self, exc: E, *texts: str) -> E:
        """``exc`` without what a person wrote (``texts``: a review, a comment, an author's
        name) where the platform's answer quoted it: a message holding a run of 16 of its
        characters (or all of a shorter one, 6 at least) gives way to a plain one, and such
        headers are dropped. For errors of calls about what others wrote."""
        runs = {t[i:i + 16] for text in texts if len(t := " ".join(text.split())) >= 6
                for i in range(max(1, len(t) - 15))}

        def quotes(value: str) -> bool:
            flat = " ".join(value.split())
            return any(run in flat for run in runs)

        message = str(exc.args[0]) if exc.args else ""
        headers = {k: v for k, v in exc.headers.items() if not quotes(v)}
        code = exc.code if exc.code and not quotes(exc.code) else None
        if not quotes(message) and len(headers) == len(exc.headers) and code == exc.code:
            return exc
        clean = exc.replace(headers=headers, code=code)
        if quotes(message):
            tag = f" ({code})" if code else ""
            clean.args = (f"{self.title} refused the request{tag}; its answer quoted what the "
                          "person wrote, so it is not shown",)
        return clean

    @property
    def can_lookup(self) -> bool:
        """Whether this account can find a post by its key (to reconcile unknown outcomes)."""
        return "lookup" in self.capabilities()

    @classmethod
    def limits(cls) -> dict[str, Any]:
        """The declared limits, for listings and docs."""
        return {
            "max_text": cls.max_text,
            "text_unit": cls.text_unit,
            "url_length": cls.url_length,
            "max_title": cls.max_title,
            "requires_title": cls.requires_title,
            "max_media": cls.max_media,
            "media_kinds": sorted(k.value for k in cls.media_kinds),
            "max_media_bytes": {k.value: v for k, v in cls.max_media_bytes.items()},
            "requires_media": cls.requires_media,
            "supports_threads": cls.supports_threads,
            "max_parts": cls.max_parts,
            "supports_scheduling": cls.supports_scheduling,
            "per_account": cls.per_account,
            "per_host": cls.per_host,
            "rate_limits_by": cls.rate_limits_by,
        }

    # -- rendering (pure: no network, no writes) ----------------------------------------------

    def override_of(self, post: Post) -> Override:
        """The override ``post`` gives this account and where it is: resolved here only, for
        ``render`` and every channel that reads more of it."""
        own = post.overrides.get(self.account)
        return Override(own or post.overrides.get(self.name),
                        f"overrides.{self.account if own else self.name}")

    def render(self, post: Post) -> Draft:
        """Turn a post into exactly what this account would send; raises ``PostRejected``."""
        resolved = self.override_of(post)
        override = resolved.given
        text = override.text if override and override.text is not None else post.text
        title = override.title if override and override.title is not None else post.title
        media = override.media if override and override.media is not None else post.media
        hashtags = (override.hashtags if override and override.hashtags is not None
                    else post.hashtags)
        options = dict(override.options) if override else {}
        where = resolved.where if override else ""

        self.check_title(title, where)
        self.check_media(media, where)
        body = self.compose(text, link=post.link, hashtags=hashtags)
        texts = self.thread_texts(body, post.thread if not override or override.text is None
                                  else (), where=where)
        parts = tuple(
            Part(text=t, media=media if i == 0 else (), length=self.count(t), limit=self.max_text)
            for i, t in enumerate(texts)
        )
        return Draft(
            post_id=post.id, account=self.account, channel=self.name, parts=parts,
            title=title, link=post.link, schedule=post.schedule, language=post.language,
            options=options,
        )

    def render_reply(self, post: Post) -> Draft:
        """The draft of a reply: the post's text alone, in one part (a reply carries no
        media, title or link card), within ``max_reply_text``; raises ``LimitExceeded``."""
        text = post.text.strip()
        limit = self.max_reply_text or self.max_text
        length = self.count(text)
        if not text or (limit is not None and length > limit):
            raise LimitExceeded(
                f"text: a {self.name} reply takes 1 to {limit or 'any number of'} "
                f"{self.text_unit} and this one has {length}; shorten it",
                field="text", limit=limit or 0, value=length)
        return Draft(post_id=post.id, account=self.account, channel=self.name,
                     parts=(Part(text=text, length=length, limit=limit),),
                     language=post.language)

    def compose(self, text: str, *, link: str | None, hashtags: Sequence[str]) -> str:
        """The text of the first part: the post's text, its link and hashtags not yet in it."""
        pieces = [text.strip()] if text.strip() else []
        if link and link not in text:
            pieces.append(link)
        tags = [f"#{t}" for t in hashtags
                if not re.search(rf"#{re.escape(t)}\b", text, re.IGNORECASE)]
        if tags:
            pieces.append(" ".join(tags))
        return "\n\n".join(pieces)

    def count(self, text: str) -> int:
        """Length of ``text`` in ``text_unit`` as the platform counts it (each link as
        ``url_length`` when set). ``characters`` and ``bytes`` (UTF-8) are counted here; a
        channel with another unit (graphemes, weighted) overrides this method."""
        if self.url_length is not None:
            text = _URL.sub("x" * self.url_length, text)
        return len(text.encode("utf-8")) if self.text_unit == "bytes" else len(text)

    def thread_texts(self, body: str, thread: Sequence[str], where: str = "") -> list[str]:
        """The texts of the parts: split into a thread where the channel has threads.

        ``where`` is the override the text came from (``overrides.NAME``), for messages.
        """
        field = f"{where}.text" if where else "text"
        if not self.supports_threads:
            joined = "\n\n".join([body, *thread]) if thread else body
            self.check_length(field, joined)
            return [joined]
        length = self.count(body) if self.max_text is not None else 0
        if self.max_text is None or length <= self.max_text:
            first = [body]
        elif length > self.max_text * self.max_parts:  # surely too many: not split at all
            raise self._too_many_parts(field, None)
        else:
            first = split_thread(body, self.max_text, self.count, field=field)
        if len(first) + len(thread) > self.max_parts:
            raise self._too_many_parts(field if len(first) > 1 else "thread",
                                       len(first) + len(thread))
        for i, extra in enumerate(thread):
            self.check_length(f"thread[{i}]", extra)
        return [*first, *thread]

    def _too_many_parts(self, field: str, parts: int | None) -> LimitExceeded:
        """``parts``: how many the split makes (None: surely too many, not split)."""
        said = f"more than {self.max_parts}" if parts is None else str(parts)
        return LimitExceeded(
            f"{field}: the {self.name} thread would have {said} parts, over the "
            f"{self.max_parts} one thread may have; shorten the text (or the thread), or give "
            f"overrides.{self.name}.text", field=field, limit=self.max_parts,
            value=said if parts is None else parts)

    def check_length(self, field: str, text: str) -> None:
        """Raise ``LimitExceeded`` when ``text`` is over ``max_text``."""
        if self.max_text is None:
            return
        length = self.count(text)
        if length > self.max_text:
            raise LimitExceeded(
                f"{field}: {length} {self.text_unit} is over the {self.name} limit of "
                f"{self.max_text}; shorten it or give overrides.{self.name}.text",
                field=field, limit=self.max_text, value=length,
            )

    def check_title(self, title: str | None, where: str = "") -> None:
        """Raise ``LimitExceeded`` for a missing required title or one that is too long."""
        field = f"{where}.title" if where else "title"
        if self.requires_title and not (title and title.strip()):
            raise LimitExceeded(
                f"{field}: the {self.name} channel needs a title; add one to the post or give "
                f"overrides.{self.name}.title",
                field=field, limit="required", value="missing",
            )
        if title and self.max_title is not None and len(title) > self.max_title:
            raise LimitExceeded(
                f"{field}: {len(title)} characters is over the {self.name} title limit of "
                f"{self.max_title}; shorten it or give overrides.{self.name}.title",
                field=field, limit=self.max_title, value=len(title),
            )

    def check_media(self, media: Sequence[Media], where: str = "") -> None:
        """Raise for media this channel cannot take: count, kind, missing file or size."""
        prefix = f"{where}.media" if where else "media"
        if self.requires_media and not media:
            raise LimitExceeded(
                f"{prefix}: the {self.name} channel needs media; attach a file or give "
                f"overrides.{self.name}.media",
                field=prefix, limit="required", value="missing",
            )
        if len(media) > self.max_media:
            raise LimitExceeded(
                f"{prefix}: {len(media)} items is over the {self.name} limit of "
                f"{self.max_media}; remove some or give overrides.{self.name}.media",
                field=prefix, limit=self.max_media, value=len(media),
            )
        for i, item in enumerate(media):
            field = f"{prefix}[{i}]"
            assert item.kind is not None  # set by Media's validator
            if item.kind not in self.media_kinds:
                allowed = ", ".join(sorted(k.value for k in self.media_kinds)) or "none"
                raise LimitExceeded(
                    f"{field}.kind: the {self.name} channel does not take {item.kind.value} "
                    f"(it takes: {allowed})",
                    field=f"{field}.kind", limit=allowed, value=item.kind.value,
                )
            if item.is_url:
                continue
            problem: str | None = None
            try:
                size = self.media_rules.confine(item.path(self.root),
                                                field=f"{field}.source").stat().st_size
            except (InputRefused, OSError) as exc:
                problem = str(exc) if isinstance(exc, InputRefused) else \
                    f"{field}.source: cannot read {item.filename!r} ({type(exc).__name__})"
            if problem is not None:
                raise InvalidPost(problem, [(f"{field}.source", "refused")])
            cap = self.max_media_bytes.get(item.kind)
            if cap is not None and size > cap:
                raise LimitExceeded(
                    f"{field}: {size} bytes is over the {self.name} limit of {cap} bytes for "
                    f"{item.kind.value}",
                    field=field, limit=cap, value=size,
                )
            rule_cap = self.media_rules.cap(item.kind.value)
            if size > rule_cap:
                raise LimitExceeded(
                    f"{field}: {item.filename!r} is {size} bytes, over the cap of {rule_cap} "
                    f"(raise it with [media] max_bytes.{item.kind.value})",
                    field=field, limit=rule_cap, value=size)

    # -- platform calls ----------------------------------------------------------------------

    @abstractmethod
    def publish(self, draft: Draft, key: str) -> Receipt:
        """Send the draft; the only call that writes to the platform.

        ``key`` is stable for the (post, account) pair: send it where the platform takes an
        idempotency key and keep it where ``lookup`` can find it.
        """

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """Find a post already sent with ``key`` (or ``draft``'s exact text); None if absent.

        A channel that matches by text skips posts for which ``made_too_early`` is true.
        """
        raise NotImplementedError(f"the {self.name} channel cannot look posts up")

    @staticmethod
    def made_too_early(created: datetime | None) -> bool:
        """Whether a post found by its text was made before the one looked up can have been
        sent (carecast stored it first): an earlier post with the same words, not this one.
        Unknown times are kept."""
        after = earliest_send()
        return after is not None and created is not None and created < after

    @abstractmethod
    def delete(self, receipt: Receipt) -> None:
        """Remove a published post."""

    @abstractmethod
    def fetch_profile(self) -> Profile:
        """Read the account's public profile."""

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """What others said to the account since ``since``, oldest first: mentions, replies
        and quotes of its posts, comments under them (``Mention.kind``), each reply, quote
        or comment naming the post it answers (``Mention.parent_id``)."""
        raise NotImplementedError(f"the {self.name} channel cannot read mentions")

    def search_mentions(self, terms: Sequence[str], after: str | None, *,
                        limit: int | None = None) -> tuple[list[Mention], str | None]:
        """Public posts matching any of ``terms`` that came after the marker ``after``
        (what this returned last time; None: as far back as the platform searches),
        oldest first, each of kind ``search``, at most ``limit`` read; and the marker to
        resume from."""
        raise NotImplementedError(f"the {self.name} channel cannot search posts")
    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """Send ``draft`` as a reply to ``mention`` (its ``remote_id`` on this platform): in
        its thread, threaded under it; ``key`` as ``publish`` takes it (the draft's post id
        when None). Only ``carecast.replies`` calls it, after the reply gate and approval.
        """
        raise NotImplementedError(f"the {self.name} platform allows no reply through its API")

    def lookup_reply(self, mention: Mention, draft: Draft, key: str) -> Receipt | None:
        """The reply to ``mention`` sent with ``key``, if it is there (to reconcile an
        unknown outcome); by default ``lookup``, for a channel whose replies are posts."""
        return self.lookup(key, draft)

    def reply_key(self, draft: Draft, key: str | None) -> str:
        """The key a reply is sent with: ``key``, else one made from the draft's post id."""
        return key or f"{draft.post_id}:{self.account}"

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Engagement counts of a published post."""
        raise NotImplementedError(f"the {self.name} channel cannot read metrics")

    def fetch_account_metrics(self) -> AccountMetrics:
        """The account's followers and posts now (the daily account series)."""
        raise NotImplementedError(f"the {self.name} channel cannot read account metrics")

    def update_profile(self, changes: ProfileChanges) -> None:
        """Change the profile fields set in ``changes``; the others stay as they are.

        A field the platform's API cannot change raises ``PlatformRejected`` naming it.
        """
        raise NotImplementedError(
            f"the {self.name} platform allows no profile update through its API")


def earliest_send() -> datetime | None:
    """While carecast reconciles, the earliest time the post looked up can have been made."""
    return _SENT_AFTER.get()


@contextmanager
def sent_after(when: datetime | None) -> Iterator[None]:
    """Within the block, ``Channel.made_too_early`` refuses posts made before ``when``."""
    token = _SENT_AFTER.set(when)
    try:
        yield
    finally:
        _SENT_AFTER.reset(token)


def post_options(model: type[M], options: Mapping[str, Any], field_prefix: str,
                 channel: str) -> M:
    """A draft's ``overrides.<channel>.options`` validated by ``model``; ``InvalidPost``
    naming each bad field (never its value: it may be the post's text)."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = [(f"{field_prefix}.{'.'.join(str(p) for p in e['loc'])}",
                     str(e["msg"]).removeprefix("Value error, ")) for e in exc.errors()]
    # raised outside the except: pydantic's error quotes the values
    raise InvalidPost(f"the {channel} options of this post are not right:\n"
                      + "\n".join(f"  {f}: {m}" for f, m in problems), problems)


def split_thread(text: str, limit: int, count: Callable[[str], int],
                 *, numbered: bool = True, field: str = "text") -> list[str]:
    """Split ``text`` into parts of at most ``limit`` units, each numbered ``k/n``.

    Splits at sentence ends where it can, else between words; never inside a word, so URLs,
    hashtags and mentions stay whole. A single word longer than a part raises ``LimitExceeded``.
    """
    for width in (1, 2, 3):
        suffix = f" {'9' * width}/{'9' * width}" if numbered else ""
        room = limit - count(suffix)
        parts = _pack(text, room, count, field)
        if len(parts) < 10 ** width:
            break
    if not numbered or len(parts) == 1:
        return parts
    n = len(parts)
    return [f"{p} {i}/{n}" for i, p in enumerate(parts, 1)]


def _pack(text: str, room: int, count: Callable[[str], int], field: str) -> list[str]:
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        if not sentence:
            continue
        if count(sentence) <= room:
            pieces.append(sentence)
            continue
        words: list[str] = []
        for word in sentence.split():
            if count(word) <= room:
                words.append(word)
            elif _is_wide_text(word):  # Chinese or Japanese: no spaces between words
                words.extend(_greedy(_characters(word), room, count, ""))
            else:
                raise LimitExceeded(
                    f"{field}: one word of {count(word)} units (a URL or a long token) does "
                    f"not fit in a part of {room}; shorten it",
                    field=field, limit=room, value=count(word),
                )
        pieces.extend(_greedy(words, room, count, " "))
    return _greedy(pieces, room, count, " ")


def _is_wide_text(word: str) -> bool:
    """Mostly full-width characters (CJK), and not a link, hashtag or mention."""
    if word.startswith(("http://", "https://", "#", "@")):
        return False
    return sum(unicodedata.east_asian_width(c) in ("W", "F") for c in word) * 2 > len(word)


def _characters(word: str) -> list[str]:
    """``word`` cut between characters, never before a combining mark or joiner."""
    out: list[str] = []
    for char in word:
        if out and (unicodedata.combining(char) or char in "\u200d\ufe0f"
                    or out[-1].endswith("\u200d")):
            out[-1] += char
        else:
            out.append(char)
    return out


def _greedy(items: Sequence[str], room: int, count: Callable[[str], int], sep: str) -> list[str]:
    """``items`` joined by ``sep`` into parts of at most ``room`` units, each as full as
    the next item allows (an item wider than ``room`` is a part of its own).

    A part's size is a running sum of what each item adds, counted in full only where the
    sum reaches ``room`` and once when the part is done: counting every candidate in full
    made a long text cost its length times a part's. Where the sum fell short of the full
    count (a unit not additive across ``sep``), the part is filled again counting every
    candidate, so the parts are always those full counts give.
    """
    out: list[str] = []
    start = 0
    while start < len(items):
        end, part = _fill(items, start, room, count, sep, exact=False)
        if end - start > 1 and count(part) > room:
            end, part = _fill(items, start, room, count, sep, exact=True)
        out.append(part)
        start = end
    return out


def _fill(items: Sequence[str], start: int, room: int, count: Callable[[str], int], sep: str,
          *, exact: bool) -> tuple[int, str]:
    """The part that begins with ``items[start]``, and the index of the next part's first."""
    part, used = items[start], 0 if exact else count(items[start])
    i = start + 1
    while i < len(items):
        item = items[i]
        glue = "" if _is_wide_text(part[-1:]) and _is_wide_text(item[:1]) else sep
        candidate = f"{part}{glue}{item}"
        size = room + 1 if exact else used + count(glue + item)
        if size > room:
            size = count(candidate)
            if size > room:
                break
        part, used = candidate, size
        i += 1
    return i, part


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported; a dotted name whose parent package is missing
    ("google.auth" without any google package) is not installed, rather than an error."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
