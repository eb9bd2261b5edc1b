"""LinkedIn organization page: the versioned REST Posts API, on ``requests``.

A post is one ``POST /rest/posts`` authored by ``urn:li:organization:ID``; its URN comes back
in the ``x-restli-id`` header. Images go through the Images API and video through the Videos
API first (``linkedin_api`` holds the calls). A video upload survives a failed part: the
account remembers which parts LinkedIn confirmed, and the retry sends only the others.

LinkedIn takes no idempotency key, so ``lookup`` reconciles an unknown outcome by reading the
page's recent posts and matching the commentary. carecast does not use python-linkedin-v2
0.9.4 (2018): it has no posting call and crashes on errors under Python 3.
"""

from __future__ import annotations

import email.utils
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session
from carecast.channels.linkedin_api import (
    LinkedInAPI,
    VideoUpload,
    encode_urn,
    from_little,
    to_little,
)
from carecast.channels.media import media_bytes
from carecast.channels.paging import Page, since_send
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import (
    ChannelConnectionError,
    ChannelServerError,
    ChannelTimeout,
    InputRefused,
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
    Post,
    Profile,
    Receipt,
)

__all__ = ["DEFAULT_VERSION", "LinkedInChannel", "LinkedInOptions", "post_url"]

#: A ``LinkedIn-Version`` LinkedIn serves in late 2026 (each is served at least a year).
DEFAULT_VERSION = "202609"
VIDEO_POLL_SECONDS = 5.0
_MAX_VIDEO = 500 * 1024 * 1024  # the Videos API's largest file
_NOTIFICATIONS_KEPT_MS = 60 * 24 * 3600 * 1000  # LinkedIn keeps page notifications 60 days


class LinkedInOptions(ChannelOptions):
    """Settings of a LinkedIn organization page account."""

    access_token: SecretStr = Field(description="A member's 3-legged OAuth token (60 days).")
    organization_id: int = Field(
        gt=0, description="The page's number: linkedin.com/company/ID/admin, or its URN.")
    api_version: str = Field(default=DEFAULT_VERSION, pattern=r"^\d{6}(\.\d{2})?$",
                             description="The LinkedIn-Version header (YYYYMM).")
    link_previews: bool = Field(
        default=True, description="A post with a link becomes an article share (a card).")
    recent_posts: int = Field(default=20, ge=1, le=100,
                              description="Posts per page read by lookup (back to the send "
                              "time); recent posts read for mentions.")
    video_wait: float = Field(default=600.0, ge=0, le=3600,
                              description="Seconds to wait for LinkedIn to process a video.")
    timeout: float = Field(default=30.0, gt=0, le=300)
    connect_timeout: float = Field(default=10.0, gt=0, le=60)
    upload_timeout: float = Field(default=300.0, gt=0, le=3600)

    @field_validator("organization_id", mode="before")
    @classmethod
    def _organization(cls, value: Any) -> Any:
        if isinstance(value, str):
            bare = value.strip().removeprefix("urn:li:organization:")
            if not bare.isdigit():
                raise ValueError("give the page's numeric id (the number in "
                                 "linkedin.com/company/ID/admin) or urn:li:organization:ID")
            return int(bare)
        return value


def post_url(urn: str) -> str:
    """The public address of a post."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


@dataclass
class _VideoProgress:
    """What LinkedIn confirmed of one video upload, kept for a retry to resume."""

    upload: VideoUpload
    etags: dict[int, str] = field(default_factory=dict)
    finalized: bool = False


class LinkedInChannel(Channel):
    """A LinkedIn organization page, through the versioned REST Posts API."""

    name: ClassVar[str] = "linkedin"
    title: ClassVar[str] = "LinkedIn organization page"
    Options = LinkedInOptions
    max_text: ClassVar[int | None] = 3000
    #: A comment's limit (Linkedin API).
    max_reply_text = 1250
    max_media = 20
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO})
    max_media_bytes: ClassVar[Mapping[MediaKind, int]] = {MediaKind.VIDEO: _MAX_VIDEO}
    #: LinkedIn limits calls per member and per application per day.
    per_account: ClassVar[int] = 2
    per_host: ClassVar[int] = 8
    options: LinkedInOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None
        opts = self.options
        self.api = LinkedInAPI(
            self.session, opts.access_token, opts.api_version, channel=self.name,
            account=account, timeout=(opts.connect_timeout, opts.timeout),
            upload_timeout=(opts.connect_timeout, opts.upload_timeout), now=self.clock.time,
            error=self.error)
        self._lock = threading.Lock()
        self._images: dict[str, str] = {}
        self._videos: dict[str, _VideoProgress] = {}

    @property
    def author(self) -> str:
        """The page's URN, the author of every post."""
        return f"urn:li:organization:{self.options.organization_id}"

    # -- rendering ---------------------------------------------------------------------------

    def count(self, text: str) -> int:
        """Characters as sent: after escaping LinkedIn's reserved characters."""
        return len(to_little(text))

    def render(self, post: Post) -> Draft:
        draft = super().render(post)
        media = draft.media
        if len(media) > 1 and any(m.kind is MediaKind.VIDEO for m in media):
            raise LimitExceeded(
                f"media: {len(media)} items with a video; a LinkedIn post takes one video on "
                "its own or up to 20 images: give overrides.linkedin.media",
                field="media", limit="one video alone", value=len(media))
        return draft

    # -- publishing --------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": to_little(draft.text),
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        content = self._content(draft, key)
        if content:
            body["content"] = content
        response = self.api.create_post(body)
        urn = response.headers.get("x-restli-id")
        if not urn:
            raise self.error(
                OutcomeUnknown,
                "LinkedIn accepted the post without naming it (no x-restli-id header); it "
                "will be looked up before anything is sent again", status=response.status_code)
        self._forget(key)
        return self._receipt(draft, urn, _date_of(response.headers, self.clock.now()))

    def _content(self, draft: Draft, key: str) -> dict[str, Any] | None:
        """The post's ``content``: uploads its media first. No post exists yet, so an upload
        failure is one that a retry can safely repeat (it resumes where it stopped)."""
        media = draft.media
        try:
            if media and media[0].kind is MediaKind.VIDEO:
                video: dict[str, Any] = {"id": self._video(media[0], _slot(key, 0, media[0]))}
                if draft.title:
                    video["title"] = draft.title
                return {"media": video}
            if draft.link and self.options.link_previews and len(media) <= 1:
                return {"article": self._article(draft, key)}
            images = [self._image_ref(item, _slot(key, i, item)) for i, item in enumerate(media)]
        except (OutcomeUnknown, ChannelServerError) as exc:
            raise ChannelConnectionError(
                f"uploading the media failed ({type(exc).__name__}: {exc.args[0]}); no post "
                "was created and a retry resumes the upload", channel=self.name,
                account=self.account, status=exc.status, request_id=exc.request_id) from None
        if len(images) > 1:
            return {"multiImage": {"images": images}}
        return {"media": images[0]} if images else None

    def _article(self, draft: Draft, key: str) -> dict[str, Any]:
        assert draft.link is not None
        article: dict[str, Any] = {"source": draft.link, "title": draft.title or draft.link}
        description = draft.options.get("description")
        if isinstance(description, str) and description.strip():
            article["description"] = description.strip()
        if draft.media:
            article["thumbnail"] = self._image(draft.media[0], _slot(key, 0, draft.media[0]))
        return article

    def _image_ref(self, item: Media, slot: str) -> dict[str, Any]:
        ref: dict[str, Any] = {"id": self._image(item, slot)}
        if item.alt_text:
            ref["altText"] = item.alt_text
        return ref

    def _image(self, item: Media, slot: str) -> str:
        """The image's URN: initialize an upload, PUT the bytes (once per post and item)."""
        with self._lock:
            done = self._images.get(slot)
        if done:
            return done
        size, read = self._open(item)
        data = read(0, size - 1)
        upload_url, urn = self.api.initialize_image_upload(self.author)
        self.api.upload(upload_url, data)
        with self._lock:
            self._images[slot] = urn
        return urn

    def _video(self, item: Media, slot: str) -> str:
        """The video's URN: upload the parts LinkedIn has not confirmed, finalize, wait."""
        size, read = self._open(item)
        with self._lock:
            progress = self._videos.get(slot)
            expired = progress is not None and not progress.finalized and (
                progress.upload.expires_at or float("inf")) <= self.api.now()
        if progress is None or expired:
            progress = _VideoProgress(self.api.initialize_video_upload(self.author, size))
            with self._lock:
                self._videos[slot] = progress
        parts = progress.upload.parts
        for index, part in enumerate(parts):
            if index in progress.etags:
                continue
            response = self.api.upload(part.url, read(part.first, part.last))
            etag = response.headers.get("ETag")
            if not etag:
                raise self.error(
                    ChannelServerError,
                    f"LinkedIn did not confirm part {index + 1} of {len(parts)} of the video "
                    "(no ETag); a retry sends that part again", status=response.status_code)
            progress.etags[index] = etag
        if not progress.finalized:
            self.api.finalize_video_upload(progress.upload,
                                           [progress.etags[i] for i in range(len(parts))])
            progress.finalized = True
        self._wait_for_video(progress.upload.video, slot)
        return progress.upload.video

    def _wait_for_video(self, urn: str, slot: str) -> None:
        deadline = self.clock.monotonic() + self.options.video_wait
        while True:
            info = self.api.video(urn)
            status = info.get("status")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                with self._lock:
                    self._videos.pop(slot, None)  # a later retry uploads it afresh
                reason = info.get("processingFailureReason") or "no reason given"
                raise self.error(
                    PlatformRejected,
                    f"LinkedIn could not process the video ({reason}); check its format "
                    "(MP4, 3 seconds to 30 minutes)")
            if self.clock.monotonic() >= deadline:
                raise self.error(
                    ChannelTimeout,
                    f"LinkedIn was still processing the video after {self.options.video_wait:g}"
                    " seconds (status " + str(status) + "); no post was created and a retry "
                    "waits again without uploading it again")
            self.clock.sleep(VIDEO_POLL_SECONDS)

    def _open(self, item: Media) -> tuple[int, Callable[[int, int], bytes]]:
        """A media item's size and a reader of its bytes ``first..last`` (inclusive): a
        local file is read part by part, a URL is downloaded once."""
        cap = self.max_media_bytes.get(item.kind or MediaKind.IMAGE)
        if item.is_url:
            data = media_bytes(item, root=self.root, channel=self.name, account=self.account,
                               rules=self.media_rules,
                               cap=cap, timeout=self.api.upload_timeout[1])
            size = len(data)

            def read(first: int, last: int) -> bytes:
                return data[first:last + 1]
        else:
            path = item.path(self.root)

            def read(first: int, last: int) -> bytes:
                handle, _ = self._confined(item, path)  # each part: checked, then read
                with handle:
                    handle.seek(first)
                    return handle.read(last - first + 1)
            handle, size = self._confined(item, path)
            handle.close()
        if cap is not None and size > cap:
            raise self.error(PlatformRejected, f"media: {item.filename!r} is {size} bytes, over "
                                   f"LinkedIn's {cap}")
        return size, read

    def _confined(self, item: Media, path: Path) -> tuple[BinaryIO, int]:
        """The local file opened under the media rules (see ``MediaRules.open``)."""
        try:
            return self.media_rules.open(path, kind=item.kind.value if item.kind else None)
        except InputRefused as exc:
            raise self.error(PlatformRejected, f"{exc}; nothing was sent") from None
        except OSError as exc:
            raise self._unreadable(item, exc) from None

    def _unreadable(self, item: Media, exc: OSError) -> PlatformRejected:
        return self.error(
            PlatformRejected,
            f"media: cannot read {item.filename!r} ({type(exc).__name__}); check the path")

    def _forget(self, key: str) -> None:
        with self._lock:
            for store in (self._images, self._videos):
                for slot in [s for s in store if s.startswith(f"{key}\x00")]:
                    del store[slot]

    def _receipt(self, draft: Draft, urn: str, when: datetime) -> Receipt:
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=urn, url=post_url(urn), published_at=when, part_ids=(urn,))

    # -- reading back ------------------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The page's post whose commentary reads as the draft's text, among those created
        since the send (pages of ``recent_posts`` followed back to its time, else unknown)."""
        wanted = _normal(draft.text)
        size = self.options.recent_posts

        def page(start: int | None) -> Page[dict[str, Any], int]:
            posts = self.api.posts_by(self.author, size, start or 0)
            return Page(posts, (start or 0) + size if len(posts) >= size else None)

        # Sorted by creation: a post created before the send ends the search.
        created = since_send(page, lambda p: _from_ms(p.get("createdAt"))
                             or _from_ms(p.get("publishedAt")),
                             channel=self.name, account=self.account)
        for post in created:
            commentary, urn = post.get("commentary"), post.get("id")
            when = _from_ms(post.get("publishedAt")) or _from_ms(post.get("createdAt"))
            if isinstance(commentary, str) and isinstance(urn, str) \
                    and post.get("lifecycleState", "PUBLISHED") == "PUBLISHED" \
                    and _normal(from_little(commentary)) == wanted \
                    and not self.made_too_early(_from_ms(post.get("createdAt")) or when):
                return self._receipt(draft, urn, when or self.clock.now())
        return None

    def delete(self, receipt: Receipt) -> None:
        for urn in receipt.part_ids or (receipt.remote_id,):
            self.api.delete_post(urn)

    def fetch_profile(self) -> Profile:
        org = self.api.organization(self.options.organization_id)
        logo = org.get("logoV2")
        logo_urn = logo.get("original") if isinstance(logo, dict) else None
        return Profile(
            channel=self.name, account=self.account,
            display_name=_text(org, "localizedName"), handle=_text(org, "vanityName"),
            description=_text(org, "localizedDescription"),
            website=_text(org, "localizedWebsite"),
            avatar_url=self._logo_url(logo_urn) if isinstance(logo_urn, str) else None,
            location=_headquarters(org.get("locations")),
            extra={"urn": self.author, "logo": logo_urn})

    def _logo_url(self, asset: str) -> str | None:
        """The logo's download address (its digital media asset read as an image)."""
        try:
            image = self.api.image(asset.replace("urn:li:digitalmediaAsset:", "urn:li:image:"))
        except PlatformRejected as exc:
            if exc.status == 404:
                return None
            raise
        return _text(image, "downloadUrl")

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A comment by the page: on the post that mentions it, or under the comment (a
        comment URN ``urn:li:comment:(POST,ID)`` names its post) with ``parentComment``."""
        parent = re.fullmatch(r"urn:li:comment:\((urn:li:[A-Za-z]+:[^,()]+),[^()]+\)",
                              mention.remote_id)
        post = parent.group(1) if parent else mention.remote_id
        body: dict[str, Any] = {"actor": self.author, "object": post,
                                "message": {"text": draft.text}}
        if parent:
            body["parentComment"] = mention.remote_id
        answer = self.api.create_comment(mention.remote_id, body)
        urn = str(answer.get("commentUrn") or answer.get("$URN") or answer.get("id") or "")
        if not urn:
            raise self.error(OutcomeUnknown, "LinkedIn answered the comment without its URN; "
                             "the comment may be on the post")
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=urn, url=mention.url, part_ids=(urn,),
                       published_at=self.clock.now(),
                       extra={"kind": "comment", "parent": mention.remote_id})

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Comments by others on the page's recent posts, and posts that mention the page
        (its ``SHARE_MENTION`` notifications), oldest first."""
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        found: list[Mention] = []
        for post in self.api.posts_by(self.author, self.options.recent_posts):
            urn = post.get("id")
            if not isinstance(urn, str):
                continue
            for comment in self.api.comments(urn, 100):
                mention = self._comment(urn, comment)
                if mention is not None and mention.created_at > since:
                    found.append(mention)
        now_ms = int(self.api.now() * 1000)
        start_ms = max(int(since.timestamp() * 1000), now_ms - _NOTIFICATIONS_KEPT_MS)
        seen: set[str] = set()
        for note in self.api.notifications(self.author, "SHARE_MENTION", start_ms, now_ms):
            source = note.get("sourcePost")
            if isinstance(source, str) and source not in seen:
                seen.add(source)
                mention = self._post_mention(source, self.api.read_post(source), note)
                if mention is not None and mention.created_at > since:
                    found.append(mention)
        return sorted(found, key=lambda m: m.created_at)

    def _post_mention(self, urn: str, post: Mapping[str, Any], note: Mapping[str, Any]
                      ) -> Mention | None:
        commentary, author = post.get("commentary"), post.get("author")
        when = (_from_ms(post.get("publishedAt")) or _from_ms(post.get("createdAt"))
                or _from_ms(note.get("lastModifiedAt")))
        if not isinstance(commentary, str) or not isinstance(author, str) or when is None:
            return None
        return Mention(channel=self.name, account=self.account, remote_id=urn, author=author,
                       text=from_little(commentary), url=post_url(urn), created_at=when,
                       kind="mention")

    def _comment(self, post: str, comment: Mapping[str, Any]) -> Mention | None:
        created = comment.get("created")
        when = _from_ms(created.get("time")) if isinstance(created, dict) else None
        message = comment.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        actor = comment.get("actor")
        remote_id = comment.get("commentUrn") or comment.get("$URN") or comment.get("id")
        if when is None or not isinstance(text, str) or not isinstance(actor, str) \
                or actor == self.author or not remote_id:
            return None
        return Mention(channel=self.name, account=self.account, remote_id=str(remote_id),
                       author=actor, text=text, url=post_url(post), created_at=when,
                       kind="comment", parent_id=post)

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Reactions and comments (socialMetadata); impressions, clicks and reshares
        (organizationalEntityShareStatistics)."""
        urn = receipt.remote_id
        meta = self.api.social_metadata(urn)
        summaries = meta.get("reactionSummaries")
        reactions = {kind: int(v["count"]) for kind, v in summaries.items()
                     if isinstance(v, dict) and isinstance(v.get("count"), int)} \
            if isinstance(summaries, dict) else {}
        comments = meta.get("commentSummary")
        stats = self.api.share_statistics(self.author, urn) or {}
        return Metrics(
            channel=self.name, account=self.account, remote_id=urn,
            fetched_at=self.clock.now(),
            likes=sum(reactions.values()) if isinstance(summaries, dict) else None,
            replies=_int(comments, "count"), reposts=_int(stats, "shareCount"),
            impressions=_int(stats, "impressionCount"), clicks=_int(stats, "clickCount"),
            extra={"reactions": reactions,
                   "unique_impressions": _int(stats, "uniqueImpressionsCount"),
                   "engagement": stats.get("engagement")})


    def fetch_account_metrics(self) -> AccountMetrics:
        """The page's followers (``GET /rest/networkSizes/{organization}?edgeType=
        COMPANY_FOLLOWED_BY_MEMBER`` answers ``{"firstDegreeSize": N}``)."""
        response = self.api.call("GET", f"networkSizes/{encode_urn(self.author)}",
                                 needs="rw_organization_admin",
                                 params={"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"})
        try:
            body = response.json()
        except ValueError:
            body = None
        size = body.get("firstDegreeSize") if isinstance(body, dict) else None
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=self.clock.now(),
                              followers=size if isinstance(size, int) else None)

# -- small readers ---------------------------------------------------------------------------


def _slot(key: str, index: int, item: Media) -> str:
    return f"{key}\x00{index}\x00{item.source}"


def _normal(text: str) -> str:
    return " ".join(text.split())


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _int(data: Any, key: str) -> int | None:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _from_ms(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _date_of(headers: Mapping[str, str], now: datetime) -> datetime:
    """The answer's ``Date`` (LinkedIn's clock), else ``now``."""
    value = headers.get("Date")
    if value:
        try:
            return email.utils.parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return now


def _headquarters(locations: Any) -> str | None:
    """The headquarters' address (else the first location's) as one line."""
    places = [p for p in locations if isinstance(p, dict)] if isinstance(locations, list) else []
    place = next((p for p in places if p.get("locationType") == "HEADQUARTERS"),
                 places[0] if places else None)
    address = place.get("address") if place else None
    if not isinstance(address, dict):
        return None
    region = " ".join(str(address[k]) for k in ("geographicArea", "postalCode")
                      if address.get(k))
    pieces = [address.get("line1"), address.get("line2"), address.get("city"), region,
              address.get("country")]
    return ", ".join(str(p) for p in pieces if p) or None

