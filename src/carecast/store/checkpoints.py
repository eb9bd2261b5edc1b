"""Signed checkpoints of the audit head, and the mark of the last verified event, kept
outside the store.

After every write the ledger replaces the checkpoint file with the newest signed head (write
to a temporary file, then rename; commits that come together share one write, see
``CheckpointWriter``); ``verify`` requires the chain to reach it, so a database
writer who truncates the chain, or empties it, is caught. ``on_checkpoint`` callbacks can
forward each checkpoint elsewhere (a webhook, a syslog line).

A checkpoint proves that the chain once reached its head, not that the events up to it are
sound: the ledger writes it at every commit, unverified. ``Verified`` is what ``audit verify``
writes after it found the whole chain sound: the seq and hash of the newest event it checked
and a digest of every stored row up to it, signed with the key. The next verify re-checks the
newer events one by one and the older ones by that digest alone (an edited row changes it;
then the whole chain is verified again, and the altered events named).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carecast.errors import AuditTampered
from carecast.store.audit import Checkpoint, sign_head

__all__ = [
    "CheckpointWriter",
    "RowsDigest",
    "Verified",
    "read_checkpoint",
    "read_verified",
    "write_checkpoint",
    "write_verified",
]


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint file, atomically; a newer one on disk is kept."""
    current = read_checkpoint(path) if path.exists() else None
    if current is not None and current.seq > checkpoint.seq:
        return  # another worker already wrote a newer head
    _replace(path, {"seq": checkpoint.seq, "hash": checkpoint.hash, "mac": checkpoint.mac})


def _replace(path: Path, content: dict[str, Any]) -> None:
    """Replace ``path`` with ``content`` as JSON, atomically (mode 0600)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        json.dump(content, fh)
    os.replace(tmp, path)


class CheckpointWriter:
    """Keeps the checkpoint file at the newest head its ledger committed, one write at a time.

    A committer offers its head and goes on when another thread is writing: that writer
    writes the newest head offered meanwhile before it stops, so a burst of commits (a
    fan-out's receipts) costs a few file writes, not one each. ``flush`` waits until the
    newest head offered is on disk; the ledger flushes before it verifies and when it closes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._pending: Checkpoint | None = None
        self._writing = False

    def offer(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` (or leave it to the thread writing now)."""
        with self._lock:
            if self._pending is None or checkpoint.seq > self._pending.seq:
                self._pending = checkpoint
            if self._writing:
                return
            self._writing = True
        try:
            while True:
                with self._lock:
                    newest, self._pending = self._pending, None
                    if newest is None:
                        break
                write_checkpoint(self.path, newest)
        finally:
            with self._lock:
                self._writing = False
                self._done.notify_all()

    def flush(self) -> None:
        """Wait until every head offered so far is written."""
        with self._lock:
            while self._writing:
                self._done.wait()


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint in ``path``; None if there is none yet."""
    try:
        raw = json.loads(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        raise AuditTampered(f"the audit checkpoint {path} is unreadable") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("seq"), int) \
            or not isinstance(raw.get("hash"), str) or not isinstance(raw.get("mac"), str):
        raise AuditTampered(f"the audit checkpoint {path} is malformed")
    return Checkpoint(raw["seq"], raw["hash"], raw["mac"])


@dataclass(frozen=True)
class Verified:
    """The newest event a verify found sound, and the digest of the rows up to it."""

    seq: int
    hash: str
    rows: str

    def mac(self, key: bytes) -> str:
        return sign_head(key, self.seq, f"{self.hash}|{self.rows}", "verified")


class RowsDigest:
    """SHA-256 over stored audit rows, every column (``repr`` of each row: unambiguous), fed
    in order; read at any point."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def update(self, rows: Sequence[tuple[Any, ...]]) -> RowsDigest:
        for start in range(0, len(rows), 1000):
            self._sha.update("".join(map(repr, rows[start:start + 1000])).encode())
        return self

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def write_verified(path: Path, mark: Verified, key: bytes) -> None:
    """Replace the mark of the last verified event (signed with ``key``)."""
    _replace(path, {"seq": mark.seq, "hash": mark.hash, "rows": mark.rows,
                    "mac": mark.mac(key)})


def read_verified(path: Path, key: bytes) -> Verified | None:
    """The mark in ``path`` if it is there and signed with ``key``; else None (the whole
    chain is verified: a missing, unreadable or forged mark only costs time)."""
    try:
        raw = json.loads(path.read_text(encoding="ascii"))
        mark = Verified(int(raw["seq"]), str(raw["hash"]), str(raw["rows"]))
        mac = str(raw["mac"])
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        return None
    return mark if hmac.compare_digest(mark.mac(key), mac) else None
