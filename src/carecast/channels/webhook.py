"""Webhook: POST each draft as JSON to a URL, signed with HMAC-SHA256.

For intranets, chat notifications and CMS callbacks. The body is the draft plus its
idempotency key; the ``Idempotency-Key`` header carries the key too. With a ``secret``, the
``Carecast-Signature`` header is ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, so the
receiver can check both origin and freshness. With a ``lookup_url``, carecast reconciles an
unknown outcome by ``GET lookup_url?key=<key>`` (200 with JSON: found; 404: not found) before it
sends again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import string
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session, send
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.confine import is_loopback_url
from carecast.errors import OutcomeUnknown, PlatformRejected
from carecast.post import Draft, MediaKind, Profile, Receipt

__all__ = ["WebhookChannel", "WebhookOptions", "sign"]

SIGNATURE_HEADER = "Carecast-Signature"


def _http_url(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
        raise ValueError("give an http(s) URL")
    return value


#: Fewest bits of entropy a signing secret must carry (32 bytes).
MIN_SECRET_BITS = 256
_ALPHABETS = (string.digits, string.hexdigits.lower(), string.hexdigits.upper(),
              string.ascii_lowercase + string.digits,
              string.ascii_letters + string.digits + "-_+/=", string.printable)


def secret_bits(secret: str) -> float:
    """Estimated entropy of a secret: its length times the bits of the smallest usual alphabet
    holding it; a repetitive secret (few distinct characters for its length) counts half."""
    if not secret:
        return 0.0
    chars = set(secret)
    size = next((len(set(a)) for a in _ALPHABETS if chars <= set(a)), 256)
    bits = len(secret) * math.log2(size)
    counts = [secret.count(c) for c in chars]
    shannon = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts)
    return bits if shannon >= math.log2(min(size, len(secret))) / 2 else bits / 4


def _strong(value: SecretStr | None) -> SecretStr | None:
    if value is not None and secret_bits(value.get_secret_value()) < MIN_SECRET_BITS:
        raise ValueError(
            f"the signing secret is too weak: give at least {MIN_SECRET_BITS // 8} random bytes, "
            "such as the output of: python -c 'import secrets; print(secrets.token_hex(32))'")
    return value


def _https_lookup(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme != "https" and not is_loopback_url(parts.hostname):
            raise ValueError("give an https URL (http only for a loopback host)")
    return value


class WebhookOptions(ChannelOptions):
    """Settings of a webhook account. URLs are secrets: chat webhook URLs embed a token."""

    url: SecretStr
    secret: SecretStr | None = Field(default=None, description="HMAC key for the signature.")
    lookup_url: SecretStr | None = None
    idempotent: bool = Field(
        default=False, description="The receiver drops a second request with the same key.")
    timeout: float = Field(default=10.0, gt=0, le=300)
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    name: str | None = Field(default=None, description="Display name, for profile checks.")

    _check_url = field_validator("url", "lookup_url")(_http_url)
    _check_secret = field_validator("secret")(_strong)
    _check_lookup = field_validator("lookup_url")(_https_lookup)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Carecast-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookChannel(Channel):
    """POST drafts as signed JSON to a URL."""

    name: ClassVar[str] = "webhook"
    title: ClassVar[str] = "Webhook (signed JSON POST)"
    Options = WebhookOptions
    max_media = 20
    media_kinds = frozenset(MediaKind)
    supports_threads = False
    #: One receiver, whose own limit is shared by every account posting to it.
    per_account: ClassVar[int] = 64
    per_host: ClassVar[int] = 64
    rate_limits_by: ClassVar[str] = "host"
    public_profile = False  # a delivery point, not a face followers see
    options: WebhookOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None
        self.idempotent_publish = self.options.idempotent

    @property
    def can_lookup(self) -> bool:
        return self.options.lookup_url is not None

    def _timeout(self) -> tuple[float, float]:
        return (self.options.connect_timeout, self.options.timeout)

    def body(self, draft: Draft, key: str) -> bytes:
        """The JSON body sent for a draft."""
        payload = {"key": key, "sent_at": self.clock.now().isoformat(),
                   **draft.model_dump(mode="json")}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def publish(self, draft: Draft, key: str) -> Receipt:
        body = self.body(draft, key)
        headers = {**self._signed_headers(body), "Idempotency-Key": key}
        response = send(self.session, "POST", self.options.url.get_secret_value(),
                        channel=self.name, account=self.account, timeout=self._timeout(),
                        now=self.clock.time,
                        data=body, headers=headers)
        return self._receipt(draft, key, response)

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        if self.options.lookup_url is None:
            raise NotImplementedError("this webhook account has no lookup_url")
        try:
            response = send(self.session, "GET", self.options.lookup_url.get_secret_value(),
                            channel=self.name, account=self.account, timeout=self._timeout(),
                            now=self.clock.time,
                            params={"key": key}, headers={"User-Agent": "carecast"})
        except PlatformRejected as exc:
            if exc.status == 404:
                return None
            raise
        try:
            found = response.json() if response.status_code == 200 else None
        except ValueError:
            found = None
        if not isinstance(found, dict):
            # A login page or a catch-all route is no proof the post is there: taking it as
            # "found" would lose the post, so the outcome stays unknown.
            raise self.error(
                OutcomeUnknown,
                f"the lookup URL answered HTTP {response.status_code} without a JSON object; "
                "check lookup_url (it must answer 200 with JSON when found, 404 when not)",
                status=response.status_code, retryable=False)
        return self._receipt(draft, key, response)

    def _receipt(self, draft: Draft, key: str, response: requests.Response) -> Receipt:
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=str(data.get("id") or key),
                       url=data.get("url") if isinstance(data.get("url"), str) else None,
                       published_at=self.clock.now())

    def delete(self, receipt: Receipt) -> None:
        """Send ``{"deleted": remote_id}`` to the URL; receivers remove the post."""
        body = json.dumps({"deleted": receipt.remote_id, "post_id": receipt.post_id}).encode()
        send(self.session, "POST", self.options.url.get_secret_value(), channel=self.name,
             account=self.account, timeout=self._timeout(), now=self.clock.time, data=body,
             headers=self._signed_headers(body))

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        """JSON headers, with the signature when the account has a secret."""
        headers = {"Content-Type": "application/json", "User-Agent": "carecast"}
        if self.options.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.options.secret.get_secret_value(), body,
                                             int(self.clock.time()))
        return headers

    def fetch_profile(self) -> Profile:
        """A webhook has no public profile: the configured name only."""
        return Profile(channel=self.name, account=self.account,
                       display_name=self.options.name or self.account)
