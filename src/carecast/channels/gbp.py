"""Google Business Profile: local posts for each location, and special hours.

A post goes to every location of the account (the list read with the Business Information
API's ``accounts.locations.list`` and a ``readMask``, or the ids the account names) as a local
post (``POST v4/accounts/{a}/locations/{l}/localPosts``): what's new (``STANDARD``), an
``EVENT`` or an ``OFFER``, with a call to action and a photo or video fetched from its URL.
The locations are sent all or nothing, as a thread's parts are (``channels/thread.py``): when
one fails, the posts already made are deleted and the error is raised.

Special hours (a holiday or an emergency closure, the post a hospital needs during a storm)
are a post kind (``overrides.gbp.options.kind = "special_hours"``): each location's
``specialHours`` is read, the new periods replace those on the same dates, and the result is
written with ``locations.patch`` and ``updateMask=specialHours``. Writing the same hours
twice changes nothing, so a resend after an unknown outcome is safe.

Reviews are read and answered too (``fetch_mentions``, ``reply``): each location's
``accounts.locations.reviews`` (the v4 API), newest change first (``orderBy=updateTime
desc``, 50 a page) back to the time asked for, as mentions of kind ``review`` with their
stars; a reply is ``PUT .../reviews/{id}/reply`` with ``{"comment": ...}``. Google keeps one
reply per review and a PUT replaces it, so a resend after an unknown outcome overwrites the
same reply instead of adding a second; ``lookup_reply`` reads the review's ``reviewReply``.

Credentials are OAuth 2.0 user credentials, as for YouTube: google-auth refreshes the access
token from the refresh token (the ``business.manage`` scope); an access token got elsewhere
(a secret manager) may be given instead. Google's error JSON is mapped by its canonical
``status`` (``INVALID_ARGUMENT``, ``PERMISSION_DENIED``, ``RESOURCE_EXHAUSTED`` ...) and
``reason``, naming the field a ``BadRequest`` or ``ValidationError`` detail names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from carecast.channels.base import Channel, ChannelOptions, post_options
from carecast.channels.http import new_session
from carecast.channels.http import request as http_request
from carecast.channels.thread import send_thread
from carecast.channels.youtube import TOKEN_URI
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ConfigurationError,
    DuplicatePost,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Draft, MediaKind, Mention, Post, Profile, Receipt

__all__ = ["GoogleBusinessChannel", "GoogleBusinessOptions", "LocalPostOptions",
           "SpecialHoursPeriod", "google_error"]

POSTS_URL = "https://mybusiness.googleapis.com/v4"
INFO_URL = "https://mybusinessbusinessinformation.googleapis.com/v1"
SCOPES = ("https://www.googleapis.com/auth/business.manage",)
MAX_SUMMARY = 1500
#: A review reply's limit (``ReviewReply.comment``: 4096 bytes of UTF-8).
MAX_REPLY = 4096
#: Reviews a page (``reviews.list`` takes 50 at most), and pages read a location a round.
REVIEW_PAGE = 50
REVIEW_PAGES = 200
#: ``StarRating`` as stars.
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
MAX_EVENT_TITLE = 58
MB = 1024 * 1024
#: What a location's profile is read with, for the brand audit.
PROFILE_MASK = "name,title,phoneNumbers,websiteUri,storefrontAddress,metadata"
#: Google answers a used-up quota (300 requests a minute) without a wait: a minute.
QUOTA_WAIT = 60.0
#: An access token is renewed this many seconds before Google says it expires.
EARLY = 60.0
_ID = r"^\d{1,30}$"
#: A review's resource name: ``accounts/{a}/locations/{l}/reviews/{id}``.
_REVIEW = re.compile(r"^accounts/(\d{1,30})/locations/(\d{1,30})/reviews/([\w-]{1,240})$",
                     re.ASCII)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
#: Canonical Google error statuses and the carecast class each means.
STATUS_OF = {
    "INVALID_ARGUMENT": PlatformRejected, "FAILED_PRECONDITION": PlatformRejected,
    "OUT_OF_RANGE": PlatformRejected, "NOT_FOUND": PlatformRejected,
    "UNIMPLEMENTED": PlatformRejected, "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDenied, "ALREADY_EXISTS": DuplicatePost,
    "ABORTED": ChannelServerError, "RESOURCE_EXHAUSTED": RateLimited,
    "INTERNAL": ChannelServerError, "UNAVAILABLE": ChannelServerError,
    "DEADLINE_EXCEEDED": ChannelServerError, "UNKNOWN": ChannelServerError,
}
#: What to do, by the ``reason`` of an ``ErrorInfo`` detail.
REASON_HINTS = {
    "SERVICE_DISABLED": "enable the API in the Google Cloud project of the OAuth client",
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT": "authorise again with the business.manage scope",
    "RATE_LIMIT_EXCEEDED": "the project's quota is used up (300 requests a minute; a quota "
                           "of 0 means the project has no Business Profile API access yet)",
    "THROTTLED": "too many edits to this profile (10 a minute at most)",
    "PIN_DROP_REQUIRED": "the location's map pin must be placed in Business Profile Manager",
    "STALE_DATA": "the location changed meanwhile; retry",
}

Topic = Literal["STANDARD", "EVENT", "OFFER"]
Action = Literal["BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL"]


class SpecialHoursPeriod(BaseModel):
    """One special-hours period: closed all day, or open from ``opens`` to ``closes``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_date: date
    end_date: date | None = Field(default=None, description="The last day; the start day "
                                  "if unset.")
    closed: bool = True
    opens: time | None = None
    closes: time | None = None

    @model_validator(mode="after")
    def _times(self) -> SpecialHoursPeriod:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if self.closed and (self.opens or self.closes):
            raise ValueError("a closed period has no opens or closes; set closed = false")
        if not self.closed and not (self.opens and self.closes):
            raise ValueError("an open period needs both opens and closes (such as 09:00)")
        return self

    def google(self) -> dict[str, Any]:
        """The period as a ``SpecialHourPeriod`` of the Business Information API."""
        body: dict[str, Any] = {"startDate": _date(self.start_date),
                                "endDate": _date(self.end_date or self.start_date)}
        if self.closed:
            body["closed"] = True
        else:
            assert self.opens is not None
            assert self.closes is not None
            body.update(openTime=_time(self.opens), closeTime=_time(self.closes))
        return body


class LocalPostOptions(BaseModel):
    """``overrides.gbp.options``: what kind of post, and its event, offer or hours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["post", "special_hours"] = "post"
    topic: Topic = "STANDARD"
    action: Action | None = Field(default=None, description="The button; LEARN_MORE with "
                                  "the post's link when it has one.")
    action_url: str | None = Field(default=None, pattern=r"^https?://")
    event_title: str | None = Field(default=None, min_length=1, max_length=MAX_EVENT_TITLE)
    starts: date | datetime | None = Field(default=None, description="A date (all day) or a "
                                           "local date and time.")
    ends: date | datetime | None = None
    coupon_code: str | None = None
    redeem_url: str | None = Field(default=None, pattern=r"^https?://")
    terms: str | None = None
    special_hours: tuple[SpecialHoursPeriod, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> LocalPostOptions:
        if self.kind == "special_hours":
            if not self.special_hours:
                raise ValueError("kind special_hours needs special_hours = [{start_date = "
                                 "2026-12-25, closed = true}]")
            return self
        if self.topic in ("EVENT", "OFFER") and not (self.starts and self.ends):
            raise ValueError(f"a {self.topic} post needs starts and ends")
        if self.starts and self.ends and _as_datetime(self.ends) < _as_datetime(self.starts):
            raise ValueError("ends is before starts")
        if self.action == "CALL" and self.action_url:
            raise ValueError("a CALL button calls the location's phone; leave action_url out")
        return self


class GoogleBusinessOptions(ChannelOptions):
    """Settings of a Google Business Profile account (a business with its locations)."""

    account_id: str = Field(pattern=_ID, description="The account's number, from "
                            "accounts/{account_id} in the Account Management API.")
    locations: tuple[str, ...] = Field(default=(), description="Location ids to post to; "
                                       "every location of the account when empty.")
    client_id: str | None = Field(default=None,
                                  description="OAuth client id of your Google Cloud project.")
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = Field(
        default=None, description="The profile owner's refresh token, granted the "
        "business.manage scope.")
    access_token: SecretStr | None = Field(
        default=None, description="An access token got elsewhere, instead of the refresh "
        "token (it lasts an hour).")
    language_code: str = Field(default="en-US", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    timeout: float = Field(default=30.0, gt=0, le=600)
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    lookup_limit: int = Field(default=100, ge=1, le=1000,
                              description="Local posts read per location by lookup.")

    @model_validator(mode="after")
    def _credentials(self) -> GoogleBusinessOptions:
        for location in self.locations:
            if not re.match(_ID, location):
                raise ValueError(f"locations: {location!r} is not a location id (digits, "
                                 "from locations/{id})")
        oauth = (self.client_id, self.client_secret, self.refresh_token)
        if self.access_token is None and not all(oauth):
            raise ValueError("give client_id, client_secret and refresh_token (or an "
                             "access_token) as docs/channels/gbp.md shows")
        return self


def _date(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def _time(moment: time) -> dict[str, int]:
    return {"hours": moment.hour, "minutes": moment.minute}


def _as_datetime(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


def _google_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``2026-12-03T15:04:05.123Z``) as an aware datetime."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def google_error(response: requests.Response, channel: Channel, *, renew: str) -> ChannelError:
    """The carecast error for a failed Google API answer, from its error JSON.

    ``{"error": {"code", "message", "status", "details": [...]}}``: the class by ``status``
    (else the HTTP status), the hint by an ``ErrorInfo`` ``reason``, the field a
    ``BadRequest`` ``fieldViolations`` or a Business Profile ``ValidationError`` names, and
    the wait a ``RetryInfo`` gives.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return channel.error(response=response)
    status = str(err.get("status") or "")
    said = str(err.get("message") or "no message")[:300]
    reason, fields, wait = _details(err.get("details"))
    cls = STATUS_OF.get(status)
    if cls is None and response.status_code in (401, 403, 429):
        cls = channel.status_table().get(response.status_code)
    tag = ", ".join(x for x in (status, reason) if x) or f"HTTP {response.status_code}"
    hint = REASON_HINTS.get(reason or "")
    if cls is AuthenticationError:
        text = f"Google refused the access token ({tag}); {renew}"
    elif cls is PermissionDenied:
        text = (f"the credentials may not do this ({tag}): {hint or said}; the Google account "
                "must own or manage the location, with the business.manage scope")
    elif cls is RateLimited:
        text = f"rate limited by Google ({tag}): {hint or said}"
    elif fields:
        text = f"Google refused the field(s) {', '.join(fields)} ({tag}): {said}"
    else:
        text = f"Google refused the request ({tag}): {hint or said}"
    return channel.error(cls, text, response=response, code=reason or status or None,
                         retry_after=wait if cls is RateLimited else None)


def _details(details: Any) -> tuple[str | None, list[str], float | None]:
    reason: str | None = None
    fields: list[str] = []
    wait: float | None = None
    for item in details if isinstance(details, list) else []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("@type") or "")
        if kind.endswith("google.rpc.ErrorInfo") and item.get("reason"):
            reason = str(item["reason"])[:80]
        elif kind.endswith("google.rpc.BadRequest"):
            fields += [str(v.get("field"))[:80] for v in item.get("fieldViolations") or []
                       if isinstance(v, dict) and v.get("field")]
        elif kind.endswith("ValidationError"):
            fields += [str(v.get("field"))[:80] for v in item.get("errorDetails") or []
                       if isinstance(v, dict) and v.get("field")]
        elif kind.endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(item.get("retryDelay") or ""))
            wait = float(match.group(1)) if match else None
    return reason, fields, wait


class GoogleBusinessChannel(Channel):
    """Publish local posts and special hours to every location of a Business Profile."""

    name: ClassVar[str] = "gbp"
    title: ClassVar[str] = "Google Business Profile"
    Options = GoogleBusinessOptions
    max_text: ClassVar[int | None] = MAX_SUMMARY
    #: A review reply's limit (``render_reply`` also counts its UTF-8 bytes).
    max_reply_text = MAX_REPLY
    max_media = 1
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    #: Google's photo and video guidelines for Business Profile media.
    max_media_bytes = {MediaKind.IMAGE: 5 * MB, MediaKind.VIDEO: 75 * MB}
    #: Each location is one call; 10 edits a minute per profile, 300 requests a minute.
    per_account: ClassVar[int] = 1
    per_host: ClassVar[int] = 4
    rate_limits_by: ClassVar[str] = "host"
    api_host: ClassVar[str | None] = "mybusiness.googleapis.com"
    extra: ClassVar[str | None] = "gbp"
    packages: ClassVar[tuple[str, ...]] = ("google.auth",)
    notes: ClassVar[tuple[str, ...]] = (
        "The Google Cloud project needs Business Profile API access (Google grants it on "
        "request) and the My Business Business Information API enabled.",
        "Google fetches media by URL: give photos and videos as https URLs.",
        "Special hours: overrides.gbp.options.kind = 'special_hours' with special_hours "
        "periods; the post's text is not sent with them.",
    )
    options: GoogleBusinessOptions

    def __init__(self, account: str, options: ChannelOptions, **kwargs: Any) -> None:
        session = kwargs.pop("session", None)
        super().__init__(account, options, session=session or new_session(), **kwargs)
        self.owns_session = session is None
        self._credentials: Any = None
        self._token_until = 0.0
        self._renew = (f"authorise again as docs/channels/gbp.md shows and update "
                       f"accounts.{account}.refresh_token")

    # -- render ------------------------------------------------------------------------------

    def compose(self, text: str, *, link: str | None, hashtags: Any) -> str:
        """The post's text and hashtags; the link goes on the post's button, not in it."""
        return super().compose(text, link=None, hashtags=hashtags)

    def render(self, post: Post) -> Draft:
        """The base draft, with the local post's options checked and media given by URL."""
        draft = super().render(post)
        resolved = self.override_of(post)
        where = f"{resolved.where}." if resolved.given is not None else ""
        options = post_options(LocalPostOptions, draft.options, f"{where}options", self.name)
        if options.kind == "post":
            if not draft.text.strip():
                raise LimitExceeded(
                    f"{where}text: a Business Profile post needs text; write the update, or "
                    f"give overrides.{self.name}.options.kind = 'special_hours'",
                    field=f"{where}text", limit="required", value="missing")
            title = options.event_title or draft.title
            if options.topic != "STANDARD":
                if not title:
                    raise InvalidPost(
                        f"{where}options.event_title: a {options.topic} post needs a title; "
                        "give event_title or the post's title",
                        [(f"{where}options.event_title", "missing")])
                if len(title) > MAX_EVENT_TITLE:
                    raise LimitExceeded(
                        f"title: {len(title)} characters is over Google's limit of "
                        f"{MAX_EVENT_TITLE} for an event or offer title; shorten it or give "
                        f"overrides.{self.name}.options.event_title",
                        field="title", limit=MAX_EVENT_TITLE, value=len(title))
            if options.action not in (None, "CALL") and not (options.action_url or post.link):
                raise InvalidPost(
                    f"{where}options.action_url: the {options.action} button needs a URL; "
                    "give action_url or the post's link",
                    [(f"{where}options.action_url", "missing")])
        for i, item in enumerate(draft.media):
            if not item.is_url:
                field = f"media[{i}].source"
                raise InvalidPost(
                    f"{field}: Google fetches a post's media by URL; give the photo or video "
                    "as an https URL (a local file cannot be uploaded to a local post)",
                    [(field, "local file")])
        return draft

    # -- publish -----------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        options = LocalPostOptions.model_validate(draft.options)
        locations = self._location_ids()
        if options.kind == "special_hours":
            return self._publish_hours(draft, options, locations)
        body = self._local_post(draft, options)
        urls: dict[int, str] = {}

        def create(index: int, _part: Any, _previous: str | None) -> str:
            made = self._call("POST", f"{POSTS_URL}/{self._location_path(locations[index])}"
                                      "/localPosts", json=body)
            if isinstance(made.get("searchUrl"), str):
                urls[index] = made["searchUrl"]
            return str(made["name"])

        names = send_thread([draft.parts[0]] * len(locations), create, undo=self._delete_post)
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=names[0], url=urls.get(0), part_ids=tuple(names),
                       published_at=self.clock.now(),
                       extra={"kind": "post", "locations": list(locations)})

    def _local_post(self, draft: Draft, options: LocalPostOptions) -> dict[str, Any]:
        """The ``LocalPost`` JSON of the draft."""
        body: dict[str, Any] = {"languageCode": draft.language or self.options.language_code,
                                "summary": draft.text, "topicType": options.topic}
        action = options.action or ("LEARN_MORE" if draft.link else None)
        if action and options.topic != "OFFER":
            button: dict[str, Any] = {"actionType": action}
            if action != "CALL":
                button["url"] = options.action_url or draft.link
            body["callToAction"] = button
        if options.topic != "STANDARD":
            assert options.starts is not None  # LocalPostOptions checks
            assert options.ends is not None
            body["event"] = {"title": options.event_title or draft.title,
                             "schedule": _schedule(options.starts, options.ends)}
        if options.topic == "OFFER":
            offer = {"couponCode": options.coupon_code,
                     "redeemOnlineUrl": options.redeem_url or draft.link,
                     "termsConditions": options.terms}
            body["offer"] = {k: v for k, v in offer.items() if v}
        if draft.media:
            item = draft.media[0]
            body["media"] = [{"mediaFormat": "VIDEO" if item.kind is MediaKind.VIDEO
                              else "PHOTO", "sourceUrl": item.source}]
        return body

    def _publish_hours(self, draft: Draft, options: LocalPostOptions,
                       locations: list[str]) -> Receipt:
        """Write the special hours on every location; idempotent, so no rollback."""
        ours = [p.google() for p in options.special_hours]
        for location in locations:
            current = self._special_hours(location)
            kept = [p for p in current if not any(_same_days(p, o) for o in ours)]
            self._set_special_hours(location, [*kept, *ours])
        return self._hours_receipt(draft, options, locations, reconciled=False)

    def _hours_receipt(self, draft: Draft, options: LocalPostOptions, locations: list[str],
                       *, reconciled: bool) -> Receipt:
        first = options.special_hours[0].start_date.isoformat()
        ids = tuple(f"locations/{loc}/specialHours/{first}" for loc in locations)
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=ids[0], part_ids=ids, published_at=self.clock.now(),
                       reconciled=reconciled,
                       extra={"kind": "special_hours", "locations": list(locations),
                              "periods": [p.google() for p in options.special_hours]})

    def _special_hours(self, location: str) -> list[dict[str, Any]]:
        found = self._call("GET", f"{INFO_URL}/locations/{location}",
                           params={"readMask": "specialHours"})
        hours = found.get("specialHours") if isinstance(found.get("specialHours"), dict) else {}
        periods = hours.get("specialHourPeriods") if isinstance(hours, dict) else None
        return [p for p in periods or [] if isinstance(p, dict)]

    def _set_special_hours(self, location: str, periods: list[dict[str, Any]]) -> None:
        self._call("PATCH", f"{INFO_URL}/locations/{location}",
                   params={"updateMask": "specialHours"},
                   json={"specialHours": {"specialHourPeriods": periods}})

    def _delete_post(self, name: str) -> None:
        self._call("DELETE", f"{POSTS_URL}/{name}")

    # -- locations ---------------------------------------------------------------------------

    def _location_path(self, location: str) -> str:
        return f"accounts/{self.options.account_id}/locations/{location}"

    def _location_ids(self) -> list[str]:
        """The account's locations: the ids configured, else every one it lists."""
        if self.options.locations:
            return list(self.options.locations)
        ids = [str(loc.get("name", "")).rsplit("/", 1)[-1]
               for loc in self._locations("name")]
        ids = [i for i in ids if re.match(_ID, i)]
        if not ids:
            raise self.error(PlatformRejected,
                             f"the Business Profile account {self.options.account_id} lists no "
                             "locations; add or verify one, or check account_id")
        return ids

    def _locations(self, mask: str) -> Iterator[dict[str, Any]]:
        """``accounts.locations.list`` with ``readMask``, every page."""
        token: str | None = None
        for _ in range(1000):  # 100 a page: 100,000 locations at most
            params = {"readMask": mask, "pageSize": 100, **({"pageToken": token} if token
                                                            else {})}
            page = self._call("GET", f"{INFO_URL}/accounts/{self.options.account_id}"
                                     "/locations", params=params)
            for item in page.get("locations") or []:
                if isinstance(item, dict):
                    yield item
            token = page.get("nextPageToken") if isinstance(page.get("nextPageToken"),
                                                            str) else None
            if not token:
                return

    # -- reconcile, delete, read -------------------------------------------------------------

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The post (or the hours) on every location, found by what it says.

        A local post is matched by its exact summary among each location's posts made since
        the send; special hours by their periods. A post found on only some locations raises
        a non-retryable ``OutcomeUnknown`` naming how many: a person decides.
        """
        options = LocalPostOptions.model_validate(draft.options)
        locations = self._location_ids()
        if options.kind == "special_hours":
            ours = [p.google() for p in options.special_hours]
            for location in locations:
                current = self._special_hours(location)
                if not all(any(_same_period(c, o) for c in current) for o in ours):
                    return None  # writing them again is safe
            return self._hours_receipt(draft, options, locations, reconciled=True)
        found: list[dict[str, Any]] = []
        for location in locations:
            match = self._find_post(location, draft.text)
            if match is not None:
                found.append(match)
        if not found:
            return None
        if len(found) < len(locations):
            raise self.error(
                OutcomeUnknown,
                f"the post is on {len(found)} of the {len(locations)} locations (first "
                f"{found[0].get('name')}); delete those posts in Business Profile Manager, "
                "then run 'carecast retry'", retryable=False, next_step_given=True)
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=str(found[0]["name"]), url=found[0].get("searchUrl"),
                       part_ids=tuple(str(f["name"]) for f in found),
                       published_at=_google_time(found[0].get("createTime")) or self.clock.now(),
                       reconciled=True, extra={"kind": "post", "locations": list(locations)})

    def _find_post(self, location: str, summary: str) -> dict[str, Any] | None:
        token: str | None = None
        seen = 0
        while seen < self.options.lookup_limit:
            params: dict[str, Any] = {"pageSize": 100, **({"pageToken": token} if token
                                                          else {})}
            page = self._call("GET", f"{POSTS_URL}/{self._location_path(location)}"
                                     "/localPosts", params=params)
            posts = [p for p in page.get("localPosts") or [] if isinstance(p, dict)]
            for post in posts:
                seen += 1
                if " ".join(str(post.get("summary") or "").split()) == " ".join(
                        summary.split()) and not self.made_too_early(
                        _google_time(post.get("createTime"))):
                    return post
            token = page.get("nextPageToken") if isinstance(page.get("nextPageToken"),
                                                            str) else None
            if not token or not posts:
                return None
        return None

    def delete(self, receipt: Receipt) -> None:
        """Delete the local posts, or take the special hours off every location."""
        if receipt.extra.get("kind") != "special_hours":
            for name in reversed(receipt.part_ids or (receipt.remote_id,)):
                self._delete_post(name)
            return
        ours = [p for p in receipt.extra.get("periods") or [] if isinstance(p, dict)]
        for location in receipt.extra.get("locations") or []:
            current = self._special_hours(str(location))
            kept = [c for c in current if not any(_same_period(c, o) for o in ours)]
            if len(kept) != len(current):
                self._set_special_hours(str(location), kept)

    def fetch_profile(self) -> Profile:
        """The first location's listing; every location's in ``extra["locations"]``, one
        row each in the brand audit."""
        wanted = set(self.options.locations)
        profiles = [self._location_profile(item) for item in self._locations(PROFILE_MASK)
                    if not wanted or str(item.get("name", "")).rsplit("/", 1)[-1] in wanted]
        if not profiles:
            raise self.error(PlatformRejected,
                             f"the Business Profile account {self.options.account_id} lists "
                             "none of its locations to this token")
        first = profiles[0]
        return first.model_copy(update={"extra": {
            **first.extra, "locations": [p.model_dump(mode="json") for p in profiles]}})

    def _location_profile(self, item: Mapping[str, Any]) -> Profile:
        phones = item.get("phoneNumbers") if isinstance(item.get("phoneNumbers"), dict) else {}
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        extra = {"location": str(item.get("name") or "")}
        if isinstance(meta, dict) and isinstance(meta.get("mapsUri"), str):
            extra["url"] = meta["mapsUri"]
        return Profile(channel=self.name, account=self.account,
                       display_name=item.get("title"),
                       phone=phones.get("primaryPhone") if isinstance(phones, dict) else None,
                       website=item.get("websiteUri"),
                       location=_address(item.get("storefrontAddress")), extra=extra)

    # -- reviews -----------------------------------------------------------------------------

    def fetch_mentions(self, since: datetime) -> list[Mention]:
        """Every location's reviews written or changed after ``since``, oldest first: kind
        ``review``, the stars in ``rating``, the review's name (``accounts/{a}/locations/
        {l}/reviews/{id}``) as ``remote_id`` and ``parent_id`` its location, ``created_at``
        its ``updateTime`` (an edited review comes again, with its new words)."""
        found: list[Mention] = []
        for location in self._location_ids():
            found.extend(self._reviews(location, since))
        return sorted(found, key=lambda m: m.created_at)

    def _reviews(self, location: str, since: datetime) -> Iterator[Mention]:
        """``reviews.list`` newest change first, paged by ``nextPageToken``, until one is
        older than ``since``."""
        token: str | None = None
        url = f"{POSTS_URL}/{self._location_path(location)}/reviews"
        for _ in range(REVIEW_PAGES):
            params: dict[str, Any] = {"pageSize": REVIEW_PAGE, "orderBy": "updateTime desc",
                                      **({"pageToken": token} if token else {})}
            page = self._call("GET", url, params=params)
            for item in page.get("reviews") or []:
                if not isinstance(item, dict):
                    continue
                when = _google_time(item.get("updateTime")) or _google_time(
                    item.get("createTime"))
                if when is None:
                    continue
                if when <= since:
                    return
                mention = self._review(item, location, when)
                if mention is not None:
                    yield mention
            token = page.get("nextPageToken") if isinstance(page.get("nextPageToken"),
                                                            str) else None
            if not token:
                return

    def _review(self, item: Mapping[str, Any], location: str,
                when: datetime) -> Mention | None:
        name = str(item.get("name") or "")
        if not _REVIEW.match(name):
            return None
        given = item.get("reviewer")
        reviewer: Mapping[str, Any] = given if isinstance(given, dict) else {}
        author = "anonymous" if reviewer.get("isAnonymous") else str(
            reviewer.get("displayName") or "unknown")
        return Mention(channel=self.name, account=self.account, remote_id=name,
                       author=author, text=str(item.get("comment") or ""), created_at=when,
                       kind="review", parent_id=f"locations/{location}",
                       rating=STARS.get(str(item.get("starRating") or "")))

    def render_reply(self, post: Post) -> Draft:
        """The base reply draft, within Google's 4096 bytes of UTF-8 for a reply."""
        draft = super().render_reply(post)
        size = len(draft.text.encode("utf-8"))
        if size > MAX_REPLY:
            raise LimitExceeded(
                f"text: a review reply takes at most {MAX_REPLY} bytes of UTF-8 and this one "
                f"has {size}; shorten it", field="text", limit=MAX_REPLY, value=size)
        return draft

    def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
        """The owner's reply to the review (``PUT v4/{review}/reply`` with ``{"comment"}``).

        A review has one reply and this call replaces it: sending again after an unknown
        outcome overwrites the same reply, never adds a second. A review deleted meanwhile
        is a ``PlatformRejected`` that says so; nothing was sent."""
        name = self._review_name(mention)
        answer = self._about(mention, "PUT", f"{POSTS_URL}/{name}/reply",
                             json={"comment": draft.text})
        receipt = self._reply_receipt(draft, mention, answer, reconciled=False)
        # Google takes no key: the one PUT per review is what makes a resend safe
        return receipt.model_copy(update={"extra": {**receipt.extra,
                                                    "key": self.reply_key(draft, key)}})

    def lookup_reply(self, mention: Mention, draft: Draft, key: str) -> Receipt | None:
        """The review's ``reviewReply`` when it holds the draft's words; None when it holds
        none or other words (sending replaces them)."""
        review = self._about(mention, "GET", f"{POSTS_URL}/{self._review_name(mention)}")
        reply = review.get("reviewReply") if isinstance(review.get("reviewReply"),
                                                        dict) else None
        if reply is None or " ".join(str(reply.get("comment") or "").split()) != " ".join(
                draft.text.split()):
            return None
        return self._reply_receipt(draft, mention, reply, reconciled=True)

    def _reply_receipt(self, draft: Draft, mention: Mention, reply: Mapping[str, Any], *,
                       reconciled: bool) -> Receipt:
        name = self._review_name(mention)
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=f"{name}/reply", part_ids=(f"{name}/reply",),
                       published_at=_google_time(reply.get("updateTime")) or self.clock.now(),
                       reconciled=reconciled, extra={"kind": "review_reply", "parent": name})

    def _review_name(self, mention: Mention) -> str:
        """The mention's review name, checked: of this account, in Google's shape."""
        match = _REVIEW.match(mention.remote_id)
        if match is None or match.group(1) != self.options.account_id:
            raise InvalidPost(
                f"mention.remote_id: {mention.remote_id[:120]!r} is not a review of Business "
                f"Profile account {self.options.account_id} (accounts/{{account}}/locations/"
                "{location}/reviews/{id}); reply to a review carecast listen collected for "
                f"account {self.account!r}", [("mention.remote_id", "not a review")])
        return mention.remote_id

    def _about(self, mention: Mention, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """A call about a review: a 404 says the review is gone; an error that quotes the
        review or its writer is withheld (``Channel.withheld``)."""
        try:
            return self._call(method, url, **kwargs)
        except ChannelError as exc:
            if exc.status == 404 and isinstance(exc, PlatformRejected):
                gone = exc.replace(retryable=False, code=exc.code or "NOT_FOUND")
                gone.args = ("the review is no longer on Google (its writer deleted it, or "
                             "Google removed it); nothing was sent. Nothing is left to "
                             "answer: dismiss it in the inbox",)
                raise gone from None
            raise self.withheld(exc, mention.text, mention.author) from None

    # -- transport ---------------------------------------------------------------------------

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One Google API call with the access token; the JSON answer, or a mapped error.

        A 401 to a token carecast refreshed (revoked or expired early) refreshes it once and
        sends the call again: Google did nothing with the refused one.
        """
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}", "User-Agent": "carecast"}
            response = http_request(self.session, method, url, channel=self.name,
                                    account=self.account, headers=headers,
                                    timeout=(self.options.connect_timeout, self.options.timeout),
                                    **kwargs)
            if response.status_code != 401 or attempt == 2 or self._credentials is None:
                break
            self._credentials = None
        if response.status_code >= 300:
            raise google_error(response, self, renew=self._renew)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self.error(ChannelServerError,
                             f"Google answered HTTP {response.status_code} without a JSON "
                             "object; it may have stored the change",
                             status=response.status_code)
        return body

    def _token(self) -> str:
        """The access token: the one given, else refreshed by google-auth when it is due."""
        if self.options.access_token is not None:
            return self.options.access_token.get_secret_value()
        if self._credentials is None or self.clock.time() >= self._token_until:
            self._refresh()
        return str(self._credentials.token)

    def _refresh(self) -> None:
        try:
            from google.auth import exceptions as auth_errors
            from google.auth.transport.requests import Request
            from google.oauth2.credentials import Credentials
        except ImportError:
            raise ConfigurationError(self.install_hint("google-auth")) from None
        assert self.options.refresh_token is not None  # the options check both
        assert self.options.client_secret is not None
        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=None, refresh_token=self.options.refresh_token.get_secret_value(),
            client_id=self.options.client_id,
            client_secret=self.options.client_secret.get_secret_value(),
            token_uri=TOKEN_URI, scopes=list(SCOPES))
        error: ChannelError | None = None
        try:
            credentials.refresh(Request(self.session))  # type: ignore[no-untyped-call]
        except auth_errors.RefreshError:
            error = self.error(AuthenticationError,
                               "Google refused the refresh token (revoked, expired or for "
                               f"another client); {self._renew}")
        except auth_errors.TransportError:
            error = self.error(ChannelConnectionError,
                               "could not reach Google to refresh the access token")
        if error is not None:  # raised here: google-auth's message quotes the answer
            raise error
        # Google's access tokens last an hour; one refused before then is refreshed by _call.
        lifetime = 3600.0
        self._credentials = credentials
        self._token_until = self.clock.time() + max(0.0, lifetime - EARLY)


def _schedule(starts: datetime | date, ends: datetime | date) -> dict[str, Any]:
    """A ``TimeInterval``: dates, and times where datetimes were given (local time)."""
    body: dict[str, Any] = {"startDate": _date(starts if not isinstance(starts, datetime)
                                               else starts.date()),
                            "endDate": _date(ends if not isinstance(ends, datetime)
                                             else ends.date())}
    if isinstance(starts, datetime):
        body["startTime"] = {**_time(starts.time()), "seconds": 0, "nanos": 0}
    if isinstance(ends, datetime):
        body["endTime"] = {**_time(ends.time()), "seconds": 0, "nanos": 0}
    return body


def _days(period: Mapping[str, Any]) -> tuple[Any, Any]:
    return (_day_key(period.get("startDate")), _day_key(period.get("endDate")
                                                        or period.get("startDate")))


def _day_key(value: Any) -> tuple[int, int, int] | None:
    if not isinstance(value, dict):
        return None
    return (int(value.get("year") or 0), int(value.get("month") or 0), int(value.get("day")
                                                                           or 0))


def _same_days(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two periods cover overlapping days (the new one replaces the old)."""
    (a0, a1), (b0, b1) = _days(a), _days(b)
    if None in (a0, a1, b0, b1):
        return False
    return bool(a0 <= b1 and b0 <= a1)


def _same_period(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two periods are the same days and hours (Google may drop zero fields)."""
    def norm(p: Mapping[str, Any]) -> tuple[Any, ...]:
        times = tuple((int((p.get(k) or {}).get("hours") or 0),
                       int((p.get(k) or {}).get("minutes") or 0))
                      for k in ("openTime", "closeTime"))
        return (*_days(p), bool(p.get("closed")), times if not p.get("closed") else ())
    return norm(a) == norm(b)


def _address(value: Any) -> str | None:
    """A ``PostalAddress`` as one line: street lines, locality, region and postal code."""
    if not isinstance(value, dict):
        return None
    lines = [str(x) for x in value.get("addressLines") or [] if x]
    tail = " ".join(str(value[k]) for k in ("administrativeArea", "postalCode")
                    if value.get(k))
    parts = [*lines, *(str(value[k]) for k in ("locality",) if value.get(k)), tail]
    text = ", ".join(p for p in parts if p)
    return text or None
