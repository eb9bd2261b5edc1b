"""X (Twitter): posts through tweepy's v2 ``Client``, media through X's v2 media upload.

Length is X's weighted length, counted by ``twitter-text-parser`` (URLs count 23, CJK and
emoji 2); long text becomes a numbered reply thread split between words. Images go up in one
request, GIFs and videos in chunks (initialize, append, finalize, then status polls until X has
processed them); alt text goes through the media metadata endpoint. Credentials are OAuth 1.0a
user context (consumer key and secret, access token and secret) or an OAuth 2.0 user access
token; with a refresh token and client id, a refused token is refreshed once, the new tokens
are handed to ``on_token_refresh`` and the call is made again. tweepy and twitter-text-parser
are imported when first needed (``pip install 'carecast[x]'``).
"""

from __future__ import annotations

import functools
import html
import logging
import mimetypes
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal, TypeVar

import requests
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session, send, transport_error
from carecast.channels.media import avatar_bytes, media_file
from carecast.channels.paging import Page, since_send
from carecast.channels.thread import send_thread
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    DuplicatePost,
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
from carecast.scrub import remember

__all__ = ["XChannel", "XOptions", "XTokens", "refused_characters", "weighted_length"]

log = logging.getLogger(__name__)
T = TypeVar("T")

API = "https://api.x.com"
MEDIA_UPLOAD = f"{API}/2/media/upload"
MEDIA_METADATA = f"{API}/2/media/metadata"
PROFILE_UPDATE = f"{API}/1.1/account/update_profile.json"
#: X gives non-public metrics of posts made in the last 30 days only (a margin kept).
NON_PUBLIC_WINDOW = timedelta(days=30) - timedelta(minutes=10)
#: X's v1.1 error code for an endpoint outside the app's access level (Free and Basic refuse
#: the v1.1 profile updates with it).
ACCESS_LEVEL_CODE = 453
ACCESS_LEVEL_MESSAGE = (
    "X's access level for this app does not include this endpoint (error {code}{said}); "
    "profile updates use v1.1 endpoints that the Free and Basic levels refuse. The fix is a "
    "higher access level in the X developer portal, not the app's permissions; until then "
    "change the profile by hand")
PROFILE_IMAGE = f"{API}/1.1/account/update_profile_image.json"
#: The v1.1 ``update_profile`` parameter of each profile field, and its longest value.
PROFILE_PARAMS = {"display_name": ("name", 50), "website": ("url", 100),
                  "location": ("location", 30), "description": ("description", 160)}
MAX_PROFILE_IMAGE = 700 * 1024
TOKEN_URL = f"{API}/2/oauth2/token"
POST_URL = "https://x.com/i/web/status/{id}"
MB = 1024 * 1024
MAX_ALT_TEXT = 1000
#: Media types X's one-request upload takes; others go up in chunks.
SIMPLE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp", "image/pjpeg",
                          "image/tiff"})
_CATEGORY = {MediaKind.IMAGE: "tweet_image", MediaKind.GIF: "tweet_gif",
             MediaKind.VIDEO: "tweet_video"}
_SNOWFLAKE_EPOCH_MS = 1288834974657
#: The longest recent-search query X's self-serve plans take.
_SEARCH_QUERY_MAX = 512
_RECENT = 100  # posts read back by lookup: X's largest page


# -- length ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def weighted_length(text: str, version: int = 3) -> int:
    """``text``'s length as X counts it, with twitter-text configuration ``version`` (2 or 3).

    Version 3 is what X counts today (an emoji sequence counts 2); version 2 counts each code
    point of an emoji.
    """
    try:
        from twitter_text import parse_tweet  # type: ignore[import-untyped]
        from twitter_text.config import config  # type: ignore[import-untyped]
    except ImportError:
        raise _missing("twitter-text-parser") from None
    options = {"emoji_parsing_enabled": False, **config[f"version{version}"]}
    return int(parse_tweet(text, options).weightedLength)


def refused_characters(text: str) -> bool:
    """True when ``text`` holds a character X refuses in a post (U+FEFF, U+FFFE, U+FFFF)."""
    try:
        from twitter_text.has_invalid_characters import (  # type: ignore[import-untyped]
            has_invalid_characters,
        )
    except ImportError:
        raise _missing("twitter-text-parser") from None
    return bool(has_invalid_characters(text))


def _urls(text: str) -> list[str]:
    from twitter_text import extract_urls

    return list(extract_urls(text))


def _missing(package: str) -> ConfigurationError:
    return ConfigurationError(XChannel.install_hint(package))


def _tweepy() -> Any:
    try:
        import tweepy  # type: ignore[import-untyped]
    except ImportError:
        raise _missing("tweepy") from None
    return tweepy


# -- options ---------------------------------------------------------------------------------


class XOptions(ChannelOptions):
    """Settings of an X account: OAuth 1.0a user context or an OAuth 2.0 user token.

    OAuth 1.0a: ``consumer_key``, ``consumer_secret``, ``access_token`` and
    ``access_token_secret``. OAuth 2.0: ``access_token`` alone, plus ``refresh_token`` and
    ``client_id`` (and ``client_secret`` for a confidential client) to refresh it.
    """

    access_token: SecretStr = Field(
        description="OAuth 1.0a access token, or an OAuth 2.0 user access token.")
    consumer_key: SecretStr | None = Field(default=None, description="OAuth 1.0a API key.")
    consumer_secret: SecretStr | None = Field(default=None,
                                              description="OAuth 1.0a API key secret.")
    client_id: str | None = Field(default=None, description="OAuth 2.0 client id.")
    client_secret: SecretStr | None = Field(
        default=None, description="OAuth 2.0 client secret (confidential clients only).")
    refresh_token: SecretStr | None = Field(
        default=None, description="OAuth 2.0 refresh token (scope offline.access).")
    access_token_secret: SecretStr | None = Field(
        default=None, validate_default=True, description="OAuth 1.0a access token secret.")
    user_id: str | None = Field(
        default=None, pattern=r"^[0-9]{1,19}$",
        description="The account's numeric id; found with GET /2/users/me when left out.")
    timeout: float = Field(default=30.0, gt=0, le=300)
    connect_timeout: float = Field(default=10.0, gt=0, le=60)
    max_processing_wait: float = Field(
        default=600.0, gt=0, le=3600,
        description="Seconds to wait for X to process an uploaded video or GIF.")

    @field_validator("refresh_token")
    @classmethod
    def _refresh_needs_client(cls, value: SecretStr | None,
                              info: ValidationInfo) -> SecretStr | None:
        if value is not None and not info.data.get("client_id"):
            raise ValueError("a refresh token needs client_id (the app's OAuth 2.0 client id)")
        return value

    @field_validator("access_token_secret")
    @classmethod
    def _one_flow(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        consumer = [f for f in ("consumer_key", "consumer_secret") if info.data.get(f)]
        if value is not None:
            missing = [f for f in ("consumer_key", "consumer_secret") if f not in consumer]
            if missing:
                raise ValueError(f"OAuth 1.0a also needs {' and '.join(missing)} (the app's "
                                 "API key and secret)")
            if info.data.get("refresh_token") or info.data.get("client_id"):
                raise ValueError("give either OAuth 1.0a keys or OAuth 2.0 client settings "
                                 "(client_id, refresh_token), not both")
        elif consumer:
            raise ValueError(f"{' and '.join(consumer)} are OAuth 1.0a settings: give "
                             "access_token_secret too, or remove them to use an OAuth 2.0 "
                             "token")
        return value


@dataclass(frozen=True)
class XTokens:
    """OAuth 2.0 tokens after a refresh; store them, the old refresh token no longer works."""

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: datetime | None


class _Timed:
    """tweepy's ``Client`` sends without a timeout: this front on the session adds one."""

    def __init__(self, session: Any, timeout: tuple[float, float]) -> None:
        self.session = session
        self.timeout = timeout

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, url, **kwargs)


# -- the channel -----------------------------------------------------------------------------


class XChannel(Channel):
    """Post to X: weighted length, numbered reply threads, media with alt text.

    ``on_token_refresh`` (a constructor argument or attribute) receives the ``XTokens`` after
    an OAuth 2.0 refresh; ``sleep`` is what waits between media status polls.
    """

    name: ClassVar[str] = "x"
    title: ClassVar[str] = "X (Twitter)"
    Options = XOptions
    max_text = 280
    text_unit = "weighted"
    url_length = 23
    max_media = 4
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO})
    max_media_bytes = {MediaKind.IMAGE: 5 * MB, MediaKind.GIF: 15 * MB,
                       MediaKind.VIDEO: 512 * MB}
    supports_threads = True
    #: X allows 100 posts per 15 minutes per user and 10,000 a day per app.
    per_account: ClassVar[int] = 4
    per_host: ClassVar[int] = 32
    rate_limits_by: ClassVar[str] = "host"
    #: twitter-text configuration ``count`` uses (3 is what X counts today).
    text_version: int = 3
    #: Bytes per append request of a chunked upload.
    chunk_size: int = 4 * MB
    #: What ``update_profile`` changes.
    profile_fields: ClassVar[frozenset[str]] = frozenset({*PROFILE_PARAMS, "avatar"})
    extra: ClassVar[str | None] = "x"
    packages: ClassVar[tuple[str, ...]] = ("tweepy", "twitter_text")
    notes: ClassVar[tuple[str, ...]] = (
        "profile updates (carecast brand sync) use X's v1.1 endpoints, which the Free and "
        "Basic access levels refuse with error 453: they need a higher access level, not "
        "other app permissions",)
    #: Any other 4xx is X refusing the request (a 409 is no duplicate: X says that in a 403).
    status_errors: ClassVar[Mapping[int, type[ChannelError]]] = {409: PlatformRejected}
    error_messages: ClassVar[Mapping[int | type[ChannelError], str]] = {
        DuplicatePost: "X already holds a post with this text{said}",
        PermissionDenied: "X refused the action{said}; check that the app has Read and Write "
        "permission and that the token was made after it was granted",
        RateLimited: "rate limited by X{said}",
        ChannelServerError: "X failed with HTTP {status}{said}; it may have stored the post",
        PlatformRejected: "X refused the request{said}",
    }
    options: XOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, on_token_refresh: Callable[[XTokens], None] | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None
        self.on_token_refresh = on_token_refresh
        self._oauth1 = self.options.access_token_secret is not None
        self._access = self.options.access_token
        self._refresh = self.options.refresh_token
        self._user_id = self.options.user_id
        self._client: Any = None
        self._lock = threading.Lock()

    # -- rendering ---------------------------------------------------------------------------

    def count(self, text: str) -> int:
        """X's weighted length (twitter-text configuration ``text_version``)."""
        return weighted_length(text, self.text_version)

    def fits(self, text: str) -> bool:
        """True when X takes ``text`` as one post: within ``max_text``, no refused character."""
        return self.count(text) <= self.max_text and not refused_characters(text)

    def render(self, post: Post) -> Draft:
        draft = super().render(post)
        for i, part in enumerate(draft.parts):
            field = "text" if i == 0 else "thread"
            if not part.text.strip() and not part.media:
                raise LimitExceeded(
                    f"{field}: part {i + 1} is empty and X refuses an empty post; give it "
                    "text or media", field=field, limit="required", value="empty")
            if refused_characters(part.text):
                raise InvalidPost(
                    f"{field}: part {i + 1} holds a character X refuses (U+FEFF, U+FFFE or "
                    "U+FFFF); remove it", [(field, "a character X refuses")])
        return draft

    def check_media(self, media: Sequence[Media], where: str = "") -> None:
        """The base checks, then X's rules: 4 images, or 1 GIF, or 1 video; alt text <= 1000."""
        super().check_media(media, where)
        prefix = f"{where}.media" if where else "media"
        moving = [m.kind for m in media if m.kind in (MediaKind.GIF, MediaKind.VIDEO)]
        if moving and len(media) > 1:
            raise LimitExceeded(
                f"{prefix}: X takes up to 4 images, or 1 GIF, or 1 video per post, not "
                f"{len(media)} items with a {moving[0]}; move the others to another post",
                field=prefix, limit="4 images, or 1 GIF, or 1 video", value=len(media))
        for i, item in enumerate(media):
            if item.alt_text and len(item.alt_text) > MAX_ALT_TEXT:
                raise LimitExceeded(
                    f"{prefix}[{i}].alt_text: {len(item.alt_text)} characters is over X's "
                    f"limit of {MAX_ALT_TEXT}; shorten it",
                    field=f"{prefix}[{i}].alt_text", limit=MAX_ALT_TEXT,
                    value=len(item.alt_text))

    # -- publishing --------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        """Upload the media, then post the parts as a reply thread (all or nothing).

        X takes no idempotency key: ``lookup`` finds an earlier send by its exact text.
        """
        return self._post(draft, None)

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """A post whose ``reply.in_reply_to_tweet_id`` is the mention's post id."""
        return self._post(draft, mention.remote_id)

    def _post(self, draft: Draft, parent: str | None) -> Receipt:
        media_ids = [self._upload(item, i) for i, item in enumerate(draft.parts[0].media)]

        def post(index: int, part: Part, reply_to: str | None) -> str:
            body = self._call(lambda c, user: c.create_tweet(
                text=part.text or None, media_ids=media_ids if index == 0 and media_ids else None,
                in_reply_to_tweet_id=reply_to, user_auth=user))
            return _id_of(body, self)

        ids = send_thread(draft.parts, lambda i, part, to: post(i, part, to or parent),
                          self._delete_one)
        return self._receipt(draft, ids)

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """Find the draft by its exact text among the account's posts since the send (pages
        followed by ``next_token`` back to its time, else unknown).

        A thread counts as found only when every part is there, each replying to the one
        before; a thread found in part raises a non-retryable ``OutcomeUnknown``.
        """
        user_id = self._me()

        def page(token: str | None) -> Page[dict[str, Any], str]:
            more = {"pagination_token": token} if token else {}
            body = self._call(lambda c, user: c.get_users_tweets(
                user_id, max_results=_RECENT, user_auth=user,
                tweet_fields=["created_at", "entities", "referenced_tweets"], **more))
            nxt = (body.get("meta") or {}).get("next_token")
            return Page([t for t in body.get("data") or [] if isinstance(t, dict)],
                        nxt if isinstance(nxt, str) else None)

        tweets = [t for t in since_send(page, lambda t: _snowflake_time(str(t.get("id", ""))),
                                        channel=self.name, account=self.account)
                  if not self.made_too_early(_snowflake_time(str(t.get("id", ""))))]
        wanted = [_comparable(p.text) for p in draft.parts]
        ids: list[str] = []
        for index, text in enumerate(wanted):
            found = next((t for t in reversed(tweets)  # oldest first: the earlier send
                          if _comparable(_posted_text(t)) == text
                          and (index == 0 or _replies_to(t) == ids[-1])), None)
            if found is None:
                break
            ids.append(str(found["id"]))
        if not ids:
            return None
        if len(ids) < len(draft.parts):
            raise self.error(
                OutcomeUnknown,
                f"found {len(ids)} of the {len(draft.parts)} parts of the thread on X (first "
                f"id {ids[0]}); delete them on X, then run 'carecast retry'", retryable=False,
                next_step_given=True)
        return self._receipt(draft, ids)

    def delete(self, receipt: Receipt) -> None:
        """Delete every part of the post, the last reply first; a post already gone is fine."""
        for remote_id in reversed(receipt.part_ids or (receipt.remote_id,)):
            self._delete_one(remote_id)

    def _delete_one(self, remote_id: str) -> None:
        try:
            self._call(lambda c, user: c.delete_tweet(remote_id, user_auth=user))
        except PlatformRejected as exc:
            if exc.status != 404:
                raise

    def _receipt(self, draft: Draft, ids: Sequence[str]) -> Receipt:
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=ids[0], url=POST_URL.format(id=ids[0]),
                       published_at=_snowflake_time(ids[0]) or datetime.fromtimestamp(
                           self.clock.time(), UTC), part_ids=tuple(ids))

    # -- reading -----------------------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        body = self._call(lambda c, user: c.get_me(user_auth=user, user_fields=[
            "description", "location", "url", "profile_image_url", "entities"]))
        data = body.get("data") or {}
        links = ((data.get("entities") or {}).get("url") or {}).get("urls") or []
        website = next((u.get("expanded_url") for u in links if u.get("expanded_url")),
                       data.get("url") or None)
        if data.get("id"):
            self._user_id = str(data["id"])
        return Profile(channel=self.name, account=self.account,
                       display_name=data.get("name"),
                       handle=f"@{data['username']}" if data.get("username") else None,
                       description=data.get("description") or None, website=website,
                       avatar_url=data.get("profile_image_url"),
                       location=data.get("location") or None,
                       extra={"id": data.get("id")} if data.get("id") else {})

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Posts that mention the account since ``since`` (up to 1,000), oldest first:
        replies to it and quotes of its posts carry the post they answer (``parent_id``)."""
        user_id = self._me()
        mentions: list[Mention] = []
        token: str | None = None
        for _ in range(10):
            page = functools.partial(
                _mentions_page, user_id=user_id, since=since, token=token)
            body = self._call(page)
            mentions.extend(self._found(body, user_id))
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                break
        return sorted(mentions, key=lambda m: m.created_at)

    def _found(self, body: dict[str, Any], user_id: str | None) -> list[Mention]:
        users = {u.get("id"): u.get("username")
                 for u in (body.get("includes") or {}).get("users") or []}
        found: list[Mention] = []
        for tweet in body.get("data") or []:
            author = users.get(tweet.get("author_id")) or str(tweet.get("author_id"))
            refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets") or []
                    if isinstance(r, dict)}
            kind: Literal["mention", "reply", "quote", "search"] = "search"
            if user_id is not None:
                kind = "reply" if tweet.get("in_reply_to_user_id") == user_id else \
                    "quote" if "quoted" in refs else "mention"
            parent = refs.get("replied_to") if kind == "reply" else \
                refs.get("quoted") if kind == "quote" else None
            found.append(Mention(
                channel=self.name, account=self.account, remote_id=str(tweet["id"]),
                author=f"@{author}", text=html.unescape(tweet.get("text", "")),
                url=f"https://x.com/{author}/status/{tweet['id']}",
                created_at=tweet.get("created_at") or _snowflake_time(str(tweet["id"])),
                kind=kind, parent_id=parent))
        return found

    def search_mentions(self, terms: Sequence[str], after: str | None, *,
                        limit: int | None = None) -> tuple[list[Mention], str | None]:
        """Recent posts (the last 7 days: ``GET /2/tweets/search/recent``) matching any of
        ``terms``, reposts left out, newer than the post id ``after``; oldest first, and the
        newest id. X bills each post read: at most ``limit`` are read (10 to 100 a page)."""
        query = " OR ".join(f'"{t}"' if " " in t else t for t in terms)
        query = f"({query}) -is:retweet" if len(terms) > 1 else f"{query} -is:retweet"
        if len(query) > _SEARCH_QUERY_MAX:
            raise self.error(PlatformRejected, (
                f"the search query is {len(query)} characters; X takes {_SEARCH_QUERY_MAX}: "
                "split the [listen.queries] entry in two"), status=400)
        found: list[Mention] = []
        newest = after
        token: str | None = None
        left = limit if limit is not None else 1000
        while left > 0:
            page = functools.partial(_search_page, query=query, since_id=after, token=token,
                                     size=max(10, min(100, left)))
            body = self._call(page)
            batch = self._found(body, None)[:left]
            found.extend(batch)
            left -= len(batch)
            meta = body.get("meta") or {}
            if newest is None or (meta.get("newest_id") and int(meta["newest_id"]) > int(newest)):
                newest = meta.get("newest_id") or newest
            token = meta.get("next_token")
            if not token or not batch:
                break
        return sorted(found, key=lambda m: m.created_at), newest

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Likes, reposts, replies and impressions of the post's first part; link clicks and
        profile clicks (``non_public_metrics``, the account's own posts only) while the post
        is in X's 30-day window for them."""
        fields = ["public_metrics"]
        age = self.clock.now() - receipt.published_at
        if age < NON_PUBLIC_WINDOW:
            fields.append("non_public_metrics")
        body = self._call(lambda c, user: c.get_tweet(
            receipt.remote_id, tweet_fields=fields, user_auth=user))
        data = body.get("data") or {}
        counts = data.get("public_metrics") or {}
        private = data.get("non_public_metrics") or {}
        extra: dict[str, Any] = {k: counts[k] for k in ("quote_count", "bookmark_count")
                                 if k in counts}
        if "user_profile_clicks" in private:
            extra["profile_clicks"] = private["user_profile_clicks"]
        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=datetime.fromtimestamp(self.clock.time(), UTC),
                       likes=counts.get("like_count"), reposts=counts.get("retweet_count"),
                       replies=counts.get("reply_count"),
                       impressions=private.get("impression_count",
                                               counts.get("impression_count")),
                       clicks=private.get("url_link_clicks"), extra=extra)

    def fetch_account_metrics(self) -> AccountMetrics:
        """Followers, following and posts of the account (``GET /2/users/me``
        ``public_metrics``)."""
        body = self._call(lambda c, user: c.get_me(user_auth=user,
                                                   user_fields=["public_metrics"]))
        counts = (body.get("data") or {}).get("public_metrics") or {}
        return AccountMetrics(channel=self.name, account=self.account,
                              fetched_at=datetime.fromtimestamp(self.clock.time(), UTC),
                              followers=counts.get("followers_count"),
                              following=counts.get("following_count"),
                              posts=counts.get("tweet_count"),
                              extra={"listed": counts["listed_count"]}
                              if "listed_count" in counts else {})

    def update_profile(self, changes: ProfileChanges) -> None:
        """Name, description, website and location through v1.1 ``account/update_profile``;
        the avatar through ``account/update_profile_image``.

        X has no v2 profile update, and v1.1 takes OAuth 1.0a user context only.
        """
        where = f"accounts.{self.account}"
        if not self._oauth1:
            raise ConfigurationError(
                f"{where}: X changes a profile only with OAuth 1.0a user credentials "
                "(consumer_key, consumer_secret, access_token, access_token_secret)")
        unknown = [f for f in changes.fields() if f not in self.profile_fields]
        if unknown:
            raise self.error(
                PlatformRejected, f"X's API cannot change the profile's {unknown[0]}; change "
                                   "it by hand")
        data: dict[str, str] = {}
        for field, (param, limit) in PROFILE_PARAMS.items():
            value = getattr(changes, field)
            if value is None:
                continue
            if len(value) > limit:
                raise self.error(
                    PlatformRejected,
                    f"profile {field}: {len(value)} characters is over X's limit of {limit}; "
                    "shorten it")
            data[param] = value
        image = self._profile_image(changes.avatar) if changes.avatar else None
        if data:
            self._media_request("POST", PROFILE_UPDATE, data={**data, "skip_status": "true"})
        if image is not None:
            self._media_request("POST", PROFILE_IMAGE, files={"image": image},
                                data={"skip_status": "true"})

    def _profile_image(self, path: Path) -> tuple[str, bytes, str]:
        data = avatar_bytes(self, path)
        if len(data) > MAX_PROFILE_IMAGE:
            raise self.error(
                PlatformRejected,
                f"profile avatar: {len(data)} bytes is over X's limit of {MAX_PROFILE_IMAGE} "
                "bytes; use a smaller PNG or JPEG")
        return path.name, data, mimetypes.guess_type(path.name)[0] or "image/png"

    def _me(self) -> str:
        """The account's numeric id: from the OAuth 1.0a token, the options or users/me."""
        if self._user_id is None:
            if self._oauth1:
                self._user_id = self.options.access_token.get_secret_value().partition("-")[0]
            else:
                body = self._call(lambda c, user: c.get_me(user_auth=user))
                found = _data(body).get("id")
                if not found:
                    raise self.error(
                        PlatformRejected,
                        f"X's users/me answer holds no id; set accounts.{self.account}.user_id")
                self._user_id = str(found)
        return self._user_id

    # -- calls through tweepy ----------------------------------------------------------------

    def _call(self, call: Callable[[Any, bool], Any]) -> dict[str, Any]:
        """One tweepy ``Client`` call (given the client and ``user_auth``), errors mapped."""
        def once() -> dict[str, Any]:
            tweepy = _tweepy()
            failure: Exception | None = None
            try:
                result = call(self._tweepy_client(), self._oauth1)
            except (tweepy.TweepyException, requests.RequestException) as exc:
                failure = exc
            if failure is not None:  # raised here: tweepy's message and chain stay hidden
                raise self._error(failure)
            return result if isinstance(result, dict) else {}

        return self._refreshing(once)

    def _tweepy_client(self) -> Any:
        with self._lock:
            if self._client is None:
                tweepy = _tweepy()
                if self._oauth1:
                    client = tweepy.Client(
                        consumer_key=_plain(self.options.consumer_key),
                        consumer_secret=_plain(self.options.consumer_secret),
                        access_token=self.options.access_token.get_secret_value(),
                        access_token_secret=_plain(self.options.access_token_secret),
                        return_type=dict, wait_on_rate_limit=False)
                else:
                    client = tweepy.Client(bearer_token=self._access.get_secret_value(),
                                           return_type=dict, wait_on_rate_limit=False)
                client.session = _Timed(self.session, self._timeout())
                self._client = client
            return self._client

    def _timeout(self) -> tuple[float, float]:
        return (self.options.connect_timeout, self.options.timeout)

    def _error(self, exc: Exception) -> ChannelError:
        response = getattr(exc, "response", None)
        if isinstance(response, requests.Response):
            return self._status_error(response)
        return transport_error(exc, channel=self.name, account=self.account)

    def _status_error(self, response: requests.Response) -> ChannelError:
        """The carecast error for an X error answer, with X's reason (never the post text)."""
        status, detail = response.status_code, _detail(response)
        reason = f" ({detail})" if detail else ""
        cls: type[ChannelError] | None = None
        message: str | None = None
        if status == 401:
            renew = ("authorize the app again (scopes tweet.read tweet.write users.read "
                     "media.write offline.access)" if not self._oauth1 else
                     "regenerate the access token and secret in the X developer portal")
            message = (f"X refused the credentials{reason}; {renew} and update "
                       f"accounts.{self.account}")
        elif status == 403 and "duplicate" in detail.lower():
            cls = DuplicatePost
        elif status == 403 and ACCESS_LEVEL_CODE in _codes(response):
            message = ACCESS_LEVEL_MESSAGE.format(code=ACCESS_LEVEL_CODE, said=reason)
        return self.error(cls, message, response=response, said=reason,
                          retry_after=_rate_reset(response.headers, self.clock.time()))

    # -- OAuth 2.0 refresh -------------------------------------------------------------------

    def _refreshing(self, call: Callable[[], T]) -> T:
        """Run ``call``; on a 401 with a refresh token, refresh once and run it again."""
        stale = self._access
        try:
            return call()
        except AuthenticationError:
            if self._refresh is None or self._oauth1:
                raise
        self._refresh_tokens(stale)
        return call()

    def _refresh_tokens(self, stale: SecretStr) -> None:
        with self._lock:
            if self._access is not stale:  # another thread refreshed meanwhile
                return
            assert self._refresh is not None
            client_id = self.options.client_id or ""
            secret = self.options.client_secret
            try:
                response = send(
                    self.session, "POST", TOKEN_URL, channel=self.name, account=self.account,
                    timeout=self._timeout(), now=self.clock.time,
                    data={"grant_type": "refresh_token", "client_id": client_id,
                          "refresh_token": self._refresh.get_secret_value()},
                    auth=(client_id, secret.get_secret_value()) if secret else None)
                data = response.json()
            except OutcomeUnknown:
                error: ChannelError | None = self.error(
                    ChannelConnectionError,
                    "the OAuth 2.0 token refresh got no answer from X; if it keeps failing, "
                    "authorize the app again")
            except (PlatformRejected, AuthenticationError, ValueError) as exc:
                status = exc.status if isinstance(exc, ChannelError) else None
                error = self.error(
                    AuthenticationError,
                    "X refused to refresh the OAuth 2.0 token; authorize the app again and "
                    f"update accounts.{self.account}.access_token and refresh_token", status=status)
            else:
                error = None
            if error is not None:
                raise error
            if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
                raise self.error(
                    AuthenticationError,
                    "X's token refresh answer holds no access token; authorize the app again")
            self._access = SecretStr(data["access_token"])
            if isinstance(data.get("refresh_token"), str):
                self._refresh = SecretStr(data["refresh_token"])
            remember(self._access, self._refresh)
            self._client = None
            expires = data.get("expires_in")
            tokens = XTokens(self._access, self._refresh, datetime.fromtimestamp(
                self.clock.time() + expires, UTC) if isinstance(expires, int | float) else None)
        log.info("account %s: the X OAuth 2.0 token was refreshed", self.account)
        if self.on_token_refresh is not None:
            try:
                self.on_token_refresh(tokens)
            except Exception as exc:  # the user's store failed: keep posting with the new token
                log.error("account %s: on_token_refresh raised %s; the new tokens are only in "
                          "memory", self.account, type(exc).__name__)

    # -- media -------------------------------------------------------------------------------

    def _upload(self, item: Media, index: int) -> str:
        """Upload one media item and set its alt text; the media id.

        No post exists yet, so a failure here is never an unknown outcome.
        """
        failure: ChannelError | None = None
        try:
            with self._media_file(item, index) as (handle, size):
                mime = item.mime_type
                if item.kind is MediaKind.IMAGE and mime in SIMPLE_TYPES:
                    media_id = self._upload_simple(item, handle, mime)
                else:
                    assert item.kind is not None
                    media_id = self._upload_chunked(handle, size, mime, _CATEGORY[item.kind],
                                                    index)
            if item.alt_text:
                self._media_request("POST", MEDIA_METADATA, json={
                    "id": media_id, "metadata": {"alt_text": {"text": item.alt_text}}})
        except OutcomeUnknown:
            failure = self.error(
                ChannelConnectionError,
                f"uploading media[{index}] failed in transit; no post was made")
        except ChannelServerError as exc:  # an upload makes no post: nothing to reconcile
            failure = exc.replace(may_have_been_sent=False)
        if failure is not None:
            raise failure
        return media_id

    def _upload_simple(self, item: Media, handle: BinaryIO, mime: str) -> str:
        body = self._media_request("POST", MEDIA_UPLOAD, files={
            "media": (item.filename, handle, mime)},
            data={"media_category": "tweet_image", "media_type": mime})
        return _media_id(body, self)

    def _upload_chunked(self, handle: BinaryIO, size: int, mime: str, category: str,
                        index: int) -> str:
        body = self._media_request("POST", f"{MEDIA_UPLOAD}/initialize", json={
            "media_type": mime, "total_bytes": size, "media_category": category})
        media_id = _media_id(body, self)
        segment = 0
        while chunk := handle.read(self.chunk_size):
            self._media_request("POST", f"{MEDIA_UPLOAD}/{media_id}/append",
                                files={"media": ("chunk", chunk, "application/octet-stream")},
                                data={"segment_index": str(segment)})
            segment += 1
        body = self._media_request("POST", f"{MEDIA_UPLOAD}/{media_id}/finalize")
        self._await_processing(media_id, body, index)
        return media_id

    def _await_processing(self, media_id: str, body: dict[str, Any], index: int) -> None:
        """Poll STATUS, waiting ``check_after_secs`` each time, until X has processed it."""
        waited = 0.0
        info = _data(body).get("processing_info") or {}
        while info.get("state") in ("pending", "in_progress"):
            wait = max(1.0, float(info.get("check_after_secs") or 1))
            if waited + wait > self.options.max_processing_wait:
                raise self.error(
                    ChannelTimeout,
                    f"X was still processing media[{index}] after {waited:.0f} s; no post was "
                    "made: try again later or raise max_processing_wait")
            self.clock.sleep(wait)
            waited += wait
            body = self._media_request("GET", MEDIA_UPLOAD,
                                       params={"command": "STATUS", "media_id": media_id})
            info = _data(body).get("processing_info") or {}
        if info.get("state") == "failed":
            problem = info.get("error") or {}
            reason = problem.get("message") or problem.get("name") or "no reason given"
            raise self.error(PlatformRejected, f"X could not process media[{index}]: {reason}")

    def _media_request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """A media endpoint call, signed the way tweepy signs (OAuth 1.0a) or with the token."""
        def once() -> dict[str, Any]:
            for value in (kwargs.get("files") or {}).values():
                if hasattr(value[1], "seek"):
                    value[1].seek(0)  # a retried upload sends the file again
            headers = {"User-Agent": "carecast"}
            auth = None
            if self._oauth1:
                auth = _tweepy().OAuth1UserHandler(
                    _plain(self.options.consumer_key), _plain(self.options.consumer_secret),
                    self.options.access_token.get_secret_value(),
                    _plain(self.options.access_token_secret)).apply_auth()
            else:
                headers["Authorization"] = f"Bearer {self._access.get_secret_value()}"
            failure: requests.RequestException | None = None
            try:
                response = self.session.request(method, url, headers=headers, auth=auth,
                                                timeout=self._timeout(), allow_redirects=False,
                                                **kwargs)
            except requests.RequestException as exc:
                failure = exc
            if failure is not None:
                raise transport_error(failure, channel=self.name, account=self.account)
            if response.status_code >= 300:
                raise self._status_error(response)
            try:
                body = response.json() if response.content else {}
            except ValueError:
                body = {}
            return body if isinstance(body, dict) else {}

        return self._refreshing(once)

    def _media_file(self, item: Media, index: int
                    ) -> AbstractContextManager[tuple[BinaryIO, int]]:
        """The item's bytes as an open file and its size; a URL is downloaded first."""
        return media_file(item, root=self.root, channel=self.name, account=self.account,
                          rules=self.media_rules,
                          field=f"media[{index}]", timeout=self.options.timeout,
                          cap=self.max_media_bytes.get(item.kind or MediaKind.IMAGE))


# -- X's answers -----------------------------------------------------------------------------


def _mentions_page(client: Any, user: bool, *, user_id: str, since: datetime,
                   token: str | None) -> Any:
    return client.get_users_mentions(
        user_id, start_time=since, max_results=100, pagination_token=token,
        tweet_fields=["created_at", "author_id", "in_reply_to_user_id", "referenced_tweets"],
        expansions=["author_id"], user_fields=["username"], user_auth=user)


def _search_page(client: Any, user: bool, *, query: str, since_id: str | None,
                 token: str | None, size: int) -> Any:
    return client.search_recent_tweets(
        query, since_id=since_id, max_results=size, next_token=token,
        tweet_fields=["created_at", "author_id", "in_reply_to_user_id", "referenced_tweets"],
        expansions=["author_id"], user_fields=["username"], user_auth=user)


def _plain(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _data(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data", body)
    return data if isinstance(data, dict) else {}


def _id_of(body: dict[str, Any], channel: XChannel) -> str:
    """The new post's id; a 2xx without one is no proof of anything."""
    remote_id = _data(body).get("id")
    if not remote_id:
        raise OutcomeUnknown("X answered without a post id; it may have stored the post",
                             channel=channel.name, account=channel.account)
    return str(remote_id)


def _media_id(body: dict[str, Any], channel: XChannel) -> str:
    media_id = _data(body).get("id")
    if not media_id:
        raise PlatformRejected("X's media upload answered without a media id",
                               channel=channel.name, account=channel.account)
    return str(media_id)


def _codes(response: requests.Response) -> set[int]:
    """The numeric ``errors[].code`` values of a v1.1 error body."""
    try:
        body = response.json()
    except ValueError:
        return set()
    errors = body.get("errors") if isinstance(body, dict) else None
    return {e["code"] for e in errors or () if isinstance(e, dict)
            and isinstance(e.get("code"), int)} if isinstance(errors, list) else set()


def _detail(response: requests.Response) -> str:
    """X's reason from a problem body (``detail``, ``title``, ``errors[].message``), short."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    bits = [str(body[k]) for k in ("detail", "title", "error_description", "error")
            if isinstance(body.get(k), str)][:1]
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            text = error.get("message") or error.get("detail")
            if isinstance(text, str) and text not in bits:
                bits.append(text)
    text = "; ".join(bits)
    return text if len(text) <= 300 else text[:297] + "..."


def _rate_reset(headers: Any, now: float) -> float | None:
    """Seconds until X takes requests again: the latest reset among the spent windows.

    ``x-rate-limit-*`` is the 15-minute window; ``x-user-limit-24hour-*`` and
    ``x-app-limit-24hour-*`` are the daily caps on posting.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    resets: list[float] = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        try:
            reset = float(lower[f"{prefix}-reset"])
        except (KeyError, ValueError):
            continue
        spent = lower.get(f"{prefix}-remaining", "0").strip() == "0"
        if prefix == "x-rate-limit" or spent:
            resets.append(reset)
    return max(0.0, max(resets) - now) if resets else None


def _snowflake_time(remote_id: str) -> datetime | None:
    """When X made a post, from its id (a snowflake: milliseconds since X's epoch << 22)."""
    try:
        millis = (int(remote_id) >> 22) + _SNOWFLAKE_EPOCH_MS
    except ValueError:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _posted_text(tweet: dict[str, Any]) -> str:
    """A post's text with X's t.co links put back as URLs and its media links dropped."""
    text = str(tweet.get("text", ""))
    for entity in (tweet.get("entities") or {}).get("urls") or []:
        short = entity.get("url")
        if not short:
            continue
        if entity.get("media_key") or str(entity.get("display_url", "")).startswith("pic."):
            text = text.replace(f" {short}", "").replace(short, "")
        else:
            text = text.replace(short, entity.get("expanded_url") or short)
    return html.unescape(text)


def _comparable(text: str) -> str:
    """Text as X may give it back: NFC, trimmed, each URL as a placeholder (X rewrites them)."""
    text = unicodedata.normalize("NFC", text).strip()
    for url in sorted(set(_urls(text)), key=len, reverse=True):
        text = text.replace(url, "\x00url\x00")
    return text


def _replies_to(tweet: dict[str, Any]) -> str | None:
    for ref in tweet.get("referenced_tweets") or []:
        if ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None
