"""A resumable upload's session URI (a bearer capability) is never readable in the store: it
is sealed under the audit key, opens only for its own row, and survives a key rotation."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from carecast.store import Ledger
from carecast.store.schema import upload_sessions
from carecast.store.sealed import seal, unseal

URI = ("https://www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable"
       "&upload_id=ADPycdt7Qx0FhWm3kZ1RtLq9uS8vJ2")
KEY = secrets.token_bytes(32)


def _ledger(tmp_path: Path, key: bytes = KEY) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'carecast.db'}", audit_key=key)


def test_the_session_uri_is_sealed_in_the_database_and_its_backup(tmp_path: Path) -> None:
    with _ledger(tmp_path) as ledger:
        ledger.upload_sessions.put("target-1", URI)
        assert ledger.upload_sessions.get("target-1") == URI
    raw = (tmp_path / "carecast.db").read_bytes()
    assert b"upload_id" not in raw
    assert b"ADPycdt7Qx0FhWm3kZ1RtLq9uS8vJ2" not in raw
    with sqlite3.connect(tmp_path / "carecast.db") as db:
        dump = "\n".join(db.iterdump())
    assert "upload_id" not in dump


def test_a_row_moved_to_another_target_or_another_key_does_not_open(tmp_path: Path) -> None:
    with _ledger(tmp_path) as ledger:
        ledger.upload_sessions.put("target-1", URI)
        with ledger.engine.begin() as conn:
            stored = conn.execute(sa.select(upload_sessions.c.uri)).scalar_one()
            conn.execute(upload_sessions.insert().values(
                key="target-2", uri=stored, updated_at=ledger.clock.now()))
        assert ledger.upload_sessions.get("target-2") is None
    assert unseal([secrets.token_bytes(32)], "target-1", stored) is None
    assert unseal([KEY], "target-1", stored[:-4] + "AAAA") is None  # altered


def test_a_session_sealed_before_a_key_rotation_still_resumes(tmp_path: Path) -> None:
    with _ledger(tmp_path) as ledger:
        ledger.upload_sessions.put("target-1", URI)
        ledger.rotate_key(secrets.token_bytes(32))
        assert ledger.upload_sessions.get("target-1") == URI
        ledger.upload_sessions.put("target-2", URI)
        assert ledger.upload_sessions.get("target-2") == URI


def test_each_seal_differs_and_a_row_from_before_sealing_reads_as_it_was() -> None:
    assert seal(KEY, "t", URI) != seal(KEY, "t", URI)  # a fresh nonce each time
    assert unseal([KEY], "t", URI) == URI
