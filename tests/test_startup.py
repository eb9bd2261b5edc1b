"""Start-up work skipped when it is already done: an SQLite store at carecast's schema."""

from __future__ import annotations

import sqlite3

import pytest

from carecast.store import Ledger
from carecast.store import ledger as ledger_module


def _version(path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _columns(path, table: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def test_a_new_store_records_the_schema_it_was_made_with(tmp_path) -> None:
    path = tmp_path / "cc.db"
    Ledger(f"sqlite:///{path}").close()
    assert _version(path) == ledger_module._SCHEMA_VERSION != 0


def test_a_store_at_the_schema_opens_without_creating_or_inspecting_tables(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cc.db"
    Ledger(f"sqlite:///{path}").close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the schema was checked again")

    monkeypatch.setattr(ledger_module.metadata, "create_all", refuse)
    monkeypatch.setattr(ledger_module, "_add_new_columns", refuse)
    with Ledger(f"sqlite:///{path}") as ledger:
        assert ledger.attempts("none") == []


def test_a_store_from_an_earlier_carecast_is_migrated_and_stamped(tmp_path) -> None:
    path = tmp_path / "cc.db"
    Ledger(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:  # as an earlier carecast left it: no schedule column
        conn.execute("DROP INDEX IF EXISTS ix_carecast_posts_schedule")
        conn.execute("ALTER TABLE carecast_posts DROP COLUMN schedule")
        conn.execute("PRAGMA user_version = 0")
    assert "schedule" not in _columns(path, "carecast_posts")
    Ledger(f"sqlite:///{path}").close()
    assert "schedule" in _columns(path, "carecast_posts")
    with sqlite3.connect(path) as conn:  # the added column gets its index too
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(carecast_posts)")}
    assert "ix_carecast_posts_schedule" in indexes
    assert _version(path) == ledger_module._SCHEMA_VERSION


def test_a_store_stamped_by_another_schema_is_migrated(tmp_path) -> None:
    path = tmp_path / "cc.db"
    Ledger(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_carecast_audit_target")
        conn.execute(f"PRAGMA user_version = {ledger_module._SCHEMA_VERSION ^ 1}")
    Ledger(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(carecast_audit)")}
    assert "ix_carecast_audit_target" in indexes
    assert _version(path) == ledger_module._SCHEMA_VERSION
