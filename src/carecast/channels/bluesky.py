"""Bluesky: posts through the AT Protocol with ``atproto`` (``pip install 'carecast[bluesky]'``).

A part is an ``app.bsky.feed.post`` record made with ``com.atproto.repo.createRecord``. Its
record key is a TID derived from the part's idempotency key (``record_key``), so ``lookup`` is
one exact ``getRecord`` and a resend can never make a second copy. Text is counted in
graphemes (300 a post); links, ``#tags`` and ``@mentions`` become rich-text facets with UTF-8
byte offsets; images (up to 4, with alt text) are re-encoded with Pillow when over the
2,000,000-byte limit of a post image (link-card thumbnails and avatars: 1,000,000);
``post.link`` becomes a link card when the post has no images. Long text becomes a reply
thread whose parts carry root and parent strong references and each its own, later,
``createdAt``.

The reference PDS answers a ``createRecord`` at a record key it already holds with HTTP 500
(bluesky-social/atproto#3718), not ``RecordAlreadyExists``; so any 5xx or lost answer to a
create is followed at once by a ``getRecord`` at that key (the key is carecast's own).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import threading
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.media import media_bytes
from carecast.channels.thread import part_key, send_thread
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.confine import DEFAULT_MAX_PIXELS
from carecast.errors import (
    AuthenticationError,
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
    Profile,
    ProfileChanges,
    Receipt,
)

__all__ = ["BLOB_LIMIT", "IMAGE_LIMIT", "BlueskyChannel", "BlueskyOptions", "fit_image",
           "graphemes", "record_key"]

T = TypeVar("T")
POST = "app.bsky.feed.post"
PROFILE = "app.bsky.actor.profile"
#: The profile record's field of each profile change, and its limit in graphemes.
PROFILE_RECORD = {"display_name": ("displayName", 64), "description": ("description", 256),
                  "website": ("website", None)}
IMAGE_LIMIT = 2_000_000  # bytes, app.bsky.embed.images#image (atproto#4823, April 2026)
BLOB_LIMIT = 1_000_000  # bytes, app.bsky.embed.external#thumb and the profile avatar
MAX_TEXT_BYTES = 3000  # app.bsky.feed.post text: maxGraphemes 300, maxLength 3000 (UTF-8)
MAX_SIDE = 2000  # pixels: the longest side Bluesky shows without scaling
APP_PASSWORDS = "bsky.app > Settings > Privacy and security > App passwords"
_WEBSITE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")
_AUTH_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired",
                          "AuthMissing"})
_DUPLICATE_ERRORS = frozenset({"RecordAlreadyExists", "AlreadyExists"})
_NOT_FOUND_ERRORS = frozenset({"RecordNotFound", "NotFound"})


# -- graphemes (UAX #29 extended grapheme clusters, the cases social posts meet) ---------------


def _is_extend(cp: int) -> bool:
    """Grapheme_Cluster_Break Extend, SpacingMark or ZWJ: never a cluster of its own."""
    return (unicodedata.category(chr(cp)) in ("Mn", "Me", "Mc")
            or cp in (0x200C, 0x200D, 0x0E33, 0x0EB3)  # ZWNJ, ZWJ, Thai and Lao SARA AM
            or 0xFE00 <= cp <= 0xFE0F  # variation selectors (VS16: emoji presentation)
            or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
            or 0xE0020 <= cp <= 0xE007F)  # tags (subdivision flags)


def _is_spacing(cp: int) -> bool:
    """SpacingMark: joins the cluster, but ends an emoji sequence (no ZWJ join after it)."""
    return unicodedata.category(chr(cp)) == "Mc" or cp in (0x0E33, 0x0EB3)


def _is_pictographic(cp: int) -> bool:
    """Extended_Pictographic, near enough: the emoji blocks and the older symbols in emoji."""
    return (0x1F000 <= cp <= 0x1FAFF and not 0x1F1E6 <= cp <= 0x1F1FF
            and not 0x1F3FB <= cp <= 0x1F3FF) or 0x1FC00 <= cp <= 0x1FFFD \
        or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF or 0x2190 <= cp <= 0x21FF \
        or 0x2300 <= cp <= 0x23FF or 0x25A0 <= cp <= 0x25FF \
        or cp in (0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x2934, 0x2935, 0x3030,
                  0x303D, 0x3297, 0x3299)


def _hangul(cp: int) -> str:
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


_HANGUL_JOINS = {("L", "L"), ("L", "V"), ("L", "LV"), ("L", "LVT"), ("LV", "V"), ("LV", "T"),
                 ("V", "V"), ("V", "T"), ("LVT", "T"), ("T", "T")}


def _is_control(cp: int) -> bool:
    return cp in (0x0D, 0x0A) or unicodedata.category(chr(cp)) in ("Cc", "Zl", "Zp")


def graphemes(text: str) -> list[str]:
    """``text`` split into user-perceived characters, as Bluesky counts them.

    Combining marks, emoji ZWJ sequences, skin tones, keycaps, flags (regional-indicator pairs
    and tag sequences) and Hangul syllables are one grapheme each; CR LF is one.
    """
    clusters: list[str] = []
    pictograph = False  # the cluster ends in a pictograph followed by Extend* (GB11)
    joiner = False  # ... and then by one ZWJ: a pictograph may join next
    regional = 0  # regional indicators in a row ending the cluster
    for char in text:
        cp = ord(char)
        if clusters:
            prev = ord(clusters[-1][-1])
            if prev == 0x0D and cp == 0x0A:
                join = True
            elif _is_control(prev) or _is_control(cp):
                join = False
            elif _is_extend(cp) or (joiner and _is_pictographic(cp)):
                join = True
            elif 0x1F1E6 <= cp <= 0x1F1FF and 0x1F1E6 <= prev <= 0x1F1FF:
                join = regional % 2 == 1
            else:
                join = (_hangul(prev), _hangul(cp)) in _HANGUL_JOINS
            if join:
                clusters[-1] += char
                regional = regional + 1 if 0x1F1E6 <= cp <= 0x1F1FF else 0
                joiner = cp == 0x200D and pictograph
                pictograph = (pictograph and _is_extend(cp) and not _is_spacing(cp)
                              and cp != 0x200D) or (_is_pictographic(cp) and not _is_extend(cp))
                continue
        clusters.append(char)
        regional = 1 if 0x1F1E6 <= cp <= 0x1F1FF else 0
        pictograph = _is_pictographic(cp)
        joiner = False
    return clusters


# -- record keys -------------------------------------------------------------------------------

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable (atproto.com/specs/tid)
_TID_EPOCH_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z, in microseconds
_TID_SPAN_US = 1 << 46  # about 2.2 years: every derived timestamp lies in the past


def record_key(key: str) -> str:
    """The record key (a TID) of the part sent with idempotency key ``key``.

    A TID is 64 bits: a zero, 53 bits of microseconds since 1970 and a 10-bit clock id, in 13
    base32-sortable characters. Bluesky's AppView only shows posts whose key is a TID, so the
    key is TID-shaped; its timestamp and clock id come from SHA-256 of ``key`` (56 bits in
    all), the timestamp within 2023-2025 so that no key lies in the future.
    """
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    micros = _TID_EPOCH_US + (digest >> 10) % _TID_SPAN_US
    value = (micros << 10) | (digest & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


# -- options ---------------------------------------------------------------------------------


class BlueskyOptions(ChannelOptions):
    """Settings of a Bluesky account: its handle and an app password (never the main one)."""

    handle: str = Field(description="The account's handle (clinic.bsky.social) or DID.")
    app_password: SecretStr = Field(description="An app password: " + APP_PASSWORDS + ".")
    service_url: str = Field(default="https://bsky.social",
                             description="The account's PDS or entryway.")
    timeout: float = Field(default=20.0, gt=0, le=300)
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    max_image_bytes: int = Field(
        default=IMAGE_LIMIT, ge=BLOB_LIMIT, le=IMAGE_LIMIT,
        description="Largest post image sent as it is. A PDS older than the 2 MB image "
                    "lexicon (such as @atproto/pds 0.4) refuses more than 1000000.")

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        value = value.strip().removeprefix("@")
        if not value or any(c.isspace() or c in "/@" for c in value):
            raise ValueError("give the handle, such as clinic.bsky.social (no spaces or '/')")
        return value

    @field_validator("service_url")
    @classmethod
    def _service_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("give an http(s) URL, such as https://bsky.social")
        return value.rstrip("/")


# -- the channel -------------------------------------------------------------------------------


_REDIRECT = ("Bluesky answered with a redirect; nothing is taken as sent: set service_url to "
             "the final address")


class BlueskyChannel(Channel):
    """Posts, threads, images and link cards on Bluesky, through ``atproto``."""

    name: ClassVar[str] = "bluesky"
    title: ClassVar[str] = "Bluesky"
    Options = BlueskyOptions
    max_text: ClassVar[int | None] = 300
    text_unit: ClassVar[str] = "graphemes"
    max_media = 4
    media_kinds = frozenset({MediaKind.IMAGE})
    #: Largest source image; one over ``max_image_bytes`` is re-encoded before upload.
    max_media_bytes = {MediaKind.IMAGE: 20_000_000}
    supports_threads = True
    #: A PDS counts 5,000 points an hour per account (a post costs 3) and 3,000 requests
    #: per 5 minutes per address.
    per_account: ClassVar[int] = 4
    per_host: ClassVar[int] = 64
    #: What ``update_profile`` changes.
    profile_fields: ClassVar[frozenset[str]] = frozenset({*PROFILE_RECORD, "avatar"})
    extra: ClassVar[str | None] = "bluesky"
    packages: ClassVar[tuple[str, ...]] = ("atproto",)
    notes: ClassVar[tuple[str, ...]] = (
        "the reference PDS answers a create at an existing record key with HTTP 500 "
        "(bluesky-social/atproto#3718): carecast looks its own record key up then",)
    error_messages: ClassVar[Mapping[int | type[ChannelError], str]] = {
        AuthenticationError: "Bluesky refused the session{said}; if it persists, create a new "
        f"app password ({APP_PASSWORDS}) and update app_password",
        PermissionDenied: "the app password may not do this{said}; check the account on "
        "bsky.app",
        RateLimited: "rate limited by Bluesky{said}",
        DuplicatePost: "Bluesky already holds this record{said}",
        ChannelServerError: "Bluesky failed with HTTP {status}{said}; it may have stored the "
        "post",
        PlatformRejected: "Bluesky refused the request{said}",
        301: _REDIRECT, 302: _REDIRECT, 303: _REDIRECT, 307: _REDIRECT, 308: _REDIRECT,
    }
    options: BlueskyOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session, clock=clock)
        self._lock = threading.Lock()
        self._atp: Any = None  # the logged-in atproto Client
        self._did = ""
        self._handle = self.options.handle

    # -- render ------------------------------------------------------------------------------

    def count(self, text: str) -> int:
        if text.isascii():  # each ASCII character is a grapheme of its own, but CR LF is one
            return len(text) - text.count("\r\n")
        return len(graphemes(text))

    def thread_texts(self, body: str, thread: Sequence[str], where: str = "") -> list[str]:
        """The base split, then Bluesky's second limit: 3000 bytes of UTF-8 a post."""
        texts = super().thread_texts(body, thread, where)
        from_body = len(texts) - len(thread)
        for i, text in enumerate(texts):
            size = len(text.encode())
            if size > MAX_TEXT_BYTES:
                field = ((f"{where}.text" if where else "text") if i < from_body
                         else f"thread[{i - from_body}]")
                raise LimitExceeded(
                    f"{field}: {size} bytes of UTF-8 is over the Bluesky limit of "
                    f"{MAX_TEXT_BYTES} bytes a post (long emoji sequences count many bytes); "
                    "shorten it", field=field, limit=MAX_TEXT_BYTES, value=size)
        return texts

    # -- session -----------------------------------------------------------------------------

    def _http(self) -> Any:
        """The httpx client every request goes through (the test seam)."""
        if self.session is None:
            import httpx

            self.session = httpx.Client(timeout=httpx.Timeout(
                self.options.timeout, connect=self.options.connect_timeout))
            self.owns_session = True
        return self.session

    def _client(self) -> Any:
        """The logged-in atproto client; logs in once and keeps the session."""
        with self._lock:
            if self._atp is None:
                client = _new_client(self._http(), self.options.service_url)
                client.on_session_change(self._remember)
                self._login(client)
                self._atp = client
            return self._atp

    def _remember(self, event: Any, session: Any) -> None:
        self._did, self._handle = session.did, session.handle

    def _login(self, client: Any) -> None:
        failure: BaseException | None = None
        try:
            client.login(self.options.handle, self.options.app_password.get_secret_value(),
                         fetch_bsky_profile=False)
        except Exception as exc:
            if not _from_transport(exc):
                raise
            failure = exc
        if failure is not None:
            error = self._error(failure)
            if isinstance(error, (AuthenticationError, PlatformRejected)) \
                    and error.status in (400, 401):
                reason = ("this account needs a sign-in code: use an app password instead"
                          if error.code == "AuthFactorTokenRequired" else
                          "Bluesky refused the handle or app password")
                error = self.error(
                    AuthenticationError, f"{reason}; create an app password ({APP_PASSWORDS})"
                    " and set it as app_password", status=error.status, code=error.code,
                    request_id=error.request_id, headers=error.headers)
            raise error

    def _call(self, call: Callable[[Any], T]) -> T:
        """Run ``call(client)``; an expired session is renewed by logging in once more."""
        client = self._client()
        for attempt in (1, 2):
            failure: BaseException | None = None
            try:
                return call(client)
            except Exception as exc:
                if not _from_transport(exc):
                    raise  # a bug: the publisher reports it without retrying blindly
                failure = exc
            error = self._error(failure)
            if attempt == 1 and isinstance(error, AuthenticationError):
                with self._lock:
                    self._login(client)
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    # -- publish -----------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        return self._post(draft, key, None)

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A post whose ``reply`` holds strong references to the thread's root and to the
        mention (its parent): the parent is read with ``getRecord`` for its CID, and its own
        ``reply.root`` is the root when it is itself a reply."""
        self._client()
        repo, collection, rkey = _split_uri(mention.remote_id)
        parent = self._call(lambda c: c.com.atproto.repo.get_record(
            {"repo": repo, "collection": collection, "rkey": rkey}))
        root = _field(_field(parent.value, "reply"), "root")
        thread = {str(_field(root, "uri")): str(_field(root, "cid"))} if root else {}
        thread[str(parent.uri)] = str(parent.cid)  # after the root: next(iter()) is the root
        return self._post(draft, self.reply_key(draft, key), thread)

    def _post(self, draft: Draft, key: str, thread: dict[str, str] | None) -> Receipt:
        """Send the parts; ``thread`` (root first, parent last: uri -> cid) makes it a reply."""
        self._client()  # logs in (once) and learns the account's DID
        refs: dict[str, str] = dict(thread or {})  # uri -> cid: the thread's, then each part's
        parent = next(reversed(refs)) if refs else None
        stamps: list[int] = []  # createdAt of each part, in milliseconds
        found: dict[int, str] = {}  # createdAt of the parts an earlier send left, found

        def send_one(index: int, part: Part, reply_to: str | None) -> str:
            # Its own createdAt, later than the part before it: the AppView orders a thread
            # by it, and parts made within one millisecond would come back in any order.
            now = int(self.clock.time() * 1000)
            stamps.append(max(now, stamps[-1] + 1) if stamps else now)
            record = self._record(draft, part, index, _stamp(stamps[-1]), refs, reply_to)
            uri, cid, held_at = self._create(record, record_key(part_key(key, index)),
                                             reply_to, refs)
            refs[uri] = cid
            if held_at is not None:
                found[index] = held_at
            return uri

        uris = send_thread(draft.parts, lambda i, part, to: send_one(i, part, to or parent),
                           self._delete_uri)
        first = uris[0]
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=first, url=self.web_url(first), part_ids=tuple(uris),
                       published_at=_parse_time(found[0]) if found.get(0)
                       else _millis(stamps[0]), reconciled=0 in found,
                       extra={"cid": refs[first], "rkey": first.rsplit("/", 1)[-1]})

    def _record(self, draft: Draft, part: Part, index: int, created_at: str,
                refs: dict[str, str], reply_to: str | None) -> dict[str, Any]:
        record: dict[str, Any] = {"$type": POST, "text": part.text, "createdAt": created_at}
        facets = self._call(lambda c: c.detect_facets(part.text))
        if facets:
            record["facets"] = facets
        if draft.language:
            record["langs"] = [draft.language]
        if reply_to is not None:
            root = next(iter(refs))
            record["reply"] = {"root": {"uri": root, "cid": refs[root]},
                               "parent": {"uri": reply_to, "cid": refs[reply_to]}}
        embed = self._embed(draft, part, index)
        if embed:
            record["embed"] = embed
        return record

    def _embed(self, draft: Draft, part: Part, index: int) -> dict[str, Any] | None:
        if part.media:
            images = []
            for i, media in enumerate(part.media):
                data, mime, width, height = fit_image(
                    self._media_bytes(media, i), field=f"media[{i}]",
                    limit=self.options.max_image_bytes, max_pixels=self.media_rules.max_pixels)
                images.append({"alt": media.alt_text or "", "image": self._upload(data, mime),
                               "aspectRatio": {"width": width, "height": height}})
            return {"$type": "app.bsky.embed.images", "images": images}
        if index == 0 and draft.link:
            external: dict[str, Any] = {
                "uri": draft.link, "title": draft.title or "",
                "description": _text_option(draft, "description")}
            thumb = _text_option(draft, "card_image")
            if thumb:
                data, mime, _, _ = fit_image(self._media_bytes(Media(source=thumb), 0),
                                             field="options.card_image",
                                             max_pixels=self.media_rules.max_pixels)
                external["thumb"] = self._upload(data, mime)
            return {"$type": "app.bsky.embed.external", "external": external}
        return None

    def _upload(self, data: bytes, mime: str) -> Any:
        """uploadBlob; the blob reference the record embeds.

        Sent as ``content``: atproto's ``upload_blob`` passes raw bytes as httpx's deprecated
        ``data``.
        """
        answer = self._call(lambda c: c.invoke_procedure(
            "com.atproto.repo.uploadBlob", content=data, headers={"Content-Type": mime}))
        blob = _field(answer.content, "blob")
        if not isinstance(blob, dict):
            raise self.error(OutcomeUnknown, "Bluesky answered uploadBlob without a blob reference")
        return blob

    def _media_bytes(self, media: Media, index: int) -> bytes:
        """The file's bytes: read from disk, or downloaded for an http(s) source."""
        return media_bytes(media, root=self.root, channel=self.name, account=self.account,
                           rules=self.media_rules,
                           field=f"media[{index}]",
                           cap=self.max_media_bytes.get(media.kind or MediaKind.IMAGE))

    def _create(self, record: dict[str, Any], rkey: str, reply_to: str | None,
                refs: dict[str, str]) -> tuple[str, str, str | None]:
        """createRecord with our record key; after a 5xx, a lost answer or a duplicate, look
        the key up at once: the reference PDS answers a create at a key it holds with HTTP
        500 (atproto#3718), and the key is ours, so a record there is this part.

        ``(uri, cid, created_at)``: ``created_at`` is the stored record's when it was found,
        not created, here (``""`` if it has none); None when this call created it.
        """
        data = {"repo": self._did, "collection": POST, "rkey": rkey, "record": record}
        try:
            answer = self._call(lambda c: c.com.atproto.repo.create_record(data))
        except (OutcomeUnknown, ChannelServerError, DuplicatePost):
            held = self._get(rkey)
            if held is None:
                raise  # not stored: the error stands (a retry sends again)
            parent = _field(_field(_field(held.value, "reply"), "parent"), "cid")
            if reply_to is None or parent == refs[reply_to]:
                created = _field(held.value, "created_at") or _field(held.value, "createdAt")
                return str(held.uri), str(held.cid), str(created or "")  # it landed: this part
            # an orphan of an earlier, rolled-back attempt holds the key: replace it
            self._delete_uri(str(held.uri))
            answer = self._call(lambda c: c.com.atproto.repo.create_record(data))
        return str(answer.uri), str(answer.cid), None

    # -- lookup, delete ------------------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """Find the post by its record keys with ``getRecord``: exact, one request a part."""
        self._client()
        held = [self._get(record_key(part_key(key, i))) for i in range(len(draft.parts))]
        if held[0] is None:
            return None
        missing = [i for i, record in enumerate(held) if record is None]
        if missing:
            raise self.error(
                OutcomeUnknown, f"the thread is on Bluesky only in part: part(s) {missing} of "
                f"{len(held)} are missing (first {held[0].uri}); delete it there or finish "
                "it by hand, then mark the post", retryable=False)
        uris = [str(record.uri) for record in held if record is not None]
        created = _field(held[0].value, "created_at") or _field(held[0].value, "createdAt")
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=uris[0], url=self.web_url(uris[0]), part_ids=tuple(uris),
                       published_at=_parse_time(created) if created else _utc(self.clock.time()),
                       extra={"cid": str(held[0].cid), "rkey": uris[0].rsplit("/", 1)[-1]})

    def _get(self, rkey: str) -> Any:
        """The post record at ``rkey`` in the account's repo, or None when there is none."""
        try:
            return self._call(lambda c: c.com.atproto.repo.get_record(
                {"repo": self._did, "collection": POST, "rkey": rkey}))
        except PlatformRejected as exc:
            if exc.code in _NOT_FOUND_ERRORS or exc.status == 404:
                return None
            raise

    def delete(self, receipt: Receipt) -> None:
        """Delete every part, the last first."""
        for uri in reversed(receipt.part_ids or (receipt.remote_id,)):
            self._delete_uri(uri)

    def _delete_uri(self, uri: str) -> None:
        repo, collection, rkey = _split_uri(uri)
        self._call(lambda c: c.com.atproto.repo.delete_record(
            {"repo": repo, "collection": collection, "rkey": rkey}))

    def web_url(self, uri: str) -> str:
        """The bsky.app address of a post's AT URI."""
        repo = _split_uri(uri)[0]
        return _web_url_of(uri, self._handle if repo == self._did and self._handle else repo)

    # -- reading -------------------------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        """Display name, description, avatar and website (else the description's first link)."""
        self._client()
        view = self._call(lambda c: c.app.bsky.actor.get_profile(
            {"actor": self._did or self.options.handle}))
        description = view.description or None
        website = _field(view, "website")  # a newer profile field; older SDKs lack it
        if not website and description:
            match = _WEBSITE.search(description)
            website = match.group(0) if match else None
        return Profile(channel=self.name, account=self.account,
                       display_name=view.display_name or None, handle=view.handle,
                       description=description, website=website, avatar_url=view.avatar,
                       extra={"did": view.did, "followers": view.followers_count,
                              "posts": view.posts_count})

    def update_profile(self, changes: ProfileChanges) -> None:
        """Rewrite the ``app.bsky.actor.profile`` record ``self``: display name, description,
        website and avatar; its other fields are kept, and ``swapRecord`` makes sure nothing
        changed it meanwhile."""
        unknown = [f for f in changes.fields() if f not in self.profile_fields]
        if unknown:
            raise self.error(
                PlatformRejected, f"Bluesky's profile has no {unknown[0]}; add it to the "
                                   "description instead")
        from atproto_client import models

        self._client()
        query = {"repo": self._did, "collection": PROFILE, "rkey": "self"}
        params = models.ComAtprotoRepoGetRecord.Params(**query)
        try:  # read raw: the SDK's model would drop fields it does not know
            held = self._call(lambda c: c.invoke_query("com.atproto.repo.getRecord",
                                                       params=params)).content
        except PlatformRejected as exc:
            if exc.code not in _NOT_FOUND_ERRORS and exc.status != 404:
                raise
            held = {}
        record = dict(_field(held, "value") or {"$type": PROFILE})
        for field, (key, limit) in PROFILE_RECORD.items():
            value = getattr(changes, field)
            if value is None:
                continue
            if limit is not None and len(graphemes(value)) > limit:
                raise self.error(
                    PlatformRejected, f"profile {field}: {len(graphemes(value))} graphemes is "
                    f"over Bluesky's limit of {limit}; shorten it")
            record[key] = value
        if changes.avatar is not None:
            data, mime, _, _ = fit_image(
                self._media_bytes(Media(source=str(changes.avatar), kind=MediaKind.IMAGE), 0),
                field="profile avatar", max_pixels=self.media_rules.max_pixels)
            record["avatar"] = self._upload(data, mime)
        body: dict[str, Any] = {**query, "record": record}
        if _field(held, "cid"):
            body["swapRecord"] = _field(held, "cid")
        content = json.dumps(body).encode()
        self._call(lambda c: c.invoke_procedure(
            "com.atproto.repo.putRecord", content=content,
            headers={"Content-Type": "application/json"}))

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Mentions, replies and quotes (``listNotifications``) since ``since``, oldest
        first; a reply or quote names the brand's post it answers (``parent_id``)."""
        found: list[Mention] = []
        cursor: str | None = None
        for _ in range(20):  # at most 2,000 notifications a call
            page = self._notifications(cursor)
            older = False
            for item in page.notifications:
                when = _parse_time(item.indexed_at)
                if when < since:
                    older = True
                    continue
                if item.reason not in _MENTION_REASONS:
                    continue
                found.append(self._mention(item.uri, item.author.handle, item.record, when,
                                           _MENTION_REASONS[item.reason]))
            cursor = page.cursor
            if older or not cursor:
                break
        return sorted(found, key=lambda m: m.created_at)

    def _mention(self, uri: str, handle: str, record: Any, when: datetime,
                 kind: Literal["mention", "reply", "quote", "search"]) -> Mention:
        reply = _field(record, "reply")
        quoted = _field(_field(record, "embed"), "record")
        parent = _field(_field(reply, "parent"), "uri") if kind == "reply" else \
            _field(quoted, "uri") or _field(_field(quoted, "record"), "uri")
        return Mention(channel=self.name, account=self.account, remote_id=uri, author=handle,
                       text=str(_field(record, "text") or ""), url=_web_url_of(uri, handle),
                       created_at=when, kind=kind,
                       parent_id=str(parent) if parent and kind in ("reply", "quote") else None)

    def stream_did(self) -> str:
        """The account's DID (logging in once), which Jetstream commits are matched against."""
        self._client()
        return self._did

    def jetstream_mention(self, message: Mapping[str, Any], did: str,
                          terms: Mapping[str, Sequence[str]]) -> Mention | None:
        """The item one Jetstream message holds, parsed as ``fetch_mentions`` parses a
        notification: a new post (``kind: commit``, ``operation: create`` in
        ``app.bsky.feed.post``) by someone else that replies to the account's post (``reply``),
        quotes one (``quote``), names its DID in a mention facet (``mention``), or holds a
        term of ``terms`` (query name to terms; ``search``, its ``query`` set). None for
        every other message."""
        commit = message.get("commit")
        author = message.get("did")
        if message.get("kind") != "commit" or not isinstance(commit, Mapping) \
                or not isinstance(author, str) or author == did:
            return None
        record = commit.get("record")
        if commit.get("operation") != "create" or commit.get("collection") != POST \
                or not isinstance(record, Mapping) or not isinstance(commit.get("rkey"), str):
            return None
        uri = f"at://{author}/{POST}/{commit['rkey']}"
        when = _micros(message.get("time_us"))
        mine = f"at://{did}/"
        reply = str(_field(_field(record.get("reply"), "parent"), "uri") or "")
        embed = record.get("embed")
        quoted = str(_field(_field(embed, "record"), "uri") or _field(
            _field(_field(embed, "record"), "record"), "uri") or "")
        kind: Literal["mention", "reply", "quote"] | None = (
            "reply" if reply.startswith(mine) else "quote" if quoted.startswith(mine) else
            "mention" if _mentions(record, did) else None)
        if kind is not None:
            return self._mention(uri, author, record, when, kind)
        text = str(record.get("text") or "").casefold()
        for query, words in sorted(terms.items()):
            if any(w.casefold() in text for w in words):
                return self._mention(uri, author, record, when, "search").model_copy(
                    update={"query": query})
        return None

    def _notifications(self, cursor: str | None) -> Any:
        params: dict[str, Any] = {"limit": 100, "reasons": list(_MENTION_REASONS)}
        if cursor:
            params["cursor"] = cursor
        return self._call(lambda c: c.app.bsky.notification.list_notifications(params))

    def search_mentions(self, terms: Sequence[str], after: str | None, *,
                        limit: int | None = None) -> tuple[list[Mention], str | None]:
        """Posts matching any of ``terms`` (``app.bsky.feed.searchPosts``, newest first,
        one search a term, up to 500 posts each), indexed after ``after`` (the marker this
        returned last time: an ISO time), oldest first; and the new marker. ``limit``: the
        platform does not bill reads, it is only a cap."""
        since = _parse_time(after) if after else None
        found: dict[str, Mention] = {}
        newest = since
        for term in terms:
            cursor: str | None = None
            for _ in range(5):
                params: dict[str, Any] = {"q": term, "sort": "latest", "limit": 100}
                if since is not None:
                    params["since"] = _stamp(int(since.timestamp() * 1000))
                if cursor:
                    params["cursor"] = cursor
                page = self._call(functools.partial(_search_posts, params=params))
                older = False
                for post in page.posts:
                    when = _parse_time(post.indexed_at)
                    if since is not None and when <= since:
                        older = True
                        continue
                    found.setdefault(post.uri, self._mention(
                        post.uri, post.author.handle, post.record, when, "search"))
                    newest = when if newest is None or when > newest else newest
                cursor = page.cursor
                if older or not cursor or not page.posts or (
                        limit is not None and len(found) >= limit):
                    break
        marker = newest.isoformat() if newest is not None else after
        return sorted(found.values(), key=lambda m: m.created_at), marker

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Likes, reposts, replies and quotes of the first part (``getPosts``)."""
        self._client()
        answer = self._call(lambda c: c.app.bsky.feed.get_posts({"uris": [receipt.remote_id]}))
        if not answer.posts:
            raise self.error(
                PlatformRejected,
                "the post is not on Bluesky any more (deleted or taken down)", status=404)
        post = answer.posts[0]
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=_utc(self.clock.time()), likes=post.like_count,
                       reposts=post.repost_count, replies=post.reply_count,
                       extra={"quotes": post.quote_count})

    def fetch_account_metrics(self) -> AccountMetrics:
        """Followers, follows and posts of the account (``app.bsky.actor.getProfile``)."""
        self._client()
        view = self._call(lambda c: c.app.bsky.actor.get_profile(
            {"actor": self._did or self.options.handle}))
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=_utc(self.clock.time()),
                              followers=view.followers_count, following=view.follows_count,
                              posts=view.posts_count)

    # -- errors --------------------------------------------------------------------------------

    def _error(self, exc: BaseException) -> ChannelError:
        """The carecast error for an atproto or httpx exception (not raised: the caller does)."""
        if isinstance(exc, ChannelError):
            return exc
        where: dict[str, Any] = {"channel": self.name, "account": self.account}
        response = getattr(exc, "response", None)
        if response is not None and getattr(response, "status_code", None):
            return self._status_error(response)
        kind = _transport_kind(exc)
        if kind == "connect":
            return ChannelConnectionError("could not connect to Bluesky", **where)
        if kind == "connect-timeout":
            return ChannelTimeout("could not connect to Bluesky in time", **where)
        if type(exc).__name__ == "LoginRequiredError":
            return AuthenticationError(
                f"the Bluesky session ended; check handle and app_password ({APP_PASSWORDS})",
                **where)
        if kind == "read-timeout":
            return OutcomeUnknown(
                "the request was sent but Bluesky did not answer in time; it may have been "
                "stored", **where)
        return OutcomeUnknown(
            f"the request to Bluesky failed in transit ({type(exc).__name__}); it may have "
            "been stored", **where)

    def _status_error(self, response: Any) -> ChannelError:
        """The carecast error for an XRPC error answer: by its ``error`` name, else its
        status through the one mapping."""
        content = response.content
        raw_code = _field(content, "error")  # a string in XRPC; a careless proxy's may not be
        code = raw_code if isinstance(raw_code, str) else None
        reason = str(_field(content, "message") or "")[:200]
        said = f" ({code}: {reason})" if code and reason else (f" ({code})" if code else "")
        cls: type[ChannelError] | None = None
        if code in _AUTH_ERRORS:
            cls = AuthenticationError
        elif code in _DUPLICATE_ERRORS:
            cls = DuplicatePost
        return self.error(cls, response=response, said=said, code=code)


# -- helpers -------------------------------------------------------------------------------------


def _new_client(http: Any, service_url: str) -> Any:
    """An atproto ``Client`` whose requests go through ``http`` (an ``httpx.Client``)."""
    try:
        from atproto_client import Client
        from atproto_client.request import Request
    except ImportError:
        raise ConfigurationError(BlueskyChannel.install_hint("atproto")) from None

    class SharedRequest(Request):  # type: ignore[misc]
        """atproto's request layer over carecast's httpx client."""

        def __init__(self, client: Any) -> None:
            super().__init__()
            self._client.close()  # type: ignore[has-type]  # atproto's own; ``client`` instead
            self.http: Any = client
            self._client = client

        def _new_instance(self) -> Any:
            return type(self)(self.http)

    return Client(base_url=service_url, request=SharedRequest(http))


def fit_image(data: bytes, *, field: str, limit: int = BLOB_LIMIT,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[bytes, str, int, int]:
    """``(bytes, MIME type, width, height)`` of an image within ``limit`` bytes.

    ``limit`` is ``IMAGE_LIMIT`` for a post's images, ``BLOB_LIMIT`` (the default) for a link
    card's thumbnail and an avatar. An image within the limit goes as it is; a larger one is
    turned upright, scaled to at most 2000 pixels a side and re-encoded as JPEG, smaller and
    at lower quality until it fits. An image of more than ``max_pixels`` (``[media]
    max_pixels``) is refused from its header, before it is decoded: a small file can claim a
    huge canvas (a decompression bomb).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    image: Image.Image
    too_big = PlatformRejected(
        f"{field}: the image is over the cap of {max_pixels} pixels (width times height); "
        "use a smaller image or raise [media] max_pixels", channel="bluesky")
    try:
        with warnings.catch_warnings():  # Pillow's own bomb check warns: refuse instead
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
            if image.width * image.height > max_pixels:
                raise too_big
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise too_big from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise PlatformRejected(
            f"{field}: not an image Pillow can read; use a JPEG, PNG or WebP file",
            channel="bluesky") from None
    mime = Image.MIME.get(image.format or "", "image/jpeg")
    if len(data) <= limit and mime in ("image/jpeg", "image/png", "image/webp",
                                       "image/gif"):
        return data, mime, image.width, image.height
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        canvas = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        image = canvas
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    quality = 85
    while True:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= limit:
            return out.getvalue(), "image/jpeg", image.width, image.height
        if quality > 50:
            quality -= 10
        else:
            image.thumbnail((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)))


def _from_transport(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the SDK or its HTTP layer (and so maps to a carecast error)."""
    return isinstance(exc, ChannelError) or type(exc).__module__.split(".")[0] in (
        "atproto", "atproto_client", "atproto_core", "httpx", "httpcore")


def _transport_kind(exc: BaseException) -> str:
    """Classify an httpx failure, unwrapped from atproto's wrapper (its ``__cause__``)."""
    import httpx

    seen = exc
    while not isinstance(seen, httpx.HTTPError) and seen.__cause__ is not None:
        seen = seen.__cause__
    if isinstance(seen, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return "connect-timeout"
    if isinstance(seen, httpx.ConnectError):
        return "connect"
    if isinstance(seen, httpx.TimeoutException):
        return "read-timeout"
    return "other"


def _search_posts(client: Any, params: dict[str, Any]) -> Any:
    return client.app.bsky.feed.search_posts(params)


#: listNotifications reasons that are something said to the account, and their kinds.
_MENTION_REASONS: dict[str, Literal["mention", "reply", "quote"]] = {
    "mention": "mention", "reply": "reply", "quote": "quote"}


def _field(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]``: atproto answers hold models or plain dicts."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _text_option(draft: Draft, name: str) -> str:
    value = draft.options.get(name)
    return value if isinstance(value, str) else ""


def _split_uri(uri: str) -> tuple[str, str, str]:
    """``(repo, collection, rkey)`` of ``at://repo/collection/rkey``."""
    pieces = uri.removeprefix("at://").split("/")
    if len(pieces) != 3 or not uri.startswith("at://"):
        raise PlatformRejected(f"{uri!r} is not the AT URI of a record",
                               channel="bluesky")
    return pieces[0], pieces[1], pieces[2]


def _web_url_of(uri: str, handle: str) -> str:
    return f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}"


def _stamp(millis: int) -> str:
    """An AT Protocol datetime (``2026-09-21T14:13:20.000Z``) of ``millis`` since 1970."""
    return _millis(millis).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _millis(millis: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _mentions(record: Mapping[str, Any], did: str) -> bool:
    """Whether a post record's facets mention ``did``."""
    facets = record.get("facets")
    for facet in facets if isinstance(facets, list) else []:
        features = facet.get("features") if isinstance(facet, Mapping) else None
        for feature in features if isinstance(features, list) else []:
            if isinstance(feature, Mapping) and feature.get("did") == did and \
                    feature.get("$type") == "app.bsky.richtext.facet#mention":
                return True
    return False


def _micros(value: Any) -> datetime:
    """A Jetstream ``time_us`` as a time."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PlatformRejected("a Jetstream message has no time_us", channel="bluesky")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
