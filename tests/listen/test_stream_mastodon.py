"""``listen --follow`` streaming from a loopback server shaped like a Mastodon instance: the
REST calls the polled path makes, ``/api/v2/instance`` naming a separate streaming address,
and the server-sent event streams (``event: notification``, ``:thump``, dropped connections,
bad and oversized events)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from carecast.config import Config
from carecast.listen import Listener
from carecast.publish import Publisher
from carecast.store import Ledger
from carecast.store.mentions import MentionStore
from carecast.testing import FrozenClock
from channels.test_mastodon import ME, TOKEN, status

NOW = datetime(2026, 9, 21, 14, 0, tzinfo=UTC)


class PacedClock(FrozenClock):
    """A frozen clock whose sleeps also pass a little real time, so the loopback server's
    threads run while the listener waits on the clock."""

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, 0.03))
        super().sleep(seconds)


def note(n: int, text: str, minutes: int) -> dict[str, Any]:
    """A ``mention`` Notification entity holding a status by a patient."""
    when = NOW - timedelta(minutes=minutes)
    who = {"id": f"9{n}", "username": f"p{n}", "acct": f"p{n}@example.org"}
    return {"id": str(100 + n), "type": "mention",
            "created_at": when.isoformat().replace("+00:00", ".000Z"), "account": who,
            "status": status(str(1000 + n), f"<p>@riverside {text}</p>", created=when,
                             account=who)}


class Instance:
    """The instance: notifications for REST, and a script for each stream connection (a
    list of raw SSE chunks; ``None`` then drops the connection, the end keeps it open)."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self.connections: list[list[bytes | None]] = []
        self.opened: list[str] = []
        self.on_drop: list[dict[str, Any]] = []  # notifications that arrive while it is down
        self.tag_connections: list[list[bytes | None]] = []
        self.stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        instance = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                assert self.headers["Authorization"] == f"Bearer {TOKEN}"
                url = urlsplit(self.path)
                if url.path.startswith("/api/v1/streaming/"):
                    instance._stream(self, url.path, parse_qs(url.query))
                    return
                if url.path == "/api/v2/instance":
                    body: Any = {"domain": "example.social", "configuration": {
                        "urls": {"streaming": instance.base.replace("http://", "ws://")}}}
                elif url.path == "/api/v1/accounts/verify_credentials":
                    body = {"id": ME, "username": "riverside", "acct": "riverside"}
                elif url.path == "/api/v1/notifications":
                    body = sorted(instance.notifications, key=lambda n: n["created_at"],
                                  reverse=True)
                else:
                    body = {"error": "not found"}
                data = json.dumps(body).encode()
                self.send_response(200 if url.path != "/nothing" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _stream(self, handler: BaseHTTPRequestHandler, path: str,
                query: dict[str, list[str]]) -> None:
        self.opened.append(path + (f"?tag={query['tag'][0]}" if "tag" in query else ""))
        scripts = self.tag_connections if "tag" in query else self.connections
        script = scripts.pop(0) if scripts else []
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            handler.wfile.write(b":)\n")
            handler.wfile.flush()
            time.sleep(0.1)  # the listener covers the gap in this time; the events wait
            for chunk in script:
                if chunk is None:  # drop it; what arrives meanwhile is only on REST
                    self.notifications.extend(self.on_drop)
                    handler.close_connection = True
                    return
                handler.wfile.write(chunk)
                handler.wfile.flush()
            while not self.stop.wait(0.05):
                handler.wfile.write(b":thump\n")
                handler.wfile.flush()
        except OSError:
            return

    def __enter__(self) -> Instance:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def event(name: str, payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"event: {name}\r\ndata: {data}\r\n\r\n".encode()


@pytest.fixture
def instance() -> Iterator[Instance]:
    with Instance() as running:
        yield running


def config(tmp_path: Path, base: str, **listen: Any) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"masto": {"channel": "mastodon", "brand": "riverside",
                               "api_base_url": base}},
        "listen": {"interval": 5, "stream_heartbeat": 2, **listen},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__MASTO__ACCESS_TOKEN": TOKEN})


def follow(tmp_path: Path, base: str, rounds: int, **listen: Any) -> tuple[Listener, list[Any]]:
    clock = PacedClock(NOW)
    publisher = Publisher(config(tmp_path, base, **listen), clock=clock,
                          ledger=Ledger(f"sqlite:///{tmp_path / 'carecast.db'}"),
                          entry_point_plugins=False)
    with publisher:
        listener = Listener(publisher)
        reports = listener.follow(rounds=rounds)
    return listener, reports


def held(tmp_path: Path) -> list[str]:
    store = MentionStore(Ledger(f"sqlite:///{tmp_path / 'carecast.db'}"))
    return sorted(m.mention.remote_id for m in store.search())


def test_a_dropped_stream_loses_nothing_and_repeats_nothing(tmp_path: Path,
                                                            instance: Instance) -> None:
    instance.notifications = [note(1, "before the stream", 30)]
    instance.on_drop = [note(3, "while the stream was down", 5)]
    instance.connections = [
        [event("notification", note(2, "on the first stream", 10)), None],
        [b":thump\n", event("update", status("77", "<p>not a notification</p>")),
         event("notification", note(4, "on the second stream", 1))]]
    listener, reports = follow(tmp_path, instance.base, 3)
    assert held(tmp_path) == ["1001", "1002", "1003", "1004"]
    # the streaming address came from /api/v2/instance, and the stream was opened twice
    assert instance.opened[:2] == ["/api/v1/streaming/user/notification"] * 2
    results = [r for report in reports for r in report.results]
    assert any(r.source == "stream:masto" and r.status == "paused" and "ended" in r.message
               for r in results)
    streamed = [r for r in results if r.source == "stream:masto" and r.status == "ok"]
    assert sum(r.new for r in streamed) >= 1
    # the notification stream moved the polled source's cursor: a restart reads on from it
    cursor = listener.store.cursor("own:masto")
    assert cursor == (NOW - timedelta(minutes=1)).isoformat()
    _again, _ = follow(tmp_path, instance.base, 1)
    assert held(tmp_path) == ["1001", "1002", "1003", "1004"]


def test_a_bad_or_oversized_event_reopens_the_stream(tmp_path: Path,
                                                     instance: Instance) -> None:
    instance.connections = [
        [event("notification", "{not json")],
        [event("notification", {"type": "mention", "pad": "x" * 5000,
                                **note(5, "huge", 3)})],
        [event("notification", note(6, "after the bad ones", 2))]]
    _listener, reports = follow(tmp_path, instance.base, 4, stream_max_bytes=4096)
    assert held(tmp_path) == ["1006"]
    notes = [r.message for report in reports for r in report.results
             if r.source == "stream:masto" and r.status == "paused"]
    assert any("not JSON" in n for n in notes)
    assert any("over 4096 bytes" in n for n in notes)
    for report in reports:
        assert TOKEN not in json.dumps(report.to_dict())
        assert "huge" not in json.dumps(report.to_dict())


def test_a_hashtag_query_streams_and_other_terms_stay_polled(tmp_path: Path,
                                                             instance: Instance) -> None:
    tagged = status("501", "<p>Flu shots at <a href='x'>#RiversideFlu</a></p>",
                    account={"id": "8", "acct": "ann@example.org"})
    instance.tag_connections = [[event("update", tagged)]]
    follow(tmp_path, instance.base, 3, queries={
        "flu": {"terms": ["#RiversideFlu"], "brand": "riverside", "accounts": ["masto"]}})
    assert "/api/v1/streaming/hashtag?tag=RiversideFlu" in instance.opened
    store = MentionStore(Ledger(f"sqlite:///{tmp_path / 'carecast.db'}"))
    found = store.search(query="flu")
    assert [m.mention.remote_id for m in found] == ["501"]
    assert found[0].mention.kind == "search"
    assert store.cursor("search:masto:flu") == "501"


def test_no_stream_when_streaming_is_off(tmp_path: Path, instance: Instance) -> None:
    instance.notifications = [note(1, "polled", 30)]
    follow(tmp_path, instance.base, 2, stream=False)
    assert instance.opened == []
    assert held(tmp_path) == ["1001"]
