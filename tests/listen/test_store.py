"""The mention store on SQLite and PostgreSQL: one row per item, search, cursors in the
items' transaction, and retention: purged rows are gone from the database's bytes too, and
the purge is in the audit chain (counts, never text)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from carecast.errors import StoreError
from carecast.post import Mention
from carecast.store import Ledger
from carecast.store.mentions import MentionStore, PhiMark, StoredMention
from carecast.testing import FrozenClock

NOW = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
SECRET = "Jane Quill-Harrowgate MRN 88213377"  # a writer's PHI: it must never stay behind


def item(n: int, *, days_ago: float = 0, brand: str = "riverside", author: str = "@Ann",
         channel: str = "bluesky", text: str | None = None, queries: tuple[str, ...] = (),
         kind: str = "mention") -> StoredMention:
    return StoredMention(
        mention=Mention(channel=channel, account="sky", remote_id=f"r{n}", author=author,
                        text=text if text is not None else f"item {n}",
                        created_at=NOW - timedelta(days=days_ago), kind=kind),  # type: ignore[arg-type]
        brand=brand, queries=queries, findings=(PhiMark(0, 4, "NAME"),), labels=("question",))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MentionStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'carecast.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with Ledger(url, clock=FrozenClock(NOW)) as ledger:
        yield MentionStore(ledger)


def test_an_item_is_stored_once_and_gains_the_queries_that_find_it(store: MentionStore
                                                                   ) -> None:
    assert store.save([item(1, queries=("brand",))], source="a", cursor="c1") == 1
    assert store.save([item(1, queries=("rival",)), item(1)], source="b", cursor="c2") == 0
    [held] = store.search()
    assert held.queries == ("brand", "rival")
    assert held.findings == (PhiMark(0, 4, "NAME"),)
    assert held.labels == ("question",)
    assert held.collected_at == NOW
    assert (store.cursor("a"), store.cursor("b"), store.cursor("c")) == ("c1", "c2", None)


def test_search_by_query_author_channel_and_time(store: MentionStore) -> None:
    store.save([item(1, days_ago=1, queries=("brand",)), item(2, days_ago=2, author="bob"),
                item(3, days_ago=3, channel="x", author="@bob"),
                item(4, days_ago=4, brand="lakeside", queries=("brand",))],
               source="s", cursor=None)
    ids = lambda found: [i.mention.remote_id for i in found]  # noqa: E731
    assert ids(store.search()) == ["r1", "r2", "r3", "r4"]  # newest first
    assert ids(store.search(query="brand")) == ["r1", "r4"]
    assert ids(store.search(author="BOB")) == ["r2", "r3"]
    assert ids(store.search(author="@ann", channel="bluesky")) == ["r1", "r4"]
    assert ids(store.search(since=NOW - timedelta(days=3), until=NOW - timedelta(days=1))
               ) == ["r2", "r3"]
    assert ids(store.search(brand="lakeside")) == ["r4"]
    assert ids(store.search(label="question", limit=2)) == ["r1", "r2"]
    assert store.count(query="brand", since=NOW - timedelta(days=5), until=NOW) == 2
    with pytest.raises(ValueError, match="limit"):
        store.search(limit=0)


def test_a_failed_save_moves_no_cursor_and_stores_nothing(store: MentionStore) -> None:
    store.save([item(1)], source="s", cursor="first")
    bad = item(2, text="x" * 10).mention.model_copy(update={"author": None})
    with pytest.raises(StoreError):  # the author column is NOT NULL: the insert fails
        store.save([item(3), StoredMention(mention=bad)], source="s", cursor="second")
    assert store.cursor("s") == "first"
    assert [i.mention.remote_id for i in store.search()] == ["r1"]


def test_paid_reads_are_counted_per_account_and_month(store: MentionStore) -> None:
    store.save([], source="x", cursor="1", reads=40, account="xa")
    store.save([], source="x", cursor="2", reads=2, account="xa")
    assert store.reads("xa") == 42
    assert store.reads("xa", NOW + timedelta(days=1)) == 0  # 1 March
    assert store.reads("other") == 0


def test_a_pause_keeps_the_cursor(store: MentionStore) -> None:
    store.save([], source="s", cursor="kept")
    store.pause("s", NOW + timedelta(minutes=5))
    assert store.cursor("s") == "kept"
    assert store.paused_until("s") == NOW + timedelta(minutes=5)


def test_an_alert_is_claimed_once(store: MentionStore) -> None:
    assert store.claim_alert("brand", NOW, 40, 2.5)
    assert not store.claim_alert("brand", NOW, 41, 2.5)
    assert store.last_alert("brand") == NOW


def test_the_purge_keeps_each_brand_for_its_days_and_is_audited(store: MentionStore) -> None:
    store.save([item(1, days_ago=91, text=SECRET, queries=("brand",)), item(2, days_ago=89),
                item(3, days_ago=31, brand="lakeside"), item(4, days_ago=29, brand="lakeside")],
               source="s", cursor=None)
    purged = store.purge({"lakeside": 30}, default_days=90)
    assert purged == {"riverside": 1, "lakeside": 1}
    assert sorted(i.mention.remote_id for i in store.search()) == ["r2", "r4"]
    assert store.search(query="brand") == []
    [event] = [e for e in store.ledger.audit_events() if e.kind == "mentions_purged"]
    assert event.data["counts"] == {"lakeside": 1, "riverside": 1}
    assert event.data["retention_days"] == {"lakeside": 30, "riverside": 90}
    assert "Quill" not in json.dumps(event.data)
    assert store.ledger.verify_audit() == []
    assert store.purge({}, default_days=90) == {}  # nothing more: no second event
    assert len([e for e in store.ledger.audit_events() if e.kind == "mentions_purged"]) == 1


def _bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def test_purged_text_is_gone_from_the_sqlite_files(tmp_path: Path) -> None:
    database = tmp_path / "carecast.db"
    clock = FrozenClock(NOW)
    with Ledger(f"sqlite:///{database}", clock=clock) as ledger:
        store = MentionStore(ledger)
        store.save([item(1, days_ago=100, text=SECRET)] + [
            item(n, days_ago=1, text=f"kept item {n} " + "x" * 200) for n in range(2, 60)],
            source="s", cursor=None)
        raw = sa.create_engine(f"sqlite:///{database}")
        with raw.connect() as conn:  # the text is on disk (in the WAL or the main file)
            conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
        raw.dispose()
        assert SECRET.encode() in _bytes(database)
        assert store.purge({}, default_days=90) == {"riverside": 1}
        assert SECRET.encode() not in _bytes(database)
        assert len(store.search()) == 58
    assert SECRET.encode() not in _bytes(database)


def test_postgres_purge_rewrites_the_tables(postgres_url: str) -> None:
    with Ledger(postgres_url, clock=FrozenClock(NOW)) as ledger:
        store = MentionStore(ledger)
        store.save([item(1, days_ago=100, text=SECRET), item(2)], source="s", cursor=None)
        node = sa.text("SELECT relfilenode FROM pg_class WHERE relname = 'carecast_mentions'")
        with ledger.engine.connect() as conn:
            before = conn.execute(node).scalar()
        assert store.purge({}, default_days=90) == {"riverside": 1}
        with ledger.engine.connect() as conn:
            after = conn.execute(node).scalar()
        assert after != before  # VACUUM FULL wrote the table anew, without the dead row
        assert [i.mention.remote_id for i in store.search()] == ["r2"]


def test_a_stored_item_shows_no_text_or_author() -> None:
    shown = repr(item(1, text=SECRET, author="@jane.quill"))
    assert "Quill" not in shown
    assert "jane" not in shown
