"""Secrets out of everything carecast keeps or shows: one registry, one scrubber.

Every channel registers its account's secrets when it is built (``Channel.__init__``) and the
tokens it obtains later (a refresh); ``ChannelError`` scrubs its message, request id and headers
when it is built, so a platform's error text that echoes a token never reaches the report, the
CLI, the ledger or a log. Anything shaped like a credential (a bearer token, an
``Authorization`` header, an ``access_token=`` parameter) is hidden too, registered or not.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # not imported: the errors (and so ``import carecast``) load this module
    from pydantic import BaseModel, SecretStr

__all__ = ["HIDDEN", "LogFilter", "hide", "hide_headers", "remember", "remember_options"]

HIDDEN = "[hidden by carecast]"
#: Shorter values are not hidden: they would blank out ordinary words.
MIN_SECRET = 6
_SHAPES = re.compile(
    r"""(?ix)
    (\b(?:bearer|basic)\s+)(?=[^\s'",;}]*[0-9+/=_.~-])[^\s'",;}]{8,}
    | (\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?)[^'"\r\n}\\]+
    | ([?&;\s'"(]?\b(?:access_token|refresh_token|id_token|accessjwt|refreshjwt
        |client_secret|app_secret|appsecret_proof|oauth_token|oauth_token_secret
        |oauth_signature|oauth_consumer_key|application_password|app_password|password
        |api_key|apikey)\\?["']?\s*[=:]\s*\\?["']?)[^\s&'"\\,}]+
    """)
_known: frozenset[str] = frozenset()
_lock = threading.Lock()


def remember(*values: str | SecretStr | None) -> None:
    """Hide these values from now on (as given and percent-encoded)."""
    global _known
    plain = [v if isinstance(v, str) or v is None else v.get_secret_value() for v in values]
    new = {form for value in plain if value and len(value) >= MIN_SECRET
           for form in (value, quote(value, safe=""), quote(quote(value, safe=""), safe=""))}
    if new - _known:
        with _lock:
            _known = _known | new


def remember_options(options: BaseModel) -> None:
    """Remember every ``SecretStr`` of a channel's options (nested models included)."""
    remember(*_secrets_in(options))


def _secrets_in(value: Any) -> Iterable[SecretStr]:
    if hasattr(value, "get_secret_value"):  # a pydantic SecretStr
        yield value
    elif hasattr(type(value), "model_fields"):  # a pydantic model
        for name in type(value).model_fields:
            yield from _secrets_in(getattr(value, name, None))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secrets_in(item)


def hide(text: str) -> str:
    """``text`` with every registered secret and credential-shaped string hidden."""
    if not text:
        return text
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return _SHAPES.sub(lambda m: (m[1] or m[2] or m[3] or "") + HIDDEN, text)


def hide_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credential headers dropped and every value scrubbed."""
    return {k: hide(str(v)) for k, v in headers.items()
            if k.lower() not in ("authorization", "proxy-authorization", "cookie", "set-cookie")}


class LogFilter(logging.Filter):
    """Scrubs a logger's records (SDKs log request headers and bodies at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = hide(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


_FILTER = LogFilter()
for _name in ("carecast.publish", "carecast.channels", "tweepy.client",
              "requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849",
              "oauthlib.oauth1.rfc5849.signature", "httpx", "httpcore", "atproto_client",
              "googleapiclient.discovery", "googleapiclient.http", "google_auth_httplib2",
              "google.auth.transport.requests", "urllib3.connectionpool", "mastodon"):
    logging.getLogger(_name).addFilter(_FILTER)
