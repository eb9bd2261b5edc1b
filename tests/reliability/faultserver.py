"""A webhook receiver on 127.0.0.1 that does NOT deduplicate and injects faults.

``POST /hook`` stores every complete body it accepts under its ``Idempotency-Key`` (a key stored
twice is a duplicate: exactly the double post carecast must never cause). ``GET /lookup?key=K``
answers 200 ``{"id": .., "url": ..}`` when K is stored and 404 when it is not.

With probability ``fault_rate`` (seeded RNG) a POST meets one fault, drawn from ``faults``:

============  ===============================================  ========
kind          what the client sees                             stored?
============  ===============================================  ========
500_before    HTTP 500                                         no
500_after     HTTP 500                                         yes
503           HTTP 503                                         no
429           HTTP 429 with ``Retry-After: N`` (seconds)       no
reset_before  the connection is reset (RST, no response)       no
reset_after   the connection is reset (RST, no response)       yes
reset_mid     200 and half the body, then the connection reset yes
timeout       no answer for ``timeout_sleep`` seconds          yes
============  ===============================================  ========

A lookup fails with probability ``lookup_fault_rate`` with ``lookup_500`` or ``lookup_reset``.
``latency`` (plus a random ``jitter``) delays every answer after the post is stored, so a client
killed meanwhile leaves a post the platform holds but the client never heard of.

Every loop is bounded, handler sockets time out, and ``with FaultServer() as server:`` stops the
server and joins its threads on exit.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["LOOKUP_FAULTS", "POST_FAULTS", "STORED_FAULTS", "FaultServer", "main"]

POST_FAULTS: tuple[str, ...] = ("500_before", "500_after", "503", "429", "reset_before",
                                "reset_after", "reset_mid", "timeout")
LOOKUP_FAULTS: tuple[str, ...] = ("lookup_500", "lookup_reset")
#: Faults after which the server holds the post though the client got no success answer.
STORED_FAULTS = frozenset({"500_after", "reset_after", "reset_mid", "timeout"})


class _Abort(Exception):
    """Raised by a handler after it reset the connection: nothing more is written."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() joins every handler thread
    request_queue_size = 256  # the default backlog of 5 drops SYNs under a burst of clients
    allow_reuse_address = True

    def __init__(self, owner: FaultServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (killed, timed out) makes writes fail: count, do not print.
        self.owner._bump("handler_errors")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive sockets
    timeout = 5.0  # a silent client cannot hold a handler thread for long
    server_version = "faultserver"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    #: This handler's request is counted in flight (``FaultServer.peak_active``).
    _in_flight = False

    def handle(self) -> None:
        try:
            super().handle()
        except _Abort:
            pass
        except OSError:
            self.server.owner._bump("handler_errors")
        finally:
            self._answered()

    def _counted(self, endpoint: Callable[[], None]) -> None:
        """Run ``endpoint`` with its request counted in flight until its answer goes out."""
        self._in_flight = True
        self.server.owner._enter()
        try:
            endpoint()
        finally:
            self._answered()

    def _answered(self) -> None:
        """The request is done: its answer goes out now (the client can only send the next
        one after reading it), or it never will."""
        if self._in_flight:
            self._in_flight = False
            self.server.owner._leave()

    # -- helpers -----------------------------------------------------------------------------

    def _answer(self, status: int, payload: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(payload or {}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self._answered()
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away
            self.server.owner._bump("write_errors")
            self.close_connection = True

    def _half_answer(self, status: int, payload: Mapping[str, Any]) -> None:
        """Send the status, the headers and half the body, then reset the connection."""
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self._answered()
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
        except OSError:
            self.server.owner._bump("write_errors")
        self._reset()

    def _reset(self) -> None:
        """Close the connection abruptly: SO_LINGER 0 makes close() send RST."""
        conn = self.connection
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop the makefile reference, so close() really closes the fd
        conn.close()
        raise _Abort

    # -- endpoints ---------------------------------------------------------------------------

    def do_POST(self) -> None:
        self._counted(self._post)

    def do_GET(self) -> None:
        self._counted(self._get)

    def _post(self) -> None:
        owner = self.server.owner
        if urlsplit(self.path).path != "/hook":
            self._answer(404, {"error": "no such endpoint"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        except (OSError, ValueError):
            body, length = b"", -1
        if len(body) != length:  # the client died mid-request: nothing to store
            owner._bump("incomplete")
            self.close_connection = True
            return
        key = self.headers.get("Idempotency-Key") or ""
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not key or not isinstance(payload, dict) or payload.get("key") != key:
            owner._bump("bad_requests")
            self._answer(400, {"error": "a JSON body with the Idempotency-Key as key"})
            return
        fault = owner._draw_fault()
        if fault in ("500_before", "503"):
            self._answer(int(fault[:3]), {"error": "injected"})
            return
        if fault == "429":
            self._answer(429, {"error": "slow down"},
                         {"Retry-After": str(owner._draw_retry_after())})
            return
        if fault == "reset_before":
            self._reset()
        record = owner._store(key, payload)
        if fault == "500_after":
            self._answer(500, {"error": "injected after storing"})
            return
        if fault == "reset_after":
            self._reset()
        if fault == "reset_mid":
            self._half_answer(200, record)
        if fault == "timeout":
            owner._stop.wait(owner.timeout_sleep)
        else:
            owner._delay()
        self._answer(200, record)

    def _get(self) -> None:
        owner = self.server.owner
        url = urlsplit(self.path)
        if url.path != "/lookup":
            self._answer(404, {"error": "no such endpoint"})
            return
        key = (parse_qs(url.query).get("key") or [""])[0]
        fault = owner._draw_lookup_fault()
        if fault == "lookup_500":
            self._answer(500, {"error": "injected"})
            return
        if fault == "lookup_reset":
            self._reset()
        record = owner._find(key)
        owner._delay()
        if record is None:
            self._answer(404, {"error": "not found"})
        else:
            self._answer(200, record)


class FaultServer:
    """The fault-injecting, non-deduplicating webhook receiver; use it as a context manager."""

    def __init__(self, *, fault_rate: float = 0.3, lookup_fault_rate: float | None = None,
                 seed: int = 0, faults: Sequence[str] = POST_FAULTS,
                 retry_after: Sequence[int] = (1, 2, 3, 5, 8), timeout_sleep: float = 0.6,
                 latency: float = 0.0, jitter: tuple[float, float] = (0.0, 0.0)) -> None:
        unknown = set(faults) - set(POST_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self.fault_rate = fault_rate
        self.lookup_fault_rate = fault_rate / 3 if lookup_fault_rate is None \
            else lookup_fault_rate
        self.faults = tuple(faults)
        self.retry_after_choices = tuple(retry_after)
        self.timeout_sleep = timeout_sleep
        self.latency = latency
        self.jitter = jitter
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._next_id = 0
        self._stored: dict[str, list[dict[str, Any]]] = {}
        self.counters: Counter[str] = Counter()
        #: Every ``Retry-After`` value sent, in order.
        self.retry_after_sent: list[int] = []
        #: The most requests in flight at once (from the request line to the answer).
        self.peak_active = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FaultServer:
        """Listen on 127.0.0.1 at a free port and serve in a thread."""
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="faultserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers and join every thread."""
        if self._server is None:
            return
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def hook_url(self) -> str:
        """Where to POST."""
        return self.base_url + "/hook"

    @property
    def lookup_url(self) -> str:
        """Where to look a key up."""
        return self.base_url + "/lookup"

    def config(self, store: str, accounts: Sequence[str], *, publish: str, timeout: float,
               connect_timeout: float) -> str:
        """A ``carecast.toml`` whose webhook ``accounts`` (brand ``clinic``) all post here,
        the ledger at ``store`` and ``publish`` as the ``[publish]`` table's lines."""
        hooks = "".join(
            f'\n[accounts.{name}]\nchannel = "webhook"\nbrand = "clinic"\n'
            f'url = "{self.hook_url}"\nlookup_url = "{self.lookup_url}"\n'
            f"timeout = {timeout:g}\nconnect_timeout = {connect_timeout:g}\n"
            for name in accounts)
        return (f'[store]\nurl = "{store}"\n\n[publish]\n{publish}\n'
                '[brands.clinic]\nname = "Riverside Clinic"\n' + hooks)

    @contextmanager
    def faults_off(self) -> Iterator[None]:
        """No injected faults inside the block."""
        with self._lock:
            saved = self.fault_rate, self.lookup_fault_rate
            self.fault_rate = self.lookup_fault_rate = 0.0
        try:
            yield
        finally:
            with self._lock:
                self.fault_rate, self.lookup_fault_rate = saved

    # -- what the server holds ---------------------------------------------------------------

    def count(self, key: str) -> int:
        """How many times ``key`` was stored (carecast must make this exactly 1)."""
        with self._lock:
            return len(self._stored.get(key, ()))

    def counts(self) -> dict[str, int]:
        """Stores per key."""
        with self._lock:
            return {k: len(v) for k, v in self._stored.items()}

    def records(self) -> list[dict[str, Any]]:
        """Every stored post: its ``id``, ``url``, ``post_id`` and ``account``."""
        with self._lock:
            return [dict(r) for held in self._stored.values() for r in held]

    def keys(self) -> set[str]:
        """Every stored key."""
        with self._lock:
            return set(self._stored)

    def stats(self) -> Counter[str]:
        """A copy of the counters."""
        with self._lock:
            return Counter(self.counters)

    @property
    def active(self) -> int:
        """Requests in flight now."""
        with self._lock:
            return self._active

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is in flight; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # -- used by the handlers ----------------------------------------------------------------

    def _bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def _enter(self) -> None:
        with self._lock:
            self._active += 1
            self.peak_active = max(self.peak_active, self._active)

    def _leave(self) -> None:
        with self._idle:
            self._active -= 1
            if not self._active:
                self._idle.notify_all()

    def _draw_fault(self) -> str | None:
        with self._lock:
            self.counters["posts"] += 1
            if not self.faults or self._rng.random() >= self.fault_rate:
                return None
            fault = self._rng.choice(self.faults)
            self.counters[fault] += 1
            return fault

    def _draw_lookup_fault(self) -> str | None:
        with self._lock:
            self.counters["lookups"] += 1
            if self._rng.random() >= self.lookup_fault_rate:
                return None
            fault = self._rng.choice(LOOKUP_FAULTS)
            self.counters[fault] += 1
            return fault

    def _draw_retry_after(self) -> int:
        with self._lock:
            value = self._rng.choice(self.retry_after_choices)
            self.retry_after_sent.append(value)
            return value

    def _delay(self) -> None:
        with self._lock:
            extra = self._rng.uniform(*self.jitter) if self.jitter[1] > 0 else 0.0
        delay = self.latency + extra
        if delay > 0:
            self._stop.wait(delay)

    def _store(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            record = {"id": f"wh-{self._next_id}",
                      "url": f"https://hooks.example/posts/{self._next_id}"}
            held = self._stored.setdefault(key, [])
            if held:
                self.counters["duplicates"] += 1
            held.append({**record, "post_id": payload.get("post_id"),
                         "account": payload.get("account")})
            self.counters["accepted"] += 1
            return record

    def _find(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            held = self._stored.get(key)
            if not held:
                self.counters["lookup_missing"] += 1
                return None
            self.counters["lookup_found"] += 1
            return {"id": held[0]["id"], "url": held[0]["url"]}


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in this process until stdin closes; print the base URL first.

    Benchmarks run the receiver in its own process so that it does not share the GIL with the
    client being measured: ``python faultserver.py --latency 0.1 --fault-rate 0``.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--lookup-fault-rate", type=float, default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with FaultServer(fault_rate=args.fault_rate, lookup_fault_rate=args.lookup_fault_rate,
                     latency=args.latency, seed=args.seed) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # bounded by the parent: it closes our stdin to stop us
        stats = server.stats()
        print(json.dumps({"peak_active": server.peak_active, **stats}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
