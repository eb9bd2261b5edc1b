"""The audit chain: its events, their hashes, verification and export.

Each event's hash covers the event and the hash before it, so editing, deleting or reordering
any event breaks every hash after it. The same checks run on the store (``Ledger.verify_audit``)
and on an exported JSON-lines file (``verify_file``), so a compliance officer can keep an export
and prove later that neither it nor the store was changed.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["GENESIS", "AuditEvent", "event_hash", "verify_chain", "verify_file", "write_csv",
           "write_jsonl"]

GENESIS = "0" * 64
FIELDS = ("seq", "at", "post_id", "account", "kind", "data", "prev_hash", "hash")
#: A spreadsheet runs a cell that starts with these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditEvent:
    """One link of the audit chain."""

    seq: int
    at: str
    post_id: str
    account: str
    kind: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


def dumps(value: Any) -> str:
    """Canonical JSON: what the hashes are computed over."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_hash(prev_hash: str, seq: int, at: str, post_id: str, account: str, kind: str,
               data: dict[str, Any]) -> str:
    """The hash that links an audit event to the one before it."""
    body = dumps({"seq": seq, "at": at, "post_id": post_id, "account": account,
                  "kind": kind, "data": data})
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def verify_chain(events: Sequence[AuditEvent], head: tuple[int, str] | None = None
                 ) -> list[str]:
    """Problems in a chain read from its start (edited, missing or reordered events).

    ``head`` is the (seq, hash) the store says is newest: it catches removed newest events.
    """
    problems: list[str] = []
    prev, expected = GENESIS, 1
    for ev in events:
        if ev.seq != expected:
            problems.append(f"event {expected} is missing or out of place (found {ev.seq})")
        if ev.prev_hash != prev:
            problems.append(f"event {ev.seq} does not follow the event before it")
        if event_hash(ev.prev_hash, ev.seq, ev.at, ev.post_id, ev.account, ev.kind,
                      ev.data) != ev.hash:
            problems.append(f"event {ev.seq} was altered")
        prev, expected = ev.hash, ev.seq + 1
    if head is not None and (head[0] != (events[-1].seq if events else 0) or head[1] != prev):
        problems.append("the newest events were removed or the chain head was altered")
    return problems


def write_jsonl(events: Iterable[AuditEvent], out: TextIO) -> int:
    """Write one JSON object per line; returns the number of events."""
    count = 0
    for ev in events:
        out.write(json.dumps(asdict(ev), ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def write_csv(events: Iterable[AuditEvent], out: TextIO) -> int:
    """Write a CSV with a header row; ``data`` is its JSON. Cells a spreadsheet would run as
    a formula get a leading ``'`` (keep the JSON-lines export for verification)."""
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    count = 0
    for ev in events:
        row = [ev.seq, ev.at, ev.post_id, ev.account, ev.kind, dumps(ev.data), ev.prev_hash,
               ev.hash]
        writer.writerow([f"'{c}" if isinstance(c, str) and c.startswith(_FORMULA_START)
                         else c for c in row])
        count += 1
    return count


def read_jsonl(path: Path) -> list[AuditEvent]:
    """Events from a JSON-lines export; a malformed line raises ``ValueError`` naming it."""
    events = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                events.append(AuditEvent(**{k: raw[k] for k in FIELDS}))
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{path}, line {number}: not an audit event") from None
    return events


def verify_file(path: Path) -> list[str]:
    """Problems in an exported chain (a full export, from the first event)."""
    return verify_chain(read_jsonl(path))
