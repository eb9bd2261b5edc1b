"""The unified ``Post`` and the plain data that channels produce from it.

A ``Post`` is what a person or a CMS writes once. A channel renders it into a ``Draft`` (what
exactly would be sent to one account), publishing a draft gives a ``Receipt``, and channels
also read ``Profile``, ``Mention`` and ``Metrics`` back from their platforms.
"""

from __future__ import annotations

import hashlib
import json
import math
import mimetypes
import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from carecast.errors import InputRefused, InvalidPost

__all__ = [
    "AccountMetrics",
    "ChannelOverride",
    "Draft",
    "Media",
    "MediaKind",
    "Mention",
    "Metrics",
    "Part",
    "Post",
    "Profile",
    "ProfileChanges",
    "Receipt",
    "Repeat",
    "load_post",
    "post_from_dict",
]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_HASHTAG = re.compile(r"\w{1,100}")
POST_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
_LANG = re.compile(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False,
                              defer_build=True)


class MediaKind(StrEnum):
    """What a media item is; channels declare which kinds they accept."""

    IMAGE = "image"
    GIF = "gif"
    VIDEO = "video"
    AUDIO = "audio"


_KIND_BY_MIME = {"image/gif": MediaKind.GIF}
#: Media fields added after 0.1; a post's id does not change when they are left out.
_LATER_MEDIA_FIELDS = ("people", "captions")
#: Post fields added after posts were first stored: they count in the hash only when set.
_LATER_POST_FIELDS = ("not_after", "repeat", "series")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: The most occurrences one recurring post may have.
MAX_OCCURRENCES = 500


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


class Media(_Model):
    """One image, GIF, video or audio file, local or by URL, with its alt text."""

    source: str = Field(description="A local file path or an http(s) URL.")
    kind: MediaKind | None = Field(
        default=None, description="Inferred from the file extension when left out."
    )
    alt_text: str | None = Field(default=None, max_length=5000)
    title: str | None = None
    consent: str | None = Field(
        default=None,
        description="Reference to the patient-consent record when a patient appears in it.",
    )
    people: bool | None = Field(
        default=None,
        description="Whether it shows an identifiable person; true needs a consent reference.",
    )
    captions: str | None = Field(
        default=None,
        description="A captions file (WebVTT or SRT; path or URL) for a video or audio item.",
    )

    @field_validator("source")
    @classmethod
    def _source_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give a file path or an http(s) URL")
        if "\x00" in value:
            raise ValueError("a media source cannot contain a NUL character")
        return value

    @model_validator(mode="after")
    def _infer_kind(self) -> Media:
        if self.kind is None:
            kind = _guess_kind(self.source)
            if kind is None:
                raise ValueError(
                    f"cannot tell the media kind of {self.filename!r} from its extension; "
                    "set kind to image, gif, video or audio"
                )
            object.__setattr__(self, "kind", kind)
        return self

    @property
    def is_url(self) -> bool:
        """True when ``source`` is an http(s) URL rather than a local path."""
        return _is_url(self.source)

    @property
    def filename(self) -> str:
        """The last path segment of the source."""
        path = urlsplit(self.source).path if self.is_url else self.source
        return PurePosixPath(path.replace("\\", "/")).name

    @property
    def mime_type(self) -> str:
        """The MIME type guessed from the file name (``application/octet-stream`` if unknown)."""
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"

    def path(self, base: Path | None = None) -> Path:
        """The local file, resolved against ``base``; raises for a URL source."""
        if self.is_url:
            raise ValueError("this media item is a URL, not a local file")
        path = Path(self.source).expanduser()
        return path if path.is_absolute() or base is None else base / path


def _guess_kind(source: str) -> MediaKind | None:
    path = urlsplit(source).path if _is_url(source) else source
    mime = mimetypes.guess_type(PurePosixPath(path.replace("\\", "/")).name)[0]
    if mime is None:
        return None
    if mime in _KIND_BY_MIME:
        return _KIND_BY_MIME[mime]
    major = mime.split("/")[0]
    return {"image": MediaKind.IMAGE, "video": MediaKind.VIDEO, "audio": MediaKind.AUDIO}.get(major)


#: Deepest nesting of an override's options (tables and lists inside each other).
MAX_DEPTH = 20
_MAX_POST_DEPTH = 64  # a whole post document, checked before validation


def _depth(value: Any, limit: int) -> int:
    """How deep lists and tables nest in ``value`` (stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            break
        if isinstance(item, Mapping):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _holds_non_finite(value: Any) -> bool:
    """Whether ``value`` (tables and lists, at most ``MAX_DEPTH`` deep) holds an inf or nan."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


class ChannelOverride(_Model):
    """What one channel or account gets instead of the post's own text, title or media."""

    text: str | None = None
    title: str | None = None
    media: tuple[Media, ...] | None = None
    hashtags: tuple[str, ...] | None = None
    options: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _shallow(cls, value: Any) -> Any:
        if _depth(value, MAX_DEPTH) > MAX_DEPTH:
            raise ValueError(f"options nest more than {MAX_DEPTH} levels deep; flatten them")
        if _holds_non_finite(value):
            raise ValueError("options hold inf or nan, which JSON cannot store; "
                             "give a finite number or a string")
        return value


class Repeat(_Model):
    """How a post recurs: every ``every`` days, or (with ``weekdays``) every ``every`` weeks
    on those days, at the local time of the post's ``schedule``, until a last day and/or
    for ``count`` occurrences."""

    every: int = Field(default=1, ge=1, le=366,
                       description="Days between occurrences; weeks with `weekdays`.")
    weekdays: tuple[str, ...] = Field(
        default=(), description="The days (mon ... sun) of a weekly post.")
    until: date | None = Field(
        default=None, description="The last day (the brand's date) an occurrence may fall on.")
    count: int | None = Field(default=None, ge=1, le=MAX_OCCURRENCES,
                              description="At most this many occurrences.")

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(dict.fromkeys(d.strip().lower()[:3] for d in value))
        bad = [d for d in days if d not in _WEEKDAYS]
        if bad:
            raise ValueError(f"{', '.join(bad)}: give weekdays as mon, tue, wed, thu, fri, "
                             "sat or sun")
        return tuple(sorted(days, key=_WEEKDAYS.index))

    @model_validator(mode="after")
    def _bounded(self) -> Repeat:
        if self.until is None and self.count is None:
            raise ValueError("give until (a last day) or count, so the series ends")
        return self

    @property
    def days(self) -> frozenset[int]:
        """The weekdays (0 = Monday) of a weekly post; empty for every N days."""
        return frozenset(_WEEKDAYS.index(d) for d in self.weekdays)


class Post(_Model):
    """One story, written once, published to many accounts.

    ``id`` is the root of every idempotency key: publishing the same id twice never posts twice.
    Left out, it is derived from the content, so re-running the same file is safe.
    """

    id: str = Field(default="", description="Stable id; derived from the content when empty.")
    text: str = ""
    title: str | None = None
    link: str | None = None
    media: tuple[Media, ...] = ()
    hashtags: tuple[str, ...] = ()
    thread: tuple[str, ...] = Field(
        default=(), description="Follow-up parts, sent as replies where a channel has threads."
    )
    overrides: dict[str, ChannelOverride] = Field(
        default_factory=dict, description="Keyed by channel name or account name."
    )
    targets: tuple[str, ...] = Field(
        default=(), description="Account names; empty means every account of the brand."
    )
    brand: str | None = None
    schedule: datetime | None = Field(
        default=None, description="When to publish; a time without a UTC offset is the "
        "brand's local time (its [brands.NAME] timezone), stored in UTC.")
    not_after: datetime | None = Field(
        default=None, description="Never published after this time (a clinic on Saturday): "
        "a target still unsent then is held for a person, with the reason.")
    repeat: Repeat | None = Field(
        default=None, description="Publish it again and again (needs a schedule); each "
        "occurrence is its own post, with an id derived from this one's and its moment.")
    series: str | None = Field(
        default=None, description="The id of the recurring post this is an occurrence of.")
    campaign: str | None = None
    author: str | None = None
    language: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if value and not _ID.fullmatch(value):
            raise ValueError(
                "id must be 1-128 letters, digits, '.', '_', ':' or '-', starting with a "
                "letter or digit"
            )
        return value

    @field_validator("text", mode="before")
    @classmethod
    def _no_text(cls, value: Any) -> Any:
        return "" if value is None else value  # ``text: null`` is no text, as for ``title``

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("text cannot contain a NUL character")
        return value

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("give an absolute http(s) URL, such as https://example.org/news")
        return value

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = []
        for tag in value:
            bare = tag.removeprefix("#")
            if not _HASHTAG.fullmatch(bare):
                raise ValueError(
                    f"hashtag {tag!r} must be letters, digits or underscores, without spaces"
                )
            cleaned.append(bare)
        return tuple(dict.fromkeys(cleaned))

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"account name {name!r} must be lower-case letters, digits, '-' or '_'"
                )
        return tuple(dict.fromkeys(value))

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not _LANG.fullmatch(value):
            raise ValueError("give a language tag such as 'en' or 'es-US'")
        return value

    @model_validator(mode="after")
    def _finish(self) -> Post:
        if not (self.text.strip() or self.title or self.media):
            raise ValueError("a post needs text, a title or media")
        if self.repeat is not None and self.schedule is None:
            raise ValueError("repeat: a recurring post needs a schedule (its first time)")
        try:
            digest = self.content_hash()
            self.model_dump_json()  # what the ledger stores: proves the post storable as it is
        except (UnicodeError, ValueError, TypeError):  # PydanticSerializationError: ValueError
            raise ValueError(
                "the post cannot be stored: a text holds an invalid character (a lone "
                "surrogate) or an override option is not plain data (text, numbers, lists, "
                "tables)") from None
        if not self.id:
            object.__setattr__(self, "id", "p-" + digest[:24])
        return self

    def content_hash(self) -> str:
        """SHA-256 over everything that is published (not the id).

        A local media file counts by its name, not its folder, so the same post file read
        from another working folder (or machine) keeps its id.
        """
        data = self.model_dump(mode="json", exclude={"id"})
        for key in _LATER_POST_FIELDS:  # fields added later count only when set
            if data.get(key) is None:
                data.pop(key, None)
        for item, media in zip(data["media"], self.media, strict=True):
            if not media.is_url:
                item["source"] = media.filename
        items = [*data["media"], *(m for o in data["overrides"].values() for m in o["media"] or ())]
        for item in items:  # fields added later count only when set: older posts keep their ids
            for key in _LATER_MEDIA_FIELDS:
                if item.get(key) is None:
                    item.pop(key, None)
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def override_for(self, channel: str, account: str) -> ChannelOverride | None:
        """The override that applies to an account: its own, else its channel's."""
        return self.overrides.get(account) or self.overrides.get(channel)


def post_from_dict(data: Mapping[str, Any], *, source: str = "post") -> Post:
    """Validate a dict (what a CMS sends) into a ``Post``; raises ``InvalidPost``."""
    if not isinstance(data, Mapping):
        raise InvalidPost(
            f"{source}: expected a mapping of post fields, got {type(data).__name__}",
            [("", "expected a mapping")],
        )
    if _depth(data, _MAX_POST_DEPTH) > _MAX_POST_DEPTH:
        raise InvalidPost(f"{source}: fields nest more than {_MAX_POST_DEPTH} levels deep",
                          [("", "too deep")])
    try:
        return Post.model_validate(dict(data))
    except ValidationError as exc:
        problems = [(_loc(err["loc"]), _message(err)) for err in exc.errors()]
    # Raised outside the except: pydantic's error quotes the post's text, which may hold PHI.
    lines = "\n".join(f"  {field or '(post)'}: {msg}" for field, msg in problems)
    raise InvalidPost(f"{source} is not a valid post:\n{lines}", problems)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown field; check its spelling against the Post fields"
    if err["type"] == "timezone_aware":
        return "give a time with a zone, such as 2026-12-01T09:00:00-05:00"
    if err["type"] in ("tuple_type", "list_type"):
        return "give a list, even of one item: [a, b] (or one '- a' per line in YAML)"
    return msg


def load_post(path: str | Path, *, max_bytes: int | None = None) -> Post:
    """Load a post from a YAML, JSON or TOML file; raises ``InvalidPost`` naming the fault.

    Only a regular file of at most ``max_bytes`` (default ``CARECAST_MAX_POST_BYTES``, 1 MiB)
    is read.
    """
    path = Path(path)
    data = read_document(path, max_bytes=max_bytes, what="post file")
    post = post_from_dict(data, source=str(path))
    if any(not m.is_url for m in post.media):
        base = path.resolve().parent
        media = tuple(
            m if m.is_url or Path(m.source).is_absolute()
            else m.model_copy(update={"source": str(base / m.source)})
            for m in post.media
        )
        post = post.model_copy(update={"media": media})
    return post


def read_document(path: Path, *, max_bytes: int | None = None, what: str = "file") -> Any:
    """The parsed content of a YAML, JSON or TOML file (a post file, a plan): only a regular
    file of at most ``max_bytes`` (default ``CARECAST_MAX_POST_BYTES``) is read, with the
    safe YAML loader; raises ``InvalidPost`` naming the fault, never quoting the file."""
    from carecast.confine import read_capped

    if path.suffix.lower() not in POST_SUFFIXES:
        raise InvalidPost(
            f"{path}: unknown file type {path.suffix!r}; use .yaml, .yml, .json or .toml",
            [("", "unknown file type")],
        )
    if max_bytes is None:
        from carecast.settings import Settings

        max_bytes = Settings().max_post_bytes
    problem: str | None = None
    try:
        raw = read_capped(path, cap=max_bytes, setting="CARECAST_MAX_POST_BYTES",
                          what=what).decode("utf-8")
    except FileNotFoundError:
        problem = f"{path}: no such file"
    except InputRefused as exc:
        problem = f"{path}: {exc}"
    except (OSError, UnicodeError, ValueError) as exc:  # ValueError: a NUL in the path
        problem = f"{path}: cannot read it ({type(exc).__name__})"
    if problem is not None:
        raise InvalidPost(problem, [("", "unreadable")])
    return parse_document(raw, path.suffix.lower(), source=str(path))


def parse_document(raw: str, suffix: str, *, source: str) -> Any:
    """Parse YAML, JSON or TOML text; raises ``InvalidPost`` with the parser's position."""
    if suffix not in POST_SUFFIXES:
        raise InvalidPost(
            f"{source}: unknown file type {suffix!r}; use .yaml, .yml, .json or .toml",
            [("", "unknown file type")],
        )
    try:
        return _parse(raw, suffix)
    except Exception as exc:  # every parser has its own error types
        where = _parser_position(exc)
    # Raised outside the except: a parser's message may quote the text, which may hold PHI.
    raise InvalidPost(
        f"{source}: not valid {suffix.lstrip('.').upper()}{where}", [("", "parse error")]
    )


def _parse(raw: str, suffix: str) -> Any:
    if suffix == ".json":
        return json.loads(raw)
    if suffix == ".toml":
        import tomllib

        return tomllib.loads(raw)
    return yaml_load(raw)


def yaml_load(raw: str) -> Any:
    """``yaml.safe_load`` (libyaml's when installed) without aliases, which expand without
    limit, and without nesting deeper than a post may: the events are checked first."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    for event in yaml.parse(raw, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not allowed in carecast files")
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > _MAX_POST_DEPTH:
                raise yaml.YAMLError(f"YAML nests more than {_MAX_POST_DEPTH} levels")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
    return yaml.load(raw, Loader=loader)  # noqa: S506 - a safe loader


def _parser_position(exc: Exception) -> str:
    line = getattr(exc, "lineno", None)
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        line = mark.line + 1
    return f" (line {line})" if line else ""


# -- what channels produce ------------------------------------------------------------------


class Part(_Model):
    """One message of a draft: a single post, or one item of a thread."""

    text: str
    media: tuple[Media, ...] = ()
    length: int = Field(description="Length as the channel counts it.")
    limit: int | None = None


class Draft(_Model):
    """Exactly what one account would receive; produced by ``Channel.render`` without I/O."""

    post_id: str
    account: str
    channel: str
    parts: tuple[Part, ...]
    title: str | None = None
    link: str | None = None
    schedule: datetime | None = None
    language: str | None = None
    options: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        """The first part's text."""
        return self.parts[0].text if self.parts else ""

    @property
    def media(self) -> tuple[Media, ...]:
        """Every media item across the parts."""
        return tuple(m for part in self.parts for m in part.media)

    def content_hash(self) -> str:
        """SHA-256 over the draft's content; approvals and audit events bind to it."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


class Receipt(_Model):
    """Proof that a platform holds the post."""

    post_id: str
    account: str
    channel: str
    remote_id: str
    url: str | None = None
    published_at: datetime
    part_ids: tuple[str, ...] = ()
    reconciled: bool = Field(default=False, description="Found by lookup after an unknown outcome.")
    extra: dict[str, Any] = Field(default_factory=dict)


class Profile(_Model):
    """An account's public face, as the platform shows it."""

    channel: str
    account: str
    display_name: str | None = None
    handle: str | None = None
    description: str | None = None
    website: str | None = None
    avatar_url: str | None = None
    location: str | None = None
    phone: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class ProfileChanges(_Model):
    """What ``Channel.update_profile`` changes; a field left None stays as it is."""

    display_name: str | None = None
    description: str | None = None
    website: str | None = None
    location: str | None = None
    phone: str | None = None
    avatar: Path | None = Field(default=None, description="A local image file to upload.")

    def fields(self) -> list[str]:
        """The names of the fields to change, in declaration order."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


class Mention(_Model):
    """Something said on a platform that names the account (or a term it listens for)."""

    channel: str
    account: str
    remote_id: str
    author: str
    text: str
    url: str | None = None
    created_at: datetime
    #: ``mention`` names the account, ``reply`` answers one of its posts, ``comment`` sits
    #: under one of them, ``quote`` quotes one, ``search`` matched a listening query,
    #: ``review`` rates one of its places (a Google Business Profile review).
    kind: Literal["mention", "reply", "comment", "quote", "search", "review"] = "mention"
    #: The remote id of the brand's post this answers, comments on or quotes, if any.
    parent_id: str | None = None
    #: The name of the ``[listen.queries]`` entry that found it (``kind="search"``).
    query: str | None = None
    #: A review's stars, 1 to 5 (``kind="review"``); None where the platform rates nothing.
    rating: int | None = Field(default=None, ge=1, le=5)

    @property
    def key(self) -> str:
        """A stable identity: the same item fetched twice has the same key."""
        return f"{self.channel}:{self.account}:{self.remote_id}"


class Metrics(_Model):
    """Engagement counts for one published post; ``None`` where the platform gives none."""

    channel: str
    account: str
    remote_id: str
    fetched_at: datetime
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    impressions: int | None = None
    clicks: int | None = None
    #: People who saw it (unique viewers), where the platform counts them.
    reach: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class AccountMetrics(_Model):
    """An account's counts on one day (``Channel.fetch_account_metrics``)."""

    channel: str
    account: str
    fetched_at: datetime
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
