"""Signed callbacks to a client's CMS when a target it submitted is published, held or fails.

Deliveries come from the store, not from the request that caused them: ``Notifier.run_once``
reads which client submitted each post (the ``api.submit`` audit events) and which callbacks
were delivered (``api.callback`` events), and sends what is missing. Each pass reads only
the events appended since the last one, and looks only at posts that may still owe one. So
a post published later by ``carecast worker`` in another process gets its callback too, and
one that could not be delivered is tried again on the next pass (at least once: a receiver
drops repeats by the ``Idempotency-Key`` header). The body is signed like the webhook channel's
(``carecast.channels.webhook.sign``): one scheme for receivers to check.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa

from carecast.channels.webhook import SIGNATURE_HEADER, sign
from carecast.clock import Clock
from carecast.records import Attempt, State
from carecast.server.audit import SUBMIT, audit
from carecast.server.clients import Client, Clients
from carecast.store import Ledger
from carecast.store.audit import event_hash
from carecast.store.schema import audit as audit_table

__all__ = ["CALLBACK", "NOTIFY_STATES", "Notifier"]

log = logging.getLogger("carecast.server")

CALLBACK = "api.callback"
#: Target states a client hears about (a pending or sending target is still on its way).
NOTIFY_STATES = frozenset({State.PUBLISHED, State.HELD, State.AWAITING_APPROVAL,
                           State.BLOCKED, State.FAILED, State.UNKNOWN})
#: States a target leaves only when a person acts (a takedown, a new post): once every target
#: of a post is reported in one, the post is no longer watched.
FINAL_STATES = frozenset({State.PUBLISHED, State.BLOCKED})


@dataclass(frozen=True)
class _Due:
    client: Client
    attempt: Attempt


class Notifier:
    """Delivers the callbacks the store says are owed; ``start`` runs it in a thread."""

    def __init__(self, ledger: Ledger, clients: Clients, clock: Clock, *,
                 session: requests.Session | None = None, timeout: float = 10.0) -> None:
        self.ledger = ledger
        self.clients = clients
        self.clock = clock
        self.session = session or requests.Session()
        self.timeout = timeout
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._seq = 0  # the newest audit event read
        self._owner: dict[str, str] = {}  # post id -> the client that submitted it
        self._sent: set[tuple[str, str, str]] = set()  # (post, account, state) delivered
        self._open: set[str] = set()  # posts that may still owe a callback

    def _read_new_events(self) -> None:
        """Fold the audit events appended since the last pass into who owns which post and
        what was delivered. Only events whose keyed hash holds count: a row forged in the
        database cannot redirect a client's callbacks."""
        key = self.ledger.export_key()
        query = (sa.select(audit_table).where(audit_table.c.seq > self._seq,
                                              audit_table.c.kind.in_([SUBMIT, CALLBACK]))
                 .order_by(audit_table.c.seq))
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            head = conn.execute(sa.select(sa.func.max(audit_table.c.seq))).scalar()
        for r in rows:
            data = json.loads(r["data"])
            if event_hash(key, r["prev_hash"], r["seq"], r["at"], r["post_id"], r["account"],
                          r["kind"], data) != r["hash"]:
                log.error("audit event %d does not verify; ignored for callbacks "
                          "(run carecast audit verify)", r["seq"])
                continue
            if r["kind"] == SUBMIT:
                if r["post_id"] not in self._owner:
                    self._owner[r["post_id"]] = str(data.get("client"))
                    self._open.add(r["post_id"])
            else:
                self._sent.add((r["post_id"], r["account"], str(data.get("state"))))
        self._seq = max(self._seq, int(head or 0))

    def _owed(self) -> Iterator[_Due]:
        self._read_new_events()
        for post_id in sorted(self._open):
            client = self.clients.by_name.get(self._owner[post_id])
            if client is None or client.callback_url is None:
                self._open.discard(post_id)
                continue
            rows = self.ledger.attempts(post_id)
            for attempt in rows:
                if attempt.state in NOTIFY_STATES and \
                        (post_id, attempt.account, str(attempt.state)) not in self._sent:
                    yield _Due(client, attempt)
            if rows and all(a.state in FINAL_STATES and (post_id, a.account, str(a.state))
                            in self._sent for a in rows):
                self._open.discard(post_id)  # nothing more can happen to it by itself

    def run_once(self) -> int:
        """Send every owed callback once; returns how many were delivered."""
        delivered = 0
        with self._lock:  # one pass at a time: a callback is never sent twice at once
            for due in list(self._owed()):
                if self._deliver(due):
                    delivered += 1
        return delivered

    def body(self, attempt: Attempt) -> dict[str, Any]:
        """What a callback says: the target's state, receipt and error, never post text."""
        return {
            "event": f"target.{attempt.state}", "post_id": attempt.post_id,
            "account": attempt.account, "channel": attempt.channel,
            "state": str(attempt.state), "at": attempt.updated_at.isoformat(),
            "receipt": attempt.receipt.model_dump(mode="json") if attempt.receipt else None,
            "error": attempt.error.to_dict() if attempt.error else None,
            "findings": [{"code": f.code, "action": str(f.action), "field": f.field,
                          "message": f.message} for f in attempt.findings],
        }

    def _deliver(self, due: _Due) -> bool:
        client, attempt = due.client, due.attempt
        assert client.callback_url is not None
        body = json.dumps(self.body(attempt), ensure_ascii=False,
                          separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "carecast",
                   "Idempotency-Key": f"{attempt.post_id}:{attempt.account}:{attempt.state}"}
        if client.callback_secret is not None:
            headers[SIGNATURE_HEADER] = sign(client.callback_secret.get_secret_value(), body,
                                             int(self.clock.time()))
        try:
            response = self.session.post(client.callback_url.get_secret_value(), data=body,
                                         headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:  # its message holds the URL: not logged
            log.warning("callback to client %s failed (%s); tried again on the next pass",
                        client.name, type(exc).__name__)
            return False
        if not 200 <= response.status_code < 300:
            log.warning("callback to client %s answered HTTP %d; tried again on the next "
                        "pass", client.name, response.status_code)
            return False
        audit(self.ledger, client.name, CALLBACK, attempt.post_id, account=attempt.account,
              state=str(attempt.state), status=response.status_code)
        return True

    def kick(self) -> None:
        """Run a pass soon (after a call changed a target)."""
        self._kick.set()

    def start(self, interval: float = 5.0) -> None:
        """Pass every ``interval`` seconds (sooner when kicked) in a daemon thread."""
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except Exception as exc:  # a store hiccup must not end the thread
                    log.error("callback pass failed (%s)", type(exc).__name__)
                self._kick.wait(interval)
                self._kick.clear()

        self._thread = threading.Thread(target=loop, name="carecast-callbacks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread after its pass."""
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)
        self.session.close()
