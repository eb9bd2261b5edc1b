"""The audit chain: its events, their hashes, verification and export.

Each event's hash is an HMAC-SHA256, under a key kept outside the database, of the event and
the hash before it, so editing, deleting or reordering any event breaks every hash after it,
and a database writer without the key cannot recompute the chain. A signed checkpoint of the
head, kept outside the store, catches removed newest events; an export ends with its own
signed trailer (count and head). The same checks run on the store (``Ledger.verify_audit``)
and on an exported JSON-lines file (``verify_file``), so a compliance officer can keep an export
and prove later that neither it nor the store was changed.

Two kinds of anchor event change the rule for the events before them (see ``Keyring``):
``key_rotated`` (MAC'd with the old key, it names the new key's id; the events after it are
under the new key, and the retired key verifies the ones before it) and ``key_adopted`` (a store
made before the keyed chain: its plain SHA-256 events, verified under that rule at adoption,
are sealed by a keyed digest of the whole history up to the anchor).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["ADOPTION", "GENESIS", "ROTATION", "AuditEvent", "Checkpoint", "Keyring",
           "event_hash", "history_digest", "key_id", "plain_hash", "sign_head", "stored_hash",
           "verify_chain", "verify_file", "write_csv", "write_jsonl"]

GENESIS = "0" * 64
#: The anchor events' kinds.
ROTATION, ADOPTION = "key_rotated", "key_adopted"
FIELDS = ("seq", "at", "post_id", "account", "kind", "data", "prev_hash", "hash")
#: A spreadsheet runs a cell that starts with these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
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


#: A string as canonical JSON writes it (``dumps``'s own encoder, in C).
_string = json.encoder.encode_basestring


def _body(seq: int, at: str, post_id: str, account: str, kind: str, data_text: str) -> str:
    """What an event's hash covers: ``dumps`` of its fields, built around the data's JSON
    text (canonical: ``dumps(data)``), so a stored event is hashed without re-serialising."""
    return (f'{{"account":{_string(account)},"at":{_string(at)},"data":{data_text},'
            f'"kind":{_string(kind)},"post_id":{_string(post_id)},"seq":{int(seq)}}}')


def event_hash(key: bytes, prev_hash: str, seq: int, at: str, post_id: str, account: str,
               kind: str, data: dict[str, Any]) -> str:
    """The keyed hash that links an audit event to the one before it."""
    return stored_hash(key, prev_hash, seq, at, post_id, account, kind, dumps(data))


def stored_hash(key: bytes, prev_hash: str, seq: int, at: str, post_id: str, account: str,
                kind: str, data_text: str) -> str:
    """``event_hash`` of an event whose data is given as its canonical JSON text."""
    return hmac.digest(key, (prev_hash + _body(seq, at, post_id, account, kind, data_text))
                       .encode(), "sha256").hex()


def plain_hash(prev_hash: str, seq: int, at: str, post_id: str, account: str, kind: str,
               data: dict[str, Any]) -> str:
    """The unkeyed SHA-256 link of a store made before the keyed chain (see ``ADOPTION``)."""
    return hashlib.sha256((prev_hash + _body(seq, at, post_id, account, kind, dumps(data)))
                          .encode()).hexdigest()


def key_id(key: bytes) -> str:
    """A key's public name: recorded in anchor events, never the key itself."""
    return hashlib.sha256(b"carecast-audit-key-id|" + key).hexdigest()[:16]


def history_digest(events: Iterable[AuditEvent]) -> str:
    """SHA-256 over every field of ``events``: what an adoption anchor seals."""
    digest = hashlib.sha256()
    for ev in events:
        digest.update((dumps(asdict(ev)) + "\n").encode())
    return digest.hexdigest()


class Keyring:
    """Which rule (plain SHA-256, or the HMAC under which key) chains each event.

    Built from the anchor events, in order; an anchor is followed only if it is itself sound
    (a database writer cannot forge one without a key). ``key`` is the current key,
    ``retired`` the keys a rotation replaced.
    """

    def __init__(self, key: bytes, retired: Iterable[bytes] = (),
                 anchors: Iterable[AuditEvent] = ()) -> None:
        self.key = key
        self.keys = {key_id(k): k for k in (*retired, key)}
        self.plain_through = 0
        #: (last seq, key id) of each rotated segment, oldest first
        self.segments: list[tuple[int, str]] = []
        self.current = key_id(key)
        ordered = sorted(anchors, key=lambda e: e.seq)
        first = next((e for e in ordered if e.kind == ROTATION), None)
        if first is not None:  # the segment before the first rotation is under its old key
            self.current = str(first.data.get("old_key"))
        for ev in ordered:
            self.follow(ev)

    def rule(self, seq: int) -> str:
        """``plain`` or the id of the key that chains event ``seq``."""
        if seq <= self.plain_through:
            return "plain"
        for last, kid in self.segments:
            if seq <= last:
                return kid
        return self.current

    def sound(self, ev: AuditEvent, stored: str | None = None) -> bool:
        """Whether the event's hash holds under its rule.

        ``stored`` is the text ``ev.data`` was parsed from, as the store holds it: when it
        is the canonical text it was hashed from, it is hashed as it is (no re-serialising);
        any other text falls back to hashing ``dumps(ev.data)``, so the answer is the same
        either way."""
        return self._sound(ev, self.rule(ev.seq), stored)

    def _sound(self, ev: AuditEvent, rule: str, stored: str | None) -> bool:
        if stored is not None and rule != "plain":
            key = self.keys.get(rule)
            if key is not None and hmac.compare_digest(stored_hash(
                    key, ev.prev_hash, ev.seq, ev.at, ev.post_id, ev.account, ev.kind, stored),
                    ev.hash):
                return True
        if rule == "plain":
            return plain_hash(ev.prev_hash, ev.seq, ev.at, ev.post_id, ev.account, ev.kind,
                              ev.data) == ev.hash
        key = self.keys.get(rule)
        return key is not None and hmac.compare_digest(event_hash(
            key, ev.prev_hash, ev.seq, ev.at, ev.post_id, ev.account, ev.kind, ev.data), ev.hash)

    def follow(self, ev: AuditEvent) -> None:
        """Apply an anchor event (anything else, or an unsound anchor, changes nothing)."""
        if ev.kind not in (ROTATION, ADOPTION) or not self.sound(ev):
            return
        if ev.kind == ROTATION:
            self.segments.append((ev.seq, self.rule(ev.seq)))
            self.current = str(ev.data.get("new_key"))
            return
        through, history = ev.data.get("unkeyed_through"), ev.data.get("history")
        key = self.keys.get(self.rule(ev.seq))
        if isinstance(through, int) and 0 < through < ev.seq and isinstance(history, str) \
                and key is not None and hmac.compare_digest(
                    sign_head(key, ev.seq - 1, history, "adoption"),
                    str(ev.data.get("vouch"))):
            self.plain_through = max(self.plain_through, through)

    def missing(self, seq: int) -> str | None:
        """The id of the key event ``seq`` needs, when it is not in this keyring."""
        rule = self.rule(seq)
        return None if rule == "plain" or rule in self.keys else rule


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
                 checkpoint: Checkpoint | None = None, *,
                 retired: Iterable[bytes] = (), stored: Sequence[str] | None = None,
                 after: tuple[int, str] = (0, GENESIS), anchors: Sequence[AuditEvent] = (),
                 hash_at: Callable[[int], str | None] | None = None) -> list[str]:
    """Problems in a chain (edited, missing or reordered events).

    ``head`` is the (seq, hash) the store says is newest; ``checkpoint`` the newest signed
    head kept outside it: together they catch removed newest events. ``retired`` are the
    keys earlier rotations replaced (see ``Keyring``); ``stored`` each event's data text as
    the store holds it (see ``Keyring.sound``).

    ``events`` start at the chain's first event, or right after ``after`` (the seq and hash
    of an event verified before, see ``checkpoints.Verified``): then ``anchors`` are the
    anchor events up to it and ``hash_at`` gives the hash of an event up to it (for a
    checkpoint that far back). A key adoption among ``events`` needs the whole chain.
    """
    problems: list[str] = []
    ring = Keyring(key, retired,
                   [*anchors, *(e for e in events if e.kind in (ROTATION, ADOPTION))])
    prev, expected = after[1], after[0] + 1
    for index, ev in enumerate(events):
        if ev.seq != expected:
            problems.append(f"event {expected} is missing or out of place (found {ev.seq})")
        if ev.prev_hash != prev:
            problems.append(f"event {ev.seq} does not follow the event before it")
        rule = ring.rule(ev.seq)
        if rule != "plain" and rule not in ring.keys:
            problems.append(f"event {ev.seq} is under the audit key {rule}, which is not "
                            "given (keep retired keys in the key file's .retired file)")
        elif not ring._sound(ev, rule, stored[index] if stored is not None else None):
            problems.append(f"event {ev.seq} was altered")
        elif ev.kind == ADOPTION and after[0]:
            raise ValueError("a key adoption is verified from the chain's first event")
        elif ev.kind == ADOPTION and ev.data.get("history") != history_digest(events[:index]):
            problems.append(f"events before the key adoption at event {ev.seq} were altered "
                            "after it")
        prev, expected = ev.hash, ev.seq + 1
    if problems and not ring.plain_through and events and not after[0] and all(
            plain_hash(e.prev_hash, e.seq, e.at, e.post_id, e.account, e.kind, e.data) == e.hash
            for e in events[:1]):
        problems.append("the chain starts with unkeyed events (a store made before the keyed "
                        "chain): run `carecast audit adopt-key` once to verify and seal them")
    newest = events[-1].seq if events else after[0]
    if head is not None and (head[0] != newest or head[1] != prev):
        problems.append("the newest events were removed or the chain head was altered")
    if checkpoint is not None:
        problems.extend(_against_checkpoint(events, key, checkpoint, after[0], hash_at))
    return problems


def _against_checkpoint(events: Sequence[AuditEvent], key: bytes, cp: Checkpoint,
                        offset: int = 0, hash_at: Callable[[int], str | None] | None = None
                        ) -> list[str]:
    if not hmac.compare_digest(sign_head(key, cp.seq, cp.hash), cp.mac):
        return ["the checkpoint is not signed with this audit key"]
    if cp.seq == 0:
        return []
    if cp.seq <= offset:
        reached = hash_at(cp.seq) if hash_at is not None else None
    else:
        index = cp.seq - offset - 1
        reached = events[index].hash if index < len(events) and \
            events[index].seq == cp.seq else None
    if reached != cp.hash:
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


def verify_file(path: Path, key: bytes, retired: Iterable[bytes] = ()
                ) -> tuple[list[AuditEvent], list[str]]:
    """Events and problems of an exported chain (a full export, from the first event)."""
    events, trailer = read_jsonl(path)
    problems = verify_chain(events, key, retired=retired)
    if not hmac.compare_digest(sign_head(key, trailer["count"], trailer["hash"], "export"),
                               trailer["mac"]):
        problems.append("the export's trailer is not signed with this audit key")
    head = (events[-1].seq, events[-1].hash) if events else (0, GENESIS)
    if trailer["count"] != len(events) or (trailer["seq"], trailer["hash"]) != head:
        problems.append(f"the export holds {len(events)} events but its trailer signs "
                        f"{trailer['count']}: events were removed or added")
    return events, problems
