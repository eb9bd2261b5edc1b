"""The one transport seam of requests-based channels: send, then map failures to errors.

``send`` turns every transport failure and HTTP error status into a carecast ``ChannelError``,
deciding whether the request may have reached the platform (``OutcomeUnknown``) or surely did
not (``ChannelConnectionError``). ``error_for_status`` is the one mapping of HTTP statuses for
every channel, whatever its transport: a channel declares its own ``status_errors`` and
``error_messages`` tables and reads its platform's error body (Graph API codes, LinkedIn
service codes, XRPC errors) through ``Channel.error``.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from carecast.channels import wire
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    DuplicatePost,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)

__all__ = ["STATUS_CLASSES", "Answer", "error_for_status", "new_session", "request",
           "request_id_of", "retry_after_of",
           "send", "server_time", "transport_error"]

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-fb-trace-id", "x-li-uuid",
                      "x-transaction-id", "x-amzn-requestid", "x-github-request-id")
#: The common meaning of HTTP error statuses; a channel's ``status_errors`` overrides entries.
STATUS_CLASSES: Mapping[int, type[ChannelError]] = {
    400: PlatformRejected, 401: AuthenticationError, 403: PermissionDenied,
    404: PlatformRejected, 409: DuplicatePost, 413: PlatformRejected, 422: PlatformRejected,
    429: RateLimited,
}
#: Methods that change nothing: any answer to them may be acted on as it is.
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_SENT = (NewConnectionError, ConnectTimeoutError, NameResolutionError)


class _RedactRequestLine(logging.Filter):
    """urllib3 logs each request line at DEBUG; its path can hold a token (chat webhooks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 5 \
                and str(record.msg).startswith('%s://%s:%s "%s %s %s"'):
            args = list(record.args)
            args[4] = "/[path hidden by carecast]"
            record.args = tuple(args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactRequestLine())


class _SharedAdapter(HTTPAdapter):
    """The process's one connection pool; closing a session leaves it to the others."""

    def close(self) -> None:
        """Kept open: other channels' sessions use it."""


_shared_lock = threading.Lock()
_adapter: _SharedAdapter | None = None
_proxies: dict[str, str] | None = None


def new_session() -> requests.Session:
    """A session for one channel account.

    The proxy settings (``HTTPS_PROXY``, ``NO_PROXY``...) are read from the environment once
    per process, and the CA bundle (``REQUESTS_CA_BUNDLE``) once per session, not on every
    request as ``trust_env`` does: both are measurable on a 200-account fan-out. Every session
    shares one connection pool (up to 256 connections per host), so accounts posting to the
    same host reuse connections; cookies and headers stay each session's own.
    """
    global _adapter, _proxies
    with _shared_lock:
        if _adapter is None:
            _adapter = _SharedAdapter(pool_connections=64, pool_maxsize=256)
        if _proxies is None:
            _proxies = urllib.request.getproxies()
        adapter, proxies = _adapter, dict(_proxies)
    session = requests.Session()
    session.trust_env = False
    session.proxies = proxies
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def request(session: requests.Session, method: str, url: str, *, channel: str, account: str,
            timeout: float | tuple[float, float], **kwargs: Any) -> requests.Response:
    """Make one request and return its response, whatever its status; a transport failure
    raises the mapped ``ChannelError``. Redirects are not followed unless asked.

    The URL never appears in a message: webhook and API URLs can carry tokens.
    """
    # A followed redirect turns a POST into a GET without its body, whose 200 would look like
    # a receipt: redirects are errors unless the caller asks to follow them.
    kwargs.setdefault("allow_redirects", False)
    failure: requests.RequestException | None = None
    try:
        lean = _lean(session, method, url, kwargs)
        if lean is not None:
            # A CA bundle costs a stat per request in requests; plain http has no TLS to verify.
            verify = True if session.verify is None or url.startswith("http://") \
                else session.verify
            adapter = session.get_adapter(url)
            if type(adapter) is _SharedAdapter and wire.carries(session, adapter, lean):
                response = wire.send(lean, timeout=timeout, verify=verify)
            else:
                wire.check_headers(lean)  # prepared here, so not checked by requests
                response = adapter.send(lean, timeout=timeout, proxies=session.proxies,
                                        verify=verify, cert=session.cert, stream=False)
            for hook in session.hooks.get("response", ()):  # as Session.send runs them
                response = hook(response) or response
            # Read now, as Session.send does, so the connection goes back to the pool.
            response.content  # noqa: B018
        else:
            response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        failure = exc
    if failure is not None:
        # Raised here, outside the except block, so the requests exception (whose message
        # quotes the URL) is neither the cause nor the context of what callers see.
        raise transport_error(failure, channel=channel, account=account)
    return response


#: What ``_lean`` prepares itself; any other argument goes through ``Session.request``.
_LEAN_ARGS = frozenset({"headers", "data", "json", "params", "allow_redirects"})


def _lean(session: requests.Session, method: str, url: str, kwargs: Mapping[str, Any]
          ) -> requests.PreparedRequest | None:
    """The request prepared directly, for the common case (headers, a form, JSON or bytes,
    no redirects, a ``new_session`` session: no auth, cookies or per-request environment);
    None for anything else.

    ``Session.request`` merges the session's settings, cookies and environment through
    runtime protocol checks on every call: about half a millisecond of CPU, more than the
    rest of a send costs. The session's headers, hooks, proxies and CA bundle still apply.
    """
    if not kwargs.keys() <= _LEAN_ARGS or kwargs.get("allow_redirects") or session.auth \
            or len(session.cookies) or session.trust_env:  # trust_env: proxies per request
        return None
    data, body_json, params = kwargs.get("data"), kwargs.get("json"), kwargs.get("params")
    # Merged by lower-cased name first (the request's own win, in the session's order), so
    # the case-insensitive dict is built once rather than updated name by name.
    merged = {k.lower(): (k, v) for k, v in session.headers.items() if isinstance(v, str)}
    for name, value in (kwargs.get("headers") or {}).items():
        merged[name.lower()] = (name, value)
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
        {k: v for k, v in merged.values() if v is not None})  # None: dropped, as requests does
    body: str | bytes | None
    if body_json is not None and data is None:
        body = jsonlib.dumps(body_json, allow_nan=False).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(data, Mapping):
        body = urlencode(list(_pairs(data)), doseq=True)
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif data is None or isinstance(data, (str, bytes)):
        body = data
    else:
        return None
    if params:
        if not isinstance(params, Mapping) or "?" in url or "#" in url:
            return None
        url = f"{url}?{urlencode(list(_pairs(params)), doseq=True)}"
    prepared = requests.PreparedRequest()
    prepared.method = method.upper()
    prepared.url = url
    if body is not None:
        headers["Content-Length"] = str(len(body.encode() if isinstance(body, str) else body))
    elif prepared.method not in _READS:
        headers["Content-Length"] = "0"
    prepared.headers = headers
    prepared.body = body
    prepared.hooks = {"response": []}
    return prepared


def _pairs(mapping: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The fields to encode, as requests encodes them: None left out."""
    for key, value in mapping.items():
        if value is not None:
            yield key, value


def send(session: requests.Session, method: str, url: str, *, channel: str, account: str,
         timeout: float | tuple[float, float], now: Callable[[], float],
         **kwargs: Any) -> requests.Response:
    """Make one request; return the response for a 2xx status (or a followed redirect's),
    else raise the mapped error.

    The URL never appears in a message: webhook and API URLs can carry tokens.
    """
    response = request(session, method, url, channel=channel, account=account,
                       timeout=timeout, **kwargs)
    status = response.status_code
    if status >= 400 or (300 <= status < 400 and not kwargs.get("allow_redirects")):
        raise error_for_status(response, channel=channel, account=account, now=now,
                               method=method)
    return response


def transport_error(exc: BaseException, *, channel: str, account: str) -> ChannelError:
    """The carecast error for a failed request (not raised: the caller raises it).

    ``exc`` is a requests exception, or an SDK's exception wrapping one (the chain is
    searched): it decides whether the request surely did not leave or may have been stored.
    """
    where: dict[str, Any] = {"channel": channel, "account": account}
    exc = _requests_error_in(exc) or exc
    if isinstance(exc, requests.ConnectTimeout):
        return ChannelTimeout("could not connect to the platform in time", **where)
    if isinstance(exc, wire.UnsafeHeader):
        return ChannelError(f"nothing was sent: {exc}", **where)
    if isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL)):
        # requests' own message quotes the value (perhaps a token): not repeated here
        return ChannelError("nothing was sent: a header or the URL holds a line break, a "
                            "control character or a leading space; fix the setting it comes "
                            "from", **where)
    if isinstance(exc, requests.ReadTimeout):
        return OutcomeUnknown(
            "the request was sent but no answer came in time; it may have been stored", **where)
    if isinstance(exc, requests.exceptions.SSLError):
        return ChannelConnectionError(
            "the TLS handshake with the platform failed; check its certificate", **where)
    if isinstance(exc, requests.ConnectionError):
        if _surely_not_sent(exc):
            return ChannelConnectionError("could not connect to the platform", **where)
        return OutcomeUnknown(
            "the connection broke after the request was sent; it may have been stored", **where)
    return OutcomeUnknown(
        f"the request failed in transit ({type(exc).__name__}); it may have been stored",
        **where)


def _surely_not_sent(exc: BaseException) -> bool:
    return any(isinstance(item, _NOT_SENT) for item in _chain(exc))


def _requests_error_in(exc: BaseException) -> requests.RequestException | None:
    return next((item for item in _chain(exc) if isinstance(item, requests.RequestException)),
                None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, reasons and arguments."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.extend([getattr(item, "reason", None), item.__cause__, item.__context__,
                     *getattr(item, "args", ())])


class Answer(Protocol):
    """An HTTP answer as requests and httpx give it."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def error_for_status(response: Answer, *, channel: str, account: str,
                     now: Callable[[], float], method: str | None = None,
                     message: str | None = None, cls: type[ChannelError] | None = None,
                     table: Mapping[int, type[ChannelError]] = STATUS_CLASSES,
                     messages: Mapping[int | type[ChannelError], str] | None = None,
                     said: str = "", **fields: Any) -> ChannelError:
    """The carecast error for an HTTP error answer, built whole (not raised: the caller does).

    This is the one mapping of every channel. The class is ``cls`` when the caller read it
    from the platform's error body, else the answer's status in ``table`` (``STATUS_CLASSES``
    with a channel's own ``status_errors``: ``Channel.error`` passes them), else
    ``ChannelServerError`` for a 5xx and ``PlatformRejected`` for the rest. A write
    (``method`` other than a read) answered by a redirect or HTTP 408 is ``OutcomeUnknown``
    and not retried blindly: the receiver may have acted on the body before answering.

    The message is ``message``, else the channel's ``messages`` entry for the status or the
    class (``{status}`` and ``{said}``, the platform's reason, are filled in), else a common
    one. ``fields`` are the other ``ChannelError`` arguments (``code``, ``retryable``,
    ``may_have_been_sent``, ``request_id``, ``retry_after``); the request id and, for a rate
    limit or a 5xx, the wait are read from the headers unless given.
    """
    status = response.status_code
    headers = {str(k): str(v) for k, v in response.headers.items()}
    if cls is None and method is not None and method.upper() not in _READS and (
            status == 408 or 300 <= status < 400):
        cls = OutcomeUnknown
        fields.setdefault("retryable", False)
        message = message or (
            f"the platform answered the write with HTTP {status}; it may have stored it: "
            "reconcile before any resend")
    cls = cls or table.get(status) or (ChannelServerError if status >= 500
                                       else PlatformRejected)
    if message is None and messages:
        template = messages.get(status) or messages.get(cls)
        message = template.format(status=status, said=said) if template else None
    fields.setdefault("request_id", request_id_of(headers))
    if issubclass(cls, (RateLimited, ChannelServerError)):
        if fields.get("retry_after") is None:
            fields["retry_after"] = retry_after_of(headers, now=now)
    else:
        fields.pop("retry_after", None)
    return cls(message or _default_message(status, cls), channel=channel, account=account,
               status=status, headers=headers, **fields)


def _default_message(status: int, cls: type[ChannelError]) -> str:
    if cls is AuthenticationError:
        return "the platform refused the credentials; renew the token and update the account"
    if cls is PermissionDenied:
        return "the credentials lack permission for this action; grant it on the platform"
    if cls is RateLimited:
        return "rate limited by the platform"
    if cls is DuplicatePost:
        return "the platform already holds this content"
    if status >= 500:
        return f"the platform failed with HTTP {status}; it may have stored the post"
    if 300 <= status < 400:
        return (f"the platform answered with a redirect (HTTP {status}); nothing is taken as "
                "sent: update the account's URL to the final address")
    return f"the platform refused the request with HTTP {status}"


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The platform's request id from the usual headers."""
    lower = {k.lower(): v for k, v in headers.items()}
    return next((lower[h] for h in REQUEST_ID_HEADERS if h in lower), None)


def retry_after_of(headers: Mapping[str, str], *, now: Callable[[], float]) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or an HTTP date) or a reset header.

    ``X-Rate-Limit-Reset`` (X), ``X-RateLimit-Reset`` (Mastodon: an ISO 8601 time) and
    ``RateLimit-Reset`` (IETF: seconds; Bluesky: a Unix time) are read as a Unix time, an ISO
    time, or, below 10⁹, seconds from now. Times are measured against the answer's ``Date``
    where given, so a skewed local clock does not matter.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            when = _date(value)
            if when is not None:
                return max(0.0, when - now())
    for header in ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset"):
        wait = _reset_wait(lower[header], lower.get("date"), now) if header in lower else None
        if wait is not None:
            return wait
    return None


def server_time(headers: Mapping[str, str], now: Callable[[], float]) -> float:
    """The answer's ``Date`` as a Unix time (the platform's clock), else ``now()``."""
    date = headers.get("date") if isinstance(headers, CaseInsensitiveDict) \
        else {k.lower(): v for k, v in headers.items()}.get("date")
    when = _date(date) if date else None
    return now() if when is None else when


def _reset_wait(value: str, date: str | None, now: Callable[[], float]) -> float | None:
    try:
        number = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    else:
        if number < 1e9:  # seconds from now
            return max(0.0, number)
        when = number
    return max(0.0, when - server_time({"date": date} if date else {}, now))


def _date(value: str) -> float | None:
    """An HTTP date as a Unix time, parsed once; None if it is none."""
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
