"""A thin, typed client for Meta's Graph API, shared by the Facebook Page and Instagram channels.

Every request goes through ``carecast.channels.http.send`` (one transport seam). The token
travels in the ``Authorization`` header, never in a URL: requests logs URLs at DEBUG, and the
``paging.next`` links Graph returns embed the token, so paging re-sends their query without it.
Errors are mapped by Graph's ``code`` and ``error_subcode``, never by message text; a rate
limit carries the wait Meta's usage headers announce (``estimated_time_to_regain_access``, in
minutes). The API version is an option; ``DEFAULT_VERSION`` is the current one.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import requests
from pydantic import Field, SecretStr

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session, request_id_of, send
from carecast.channels.paging import Page, since_send
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ChannelServerError,
    DuplicatePost,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Draft, Receipt

__all__ = ["DEFAULT_VERSION", "GRAPH_URL", "VIDEO_URL", "GraphChannel", "GraphClient",
           "GraphOptions", "graph_error", "graph_time", "insight_values", "same_text",
           "usage_wait"]

#: The Graph API version used unless an account sets ``graph_version``: v27.0, released on
#: 4 November 2026, the newest in Meta's changelog in December 2026.
DEFAULT_VERSION = "v27.0"
GRAPH_URL = "https://graph.facebook.com"
#: Video uploads go to their own host.
VIDEO_URL = "https://graph-video.facebook.com"
USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage",
                 "x-ad-account-usage")
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
_TRANSIENT_CODES = frozenset({1, 2})
_TOKEN_SUBCODES = {
    458: "the app was removed from the account",
    459: "the user must log in to Facebook to clear a checkpoint",
    460: "the password of the user who issued it changed",
    463: "it expired",
    464: "the user's account is not confirmed",
    467: "it is invalid (the user logged out or revoked the app)",
    492: "the user who issued it no longer has a role on the Page",
}
_PARAM = re.compile(r"\bparam(?:eter)?\s+\[?([A-Za-z_][\w.\[\]]*)", re.IGNORECASE)


class GraphOptions(ChannelOptions):
    """Settings every Graph API account shares."""

    access_token: SecretStr = Field(description="A long-lived Page access token.")
    graph_version: str = Field(default=DEFAULT_VERSION, pattern=r"^v\d{1,3}\.\d$",
                               description="The Graph API version, such as v27.0.")
    app_secret: SecretStr | None = Field(
        default=None, description="The app secret, to sign calls with appsecret_proof.")
    timeout: float = Field(default=30.0, gt=0, le=600)
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    lookup_limit: int = Field(default=25, ge=1, le=100,
                              description="Posts per page read by lookup (back to the send "
                              "time) and recent posts read for mentions.")


def usage_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until Meta lets the app call again, from its usage headers; None if unsaid.

    ``x-business-use-case-usage`` maps a business id to a list of usages, the other headers
    hold one usage; each may give ``estimated_time_to_regain_access`` in minutes.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    minutes: list[float] = []
    for name in USAGE_HEADERS:
        try:
            data = json.loads(lower.get(name) or "null")
        except ValueError:
            continue
        stack: list[Any] = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                value = item.get("estimated_time_to_regain_access")
                if isinstance(value, int | float) and not isinstance(value, bool):
                    minutes.append(float(value))
                stack.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                stack.extend(item)
    wait = max(minutes, default=0.0)
    return wait * 60 if wait > 0 else None


def graph_error(response: requests.Response, *, error: Callable[..., ChannelError],
                renew: str) -> ChannelError:
    """The carecast error for a failed Graph response, by its ``code`` and ``error_subcode``.

    ``error`` is the channel's ``Channel.error``; ``renew`` tells how to get a new token. A
    body without a Graph error object (a proxy's HTML 502, an empty 500) is mapped by its
    HTTP status.
    """
    err = error_object(response)
    if err is None:
        return error(response=response)
    code = _int(err.get("code"))
    subcode = _int(err.get("error_subcode"))
    said = str(err.get("message") or "no message")[:300]
    tag = f"Graph code {code}" + (f", subcode {subcode}" if subcode is not None else "")
    cls: type[ChannelError] | None = None
    if code in (190, 102):
        why = _TOKEN_SUBCODES.get(subcode or 0, "it was refused")
        cls, text = AuthenticationError, f"the access token is not valid: {why} ({tag}); {renew}"
    elif code in _RATE_LIMIT_CODES or (code is not None and 80000 <= code <= 80099) or (
            code == 9 and subcode == 2207042):
        cls, text = RateLimited, f"rate limited by Meta ({tag}): {said}"
    elif code in _TRANSIENT_CODES or err.get("is_transient") is True:
        cls, text = ChannelServerError, (
            f"a temporary Graph API error ({tag}); it may have stored the post: {said}")
    elif code == 506:
        cls, text = DuplicatePost, f"Facebook refused a duplicate of a recent post ({tag})"
    elif code == 368:
        cls, text = PlatformRejected, (
            f"blocked by Meta's policies ({tag}); not retried: review the content and the "
            f"account's standing in Meta Business Suite: {said}")
    elif code == 100:
        match = _PARAM.search(said)
        param = f"the parameter {match.group(1)!r}" if match else "a parameter"
        cls, text = PlatformRejected, f"Graph refused {param} ({tag}): {said}"
    elif code == 10 or (code is not None and 200 <= code <= 299):
        cls, text = PermissionDenied, (
            f"the token lacks a permission for this call ({tag}); grant it to the app and "
            f"issue a new token: {said}")
    else:
        text = f"Graph refused the request ({tag}): {said}"
    return error(cls, text, response=response,
                 code=f"{code}/{subcode}" if subcode is not None else str(code),
                 request_id=request_id_of(response.headers) or _str(err.get("fbtrace_id")),
                 retry_after=usage_wait(response.headers))


def error_object(response: requests.Response) -> dict[str, Any] | None:
    """Graph's ``{"error": {...}}`` object of a response, or None when it has none."""
    try:
        body = response.json()
    except ValueError:
        return None
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


class GraphClient:
    """Calls to one Graph API account: versioned URLs, the token in a header, mapped errors.

    ``usage`` holds the usage headers of the last answer (parsed JSON), for callers that pace
    themselves.
    """

    def __init__(self, session: requests.Session, options: GraphOptions, *, channel: str,
                 account: str, renew: str, now: Callable[[], float],
                 error: Callable[..., ChannelError], base_url: str = GRAPH_URL) -> None:
        self.session = session
        #: The API host: Graph's, or another on the same API (Threads: graph.threads.net).
        self.base_url = base_url
        self.options = options
        self.channel = channel
        self.account = account
        self.renew = renew
        self.now = now
        #: The channel's ``Channel.error``: every Graph error is built through it.
        self.error = error
        self.usage: dict[str, Any] = {}

    def url(self, path: str, *, video: bool = False) -> str:
        """The full URL of a Graph path such as ``12345/feed``."""
        return f"{VIDEO_URL if video else self.base_url}/{self.options.graph_version}/" \
               f"{path.lstrip('/')}"

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET a node or edge."""
        return self.request("GET", path, params=params)

    def post(self, path: str, data: Mapping[str, Any], *, files: Any = None,
             video: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """POST form fields (and files) to an edge."""
        return self.request("POST", path, data=dict(data), files=files, video=video,
                            timeout=timeout)

    def delete(self, path: str) -> dict[str, Any]:
        """DELETE a node."""
        return self.request("DELETE", path)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                data: dict[str, Any] | None = None, files: Any = None, video: bool = False,
                timeout: float | None = None, content: Any = None,
                headers: Mapping[str, str] | None = None, token: SecretStr | None = None,
                scheme: str = "Bearer") -> dict[str, Any]:
        """One Graph call; the JSON answer as a dict (a bare ``true`` is ``{"success": true}``).

        ``content`` is a raw body (bytes or an open file, sent from its position), with
        ``headers``; ``token`` is another access token than the account's (sent as
        ``Authorization: {scheme} ...``). Raises a carecast ``ChannelError`` mapped from
        Graph's error code.
        """
        params = dict(params or {})
        secret = token or self.options.access_token
        proof = self._proof(secret)
        if proof:
            (data if data is not None else params)["appsecret_proof"] = proof
        token_text = secret.get_secret_value()
        answers: list[requests.Response] = []
        read = timeout or self.options.timeout
        error: ChannelError | None = None
        try:
            response = send(
                self.session, method, self.url(path, video=video), channel=self.channel,
                account=self.account, timeout=(self.options.connect_timeout, read), now=self.now,
                params=params or None, data=data if content is None else content, files=files,
                headers={**(headers or {}), "Authorization": f"{scheme} {token_text}",
                         "User-Agent": "carecast"},
                hooks={"response": lambda r, *a, **k: answers.append(r)})
        except ChannelError as exc:
            error = exc
        if error is not None:
            if error.status is None or not answers:
                raise error  # a transport failure: nothing to read
            self._note_usage(answers[-1])
            raise graph_error(answers[-1], error=self.error, renew=self.renew)
        self._note_usage(response)
        return self._body(response)

    def pages(self, path: str, *, limit: int, **params: Any) -> Iterator[dict[str, Any]]:
        """The items of an edge, following ``paging`` until ``limit`` items were given."""
        given = 0
        query: dict[str, Any] | None = {**params, "limit": min(limit, 100)}
        while query is not None:
            page = self.page(path, query)
            for item in page.items:
                yield item
                given += 1
                if given >= limit:
                    return
            query = page.older if page.items else None

    def page(self, path: str, query: Mapping[str, Any]) -> Page[dict[str, Any], dict[str, Any]]:
        """One page of an edge, newest first, and the query of the next (``paging.next``)."""
        body = self.get(path, **query)
        items = body.get("data")
        if not isinstance(items, list):
            return Page([], None)
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        nxt = paging.get("next") if isinstance(paging, dict) else None
        older = {k: v for k, v in parse_qsl(urlsplit(nxt).query)
                 if k not in ("access_token", "appsecret_proof")} if isinstance(nxt, str) else None
        return Page([i for i in items if isinstance(i, dict)], older)

    def _proof(self, token: SecretStr) -> str | None:
        if self.options.app_secret is None:
            return None
        return hmac.new(self.options.app_secret.get_secret_value().encode(),
                        token.get_secret_value().encode(), hashlib.sha256).hexdigest()

    def _note_usage(self, response: requests.Response) -> None:
        for name in USAGE_HEADERS:
            raw = response.headers.get(name)
            if raw:
                try:
                    self.usage[name] = json.loads(raw)
                except ValueError:
                    continue

    def _body(self, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("error"), dict):  # an error inside a 200
                raise graph_error(response, error=self.error, renew=self.renew)
            return body
        if body is True:
            return {"success": True}
        raise self.error(
            ChannelServerError,
            f"Graph answered HTTP {response.status_code} without a JSON object; it may have "
            "stored the post", status=response.status_code)


def graph_time(value: Any) -> datetime | None:
    """A Graph timestamp (``2026-11-20T09:15:00+0000``) as an aware datetime; None if absent."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def insight_values(body: dict[str, Any]) -> dict[str, int]:
    """``{metric: lifetime value}`` from an ``/insights`` answer."""
    found: dict[str, int] = {}
    for metric in body.get("data") or []:
        if not isinstance(metric, dict):
            continue
        values = metric.get("values") or [{}]
        total = metric.get("total_value")
        for value in (values[0].get("value") if isinstance(values[0], dict) else None,
                      total.get("value") if isinstance(total, dict) else None):
            if isinstance(value, int) and not isinstance(value, bool):
                found[str(metric.get("name"))] = value
                break
    return found


def _invalid_metric(exc: ChannelError) -> bool:
    """Whether Graph refused a metric name (code 100, "... valid insights metric")."""
    return str(exc.code or "").split("/")[0] == "100" and "insights metric" in str(exc)


_RETIRED_LOCK = threading.Lock()


def same_text(a: str | None, b: str | None) -> bool:
    """Whether two post texts are the same, ignoring how whitespace was folded."""
    return " ".join((a or "").split()) == " ".join((b or "").split())


class GraphChannel(Channel):
    """What the Graph API channels (Facebook, Instagram, Threads) share: a Graph client and a
    clock."""

    options: GraphOptions
    #: The API host the channel's client calls.
    graph_url: ClassVar[str] = GRAPH_URL
    #: The token a user renews when Graph refuses it, for messages.
    credential_kind: ClassVar[str] = "long-lived Page access token"

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None
        renew = (f"get a new {self.credential_kind} as docs/channels/{self.name}.md shows "
                 f"and set it as accounts.{account}.access_token")
        self.graph = GraphClient(self.session, self.options, channel=self.name,
                                 account=account, renew=renew, now=self.clock.time,
                                 error=self.error, base_url=self.graph_url)

    @functools.cached_property
    def retired_metrics(self) -> set[str]:
        """The insights metrics Graph answered as invalid (retired): never asked again."""
        return set()

    def insights(self, node: str, metrics: Sequence[str]) -> tuple[dict[str, int], list[str]]:
        """``{metric: value}`` of ``node``'s insights, and the metrics it could not give.

        Graph refuses a whole request when one metric in it is retired (code 100, "The value
        must be a valid insights metric"), naming none: then each metric is asked on its
        own, and the retired ones are remembered, so one retired metric never blanks the
        others. A node without insights (too new, a permission missing) gives none.
        """
        wanted = [m for m in metrics if m not in self.retired_metrics]
        found: dict[str, int] = {}
        for attempt in ([wanted] if len(wanted) == 1 else [wanted, *[[m] for m in wanted]]):
            if not attempt:
                break
            try:
                found.update(insight_values(self.graph.get(f"{node}/insights",
                                                           metric=",".join(attempt))))
            except PermissionDenied:
                break
            except PlatformRejected as exc:
                if not _invalid_metric(exc):
                    break
                if len(attempt) == 1:
                    with _RETIRED_LOCK:
                        self.retired_metrics.add(attempt[0])
                continue
            if len(attempt) > 1:  # the whole set answered: nothing to probe
                break
        return found, [m for m in metrics if m not in found]

    def delete(self, receipt: Receipt) -> None:
        """Delete the post (``DELETE /{id}``); Graph answers ``{"success": true}``."""
        for remote_id in receipt.part_ids or (receipt.remote_id,):
            self.graph.delete(remote_id)

    def _receipt(self, draft: Draft, remote_id: str, *, url: str | None,
                 published_at: datetime | None = None, reconciled: bool = False,
                 **extra: Any) -> Receipt:
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=remote_id, url=url, part_ids=(remote_id,),
                       published_at=published_at or self.clock.now(), reconciled=reconciled,
                       extra={k: v for k, v in extra.items() if v is not None})

    def _find(self, draft: Draft, edge: str, field: str, time_field: str,
              fields: str) -> dict[str, Any] | None:
        """The first item of ``edge`` whose ``field`` is the draft's text, made when it can
        have been sent; pages back to the send time, and raises when it cannot tell."""
        if not draft.text.strip():
            raise self.error(
                OutcomeUnknown,
                f"a post without text cannot be matched among the {self.name} account's "
                "recent posts; check the account, then run 'carecast retry' (with "
                "--resend-unknown if the post is not there)", retryable=False,
                next_step_given=True)
        first = {"fields": fields, "limit": self.options.lookup_limit}
        items = since_send(lambda query: self.graph.page(edge, query or first),
                           lambda item: graph_time(item.get(time_field)),
                           channel=self.name, account=self.account)
        return next((item for item in items if same_text(item.get(field), draft.text)
                     and not self.made_too_early(graph_time(item.get(time_field)))), None)
