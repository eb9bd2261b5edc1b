"""YouTube: videos through the YouTube Data API v3 (google-api-python-client).

A post becomes one video: its title, its text as the description (5,000 bytes), its hashtags
(or ``tags`` from ``overrides.youtube.options``) as tags, uploaded with a resumable
``videos.insert`` in chunks, with progress reported to ``progress``. Then, as the draft asks:
a thumbnail (``thumbnails.set``), a caption track (``captions.insert``) and a place in a
playlist (``playlistItems.insert``).

An interrupted upload is resumed, not restarted: the upload is kept on the channel instance
under the target's idempotency key, and its resumable session URI in ``upload_sessions`` (the
publisher's ledger), so when ``publish`` is called again, in this process or any other, the
client asks the server how far it got (``PUT`` with ``Content-Range: bytes */TOTAL``,
answered ``308`` with ``Range``, or with the video when it was finished) and sends the rest.
``lookup`` defers to a kept session (the uploads playlist lags behind a finished upload);
otherwise it finds a finished video by a hidden tag derived from the key (``cc-`` and 12 hex
digits) among the channel's recent uploads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from http.client import HTTPException
from pathlib import Path
from typing import Any, ClassVar, Literal, cast
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions, post_options
from carecast.channels.media import download
from carecast.channels.paging import Page, since_send
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    InputRefused,
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
    Post,
    Profile,
    ProfileChanges,
    Receipt,
)

__all__ = ["YouTubeChannel", "YouTubeOptions", "marker_tag", "quota_reset_in", "tags_length"]

log = logging.getLogger(__name__)

TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
#: One scope covers uploads, thumbnails, captions, playlists and reading comments.
SCOPES = ("https://www.googleapis.com/auth/youtube.force-ssl",)
WATCH_URL = "https://www.youtube.com/watch?v={}"
MAX_DESCRIPTION_BYTES = 5000
#: A channel's description (its branding), in characters.
MAX_CHANNEL_DESCRIPTION = 1000
MAX_TAGS = 500
MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024
MAX_CAPTION_BYTES = 100 * 1024 * 1024
THUMBNAIL_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
CAPTION_SUFFIXES = (".vtt", ".srt", ".sbv", ".sub", ".scc", ".ttml", ".dfxp", ".cap", ".smi")
_CHUNK = 256 * 1024  # resumable chunks are multiples of 256 KiB
#: Reasons of a 403 or 400 that mean "wait", not "refused".
_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded"}
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
_HINTS = {
    "invalidTitle": "the title is empty, too long or holds < or >",
    "invalidDescription": "the description is too long or holds < or >",
    "invalidTags": "a tag is invalid or the tags are too long",
    "invalidCategoryId": "category_id is not a YouTube category",
    "invalidPublishAt": "the schedule time is not in the future",
    "invalidRecordingDetails": "the recording details are invalid",
    "mediaBodyRequired": "the request had no video",
    "playlistNotFound": "playlist_id names no playlist of this channel",
    "videoNotFound": "no such video on this channel",
    "uploadLimitExceeded": "the channel uploaded as many videos as YouTube allows today",
}

Privacy = Literal["public", "unlisted", "private"]
#: ``progress(key, bytes_sent, total_bytes)`` after every uploaded chunk.
Progress = Callable[[str, int, int], None]


def marker_tag(key: str) -> str:
    """The hidden tag that lets ``lookup`` find the video published with ``key``."""
    return "cc-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def tags_length(tags: Sequence[str]) -> int:
    """Length of ``tags`` as YouTube counts it: commas between tags count, and a tag with a
    space counts its quotation marks."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def quota_reset_in(now: datetime) -> float:
    """Seconds from ``now`` to the next midnight Pacific time, when the daily quota resets."""
    try:
        pacific: tzinfo = ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:  # no time zone data (Windows without tzdata): PST
        pacific = timezone(timedelta(hours=-8))
    local = now.astimezone(pacific)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=pacific)
    return max(0.0, (midnight - local).total_seconds())


class YouTubeOptions(ChannelOptions):
    """Settings of a YouTube account: OAuth 2.0 user credentials and upload defaults."""

    client_id: str = Field(description="OAuth client id of your Google Cloud project.")
    client_secret: SecretStr
    refresh_token: SecretStr = Field(
        description="The channel owner's refresh token, granted the youtube.force-ssl scope.")
    privacy_status: Privacy = "public"
    category_id: str = Field(default="22", pattern=r"^\d{1,3}$",
                             description="22 People & Blogs; 27 Education; 28 Science.")
    made_for_kids: bool = False
    notify_subscribers: bool = True
    playlist_id: str | None = None
    caption_language: str | None = None
    chunk_size: int = Field(default=32 * _CHUNK, ge=_CHUNK, le=1024 * _CHUNK)
    timeout: float = Field(default=120.0, gt=0, le=3600)
    lookup_depth: int = Field(default=50, ge=1, le=50,
                              description="Uploads per page read by lookup.")

    @field_validator("chunk_size")
    @classmethod
    def _whole_chunks(cls, value: int) -> int:
        if value % _CHUNK:
            raise ValueError(f"give a multiple of {_CHUNK} bytes (256 KiB)")
        return value


class _PostOptions(BaseModel):
    """What ``overrides.youtube.options`` may set for one video."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tags: tuple[str, ...] | None = None
    category_id: str | None = Field(default=None, pattern=r"^\d{1,3}$")
    privacy_status: Privacy | None = None
    made_for_kids: bool | None = None
    notify_subscribers: bool | None = None
    playlist_id: str | None = None
    thumbnail: str | None = None
    captions: str | None = None
    caption_language: str | None = None
    caption_name: str | None = None


@dataclass
class _Upload:
    """One target's upload, kept between attempts of the same key in this process."""

    request: Any
    size: int
    video: dict[str, Any] | None = None
    done: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Steps whose last try may have reached YouTube: look before trying again.
    uncertain: set[str] = field(default_factory=set)
    download: Path | None = None
    #: The resumable session URI as last kept in ``upload_sessions``.
    kept: str | None = None


class YouTubeChannel(Channel):
    """Upload a post's video to a YouTube channel, with its thumbnail, captions and playlist."""

    name: ClassVar[str] = "youtube"
    title: ClassVar[str] = "YouTube"
    #: What ``update_profile`` can change: the channel's description (its branding).
    profile_fields: ClassVar[frozenset[str]] = frozenset({"description"})
    Options = YouTubeOptions
    max_text: ClassVar[int | None] = MAX_DESCRIPTION_BYTES
    #: A comment's limit (Youtube API).
    max_reply_text = 10000
    text_unit: ClassVar[str] = "bytes"
    max_title: ClassVar[int | None] = 100
    requires_title: ClassVar[bool] = True
    max_media: ClassVar[int] = 1
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})
    max_media_bytes: ClassVar[Mapping[MediaKind, int]] = {MediaKind.VIDEO: 256 * 1024 ** 3}
    requires_media: ClassVar[bool] = True
    supports_scheduling: ClassVar[bool] = True
    #: A project has 10,000 quota units a day and an upload costs 1,600.
    per_account: ClassVar[int] = 2
    per_host: ClassVar[int] = 2
    rate_limits_by: ClassVar[str] = "host"
    extra: ClassVar[str | None] = "youtube"
    packages: ClassVar[tuple[str, ...]] = ("googleapiclient", "google.auth")
    #: YouTube has no duplicate refusal: a 409 is a plain refusal.
    status_errors: ClassVar[Mapping[int, type[ChannelError]]] = {409: PlatformRejected}
    error_messages: ClassVar[Mapping[int | type[ChannelError], str]] = {
        AuthenticationError: "YouTube refused the credentials{said}; authorise again and "
        "update refresh_token",
        PermissionDenied: "YouTube refused this action{said}; the account lacks the "
        "permission (the youtube.force-ssl scope, a verified channel for thumbnails, or "
        "owning the video)",
        RateLimited: "rate limited by YouTube{said}",
        ChannelServerError: "YouTube failed with HTTP {status}{said}; it may have stored the "
        "request",
        PlatformRejected: "YouTube refused the request{said}",
    }
    options: YouTubeOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, progress: Progress | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session, clock=clock)
        #: Called with ``(key, bytes_sent, total_bytes)`` after each uploaded chunk.
        self.progress = progress
        self._client: Any = None
        self._channel: dict[str, Any] | None = None
        self._uploads: dict[str, _Upload] = {}
        self._lock = threading.Lock()

    # -- render (pure) ------------------------------------------------------------------------

    def check_title(self, title: str | None, where: str = "") -> None:
        """The title's length; a missing title is refused after the other limits."""
        if title and title.strip():
            super().check_title(title, where)

    def check_media(self, media: Sequence[Media], where: str = "") -> None:
        """The video's kind and size; a missing video is refused after the other limits."""
        if media:
            super().check_media(media, where)

    def _check_required(self, draft: Draft, where: str) -> None:
        """A YouTube post is a titled video: say so plainly when either is missing."""
        super().check_title(draft.title, where)
        if not draft.media:
            field_name = f"{where}.media" if where else "media"
            raise LimitExceeded(
                f"{field_name}: a YouTube post is a video and this post has none; attach one "
                f"(a media item of kind video) or leave the {self.account} account out of its "
                "targets",
                field=field_name, limit="required", value="missing")

    def render(self, post: Post) -> Draft:
        """The draft, with the video's settings resolved into ``draft.options``."""
        draft = super().render(post)
        applies = self.override_of(post)
        override, where = applies.given, applies.where
        self._check_required(draft, where if override else "")
        field_of = f"{where}.options"
        wanted = post_options(_PostOptions, draft.options, field_of, self.name)
        for name, what, value in (("title", "title", draft.title or ""),
                                  ("text", "description", draft.text)):
            if "<" in value or ">" in value:
                field_name = f"{where}.{name}" if override and getattr(override, name) \
                    is not None else name
                raise InvalidPost(f"{field_name}: YouTube refuses '<' and '>' in a video's "
                                  f"{what}; write them out ('less than', 'greater than')",
                                  [(field_name, "holds < or >")])
        if wanted.tags is not None:
            tags, tags_field = list(wanted.tags), f"{field_of}.tags"
        elif override and override.hashtags is not None:
            tags, tags_field = list(override.hashtags), f"{where}.hashtags"
        else:
            tags, tags_field = list(post.hashtags), "hashtags"
        self._check_tags(tags, tags_field)
        language = wanted.caption_language or self.options.caption_language or draft.language
        resolved: dict[str, Any] = {
            "tags": tags,
            "category_id": wanted.category_id or self.options.category_id,
            "privacy_status": wanted.privacy_status or self.options.privacy_status,
            "made_for_kids": _first(wanted.made_for_kids, self.options.made_for_kids),
            "notify_subscribers": _first(wanted.notify_subscribers,
                                         self.options.notify_subscribers),
            "playlist_id": wanted.playlist_id or self.options.playlist_id,
            "thumbnail": self._checked_file(wanted.thumbnail, f"{field_of}.thumbnail",
                                            tuple(THUMBNAIL_TYPES), MAX_THUMBNAIL_BYTES),
            "captions": self._checked_file(wanted.captions, f"{field_of}.captions",
                                           CAPTION_SUFFIXES, MAX_CAPTION_BYTES),
            "caption_language": language or "en",
            "caption_name": wanted.caption_name or "",
        }
        return draft.model_copy(update={"options": resolved})

    def _check_tags(self, tags: Sequence[str], field_name: str) -> None:
        for i, tag in enumerate(tags):
            if not tag.strip() or any(c in tag for c in "<>,"):
                raise InvalidPost(f"{field_name}[{i}]: a tag must be non-empty, without "
                                  "'<', '>' or ','", [(f"{field_name}[{i}]", "invalid tag")])
        room = MAX_TAGS - len(marker_tag("")) - 1  # the hidden lookup tag and its comma
        length = tags_length(tags)
        if length > room:
            raise LimitExceeded(
                f"{field_name}: the tags are {length} characters as YouTube counts them "
                f"(commas, and quotes around tags with spaces, count); {room} fit beside "
                "carecast's lookup tag: drop some",
                field=field_name, limit=room, value=length)

    def _checked_file(self, source: str | None, field_name: str, suffixes: Sequence[str],
                      cap: int) -> str | None:
        if source is None:
            return None
        path = Path(source).expanduser()
        path = path if path.is_absolute() else self.root / path
        if path.suffix.lower() not in suffixes:
            raise InvalidPost(f"{field_name}: YouTube takes {', '.join(suffixes)} files here",
                              [(field_name, "unsupported file type")])
        try:
            size = path.stat().st_size
        except OSError:
            raise InvalidPost(f"{field_name}: no readable file {path.name!r}; check the path "
                              "(relative paths start at the configuration's folder)",
                              [(field_name, "no such file")]) from None
        if size > cap:
            raise LimitExceeded(f"{field_name}: {size} bytes is over YouTube's limit of {cap}",
                                field=field_name, limit=cap, value=size)
        return str(path)

    # -- the client ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The googleapiclient ``youtube`` v3 resource, built from the bundled discovery
        document (no network); its HTTP object is ``session`` when one was given."""
        if self._client is None:
            try:
                from googleapiclient.discovery import build  # type: ignore[import-untyped]
            except ImportError:
                raise ConfigurationError(
                    self.install_hint("google-api-python-client")) from None
            if self.session is None:
                self.session = self._authorized_http()
                self.owns_session = True
            self._client = build("youtube", "v3", http=self.session, cache_discovery=False,
                                 static_discovery=True)
        return self._client

    def _authorized_http(self) -> Any:
        import httplib2  # type: ignore[import-untyped]
        from google.oauth2.credentials import Credentials
        from google_auth_httplib2 import AuthorizedHttp  # type: ignore[import-untyped]

        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=None, refresh_token=self.options.refresh_token.get_secret_value(),
            client_id=self.options.client_id,
            client_secret=self.options.client_secret.get_secret_value(),
            token_uri=TOKEN_URI, scopes=list(SCOPES))
        return AuthorizedHttp(credentials, http=httplib2.Http(timeout=self.options.timeout))

    def _execute(self, request: Any, *, write: bool) -> Any:
        """Run one API request once (carecast's policy retries); errors mapped."""
        try:
            return request.execute(num_retries=0)
        except Exception as exc:  # every googleapiclient / httplib2 / google-auth failure
            error = self._error(exc, write=write)
        raise error  # outside the except: SDK messages quote URLs

    # -- publish ------------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        with self._lock:
            upload = self._uploads.get(key)
        if upload is None:
            upload = self._start(draft, key)
            with self._lock:
                self._uploads[key] = upload
        if upload.video is None:
            try:
                upload.video = self._upload(upload, key)
            except ChannelError as exc:
                if not exc.retryable:  # refused: no attempt will resume this upload
                    self._drop(key, upload)
                raise
            self._forget_download(upload)
        self._finish(upload, draft)
        self._drop(key, upload)
        return self._receipt(draft, upload.video, extra={**upload.done,
                                                        "problems": upload.problems})

    def _start(self, draft: Draft, key: str) -> _Upload:
        from googleapiclient.http import MediaFileUpload  # type: ignore[import-untyped]

        video = draft.media[0]
        fetched = None
        if video.is_url:
            fetched = download(video, channel=self.name, account=self.account,
                               field="media[0]", timeout=self.options.timeout,
                               rules=self.media_rules)
            path = fetched
        else:
            path = video.path(self.root)
            try:
                path = self.media_rules.confine(path, field="media[0]")
            except InputRefused as exc:
                raise self.error(PlatformRejected, f"{exc}; nothing was sent") from None
        opts = draft.options
        status: dict[str, Any] = {"privacyStatus": opts["privacy_status"],
                                  "selfDeclaredMadeForKids": opts["made_for_kids"]}
        if draft.schedule is not None and draft.schedule > self.clock.now():
            status["privacyStatus"] = "private"  # YouTube publishes it at publishAt
            status["publishAt"] = draft.schedule.astimezone(UTC).isoformat().replace(
                "+00:00", "Z")
        snippet: dict[str, Any] = {"title": draft.title, "description": draft.text,
                                   "tags": [*cast(list[str], opts["tags"]), marker_tag(key)],
                                   "categoryId": opts["category_id"]}
        if draft.language:
            snippet["defaultLanguage"] = draft.language
        media = MediaFileUpload(str(path), mimetype=video.mime_type, resumable=True,
                                chunksize=self.options.chunk_size)
        request = self.client.videos().insert(
            part="snippet,status", body={"snippet": snippet, "status": status},
            notifySubscribers=opts["notify_subscribers"], media_body=media)
        kept = self.upload_sessions.get(key)
        if kept is not None:
            # Another process (or an earlier run) started this upload: ask the server how far
            # it got (googleapiclient's own resume, a PUT of ``bytes */TOTAL``) instead of
            # sending the video again; a finished one answers with the video.
            request.resumable_uri = kept
            request._in_error_state = True
        return _Upload(request=request, size=media.size(), download=fetched, kept=kept)

    def _upload(self, upload: _Upload, key: str) -> dict[str, Any]:
        """Send the chunks; after an interruption, ask the server where to resume."""
        response = None
        while response is None:
            try:
                status, response = upload.request.next_chunk(num_retries=0)
            except Exception as exc:
                error = self._error(exc, write=True)
                self._keep_session(key, upload)
                if upload.kept is not None and error.status in (404, 410):
                    error = self.error(
                        OutcomeUnknown, "the upload session kept for this post is gone (YouTube "
                        "keeps one about a week): check the channel for the video, then run: "
                        "carecast retry POST_ID --resend-unknown", status=error.status,
                        retryable=False, next_step_given=True)
            else:
                self._keep_session(key, upload)
                if status is not None and self.progress is not None:
                    self.progress(key, status.resumable_progress, upload.size)
                continue
            raise error
        if self.progress is not None:
            self.progress(key, upload.size, upload.size)
        if not isinstance(response, dict) or not response.get("id"):
            raise self.error(OutcomeUnknown, "YouTube finished the upload without a video id")
        return response

    def _finish(self, upload: _Upload, draft: Draft) -> None:
        """Thumbnail, captions and playlist, each once; the video is already live.

        A retryable failure is raised as possibly sent, so carecast never uploads the video
        again without a lookup; a refusal is recorded in the receipt's ``problems``.
        """
        from googleapiclient.http import MediaFileUpload

        assert upload.video is not None
        video_id = str(upload.video["id"])
        opts = draft.options
        steps: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = []
        if opts.get("thumbnail"):  # setting it twice is harmless: nothing to look for
            path = str(opts["thumbnail"])
            steps.append(("thumbnail", lambda: self.client.thumbnails().set(
                videoId=video_id, media_body=MediaFileUpload(
                    path, mimetype=THUMBNAIL_TYPES[Path(path).suffix.lower()])), None))
        if opts.get("captions"):
            captions = str(opts["captions"])
            steps.append(("caption_id", lambda: self.client.captions().insert(
                part="snippet", body={"snippet": {
                    "videoId": video_id, "language": opts["caption_language"],
                    "name": opts["caption_name"], "isDraft": False}},
                media_body=MediaFileUpload(captions, mimetype="application/octet-stream")),
                lambda: self._found(self.client.captions().list(
                    part="snippet", videoId=video_id), lambda item: (
                    item["snippet"].get("language"), item["snippet"].get("name", "")) == (
                    opts["caption_language"], opts["caption_name"]))))
        if opts.get("playlist_id"):
            playlist = str(opts["playlist_id"])
            steps.append(("playlist_item_id", lambda: self.client.playlistItems().insert(
                part="snippet", body={"snippet": {"playlistId": playlist, "resourceId": {
                    "kind": "youtube#video", "videoId": video_id}}}),
                lambda: self._found(self.client.playlistItems().list(
                    part="id", playlistId=playlist, videoId=video_id), lambda item: True)))
        for name, make, find in steps:
            if name in upload.done:
                continue
            if name in upload.uncertain and find is not None:
                existing = find()  # the last try may have made it: never make it twice
                if existing is not None:
                    upload.done[name] = existing
                    continue
            try:
                answer = self._execute(make(), write=True)
            except ChannelError as exc:
                if not exc.retryable:
                    upload.done[name] = None
                    upload.problems.append(f"{name}: {type(exc).__name__}: {exc}")
                    log.warning("account %s: video %s is live but its %s failed (%s)",
                                self.account, video_id, name, type(exc).__name__)
                    continue
                if exc.may_have_been_sent:
                    upload.uncertain.add(name)
                # The video is live: never resend it blindly.
                raise exc.replace(may_have_been_sent=True) from None
            upload.done[name] = (answer or {}).get("id", True) if name != "thumbnail" else True

    def _found(self, request: Any, match: Callable[[dict[str, Any]], bool]) -> str | None:
        """The id of the first listed item that ``match``es, if any."""
        items = self._execute(request, write=False).get("items") or []
        return next((str(item["id"]) for item in items if match(item)), None)

    def close(self) -> None:
        """Close the files of unfinished uploads (a kept session resumes them elsewhere),
        then what the base class closes."""
        with self._lock:
            unfinished = list(self._uploads.values())
            self._uploads.clear()
        for upload in unfinished:
            upload.request.resumable.stream().close()
            self._forget_download(upload)
        super().close()

    def _keep_session(self, key: str, upload: _Upload) -> None:
        """Keep the upload's session URI where any process finds it, once per session."""
        uri = upload.request.resumable_uri
        if uri and uri != upload.kept:
            self.upload_sessions.put(key, str(uri))
            upload.kept = str(uri)

    def _drop(self, key: str, upload: _Upload) -> None:
        with self._lock:
            self._uploads.pop(key, None)
        self._forget_download(upload)
        if upload.kept is not None:
            self.upload_sessions.drop(key)

    def _forget_download(self, upload: _Upload) -> None:
        if upload.download is not None:
            upload.download.unlink(missing_ok=True)
            upload.download = None

    def _receipt(self, draft: Draft, video: Mapping[str, Any], *, reconciled: bool = False,
                 extra: dict[str, Any] | None = None) -> Receipt:
        video_id = str(video["id"])
        snippet = video.get("snippet") or {}
        status = video.get("status") or {}
        details = {"privacy_status": status.get("privacyStatus"),
                   "publish_at": status.get("publishAt"), **(extra or {})}
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=video_id, url=WATCH_URL.format(video_id),
                       published_at=_time(snippet.get("publishedAt")) or self.clock.now(),
                       part_ids=(video_id,), reconciled=reconciled,
                       extra={k: v for k, v in details.items() if v not in (None, [])})

    # -- lookup, delete -----------------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """An unfinished upload, of this process or kept in ``upload_sessions`` by another:
        None, so ``publish`` resumes it (the uploads playlist lags behind a finished upload,
        the session does not). Otherwise the channel's uploads since the send (pages followed
        back to its time, else unknown) are searched for the key's hidden tag."""
        with self._lock:
            upload = self._uploads.get(key)
        if upload is not None or self.upload_sessions.get(key) is not None:
            return None
        uploads = self._channel_info()["contentDetails"]["relatedPlaylists"]["uploads"]

        def page(token: str | None) -> Page[dict[str, Any], str]:
            more = {"pageToken": token} if token else {}
            answer = self._execute(self.client.playlistItems().list(
                part="contentDetails", playlistId=uploads,
                maxResults=self.options.lookup_depth, **more), write=False)
            nxt = answer.get("nextPageToken")
            return Page(answer.get("items", []), nxt if isinstance(nxt, str) else None)

        items = since_send(page, lambda i: _time(i["contentDetails"].get("videoPublishedAt")),
                           channel=self.name, account=self.account)
        ids = [i["contentDetails"]["videoId"] for i in items]
        tag = marker_tag(key)
        for start in range(0, len(ids), 50):  # videos.list takes up to 50 ids
            batch = ids[start:start + 50]
            videos = self._execute(self.client.videos().list(
                part="snippet,status", id=",".join(batch), maxResults=len(batch)),
                write=False).get("items", [])
            for video in videos:
                if tag in ((video.get("snippet") or {}).get("tags") or ()):
                    return self._receipt(draft, video, reconciled=True)
        return None

    def delete(self, receipt: Receipt) -> None:
        """Delete the video; one already gone counts as deleted."""
        try:
            self._execute(self.client.videos().delete(id=receipt.remote_id), write=True)
        except PlatformRejected as exc:
            if exc.status != 404:
                raise

    # -- reading ------------------------------------------------------------------------------

    def _channel_info(self) -> dict[str, Any]:
        if self._channel is None:
            answer = self._execute(self.client.channels().list(
                part="snippet,contentDetails,brandingSettings", mine=True), write=False)
            items = answer.get("items") or []
            if not items:
                raise self.error(
                    PermissionDenied,
                    "these credentials have no YouTube channel; authorise with the Google "
                    "account that owns the channel")
            self._channel = items[0]
        return self._channel

    def fetch_profile(self) -> Profile:
        """Title, description, handle (custom URL), avatar and country of the channel.

        The links shown on a channel's page are not in the Data API.
        """
        info = self._channel_info()
        snippet = info.get("snippet") or {}
        branding = (info.get("brandingSettings") or {}).get("channel") or {}
        handle = snippet.get("customUrl")
        thumbs = snippet.get("thumbnails") or {}
        avatar = next((thumbs[k]["url"] for k in ("high", "medium", "default") if k in thumbs),
                      None)
        url = (f"https://www.youtube.com/{handle}" if handle
               else f"https://www.youtube.com/channel/{info['id']}")
        return Profile(  # the links a channel page shows are not in the Data API: no website
            channel=self.name, account=self.account, display_name=snippet.get("title"),
            handle=handle, description=snippet.get("description"),
            avatar_url=avatar, location=snippet.get("country") or branding.get("country"),
            extra={k: v for k, v in {"channel_id": info.get("id"), "url": url,
                                     "keywords": branding.get("keywords")}.items() if v})

    def update_profile(self, changes: ProfileChanges) -> None:
        """The channel's description, through ``channels.update(part=brandingSettings)``.

        YouTube replaces the whole branding object, so the current one is read and sent back
        with only the description changed. The title, handle and picture change only in
        YouTube Studio.
        """
        unknown = [f for f in changes.fields() if f not in self.profile_fields]
        if unknown:
            raise self.error(
                PlatformRejected,
                f"YouTube's API cannot change the channel's {unknown[0]}; change it in YouTube "
                "Studio")
        if changes.description is None:
            return
        if len(changes.description) > MAX_CHANNEL_DESCRIPTION:
            raise self.error(
                PlatformRejected,
                f"profile description: {len(changes.description)} characters is over YouTube's "
                f"limit of {MAX_CHANNEL_DESCRIPTION}; shorten it")
        answer = self._execute(self.client.channels().list(part="brandingSettings", mine=True),
                               write=False)
        items = answer.get("items") or []
        if not items:
            raise self.error(
                PermissionDenied,
                "these credentials have no YouTube channel; authorise with the Google account "
                "that owns the channel")
        branding = dict(items[0].get("brandingSettings") or {})
        branding["channel"] = {**(branding.get("channel") or {}),
                               "description": changes.description}
        self._execute(self.client.channels().update(
            part="brandingSettings", body={"id": items[0]["id"], "brandingSettings": branding}),
            write=True)
        self._channel = None  # the cached profile is stale now

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Comments on the channel's videos since ``since``, oldest first, each naming its
        video (``parent_id``)."""
        channel_id = self._channel_info()["id"]
        found: list[Mention] = []
        token: str | None = None
        while True:
            page = self._execute(self.client.commentThreads().list(
                part="snippet", allThreadsRelatedToChannelId=channel_id, maxResults=100,
                order="time", textFormat="plainText", pageToken=token), write=False)
            older = False
            for thread in page.get("items", []):
                top = thread["snippet"]["topLevelComment"]
                comment = top["snippet"]
                created = _time(comment.get("publishedAt"))
                if created is None or created < since:
                    older = True
                    continue
                video = thread["snippet"].get("videoId") or comment.get("videoId")
                found.append(Mention(
                    channel=self.name, account=self.account, remote_id=str(thread["id"]),
                    author=str(comment.get("authorDisplayName") or ""),
                    text=str(comment.get("textDisplay") or comment.get("textOriginal") or ""),
                    url=f"{WATCH_URL.format(video)}&lc={top['id']}" if video else None,
                    created_at=created, kind="comment", parent_id=video))
            token = page.get("nextPageToken")
            if older or not token:
                break
        return sorted(found, key=lambda m: m.created_at)

    def search_mentions(self, terms: Sequence[str], after: str | None, *,
                        limit: int | None = None) -> tuple[list[Mention], str | None]:
        """Comment threads on the channel's videos holding any of ``terms``
        (``commentThreads.list`` with ``searchTerms``, newest first, up to 500 a term)
        published after the ISO time ``after``; oldest first, and the newest time."""
        channel_id = self._channel_info()["id"]
        since = _time(after) if after else None
        found: dict[str, Mention] = {}
        newest = since
        cap = limit if limit is not None else 500
        for term in terms:
            token: str | None = None
            for _ in range(5):
                page = self._execute(self.client.commentThreads().list(
                    part="snippet", allThreadsRelatedToChannelId=channel_id, searchTerms=term,
                    maxResults=100, order="time", textFormat="plainText", pageToken=token),
                    write=False)
                older = False
                for thread in page.get("items", []):
                    top = thread["snippet"]["topLevelComment"]
                    comment = top["snippet"]
                    created = _time(comment.get("publishedAt"))
                    if created is None or (since is not None and created <= since):
                        older = True
                        continue
                    if len(found) >= cap:
                        break
                    video = thread["snippet"].get("videoId") or comment.get("videoId")
                    found.setdefault(str(thread["id"]), Mention(
                        channel=self.name, account=self.account, remote_id=str(thread["id"]),
                        author=str(comment.get("authorDisplayName") or ""),
                        text=str(comment.get("textDisplay") or comment.get("textOriginal") or ""),
                        url=f"{WATCH_URL.format(video)}&lc={top['id']}" if video else None,
                        created_at=created, kind="search", parent_id=video))
                    newest = created if newest is None or created > newest else newest
                token = page.get("nextPageToken")
                if older or not token or len(found) >= cap:
                    break
        marker = newest.isoformat() if newest is not None else after
        return sorted(found.values(), key=lambda m: m.created_at), marker
    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """``comments.insert`` with ``snippet.parentId``: the thread's top-level comment (the
        ``lc`` of the mention's address, else the thread's id, which YouTube gives it too);
        YouTube threads replies one level deep."""
        linked = parse_qs(urlsplit(mention.url or "").query).get("lc")
        parent = linked[0] if linked else mention.remote_id
        body = {"snippet": {"parentId": parent, "textOriginal": draft.text}}
        answer = self._execute(self.client.comments().insert(part="snippet", body=body),
                               write=True)
        comment_id = str(answer["id"])
        published = _time(answer.get("snippet", {}).get("publishedAt"))
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=comment_id, url=mention.url, part_ids=(comment_id,),
                       published_at=published or self.clock.now(),
                       extra={"kind": "comment", "parent": parent})

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Likes, comments and (in ``extra``) views and favourites of the video."""
        items = self._execute(self.client.videos().list(
            part="statistics", id=receipt.remote_id), write=False).get("items") or []
        if not items:
            raise self.error(PlatformRejected, "no such video on this channel (deleted?)",
                             status=404, code="videoNotFound")
        stats = items[0].get("statistics") or {}
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), likes=_int(stats.get("likeCount")),
                       replies=_int(stats.get("commentCount")),
                       impressions=_int(stats.get("viewCount")),
                       extra={k: v for k, v in {"views": _int(stats.get("viewCount")),
                                                "favorites": _int(stats.get("favoriteCount"))
                                                }.items() if v is not None})

    def fetch_account_metrics(self) -> AccountMetrics:
        """Subscribers, videos and channel views (``channels.list part=statistics``); a
        channel that hides its subscribers gives none."""
        items = self._execute(self.client.channels().list(part="statistics", mine=True),
                              write=False).get("items") or []
        stats = (items[0].get("statistics") or {}) if items else {}
        hidden = stats.get("hiddenSubscriberCount") is True
        views = _int(stats.get("viewCount"))
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=self.clock.now(),
                              followers=None if hidden else _int(stats.get("subscriberCount")),
                              posts=_int(stats.get("videoCount")),
                              extra={"views": views} if views is not None else {})

    # -- errors -------------------------------------------------------------------------------

    def _error(self, exc: BaseException, *, write: bool) -> ChannelError:
        """The carecast error for a googleapiclient, httplib2 or google-auth failure."""
        where: dict[str, Any] = {"channel": self.name, "account": self.account}
        from google.auth import exceptions as auth_errors
        from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

        if isinstance(exc, ChannelError):
            return exc
        if isinstance(exc, HttpError):
            return self._http_error(exc)
        if isinstance(exc, auth_errors.RefreshError):
            return AuthenticationError(
                "Google refused the refresh token (revoked, expired or for another client); "
                "authorise again and update refresh_token", **where)
        if isinstance(exc, auth_errors.TransportError):
            return ChannelConnectionError("could not reach Google to refresh the access token",
                                          **where)
        if _not_sent(exc):
            return ChannelConnectionError("could not connect to YouTube", **where)
        if isinstance(exc, TimeoutError):  # socket.timeout too
            if not write:
                return ChannelTimeout("YouTube did not answer in time", **where)
            return OutcomeUnknown("the request was sent but YouTube did not answer in time; "
                                  "it may have been stored", **where)
        if isinstance(exc, OSError | HTTPException) or _is_httplib2_error(exc):
            if not write:
                return ChannelConnectionError(
                    f"the connection to YouTube failed ({type(exc).__name__})", **where)
            return OutcomeUnknown(f"the connection to YouTube broke ({type(exc).__name__}) "
                                  "after the request was sent; it may have been stored", **where)
        return OutcomeUnknown(f"the YouTube client failed ({type(exc).__name__})", **where,
                              retryable=False)  # an unexpected failure: a person must look

    def _http_error(self, exc: Any) -> ChannelError:
        """The carecast error for googleapiclient's ``HttpError``: by its ``reason``, else by
        its status through the one mapping."""
        answer = _Answer(int(getattr(exc.resp, "status", 0) or 0),
                         {str(k): str(v) for k, v in dict(exc.resp).items()})
        reason = _reason(exc.content)
        said = f" ({reason})" if reason else ""
        hint = f": {_HINTS[reason]}" if reason in _HINTS else ""
        if reason in _QUOTA_REASONS:
            return self.error(
                RateLimited, f"YouTube's daily limit is used up{said}{hint}; it resets at "
                "midnight Pacific time", response=answer, code=reason,
                retry_after=quota_reset_in(self.clock.now()))
        return self.error(RateLimited if reason in _RATE_REASONS else None, response=answer,
                          said=f"{said}{hint}", code=reason or None)


@dataclass(frozen=True)
class _Answer:
    """An httplib2 answer as ``http.error_for_status`` reads it."""

    status_code: int
    headers: Mapping[str, str]


def _reason(content: Any) -> str:
    """The first ``errors[].reason`` of a Google API error body."""
    try:
        body = json.loads(content.decode() if isinstance(content, bytes) else content)
        error = body["error"]
        errors = error.get("errors") or [{}]
        reason = errors[0].get("reason") or error.get("status") or ""
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return ""
    return str(reason)[:64]


def _not_sent(exc: BaseException) -> bool:
    try:
        import httplib2
    except ImportError:  # pragma: no cover - installed with googleapiclient
        return isinstance(exc, ConnectionRefusedError | socket.gaierror)
    return isinstance(exc, ConnectionRefusedError | socket.gaierror
                      | httplib2.ServerNotFoundError)


def _is_httplib2_error(exc: BaseException) -> bool:
    try:
        import httplib2
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, httplib2.HttpLib2Error)


def _first(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
