"""Email newsletter through Listmonk, the self-hosted newsletter server: one campaign per post.

A publish creates a campaign for the account's lists (``POST /api/campaigns``: an HTML body
from the shared ``newsletter`` renderer, its plain-text ``altbody``, the subject from the
post's title) and starts it (``PUT /api/campaigns/{id}/status`` ``running``). Local images are
uploaded to Listmonk's media store first (``POST /api/media``) and linked from there. Listmonk
adds the unsubscribe link and headers of its own template.

Every campaign is tagged with a tag derived from the idempotency key, and its name ends with
it, so a resend finds it (``GET /api/campaigns?tags=...``) before creating another: a
campaign that was created but not started is started, one already running or finished is the
receipt. Requests carry ``Authorization: token USER:TOKEN`` (an API user made under Admin ->
Users). Listmonk answers an unknown token with HTTP 403 ``invalid API credentials`` and a
missing permission with 403 ``permission denied: ...``: the first is an
``AuthenticationError``, the second ``PermissionDenied``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests
from pydantic import Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session, request
from carecast.channels.media import media_bytes
from carecast.channels.newsletter import newsletter
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.confine import is_loopback_url
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    PermissionDenied,
    PlatformRejected,
)
from carecast.post import Draft, MediaKind, Metrics, Profile, Receipt
from carecast.scrub import hide

__all__ = ["ListmonkChannel", "ListmonkOptions", "campaign_tag"]

#: Campaign states in which subscribers are, or will be, getting the newsletter.
SENDING = frozenset({"running", "finished", "scheduled"})
#: Campaign states that are started by setting ``running``.
STARTABLE = frozenset({"draft", "paused"})
_SAID = 200


def campaign_tag(key: str) -> str:
    """The tag a post's campaign carries: derived from its idempotency key."""
    return "carecast-" + hashlib.sha256(key.encode()).hexdigest()[:24]


class ListmonkOptions(ChannelOptions):
    """Settings of a Listmonk account."""

    url: str = Field(description="The Listmonk server: https://lists.example.org")
    api_user: str = Field(min_length=1, description="The API user (Admin -> Users).")
    api_token: SecretStr
    lists: list[int] = Field(min_length=1, description="IDs of the lists to send to.")
    from_email: str | None = Field(
        default=None, description="'Riverside News <news@example.org>'; else Listmonk's.")
    template_id: int | None = Field(default=None, ge=1,
                                    description="The campaign template; else the default.")
    footer: str | None = Field(default=None, max_length=2000)
    tags: list[str] = Field(default_factory=list, description="More tags for the campaigns.")
    timeout: float = Field(default=30.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" and not (parts.scheme == "http"
                                            and is_loopback_url(parts.hostname)):
            raise ValueError("give an https URL (http only for a server on this machine)")
        return value.rstrip("/") + "/"


class ListmonkChannel(Channel):
    """A post as a Listmonk campaign to the account's lists."""

    name: ClassVar[str] = "listmonk"
    title: ClassVar[str] = "Email newsletter (Listmonk)"
    Options = ListmonkOptions
    #: Carecast's caps: Listmonk takes 2,000 characters (200 before v2) of a subject.
    max_title = 200
    max_text = 100_000
    max_media = 10
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.GIF})
    max_media_bytes = {MediaKind.IMAGE: 5 * 1024 * 1024, MediaKind.GIF: 5 * 1024 * 1024}
    per_account = 1
    per_host = 4
    rate_limits_by = "host"
    public_profile = False  # subscribers' inboxes, not a face followers see
    status_errors = {410: PlatformRejected}
    error_messages = {
        AuthenticationError: "Listmonk refused the API token ({said}); make a new one under "
                             "Admin -> Users and update api_token",
        PermissionDenied: "the API user lacks a permission ({said}); give its user "
                          "role campaigns:get, campaigns:manage and media:manage in "
                          "Listmonk",
        PlatformRejected: "Listmonk refused the request: {said}",
    }
    options: ListmonkOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None

    # -- transport --------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; its ``data``, or the mapped error."""
        o = self.options
        headers = {"Authorization": f"token {o.api_user}:{o.api_token.get_secret_value()}",
                   "Accept": "application/json", "User-Agent": "carecast"}
        response = request(self.session, method, urljoin(o.url, path), channel=self.name,
                           account=self.account, timeout=(10.0, o.timeout), headers=headers,
                           **kwargs)
        if response.status_code >= 300:
            raise self._error(response, method)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "data" not in body:
            raise self.error(PlatformRejected, f"Listmonk answered {method} {path.split('?')[0]}"
                             " without its JSON envelope; check url (it must be the server's "
                             "root)", status=response.status_code,
                             may_have_been_sent=method != "GET")
        return body["data"]

    def _error(self, response: requests.Response, method: str) -> ChannelError:
        try:
            body = response.json()
        except ValueError:
            body = None
        said = body.get("message") if isinstance(body, dict) else None
        # hidden before it is cut, so no piece of an echoed secret survives the cut
        said = " ".join(hide(str(said)).split())[:_SAID] if said else ""
        cls: type[ChannelError] | None = None
        if response.status_code == 403 and said:
            low = said.lower()
            if "permission denied" in low:
                cls = PermissionDenied
            elif "credentials" in low or "session" in low or "token" in low:
                cls = AuthenticationError
        return self.error(cls, response=response, method=method, said=said or "no reason given")

    # -- publishing -------------------------------------------------------------------------

    def _find(self, key: str) -> dict[str, Any] | None:
        """The campaign made for ``key``, if Listmonk holds one."""
        tag = campaign_tag(key)
        data = self._call("GET", "api/campaigns", params={
            "tags": tag, "order_by": "created_at", "order": "DESC", "per_page": 20,
            "page": 1})
        results = data.get("results") if isinstance(data, dict) else None
        for campaign in results or []:
            if isinstance(campaign, dict) and tag in (campaign.get("tags") or ()):
                return campaign
        return None

    def _upload(self, draft: Draft) -> dict[int, str]:
        """Local images uploaded to Listmonk's media store: their URLs, by media index."""
        urls: dict[int, str] = {}
        for i, item in enumerate(draft.media):
            if item.is_url:
                continue
            data = media_bytes(item, root=self.root, channel=self.name, account=self.account,
                               field=f"media[{i}]", rules=self.media_rules,
                               cap=self.max_media_bytes.get(item.kind or MediaKind.IMAGE))
            uploaded = self._call("POST", "api/media", files={
                "file": (Path(item.filename).name, data, item.mime_type)})
            url = uploaded.get("url") or uploaded.get("uri") if isinstance(uploaded, dict) \
                else None
            if not isinstance(url, str) or not url:
                raise self.error(PlatformRejected, f"media[{i}]: Listmonk stored the image "
                                 "but gave no URL for it; nothing was sent", retryable=False)
            urls[i] = urljoin(self.options.url, url)
        return urls

    def campaign(self, draft: Draft, key: str, uploaded: dict[int, str]) -> dict[str, Any]:
        """The ``POST /api/campaigns`` body for ``draft``."""
        o = self.options
        letter = newsletter(draft, domain=urlsplit(o.url).hostname or "listmonk",
                            footer=o.footer, uploaded=uploaded, document=False)
        tag = campaign_tag(key)
        body: dict[str, Any] = {
            "name": f"{letter.subject[:150]} [{tag}]", "subject": letter.subject,
            "lists": list(o.lists), "type": "regular", "content_type": "html",
            "body": letter.html, "altbody": letter.text, "messenger": "email",
            "tags": [tag, *o.tags]}
        if o.from_email:
            body["from_email"] = o.from_email
        if o.template_id is not None:
            body["template_id"] = o.template_id
        return body

    def publish(self, draft: Draft, key: str) -> Receipt:
        campaign = self._find(key)
        if campaign is None:
            campaign = self._call("POST", "api/campaigns",
                                  json=self.campaign(draft, key, self._upload(draft)))
        campaign = self._start(campaign)
        return self._receipt(draft, campaign)

    def _start(self, campaign: Any) -> dict[str, Any]:
        if not isinstance(campaign, dict) or not isinstance(campaign.get("id"), int):
            raise self.error(PlatformRejected, "Listmonk's answer holds no campaign id; it may "
                             "have made the campaign: check its Campaigns page",
                             may_have_been_sent=True, retryable=False)
        status = campaign.get("status")
        if status in STARTABLE:
            started = self._call("PUT", f"api/campaigns/{campaign['id']}/status",
                                 json={"status": "running"})
            return started if isinstance(started, dict) else {**campaign, "status": "running"}
        if status in SENDING:
            return campaign
        raise self.error(PlatformRejected, f"the campaign {campaign['id']} of this post is "
                         f"{status} in Listmonk; start it there, or delete it to send anew",
                         retryable=False)

    def _receipt(self, draft: Draft, campaign: dict[str, Any], *,
                 reconciled: bool = False) -> Receipt:
        return Receipt(
            post_id=draft.post_id, account=self.account, channel=self.name,
            remote_id=str(campaign["id"]), reconciled=reconciled,
            url=urljoin(self.options.url, f"admin/campaigns/{campaign['id']}"),
            published_at=self.clock.now(),
            extra={"uuid": campaign.get("uuid"), "status": campaign.get("status")})

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The post's campaign when it is sending or sent; None when none was made, or it
        was made and never started (publishing again starts it)."""
        campaign = self._find(key)
        if campaign is None or campaign.get("status") not in SENDING:
            return None
        return self._receipt(draft, campaign, reconciled=True)

    def delete(self, receipt: Receipt) -> None:
        """Cancel the campaign if it is still sending, then delete it (mail already
        delivered stays delivered)."""
        campaign = self._call("GET", f"api/campaigns/{int(receipt.remote_id)}")
        if isinstance(campaign, dict) and campaign.get("status") in ("running", "paused"):
            self._call("PUT", f"api/campaigns/{int(receipt.remote_id)}/status",
                       json={"status": "cancelled"})
        self._call("DELETE", f"api/campaigns/{int(receipt.remote_id)}")

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Views and clicks of the campaign; ``sent``, ``to_send`` and ``bounces`` in extra."""
        data = self._call("GET", f"api/campaigns/{int(receipt.remote_id)}")
        data = data if isinstance(data, dict) else {}

        def number(name: str) -> int | None:
            value = data.get(name)
            return value if isinstance(value, int) else None

        return Metrics(channel=self.name, account=self.account, remote_id=receipt.remote_id,
                       fetched_at=self.clock.now(), impressions=number("views"),
                       clicks=number("clicks"),
                       extra={k: number(k) for k in ("sent", "to_send", "bounces")})

    def fetch_profile(self) -> Profile:
        """The first list's name (``GET /api/lists/{id}``)."""
        data = self._call("GET", f"api/lists/{self.options.lists[0]}")
        name = data.get("name") if isinstance(data, dict) else None
        return Profile(channel=self.name, account=self.account,
                       display_name=name if isinstance(name, str) else None,
                       website=self.options.url)
