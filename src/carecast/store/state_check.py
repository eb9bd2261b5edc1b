"""An attempt's state checked against the audit event that recorded it.

Every state change of a target appends an audit event in the same transaction, so the newest
state event of a (post, account) says which state its row must be in. A row edited in the
database (a ``failed`` row set to ``pending``, a ``published`` one to ``failed`` so that
``retry`` sends it again) disagrees with it, and the publisher refuses to act on it.

The check is on the path of every claim, so it reads no more than two events by index and
computes two HMACs: the newest state event of the target, and the event after it (its link to
the rest of the chain: an event deleted or renumbered after it breaks that link). A removed
newest event is caught when the head is behind the signed checkpoint.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from carecast.records import State
from carecast.store.audit import AuditEvent, Keyring
from carecast.store.schema import audit, audit_head

__all__ = ["STATE_KINDS", "event_of", "rows_states", "state_problem", "states_recorded"]

#: Audit event kinds that set a target's state, and the state they set (``review`` carries
#: its state in its data).
STATE_KINDS: dict[str, State | None] = {
    "review": None, "send": State.SENDING, "takedown": State.TAKEN_DOWN,
    **{s.value: s for s in State},
}
_bp = sa.bindparam
_TARGET = (audit.c.post_id == _bp("k_post"), audit.c.account == _bp("k_account"))


def _with_next(*where: Any) -> Any:
    """The newest event matching ``where`` and the event after it, in one statement."""
    newest = sa.select(audit.c.seq).where(*where).order_by(audit.c.seq.desc()).limit(1) \
        .scalar_subquery()
    return sa.select(audit).where(sa.or_(audit.c.seq == newest, audit.c.seq == newest + 1)) \
        .order_by(audit.c.seq)


_NEWEST = _with_next(*_TARGET)
# Only when the newest is a signature (approval, rejection), which sets no state.
_NEWEST_STATE = _with_next(*_TARGET, audit.c.kind.in_(list(STATE_KINDS)))
_HEAD_SEQ = sa.select(audit_head.c.seq).where(audit_head.c.id == 1)
Queued = Sequence[tuple[str, str, str, dict[str, Any]]]


def _state_of(kind: str, data: dict[str, Any]) -> str | None:
    state = STATE_KINDS.get(kind)
    return str(state) if state is not None else (str(data.get("state")) if kind == "review"
                                                 else None)


def states_recorded(events: Sequence[AuditEvent]) -> dict[tuple[str, str], str | None]:
    """The state each target's newest state event recorded, from a verified chain (what
    ``audit verify`` compares every attempt row with)."""
    recorded: dict[tuple[str, str], str | None] = {}
    for ev in events:
        if ev.account and ev.kind in STATE_KINDS:
            recorded[(ev.post_id, ev.account)] = _state_of(ev.kind, ev.data)
    return recorded


def rows_states(rows: Sequence[tuple[Any, ...]]) -> dict[tuple[str, str], str | None]:
    """``states_recorded`` read from stored audit rows (the table's columns, in order),
    without making events: only a review's data is parsed."""
    recorded: dict[tuple[str, str], str | None] = {}
    for _seq, _at, post_id, account, kind, text, _prev, _hash in rows:
        if account and kind in STATE_KINDS:
            state = STATE_KINDS[kind]
            recorded[(post_id, account)] = str(state) if state is not None else \
                str(_object(text).get("state"))
    return recorded


def event_of(row: Any) -> AuditEvent:
    """An audit row (its columns in the table's order) as an event; data that is not a JSON
    object reads as empty (unsound)."""
    seq, at, post_id, account, kind, text, prev_hash, digest = row
    return AuditEvent(seq, at, post_id, account, kind, _object(text), prev_hash, digest)


_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _object(text: str) -> dict[str, Any]:
    """The JSON object ``text`` holds, else empty: ``json.loads`` without its per-call
    set-up (the stored text is canonical: no white space around it)."""
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError, RecursionError):
        value, end = None, -1
    if end != len(text):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            value = None
    return value if isinstance(value, dict) else {}


def state_problem(conn: Connection, keyring: Keyring, post_id: str, account: str, state: str,
                  *, queued: Queued = (), checkpoint_seq: Callable[[], int] = lambda: 0
                  ) -> str | None:
    """Why the row's ``state`` is not the one the audit chain recorded; None if it is.

    ``queued`` are the events of this transaction not yet written (the newest of them
    counts first); ``checkpoint_seq`` gives the seq of the newest signed checkpoint.
    """
    for q_post, q_account, kind, data in reversed(queued):
        if (q_post, q_account) == (post_id, account) and kind in STATE_KINDS:
            recorded = _state_of(kind, data)
            return None if recorded == state else _differs(state, recorded)
    where = {"k_post": post_id, "k_account": account}
    rows = conn.execute(_NEWEST, where).all()
    if rows and rows[0].kind not in STATE_KINDS:
        rows = conn.execute(_NEWEST_STATE, where).all()
    if not rows:
        return f"its state {state!r} is recorded by no audit event"
    ev = event_of(rows[0])
    if not keyring.sound(ev, rows[0].data):
        return f"the audit event {ev.seq} that recorded its state was altered"
    recorded = _state_of(ev.kind, ev.data)
    if recorded != state:
        return _differs(state, recorded)
    after = rows[1] if len(rows) > 1 else None
    if after is None:
        head = conn.execute(_HEAD_SEQ).scalar()
        if (head is not None and head != ev.seq) or checkpoint_seq() > ev.seq:
            return f"the audit events after event {ev.seq} were removed"
        return None
    if after.prev_hash != ev.hash or not keyring.sound(event_of(after), after.data):
        return f"the audit chain is broken after event {ev.seq}"
    return None


def _differs(state: str, recorded: str | None) -> str:
    return f"its state {state!r} differs from the audit chain's {recorded!r}"
