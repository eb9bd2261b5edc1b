"""Facebook Page: text and link posts, photos, multi-photo posts, videos, scheduled posts.

A thin client on the Graph API (``carecast.channels.graph``), not facebook-sdk: that 2018
package rejects every current Graph version and hides HTTP status and headers.

- text and link: ``POST /{page-id}/feed`` with ``message`` and ``link``;
- one photo: ``POST /{page-id}/photos`` (``url`` or an uploaded ``source``, ``caption``,
  ``alt_text_custom``);
- several photos: each uploaded with ``published=false``, then one ``/feed`` post with
  ``attached_media``;
- a video: ``POST /{page-id}/videos`` on graph-video.facebook.com; a file larger than
  ``resumable_above`` bytes goes up through Meta's Resumable Upload API first (``POST
  /{app-id}/uploads`` opens a session, ``POST /upload:{session}`` with a ``file_offset``
  header sends the bytes, ``GET /upload:{session}`` says where an interrupted one stopped),
  and the page's video is made from the returned file handle
  (``fbuploader_video_file_chunk``); the session is kept in ``upload_sessions`` so any process
  resumes it at Meta's offset;
- a scheduled post: ``published=false`` and ``scheduled_publish_time``, 10 minutes to 30 days
  ahead (Facebook's window, checked before anything is sent).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, BinaryIO, ClassVar

from pydantic import Field, SecretStr

from carecast.channels.graph import GraphChannel, GraphOptions, graph_time
from carecast.channels.media import media_file
from carecast.errors import (
    ChannelConnectionError,
    ChannelError,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PlatformRejected,
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

__all__ = ["FacebookChannel", "FacebookOptions"]

MB = 1024 * 1024
SCHEDULE_MIN = timedelta(minutes=10)
SCHEDULE_MAX = timedelta(days=30)
_PATH_SAFE = r"^[A-Za-z0-9._-]+$"
_POST_FIELDS = "id,message,created_time,permalink_url"
_COMMENT_FIELDS = "id,message,from,created_time,permalink_url"
#: The Page field of each profile change, and its limit (``about``: 100, Graph API Page).
PROFILE_PARAMS: dict[str, tuple[str, int | None]] = {
    "description": ("about", 100), "website": ("website", None), "phone": ("phone", None)}


class FacebookOptions(GraphOptions):
    """Settings of a Facebook Page account."""

    page_id: str = Field(pattern=_PATH_SAFE, description="The Page's numeric id.")
    resumable_above: int = Field(
        default=50 * MB, ge=1, description="Videos larger than this (bytes) upload in chunks.")
    upload_timeout: float = Field(default=300.0, gt=0, le=3600,
                                  description="Seconds to wait for one upload request.")
    transfer_retries: int = Field(default=3, ge=0, le=20,
                                  description="Resumes of an interrupted video transfer.")
    app_id: str | None = Field(
        default=None, pattern=r"^\d+$", description="The Meta app's id: videos over "
        "resumable_above go up through its Resumable Upload API (/{app-id}/uploads).")
    upload_access_token: SecretStr | None = Field(
        default=None, description="The User access token the Resumable Upload API takes (a "
        "person with a role on the app); default: access_token.")


class FacebookChannel(GraphChannel):
    """Publish to a Facebook Page with a Page access token."""

    name: ClassVar[str] = "facebook"
    title: ClassVar[str] = "Facebook Page"
    Options = FacebookOptions
    max_text: ClassVar[int | None] = 63206
    #: A comment's limit (Graph API).
    max_reply_text = 8000
    max_media = 10
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO})
    max_media_bytes = {MediaKind.IMAGE: 10 * MB, MediaKind.GIF: 10 * MB,
                       MediaKind.VIDEO: 10 * 1024 * MB}
    supports_scheduling = True
    #: The Graph API budgets calls per app (200 per user per hour) across every Page.
    per_account: ClassVar[int] = 4
    per_host: ClassVar[int] = 32
    rate_limits_by: ClassVar[str] = "host"
    #: What ``update_profile`` changes; a Page's name and picture change only by hand.
    profile_fields: ClassVar[frozenset[str]] = frozenset(PROFILE_PARAMS)
    options: FacebookOptions

    # -- render ------------------------------------------------------------------------------

    def render(self, post: Post) -> Draft:
        """The base draft; a post with only a title uses it as its text; a video goes alone."""
        draft = super().render(post)
        first = draft.parts[0]
        if not first.text.strip() and draft.title:
            self.check_length("title", draft.title)
            first = Part(text=draft.title, media=first.media, length=self.count(draft.title),
                         limit=self.max_text)
            draft = draft.model_copy(update={"parts": (first,)})
        kinds = [m.kind for m in draft.media]
        if MediaKind.VIDEO in kinds and len(kinds) > 1:
            raise LimitExceeded(
                "media: a Facebook video post holds that one video only; post the photos "
                "separately or give overrides.facebook.media",
                field="media", limit="one video alone", value=len(kinds))
        video = draft.media[0] if kinds == [MediaKind.VIDEO] else None
        if video is not None and not video.is_url and self.options.app_id is None:
            size = video.path(self.root).stat().st_size  # check_media read it already
            if size > self.options.resumable_above:
                raise InvalidPost(
                    f"media[0]: {size} bytes is over resumable_above "
                    f"({self.options.resumable_above}), and Facebook takes a video that large "
                    "through Meta's Resumable Upload API, which needs the app's id: set "
                    f"accounts.{self.account}.app_id (and upload_access_token, a User access "
                    "token of a person with a role on the app)", [("media[0]", "needs app_id")])
        return draft

    # -- publish -----------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        when = self._schedule(draft)
        page = self.options.page_id
        media = draft.media
        if media and media[0].kind is MediaKind.VIDEO:
            video_id = self._video(media[0], draft, when, key)
            return self._receipt(draft, video_id, kind="video", scheduled=_iso(draft, when),
                                 url=f"https://www.facebook.com/{page}/videos/{video_id}")
        if len(media) == 1:
            answer = self._photo(media[0], caption=draft.text, extra=when)
            post_id = str(answer.get("post_id") or answer["id"])
            return self._receipt(draft, post_id, url=_post_url(post_id),
                                 scheduled=_iso(draft, when), photo_id=str(answer["id"]))
        data: dict[str, Any] = {"message": draft.text, **when} if draft.text else dict(when)
        if draft.link and not media:
            data["link"] = draft.link
        hidden = {"published": "false", **({"temporary": "true"} if when else {})}
        for i, item in enumerate(media):
            photo = self._photo(item, caption=None, extra=hidden)
            data[f"attached_media[{i}]"] = json.dumps({"media_fbid": str(photo["id"])})
        post_id = str(self.graph.post(f"{page}/feed", data)["id"])
        return self._receipt(draft, post_id, url=_post_url(post_id),
                             scheduled=_iso(draft, when))

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A comment on the mention (``POST /{comment-id}/comments``, or on a post that tags
        the Page, ``/{post-id}/comments``) with the reply's ``message``, as the Page."""
        answer = self.graph.post(f"{mention.remote_id}/comments", {"message": draft.text})
        return self._receipt(draft, str(answer["id"]), url=mention.url, kind="comment",
                             parent=mention.remote_id)

    def _schedule(self, draft: Draft) -> dict[str, str]:
        """The scheduling fields for the draft's time; empty when it is due now."""
        if draft.schedule is None:
            return {}
        ahead = draft.schedule - self.clock.now()
        if ahead <= timedelta(0):
            return {}
        if not SCHEDULE_MIN <= ahead <= SCHEDULE_MAX:
            minutes = int(ahead.total_seconds() // 60)
            raise self.error(
                PlatformRejected,
                f"schedule: Facebook schedules posts 10 minutes to 30 days ahead and this one "
                f"is {minutes} minutes ahead; nothing was sent. Move the time, or run "
                "'carecast retry' once it has come to publish it then")
        return {"published": "false",
                "scheduled_publish_time": str(int(draft.schedule.timestamp()))}

    def _photo(self, item: Media, *, caption: str | None,
               extra: dict[str, str]) -> dict[str, Any]:
        data: dict[str, Any] = dict(extra)
        if caption:
            data["caption"] = caption
        if item.alt_text:
            data["alt_text_custom"] = item.alt_text
        edge = f"{self.options.page_id}/photos"
        if item.is_url:
            return self.graph.post(edge, {**data, "url": item.source})
        with self._file(item) as (f, _):
            return self.graph.post(edge, data, files={"source": (item.filename, f,
                                                                 item.mime_type)},
                                   timeout=self.options.upload_timeout)

    def _video(self, item: Media, draft: Draft, when: dict[str, str], key: str) -> str:
        meta = {k: v for k, v in {"description": draft.text, "title": draft.title,
                                  **when}.items() if v}
        edge = f"{self.options.page_id}/videos"
        if item.is_url:
            return str(self.graph.post(edge, {**meta, "file_url": item.source}, video=True)["id"])
        with self._file(item) as (f, size):
            if size <= self.options.resumable_above:
                answer = self.graph.post(edge, meta, video=True,
                                         files={"source": (item.filename, f, item.mime_type)},
                                         timeout=self.options.upload_timeout)
                return str(answer["id"])
            handle = self._upload(f, size, item, key)
        try:
            answer = self.graph.post(edge, {**meta, "fbuploader_video_file_chunk": handle},
                                     video=True)
        except ChannelError as exc:
            if not exc.retryable:
                self._forget_session(key)
            raise
        self._forget_session(key)
        return str(answer["id"])

    def _upload(self, f: BinaryIO, size: int, item: Media, key: str) -> str:
        """Send the file through the Resumable Upload API; its file handle.

        A session kept for ``key`` (by this process or another) is resumed at the offset Meta
        reports; an interrupted send asks again and sends the rest."""
        assert self.options.app_id is not None  # render refuses a large video without it
        kept = self.upload_sessions.get(key)
        session, _, done = (kept or "").partition("\n")
        if done:  # uploaded before the page's video was made: its handle serves again
            return done
        if not session:
            started = self.graph.request("POST", f"{self.options.app_id}/uploads", data={
                "file_name": item.filename, "file_length": str(size),
                "file_type": item.mime_type}, token=self._upload_token)
            session = str(started["id"])
            if not session.startswith("upload:"):
                raise self.error(PlatformRejected, "Meta opened no upload session (its answer "
                                 "holds no upload: id); nothing was sent")
            self.upload_sessions.put(key, session)
            offset = 0
        else:
            offset = self._offset(session)
        tries = 0
        while True:
            f.seek(offset)
            try:
                answer = self.graph.request(
                    "POST", session, content=f, headers={"file_offset": str(offset)},
                    token=self._upload_token, scheme="OAuth",
                    timeout=self.options.upload_timeout)
            except ChannelError as exc:
                tries += 1
                resumable = exc.may_have_been_sent or isinstance(exc, ChannelConnectionError)
                if not exc.retryable and not exc.may_have_been_sent:
                    self._forget_session(key)  # refused: no attempt will resume it
                if tries > self.options.transfer_retries or not resumable:
                    raise
                offset = self._offset(session)  # where Meta stands, then the rest
                continue
            handle = answer.get("h")
            if not isinstance(handle, str) or not handle:
                raise self.error(OutcomeUnknown, "Meta took the upload but gave no file handle; "
                                 "run 'carecast retry' (it resumes the same session)",
                                 next_step_given=True)
            # a retry of the video step reuses it
            self.upload_sessions.put(key, f"{session}\n{handle}")
            return handle

    def _offset(self, session: str) -> int:
        """How many bytes of the upload Meta holds (``GET /upload:{session}``)."""
        answer = self.graph.request("GET", session, token=self._upload_token, scheme="OAuth")
        try:
            return int(answer["file_offset"])
        except (KeyError, TypeError, ValueError):
            raise self.error(OutcomeUnknown, "Meta did not say how much of the upload it "
                             "holds; run 'carecast retry' to ask again",
                             next_step_given=True) from None

    @property
    def _upload_token(self) -> SecretStr:
        return self.options.upload_access_token or self.options.access_token

    def _forget_session(self, key: str) -> None:
        self.upload_sessions.drop(key)

    def _file(self, item: Media) -> AbstractContextManager[tuple[BinaryIO, int]]:
        """A local media file, open, and its size."""
        return media_file(item, root=self.root, channel=self.name, account=self.account,
                          rules=self.media_rules,
                          cap=self.max_media_bytes.get(item.kind or MediaKind.IMAGE))

    # -- reconcile, delete, read -------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The Page's recent (or scheduled) post whose message is the draft's text.

        Facebook keeps no key with a post, and a marker in the message would show: the match
        is by exact text among the posts made since the send (paged back to its time).
        """
        page = self.options.page_id
        edges = [f"{page}/posts"] + ([f"{page}/scheduled_posts"] if draft.schedule else [])
        for edge in edges:
            found = self._find(draft, edge, "message", "created_time", _POST_FIELDS)
            if found is not None:
                post_id = str(found["id"])
                return self._receipt(draft, post_id, reconciled=True,
                                     url=found.get("permalink_url") or _post_url(post_id),
                                     published_at=graph_time(found.get("created_time")))
        return None

    def fetch_profile(self) -> Profile:
        page = self.graph.get(self.options.page_id, fields=(
            "name,username,about,description,website,phone,single_line_address,link,"
            "category,picture.type(large)"))
        picture = page.get("picture", {}).get("data", {}) if isinstance(
            page.get("picture"), dict) else {}
        return Profile(channel=self.name, account=self.account, display_name=page.get("name"),
                       handle=page.get("username"),
                       description=page.get("about") or page.get("description"),
                       website=page.get("website"), avatar_url=picture.get("url"),
                       location=page.get("single_line_address"), phone=page.get("phone"),
                       extra={k: page[k] for k in ("link", "category", "description")
                              if page.get(k)})

    def update_profile(self, changes: ProfileChanges) -> None:
        """``POST /{page-id}`` with ``about``, ``website`` and ``phone`` (the Page token needs
        ``pages_manage_metadata``)."""
        unknown = [f for f in changes.fields() if f not in self.profile_fields]
        if unknown:
            raise self.error(
                PlatformRejected,
                f"the Graph API cannot change a Page's {unknown[0]}; change it by hand in the "
                "Page's settings")
        data: dict[str, str] = {}
        for field, (param, limit) in PROFILE_PARAMS.items():
            value = getattr(changes, field)
            if value is None:
                continue
            if limit is not None and len(value) > limit:
                raise self.error(
                    PlatformRejected,
                    f"profile {field}: {len(value)} characters is over Facebook's limit of "
                    f"{limit} for a Page's {param}; shorten it")
            data[param] = value
        if data:
            self.graph.post(self.options.page_id, data)

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Posts that tag the Page, and comments on its recent posts (each naming its post,
        ``parent_id``), since ``since``."""
        page, limit = self.options.page_id, self.options.lookup_limit
        found: list[Mention] = []
        for item in self.graph.pages(f"{page}/tagged", limit=limit, fields=_COMMENT_FIELDS,
                                     since=int(since.timestamp())):
            found.extend(self._mention(item, "mention", since))
        comments = f"comments.order(reverse_chronological).limit(50){{{_COMMENT_FIELDS}}}"
        for post in self.graph.pages(f"{page}/posts", limit=limit, fields=f"id,{comments}"):
            block = post.get("comments")
            for item in block.get("data", []) if isinstance(block, dict) else []:
                found.extend(self._mention(item, "comment", since, parent=str(post["id"])))
        return sorted(found, key=lambda m: m.created_at)

    def _mention(self, item: dict[str, Any], kind: str, since: datetime,
                 parent: str | None = None) -> list[Mention]:
        author: dict[str, Any] = item["from"] if isinstance(item.get("from"), dict) else {}
        when = graph_time(item.get("created_time"))
        if when is None or when <= since or author.get("id") == self.options.page_id:
            return []
        return [Mention(channel=self.name, account=self.account, remote_id=str(item["id"]),
                        author=str(author.get("name") or author.get("id") or "unknown"),
                        text=str(item.get("message") or ""), url=item.get("permalink_url"),
                        created_at=when, kind="comment" if kind == "comment" else "mention",
                        parent_id=parent)]

    #: The post insights read (Graph API, 2026): views replaced impressions in November 2025
    #: (``post_impressions*`` answer "not a valid insights metric"), unique viewers replaced
    #: ``post_impressions_unique``.
    post_insights: ClassVar[tuple[str, ...]] = (
        "post_media_view", "post_total_media_view_unique", "post_clicks")

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Reactions, comments and shares of the post; views, unique viewers and clicks from
        its insights, each on its own when one is retired (``GraphChannel.insights``)."""
        video = receipt.extra.get("kind") == "video"
        fields = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
        if not video:
            fields += ",shares"
        node = self.graph.get(receipt.remote_id, fields=fields)
        values, missing = self.insights(receipt.remote_id, self.post_insights)
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), likes=_total(node, "reactions"),
                       replies=_total(node, "comments"),
                       reposts=None if video else int(node.get("shares", {}).get("count", 0)),
                       impressions=values.get("post_media_view"),
                       reach=values.get("post_total_media_view_unique"),
                       clicks=values.get("post_clicks"),
                       extra={"unavailable": missing} if missing else {})

    def fetch_account_metrics(self) -> AccountMetrics:
        """The Page's followers (``followers_count``; ``fan_count`` counts likes, and Meta
        retired ``page_fans`` in November 2025) and its published posts (the edge's
        ``summary.total_count``)."""
        page = self.graph.get(self.options.page_id, fields="followers_count,fan_count")
        posts = self.graph.get(f"{self.options.page_id}/published_posts",
                               summary="total_count", limit=0)
        summary = posts.get("summary")
        total = summary.get("total_count") if isinstance(summary, dict) else None
        return AccountMetrics(
            channel=self.name, account=self.account, fetched_at=self.clock.now(),
            followers=_count(page.get("followers_count")), posts=_count(total),
            extra={"likes": n} if (n := _count(page.get("fan_count"))) is not None else {})

def _post_url(post_id: str) -> str:
    page, _, story = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{story}" if story \
        else f"https://www.facebook.com/{post_id}"


def _iso(draft: Draft, when: dict[str, str]) -> str | None:
    return draft.schedule.isoformat() if when and draft.schedule else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def _total(node: dict[str, Any], edge: str) -> int | None:
    block = node.get(edge)
    if not isinstance(block, dict):
        return None
    count = block.get("summary", {}).get("total_count")
    return int(count) if isinstance(count, int) else None

