"""The audit chain: its events, their hashes, verification and export.

Each event's hash is an HMAC-SHA256, under a key kept outside the database, of the event and
the hash before it, so editing, deleting or reordering any event breaks every hash after it,
and a database writer without the key cannot recompute the chain. A signed checkpoint of the
head, kept outside the store, catches removed newest events; an export ends with its own
signed trailer (count and head). The same checks run on the store (``Ledger.verify_audit``)
and on an exported JSON-lines file (``verify_file``), so a compliance officer can keep an export
and prove later that neither it nor the store was changed.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["GENESIS", "AuditEvent", "Checkpoint", "event_hash", "sign_head", "stored_event",
           "verify_chain", "verify_file", "write_csv", "write_jsonl"]

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


def event_hash(key: bytes, prev_hash: str, seq: int, at: str, post_id: str, account: str,
               kind: str, data: dict[str, Any]) -> str:
    """The keyed hash that links an audit event to the one before it."""
    body = dumps({"seq": seq, "at": at, "post_id": post_id, "account": account,
                  "kind": kind, "data": data})
    return hmac.new(key, (prev_hash + body).encode(), hashlib.sha256).hexdigest()


def stored_event(seq: int, at: str, post_id: str, account: str, kind: str, data_text: str,
                 prev_hash: str, hash: str) -> AuditEvent:
    """An event as read from the store, which keeps ``data`` as its canonical JSON text:
    ``verify_chain`` hashes that text as it is instead of encoding the data again."""
    event = AuditEvent(seq, at, post_id, account, kind, json.loads(data_text), prev_hash, hash)
    object.__setattr__(event, "_data_text", data_text)  # not a field: exports never show it
    return event


def _stored_hash(key: bytes, ev: AuditEvent, data_text: str) -> str:
    """``event_hash`` over the stored text of the data: the body ``dumps`` would make, its
    keys in sorted order (account, at, data, kind, post_id, seq), built without decoding."""
    body = (f'{{"account":{dumps(ev.account)},"at":{dumps(ev.at)},"data":{data_text},'
            f'"kind":{dumps(ev.kind)},"post_id":{dumps(ev.post_id)},"seq":{ev.seq}}}')
    return hmac.new(key, (ev.prev_hash + body).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A signed (seq, hash) of the chain's head, kept outside the store."""

    seq: int
    hash: str
    mac: str


def sign_head(key: bytes, seq: int, head_hash: str, purpose: str = "checkpoint") -> str:
    """The MAC of a head: a checkpoint's or an export trailer's."""
    return hmac.new(key, f"carecast-audit-{purpose}|{seq}|{head_hash}".encode(),
                    hashlib.sha256).hexdigest()


def verify_chain(events: Sequence[AuditEvent], key: bytes,
                 head: tuple[int, str] | None = None,
                 checkpoint: Checkpoint | None = None) -> list[str]:
    """Problems in a chain read from its start (edited, missing or reordered events).

    ``head`` is the (seq, hash) the store says is newest; ``checkpoint`` the newest signed
    head kept outside it: together they catch removed newest events.
    """
    problems: list[str] = []
    prev, expected = GENESIS, 1
    for ev in events:
        if ev.seq != expected:
            problems.append(f"event {expected} is missing or out of place (found {ev.seq})")
        if ev.prev_hash != prev:
            problems.append(f"event {ev.seq} does not follow the event before it")
        text = getattr(ev, "_data_text", None)
        if (text is None or _stored_hash(key, ev, text) != ev.hash) and event_hash(
                key, ev.prev_hash, ev.seq, ev.at, ev.post_id, ev.account, ev.kind,
                ev.data) != ev.hash:  # the text as stored, else the data as encoded now
            problems.append(f"event {ev.seq} was altered")
        prev, expected = ev.hash, ev.seq + 1
    if head is not None and (head[0] != (events[-1].seq if events else 0) or head[1] != prev):
        problems.append("the newest events were removed or the chain head was altered")
    if checkpoint is not None:
        problems.extend(_against_checkpoint(events, key, checkpoint))
    return problems


def _against_checkpoint(events: Sequence[AuditEvent], key: bytes, cp: Checkpoint
                        ) -> list[str]:
    if not hmac.compare_digest(sign_head(key, cp.seq, cp.hash), cp.mac):
        return ["the checkpoint is not signed with this audit key"]
    if cp.seq == 0:
        return []
    if len(events) < cp.seq or events[cp.seq - 1].seq != cp.seq \
            or events[cp.seq - 1].hash != cp.hash:
        return [f"the chain does not reach the signed checkpoint at event {cp.seq}: events "
                "were removed or rewritten"]
    return []


def write_jsonl(events: Iterable[AuditEvent], out: TextIO, key: bytes) -> int:
    """Write one JSON object per line and a signed trailer; returns the number of events."""
    count, seq, head = 0, 0, GENESIS
    for ev in events:
        out.write(json.dumps(asdict(ev), ensure_ascii=False, sort_keys=True) + "\n")
        count, seq, head = count + 1, ev.seq, ev.hash
    trailer = {"count": count, "seq": seq, "hash": head,
               "mac": sign_head(key, count, head, "export")}
    out.write(json.dumps({"trailer": trailer}, sort_keys=True) + "\n")
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


_TYPES: dict[str, type] = {"seq": int, "at": str, "post_id": str, "account": str,
                           "kind": str, "data": dict, "prev_hash": str, "hash": str}


def _event(raw: Any) -> AuditEvent:
    if not isinstance(raw, dict) or set(raw) != set(FIELDS):
        raise ValueError
    for name, kind in _TYPES.items():
        if not isinstance(raw[name], kind) or isinstance(raw[name], bool):
            raise ValueError
    return AuditEvent(**raw)


def read_jsonl(path: Path) -> tuple[list[AuditEvent], dict[str, Any]]:
    """Events and trailer of a JSON-lines export; a malformed line, or a file without its
    trailer (truncated), raises ``ValueError`` naming it."""
    events: list[AuditEvent] = []
    trailer: dict[str, Any] | None = None
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if trailer is not None:
                raise ValueError(f"{path}, line {number}: text after the export's trailer")
            try:
                raw = json.loads(line)
                if isinstance(raw, dict) and set(raw) == {"trailer"}:
                    trailer = raw["trailer"]
                    if not isinstance(trailer, dict) or set(trailer) != {
                            "count", "seq", "hash", "mac"} or not all(
                            isinstance(trailer[k], int) and not isinstance(trailer[k], bool)
                            for k in ("count", "seq")) or not all(
                            isinstance(trailer[k], str) for k in ("hash", "mac")):
                        raise ValueError
                    continue
                events.append(_event(raw))
            except (ValueError, RecursionError):
                raise ValueError(f"{path}, line {number}: not an audit event") from None
    if trailer is None:
        raise ValueError(f"{path}: no signed trailer: the export is truncated or empty")
    return events, trailer


def verify_file(path: Path, key: bytes) -> tuple[list[AuditEvent], list[str]]:
    """Events and problems of an exported chain (a full export, from the first event)."""
    events, trailer = read_jsonl(path)
    problems = verify_chain(events, key)
    if not hmac.compare_digest(sign_head(key, trailer["count"], trailer["hash"], "export"),
                               trailer["mac"]):
        problems.append("the export's trailer is not signed with this audit key")
    head = (events[-1].seq, events[-1].hash) if events else (0, GENESIS)
    if trailer["count"] != len(events) or (trailer["seq"], trailer["hash"]) != head:
        problems.append(f"the export holds {len(events)} events but its trailer signs "
                        f"{trailer['count']}: events were removed or added")
    return events, problems
