"""The ledger: every (post, account) attempt, its state, and a hash-chained audit trail.

SQLAlchemy Core, so the same code runs on SQLite (the embedded default, in WAL mode) and on
PostgreSQL when several workers share one store. The intent to send is committed before the
send and the receipt after it, so a crash anywhere leaves a row that says what to reconcile.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import (
    AuditTampered,
    ConfigurationError,
    InvalidPost,
    StoreError,
)
from carecast.findings import Finding
from carecast.post import Draft, Post, Receipt
from carecast.records import Attempt, Decision, ErrorInfo, Freeze, State, StoredPost
from carecast.store.audit import (
    ADOPTION,
    GENESIS,
    ROTATION,
    AuditEvent,
    Checkpoint,
    Keyring,
    dumps,
    key_id,
    sign_head,
    stored_hash,
    verify_chain,
)
from carecast.store.audit_key import KeySource, resolve_key, resolve_retired, source_file
from carecast.store.checkpoints import (
    CheckpointWriter,
    RowsDigest,
    Verified,
    read_checkpoint,
    read_verified,
    write_verified,
)
from carecast.store.rekey import adoption, rotation
from carecast.store.schema import (
    approvals,
    attempts,
    audit,
    audit_head,
    consents,
    freezes,
    metadata,
    posts,
    upload_sessions,
)
from carecast.store.sealed import seal, unseal
from carecast.store.state_check import event_of, rows_states, state_problem, states_recorded

if TYPE_CHECKING:
    from carecast.channels.base import UploadSessions
    from carecast.consent import Consent

__all__ = ["AuditReport", "Failure", "Ledger", "LedgerUploadSessions"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Statements are built once: building and cache-keying a statement costs more than running it.
_bp = sa.bindparam
_ONE = (attempts.c.post_id == _bp("k_post"), attempts.c.account == _bp("k_account"))
_POST_HASH = sa.select(posts.c.content_hash).where(posts.c.id == _bp("k_post"))
_POST_BODY = sa.select(posts.c.body).where(posts.c.id == _bp("k_post"))
_POST_CREATED = sa.select(posts.c.created_at).where(posts.c.id == _bp("k_post"))
_WITHHELD = sa.select(posts.c.withheld).where(posts.c.id == _bp("k_post"))
_POST_UPDATE = posts.update().where(posts.c.id == _bp("k_post"))
_SENT_COUNT = sa.select(sa.func.count()).select_from(attempts).where(
    attempts.c.post_id == _bp("k_post"),
    attempts.c.state.in_(["published", "sending", "unknown"]))
_ROWS = sa.select(attempts).where(attempts.c.post_id == _bp("k_post")).order_by(attempts.c.account)
_ROW = sa.select(attempts).where(*_ONE)
_STATE_FOR_UPDATE = sa.select(attempts.c.state, attempts.c.updated_at, attempts.c.owner) \
    .where(*_ONE).with_for_update()
_ATTEMPT_UPDATE = attempts.update().where(*_ONE)
_PUBLISHED = attempts.update().where(*_ONE).values(
    state=State.PUBLISHED, receipt=_bp("v_receipt"), error=None, updated_at=_bp("v_at"))
_FAILED = attempts.update().where(*_ONE).values(
    state=_bp("v_state"), error=_bp("v_error"), updated_at=_bp("v_at"))
_CLAIM = attempts.update().where(*_ONE).values(tries=attempts.c.tries + 1)
_RENEW = attempts.update().where(*_ONE, attempts.c.state == "sending",
                                 attempts.c.owner == _bp("k_owner"))
_DECISIONS = sa.select(approvals).where(
    approvals.c.post_id == _bp("k_post"), approvals.c.account == _bp("k_account"),
    approvals.c.draft_hash == _bp("k_hash")).order_by(approvals.c.id)
_AWAITING = sa.select(attempts).where(attempts.c.state == "awaiting_approval") \
    .order_by(attempts.c.updated_at, attempts.c.post_id, attempts.c.account)
_CONSENT = sa.select(consents.c.body).where(consents.c.id == _bp("k_id"))
_HEAD = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1) \
    .with_for_update()
_HEAD_UPDATE = audit_head.update().where(audit_head.c.id == 1)
_POST_INSERT = posts.insert()
_ATTEMPT_INSERT = attempts.insert()
_AUDIT_INSERT = audit.insert()
_STATES = sa.select(attempts.c.account, attempts.c.state, attempts.c.updated_at,
                    attempts.c.owner).where(attempts.c.post_id == _bp("k_post"))
_RECORD_UPDATE = attempts.update().where(*_ONE).values(
    channel=_bp("v_channel"), state=_bp("v_state"), key=_bp("v_key"), draft=_bp("v_draft"),
    draft_hash=_bp("v_draft_hash"), error=_bp("v_error"), findings=_bp("v_findings"),
    updated_at=_bp("v_updated_at"), owner=_bp("v_owner"),
    tries=attempts.c.tries + _bp("v_tries"))
_AUDIT_QUEUE = "carecast.audit_queue"
#: Rows per ``executemany`` when a transaction writes thousands (memory stays bounded).
_CHUNK = 1000
#: States a new review never changes.
_SETTLED = (State.PUBLISHED, State.TAKEN_DOWN, State.HELD)


@dataclass(frozen=True)
class Failure:
    """The final failure of one send, for ``Ledger.settle``: ``failed`` (surely not sent),
    ``unknown`` (may have been sent), or a state a freeze or a takedown gives back."""

    post_id: str
    account: str
    state: State
    error: ErrorInfo


@dataclass(frozen=True)
class AuditReport:
    """What ``Ledger.verify`` found."""

    #: How many events the chain holds, and the newest one's hash.
    events: int
    head: str
    #: Empty if the chain and the rows it covers are sound.
    problems: list[str]
    #: The first event checked one by one (1: the whole chain; after it, a verified mark
    #: vouched for the rows before).
    checked_from: int


@dataclass(frozen=True)
class _AuditRead:
    """Everything ``audit verify`` reads, in one transaction."""

    checkpoint: Checkpoint | None
    rows: list[tuple[Any, ...]]
    head: tuple[int, str] | None
    approvals: Sequence[Any]
    consents: list[Consent]
    attempts: Sequence[Any]


@dataclass(frozen=True)
class _RowWrite:
    """A write of one row by a shared statement, and its audit event: the rows of a batch
    that share a statement go to the database in one ``executemany``."""

    statement: Any
    params: dict[str, Any]
    event: tuple[str, str, str, dict[str, Any]]
    target: tuple[str, str]


#: A queued write: a function of the connection, or rows written by shared statements.
_Op = Callable[[Connection], Any] | tuple[_RowWrite, ...]


class _Slot:
    """One queued write and, once its transaction ended, its result or failure."""

    __slots__ = ("done", "failed", "op", "result")

    def __init__(self, op: _Op) -> None:
        self.op = op
        self.done = False
        self.failed = False
        self.result: Any = None


class _GroupCommit:
    """Writes from many threads committed together: one transaction per batch, not per write.

    A thread queues its write and takes the writer's turn; if an earlier turn already committed
    its write, it returns at once, else it commits everything queued so far. Every caller
    returns only after its own write is committed (or raises ``StoreError`` if that
    transaction failed), so each write is as durable as when it ran alone. Ordering per target
    is kept: one thread's writes run in the order it made them.
    """

    def __init__(self, transaction: Callable[[], Any]) -> None:
        self._transaction = transaction
        self._queue: list[_Slot] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def run(self, op: Callable[[Connection], T] | tuple[_RowWrite, ...]) -> T:
        slot = _Slot(op)
        with self._queue_lock:
            self._queue.append(slot)
        with self._turn:
            if not slot.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    with self._transaction() as conn:
                        _apply(conn, batch)
                except BaseException:
                    for item in batch:
                        item.failed = True
                    raise
                finally:
                    for item in batch:
                        item.done = True
        if slot.failed:
            raise StoreError(
                "the store failed while saving this target's state; nothing is lost: run "
                "again and carecast reconciles from the ledger's rows")
        return slot.result  # type: ignore[no-any-return]


def _apply(conn: Connection, batch: Sequence[_Slot]) -> None:
    """Run a batch's writes in order; consecutive row writes together."""
    rows: list[_RowWrite] = []
    for item in batch:
        if isinstance(item.op, tuple):
            rows.extend(item.op)
            continue
        _write_rows(conn, rows)
        rows = []
        item.result = item.op(conn)
    _write_rows(conn, rows)


def _write_rows(conn: Connection, rows: Sequence[_RowWrite]) -> None:
    """Write rows with one ``executemany`` per statement and queue their audit events.

    Rows of distinct targets are grouped by statement whatever their order; when a target
    has several rows, only consecutive rows of one statement are, so its row ends in the
    state its newest event records."""
    if not rows:
        return
    distinct = len({r.target for r in rows}) == len(rows)
    groups: list[tuple[Any, list[dict[str, Any]]]] = []
    by_statement: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        conn.info[_AUDIT_QUEUE].append(row.event)
        if distinct and id(row.statement) in by_statement:
            by_statement[id(row.statement)].append(row.params)
        elif not distinct and groups and groups[-1][0] is row.statement:
            groups[-1][1].append(row.params)
        else:
            groups.append((row.statement, [row.params]))
            by_statement[id(row.statement)] = groups[-1][1]
    for statement, params in groups:
        conn.execute(statement, params)


class Ledger:
    """The store of posts, attempts, approvals and audit events."""

    def __init__(self, url: str = "sqlite:///carecast.db", *, clock: Clock = SYSTEM_CLOCK,
                 readonly: bool = False, audit_key: KeySource | None = None,
                 key_file: Path | None = None, checkpoint_file: Path | None = None,
                 retired_keys: Sequence[bytes] = ()) -> None:
        self.url = url
        #: Stamps every row and audit event; the publisher hands down its own.
        self.clock = clock
        #: Opened only to read (a preview's view): never created, migrated or written.
        self.readonly = readonly
        failed: str | None = None
        try:
            self.engine = _engine(url, readonly=readonly)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            failed = type(exc).__name__
        if failed is not None:  # raised outside the except: the URL may hold a password
            raise ConfigurationError(
                f"cannot open the store ({failed}); check [store] url in carecast.toml")
        self._sqlite = self.engine.dialect.name == "sqlite"
        database = _sqlite_file(url) if self._sqlite else None
        self._key = resolve_key(audit_key, key_file, database,
                                memory=self._sqlite and database is None)
        #: The file the audit key was read from (None: given, from the environment, or
        #: in memory); ``carecast audit rotate-key`` replaces it.
        self.key_file = None if self._sqlite and database is None else source_file(
            audit_key, key_file, database)
        #: Keys earlier rotations replaced: they verify the events before each rotation.
        self._retired = (*retired_keys, *resolve_retired(key_file, database))
        self._keyring = Keyring(self._key, self._retired)
        #: The newest signed head is kept here, outside the store (None: not kept).
        self.checkpoint_file = checkpoint_file or (
            database.with_name(database.name + ".audit-checkpoint") if database else None)
        self._checkpoints = CheckpointWriter(self.checkpoint_file) \
            if self.checkpoint_file is not None else None
        self._lock: Any = threading.RLock() if self._sqlite else nullcontext()
        self._batch = _GroupCommit(self._write)
        if readonly:
            self._probe()
            self._load_keyring()
            return
        for _ in range(3):  # workers starting together race to create the tables
            try:
                current = self._sqlite and _schema_version_of(self.engine) == _SCHEMA_VERSION
                if not current:
                    metadata.create_all(self.engine)
                    _add_new_columns(self.engine)
                with self._lock, self.engine.begin() as conn:
                    if conn.execute(sa.select(audit_head.c.id)).first() is None:
                        conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS))
                    if self._sqlite and not current:
                        conn.exec_driver_sql(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            except SQLAlchemyError as exc:
                failed = type(exc).__name__
                clock.sleep(0.1)
            else:
                failed = None
                break
        if failed is not None:
            raise ConfigurationError(
                f"cannot open the store ({failed}); check [store] url in carecast.toml")
        self._load_keyring()

    def _load_keyring(self) -> None:
        """Follow the chain's anchor events (key rotations and adoption)."""
        with self._tx() as conn:
            self._keyring = Keyring(self._key, self._retired, _anchors(conn))
        if self._keyring.segments and self._keyring.current != key_id(self._key):
            self.engine.dispose()
            raise ConfigurationError(
                f"the audit key was rotated to key {self._keyring.current}; this is key "
                f"{key_id(self._key)}: give carecast the new key (see `carecast audit "
                "rotate-key`)")

    def _probe(self) -> None:
        """Check that a store opened read-only exists and has carecast's tables."""
        failed: str | None = None
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(audit_head.c.id).limit(1)).first()
        except SQLAlchemyError as exc:
            failed = type(exc).__name__
        if failed is not None:
            self.engine.dispose()
            raise ConfigurationError(
                f"cannot read the store ({failed}); check [store] url in carecast.toml")

    def __repr__(self) -> str:
        return f"<Ledger {self.engine.url.render_as_string(hide_password=True)!r}>"

    def close(self) -> None:
        """Write the newest checkpoint and release the database connections."""
        if self._checkpoints is not None:
            self._checkpoints.flush()
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        failed: str | None = None
        try:
            with self._lock, self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:  # its message may quote the URL or the row's data
            failed = type(exc).__name__
        if failed is not None:  # contextlib still links the database error: suppress it too
            raise StoreError(
                f"the store failed ({failed}); nothing is lost: run again and carecast "
                "reconciles from the ledger's rows"
            ) from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction. Every writer locks the audit head first, so concurrent
        workers (PostgreSQL) queue in one order and never deadlock; SQLite's
        ``BEGIN IMMEDIATE`` already does this. Audit events queued with ``_append`` are
        chained and inserted together just before the commit."""
        if self.readonly:
            raise StoreError("the store was opened read-only (a preview); nothing is written")
        head: tuple[int, str] | None = None
        with self._tx() as conn:
            if not self._sqlite:
                conn.execute(_HEAD)
            events: list[tuple[str, str, str, dict[str, Any]]] = []
            conn.info[_AUDIT_QUEUE] = events
            try:
                yield conn
            finally:
                del conn.info[_AUDIT_QUEUE]
            if events:
                head = self._chain(conn, events)
        if head is not None:
            self._sign_checkpoint(head)

    # -- posts -------------------------------------------------------------------------------

    def get_post(self, post_id: str) -> Post | None:
        """The stored post, or None."""
        with self._tx() as conn:
            body = conn.execute(_POST_BODY, {"k_post": post_id}).scalar()
        return Post.model_validate_json(body) if body is not None else None

    def stored_at(self, post_id: str) -> datetime | None:
        """When the post was first stored: nothing of it can have been sent before."""
        with self._tx() as conn:
            when = conn.execute(_POST_CREATED, {"k_post": post_id}).scalar()
        return _aware(when) if when is not None else None

    def post_ids(self) -> list[str]:
        """Every stored post id, newest first."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(posts.c.id).order_by(posts.c.created_at.desc()))
            return [r[0] for r in rows]

    def save_post(self, post: Post, conn: Connection | None = None, *,
                  withheld: bool = False) -> None:
        """Store the post; an id already used for other content that went out is refused.

        ``withheld`` marks a body whose flagged text was masked out (see ``withheld``).
        """
        with nullcontext(conn) if conn is not None else self._write() as c:
            digest = post.content_hash()
            old = c.execute(_POST_HASH, {"k_post": post.id}).scalar()
            now = self.clock.now()
            if old is None:
                c.execute(_POST_INSERT, {"id": post.id, "content_hash": digest,
                                         "body": post.model_dump_json(), "created_at": now,
                                         "updated_at": now, "withheld": withheld,
                                         "schedule": post.schedule})
                return
            if old == digest:
                return
            if c.execute(_SENT_COUNT, {"k_post": post.id}).scalar():
                raise InvalidPost(
                    f"post id {post.id!r} was already published with other content; give the "
                    "edited post a new id (or leave id out to derive one from the content)",
                    [("id", "already used for other content")],
                )
            c.execute(_POST_UPDATE, {"k_post": post.id, "content_hash": digest,
                                     "body": post.model_dump_json(), "updated_at": now,
                                     "withheld": withheld, "schedule": post.schedule})

    def withheld(self, post_id: str) -> bool:
        """Whether the stored post had text a BLOCK finding flagged masked out: it was never
        sent, and can only be published again from its (fixed) source."""
        with self._tx() as conn:
            return bool(conn.execute(_WITHHELD, {"k_post": post_id}).scalar())

    # -- attempts ----------------------------------------------------------------------------

    def attempts(self, post_id: str) -> list[Attempt]:
        """Every attempt of a post, by account."""
        with self._tx() as conn:
            rows = conn.execute(_ROWS, {"k_post": post_id}).mappings().all()
        return [_attempt(r) for r in rows]

    def attempt(self, post_id: str, account: str) -> Attempt | None:
        """One attempt, or None."""
        with self._tx() as conn:
            row = conn.execute(_ROW, {"k_post": post_id, "k_account": account}).mappings().first()
        return _attempt(row) if row is not None else None

    def record(self, post: Post, rows: Sequence[Attempt], *, withheld: bool = False,
               claim: Sequence[str] = (), stale_after: float = 300.0
               ) -> dict[str, State | None]:
        """Store the post and the reviewed state of each target, in one transaction.

        Targets published, taken down or held for a person are left as they are (only
        ``reschedule`` or a takedown moves them); ``sending`` and ``unknown`` keep
        their state (and a claim its clock), since they must be reconciled before anything is
        sent. The accounts in ``claim`` are claimed in the same transaction (see ``claim``):
        the result maps each to the state it had, or None when it is not claimable.
        """
        wanted = set(claim)
        claimed: dict[str, State | None] = dict.fromkeys(claim)
        now, me = self.clock.now(), _owner()
        with self._write() as conn:
            self.save_post(post, conn, withheld=withheld)
            current = {r.account: r for r in conn.execute(_STATES, {"k_post": post.id})}
            for known in current.values():
                tampered = self._tampered(conn, post.id, known.account, known.state)
                if tampered is not None:
                    raise tampered
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for row in rows:
                if row.post_id != post.id:
                    raise ValueError("record() takes the rows of the post it records")
                old = current.get(row.account)
                old_state = State(old.state) if old is not None else None
                if old_state in _SETTLED:
                    continue
                keep = old_state in (State.SENDING, State.UNKNOWN)
                values: dict[str, Any] = {
                    "v_channel": row.channel, "v_state": old_state if keep else row.state,
                    "v_key": row.key,
                    "v_draft": row.draft.model_dump_json() if row.draft else None,
                    "v_draft_hash": row.draft.content_hash() if row.draft else None,
                    "v_error": dumps(row.error.to_dict()) if row.error else None,
                    "v_findings": dumps([f.model_dump(mode="json") for f in row.findings]),
                    "v_updated_at": old.updated_at if keep and old else row.updated_at,
                    "v_owner": old.owner if old is not None else None, "v_tries": 0,
                }
                self._append(conn, post.id, row.account, "review", {
                    "state": str(values["v_state"]), "draft_hash": values["v_draft_hash"],
                    "findings": [_finding_audit(f) for f in row.findings],
                    "error": row.error.type if row.error else None,
                })
                if row.account in wanted:
                    previous = _claimable(values["v_state"], values["v_updated_at"],
                                          values["v_owner"], stale_after, now)
                    if previous is not None:
                        values.update(v_state=State.SENDING, v_owner=me, v_updated_at=now,
                                      v_tries=1)
                        self._append(conn, post.id, row.account, "send",
                                     {"previous": str(previous)})
                    claimed[row.account] = previous
                if old is None:
                    inserts.append({"post_id": post.id, "account": row.account,
                                    **{k[2:]: v for k, v in values.items()}})
                else:
                    updates.append({"k_post": post.id, "k_account": row.account, **values})
                if len(inserts) + len(updates) >= _CHUNK:  # a fan-out to thousands: bounded
                    _execute_many(conn, (_ATTEMPT_INSERT, inserts), (_RECORD_UPDATE, updates))
            _execute_many(conn, (_ATTEMPT_INSERT, inserts), (_RECORD_UPDATE, updates))
        return claimed

    def claim(self, post_id: str, account: str, *, stale_after: float = 300.0) -> State | None:
        """Mark a target ``sending`` (the intent, committed before the send).

        Returns the state it had (``unknown`` or ``sending`` mean: reconcile before sending),
        or None when it is not claimable: published, blocked, awaiting approval, or being sent
        right now. A ``sending`` row is taken over at once when the process that claimed it
        on this machine is gone (a crash); otherwise only after ``stale_after`` seconds.
        """
        found = self._batch.run(lambda conn: self._claim(conn, post_id, account, stale_after))
        if isinstance(found, AuditTampered):  # raised here: the batch's other writes stand
            raise found
        return found

    def _claim(self, conn: Connection, post_id: str, account: str, stale_after: float
               ) -> State | AuditTampered | None:
        where = {"k_post": post_id, "k_account": account}
        row = conn.execute(_STATE_FOR_UPDATE, where).first()
        if row is None:
            return None
        tampered = self._tampered(conn, post_id, account, row.state)
        if tampered is not None:
            return tampered
        state = _claimable(State(row.state), row.updated_at, row.owner, stale_after,
                           self.clock.now())
        if state is None:
            return None
        conn.execute(_CLAIM, {**where, "state": State.SENDING, "updated_at": self.clock.now(),
                              "owner": _owner()})
        self._append(conn, post_id, account, "send", {"previous": str(state)})
        return state

    def renew_claim(self, post_id: str, account: str) -> bool:
        """Whether this process still holds the target's claim; if so, its clock restarts.

        A target claimed long ago (queued behind others) checks this before it is sent: after
        ``stale_after`` another worker may have taken it over.
        """
        def renew(conn: Connection) -> bool:
            done = conn.execute(_RENEW, {"k_post": post_id, "k_account": account,
                                         "k_owner": _owner(), "updated_at": self.clock.now()})
            return bool(done.rowcount)

        return self._batch.run(renew)

    def mark_published(self, receipt: Receipt) -> None:
        """Record the receipt: the target is published."""
        self.settle([receipt])

    def mark_failed(self, post_id: str, account: str, state: State, error: ErrorInfo) -> None:
        """Record a final failure: ``failed`` (surely not sent) or ``unknown``."""
        self.settle([Failure(post_id, account, state, error)])

    def settle(self, results: Sequence[Receipt | Failure]) -> None:
        """Record the receipts and final failures of a wave of sends in one transaction, with
        their audit events chained in it: all of them or, if it fails, none (the targets
        stay ``sending``, which a re-run reconciles before sending anything again)."""
        if not results:
            return
        at = self.clock.now()
        self._batch.run(tuple(_settled(r, at) for r in results))

    # -- approvals ---------------------------------------------------------------------------

    def approve(self, post_id: str, account: str, *, approver: str, draft_hash: str,
                note: str = "", step: str = "review", decision: str = "approve") -> None:
        """Record ``approver``'s decision on this exact draft at ``step`` (an edit voids it).

        The approval policy (who may sign which step) is the publisher's; this only stores.
        """
        if not approver.strip() or len(approver) > 200 or not approver.isprintable():
            raise InvalidPost("approver: give a name of 1 to 200 printable characters",
                              [("approver", "invalid")])
        if len(note) > 2000 or "\x00" in note:
            raise InvalidPost("note: at most 2,000 characters, without NUL",
                              [("note", "invalid")])
        if decision not in ("approve", "reject"):
            raise InvalidPost("decision: 'approve' or 'reject'", [("decision", "invalid")])
        with self._write() as conn:
            conn.execute(approvals.insert().values(
                post_id=post_id, account=account, draft_hash=draft_hash, approver=approver,
                note=note, at=self.clock.now(), step=step, decision=decision))
            self._append(conn, post_id, account, "approval" if decision == "approve"
                         else "rejection", {"approver": approver, "draft_hash": draft_hash,
                                            "step": step, "by": _os_user()})

    def decisions(self, post_id: str, account: str, draft_hash: str) -> list[Decision]:
        """The decisions on this exact draft, oldest first; each must be in the audit chain
        (else ``AuditTampered``: a forged row is never acted on)."""
        with self._tx() as conn:
            rows = conn.execute(_DECISIONS, {"k_post": post_id, "k_account": account,
                                             "k_hash": draft_hash}).mappings().all()
            events = self._sound_events(conn, post_id) if rows else []
        problems = _side_table_problems(events, rows, [])
        if problems:
            raise AuditTampered(f"post {post_id!r}: an approval row is not in the audit chain; "
                                "nothing is published: run `carecast audit verify`")
        return [Decision(r["step"], r["decision"], r["approver"], r["note"], _aware(r["at"]))
                for r in rows]

    def awaiting_approval(self) -> list[Attempt]:
        """Every target, of every post, that waits for a signature; oldest first."""
        with self._tx() as conn:
            rows = conn.execute(_AWAITING).mappings().all()
        return [_attempt(r) for r in rows]

    # -- consents ----------------------------------------------------------------------------

    def add_consent(self, consent: Consent) -> None:
        """Record a consent; an id already used is refused (revoke it and use a new id)."""
        now = self.clock.now()
        with self._write() as conn:
            if conn.execute(_CONSENT, {"k_id": consent.id}).first() is not None:
                raise InvalidPost(f"consent id {consent.id!r} is already recorded; a consent "
                                  "is never edited: give the new one its own id",
                                  [("id", "already used")])
            conn.execute(consents.insert().values(
                id=consent.id, body=consent.model_dump_json(), created_at=now,
                updated_at=now))
            self._append(conn, "", "", "consent", {
                "consent": consent.id, "channels": list(consent.channels),
                "media": len(consent.media), "expires": consent.expires.isoformat(),
                "by": consent.recorded_by or _os_user()})

    def revoke_consent(self, consent_id: str, *, by: str = "") -> Consent:
        """Revoke a consent: every later post that uses it is blocked."""
        with self._write() as conn:
            body = conn.execute(_CONSENT, {"k_id": consent_id}).scalar()
            if body is None:
                raise InvalidPost(f"no consent {consent_id!r} in the registry",
                                  [("consent", "unknown")])
            consent = _consent(body)
            if consent.revoked_at is None:
                consent = consent.model_copy(update={"revoked_at": self.clock.now()})
                conn.execute(consents.update().where(consents.c.id == consent_id).values(
                    body=consent.model_dump_json(), updated_at=self.clock.now()))
                self._append(conn, "", "", "consent_revoked",
                             {"consent": consent_id, "by": by or _os_user()})
            return consent

    def consent(self, consent_id: str) -> Consent | None:
        """The recorded consent, or None; it must agree with the audit chain (else
        ``AuditTampered``: an un-revoked or forged consent is never acted on)."""
        with self._tx() as conn:
            body = conn.execute(_CONSENT, {"k_id": consent_id}).scalar()
            events = self._sound_events(conn, "") if body is not None else []
        if body is None:
            return None
        consent = _consent(body)
        mine = [ev for ev in events if ev.data.get("consent") == consent_id]
        if _side_table_problems(mine, [], [consent]):
            raise AuditTampered(f"consent {consent_id!r} differs from the audit chain; it is "
                                "not used: run `carecast audit verify`")
        return consent

    def consents(self) -> list[Consent]:
        """Every recorded consent, by id."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(consents.c.body).order_by(consents.c.id))
            return [_consent(r[0]) for r in rows]

    # -- audit -------------------------------------------------------------------------------

    def _append(self, conn: Connection, post_id: str, account: str, kind: str,
                data: dict[str, Any]) -> None:
        """Queue an audit event; ``_write`` chains it in at the commit."""
        conn.info[_AUDIT_QUEUE].append((post_id, account, kind, data))

    def _chain(self, conn: Connection, events: Sequence[tuple[str, str, str, dict[str, Any]]]
               ) -> tuple[int, str]:
        head = conn.execute(_HEAD).first()
        seq, prev = (head.seq, head.hash) if head is not None else self._recover_head(conn)
        at = self.clock.now().isoformat()
        rows: list[dict[str, Any]] = []
        for post_id, account, kind, data in events:
            seq += 1
            text = dumps(data)  # once: the row stores the text its hash covers
            digest = stored_hash(self._key, prev, seq, at, post_id, account, kind, text)
            rows.append({"seq": seq, "at": at, "post_id": post_id, "account": account,
                         "kind": kind, "data": text, "prev_hash": prev, "hash": digest})
            prev = digest
            if len(rows) >= _CHUNK:
                _execute_many(conn, (_AUDIT_INSERT, rows))
        _execute_many(conn, (_AUDIT_INSERT, rows))
        conn.execute(_HEAD_UPDATE, {"seq": seq, "hash": prev})
        return seq, prev

    def _recover_head(self, conn: Connection) -> tuple[int, str]:
        """The head row was deleted: rebuild it from the chain, once the chain verifies."""
        events = _events(conn, None)
        problems = verify_chain(events, self._key, None, self._checkpoint(),
                                retired=self._retired)
        if problems:
            raise AuditTampered("the audit head row is missing and the chain does not verify; "
                                "run `carecast audit verify`")
        head = (events[-1].seq, events[-1].hash) if events else (0, GENESIS)
        conn.execute(audit_head.insert().values(id=1, seq=head[0], hash=head[1]))
        return head

    def _tampered(self, conn: Connection, post_id: str, account: str, state: str
                  ) -> AuditTampered | None:
        """An ``AuditTampered`` if the target's state is not the one its chain recorded."""
        def checkpoint_seq() -> int:
            checkpoint = self._checkpoint()
            return checkpoint.seq if checkpoint is not None else 0

        problem = state_problem(conn, self._keyring, post_id, account, state,
                                queued=conn.info[_AUDIT_QUEUE], checkpoint_seq=checkpoint_seq)
        if problem is None:
            return None
        return AuditTampered(f"post {post_id!r}, account {account!r}: {problem}; nothing is "
                             "sent: run `carecast audit verify`")

    def _sound_events(self, conn: Connection, post_id: str) -> list[AuditEvent]:
        """``post_id``'s events whose keyed hash holds (a forged event row has none)."""
        events, stored = _stored_events(conn, post_id)
        return [ev for ev, text in zip(events, stored, strict=True)
                if self._keyring.sound(ev, text)]

    def _checkpoint(self) -> Checkpoint | None:
        if self._checkpoints is not None:
            self._checkpoints.flush()
        return read_checkpoint(self.checkpoint_file) if self.checkpoint_file else None

    @property
    def upload_sessions(self) -> UploadSessions:
        """Where a channel keeps a resumable upload's session by target key, so any process
        resumes the same upload (the publisher hands it to every channel)."""
        return LedgerUploadSessions(self)

    def note(self, kind: str, data: dict[str, Any], *, post_id: str = "",
             account: str = "") -> None:
        """Append one ``kind`` event holding ``data`` to the audit chain, in its own write
        transaction: hash-chained, keyed and checkpointed like every other event. ``data``
        must be JSON-serialisable and hold no secret or post text."""
        with self._write() as conn:
            self._append(conn, post_id, account, kind, data)

    def audit_events(self, post_id: str | None = None) -> list[AuditEvent]:
        """The audit trail in order, for one post or all."""
        with self._tx() as conn:
            return _events(conn, post_id)

    def audit_snapshot(self) -> tuple[list[AuditEvent], list[str]]:
        """The whole trail and its problems (edited, deleted or reordered events, side-table
        rows no event records, attempt rows in another state than their chain recorded),
        every event verified; no problems if sound."""
        read = self._read_audit()
        events, stored = _parsed(read.rows)
        return events, self._problems(read, events, stored)

    def verify_audit(self) -> list[str]:
        """Problems in the audit chain and the rows it covers, every event verified; empty
        if sound."""
        return self.audit_snapshot()[1]

    def verify(self, *, full: bool = False) -> AuditReport:
        """Verify the audit chain and the rows it covers, as ``verify_audit`` does, from the
        last verified event on (``full``: from the first).

        A sound result is marked, signed, beside the checkpoint file (see
        ``checkpoints.Verified``); the next verify checks the events after the mark one by
        one and those up to it by the digest of their stored rows. Any change to those rows
        (or a missing or forged mark) verifies the whole chain again, so the problems found
        are the same as ``verify_audit``'s."""
        read = self._read_audit()
        mark = None if full or self.verified_file is None else read_verified(
            self.verified_file, self._key)
        start, digest = _verified_prefix(read.rows, mark)
        problems = self._problems(read, *_parsed(read.rows, start), start)
        head = read.rows[-1] if read.rows else None
        if not problems and head is not None and self.verified_file is not None:
            try:
                write_verified(self.verified_file, Verified(
                    head[0], head[7], digest.update(read.rows[start:]).hexdigest()),
                    self._key)
            except OSError as exc:
                log.warning("cannot write %s (%s): the next audit verify checks every "
                            "event again", self.verified_file, exc.strerror)
        return AuditReport(len(read.rows), head[7] if head is not None else GENESIS,
                           problems, start + 1)

    @property
    def verified_file(self) -> Path | None:
        """Where ``verify`` keeps its mark of the last verified event (beside the
        checkpoint; None when no checkpoint is kept)."""
        if self.checkpoint_file is None:
            return None
        return self.checkpoint_file.with_name(self.checkpoint_file.name + ".verified")

    def _read_audit(self) -> _AuditRead:
        """Every row the audit covers, read in one transaction.

        The checkpoint is read first: it is written after its commit, so the snapshot always
        holds what it signs, whatever a concurrent writer does."""
        checkpoint = self._checkpoint()
        with self._tx() as conn:
            if not self._sqlite:  # SQLite's BEGIN IMMEDIATE already gives one snapshot
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            rows = _chain_rows(conn)
            head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).first()
            approval_rows = conn.execute(sa.select(approvals)).mappings().all()
            consent_rows = [_consent(r[0]) for r in
                            conn.execute(sa.select(consents.c.body))]
            attempt_rows = _plain_rows(conn, _ATTEMPT_STATES_SQL)
        return _AuditRead(checkpoint, rows, None if head is None else (head[0], head[1]),
                          approval_rows, consent_rows, attempt_rows)

    def _problems(self, read: _AuditRead, events: list[AuditEvent], stored: list[str],
                  start: int = 0) -> list[str]:
        """The problems of ``read``; ``events`` (and their data texts) are its rows after the
        first ``start``, which a verified mark vouched for: of those, only the anchor,
        approval and consent events are parsed, and the states recorded read."""
        earlier = [event_of(r) for r in read.rows[:start] if r[4] in _RECORD_KINDS]
        problems = verify_chain(
            events, self._key, read.head, read.checkpoint, retired=self._retired,
            stored=stored, after=(start, read.rows[start - 1][7]) if start else (0, GENESIS),
            anchors=[ev for ev in earlier if ev.kind in (ROTATION, ADOPTION)],
            hash_at=lambda seq: read.rows[seq - 1][7] if seq <= len(read.rows) else None)
        if read.head is None:
            problems.append("the audit head row is missing (the next write rebuilds it)")
        if not problems:
            problems = _side_table_problems([*earlier, *events], read.approvals, read.consents)
            recorded = {**rows_states(read.rows[:start]), **states_recorded(events)}
            problems += [f"post {post_id!r}, account {account!r}: its state {state!r} differs "
                         f"from the audit chain's {recorded.get((post_id, account))!r}"
                         for post_id, account, state in read.attempts
                         if recorded.get((post_id, account)) != state]
        return problems

    def export_key(self) -> bytes:
        """The audit key, to sign and verify exports (never logged or stored)."""
        return self._key

    @property
    def retired_keys(self) -> tuple[bytes, ...]:
        """The keys earlier rotations replaced (never logged or stored)."""
        return self._retired

    def rotate_key(self, new_key: bytes) -> int:
        """Hand the audit chain to ``new_key``; returns the seq of the rotation event.

        The chain must verify first. The rotation event is chained under the old key and names
        the new key's id; every later event is under the new key, and the old one (kept with
        the retired keys) still verifies the events before. A new checkpoint is signed with the
        new key. Stop every other worker first: one still holding the old key is refused at
        its next start, and its writes meanwhile do not verify.
        """
        def make(events: list[AuditEvent], head: tuple[int, str] | None) -> dict[str, Any]:
            return rotation(events, self._key, new_key, self._retired, head,
                            self._checkpoint())

        head = self._anchor(ROTATION, make)
        self._retired, self._key = (*self._retired, self._key), new_key
        self._load_keyring()
        self._sign_checkpoint(head)
        return head[0]

    def adopt_key(self) -> int:
        """Seal the unkeyed events of a store made before the keyed chain; returns the seq of
        the adoption event. They are verified under the old plain SHA-256 rule first (and the
        keyed ones after them under the key); a chain that fails is refused, never adopted.
        The adoption event carries a keyed digest of the whole history before it, so a later
        edit of an unkeyed event is still caught."""
        def make(events: list[AuditEvent], head: tuple[int, str] | None) -> dict[str, Any]:
            return adoption(events, self._key, self._retired, head, self._checkpoint(),
                            self.clock.now().isoformat())

        head = self._anchor(ADOPTION, make)
        self._load_keyring()
        self._sign_checkpoint(head)
        return head[0]

    def _anchor(self, kind: str, make: Callable[[list[AuditEvent], tuple[int, str] | None],
                                                dict[str, Any]]) -> tuple[int, str]:
        """Append one anchor event made by ``make`` from the whole chain, in one write;
        returns the new head (the caller signs its checkpoint)."""
        if self.readonly:
            raise StoreError("the store was opened read-only (a preview); nothing is written")
        with self._tx() as conn:
            head = conn.execute(_HEAD).first()
            data = make(_events(conn, None), None if head is None else (head[0], head[1]))
            data["by"] = _os_user()
            return self._chain(conn, [("", "", kind, data)])

    def _sign_checkpoint(self, head: tuple[int, str]) -> None:
        """Write the signed head (after the commit: a failure here loses no write, only
        the truncation check until the next write succeeds; it is logged)."""
        if self._checkpoints is None:
            return
        try:  # commits arriving together share one file write
            self._checkpoints.offer(Checkpoint(head[0], head[1], sign_head(self._key, *head)))
        except OSError as exc:
            log.warning("cannot write the audit checkpoint %s (%s): a truncated audit chain "
                        "is not caught until it is written again; check [audit] "
                        "checkpoint_file", self.checkpoint_file, exc.strerror)


    # -- the publishing loop ------------------------------------------------------------------

    def due(self, *, stale_after: float, rounds: int = 1, limit: int = 1000) -> list[str]:
        """Ids of stored posts with work for a worker now, soonest first: the posts of
        ``due_targets``."""
        found: dict[str, None] = {}
        with self._tx() as conn:
            for post_id, _account in self._due(conn, stale_after, rounds, None):
                found.setdefault(post_id)
                if len(found) >= limit:
                    break
        return list(found)

    def due_targets(self, *, stale_after: float, rounds: int = 1, post_id: str | None = None,
                    limit: int = 10_000) -> list[tuple[str, str]]:
        """The (post id, account) targets with work for a worker now (of ``post_id`` only, if
        given), soonest first, in one query: pending or awaiting approval whose time has come,
        failed or unknown ones sent (claimed) fewer than ``rounds`` times, and sends left
        ``sending`` that may be taken over (a crashed process on this machine at once, others
        after ``stale_after`` seconds). Unknown and taken-over ones are reconciled before
        anything is resent."""
        found: list[tuple[str, str]] = []
        with self._tx() as conn:
            for target in self._due(conn, stale_after, rounds, post_id):
                found.append(target)
                if len(found) >= limit:
                    break
        return found

    def _due(self, conn: Connection, stale_after: float, rounds: int, post_id: str | None
             ) -> Iterator[tuple[str, str]]:
        """The rule of ``due_targets``, read in one query."""
        now = self.clock.now()
        waiting = sa.or_(attempts.c.state.in_([State.PENDING, State.AWAITING_APPROVAL]),
                         sa.and_(attempts.c.state.in_([State.FAILED, State.UNKNOWN]),
                                 attempts.c.tries >= 1, attempts.c.tries < rounds))
        when = sa.func.coalesce(posts.c.schedule, posts.c.created_at)
        query = (sa.select(posts.c.id, attempts.c.account, when, attempts.c.state,
                           attempts.c.updated_at, attempts.c.owner)
                 .join(attempts, attempts.c.post_id == posts.c.id)
                 .where(posts.c.withheld.is_(False),
                        sa.or_(waiting, attempts.c.state == State.SENDING),
                        sa.or_(posts.c.schedule.is_(None), posts.c.schedule <= now))
                 .order_by(when, posts.c.id, attempts.c.account))
        if post_id is not None:
            query = query.where(posts.c.id == post_id)
        for row in conn.execute(query):
            if row.state == State.SENDING and _claimable(
                    State.SENDING, row.updated_at, row.owner, stale_after, now) is None:
                continue  # a live send, another worker's
            yield row.id, row.account

    def scheduled_times(self, account: str, after: datetime) -> frozenset[datetime]:
        """The times after ``after`` that stored posts to ``account`` are scheduled for (one
        query, no post read): the slots already taken."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(posts.c.schedule)
                                .join(attempts, attempts.c.post_id == posts.c.id)
                                .where(attempts.c.account == account,
                                       posts.c.schedule > after))
            return frozenset(_aware(r[0]) for r in rows)

    def content_hashes(self, post_ids: Sequence[str]) -> dict[str, str]:
        """The stored content hash of each of ``post_ids`` that is stored (one query)."""
        if not post_ids:
            return {}
        with self._tx() as conn:
            rows = conn.execute(sa.select(posts.c.id, posts.c.content_hash)
                                .where(posts.c.id.in_(list(post_ids))))
            return {r.id: r.content_hash for r in rows}

    def stored(self, *, scheduled_after: datetime | None = None,
               between: tuple[datetime, datetime] | None = None,
               ids: Sequence[str] | None = None) -> list[StoredPost]:
        """Stored posts with their targets, newest first, in two queries whatever their
        number: every post, those scheduled after ``scheduled_after``, those due (their
        schedule, else when stored) within ``between`` (start inclusive, end exclusive),
        or those of ``ids``."""
        when = sa.func.coalesce(posts.c.schedule, posts.c.created_at)
        where: list[Any] = [] if ids is None else [posts.c.id.in_(list(ids))]
        if scheduled_after is not None:
            where.append(posts.c.schedule > scheduled_after)
        if between is not None:
            where += [when >= between[0], when < between[1]]
        chosen = sa.select(posts.c.id).where(*where)
        with self._tx() as conn:
            found = conn.execute(sa.select(posts.c.id, posts.c.body, posts.c.created_at)
                                 .where(*where).order_by(posts.c.created_at.desc(),
                                                         posts.c.id)).all()
            rows = conn.execute(sa.select(attempts).where(attempts.c.post_id.in_(chosen))
                                .order_by(attempts.c.post_id, attempts.c.account)
                                ).mappings().all()
        by_post: dict[str, list[Attempt]] = {}
        for row in rows:
            by_post.setdefault(row["post_id"], []).append(_attempt(row))
        return [StoredPost(Post.model_validate_json(r.body), _aware(r.created_at),
                           tuple(by_post.get(r.id, ()))) for r in found]

    def freeze(self, *, reason: str, by: str, brand: str = "",
               until: datetime | None = None) -> Freeze:
        """Start a crisis freeze of ``brand`` ('' for every brand), recorded in the audit."""
        for name, value, cap in (("reason", reason, 2000), ("by", by, 200)):
            if not value.strip() or len(value) > cap or "\x00" in value:
                raise InvalidPost(f"{name}: give 1 to {cap:,} characters, without NUL",
                                  [(name, "invalid")])
        now = self.clock.now()
        with self._write() as conn:
            found = conn.execute(sa.insert(freezes).values(
                brand=brand, reason=reason, by=by, started_at=now, until=until))
            key = found.inserted_primary_key
            self._append(conn, "", "", "freeze", {
                "brand": brand, "by": by, "reason": reason, "os_user": _os_user(),
                "until": until.isoformat() if until else None})
        return Freeze(int(key[0]) if key else 0, brand, reason, by, now, until, None)

    def thaw(self, *, by: str, brand: str = "") -> list[Freeze]:
        """End the active freezes of ``brand`` ('' ends every freeze); returns them."""
        now = self.clock.now()
        ended = []
        with self._write() as conn:
            query = sa.select(freezes).where(freezes.c.ended_at.is_(None))
            if brand:
                query = query.where(freezes.c.brand == brand)
            for row in conn.execute(query).mappings().all():
                conn.execute(freezes.update().where(freezes.c.id == row["id"])
                             .values(ended_at=now, ended_by=by))
                ended.append(_freeze({**row, "ended_at": now}))
                self._append(conn, "", "", "thaw", {"brand": row["brand"], "by": by,
                                                    "os_user": _os_user()})
        return ended

    def freezes(self) -> list[Freeze]:
        """Every freeze, oldest first (active ones have no ``ended_at``)."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(freezes).order_by(freezes.c.id)).mappings().all()
        return [_freeze(r) for r in rows]

    def mark_taken_down(self, post_id: str, account: str, *, reason: str, by: str) -> None:
        """Record that the platform's copy of a published target was deleted."""
        def mark(conn: Connection) -> None:
            conn.execute(_ATTEMPT_UPDATE, {
                "k_post": post_id, "k_account": account, "state": State.TAKEN_DOWN,
                "updated_at": self.clock.now()})
            self._append(conn, post_id, account, "takedown", {
                "by": by, "os_user": _os_user(), "reason": reason})

        self._batch.run(mark)


def _events(conn: Connection, post_id: str | None) -> list[AuditEvent]:
    return _stored_events(conn, post_id)[0]


def _stored_events(conn: Connection, post_id: str | None = None
                   ) -> tuple[list[AuditEvent], list[str]]:
    """The events in order, for one post or all, and each one's data text as stored."""
    if post_id is None:
        return _parsed(_chain_rows(conn))
    return _parsed(conn.execute(sa.select(audit).where(audit.c.post_id == post_id)
                                .order_by(audit.c.seq)).all())


def _chain_rows(conn: Connection) -> list[tuple[Any, ...]]:
    """Every audit row in order."""
    return _plain_rows(conn, _CHAIN_SQL)


def _plain_rows(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query without parameters, as plain tuples from the driver, fetched in
    one go (thousands of rows: SQLAlchemy's row objects cost more than the query)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


#: Kinds of the events the side tables and the keyring are checked against.
_RECORD_KINDS = frozenset({"approval", "rejection", "consent", "consent_revoked", ROTATION,
                           ADOPTION})


def _parsed(rows: Sequence[Any], start: int = 0) -> tuple[list[AuditEvent], list[str]]:
    """The rows after the first ``start`` as events, and each one's data text."""
    later = rows[start:]
    return [event_of(r) for r in later], [r[5] for r in later]


def _verified_prefix(rows: Sequence[tuple[Any, ...]], mark: Verified | None
                     ) -> tuple[int, RowsDigest]:
    """How many rows from the first a verified mark still vouches for (0: none, or a key
    adoption after them, which is verified from the first event), and their digest."""
    if mark is None or not 0 < mark.seq <= len(rows) \
            or (rows[mark.seq - 1][0], rows[mark.seq - 1][7]) != (mark.seq, mark.hash) \
            or any(r[4] == ADOPTION for r in rows[mark.seq:]):
        return 0, RowsDigest()
    digest = RowsDigest().update(rows[:mark.seq])
    if not hmac.compare_digest(digest.hexdigest(), mark.rows):
        return 0, RowsDigest()
    return mark.seq, digest


#: Plain SQL both SQLite and PostgreSQL read (no parameters).
_CHAIN_SQL = str(sa.select(audit).order_by(audit.c.seq).compile())
_ATTEMPT_STATES_SQL = str(sa.select(attempts.c.post_id, attempts.c.account, attempts.c.state)
                          .compile())


def _anchors(conn: Connection) -> list[AuditEvent]:
    """The key rotation and adoption events, in order."""
    query = sa.select(audit).where(audit.c.post_id == "", audit.c.account == "",
                                   audit.c.kind.in_([ROTATION, ADOPTION])).order_by(audit.c.seq)
    return [event_of(r) for r in conn.execute(query)]


def _approval_key(post_id: str, account: str, kind: str, approver: str, draft_hash: str,
                  step: str) -> tuple[str, ...]:
    return (post_id, account, kind, approver, draft_hash, step)


def _side_table_problems(events: Sequence[AuditEvent], approval_rows: Sequence[Any],
                         consent_rows: Sequence[Consent]) -> list[str]:
    """Approval and consent rows that no audit event records."""
    recorded: dict[tuple[str, ...], int] = {}
    revoked, added = set(), set()
    for ev in events:
        if ev.kind in ("approval", "rejection"):
            k = _approval_key(ev.post_id, ev.account, ev.kind, str(ev.data.get("approver")),
                              str(ev.data.get("draft_hash")), str(ev.data.get("step")))
            recorded[k] = recorded.get(k, 0) + 1
        elif ev.kind == "consent":
            added.add(str(ev.data.get("consent")))
        elif ev.kind == "consent_revoked":
            revoked.add(str(ev.data.get("consent")))
    problems = []
    for r in approval_rows:
        k = _approval_key(r["post_id"], r["account"], "approval" if r["decision"] == "approve"
                          else "rejection", r["approver"], r["draft_hash"], r["step"])
        if recorded.get(k, 0) <= 0:
            problems.append(f"approval row {r['id']} (post {r['post_id']!r}) is not in the "
                            "audit chain")
        else:
            recorded[k] -= 1
    for consent in consent_rows:
        if consent.id not in added:
            problems.append(f"consent {consent.id!r} is not in the audit chain")
        if (consent.revoked_at is not None) != (consent.id in revoked):
            problems.append(f"consent {consent.id!r}: its revocation differs from the audit "
                            "chain")
    return problems


def _sqlite_file(url: str) -> Path | None:
    if url in ("sqlite://", "sqlite:///:memory:"):
        return None
    database = sa.engine.make_url(url).database
    return Path(database).expanduser().resolve() if database else None


def _freeze(row: Any) -> Freeze:
    return Freeze(row["id"], row["brand"], row["reason"], row["by"], _aware(row["started_at"]),
                  _aware(row["until"]) if row["until"] else None,
                  _aware(row["ended_at"]) if row["ended_at"] else None)


def _finding_audit(f: Finding) -> dict[str, Any]:
    event = {"code": f.code, "action": str(f.action), "field": f.field, "check": f.check,
             "spans": [[s.start, s.end] for s in f.spans]}
    if f.code == "review.check_disabled":  # who turned a built-in check off, and why
        event["note"] = f.message
    return event


def _execute_many(conn: Connection, *writes: tuple[Any, list[dict[str, Any]]]) -> None:
    """Run each statement over its rows (if any), then empty the lists."""
    for statement, rows in writes:
        if rows:
            conn.execute(statement, rows)
            rows.clear()


def _settled(result: Receipt | Failure, at: datetime) -> _RowWrite:
    """The row write and audit event that record a receipt or a final failure."""
    target = (result.post_id, result.account)
    if isinstance(result, Failure):
        return _RowWrite(_FAILED, {
            "k_post": result.post_id, "k_account": result.account, "v_state": result.state,
            "v_error": dumps(result.error.to_dict()), "v_at": at}, (
            *target, str(result.state), {"error": result.error.type,
                                         "status": result.error.status}), target)
    return _RowWrite(_PUBLISHED, {
        "k_post": result.post_id, "k_account": result.account,
        "v_receipt": result.model_dump_json(), "v_at": at}, (
        *target, "published", {"remote_id": result.remote_id, "url": result.url,
                               "reconciled": result.reconciled}), target)


#: Columns added after a table was first shipped: (table, column, SQL type and default).
_ADDED_COLUMNS = (
    ("carecast_posts", "withheld", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("carecast_approvals", "step", "VARCHAR(64) NOT NULL DEFAULT 'review'"),
    ("carecast_approvals", "decision", "VARCHAR(16) NOT NULL DEFAULT 'approve'"),
    ("carecast_posts", "schedule", "TIMESTAMP WITH TIME ZONE"),
    ("carecast_mentions", "rating", "SMALLINT"),
)


def _schema_fingerprint() -> int:
    """A positive 31-bit number naming carecast's tables, columns and indexes: an SQLite store
    keeps it as ``PRAGMA user_version`` once made or migrated, so opening a store already at
    this schema skips creating and inspecting its tables. Any change to the schema changes it."""
    shape = [(t.name, sorted(c.name for c in t.columns), sorted(str(i.name) for i in t.indexes))
             for t in metadata.sorted_tables]
    digest = hashlib.sha256(repr((shape, _ADDED_COLUMNS)).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1 or 1


def _schema_version_of(engine: Engine) -> int:
    """An SQLite store's ``PRAGMA user_version`` (0: new, or made before it was kept)."""
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)


def _add_new_columns(engine: Engine) -> None:
    """Bring a store made by an earlier carecast up to date (columns are only ever added)."""
    inspector = sa.inspect(engine)
    missing = [(t, c, ddl) for t, c, ddl in _ADDED_COLUMNS
               if c not in {col["name"] for col in inspector.get_columns(t)}]
    if missing:
        with engine.begin() as conn:
            for name, column, ddl in missing:
                conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {column} {ddl}")
    # An added column's index (``schedule``'s, say) and any index added since: create_all
    # makes neither on a table that already exists.
    for table in metadata.sorted_tables:
        held = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in held:
                index.create(engine, checkfirst=True)


_SCHEMA_VERSION = _schema_fingerprint()


def _claimable(state: State, updated_at: datetime, owner: str | None, stale_after: float,
               now: datetime) -> State | None:
    """``state`` when a target in it may be claimed now, else None: published, blocked or
    awaiting approval, or ``sending`` by a live process within ``stale_after`` seconds (a
    send of this very process is never taken over at 0)."""
    if state == State.SENDING and _owner_alive(owner):
        age = (now - _aware(updated_at)).total_seconds()
        if age < stale_after or (owner == _owner() and stale_after == 0):
            return None
    if state not in (State.PENDING, State.FAILED, State.UNKNOWN, State.SENDING):
        return None
    return state


def _os_user() -> str:
    """The operating-system account running carecast, recorded beside asserted names."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    """False only when ``owner`` is a process on this machine that no longer runs."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's worker (or unknown): trust stale_after only
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user
        return True
    return True


def _consent(body: str) -> Consent:
    """A stored consent (``carecast.consent`` loads on first use: its check brings pluggy)."""
    from carecast.consent import Consent

    return Consent.model_validate_json(body)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _attempt(row: Any) -> Attempt:
    return Attempt(
        post_id=row["post_id"], account=row["account"], channel=row["channel"],
        state=State(row["state"]), key=row["key"], tries=row["tries"],
        updated_at=_aware(row["updated_at"]),
        draft=Draft.model_validate_json(row["draft"]) if row["draft"] else None,
        receipt=Receipt.model_validate_json(row["receipt"]) if row["receipt"] else None,
        error=ErrorInfo(**json.loads(row["error"])) if row["error"] else None,
        findings=tuple(Finding.model_validate(f) for f in json.loads(row["findings"] or "[]")),
    )


def _engine(url: str, *, readonly: bool = False) -> Engine:
    if not url.startswith("sqlite"):
        args = {"connect_timeout": 5} if readonly and "psycopg" in url else {}
        return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True,
                                connect_args=args)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    database = sa.engine.make_url(url).database
    if readonly:
        if memory or not database or not Path(database).expanduser().is_file():
            raise ValueError("no store file")  # nothing recorded yet: the caller reads none
        path = Path(database).expanduser().resolve()
        return sa.create_engine("sqlite://", hide_parameters=True, creator=lambda: sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=30))
    if not memory and database:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        hide_parameters=True,  # bound parameters hold post text (PHI): keep them out of logs
        poolclass=sa.pool.StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the begin event below decide
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (SIGKILL); only power loss can lose
        # the last commits.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    # Every transaction takes the write lock as it begins (see ``_write``): as the dialect's
    # own BEGIN, on the driver's connection, whose errors SQLAlchemy wraps as for any
    # statement. Not a "begin" event: an engine with any event listener runs four (empty)
    # event dispatches around every statement.
    engine.dialect.do_begin = _begin_immediate  # type: ignore[method-assign]
    return engine


def _begin_immediate(dbapi_connection: Any) -> None:
    dbapi_connection.cursor().execute("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class LedgerUploadSessions:
    """A ledger's resumable upload sessions: one row per target key, written when a session
    starts and deleted when its publish ends (never part of the audit chain). The URI is a
    bearer capability: it is kept sealed under the audit key (``store/sealed.py``)."""

    ledger: Ledger

    def get(self, key: str) -> str | None:
        """The session URI kept for ``key``, if any."""
        with self.ledger._tx() as conn:
            uri = conn.execute(sa.select(upload_sessions.c.uri).where(
                upload_sessions.c.key == key)).scalar()
        if uri is None:
            return None
        return unseal((self.ledger._key, *reversed(self.ledger._retired)), key, str(uri))

    def put(self, key: str, uri: str) -> None:
        """Keep ``uri`` as the session of ``key`` (replacing an older one)."""
        if self.ledger.readonly:
            raise StoreError("the store was opened read-only (a preview); nothing is written")
        with self.ledger._tx() as conn:
            conn.execute(upload_sessions.delete().where(upload_sessions.c.key == key))
            conn.execute(upload_sessions.insert().values(
                key=key, uri=seal(self.ledger._key, key, uri),
                updated_at=self.ledger.clock.now()))

    def drop(self, key: str) -> None:
        """Forget the session of ``key``: its upload finished or can never be resumed."""
        if self.ledger.readonly:
            return
        with self.ledger._tx() as conn:
            conn.execute(upload_sessions.delete().where(upload_sessions.c.key == key))
