"""Re-keying the audit chain: a key rotation, and the adoption of a store made before the keyed
chain. Both append one anchor event (see ``Keyring``), and only to a chain that verifies under
the rules it was made with: a chain that fails is never sealed as sound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from carecast.errors import AuditTampered, ConfigurationError
from carecast.store.audit import (
    ADOPTION,
    GENESIS,
    ROTATION,
    AuditEvent,
    Checkpoint,
    Keyring,
    event_hash,
    history_digest,
    key_id,
    plain_hash,
    sign_head,
    verify_chain,
)

__all__ = ["adoption", "rotation"]


def _refuse(problems: Sequence[str], what: str) -> None:
    if problems:
        shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
        raise AuditTampered(f"the audit chain does not verify, so {what}: {shown}; run "
                            "`carecast audit verify`")


def rotation(events: Sequence[AuditEvent], key: bytes, new_key: bytes,
             retired: Sequence[bytes], head: tuple[int, str] | None,
             checkpoint: Checkpoint | None) -> dict[str, Any]:
    """The data of the ``key_rotated`` event that hands the chain from ``key`` to
    ``new_key``; refuses a chain that does not verify, and a key used before."""
    if len(new_key) < 32:
        raise ConfigurationError("the new audit key needs at least 32 bytes")
    if key_id(new_key) in {key_id(k) for k in (key, *retired)}:
        raise ConfigurationError("the new audit key was used before: give a fresh one")
    _refuse(verify_chain(events, key, head, checkpoint, retired=retired),
            "the key is not rotated")
    return {"old_key": key_id(key), "new_key": key_id(new_key), "through": len(events)}


def adoption(events: Sequence[AuditEvent], key: bytes, retired: Sequence[bytes],
             head: tuple[int, str] | None, checkpoint: Checkpoint | None, at: str
             ) -> dict[str, Any]:
    """The data of the ``key_adopted`` event that seals a store's unkeyed first events.

    The events must be: plain SHA-256 ones from the first (verified under that old rule),
    then keyed ones (written since the upgrade), all linked, the head at the end. A signed
    checkpoint at or past the last unkeyed event proves they were keyed once, so were
    rewritten since: refused.
    """
    plain, prev = 0, GENESIS
    for ev in events:
        if ev.seq != plain + 1 or ev.prev_hash != prev or plain_hash(
                ev.prev_hash, ev.seq, ev.at, ev.post_id, ev.account, ev.kind,
                ev.data) != ev.hash:
            break
        plain, prev = ev.seq, ev.hash
    if plain == 0:
        raise ConfigurationError("the audit chain has no unkeyed events to adopt (it is "
                                 "keyed from its first event): run `carecast audit verify`")
    ring = Keyring(key, retired, [e for e in events if e.kind in (ROTATION, ADOPTION)])
    if ring.plain_through >= plain:
        raise ConfigurationError("the audit chain's unkeyed events were adopted already")
    if checkpoint is not None and checkpoint.seq <= plain:
        _refuse([f"the signed checkpoint at event {checkpoint.seq} shows that events up to it "
                 "were keyed, but they are unkeyed now: they were rewritten"], "nothing is adopted")
    digest = history_digest(events)
    last = events[-1]
    data = {"key": key_id(key), "unkeyed_through": plain, "history": digest,
            "vouch": sign_head(key, last.seq, digest, "adoption")}
    seq = last.seq + 1
    anchor = AuditEvent(seq, at, "", "", ADOPTION, data, last.hash,
                        event_hash(key, last.hash, seq, at, "", "", ADOPTION, data))
    problems = verify_chain([*events, anchor], key, None, checkpoint, retired=retired)
    if head is not None and head != (last.seq, last.hash):
        problems.append("the newest events were removed or the chain head was altered")
    _refuse([p for p in problems if "adopt-key" not in p], "nothing is adopted")
    return data
