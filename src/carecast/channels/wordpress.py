"""WordPress: blog posts through the REST API (``wp/v2``) with an application password.

A post becomes a WordPress post: its title (or its first sentence), its text as HTML
paragraphs with links, its first image as the featured image and its other media in the
content, each uploaded to ``wp/v2/media`` with its alt text; its hashtags as tags and
``categories`` as categories, both created when missing. A scheduled post is sent at once
with status ``future`` and ``date_gmt``: WordPress publishes it then.

Exactly once: the slug is ``<title words>-<hash of the key>``, so ``lookup`` (and ``publish``
itself, before it creates anything) asks ``GET wp/v2/posts?slug=...&status=any``. Media
uploaded by an attempt are remembered under the key, so a retry in the same process does not
upload them again.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, cast
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions, post_options
from carecast.channels.blog import derive_title, html_body, slug_words
from carecast.channels.http import new_session, transport_error
from carecast.channels.media import media_file
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ChannelServerError,
    DuplicatePost,
    OutcomeUnknown,
    PermissionDenied,
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

__all__ = ["WordPressChannel", "WordPressOptions", "slug_of"]

Status = Literal["publish", "draft", "pending", "private"]
M = TypeVar("M", bound=BaseModel)
_TAGS = re.compile(r"<[^>]+>")
_AUTH_CODES = {"rest_not_logged_in", "incorrect_password", "invalid_username",
               "invalid_email", "application_passwords_disabled"}


def slug_of(title: str, key: str) -> str:
    """``<title words>-<hash of key>``: readable, stable for the key, unique per key."""
    return f"{slug_words(title)}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


class WordPressOptions(ChannelOptions):
    """Settings of a WordPress site: its URL, a user and one of the user's application
    passwords."""

    site_url: str = Field(description="The site's address, such as https://news.example.org")
    user: str = Field(min_length=1)
    application_password: SecretStr
    api_url: str | None = Field(
        default=None, description="The REST API root; default <site_url>/wp-json.")
    status: Status = "publish"
    categories: tuple[str, ...] = ()
    delete_permanently: bool = Field(
        default=False, description="delete skips the trash.")
    timeout: float = Field(default=30.0, gt=0, le=600)
    connect_timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("site_url", "api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("give an absolute http(s) URL, such as https://news.example.org")
        return value.rstrip("/")


class _PostOptions(BaseModel):
    """What ``overrides.wordpress.options`` may set for one post."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    excerpt: str | None = None
    status: Status | None = None
    sticky: bool = False
    comment_status: Literal["open", "closed"] | None = None


class WordPressChannel(Channel):
    """Publish posts to a WordPress site through its REST API."""

    name: ClassVar[str] = "wordpress"
    title: ClassVar[str] = "WordPress (REST API)"
    Options = WordPressOptions
    max_media: ClassVar[int] = 20
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(MediaKind)
    supports_scheduling: ClassVar[bool] = True
    #: One site: its PHP workers serve every account on it.
    per_account: ClassVar[int] = 4
    per_host: ClassVar[int] = 4
    rate_limits_by: ClassVar[str] = "host"
    error_messages: ClassVar[Mapping[int | type[ChannelError], str]] = {
        AuthenticationError: "WordPress refused the user or application password{said}; "
        "create a new application password (Users → Profile → Application Passwords) and "
        "update the account",
        PermissionDenied: "WordPress refused this action{said}; the user needs a role that "
        "may publish posts, upload files and manage terms (Editor or Administrator)",
        ChannelServerError: "WordPress failed with HTTP {status}{said}",
        PlatformRejected: "WordPress refused the request{said}",
        DuplicatePost: "WordPress refused the request{said}",
    }
    options: WordPressOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None
        self._uploaded: dict[tuple[str, int], dict[str, Any]] = {}
        self._terms: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    @property
    def api(self) -> str:
        """The REST API root."""
        return self.options.api_url or f"{self.options.site_url}/wp-json"

    # -- render (pure) ------------------------------------------------------------------------

    def compose(self, text: str, *, link: str | None, hashtags: Sequence[str]) -> str:
        """The text and the link; hashtags become WordPress tags instead."""
        return super().compose(text, link=link, hashtags=())

    def render(self, post: Post) -> Draft:
        """The draft; its title (the first sentence when the post has none), tags,
        categories, excerpt and status resolved into ``draft.options``."""
        draft = super().render(post)
        applies = self.override_of(post)
        override, where = applies.given, applies.where
        wanted = post_options(_PostOptions, draft.options, f"{where}.options", self.name)
        hashtags = (override.hashtags if override and override.hashtags is not None
                    else post.hashtags)
        title = draft.title or derive_title(draft.text) or "Untitled"
        resolved: dict[str, Any] = {
            "categories": list(wanted.categories if wanted.categories is not None
                               else self.options.categories),
            "tags": list(dict.fromkeys(wanted.tags if wanted.tags is not None else hashtags)),
            "excerpt": wanted.excerpt,
            "status": wanted.status or self.options.status,
            "sticky": wanted.sticky,
            "comment_status": wanted.comment_status,
        }
        return draft.model_copy(update={"title": title, "options": resolved})

    # -- HTTP ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One authenticated REST call; WordPress's error codes decide the error class."""
        where: dict[str, Any] = {"channel": self.name, "account": self.account}
        auth = (self.options.user, self.options.application_password.get_secret_value())
        failure: requests.RequestException | None = None
        try:
            response: requests.Response = self.session.request(
                method, f"{self.api}/{path.lstrip('/')}", auth=auth, allow_redirects=False,
                timeout=(self.options.connect_timeout, self.options.timeout),
                headers={"User-Agent": "carecast", **kw.pop("headers", {})}, **kw)
        except requests.RequestException as exc:
            failure = exc
        if failure is not None:  # raised outside the except: requests quotes the URL
            raise transport_error(failure, **where)
        if response.status_code >= 300:
            raise self._error(response)
        return response

    def _json(self, method: str, path: str, *, shape: type = dict, **kw: Any) -> Any:
        return self._decode(self._call(method, path, **kw), shape)

    def _decode(self, response: requests.Response, shape: type) -> Any:
        """The JSON of a 2xx answer, of the ``shape`` expected; else a non-retryable
        ``OutcomeUnknown`` (a login page or a cache in front of the API is no answer)."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if data is None or not isinstance(data, shape):
            raise self.error(
                OutcomeUnknown,
                f"WordPress answered HTTP {response.status_code} without the JSON expected; "
                "check site_url and api_url (a login page or a cache in front of the API?)",
                status=response.status_code, retryable=False)
        return data

    def _error(self, response: requests.Response) -> ChannelError:
        try:
            body = response.json()
        except ValueError:
            body = None
        code = str(body.get("code") or "") if isinstance(body, dict) else ""
        data = body.get("data") if isinstance(body, dict) else None
        params = sorted((data or {}).get("params") or {}) if isinstance(data, dict) else []
        said = f" ({code})" if code else ""
        status = response.status_code
        cls: type[ChannelError] | None = None
        message: str | None = None
        if code in _AUTH_CODES and status < 500:
            cls = AuthenticationError
        elif status == 404 and code == "rest_no_route":
            message = (f"no WordPress REST API at this address{said}; check site_url or set "
                       "api_url (for plain permalinks: <site_url>/?rest_route=)")
        elif 400 <= status < 500 and params:
            said += f"; check {', '.join(params)}"
        return self.error(cls, message, response=response, said=said, code=code or None)

    # -- publish ------------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        found = self.lookup(key, draft)  # a post with this key's slug is this post
        if found is not None:
            return found
        media = [self._upload(key, i, item) for i, item in enumerate(draft.media)]
        opts = draft.options
        names = {t: [str(n) for n in cast(list[Any], opts[t])] for t in ("categories", "tags")}
        body: dict[str, Any] = {
            "title": draft.title, "slug": self._slug(draft, key),
            "content": self._content(draft.text, media[1:] if self._featured(media) else media),
            "status": opts["status"],
            "categories": [self._term("categories", n) for n in names["categories"]],
            "tags": [self._term("tags", n) for n in names["tags"]],
        }
        if self._featured(media):
            body["featured_media"] = media[0]["id"]
        for name in ("excerpt", "comment_status"):
            if opts.get(name) is not None:
                body[name] = opts[name]
        if opts.get("sticky"):
            body["sticky"] = True
        if draft.schedule is not None and draft.schedule > self.clock.now() \
                and opts["status"] == "publish":
            body["status"] = "future"
            body["date_gmt"] = draft.schedule.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        created = self._json("POST", "wp/v2/posts", json=body)
        with self._lock:
            for i in range(len(draft.media)):
                self._uploaded.pop((key, i), None)
        return self._receipt(draft, created)

    def _slug(self, draft: Draft, key: str) -> str:
        return slug_of(draft.title or "", key)

    @staticmethod
    def _featured(media: Sequence[Mapping[str, Any]]) -> bool:
        return bool(media) and media[0]["media_type"] == "image"

    def _upload(self, key: str, index: int, item: Media) -> dict[str, Any]:
        """Upload one media item with its alt text (once per key in this process)."""
        with self._lock:
            done = self._uploaded.get((key, index))
        if done is not None:
            return done
        with media_file(item, root=self.root, channel=self.name, account=self.account,
                        rules=self.media_rules,
                        field=f"media[{index}]", timeout=self.options.timeout) as (data, _):
            answer = self._json("POST", "wp/v2/media", data=data, headers={
                "Content-Type": item.mime_type,
                "Content-Disposition": f'attachment; filename="{_ascii(item.filename)}"'})
        fields = {k: v for k, v in {"alt_text": item.alt_text, "title": item.title}.items()
                  if v}
        if fields:
            answer = self._json("POST", f"wp/v2/media/{answer['id']}", json=fields)
        uploaded = {"id": int(answer["id"]), "source_url": str(answer.get("source_url") or ""),
                    "media_type": "image" if item.kind in (MediaKind.IMAGE, MediaKind.GIF)
                    else str(item.kind), "alt_text": item.alt_text or "",
                    "title": item.title or "", "kind": str(item.kind)}
        with self._lock:
            self._uploaded[(key, index)] = uploaded
        return uploaded

    @staticmethod
    def _content(text: str, media: Sequence[Mapping[str, Any]]) -> str:
        """HTML paragraphs with links, then the media (images with their alt text)."""
        return html_body({"text": text, "media": [
            {"href": m["source_url"], "alt_text": m["alt_text"], "kind": m["kind"],
             "title": m["title"]} for m in media]}, "")

    def _term(self, taxonomy: str, name: str) -> int:
        """The id of the tag or category ``name``, created when missing."""
        cache = (taxonomy, name.lower())
        with self._lock:
            if cache in self._terms:
                return self._terms[cache]
        term_id = self._find_term(taxonomy, name)
        if term_id is None:
            try:
                term_id = int(self._json("POST", f"wp/v2/{taxonomy}",
                                         json={"name": name})["id"])
            except PlatformRejected as exc:  # made meanwhile (another worker)
                term_id = self._find_term(taxonomy, name) if exc.code == "term_exists" \
                    else None
                if term_id is None:
                    raise
        with self._lock:
            self._terms[cache] = term_id
        return term_id

    def _find_term(self, taxonomy: str, name: str) -> int | None:
        found = self._json("GET", f"wp/v2/{taxonomy}", shape=list, params={
            "search": name, "per_page": 100, "context": "edit"})
        wanted = name.lower()
        return next((int(t["id"]) for t in found if isinstance(t, dict) and (
            html.unescape(str(t.get("name", ""))).lower() == wanted
            or t.get("slug") == wanted)), None)

    def _receipt(self, draft: Draft, post: Mapping[str, Any], *,
                 reconciled: bool = False) -> Receipt:
        remote_id = str(post["id"])
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=remote_id, url=post.get("link"),
                       published_at=_gmt(post.get("date_gmt")) or self.clock.now(),
                       part_ids=(remote_id,), reconciled=reconciled,
                       extra={k: post[k] for k in ("status", "slug", "featured_media")
                              if post.get(k) not in (None, "", 0)})

    # -- lookup, delete -----------------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The post whose slug this key gives, in any status but the trash; None if none."""
        found = self._json("GET", "wp/v2/posts", shape=list, params={
            "slug": self._slug(draft, key), "status": "any", "context": "edit"})
        return self._receipt(draft, found[0], reconciled=True) if found else None

    def delete(self, receipt: Receipt) -> None:
        """Move the post to the trash (or delete it, with ``delete_permanently``)."""
        try:
            self._call("DELETE", f"wp/v2/posts/{receipt.remote_id}",
                       params={"force": "true"} if self.options.delete_permanently else None)
        except PlatformRejected as exc:
            if exc.status not in (404, 410):  # gone, or already in the trash
                raise

    # -- reading ------------------------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        """The site's title, tagline, address and icon (``GET /wp-json/``)."""
        site = self._json("GET", "")
        return Profile(channel=self.name, account=self.account, display_name=site.get("name"),
                       description=site.get("description"), website=site.get("home")
                       or site.get("url"), avatar_url=site.get("site_icon_url") or None,
                       extra={"gmt_offset": site.get("gmt_offset"),
                              "timezone": site.get("timezone_string") or None})

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Approved comments on the site since ``since``, oldest first, each naming its post
        (``parent_id``); an answer to another comment is a ``reply``."""
        found: list[Mention] = []
        page = 1
        while True:
            response = self._call("GET", "wp/v2/comments", params={
                "after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "per_page": 100, "page": page, "orderby": "date_gmt", "order": "asc"})
            for comment in self._decode(response, list):
                found.append(Mention(
                    channel=self.name, account=self.account, remote_id=str(comment["id"]),
                    author=str(comment.get("author_name") or ""),
                    text=_plain(str((comment.get("content") or {}).get("rendered") or "")),
                    url=comment.get("link"),
                    created_at=_gmt(comment.get("date_gmt")) or self.clock.now(),
                    kind="reply" if comment.get("parent") else "comment",
                    parent_id=str(comment["post"]) if comment.get("post") else None))
            if page >= int(response.headers.get("X-WP-TotalPages", "1") or 1):
                return found
            page += 1

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A comment whose ``parent`` is the mention's comment, on the same ``post`` (read
        from ``GET wp/v2/comments/{id}``), by the account's user."""
        if not mention.remote_id.isdigit():
            raise self.error(PlatformRejected, "mention.remote_id: a WordPress comment id is "
                             "a number; give the comment's id from 'carecast listen'")
        parent = self._json("GET", f"wp/v2/comments/{int(mention.remote_id)}")
        created = self._json("POST", "wp/v2/comments", json={
            "post": int(parent["post"]), "parent": int(mention.remote_id),
            "content": draft.text})
        comment_id = str(created["id"])
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=comment_id, url=created.get("link"), part_ids=(comment_id,),
                       published_at=_gmt(created.get("date_gmt")) or self.clock.now(),
                       extra={"kind": "comment", "parent": mention.remote_id})

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Comments on the post. Core WordPress counts no views or likes."""
        response = self._call("GET", "wp/v2/comments", params={
            "post": receipt.remote_id, "per_page": 1})
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(),
                       replies=int(response.headers.get("X-WP-Total", "0") or 0))


    def fetch_account_metrics(self) -> AccountMetrics:
        """The site's published posts (``X-WP-Total`` of ``wp/v2/posts``). Core WordPress
        has no followers."""
        response = self._call("GET", "wp/v2/posts", params={"per_page": 1,
                                                            "status": "publish"})
        total = response.headers.get("X-WP-Total", "")
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=self.clock.now(),
                              posts=int(total) if total.isdigit() else None)

def _gmt(value: Any) -> datetime | None:
    """WordPress's ``date_gmt`` (no zone suffix) as an aware time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def _plain(rendered: str) -> str:
    return html.unescape(_TAGS.sub("", rendered)).strip()


def _ascii(filename: str) -> str:
    """A file name safe inside a quoted header value."""
    name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    return re.sub(r'[^A-Za-z0-9._-]+', "-", name).strip("-") or "upload"
