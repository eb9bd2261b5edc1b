"""A Mastodon-shaped HTTP server on 127.0.0.1 that can lose answers, for fault injection.

``MastodonServer`` answers what the Mastodon channel calls: ``GET /api/v2/instance``,
``GET /api/v1/accounts/verify_credentials``, ``POST /api/v1/statuses`` and
``GET /api/v1/accounts/:id/statuses`` (newest first, ``limit`` / ``max_id`` / ``since_id`` /
``min_id``, a ``Link`` header with ``next`` and ``prev`` as Mastodon's ``Paginable`` sends).
Faults, set on the instance at any time:

- ``ignore_keys``: ``Idempotency-Key`` is not honoured (every create is a new status);
- ``drop_answers``: the next N creates store the status, then lose the answer: ``drop_mode``
  ``"reset"`` resets the connection, ``"timeout"`` answers only after ``hang_for`` seconds
  (longer than the client's read timeout);
- ``burst``: after each dropped answer, that many statuses by another client are posted;
- ``failing_pages``: page requests (1-based, counted per server) answered with HTTP 500.

``latency`` delays every answer (a platform's own time); ``peak_active`` is the most requests
it served at once. ``python tests/mastodon_server.py --latency 0.1`` serves in its own process
(for the fan-out benchmark) until stdin closes, printing the URL first and its counters last.

``statuses`` holds every stored status, oldest first; ``copies(text)`` counts a text's. Times
come from ``clock`` (a ``carecast.testing.FrozenClock`` in tests). Usable as a context manager.
"""

from __future__ import annotations

import email.utils
import html
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ACCOUNT_ID", "MastodonServer"]

ACCOUNT_ID = "109337262836745983"
_PAGE_MAX = 40


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # a fan-out opens many connections at once


class MastodonServer:
    """An in-memory Mastodon instance for one account, on a free port of 127.0.0.1."""

    def __init__(self, clock: Callable[[], datetime], *, ignore_keys: bool = False,
                 latency: float = 0.0) -> None:
        self.clock = clock
        self.ignore_keys = ignore_keys
        self.latency = latency
        self.active = 0
        self.peak_active = 0
        self.drop_answers = 0
        self.drop_mode = "reset"
        self.hang_for = 2.0
        self.burst = 0
        self.failing_pages: set[int] = set()
        self.statuses: list[dict[str, Any]] = []
        self.creates = 0
        self.page_requests = 0
        self._keys: dict[str, dict[str, Any]] = {}
        self._texts: dict[str, str] = {}
        self._lock = threading.Lock()
        self._next_id = 110_000_000_000_000_000
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The instance's base URL."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> MastodonServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def enter(self) -> None:
        """A request starts: counted for ``peak_active``."""
        with self._lock:
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)

    def leave(self) -> None:
        """A request is answered."""
        with self._lock:
            self.active -= 1

    def post(self, text: str, *, reply_to: str | None = None) -> dict[str, Any]:
        """Store a status as the instance would (also how other clients' posts are added)."""
        with self._lock:
            self._next_id += 1
            status = _status(str(self._next_id), text, reply_to, self.clock(), self.url)
            self.statuses.append(status)
            self._texts[status["id"]] = text
            return status

    def source(self, id: str) -> dict[str, Any] | None:
        """``GET /api/v1/statuses/:id/source`` (entities/StatusSource)."""
        text = self._texts.get(id)
        return None if text is None else {"id": id, "text": text, "spoiler_text": ""}

    def copies(self, text: str) -> int:
        """How many stored statuses carry exactly ``text``."""
        content = _html(text)
        return sum(1 for s in self.statuses if s["content"] == content)

    # -- what the handler calls --------------------------------------------------------------

    def create(self, params: dict[str, Any], key: str | None) -> tuple[dict[str, Any], bool]:
        """Store (or, by its key, find) a status; also whether its answer is to be lost."""
        with self._lock:
            self.creates += 1
            known = self._keys.get(key) if key and not self.ignore_keys else None
        if known is not None:
            return known, False
        status = self.post(str(params.get("status") or ""),
                           reply_to=params.get("in_reply_to_id") or None)
        with self._lock:
            if key:
                self._keys[key] = status
            drop = self.drop_answers > 0
            self.drop_answers -= drop
        if drop:
            for n in range(self.burst):
                self.post(f"Another client's status {n}.")
        return status, drop

    def page(self, query: dict[str, str]) -> tuple[int, list[dict[str, Any]], str]:
        """One page of the account's statuses, newest first, and its Link header."""
        with self._lock:
            self.page_requests += 1
            if self.page_requests in self.failing_pages:
                return 500, [], ""
            items = sorted(self.statuses, key=lambda s: int(s["id"]), reverse=True)
        limit = min(int(query.get("limit", "20")), _PAGE_MAX)
        if "max_id" in query:
            items = [s for s in items if int(s["id"]) < int(query["max_id"])]
        if "since_id" in query:
            items = [s for s in items if int(s["id"]) > int(query["since_id"])]
        if "min_id" in query:  # the page just above min_id, still newest first
            items = [s for s in items if int(s["id"]) > int(query["min_id"])][-limit:]
        page = items[:limit]
        links = []
        base = f"{self.url}/api/v1/accounts/{ACCOUNT_ID}/statuses?limit={limit}"
        if page:
            links.append(f'<{base}&max_id={page[-1]["id"]}>; rel="next"')
            links.append(f'<{base}&min_id={page[0]["id"]}>; rel="prev"')
        return 200, page, ", ".join(links)


def _status(id: str, text: str, reply_to: str | None, at: datetime, base: str) -> dict[str, Any]:
    """A Status entity (docs.joinmastodon.org entities/Status), trimmed."""
    return {
        "id": id, "created_at": at.isoformat().replace("+00:00", ".000Z"),
        "in_reply_to_id": reply_to, "in_reply_to_account_id": ACCOUNT_ID if reply_to else None,
        "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
        "uri": f"{base}/users/riverside/statuses/{id}", "url": f"{base}/@riverside/{id}",
        "content": _html(text), "reblog": None, "account": _account(), "media_attachments": [],
        "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
        "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "edited_at": None,
    }


def _html(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n", "<br />") + "</p>"


def _account() -> dict[str, Any]:
    return {"id": ACCOUNT_ID, "username": "riverside", "acct": "riverside",
            "display_name": "Riverside General", "note": "", "url": "", "avatar": "",
            "fields": [], "followers_count": 0, "created_at": "2022-11-08T00:00:00.000Z"}


def _instance() -> dict[str, Any]:
    return {"domain": "127.0.0.1", "title": "Test", "version": "4.3.2",
            "configuration": {"statuses": {"max_characters": 500, "max_media_attachments": 4,
                                           "characters_reserved_per_url": 23}},
            "api_versions": {"mastodon": 2}}


def _handler(server: MastodonServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def date_time_string(self, timestamp: float | None = None) -> str:
            """``Date`` from the server's clock, as the channel compares it with created_at."""
            return email.utils.format_datetime(server.clock(), usegmt=True)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if parts.path.rstrip("/") == "/api/v2/instance":
                self._json(200, _instance())
            elif parts.path == "/api/v1/accounts/verify_credentials":
                self._json(200, _account())
            elif parts.path.startswith("/api/v1/statuses/") and parts.path.endswith("/source"):
                source = server.source(parts.path.split("/")[4])
                self._json(200 if source else 404, source or {"error": "Record not found"})
            elif parts.path == f"/api/v1/accounts/{ACCOUNT_ID}/statuses":
                status, page, link = server.page(query)
                self._json(status, page if status == 200 else {"error": "boom"},
                           {"Link": link} if link else {})
            else:
                self._json(404, {"error": "Record not found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if urlsplit(self.path).path != "/api/v1/statuses":
                self._json(404, {"error": "Record not found"})
                return
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(body or b"{}")
            else:
                params = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            status, drop = server.create(params, self.headers.get("Idempotency-Key"))
            if drop and server.drop_mode == "timeout":  # stored, answered too late
                time.sleep(server.hang_for)
            elif drop:  # stored, then the answer is lost: a reset, as a proxy or crash does
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            self._json(200, status)

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            server.enter()
            try:
                if server.latency:  # answer after the platform's own time, as one does
                    time.sleep(server.latency)
                self.wfile.write(raw)
            finally:
                server.leave()

    return Handler


def main() -> None:
    """Serve in this process until stdin closes: the URL first, the counters last (JSON)."""
    import argparse
    import sys
    from datetime import UTC

    parser = argparse.ArgumentParser(description="a Mastodon-shaped server on 127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with MastodonServer(lambda: datetime.now(UTC), latency=args.latency) as server:
        print(server.url, flush=True)
        sys.stdin.read()
        print(json.dumps({"accepted": len(server.statuses), "creates": server.creates,
                          "peak_active": server.peak_active}), flush=True)


if __name__ == "__main__":
    main()
