"""Signed checkpoints of the audit head, kept outside the store.

After every write the ledger replaces the checkpoint file with the newest signed head (write
to a temporary file, then rename; commits that come together share one write, see
``CheckpointWriter``); ``verify`` requires the chain to reach it, so a database
writer who truncates the chain, or empties it, is caught. ``on_checkpoint`` callbacks can
forward each checkpoint elsewhere (a webhook, a syslog line).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from carecast.errors import AuditTampered
from carecast.store.audit import Checkpoint

__all__ = ["CheckpointWriter", "read_checkpoint", "write_checkpoint"]


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint file, atomically; a newer one on disk is kept."""
    current = read_checkpoint(path) if path.exists() else None
    if current is not None and current.seq > checkpoint.seq:
        return  # another worker already wrote a newer head
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        json.dump({"seq": checkpoint.seq, "hash": checkpoint.hash, "mac": checkpoint.mac}, fh)
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
