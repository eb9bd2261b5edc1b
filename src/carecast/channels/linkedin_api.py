"""A thin typed client for the parts of LinkedIn's versioned REST API that carecast uses.

Every call goes to ``https://api.linkedin.com/rest/`` with the ``LinkedIn-Version`` and
``X-Restli-Protocol-Version: 2.0.0`` headers and a bearer token, and every failure becomes a
carecast ``ChannelError`` chosen from LinkedIn's error body (``{"status", "code",
"serviceErrorCode", "message"}``), never from a guess. URNs in paths are URL-encoded
(``urn%3Ali%3Ashare%3A…``), as Rest.li 2.0 requires.

Commentary is LinkedIn's "little" text format: ``| { } @ [ ] ( ) < > # \\ * _ ~`` are markup,
and an unescaped one silently truncates the post where it stands. ``to_little`` escapes them
all and turns each ``#tag`` that starts a word into LinkedIn's hashtag template
``{hashtag|\\#|tag}`` so it stays a hashtag; ``from_little`` reads a commentary back as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from pydantic import SecretStr

from carecast.channels.http import send
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ChannelServerError,
    DuplicatePost,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)

__all__ = ["API", "LinkedInAPI", "UploadPart", "VideoUpload", "encode_urn", "from_little",
           "to_little"]

API = "https://api.linkedin.com/rest"
_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
_HASHTAG = re.compile(r"(?<!\S)#(\w+)")
#: A link as LinkedIn auto-links it, without trailing punctuation; never a character that
#: ``from_little`` reads as markup (a backslash, braces, a bar).
_LINK = re.compile(r"(?<!\S)https?://[^\s<>\"'\\{}|]*[^\s<>\"'\\{}|.,;:!?)\]]",
                   re.IGNORECASE)
_TEMPLATE = re.compile(r"\{hashtag\|\\#\|([^}]*)\}")
_MENTION = re.compile(r"@\[((?:\\.|[^\]\\])*)\]\(urn:li:[^)]*\)")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_SCOPE = re.compile(r"\b(?:w|r|rw)_[a-z_]+\b")
_DUPLICATE_OF = re.compile(r"urn:li:(?:share|ugcPost):\d+")
_MAX_MESSAGE = 300


def to_little(text: str) -> str:
    """Plain text as LinkedIn ``commentary``: reserved characters escaped, hashtags kept, and
    links left as written (an escaped ``_`` in ``utm_source`` breaks LinkedIn's auto-link)."""
    out: list[str] = []
    pos = 0
    for link in _LINK.finditer(text):
        out.append(_escaped(text[pos:link.start()]))
        out.append(link.group(0))
        pos = link.end()
    out.append(_escaped(text[pos:]))
    return "".join(out)


def _escaped(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _HASHTAG.finditer(text):
        out.append(_RESERVED.sub(r"\\\1", text[pos:match.start()]))
        out.append("{hashtag|\\#|" + _RESERVED.sub(r"\\\1", match.group(1)) + "}")
        pos = match.end()
    out.append(_RESERVED.sub(r"\\\1", text[pos:]))
    return "".join(out)


def from_little(text: str) -> str:
    """A ``commentary`` read back as the plain text a person sees."""
    text = _TEMPLATE.sub(r"#\1", text)
    text = _MENTION.sub(lambda m: m.group(1), text)
    return _ESCAPED.sub(r"\1", text)


def encode_urn(urn: str) -> str:
    """A URN as one path segment or query value: ``urn%3Ali%3Ashare%3A1``."""
    return quote(urn, safe="")


@dataclass(frozen=True)
class UploadPart:
    """One byte range of a video and the URL to ``PUT`` it to."""

    url: str
    first: int
    last: int


@dataclass(frozen=True)
class VideoUpload:
    """An initialized video upload: its URN, token, parts and when the URLs expire."""

    video: str
    token: str
    parts: tuple[UploadPart, ...]
    expires_at: float | None  # epoch seconds


class LinkedInAPI:
    """The LinkedIn REST calls of one organization page, over one ``requests`` session."""

    def __init__(self, session: requests.Session, token: SecretStr, version: str, *,
                 channel: str, account: str, timeout: tuple[float, float],
                 upload_timeout: tuple[float, float],
                 now: Callable[[], float], error: Callable[..., ChannelError]) -> None:
        self.session = session
        self._token = token
        self.version = version
        self.channel = channel
        self.account = account
        self.timeout = timeout
        self.upload_timeout = upload_timeout
        self.now = now
        #: The channel's ``Channel.error``: every LinkedIn error is built through it.
        self._error = error

    def __repr__(self) -> str:
        return f"<LinkedInAPI account={self.account!r} version={self.version!r}>"

    # -- transport ---------------------------------------------------------------------------

    def _headers(self, restli_method: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}",
                   "LinkedIn-Version": self.version, "X-Restli-Protocol-Version": "2.0.0",
                   "User-Agent": "carecast"}
        if restli_method:
            headers["X-RestLi-Method"] = restli_method
        return headers

    def call(self, method: str, path: str, *, needs: str, restli_method: str | None = None,
             **kwargs: Any) -> requests.Response:
        """One REST call; ``needs`` is the permission named when LinkedIn answers 403."""
        url = path if path.startswith("https://") else f"{API}/{path}"
        return self._send(method, url, needs=needs, timeout=self.timeout,
                          headers=self._headers(restli_method), **kwargs)

    def _send(self, method: str, url: str, *, needs: str, timeout: tuple[float, float],
              **kwargs: Any) -> requests.Response:
        """``http.send``, with an error answer read again for LinkedIn's own reason."""
        answers: list[requests.Response] = []
        failure: ChannelError | None = None
        try:
            return send(self.session, method, url, channel=self.channel, account=self.account,
                        timeout=timeout, now=self.now,
                        hooks={"response": lambda r, *a, **k: answers.append(r)}, **kwargs)
        except ChannelError as exc:
            failure = exc
        if failure.status is None or not answers:
            raise failure  # a transport failure: there is no answer to read
        raise self.error(answers[-1], needs=needs)

    def error(self, response: requests.Response, *, needs: str) -> ChannelError:
        """The carecast error for a LinkedIn error answer, read from its body."""
        cls, message = self._classify(response, needs)
        return self._error(cls, message, response=response)

    def _classify(self, response: requests.Response, needs: str
                  ) -> tuple[type[ChannelError], str]:
        body = _json(response)
        status = response.status_code
        said = _message(body)
        codes = _codes(body)
        if status == 401:
            return AuthenticationError, (
                f"LinkedIn refused the access token ({said or 'invalid or expired'}). LinkedIn "
                "access tokens last 60 days: refresh it with the app's refresh token (POST "
                "https://www.linkedin.com/oauth/v2/accessToken, grant_type=refresh_token) or "
                "sign in again through the app's OAuth flow, then update access_token")
        if status == 403:
            scope = _SCOPE.search(said)
            return PermissionDenied, (
                f"LinkedIn denied the request ({said or 'access denied'}): the token needs the "
                f"{scope.group(0) if scope else needs} permission and its member must be an "
                "administrator or content admin of the page; add the Community Management API "
                "product to the app, grant the permission and sign in again")
        if status == 409 or (status in (400, 422) and (
                "DUPLICATE_POST" in codes or "duplicate" in said.lower())):
            found = _DUPLICATE_OF.search(said)
            return DuplicatePost, "LinkedIn already holds this content" + (
                f" as {found.group(0)}" if found else "")
        if status == 429:
            return RateLimited, (
                f"LinkedIn's rate limit was reached ({said or 'too many requests'}); LinkedIn "
                "resets daily limits at midnight UTC")
        if status >= 500:
            return ChannelServerError, (
                f"LinkedIn failed with HTTP {status} ({said or 'no reason given'}); it may "
                "have stored the post")
        hint = ""
        if status == 426 or codes & {"VERSION_MISSING", "NONEXISTENT_VERSION"}:
            hint = (f"; LinkedIn-Version {self.version} is not served: set api_version to a "
                    "current version (YYYYMM)")
        detail = f" [{', '.join(sorted(codes))}]" if codes else ""
        return PlatformRejected, (
            f"LinkedIn refused the request: {said or f'HTTP {status}'}{detail}{hint}")

    # -- posts -------------------------------------------------------------------------------

    def create_post(self, body: Mapping[str, Any]) -> requests.Response:
        """``POST /rest/posts``; LinkedIn answers 201 with the URN in ``x-restli-id``."""
        return self.call("POST", "posts", needs="w_organization_social", json=dict(body))

    def posts_by(self, author: str, count: int, start: int = 0) -> list[dict[str, Any]]:
        """The author's posts, newest created first, from ``start`` (Rest.li offset paging).

        Sorted by creation, not LinkedIn's default last modification: an older post edited
        since would otherwise stand before the one a lookup is after, and end its search."""
        params: dict[str, Any] = {"author": author, "q": "author", "count": count,
                                  "sortBy": "CREATED"}
        if start:
            params["start"] = start
        response = self.call("GET", "posts", needs="r_organization_social",
                             restli_method="FINDER", params=params)
        return _elements(response, self)

    def read_post(self, urn: str) -> dict[str, Any]:
        """``GET /rest/posts/{urn}``."""
        return _object(self.call("GET", f"posts/{encode_urn(urn)}",
                                 needs="r_organization_social"), self)

    def delete_post(self, urn: str) -> None:
        """``DELETE /rest/posts/{urn}``; a post already gone counts as deleted."""
        try:
            self.call("DELETE", f"posts/{encode_urn(urn)}", needs="w_organization_social",
                      restli_method="DELETE")
        except PlatformRejected as exc:
            if exc.status not in (404, 410):
                raise

    # -- media -------------------------------------------------------------------------------

    def initialize_image_upload(self, owner: str) -> tuple[str, str]:
        """``(upload_url, image_urn)`` from the Images API."""
        response = self.call("POST", "images?action=initializeUpload",
                             needs="w_organization_social",
                             json={"initializeUploadRequest": {"owner": owner}})
        value = _value(response, self)
        return _str(value, "uploadUrl", self), _str(value, "image", self)

    def initialize_video_upload(self, owner: str, size: int) -> VideoUpload:
        """Register a video of ``size`` bytes; LinkedIn answers with the parts to send."""
        response = self.call("POST", "videos?action=initializeUpload",
                             needs="w_organization_social", json={"initializeUploadRequest": {
                                 "owner": owner, "fileSizeBytes": size,
                                 "uploadCaptions": False, "uploadThumbnail": False}})
        value = _value(response, self)
        raw = value.get("uploadInstructions")
        if not isinstance(raw, list) or not raw:
            raise _malformed(self, "initializeUpload gave no uploadInstructions")
        try:
            parts = tuple(UploadPart(url=_str(p, "uploadUrl", self), first=int(p["firstByte"]),
                                     last=int(p["lastByte"])) for p in raw)
        except (KeyError, TypeError, ValueError):
            raise _malformed(self, "an upload instruction without its byte range") from None
        expires = value.get("uploadUrlsExpireAt")
        return VideoUpload(video=_str(value, "video", self),
                           token=str(value.get("uploadToken") or ""), parts=parts,
                           expires_at=expires / 1000 if isinstance(expires, int) else None)

    def upload(self, url: str, data: bytes) -> requests.Response:
        """``PUT`` bytes to an upload URL; the token goes only to LinkedIn's own hosts."""
        host = urlsplit(url).hostname or ""
        headers = {"Content-Type": "application/octet-stream", "User-Agent": "carecast"}
        if host == "linkedin.com" or host.endswith(".linkedin.com"):
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return self._send("PUT", url, needs="w_organization_social",
                          timeout=self.upload_timeout, data=data, headers=headers)

    def finalize_video_upload(self, upload: VideoUpload, etags: list[str]) -> None:
        """Tell LinkedIn every part arrived, naming each part's ETag in order."""
        self.call("POST", "videos?action=finalizeUpload", needs="w_organization_social",
                  json={"finalizeUploadRequest": {"video": upload.video,
                                                  "uploadToken": upload.token,
                                                  "uploadedPartIds": etags}})

    def video(self, urn: str) -> dict[str, Any]:
        """``GET /rest/videos/{urn}``: its ``status`` and, on failure, the reason."""
        return _object(self.call("GET", f"videos/{encode_urn(urn)}",
                                 needs="w_organization_social"), self)

    def image(self, urn: str) -> dict[str, Any]:
        """``GET /rest/images/{urn}``: its ``downloadUrl`` and ``status``."""
        return _object(self.call("GET", f"images/{encode_urn(urn)}",
                                 needs="r_organization_social"), self)

    # -- the page ----------------------------------------------------------------------------

    def organization(self, organization_id: int) -> dict[str, Any]:
        """``GET /rest/organizations/{id}``."""
        return _object(self.call("GET", f"organizations/{organization_id}",
                                 needs="rw_organization_admin"), self)

    def comments(self, post: str, count: int) -> list[dict[str, Any]]:
        """The comments on a post (``socialActions/{urn}/comments``)."""
        return _elements(self.call("GET", f"socialActions/{encode_urn(post)}/comments",
                                   needs="r_organization_social", params={"count": count}),
                         self)

    def create_comment(self, target: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /rest/socialActions/{urn}/comments``: a comment on a post, or (with
        ``parentComment``, on the parent comment's URN) a reply to a comment; the comment."""
        return _object(self.call("POST", f"socialActions/{encode_urn(target)}/comments",
                                 needs="w_organization_social", json=dict(body)), self)

    def notifications(self, organization: str, action: str, start_ms: int, end_ms: int
                      ) -> list[dict[str, Any]]:
        """The page's social-action notifications of one kind in a time range (LinkedIn
        keeps 60 days): ``SHARE_MENTION`` for posts that mention the page."""
        path = (f"organizationalEntityNotifications?q=criteria"
                f"&organizationalEntity={encode_urn(organization)}&actions=List({action})"
                f"&timeRange=(start:{start_ms},end:{end_ms})")
        return _elements(self.call("GET", path, needs="rw_organization_admin",
                                   restli_method="FINDER"), self)

    def social_metadata(self, post: str) -> dict[str, Any]:
        """Reaction and comment counts of a post (``socialMetadata/{urn}``)."""
        return _object(self.call("GET", f"socialMetadata/{encode_urn(post)}",
                                 needs="r_organization_social"), self)

    def share_statistics(self, organization: str, post: str) -> dict[str, Any] | None:
        """A post's lifetime ``totalShareStatistics`` (impressions, clicks, shares)."""
        kind = "ugcPosts" if post.startswith("urn:li:ugcPost:") else "shares"
        path = (f"organizationalEntityShareStatistics?q=organizationalEntity"
                f"&organizationalEntity={encode_urn(organization)}"
                f"&{kind}=List({encode_urn(post)})")
        for element in _elements(self.call("GET", path, needs="rw_organization_admin",
                                           restli_method="FINDER"), self):
            stats = element.get("totalShareStatistics")
            if isinstance(stats, dict):
                return stats
        return None


# -- reading answers -------------------------------------------------------------------------


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message(body: Mapping[str, Any]) -> str:
    """LinkedIn's ``message``, one line and short (it never needs to quote the post)."""
    message = body.get("message")
    if not isinstance(message, str):
        return ""
    line = " ".join(message.split())
    return line if len(line) <= _MAX_MESSAGE else line[:_MAX_MESSAGE] + "…"


def _codes(body: Mapping[str, Any]) -> set[str]:
    """``code`` and the input errors' codes of an error body."""
    codes = {body["code"]} if isinstance(body.get("code"), str) else set()
    details = body.get("errorDetails")
    inputs = details.get("inputErrors") if isinstance(details, dict) else None
    for item in inputs if isinstance(inputs, list) else ():
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            codes.add(item["code"])
    return codes


def _malformed(api: LinkedInAPI, what: str) -> ChannelServerError:
    return ChannelServerError(f"LinkedIn's answer was not as documented: {what}",
                              channel=api.channel, account=api.account)


def _object(response: requests.Response, api: LinkedInAPI) -> dict[str, Any]:
    data = _json(response)
    if not data:
        raise _malformed(api, f"HTTP {response.status_code} without a JSON object")
    return data


def _value(response: requests.Response, api: LinkedInAPI) -> dict[str, Any]:
    value = _object(response, api).get("value")
    if not isinstance(value, dict):
        raise _malformed(api, "no 'value' object")
    return value


def _str(data: Mapping[str, Any], key: str, api: LinkedInAPI) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _malformed(api, f"no {key!r}")
    return value


def _elements(response: requests.Response, api: LinkedInAPI) -> list[dict[str, Any]]:
    """A collection's ``elements``; an answer without them proves nothing, so it raises."""
    elements = _json(response).get("elements")
    if not isinstance(elements, list):
        raise _malformed(api, f"HTTP {response.status_code} without 'elements'")
    return [e for e in elements if isinstance(e, dict)]
