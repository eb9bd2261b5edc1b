"""Threads (Meta's Threads API on graph.threads.net): text, images, carousels, reply threads.

A Threads post is made in two steps: create a media container (``POST /{user}/threads`` with
``media_type`` TEXT, IMAGE, VIDEO or CAROUSEL), poll its ``status`` until ``FINISHED``, then
``POST /{user}/threads_publish`` with ``creation_id``. A carousel (2 to 20 images or videos)
is made of item containers (``is_carousel_item=true``) gathered by a CAROUSEL container's
``children``. Text longer than 500 characters becomes a chain of replies (``reply_to_id``),
sent all or nothing by ``channels/thread.py``. Before anything is created,
``/{user}/threads_publishing_limit`` is read, so a used-up quota (250 posts, 1,000 replies in
24 hours) is a ``RateLimited`` and nothing is sent.

Replies and listening: ``reply`` answers a mention or a reply with a TEXT container whose
``reply_to_id`` is the mention's id, published the same way (the ``threads_manage_replies``
permission; 1,000 replies in 24 hours); ``search_mentions`` reads ``GET /keyword_search``
(``q``, ``search_type=RECENT``, ``since``/``until``; the ``threads_keyword_search``
permission; 2,200 queries in 24 hours).

The Threads API is the Graph API on another host: the same client (``channels/graph.py``),
the token in a header, errors mapped by Graph's ``code`` and ``error_subcode``. Threads
fetches media by public URL, so a local file needs a media host (``media_host_path`` and
``media_host_url``), as for Instagram.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from carecast.channels.blog import folder_url, hosted_url
from carecast.channels.graph import GraphChannel, GraphOptions, graph_time, insight_values
from carecast.channels.thread import send_thread
from carecast.errors import (
    ChannelError,
    ChannelTimeout,
    ConfigurationError,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Draft, Media, MediaKind, Mention, Metrics, Part, Post, Profile, Receipt

__all__ = ["THREADS_URL", "ThreadsChannel", "ThreadsOptions", "threads_length"]

THREADS_URL = "https://graph.threads.net"
MB = 1024 * 1024
#: Links (unique URLs) one post may hold; more fail at container creation
#: (``THREADS_API__LINK_LIMIT_EXCEEDED``).
MAX_LINKS = 5
#: A used-up quota frees one slot at a time (a moving 24-hour window): look again in an hour.
QUOTA_WAIT = 3600.0
#: The earliest ``since`` the Threads API takes (5 July 2023, its launch).
EARLIEST_SINCE = 1688540400
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_POST_FIELDS = "id,text,permalink,timestamp"
_MENTION_FIELDS = "id,text,username,timestamp,permalink"
_MEDIA_ID = re.compile(r"^\d{1,32}$")
#: What one keyword search reads at most (the endpoint's ``limit``: 1 to 100), and its pages.
SEARCH_PAGE = 100
SEARCH_PAGES = 10
#: carecast's cap on one search term (a brand name, a misspelling, a service line).
MAX_TERM = 200
#: What each container ``error_message`` means, for the user (Threads' troubleshooting list).
CONTAINER_ERRORS = {
    "FAILED_DOWNLOADING_VIDEO": "Threads could not download the video from its URL",
    "FAILED_PROCESSING_AUDIO": "the video's audio could not be processed (use AAC, 48 kHz "
                               "at most)",
    "FAILED_PROCESSING_VIDEO": "the video could not be processed (use MOV or MP4, H.264 or "
                               "HEVC)",
    "INVALID_ASPEC_RATIO": "the aspect ratio is outside 0.01:1 to 10:1",
    "INVALID_BIT_RATE": "the video's bit rate is over 100 Mbps",
    "INVALID_DURATION": "the video is longer than 5 minutes",
    "INVALID_FRAME_RATE": "the frame rate is outside 23 to 60 FPS",
    "INVALID_AUDIO_CHANNELS": "the audio must be mono or stereo",
    "INVALID_AUDIO_CHANNEL_LAYOUT": "the audio channel layout is not supported",
    "UNKNOWN": "Threads gave no reason",
}


def threads_length(text: str) -> int:
    """The length of ``text`` as Threads counts it: one per character, except that an emoji
    counts its UTF-8 bytes (Meta's posts documentation: "Emojis are counted as the number of
    UTF-8 bytes"), every character of its grapheme: a skin tone, a joiner, a selector.

    An emoji is a grapheme holding an ``Extended_Pictographic`` character, a regional
    indicator (two make a flag) or a keycap mark. Graphemes are Unicode's extended grapheme
    clusters, as the ``regex`` library's ``\\X`` finds them (Python's ``re`` has none); text
    with no character that makes an emoji, most text, is counted without them.
    """
    if text.isascii():  # no emoji: every character counts one
        return len(text)
    marks, graphemes = _emoji_tables()
    if marks.isdisjoint(text):  # no character that makes an emoji: most text ends here
        return len(text)
    return sum(len(g.encode("utf-8")) if not marks.isdisjoint(g) else len(g)
               for g in graphemes.findall(text))


@functools.cache
def _emoji_tables() -> tuple[frozenset[str], Any]:
    """The characters that make an emoji, and the ``regex`` pattern of one grapheme, built
    once from ``regex``'s Unicode properties."""
    try:
        import regex  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigurationError(ThreadsChannel.install_hint("regex")) from None
    pictographic = regex.compile(r"\p{Extended_Pictographic}")
    # every character where Unicode puts these (no surrogates), scanned once
    every = "".join(chr(p) for block in (range(0x80, 0xD800), range(0xE000, 0x20000),
                                         range(0xE0000, 0xE1000)) for p in block)
    points = [ord(c) for c in pictographic.findall(every)]
    flags = [*range(0x1F1E6, 0x1F200)]  # regional indicators: two make a flag
    return frozenset(map(chr, [*points, *flags, 0x20E3])), regex.compile(r"\X")


class ThreadsOptions(GraphOptions):
    """Settings of a Threads profile."""

    access_token: SecretStr = Field(
        description="A long-lived Threads user access token (60 days).")
    graph_version: str = Field(default="v1.0", pattern=r"^v\d{1,3}\.\d$",
                               description="The Threads API version, such as v1.0.")
    user_id: str = Field(default="me", pattern=r"^(me|\d{1,32})$",
                         description="The Threads user id, or 'me' for the token's user.")
    media_host_path: str | None = Field(
        default=None, description="A folder served on the web; local media are copied here.")
    media_host_url: str | None = Field(
        default=None, description="The public http(s) URL of media_host_path.")
    poll_interval: float = Field(default=10.0, gt=0, le=60, description=(
        "Seconds between container status checks; Meta recommends once a minute for "
        "video, and about 30 seconds before publishing."))
    poll_timeout: float = Field(default=300.0, gt=0, le=3600,
                                description="Seconds to wait for Threads to process media.")
    reply_control: str | None = Field(
        default=None, pattern=r"^(everyone|accounts_you_follow|mentioned_only|"
        r"parent_post_author_only|followers_only)$",
        description="Who may reply to the account's posts; the profile's default if unset.")

    @field_validator("media_host_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return folder_url(value)


class ThreadsChannel(GraphChannel):
    """Publish text, images, videos, carousels and reply threads to a Threads profile."""

    name: ClassVar[str] = "threads"
    title: ClassVar[str] = "Threads"
    Options = ThreadsOptions
    max_text: ClassVar[int | None] = 500
    #: Characters, except that an emoji counts its UTF-8 bytes (``threads_length``).
    text_unit: ClassVar[str] = "weighted"
    max_media = 20
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    max_media_bytes = {MediaKind.IMAGE: 8 * MB, MediaKind.VIDEO: 1024 * MB}
    supports_threads = True
    #: Each post is at least two calls (container, publish) and a status poll.
    per_account: ClassVar[int] = 2
    per_host: ClassVar[int] = 16
    api_host: ClassVar[str | None] = "graph.threads.net"
    extra: ClassVar[str | None] = "threads"
    packages: ClassVar[tuple[str, ...]] = ("regex",)
    notes: ClassVar[tuple[str, ...]] = (
        "Threads fetches media by public URL: local files need media_host_path and "
        "media_host_url.",
        "A profile may publish 250 posts and 1,000 replies through the API in 24 hours, and "
        "delete 100 posts a day.",
        "Deleting needs the threads_delete permission; replies and mentions need "
        "threads_read_replies and threads_manage_mentions; answering them needs "
        "threads_manage_replies; keyword searches need threads_keyword_search (2,200 "
        "queries in 24 hours); metrics need threads_manage_insights.",
    )
    graph_url: ClassVar[str] = THREADS_URL
    credential_kind: ClassVar[str] = "long-lived Threads user access token"
    options: ThreadsOptions

    # -- render ------------------------------------------------------------------------------

    def count(self, text: str) -> int:
        """Characters, each emoji as its UTF-8 bytes (see ``threads_length``)."""
        return threads_length(text)

    def render(self, post: Post) -> Draft:
        """The base draft (long text split into replies), with Threads' own limits."""
        draft = super().render(post)
        resolved = self.override_of(post)
        where = f"{resolved.where}." if resolved.given is not None else ""
        media = draft.parts[0].media
        given = resolved.given
        # the parts split from the text come first, then one per thread entry
        body_parts = len(draft.parts) - (len(post.thread) if given is None or given.text is None
                                         else 0)
        for i, part in enumerate(draft.parts):
            links = {m.group(0).rstrip(".,;:!?)") for m in _URL.finditer(part.text)}
            if len(links) > MAX_LINKS:
                field = f"{where}text" if i < body_parts else f"thread[{i - body_parts}]"
                raise LimitExceeded(
                    f"{field}: {len(links)} links is over Threads' limit of {MAX_LINKS} per "
                    "post; remove some or move them to a reply",
                    field=field, limit=MAX_LINKS, value=len(links))
        local = [i for i, m in enumerate(media) if not m.is_url]
        if local and not (self.options.media_host_path and self.options.media_host_url):
            field = f"media[{local[0]}].source"
            raise InvalidPost(
                f"{field}: Threads fetches media by public URL, so a local file needs a media "
                f"host: set media_host_path (a folder served on the web) and media_host_url "
                f"(its public URL) in [accounts.{self.account}], or give the media as an "
                "https URL",
                [(field, "local file without media_host_path and media_host_url")])
        return draft

    # -- publish -----------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        self._check_quota(replies=len(draft.parts) - 1)
        ids = send_thread(draft.parts, self._send_part, undo=self._delete_one)
        info: dict[str, Any] = {}
        with suppress(ChannelError):  # published already: a failed read must not hide that
            info = self.graph.get(ids[0], fields="permalink,timestamp")
        receipt = self._receipt(draft, ids[0], url=info.get("permalink"),
                                published_at=graph_time(info.get("timestamp")))
        return receipt.model_copy(update={"part_ids": tuple(ids)})

    def _check_quota(self, *, replies: int, posts: int = 1) -> None:
        body = self.graph.get(f"{self.options.user_id}/threads_publishing_limit",
                              fields="quota_usage,config,reply_quota_usage,reply_config")
        data = (body.get("data") or [{}])[0]
        checks = [("quota_usage", "config", posts, "posts")] if posts else []
        if replies:
            checks.append(("reply_quota_usage", "reply_config", replies, "replies"))
        for used_key, config_key, needed, what in checks:
            config = data.get(config_key) or {}
            used, total = data.get(used_key), config.get("quota_total")
            if isinstance(used, int) and isinstance(total, int) and used + needed > total:
                hours = float(config.get("quota_duration") or 86400) / 3600
                raise self.error(
                    RateLimited,
                    f"Threads' publishing limit leaves no room ({used} of {total} {what} in "
                    f"{hours:g} hours, {needed} needed); nothing was sent. A slot frees as the "
                    "oldest of those leaves the window: run 'carecast retry' later",
                    retry_after=QUOTA_WAIT)

    def _send_part(self, index: int, part: Part, reply_to: str | None) -> str:
        """Create, wait for and publish one part's container; its media id."""
        common: dict[str, Any] = {"text": part.text or None, "reply_to_id": reply_to}
        if index == 0 and self.options.reply_control:
            common["reply_control"] = self.options.reply_control
        if len(part.media) > 1:
            children = [self._container(item, carousel_item=True) for item in part.media]
            for child in children:
                self._wait(child)
            container = self._create({**common, "media_type": "CAROUSEL",
                                      "children": ",".join(children)})
        elif part.media:
            container = self._container(part.media[0], extra=common)
        else:
            container = self._create({**common, "media_type": "TEXT"})
        self._wait(container)
        return self._publish(container)

    def _publish(self, container: str) -> str:
        """``threads_publish`` of a processed container; the media id."""
        return str(self.graph.post(f"{self.options.user_id}/threads_publish",
                                   {"creation_id": container})["id"])

    def _container(self, item: Media, *, carousel_item: bool = False,
                   extra: dict[str, Any] | None = None) -> str:
        url = self._public_url(item)
        data: dict[str, Any] = dict(extra or {})
        if carousel_item:
            data["is_carousel_item"] = "true"
        if item.kind is MediaKind.VIDEO:
            data.update(media_type="VIDEO", video_url=url)
        else:
            data.update(media_type="IMAGE", image_url=url)
        if item.alt_text:
            data["alt_text"] = item.alt_text[:1000]
        return self._create(data)

    def _create(self, data: dict[str, Any]) -> str:
        fields = {k: v for k, v in data.items() if v is not None}
        return str(self.graph.post(f"{self.options.user_id}/threads", fields)["id"])

    def _wait(self, container: str) -> None:
        """Poll the container until Threads has processed it (``FINISHED``)."""
        polls = max(1, math.ceil(self.options.poll_timeout / self.options.poll_interval))
        for poll in range(polls):
            state = self.graph.get(container, fields="status,error_message")
            status = state.get("status")
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                code = str(state.get("error_message") or "UNKNOWN")
                reason = CONTAINER_ERRORS.get(code, code[:100])
                what = ("the container expired (not published within 24 hours); a retry "
                        "makes a new one" if status == "EXPIRED" else reason)
                raise self.error(PlatformRejected,
                                 f"Threads could not use the post (container {status}: "
                                 f"{code}): {what}; nothing was published",
                                 code=code, retryable=status == "EXPIRED")
            if poll < polls - 1:
                self.clock.sleep(self.options.poll_interval)
        raise self.error(ChannelTimeout,   # nothing was published: a retry needs no lookup first
                         f"Threads was still processing the media after "
                         f"{self.options.poll_timeout:g} seconds; nothing was published")

    def _public_url(self, item: Media) -> str:
        """The URL Threads fetches: the media's own, or its copy in the media host."""
        return hosted_url(self, item, self.options.media_host_path, self.options.media_host_url)

    def _delete_one(self, remote_id: str) -> None:
        self.graph.delete(remote_id)

    # -- reconcile, delete, read -------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The profile's recent post whose text is the draft's first part, and its chain of
        the account's own replies for the other parts.

        Threads keeps no hidden key, so the match is by exact text among the posts made since
        the send. A chain found only in part raises a non-retryable ``OutcomeUnknown``: a
        person decides whether to delete the live parts or finish the thread by hand.
        """
        found = self._find(draft, f"{self.options.user_id}/threads", "text", "timestamp",
                           _POST_FIELDS)
        if found is None:
            return None
        ids = [str(found["id"])]
        for part in draft.parts[1:]:
            reply = next((r for r in self.graph.pages(
                f"{ids[-1]}/replies", limit=self.options.lookup_limit,
                fields="id,text,timestamp,is_reply_owned_by_me")
                if r.get("is_reply_owned_by_me") and r.get("text") == part.text), None)
            if reply is None:
                raise self.error(
                    OutcomeUnknown,
                    f"{len(ids)} of the thread's {len(draft.parts)} parts are live (first id "
                    f"{ids[0]}); delete them on Threads, then run 'carecast retry'",
                    retryable=False, next_step_given=True)
            ids.append(str(reply["id"]))
        receipt = self._receipt(draft, ids[0], url=found.get("permalink"),
                                published_at=graph_time(found.get("timestamp")),
                                reconciled=True)
        return receipt.model_copy(update={"part_ids": tuple(ids)})

    def delete(self, receipt: Receipt) -> None:
        """Delete every part, the last reply first (``DELETE /{media-id}``)."""
        for remote_id in reversed(receipt.part_ids or (receipt.remote_id,)):
            self.graph.delete(remote_id)

    def fetch_profile(self) -> Profile:
        user = self.graph.get(self.options.user_id, fields=(
            "id,username,name,threads_profile_picture_url,threads_biography,is_verified"))
        handle = user.get("username")
        extra: dict[str, Any] = {"url": f"https://www.threads.com/@{handle}"} if handle else {}
        if "is_verified" in user:
            extra["is_verified"] = user["is_verified"]
        return Profile(channel=self.name, account=self.account,
                       display_name=user.get("name") or handle, handle=handle,
                       description=user.get("threads_biography"),
                       avatar_url=user.get("threads_profile_picture_url"), extra=extra)

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Posts that mention the profile, and replies to its recent posts, since ``since``."""
        user, limit = self.options.user_id, self.options.lookup_limit
        fields = _MENTION_FIELDS
        after = max(int(since.timestamp()), EARLIEST_SINCE)
        found: list[Mention] = []
        for item in self.graph.pages(f"{user}/mentions", limit=limit, fields=fields,
                                     since=after):
            found.extend(self._mention(item, "mention", since))
        for post in self.graph.pages(f"{user}/threads", limit=limit, fields="id,timestamp",
                                     since=after):
            for item in self.graph.pages(f"{post['id']}/replies", limit=limit,
                                         fields=f"{fields},is_reply_owned_by_me"):
                if not item.get("is_reply_owned_by_me"):
                    found.extend(self._mention(item, "reply", since))
        return sorted(found, key=lambda m: m.created_at)

    def _mention(self, item: dict[str, Any], kind: Literal["mention", "reply", "search"],
                 since: datetime | None) -> list[Mention]:
        when = graph_time(item.get("timestamp"))
        if when is None or (since is not None and when <= since) or not item.get("id"):
            return []
        return [Mention(channel=self.name, account=self.account, remote_id=str(item["id"]),
                        author=str(item.get("username") or "unknown"),
                        text=str(item.get("text") or ""), url=item.get("permalink"),
                        created_at=when, kind=kind)]

    # -- replies and search ------------------------------------------------------------------

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A TEXT container with ``reply_to_id`` (the mention's id), waited for and published
        (``threads_publish``), after the reply quota is checked; the token needs
        ``threads_manage_replies``. Threads takes no key: an unknown outcome is reconciled
        by ``lookup_reply`` before any resend."""
        parent = self._media_id(mention)
        try:
            self._check_quota(replies=1, posts=0)
            container = self._create({"media_type": "TEXT", "text": draft.text,
                                      "reply_to_id": parent})
            self._wait(container)
            media_id = self._publish(container)
        except PermissionDenied as exc:
            raise self._needs(exc, "threads_manage_replies permission (with "
                              "threads_content_publish; a post outside the profile's own "
                              "threads also needs threads_manage_mentions or "
                              "threads_keyword_search)", "answer posts") from None
        except ChannelError as exc:
            raise self.withheld(exc, mention.text, mention.author) from None
        info: dict[str, Any] = {}
        with suppress(ChannelError):  # published already: a failed read must not hide that
            info = self.graph.get(media_id, fields="permalink,timestamp")
        return self._receipt(draft, media_id, url=info.get("permalink"),
                             published_at=graph_time(info.get("timestamp")), kind="reply",
                             parent=parent, key=self.reply_key(draft, key))

    def lookup_reply(self, mention: Mention, draft: Draft, key: str) -> Receipt | None:
        """The profile's reply (``/{user}/replies``) to the mention with the draft's words,
        made since the send."""
        parent = self._media_id(mention)
        found = self._find(draft, f"{self.options.user_id}/replies", "text", "timestamp",
                           "id,text,permalink,timestamp,replied_to")
        replied = found.get("replied_to") if found else None
        if found is None or (isinstance(replied, dict) and str(replied.get("id")) != parent):
            return None
        return self._receipt(draft, str(found["id"]), url=found.get("permalink"),
                             published_at=graph_time(found.get("timestamp")),
                             reconciled=True, kind="reply", parent=parent)

    def search_mentions(self, terms: Sequence[str], after: str | None, *,
                        limit: int | None = None) -> tuple[list[Mention], str | None]:
        """Public posts holding a term (``GET /keyword_search``, ``search_type=RECENT``, one
        query a term, ``since`` the marker, up to 1,000 posts a term), oldest first; the
        marker is the newest post's time. Without ``threads_keyword_search`` approved,
        Threads searches only the profile's own posts."""
        cap = limit if limit is not None else SEARCH_PAGE * SEARCH_PAGES * len(terms)
        start = _marker_time(after)
        since = max(int(start.timestamp()), EARLIEST_SINCE) if start else EARLIEST_SINCE
        queries = [" ".join(term.split()) for term in terms]
        for q in queries:  # all checked before any is sent
            if not q or len(q) > MAX_TERM:
                raise self.error(
                    PlatformRejected,
                    f"listen query terms: a Threads search term takes 1 to {MAX_TERM} "
                    f"characters and one has {len(q)}; shorten it in [listen.queries]; "
                    "nothing was searched")
        found: dict[str, Mention] = {}
        for q in queries:
            if len(found) >= cap:
                break
            try:
                items = list(self.graph.pages(
                    "keyword_search", limit=min(cap - len(found), SEARCH_PAGE * SEARCH_PAGES),
                    q=q, search_type="RECENT", fields=_MENTION_FIELDS, since=since,
                    until=int(self.clock.time())))
            except PermissionDenied as exc:
                raise self._needs(exc, "threads_keyword_search permission",
                                  "search public posts") from None
            for item in items:
                for mention in self._mention(item, "search", start):
                    found.setdefault(mention.remote_id, mention)
        ordered = sorted(found.values(), key=lambda m: m.created_at)
        return ordered, ordered[-1].created_at.isoformat() if ordered else after

    def _media_id(self, mention: Mention) -> str:
        if not _MEDIA_ID.match(mention.remote_id):
            raise InvalidPost(
                f"mention.remote_id: {mention.remote_id[:120]!r} is not a Threads media id "
                "(digits); reply to an item carecast listen collected for account "
                f"{self.account!r}", [("mention.remote_id", "not a Threads media id")])
        return mention.remote_id

    def _needs(self, exc: PermissionDenied, permission: str, what: str) -> PermissionDenied:
        """``exc`` saying which permission the call needs (its status and ids kept)."""
        named = exc.replace()
        named.args = (f"the Threads token may not {what} (Graph code {exc.code or '?'}): the "
                      f"app needs the {permission}, granted through Meta's App Review, "
                      "and a new token issued with it",)
        return named

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Views, likes, replies, reposts, quotes and shares (the post's insights)."""
        values = insight_values(self.graph.get(
            f"{receipt.remote_id}/insights", metric="views,likes,replies,reposts,quotes,shares"))
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), likes=values.get("likes"),
                       replies=values.get("replies"), reposts=values.get("reposts"),
                       impressions=values.get("views"),
                       extra={k: values[k] for k in ("quotes", "shares") if k in values})


def _marker_time(marker: str | None) -> datetime | None:
    """The time a search marker names (an ISO timestamp), aware; None for none."""
    if not marker:
        return None
    try:
        when = datetime.fromisoformat(marker)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
