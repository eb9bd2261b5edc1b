"""The mention store: what others wrote about a brand, kept for its retention limit only.

Mentions are sensitive (patients write their own PHI), so the store keeps each item's text
in one table and nothing else: the PHI scanner's findings are kept as categories and spans,
never as text; no method logs an item; a purge deletes the rows past the brand's limit and
then rewrites the database (``VACUUM`` on SQLite, ``VACUUM FULL`` on PostgreSQL) so the text
is gone from free pages too, and records the purge (counts, never text) in the audit chain
through ``Ledger.note``.

Items and the cursor of the source that read them are written in one transaction, so a
crash between the two is impossible: a restart resumes from the cursor and the items' keys
keep anything read twice from being stored twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from carecast.errors import StoreError
from carecast.post import Mention
from carecast.store.ledger import Ledger
from carecast.store.schema import (
    listen_alerts,
    listen_cursors,
    listen_reads,
    mention_queries,
    mentions,
)

__all__ = ["MentionStore", "PhiMark", "StoredMention"]

#: The most items one search returns.
MAX_RESULTS = 1000


@dataclass(frozen=True)
class PhiMark:
    """One PHI scanner finding in an item's text: where and what kind, never the text."""

    start: int
    end: int
    category: str


@dataclass(frozen=True)
class StoredMention:
    """A collected item with its brand, the queries that found it, the PHI scanner's
    findings and its triage labels."""

    mention: Mention
    brand: str = ""
    queries: tuple[str, ...] = ()
    findings: tuple[PhiMark, ...] = ()
    labels: tuple[str, ...] = ()
    collected_at: datetime | None = None

    def __repr__(self) -> str:  # the text and the author are the writer's: never shown
        return (f"<StoredMention {self.mention.key!r} {self.mention.kind} "
                f"labels={list(self.labels)}>")


@dataclass
class _Batch:
    rows: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)


class MentionStore:
    """The collected items, cursors, paid-read counts and spike alerts, in the ledger's
    database (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __repr__(self) -> str:
        return f"<MentionStore {self.ledger!r}>"

    def _tx(self) -> AbstractContextManager[Connection]:
        """The ledger's transaction (a database error becomes ``StoreError``)."""
        return self.ledger._tx()

    def _writable(self) -> None:
        if self.ledger.readonly:
            raise StoreError("the store was opened read-only (a preview); nothing is written")

    # -- writing -------------------------------------------------------------------------------

    def save(self, items: Sequence[StoredMention], *, source: str, cursor: str | None,
             reads: int = 0, account: str = "") -> int:
        """Store ``items`` (those already held only gain the new queries that found them),
        move ``source``'s cursor to ``cursor`` and add ``reads`` paid reads to ``account``'s
        month, all in one transaction; the number of new items."""
        self._writable()
        batch = _Batch()
        now = self.ledger.clock.now()
        for item in items:
            m = item.mention
            batch.rows.append({
                "key": m.key, "brand": item.brand, "channel": m.channel, "account": m.account,
                "remote_id": m.remote_id, "kind": m.kind, "author": m.author, "text": m.text,
                "url": m.url, "parent_id": m.parent_id, "created_at": _utc(m.created_at),
                "collected_at": now,
                "findings": json.dumps([[f.start, f.end, f.category] for f in item.findings]),
                "labels": json.dumps(list(item.labels)), "rating": m.rating})
            batch.queries.extend({"key": m.key, "query": q} for q in item.queries)
        with self._tx() as conn:
            keys = [r["key"] for r in batch.rows]
            held = _held(conn, mentions.c.key, keys)
            fresh = [r for r in _unique(batch.rows) if r["key"] not in held]
            if fresh:  # another listener may store the same item at once: the first wins
                conn.execute(_insert_new(conn, mentions), fresh)
            pairs = {(q["key"], q["query"]) for q in batch.queries}
            known = {(k, q) for k, q in conn.execute(
                sa.select(mention_queries.c.key, mention_queries.c.query).where(
                    mention_queries.c.key.in_(keys))).all()} if pairs else set()
            new_pairs = [{"key": k, "query": q} for k, q in sorted(pairs - known)]
            if new_pairs:
                conn.execute(_insert_new(conn, mention_queries), new_pairs)
            self._set_cursor(conn, source, cursor, now)
            if reads:
                self._add_reads(conn, account, reads, now)
        return len(fresh)

    def _set_cursor(self, conn: Connection, source: str, cursor: str | None,
                    now: datetime) -> None:
        updated = conn.execute(listen_cursors.update().where(
            listen_cursors.c.source == source).values(cursor=cursor, updated_at=now))
        if updated.rowcount == 0:
            conn.execute(listen_cursors.insert().values(source=source, cursor=cursor,
                                                        updated_at=now))

    def _add_reads(self, conn: Connection, account: str, reads: int, now: datetime) -> None:
        month = now.astimezone(UTC).strftime("%Y-%m")
        updated = conn.execute(listen_reads.update().where(
            listen_reads.c.account == account, listen_reads.c.month == month).values(
            reads=listen_reads.c.reads + reads))
        if updated.rowcount == 0:
            conn.execute(listen_reads.insert().values(account=account, month=month,
                                                      reads=reads))

    def pause(self, source: str, until: datetime) -> None:
        """Read nothing from ``source`` before ``until`` (a rate limit's reset); its cursor
        stays where it is."""
        self._writable()
        now = self.ledger.clock.now()
        with self._tx() as conn:
            updated = conn.execute(listen_cursors.update().where(
                listen_cursors.c.source == source).values(paused_until=until, updated_at=now))
            if updated.rowcount == 0:
                conn.execute(listen_cursors.insert().values(
                    source=source, cursor=None, paused_until=until, updated_at=now))

    # -- reading -------------------------------------------------------------------------------

    def cursor(self, source: str) -> str | None:
        """Where ``source`` resumes (None: it never read)."""
        with self._tx() as conn:
            value = conn.execute(sa.select(listen_cursors.c.cursor).where(
                listen_cursors.c.source == source)).scalar()
        return str(value) if value is not None else None

    def paused_until(self, source: str) -> datetime | None:
        """The time before which ``source`` reads nothing, if it is paused."""
        with self._tx() as conn:
            value = conn.execute(sa.select(listen_cursors.c.paused_until).where(
                listen_cursors.c.source == source)).scalar()
        return _utc(value) if value is not None else None

    def reads(self, account: str, when: datetime | None = None) -> int:
        """Paid reads counted for ``account`` in the month of ``when`` (default: now)."""
        month = (when or self.ledger.clock.now()).astimezone(UTC).strftime("%Y-%m")
        with self._tx() as conn:
            value = conn.execute(sa.select(listen_reads.c.reads).where(
                listen_reads.c.account == account, listen_reads.c.month == month)).scalar()
        return int(value or 0)

    def search(self, *, query: str | None = None, author: str | None = None,
               channel: str | None = None, brand: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               label: str | None = None, limit: int = 200) -> list[StoredMention]:
        """Items matching every filter given, newest first (``author`` ignores case and a
        leading ``@``; ``since`` and ``until`` bound the item's own time)."""
        if not 1 <= limit <= MAX_RESULTS:
            raise ValueError(f"limit: between 1 and {MAX_RESULTS}, not {limit}")
        stmt = sa.select(mentions)
        if query is not None:
            stmt = stmt.where(mentions.c.key.in_(sa.select(mention_queries.c.key).where(
                mention_queries.c.query == query)))
        if author is not None:
            stmt = stmt.where(sa.func.lower(sa.func.ltrim(mentions.c.author, "@"))
                              == author.lstrip("@").lower())
        if channel is not None:
            stmt = stmt.where(mentions.c.channel == channel)
        if brand is not None:
            stmt = stmt.where(mentions.c.brand == brand)
        if since is not None:
            stmt = stmt.where(mentions.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(mentions.c.created_at < until)
        if label is not None:
            stmt = stmt.where(mentions.c.labels.like(f'%"{label}"%'))
        stmt = stmt.order_by(mentions.c.created_at.desc(), mentions.c.key).limit(limit)
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
            found = _queries_of(conn, [r.key for r in rows])
        return [_stored(r, found.get(r.key, ())) for r in rows]

    def count(self, *, query: str, since: datetime, until: datetime) -> int:
        """How many items ``query`` found with a time in [since, until)."""
        stmt = sa.select(sa.func.count()).select_from(mentions.join(
            mention_queries, mention_queries.c.key == mentions.c.key)).where(
            mention_queries.c.query == query, mentions.c.created_at >= since,
            mentions.c.created_at < until)
        with self._tx() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    # -- spike alerts ----------------------------------------------------------------------------

    def claim_alert(self, query: str, window_start: datetime, count: int,
                    baseline: float) -> bool:
        """Record the alert of ``query``'s spike in the window from ``window_start``; False
        when it was already recorded (the spike was alerted: never again)."""
        self._writable()
        with self._tx() as conn:
            held = conn.execute(sa.select(listen_alerts.c.query).where(
                listen_alerts.c.query == query,
                listen_alerts.c.window_start == window_start)).first()
            if held is not None:
                return False
            conn.execute(listen_alerts.insert().values(
                query=query, window_start=window_start, count=count, baseline=baseline,
                sent_at=self.ledger.clock.now()))
        return True

    def last_alert(self, query: str) -> datetime | None:
        """When ``query``'s newest spike alert was sent."""
        with self._tx() as conn:
            value = conn.execute(sa.select(sa.func.max(listen_alerts.c.sent_at)).where(
                listen_alerts.c.query == query)).scalar()
        return _utc(value) if value is not None else None

    # -- retention -------------------------------------------------------------------------------

    def purge(self, retention_days: Mapping[str, int], default_days: int = 90) -> dict[str, int]:
        """Delete every item older than its brand's retention (``retention_days`` by brand,
        else ``default_days``), rewrite the database so the text leaves its free pages, and
        record the counts per brand in the audit chain; the counts."""
        self._writable()
        now = self.ledger.clock.now()
        purged: dict[str, int] = {}
        with self._tx() as conn:
            brands = [b for (b,) in conn.execute(sa.select(mentions.c.brand).distinct())]
            for brand in sorted(brands):
                days = retention_days.get(brand, default_days)
                cutoff = now - timedelta(days=days)
                old = sa.select(mentions.c.key).where(mentions.c.brand == brand,
                                                      mentions.c.created_at < cutoff)
                conn.execute(mention_queries.delete().where(mention_queries.c.key.in_(old)))
                gone = conn.execute(mentions.delete().where(
                    mentions.c.brand == brand, mentions.c.created_at < cutoff)).rowcount
                if gone:
                    purged[brand] = int(gone)
        if purged:
            self._compact()
            self.ledger.note("mentions_purged", {
                "counts": purged, "total": sum(purged.values()),
                "retention_days": {b: retention_days.get(b, default_days) for b in purged}})
        return purged

    def _compact(self) -> None:
        """Rewrite the database so deleted rows leave no bytes behind (outside any
        transaction, as VACUUM requires)."""
        engine = self.ledger.engine
        failed: str | None = None
        try:
            with self.ledger._lock:
                raw = engine.raw_connection()
                try:
                    if engine.dialect.name == "sqlite":
                        cur = raw.cursor()
                        cur.execute("VACUUM")
                        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                        cur.close()
                    else:
                        driver = raw.driver_connection
                        assert driver is not None
                        driver.autocommit = True
                        try:
                            with driver.cursor() as cur:
                                for table in (mentions.name, mention_queries.name):
                                    cur.execute(f"VACUUM FULL {table}")
                        finally:
                            driver.autocommit = False
                finally:
                    raw.close()
        except sa.exc.SQLAlchemyError as exc:
            failed = type(exc).__name__
        except Exception as exc:  # the driver's own errors may quote rows: name the type only
            failed = type(exc).__name__
        if failed is not None:
            raise StoreError(f"the purge deleted the rows but could not compact the store "
                             f"({failed}); run carecast listen --purge again")


def _insert_new(conn: Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["key"], row)
    return list(seen.values())


def _held(conn: Connection, column: Any, keys: Sequence[str]) -> set[str]:
    held: set[str] = set()
    for start in range(0, len(keys), 500):
        held.update(k for (k,) in conn.execute(sa.select(column).where(
            column.in_(keys[start:start + 500]))))
    return held


def _queries_of(conn: Connection, keys: Sequence[str]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for start in range(0, len(keys), 500):
        for key, query in conn.execute(sa.select(mention_queries.c.key, mention_queries.c.query)
                                       .where(mention_queries.c.key.in_(keys[start:start + 500]))
                                       .order_by(mention_queries.c.query)):
            found.setdefault(key, []).append(query)
    return {k: tuple(v) for k, v in found.items()}


def _stored(row: Any, queries: tuple[str, ...]) -> StoredMention:
    mention = Mention(channel=row.channel, account=row.account, remote_id=row.remote_id,
                      author=row.author, text=row.text, url=row.url,
                      created_at=_utc(row.created_at), kind=row.kind, parent_id=row.parent_id,
                      query=queries[0] if queries else None, rating=row.rating)
    return StoredMention(
        mention=mention, brand=row.brand, queries=queries,
        findings=tuple(PhiMark(int(s), int(e), str(c)) for s, e, c in json.loads(row.findings)),
        labels=tuple(json.loads(row.labels)), collected_at=_utc(row.collected_at))
