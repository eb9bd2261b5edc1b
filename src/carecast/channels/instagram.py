"""Instagram (a professional account linked to a Facebook Page): images, carousels, reels.

Instagram's content-publishing API works in three steps: create a media container from a
public media URL (``POST /{ig-user-id}/media``: ``image_url``, ``media_type=REELS`` with
``video_url``, or ``media_type=CAROUSEL`` over child containers), poll the container's
``status_code`` until ``FINISHED``, then ``POST /{ig-user-id}/media_publish``. Before that,
``/{ig-user-id}/content_publishing_limit`` is checked, so a used-up daily quota is a
``RateLimited`` and nothing is created.

Instagram fetches media itself, by URL. A local file therefore needs a media host: the
account's ``media_host_path`` (a folder served on the web, such as the blog channel's output)
and ``media_host_url`` (the public URL of that folder). The file is copied there under its
content hash, as the blog channel names media, and Instagram is given its URL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

from carecast.channels.blog import folder_url, hosted_url
from carecast.channels.graph import GraphChannel, GraphOptions, graph_time
from carecast.errors import (
    ChannelError,
    ChannelTimeout,
    InputRefused,
    InvalidPost,
    LimitExceeded,
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
    Receipt,
)

__all__ = ["InstagramChannel", "InstagramOptions", "caption_counts"]

MB = 1024 * 1024
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
#: The image aspect ratios (width / height) Instagram's publishing API takes: 4:5 to 1.91:1.
MIN_ASPECT, MAX_ASPECT = 0.8, 1.91
#: A full day: Instagram's publishing quota is a moving 24-hour window, so a used-up quota
#: frees one slot at a time; carecast asks to wait an hour before it looks again.
QUOTA_WAIT = 3600.0
_HASHTAG = re.compile(r"(?<![\w&#])#\w+")
_MENTION = re.compile(r"(?<![\w@.])@[A-Za-z0-9._]{1,30}")
_MEDIA_FIELDS = "id,caption,permalink,timestamp"


class InstagramOptions(GraphOptions):
    """Settings of an Instagram professional account."""

    ig_user_id: str = Field(pattern=r"^[A-Za-z0-9._-]+$",
                            description="The Instagram professional account's id.")
    media_host_path: str | None = Field(
        default=None, description="A folder served on the web; local media are copied here.")
    media_host_url: str | None = Field(
        default=None, description="The public http(s) URL of media_host_path.")
    poll_interval: float = Field(default=60.0, gt=0, le=60, description=(
        "Seconds between container status checks; Meta recommends once per minute, for no "
        "more than 5 minutes (poll_timeout)."))
    poll_timeout: float = Field(default=300.0, gt=0, le=3600,
                                description="Seconds to wait for Instagram to process media.")

    @field_validator("media_host_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return folder_url(value)


def caption_counts(text: str) -> tuple[int, int]:
    """The hashtags and @mentions in a caption, as Instagram counts them."""
    return len(_HASHTAG.findall(text)), len(_MENTION.findall(text))


class InstagramChannel(GraphChannel):
    """Publish images, carousels and reels to an Instagram professional account."""

    name: ClassVar[str] = "instagram"
    title: ClassVar[str] = "Instagram (professional account)"
    Options = InstagramOptions
    max_text: ClassVar[int | None] = 2200
    max_media = 10
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    max_media_bytes = {MediaKind.IMAGE: 8 * MB, MediaKind.VIDEO: 300 * MB}
    requires_media = True
    #: A post is two calls (container, publish) and Instagram caps API posts per account per day.
    per_account: ClassVar[int] = 2
    per_host: ClassVar[int] = 16
    options: InstagramOptions

    # -- render ------------------------------------------------------------------------------

    def check_media(self, media: Sequence[Media], where: str = "") -> None:
        """The base checks, but missing media is refused after the caption (see ``render``)."""
        if media:
            super().check_media(media, where)

    def render(self, post: Post) -> Draft:
        """The base draft, with Instagram's caption limits and a host for every local file."""
        draft = super().render(post)
        resolved = self.override_of(post)
        override = resolved.given
        where = resolved.where if override is not None else ""
        if not draft.media:  # Instagram requires media: the base check, once the text passed
            super().check_media((), where)
        where = f"{where}." if override is not None and override.text is not None else ""
        tags, mentions = caption_counts(draft.text)
        for count, limit, what in ((tags, MAX_HASHTAGS, "hashtags"),
                                   (mentions, MAX_MENTIONS, "@mentions")):
            if count > limit:
                raise LimitExceeded(
                    f"{where}text: {count} {what} is over Instagram's limit of {limit} per "
                    f"caption; remove some or give overrides.{self.name}.text",
                    field=f"{where}text", limit=limit, value=count)
        local = [i for i, m in enumerate(draft.media) if not m.is_url]
        if local and not (self.options.media_host_path and self.options.media_host_url):
            field = f"media[{local[0]}].source"
            raise InvalidPost(
                f"{field}: Instagram fetches media by public URL, so a local file needs a "
                f"media host: set media_host_path (a folder served on the web) and "
                f"media_host_url (its public URL) in [accounts.{self.account}], or give the "
                "media as an https URL",
                [(field, "local file without media_host_path and media_host_url")])
        for i in local:
            if draft.media[i].kind == MediaKind.IMAGE:
                self._check_shape(draft.media[i], f"media[{i}].source")
        return draft

    def _check_shape(self, item: Media, field: str) -> None:
        """Refuse a local image outside Instagram's 4:5 to 1.91:1 range before any container
        is made (Meta's image specifications; a width outside 320 to 1440 is scaled, not
        refused). Only the header is read; a file that cannot be read is left to the send,
        which reports it."""
        from PIL import Image, UnidentifiedImageError

        try:
            handle, _ = self.media_rules.open(item.path(self.root), kind="image", field=field)
            with handle, Image.open(handle) as image:
                width, height = image.size
        except (InputRefused, OSError, UnidentifiedImageError, ValueError,
                Image.DecompressionBombError):
            return
        ratio = width / height if height else 0.0
        if not MIN_ASPECT <= ratio <= MAX_ASPECT:
            raise LimitExceeded(
                f"{field}: the image is {width}x{height} pixels, an aspect ratio of "
                f"{ratio:.2f}:1; Instagram takes 4:5 (0.80:1) to 1.91:1, so crop it to fit",
                field=field, limit=f"{MIN_ASPECT}-{MAX_ASPECT}", value=f"{ratio:.2f}")

    # -- publish -----------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        self._check_quota()
        ig = self.options.ig_user_id
        media = draft.media
        if len(media) == 1:
            container = self._container(media[0], caption=draft.text)
        else:
            children = [self._container(item, carousel_item=True) for item in media]
            for child in children:
                self._wait(child)
            container = self._create({"media_type": "CAROUSEL", "children": ",".join(children),
                                      "caption": draft.text})
        self._wait(container)
        media_id = str(self.graph.post(f"{ig}/media_publish", {"creation_id": container})["id"])
        info: dict[str, Any] = {}
        with suppress(ChannelError):  # published already: a failed read must not hide that
            info = self.graph.get(media_id, fields="permalink,timestamp")
        return self._receipt(draft, media_id, url=info.get("permalink"),
                             published_at=graph_time(info.get("timestamp")),
                             container=container)

    def _check_quota(self) -> None:
        body = self.graph.get(f"{self.options.ig_user_id}/content_publishing_limit",
                              fields="quota_usage,config")
        data = (body.get("data") or [{}])[0]
        config = data.get("config") or {}
        used, total = data.get("quota_usage"), config.get("quota_total")
        if isinstance(used, int) and isinstance(total, int) and used >= total:
            hours = float(config.get("quota_duration") or 86400) / 3600
            raise self.error(
                RateLimited,
                f"Instagram's content-publishing limit is used up ({used} of {total} posts in "
                f"{hours:g} hours); nothing was sent. A slot frees as the oldest of those posts "
                "leaves the window: run 'carecast retry' later", retry_after=QUOTA_WAIT)

    def _container(self, item: Media, *, caption: str | None = None,
                   carousel_item: bool = False) -> str:
        url = self._public_url(item)
        data: dict[str, Any] = {"caption": caption} if caption else {}
        if carousel_item:
            data["is_carousel_item"] = "true"
        if item.kind is MediaKind.VIDEO:
            data.update(media_type="VIDEO" if carousel_item else "REELS", video_url=url)
        else:
            data["image_url"] = url
            if item.alt_text:
                data["alt_text"] = item.alt_text
        return self._create(data)

    def _create(self, data: dict[str, Any]) -> str:
        return str(self.graph.post(f"{self.options.ig_user_id}/media", data)["id"])

    def _wait(self, container: str) -> None:
        """Poll the container until Instagram has processed its media."""
        polls = max(1, math.ceil(self.options.poll_timeout / self.options.poll_interval))
        for poll in range(polls):
            state = self.graph.get(container, fields="status_code,status")
            code = state.get("status_code")
            if code in ("FINISHED", "PUBLISHED"):
                return
            if code in ("ERROR", "EXPIRED"):
                reason = str(state.get("status") or "no reason given")[:300]
                raise self.error(
                    PlatformRejected,
                    f"Instagram could not use the media (container {code}): {reason}",
                    code=str(code))
            if poll < polls - 1:
                self.clock.sleep(self.options.poll_interval)
        raise self.error(ChannelTimeout,   # nothing was published: a retry needs no lookup first
            f"Instagram was still processing the media after {self.options.poll_timeout:g} "
            "seconds; nothing was published")

    def _public_url(self, item: Media) -> str:
        """The URL Instagram fetches: the media's own, or its copy in the media host."""
        return hosted_url(self, item, self.options.media_host_path, self.options.media_host_url)

    # -- reconcile, delete, read -------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The account's recent media whose caption is the draft's text.

        A caption keeps no hidden key (a marker would show), so the match is by exact caption
        among the media made since the send (paged back to its time).
        """
        found = self._find(draft, f"{self.options.ig_user_id}/media", "caption", "timestamp",
                           _MEDIA_FIELDS)
        if found is None:
            return None
        return self._receipt(draft, str(found["id"]), url=found.get("permalink"),
                             published_at=graph_time(found.get("timestamp")), reconciled=True)

    def fetch_profile(self) -> Profile:
        user = self.graph.get(self.options.ig_user_id, fields=(
            "username,name,biography,website,profile_picture_url,followers_count,media_count"))
        return Profile(channel=self.name, account=self.account,
                       display_name=user.get("name") or user.get("username"),
                       handle=user.get("username"), description=user.get("biography"),
                       website=user.get("website"), avatar_url=user.get("profile_picture_url"),
                       extra={k: user[k] for k in ("followers_count", "media_count")
                              if k in user})

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A reply to a comment (``POST /{ig-comment-id}/replies`` with ``message``); Instagram
        threads a reply to a reply under the top-level comment. A tag in someone else's
        caption cannot be answered this way."""
        if mention.kind != "comment":
            raise self.error(PlatformRejected, "Instagram takes replies to comments only; "
                             "this mention is a tag in another account's media: answer it in "
                             "the Instagram app, or not at all")
        answer = self.graph.post(f"{mention.remote_id}/replies", {"message": draft.text})
        return self._receipt(draft, str(answer["id"]), url=mention.url, kind="comment",
                             parent=mention.remote_id)

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Media the account is tagged in, and comments on its recent media (each naming its
        media, ``parent_id``), since ``since``."""
        ig, limit = self.options.ig_user_id, self.options.lookup_limit
        found: list[Mention] = []
        for item in self.graph.pages(f"{ig}/tags", limit=limit,
                                     fields="id,caption,username,timestamp,permalink"):
            found.extend(self._mention(item, "caption", "mention", since))
        comments = "comments.limit(50){id,text,username,timestamp,from}"
        for media in self.graph.pages(f"{ig}/media", limit=limit, fields=f"id,{comments}"):
            block = media.get("comments")
            for item in block.get("data", []) if isinstance(block, dict) else []:
                found.extend(self._mention(item, "text", "comment", since,
                                           parent=str(media["id"])))
        return sorted(found, key=lambda m: m.created_at)

    def _mention(self, item: dict[str, Any], field: str, kind: str,
                 since: datetime, parent: str | None = None) -> list[Mention]:
        when = graph_time(item.get("timestamp"))
        author: dict[str, Any] = item["from"] if isinstance(item.get("from"), dict) else {}
        if when is None or when <= since or author.get("id") == self.options.ig_user_id:
            return []
        return [Mention(channel=self.name, account=self.account, remote_id=str(item["id"]),
                        author=str(item.get("username") or author.get("username") or "unknown"),
                        text=str(item.get(field) or ""), url=item.get("permalink"),
                        created_at=when, kind="comment" if kind == "comment" else "mention",
                        parent_id=parent)]

    #: The media insights read (Graph API, 2026): ``views`` replaced ``impressions`` and
    #: ``plays`` in 2025; each is asked on its own when one is retired.
    media_insights: ClassVar[tuple[str, ...]] = ("views", "reach", "saved", "shares")

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Likes and comments; views, reach, saves and shares where Instagram gives insights."""
        media = self.graph.get(receipt.remote_id, fields="like_count,comments_count")
        values, missing = self.insights(receipt.remote_id, self.media_insights)
        extra: dict[str, Any] = {k: values[k] for k in ("reach", "saved") if k in values}
        if missing:
            extra["unavailable"] = missing
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), likes=_int(media.get("like_count")),
                       replies=_int(media.get("comments_count")), reposts=values.get("shares"),
                       impressions=values.get("views"), reach=values.get("reach"),
                       extra=extra)

    def fetch_account_metrics(self) -> AccountMetrics:
        """Followers, follows and media of the Instagram account (its user node's counts)."""
        user = self.graph.get(self.options.ig_user_id,
                              fields="followers_count,follows_count,media_count")
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=self.clock.now(),
                              followers=_int(user.get("followers_count")),
                              following=_int(user.get("follows_count")),
                              posts=_int(user.get("media_count")))

def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
