"""Plain requests sent with ``http.client`` on kept-alive connections: the channels' hot path.

On a fan-out to hundreds of accounts, requests' adapter and urllib3's pool and response
wrapper cost about 0.3 ms of CPU per call on top of ``http.client`` itself: most of what
carecast spends per post x account. ``carecast.channels.http.request`` sends here the
requests it prepared itself (a form, JSON or bytes, no redirects) on a ``new_session``
session. Anything else goes through requests as before: a proxy for the URL, a client
certificate, ``verify=False``, an ``Accept-Encoding`` of the caller's own, streamed or file
bodies, and any adapter that is not the shared one or has been replaced, as the ``responses``
and ``requests-mock`` test libraries do.

The answer is a ``requests.Response`` and a failure raises the exception requests would
(``ConnectTimeout``, ``ReadTimeout``, ``SSLError``, ``ConnectionError`` wrapping urllib3's
``NewConnectionError`` or ``NameResolutionError`` when nothing was sent), so the one error
mapping of ``carecast.channels.http`` serves both paths. An answer is read whole, up to
``MAX_ANSWER`` bytes (decoded), and only a connection whose answer was read to its end is
kept for the next request.
"""

from __future__ import annotations

import atexit
import http.client
import os
import re
import select
import socket
import ssl
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers, select_proxy
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from carecast.clock import SYSTEM_CLOCK

__all__ = ["MAX_ANSWER", "UnsafeHeader", "carries", "check_headers", "send"]

#: The largest answer read (after decoding); a platform's API answer is a few KiB.
MAX_ANSWER = 32 * 1024 * 1024
#: What this transport decodes, sent when the session asks for requests' default.
ACCEPT_ENCODING = "gzip, deflate"
#: Idle connections kept per host.
IDLE_PER_HOST = 256
#: Hosts whose idle connections are kept (the least recently used are closed).
HOSTS = 64
#: An idle connection older than this is closed rather than used (servers close theirs).
IDLE_SECONDS = 60.0
_PIECE = 64 * 1024
#: The sockets' real time (an idle connection's age, an answer's ``elapsed``): one pool
#: serves every channel of the process, so no channel's own (perhaps frozen) clock.
_clock = SYSTEM_CLOCK
_DEFAULT_ACCEPT = requests.utils.default_headers()["Accept-Encoding"]
#: Accept-Encoding values of a request this transport can honour.
_DECODED = frozenset({_DEFAULT_ACCEPT, ACCEPT_ENCODING, "gzip", "deflate", "identity"})
_Key = tuple[str, str, int, str]
#: The port a URL of each scheme means when it names none (left out of ``Host`` then).
_PORTS = {"http": 80, "https": 443}


def carries(session: requests.Session, adapter: HTTPAdapter,
            request: requests.PreparedRequest) -> bool:
    """Whether this transport may send ``request`` for ``session`` through ``adapter`` (the
    shared pool's, checked by the caller); else requests sends it."""
    send_of = type(adapter).send
    if getattr(send_of, "__module__", None) != "requests.adapters" \
            or send_of.__qualname__ != "HTTPAdapter.send":
        return False  # replaced: a test library's mock, or a subclass's own send
    url = request.url or ""
    if session.cert or session.verify is False or not url.startswith(("https://", "http://")):
        return False
    if request.headers.get("Accept-Encoding", _DEFAULT_ACCEPT) not in _DECODED:
        return False
    return not (session.proxies and select_proxy(url, session.proxies))


def send(request: requests.PreparedRequest, *, timeout: float | tuple[float, float],
         verify: bool | str) -> requests.Response:
    """Send ``request`` (its body bytes or str) and return the whole answer."""
    started = _clock.monotonic()
    url = urlsplit(request.url or "")
    scheme, host = url.scheme, url.hostname or ""
    port = url.port or _PORTS[scheme]
    connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout,
                                                                                timeout)
    key: _Key = (scheme, host, port, verify if isinstance(verify, str) else "")
    method = request.method or "GET"
    body = request.body.encode() if isinstance(request.body, str) else request.body
    message = _message(request, method, url.path, url.query, host, port, scheme, body)
    conn = _pool.take(key) or _connect(key, connect_timeout)
    answer: _Answer | None = None
    try:
        sock = conn.sock
        assert sock is not None
        if sock.gettimeout() != read_timeout:
            sock.settimeout(read_timeout)
        sock.sendall(message)
        answer = _Answer(sock, method=method)
        answer.begin()
        data = _body(answer, request)
    except requests.RequestException:
        _drop(conn, answer)
        raise
    except TimeoutError as exc:
        _drop(conn, answer)
        raise requests.ReadTimeout(f"no answer in {read_timeout} s ({exc})",
                                   request=request) from None
    except (OSError, http.client.HTTPException) as exc:
        _drop(conn, answer)
        raise requests.ConnectionError(f"the connection failed ({type(exc).__name__})",
                                       request=request) from None
    except BaseException:
        _drop(conn, answer)
        raise
    if answer.will_close:
        conn.close()
    else:
        _pool.give(key, conn)
    return _response(request, answer, data, _clock.monotonic() - started)


def _drop(conn: http.client.HTTPConnection, answer: http.client.HTTPResponse | None) -> None:
    """Close a connection that failed, and the answer's file, which holds its socket open."""
    if answer is not None:
        answer.close()
    conn.close()


#: What a request line may not hold (http.client's check), and what a header line must be:
#: a name with no space, control character or ``:``, and a value with no line break or other
#: control character but a tab (http.client and requests refuse line breaks too).
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_SAFE_LINE = re.compile(r"[^\x00-\x20:\x7f]+: [^\x00-\x08\x0a-\x1f\x7f]*")


def _message(request: requests.PreparedRequest, method: str, path: str, query: str,
             host: str, port: int, scheme: str, body: bytes | None) -> bytes:
    """The request line, headers and body, as ``http.client`` writes them (its ``Host`` and
    ``Accept-Encoding`` defaults included), built in one piece: its call per header cost more
    than the rest of the request. A header that could split the message is refused, naming
    only the header (its value may be a token)."""
    target = (path or "/") + (f"?{query}" if query else "")
    if _BAD_TARGET.search(method) or _BAD_TARGET.search(target):
        raise requests.exceptions.InvalidURL("the request line holds a space or a control "
                                             "character", request=request)
    lines = [f"{method} {target} HTTP/1.1"]
    names = {name.lower() for name in request.headers}
    if "host" not in names:
        name = f"[{host}]" if ":" in host else host
        lines.append(f"Host: {name}" if port == _PORTS[scheme] else f"Host: {name}:{port}")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")
    if body and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    for name, value in request.headers.items():
        if value == _DEFAULT_ACCEPT and name.lower() == "accept-encoding":
            value = ACCEPT_ENCODING
        lines.append(_line(name, value, request))
    lines.append("\r\n")
    try:
        head = "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:  # its text would hold the whole block, tokens and all
        raise UnsafeHeader(_header_at(lines, exc.start), request=request,
                           why="a character outside ISO-8859-1") from None
    return head + body if body else head



class UnsafeHeader(requests.exceptions.InvalidHeader):
    """A header this transport will not write; the message names the header, never its
    value (which may be a token)."""

    def __init__(self, name: str, *, request: requests.PreparedRequest,
                 why: str = "a line break or another control character") -> None:
        self.header = name[:64]
        super().__init__(f"the header {self.header!r} holds {why}; fix the setting it "
                         "comes from", request=request)


def check_headers(request: requests.PreparedRequest) -> None:
    """Refuse a header that could split the request (``UnsafeHeader``): what this transport
    checks as it writes them, for a request that goes through requests' adapter instead."""
    for name, value in request.headers.items():
        _line(name, value, request)


def _line(name: str | bytes, value: str | bytes, request: requests.PreparedRequest) -> str:
    """``name: value``; ``UnsafeHeader`` unless the name is a token and the value holds no
    control character but a tab."""
    line = f"{_text(name)}: {_text(value)}"
    if _SAFE_LINE.fullmatch(line) is None:
        raise UnsafeHeader(_text(name), request=request)
    return line


def _text(value: str | bytes) -> str:  # requests takes bytes too
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _header_at(lines: list[str], offset: int) -> str:
    """The name of the header whose line holds ``offset`` of the joined block."""
    for line in lines:
        if offset < len(line) + 2:
            return line.partition(":")[0]
        offset -= len(line) + 2
    return ""


class _Answer(http.client.HTTPResponse):
    """``http.client``'s response, its header block read without the ``email`` parser (about
    four times the cost of the rest of reading a small answer)."""

    def begin(self) -> None:
        """Read the status line and headers as ``HTTPResponse.begin`` does."""
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            _header_lines(self.fp)  # a 100 Continue's headers: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _headers(_header_lines(self.fp))
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding) and encoding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) \
                or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


#: ``http.client``'s limits on an answer's header block.
_MAX_LINE = 65536
_MAX_HEADERS = 100


def _header_lines(fp: Any) -> list[bytes]:
    """The header block's lines, up to the blank line, within ``http.client``'s limits."""
    lines: list[bytes] = []
    while True:
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return lines
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


def _headers(lines: list[bytes]) -> http.client.HTTPMessage:
    """The header lines as ``http.client.parse_headers`` reads them: ISO-8859-1, a value's
    leading blanks dropped, a folded line joined to its header, a line with no name left
    out."""
    message = http.client.HTTPMessage()
    name: str | None = None
    value = ""
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line[0] in " \t":  # obsolete line folding: the header goes on
            if name is not None:
                value += line
            continue
        if name is not None:
            message[name] = value.rstrip("\r\n")
        name, colon, rest = line.partition(":")
        if not colon or not name or name != name.strip():
            name = None  # not a header: the email parser drops it too
            continue
        value = rest.lstrip(" \t")
    if name is not None:
        message[name] = value.rstrip("\r\n")
    return message


def _body(answer: http.client.HTTPResponse, request: requests.PreparedRequest) -> bytes:
    """The answer's whole body, at most ``MAX_ANSWER`` bytes; ``IncompleteRead`` if the
    connection ended before the length it announced."""
    if answer.length is not None:
        if answer.length > MAX_ANSWER:
            raise _too_large(request)
        return answer.read()  # raises IncompleteRead when cut short
    parts: list[bytes] = []  # chunked (a cut chunk raises), or read to the connection's end
    size = 0
    while piece := answer.read(_PIECE):
        size += len(piece)
        if size > MAX_ANSWER:
            raise _too_large(request)
        parts.append(piece)
    return b"".join(parts)


def _too_large(request: requests.PreparedRequest | None = None) -> requests.ConnectionError:
    return requests.ConnectionError(f"the answer is larger than {MAX_ANSWER} bytes",
                                    request=request)


def _connect(key: _Key, timeout: float) -> http.client.HTTPConnection:
    """A new connection, connected; failing here, nothing was sent."""
    scheme, host, port, bundle = key
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                           context=_tls_context(bundle))
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.connect()
    except ssl.SSLError as exc:
        conn.close()
        raise requests.exceptions.SSLError(f"TLS handshake failed ({exc.reason})") from None
    except TimeoutError:
        conn.close()
        raise requests.ConnectTimeout(ConnectTimeoutError(
            f"no connection in {timeout} s")) from None
    except socket.gaierror as exc:
        conn.close()
        raise requests.ConnectionError(NameResolutionError(host, None, exc)) from None  # type: ignore[arg-type]
    except OSError as exc:
        conn.close()
        raise requests.ConnectionError(NewConnectionError(
            None, f"could not connect ({exc.strerror or type(exc).__name__})")) from None  # type: ignore[arg-type]
    return conn


_contexts: dict[str, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def _tls_context(bundle: str) -> ssl.SSLContext:
    """The verifying context for a CA bundle (file or folder; "" for requests' default)."""
    with _contexts_lock:
        if bundle not in _contexts:
            where = bundle or DEFAULT_CA_BUNDLE_PATH
            _contexts[bundle] = ssl.create_default_context(
                capath=where if os.path.isdir(where) else None,
                cafile=None if os.path.isdir(where) else where)
        return _contexts[bundle]


def _response(request: requests.PreparedRequest, answer: http.client.HTTPResponse,
              data: bytes, elapsed: float) -> requests.Response:
    """The ``requests.Response`` requests would have built (the body decoded)."""
    joined: dict[str, tuple[str, str]] = {}
    for name, value in answer.headers.raw_items():  # a repeated header joined, as urllib3 does
        lower = name.lower()
        first = joined.get(lower)
        joined[lower] = (name, value) if first is None else (first[0], f"{first[1]}, {value}")
    response = requests.Response()
    response.status_code = answer.status
    response.reason = answer.reason
    response.headers = CaseInsensitiveDict(dict(joined.values()))
    response.url = request.url or ""
    response.request = request
    response.encoding = get_encoding_from_headers(response.headers)
    response.elapsed = timedelta(seconds=elapsed)
    response._content = _decoded(data, response.headers, request)
    response._content_consumed = True  # type: ignore[attr-defined]  # read, as requests marks it
    return response


def _decoded(data: bytes, headers: Mapping[str, str], request: requests.PreparedRequest
             ) -> bytes:
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity") or not data:
        return data
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return data  # not asked for; left as it came, as requests leaves an unknown one
    try:
        if encoding == "deflate":
            try:
                return _inflate(zlib.decompressobj(), data)
            except zlib.error:  # raw deflate, which some servers send
                return _inflate(zlib.decompressobj(-zlib.MAX_WBITS), data)
        return _inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), data)
    except zlib.error:
        raise requests.exceptions.ContentDecodingError(
            f"the answer is not valid {encoding}", request=request) from None


def _inflate(decoder: Any, data: bytes) -> bytes:
    out = decoder.decompress(data, MAX_ANSWER + 1)
    if len(out) > MAX_ANSWER or decoder.unconsumed_tail:
        raise _too_large()
    return bytes(out)


class _Pool:
    """Idle connections per (scheme, host, port, CA bundle), newest first, for the
    ``HOSTS`` hosts used last; closed when idle ``IDLE_SECONDS``, at exit, and in a forked
    child (whose copies the parent still uses)."""

    def __init__(self) -> None:
        self._idle: OrderedDict[_Key, list[tuple[http.client.HTTPConnection, float]]] = \
            OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: _Key) -> http.client.HTTPConnection | None:
        """An idle connection the server has not closed, or None."""
        now = _clock.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn, since = idle.pop()
            if now - since < IDLE_SECONDS and not _dropped(conn):
                return conn
            conn.close()

    def give(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        closing = [conn]
        with self._lock:
            idle = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(idle) < IDLE_PER_HOST:
                idle.append((conn, _clock.monotonic()))
                closing = []
            while len(self._idle) > HOSTS:
                closing += [c for c, _ in self._idle.popitem(last=False)[1]]
        for item in closing:
            item.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, OrderedDict()
        _close_all(idle)

    def forget(self) -> None:
        """In a forked child: close the copies of the parent's connections. The lock is made
        anew, not taken: a parent thread may have held it at the fork, and is gone."""
        self._lock = threading.Lock()
        idle, self._idle = self._idle, OrderedDict()
        _close_all(idle)


def _close_all(idle: Mapping[_Key, list[tuple[http.client.HTTPConnection, float]]]) -> None:
    for conns in idle.values():
        for conn, _ in conns:
            conn.close()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether the server closed (or wrote on) an idle connection: readable means either."""
    sock = conn.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


_pool = _Pool()


def _after_fork() -> None:
    global _contexts_lock
    _contexts_lock = threading.Lock()
    _pool.forget()


atexit.register(_pool.close)
os.register_at_fork(after_in_child=_after_fork)
