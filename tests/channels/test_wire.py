"""The http.client transport of ``carecast.channels.http.request``, against a real loopback
server: kept-alive connections, what a server may answer, every failure mapped as requests'
would be, and the requests path kept for mocks, proxies and certificates."""

from __future__ import annotations

import gzip
import http.client
import http.server
import io
import os
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
import trustme

from carecast.channels import http as chttp
from carecast.channels import wire
from carecast.errors import ChannelConnectionError, ChannelError, ChannelTimeout, OutcomeUnknown

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Handler]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.base = ""
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def _any(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        self.server.routes[self.path.split("?")[0]](self)

    do_GET = do_POST = do_DELETE = _any


def _answer(status: int = 200, body: bytes = b'{"id": "1"}', **headers: str) -> Handler:
    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            h.send_header(name.replace("_", "-"), value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return handle


@pytest.fixture
def serve() -> Iterator[Callable[..., _Server]]:
    servers: list[_Server] = []

    def start(routes: dict[str, Handler], tls: ssl.SSLContext | None = None) -> _Server:
        server = _Server(routes)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        server.base = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    wire._pool.close()


def call(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    return chttp.request(session, method, url, channel="test", account="a",
                         timeout=kwargs.pop("timeout", 5.0), **kwargs)


@pytest.fixture
def used(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs the http.client transport sent."""
    sent: list[str] = []
    real = wire.send

    def counting(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        sent.append(request.url or "")
        return real(request, **kwargs)

    monkeypatch.setattr(wire, "send", counting)
    return sent


def test_kept_alive_connection_carries_every_request(serve: Any, used: list[str]) -> None:
    server = serve({"/statuses": _answer()})
    base = server.base
    session = chttp.new_session()
    for i in range(5):
        response = call(session, "POST", f"{base}/statuses", data={"status": f"n{i}"},
                        headers={"Idempotency-Key": f"k{i}"})
        assert response.status_code == 200
        assert response.json() == {"id": "1"}
    assert len(used) == 5
    assert server.connections == 1
    method, path, headers, body = server.requests[-1]
    assert (method, path, body) == ("POST", "/statuses", b"status=n4")
    assert headers["Idempotency-Key"] == "k4"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["Accept-Encoding"] == wire.ACCEPT_ENCODING


def test_query_json_and_headers_as_requests_sends_them(serve: Any, used: list[str]) -> None:
    server = serve({"/search": _answer()})
    base = server.base
    session = chttp.new_session()
    session.headers["Authorization"] = "Bearer t0ken"
    call(session, "GET", f"{base}/search", params={"q": "flu shots", "n": 2, "skip": None})
    call(session, "POST", f"{base}/search", json={"a": [1, "é"]}, headers={"X-One": "1"})
    (m1, p1, h1, b1), (m2, _, h2, b2) = server.requests
    assert (m1, p1, b1) == ("GET", "/search?q=flu+shots&n=2", b"")
    assert h1["Authorization"] == "Bearer t0ken"
    assert "Content-Length" not in h1
    assert (m2, b2) == ("POST", b'{"a": [1, "\\u00e9"]}')
    assert h2["Content-Type"] == "application/json"
    assert h2["X-One"] == "1"
    assert len(used) == 2


def test_a_connection_the_server_closed_is_not_reused(serve: Any, used: list[str]) -> None:
    server = serve({"/bye": _answer(Connection="close"), "/stay": _answer()})
    base = server.base
    session = chttp.new_session()
    for _ in range(3):
        assert call(session, "GET", f"{base}/bye").status_code == 200
    assert server.connections == 3
    call(session, "GET", f"{base}/stay")
    idle = next(iter(wire._pool._idle.values()))
    conn = idle[-1][0]
    assert conn.sock is not None
    conn.sock.shutdown(socket.SHUT_RDWR)  # as a server closes an idle connection: readable
    assert call(session, "GET", f"{base}/stay").status_code == 200
    assert server.connections == 5


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),
])
def test_compressed_answers_are_decoded(serve: Any, encoding: str,
                                        encode: Callable[[bytes], bytes]) -> None:
    text = b'{"text": "' + b"flu shots " * 500 + b'"}'
    server = serve({"/z": _answer(body=encode(text), Content_Encoding=encoding)})
    base = server.base
    response = call(chttp.new_session(), "GET", f"{base}/z")
    assert response.content == text
    assert response.json()["text"].startswith("flu")


def test_chunked_answer_and_repeated_headers(serve: Any) -> None:
    def chunked(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(201, "Created")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Link", '<https://a.example/1>; rel="next"')
        h.send_header("Link", '<https://a.example/0>; rel="prev"')
        h.send_header("Content-Type", "text/plain; charset=utf-8")
        h.end_headers()
        for part in (b"caf", "\u00e9 ".encode(), b"open"):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        h.wfile.write(b"0\r\n\r\n")

    server = serve({"/c": chunked})
    base = server.base
    session = chttp.new_session()
    fast = call(session, "GET", f"{base}/c")
    with requests.Session() as plain:
        slow = plain.get(f"{base}/c")
    assert (fast.status_code, fast.reason, fast.text) == (201, "Created", "caf\u00e9 open")
    assert (fast.status_code, fast.reason, fast.text, fast.encoding) == \
        (slow.status_code, slow.reason, slow.text, slow.encoding)
    assert fast.headers["link"] == slow.headers["link"]
    assert fast.links["next"]["url"] == "https://a.example/1"
    assert b"".join(call(session, "GET", f"{base}/c").iter_content(4)) == slow.content
    call(session, "GET", f"{base}/c").close()  # read whole already: nothing left to close
    assert call(session, "GET", f"{base}/c").text == "caf\u00e9 open"  # reused after chunks
    assert server.connections == 2  # requests' own session + ours


def test_refused_connection_was_surely_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ChannelConnectionError) as caught:
        call(chttp.new_session(), "POST", f"http://127.0.0.1:{port}/x", data={"a": "1"})
    assert not isinstance(caught.value, OutcomeUnknown)
    assert str(port) not in str(caught.value)


def test_connect_timeout_was_surely_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(self: Any) -> None:
        raise TimeoutError("timed out")

    monkeypatch.setattr(wire.http.client.HTTPConnection, "connect", slow)
    with pytest.raises(ChannelTimeout):
        call(chttp.new_session(), "POST", "http://127.0.0.1:9/x", data={"a": "1"},
             timeout=(0.5, 5))


def test_no_answer_in_time_may_have_been_stored(serve: Any) -> None:
    stop = threading.Event()

    def stall(h: http.server.BaseHTTPRequestHandler) -> None:
        stop.wait(5)

    server = serve({"/slow": stall})
    base = server.base
    try:
        with pytest.raises(OutcomeUnknown, match="no answer came in time"):
            call(chttp.new_session(), "POST", f"{base}/slow", data={"a": "1"},
                 timeout=(5, 0.3))
    finally:
        stop.set()
    assert not wire._pool._idle.get(("http", "127.0.0.1", int(base.rsplit(":", 1)[1]), ""))


@pytest.mark.parametrize("cut", ["reset", "short body", "no status"])
def test_broken_answer_may_have_been_stored(serve: Any, cut: str) -> None:
    def broken(h: http.server.BaseHTTPRequestHandler) -> None:
        if cut == "short body":
            h.send_response(200)
            h.send_header("Content-Length", "100")
            h.end_headers()
            h.wfile.write(b'{"id": ')
            h.wfile.flush()
        elif cut == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    b"\x01\x00\x00\x00\x00\x00\x00\x00")
        h.close_connection = True
        h.connection.close()

    server = serve({"/b": broken})
    base = server.base
    with pytest.raises(OutcomeUnknown, match="may have been stored"):
        call(chttp.new_session(), "POST", f"{base}/b", data={"a": "1"})


def test_an_answer_past_the_cap_is_refused(serve: Any, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setattr(wire, "MAX_ANSWER", 1000)
    base = serve({"/big": _answer(body=b"x" * 5000),
                  "/bomb": _answer(body=gzip.compress(b"x" * 50_000),
                                   Content_Encoding="gzip")}).base
    session = chttp.new_session()
    for path in ("/big", "/bomb"):
        with pytest.raises(OutcomeUnknown):
            call(session, "POST", f"{base}{path}", data={"a": "1"})


def test_hosts_beyond_the_limit_have_their_connections_closed(
        serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "HOSTS", 2)
    bases = [serve({"/": _answer()}).base for _ in range(3)]
    session = chttp.new_session()
    first = None
    for base in bases:
        call(session, "GET", f"{base}/")
        if first is None:
            first = next(iter(wire._pool._idle.values()))[0][0]
    assert len(wire._pool._idle) == 2
    assert first is not None
    assert first.sock is None


def test_tls_is_verified_against_the_session_bundle(serve: Any, tmp_path: Any,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    used: list[str]) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = serve({"/t": _answer()}, tls=context)
    base = server.base
    with pytest.raises(ChannelConnectionError, match="TLS"):  # not in the default bundle
        call(chttp.new_session(), "POST", f"{base}/t", data={"a": "1"})
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert call(chttp.new_session(), "POST", f"{base}/t", data={"a": "1"}).json() == \
        {"id": "1"}
    assert len(used) == 2


def test_mocks_proxies_and_certificates_go_through_requests(used: list[str]) -> None:
    session = chttp.new_session()
    with responses.RequestsMock() as mocked:
        mocked.post("https://api.example.org/statuses", json={"id": "m"})
        assert call(session, "POST", "https://api.example.org/statuses",
                    data={"a": "1"}).json() == {"id": "m"}
    assert used == []
    adapter = session.get_adapter("https://api.example.org/")
    prepared = chttp._lean(session, "POST", "https://api.example.org/x", {"data": {"a": "1"}})
    assert prepared is not None
    assert wire.carries(session, adapter, prepared)
    session.proxies = {"https": "http://proxy.example:3128"}
    assert not wire.carries(session, adapter, prepared)
    session.proxies, session.cert = {}, "/etc/client.pem"
    assert not wire.carries(session, adapter, prepared)
    session.cert = None
    prepared.headers["Accept-Encoding"] = "br"
    assert not wire.carries(session, adapter, prepared)


def test_a_forked_child_never_shares_the_parents_connections(serve: Any) -> None:
    server = serve({"/": _answer()})
    session = chttp.new_session()
    call(session, "GET", f"{server.base}/")
    pid = os.fork()
    if pid == 0:  # the child: its own connection, or exit 1
        code = 1
        try:
            if not wire._pool._idle and call(session, "GET", f"{server.base}/").ok:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert call(session, "GET", f"{server.base}/").ok  # the parent's own, still usable
    assert server.connections == 2


def test_the_request_carries_host_and_a_header_that_could_split_it_is_refused(
        serve: Any, used: list[str]) -> None:
    server = serve({"/statuses": _answer()})
    session = chttp.new_session()
    call(session, "POST", f"{server.base}/statuses", data={"status": "hi"})
    _, _, headers, _ = server.requests[-1]
    assert headers["Host"] == f"127.0.0.1:{server.server_address[1]}"
    assert headers["Content-Length"] == "9"
    for bad in ("Bearer s3cret\r\nX-Evil: 1", "Bearer s3cret\n", "s3\x00cret", "s3\x7fcret"):
        session.headers["Authorization"] = bad
        with pytest.raises(ChannelError) as raised:
            call(session, "POST", f"{server.base}/statuses", data={"status": "hi"})
        assert not raised.value.retryable
        assert not raised.value.may_have_been_sent
        assert "Authorization" in str(raised.value)
        assert "s3" not in str(raised.value)
    for name in ("X Bad", "X:Evil", "X\r\nEvil"):
        with pytest.raises(ChannelError, match="nothing was sent"):
            call(chttp.new_session(), "POST", f"{server.base}/statuses", data={"s": "hi"},
                 headers={name: "1"})
    session.headers["Authorization"] = "Bearer caf\u00e9\u2019"  # not ISO-8859-1
    with pytest.raises(ChannelError, match="ISO-8859-1") as raised:
        call(session, "POST", f"{server.base}/statuses", data={"status": "hi"})
    assert "caf" not in str(raised.value)
    assert len(server.requests) == 1  # nothing of the refused requests left


@pytest.mark.parametrize("block", [
    b"Content-Type: text/plain\r\nContent-Length: 3\r\n",
    b"Set-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\nX-Spaces:   padded  \r\n",
    b"X-Folded: one\r\n  two\r\n\tthree\r\nX-Next: 4\r\n",
    b"X-Latin: caf\xe9\r\nX-Colon: a: b: c\r\nLink: <https://x/?a=1>; rel=\"next\"\n",
])
def test_answer_headers_read_as_http_client_reads_them(block: bytes) -> None:
    expected = http.client.parse_headers(io.BytesIO(block + b"\r\n"))
    got = wire._headers(wire._header_lines(io.BytesIO(block + b"\r\n")))
    assert list(got.raw_items()) == list(expected.items())
    for name in ("content-length", "set-cookie", "x-folded", "x-latin", "missing"):
        assert got.get(name) == expected.get(name)
        assert got.get_all(name) == expected.get_all(name)


def test_an_answer_line_that_is_no_header_is_left_out() -> None:
    lines = wire._header_lines(io.BytesIO(b"X-A: 1\r\nnot a header\r\n: no name\r\nX-B: 2\r\n\r\n"))
    assert list(wire._headers(lines).raw_items()) == [("X-A", "1"), ("X-B", "2")]
    with pytest.raises(http.client.HTTPException):
        wire._header_lines(io.BytesIO(b"X: 1\r\n" * 101 + b"\r\n"))


def test_bytes_headers_are_written_as_their_text(serve: Any, used: list[str]) -> None:
    server = serve({"/statuses": _answer()})
    call(chttp.new_session(), "POST", f"{server.base}/statuses", data={"status": "hi"},
         headers={"X-Key": b"k-\xe9"})
    assert server.requests[-1][2]["X-Key"] == "k-\xe9"


@responses.activate
def test_an_unsafe_header_is_refused_on_the_requests_path_too() -> None:
    responses.add(responses.POST, "https://api.example/statuses", json={"id": "1"})
    session = chttp.new_session()
    session.headers["Authorization"] = "Bearer s3cret\r\nX-Evil: 1"
    with pytest.raises(ChannelError) as raised:
        call(session, "POST", "https://api.example/statuses", data={"status": "hi"})
    assert "Authorization" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    assert not raised.value.may_have_been_sent
    assert len(responses.calls) == 0
