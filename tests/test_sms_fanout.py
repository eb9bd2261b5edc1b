"""10,000 opted-in numbers, one post, a Twilio-shaped server on 127.0.0.1 that injects faults,
and a SIGKILL of the publishing process mid-run, then a resume: each number gets one message.

The server (``TwilioFaultServer``, built on the crash tests' ``FaultServer``) answers
``POST /2010-04-01/Accounts/SID/Messages.json`` as Twilio does (201 with the message) and
``GET`` of the same path filtered by ``To``, ``From`` and ``DateSent>`` (a queued message has
no ``DateSent`` yet, as on Twilio). It never deduplicates: a number texted twice shows up.
A share of the creates meets a fault: a 500 before or after storing, a 503, a reset before
or after storing or in the middle of the 201, an answer that never comes in time after
storing; some lookups fail too. The publisher runs in a child process (``carecast``'s own
``Publisher`` from a ``carecast.toml``), is killed with SIGKILL once a third of the numbers
were texted, and is run again until the post is published.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from carecast import Publisher
from carecast.consent import MessagingConsent
from carecast.records import State
from carecast.store.messaging import Messaging
from reliability.faultserver import FaultServer, _Handler, _Server

pytest.importorskip("twilio")
pytestmark = pytest.mark.slow

SID = "AC" + "e5" * 16
TOKEN = "fanout-auth-token-3b9c71"
FROM = "+15017122661"
RECIPIENTS = 10_000
NUMBERS = [f"+1202555{i:04d}" for i in range(RECIPIENTS)]
TEXT = "Riverside Clinic: free flu shots this Saturday 9am-1pm at the main entrance."
FAULTS = ("500_before", "500_after", "503", "reset_before", "reset_after", "reset_mid",
          "timeout")
#: The child is killed once this many numbers were texted.
KILL_AT = RECIPIENTS // 3
WORKER = """
import sys
from carecast import Post, Publisher
with Publisher.from_config_file(sys.argv[1], entry_point_plugins=False) as publisher:
    post = Post(id="flu-day", text=sys.argv[2], targets=["texts"])
    for run in range(6):
        report = publisher.publish(post) if run == 0 else publisher.retry(post.id)
        print("report", report.counts, flush=True)
        if report.ok:
            print("done", flush=True)
            break
"""


class _TwilioHandler(_Handler):
    """Twilio's Messages API, with ``FaultServer``'s faults."""

    def _authorised(self) -> bool:
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
            return False
        return True

    def do_POST(self) -> None:
        owner: TwilioFaultServer = self.server.owner  # type: ignore[assignment]
        if urlsplit(self.path).path != f"/2010-04-01/Accounts/{SID}/Messages.json":
            self._answer(404, {"code": 20404, "message": "not found", "status": 404})
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if not self._authorised():
            return
        if not form.get("To") or form.get("From") != FROM or not form.get("Body"):
            self._answer(400, {"code": 21604, "message": "A 'To' phone number is required.",
                               "status": 400})
            return
        fault = owner._draw_fault()
        if fault in ("500_before", "503"):
            self._answer(int(fault[:3]), {"code": 20500, "message": "injected",
                                          "status": int(fault[:3])})
            return
        if fault == "reset_before":
            self._reset()
        record = owner.create(form)
        if fault == "500_after":
            self._answer(500, {"code": 20500, "message": "injected after storing",
                               "status": 500})
            return
        if fault == "reset_after":
            self._reset()
        if fault == "reset_mid":
            self._half_answer(201, record)
        if fault == "timeout":
            owner._stop.wait(owner.timeout_sleep)
        self._answer(201, record)

    def do_GET(self) -> None:
        owner: TwilioFaultServer = self.server.owner  # type: ignore[assignment]
        url = urlsplit(self.path)
        if url.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
            self._answer(404, {"code": 20404, "message": "not found", "status": 404})
            return
        if not self._authorised():
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        fault = owner._draw_lookup_fault()
        if fault == "lookup_500":
            self._answer(500, {"code": 20500, "message": "injected", "status": 500})
            return
        if fault == "lookup_reset":
            self._reset()
        found = owner.find(query.get("To", ""), query.get("From"), query.get("DateSent>"))
        self._answer(200, {"messages": found[: int(query.get("PageSize") or 50)],
                           "next_page_uri": None, "page": 0, "page_size": 50, "start": 0,
                           "end": max(0, len(found) - 1)})


class _TwilioHTTPServer(_Server):
    def __init__(self, owner: FaultServer) -> None:
        self.owner = owner
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), _TwilioHandler)


class TwilioFaultServer(FaultServer):
    """``FaultServer`` speaking Twilio's Messages API; messages kept per number."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.messages: dict[str, list[dict[str, Any]]] = {}

    def start(self) -> TwilioFaultServer:
        self._server = _TwilioHTTPServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def create(self, form: dict[str, str]) -> dict[str, Any]:
        """Store a message (never deduplicated) and return Twilio's 201 body."""
        now = datetime.now(UTC)
        with self._lock:
            self._next_id += 1
            record = {"sid": f"SM{self._next_id:032x}", "account_sid": SID, "to": form["To"],
                      "from": form["From"], "body": form["Body"], "status": "queued",
                      "num_segments": "1", "error_code": None, "direction": "outbound-api",
                      "date_created": format_datetime(now), "date_sent": None,
                      "date_updated": format_datetime(now)}
            held = self.messages.setdefault(form["To"], [])
            if held:
                self.counters["duplicates"] += 1
            held.append(record)
            self.counters["accepted"] += 1
            return dict(record)

    def find(self, to: str, sender: str | None, sent_after: str | None) -> list[dict[str, Any]]:
        """Messages to ``to``, newest first; a ``DateSent>`` filter drops queued ones."""
        with self._lock:
            held = [dict(m) for m in reversed(self.messages.get(to, []))
                    if sender is None or m["from"] == sender]
        self.counters["lookups_found" if held else "lookups_missing"] += 1
        return [m for m in held if m["date_sent"]] if sent_after else held

    def texted(self) -> int:
        with self._lock:
            return len(self.messages)


@pytest.fixture
def server() -> Iterator[TwilioFaultServer]:
    with TwilioFaultServer(fault_rate=0.03, lookup_fault_rate=0.05, seed=1919,
                           faults=FAULTS, timeout_sleep=1.2) as srv:
        yield srv


def _config(tmp_path: Path, server: TwilioFaultServer) -> Path:
    path = tmp_path / "carecast.toml"
    path.write_text(f"""
[store]
url = "sqlite:///{tmp_path / 'ledger.db'}"

[publish]
max_attempts = 4

[brands.clinic]
name = "Riverside Clinic"

[accounts.texts]
channel = "sms"
brand = "clinic"
account_sid = "{SID}"
auth_token = "{TOKEN}"
from_number = "{FROM}"
api_url = "{server.base_url}"
quiet_start = "00:00"
quiet_end = "00:00"
concurrency = 8
timeout = 0.6
connect_timeout = 2
""", encoding="utf-8")
    return path


def _run(config: Path, *, kill_at: int | None, server: TwilioFaultServer,
         deadline: float) -> tuple[int, str]:
    """Run the publishing child; SIGKILL it once ``kill_at`` numbers were texted."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(config), TEXT],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if kill_at is not None and server.texted() >= kill_at:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out.decode(errors="replace")


def test_ten_thousand_numbers_each_get_one_message_across_faults_and_a_sigkill(
        tmp_path: Path, server: TwilioFaultServer) -> None:
    config = _config(tmp_path, server)
    with Publisher.from_config_file(config, entry_point_plugins=False) as publisher:
        store = Messaging(publisher.ledger)
        now = publisher.clock.now()
        store.opt_in(MessagingConsent(number=n, brand="clinic", given_at=now, how="web form")
                     for n in NUMBERS)
    deadline = time.monotonic() + 270  # under pytest-timeout's 300 s; about 90 s unloaded
    code, out = _run(config, kill_at=KILL_AT, server=server, deadline=deadline)
    assert code == -signal.SIGKILL, out
    killed_at = server.texted()
    assert KILL_AT <= killed_at < RECIPIENTS, "the kill landed mid-run"
    code, out = _run(config, kill_at=None, server=server, deadline=deadline)
    assert code == 0, out
    assert "done" in out, out

    counts = {n: len(server.messages.get(n, ())) for n in NUMBERS}
    twice = sorted(n for n, c in counts.items() if c > 1)
    missing = sorted(n for n, c in counts.items() if c == 0)
    assert not twice, f"{len(twice)} numbers texted twice"
    assert not missing, f"{len(missing)} numbers never texted"
    assert server.stats()["duplicates"] == 0
    assert set(server.messages) == set(NUMBERS)
    stats = server.stats()
    assert sum(stats[f] for f in FAULTS) >= 100, stats  # the faults really happened
    for fault in ("timeout", "500_after", "reset_mid", "reset_after"):
        assert stats[fault], stats

    with Publisher.from_config_file(config, entry_point_plugins=False) as publisher:
        (attempt,) = publisher.status("flu-day")
        assert attempt.state == State.PUBLISHED
        sends = Messaging(publisher.ledger).sends(attempt.key)
        assert len(sends) == RECIPIENTS
        assert {s.state for s in sends.values()} == {"sent"}
        assert {s.sid for s in sends.values()} == {
            m[0]["sid"] for m in server.messages.values()}
        assert publisher.ledger.verify_audit() == []
    print(json.dumps({"killed_at": killed_at, **stats}))
