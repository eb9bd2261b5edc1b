"""The audit trail is tamper-evident against a database writer who lacks the key (issue 13)."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carecast import AuditTampered, ConfigurationError
from carecast.consent import Consent
from carecast.store import Ledger
from carecast.store.audit import GENESIS, dumps
from carecast.store.audit_key import resolve_key
from carecast.testing import FrozenClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def open_ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'carecast.db'}", clock=FrozenClock(NOW))


def fill(ledger: Ledger, n: int = 5) -> None:
    for i in range(n):
        ledger.approve(f"p{i}", "acct", approver="Dr Lee", draft_hash="h" * 64)


def db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "carecast.db", isolation_level=None)


def rewrite_unkeyed(conn: sqlite3.Connection) -> None:
    """What a database writer can do without the key: recompute every hash in plain SHA-256,
    renumbering from 1, and point the head at the result."""
    rows = conn.execute("SELECT seq, at, post_id, account, kind, data FROM carecast_audit "
                        "ORDER BY seq").fetchall()
    conn.execute("DELETE FROM carecast_audit")
    prev = GENESIS
    for seq, (_, at, post_id, account, kind, data) in enumerate(rows, 1):
        body = dumps({"seq": seq, "at": at, "post_id": post_id, "account": account,
                      "kind": kind, "data": json.loads(data)})
        digest = hashlib.sha256((prev + body).encode()).hexdigest()
        conn.execute("INSERT INTO carecast_audit VALUES (?,?,?,?,?,?,?,?)",
                     (seq, at, post_id, account, kind, data, prev, digest))
        prev = digest
    conn.execute("UPDATE carecast_audit_head SET seq = ?, hash = ?", (len(rows), prev))


def test_a_sound_chain_verifies(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    assert ledger.verify_audit() == []


def test_tail_truncation_with_the_head_updated_is_caught(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    conn = db(tmp_path)
    seq, digest = conn.execute("SELECT seq, hash FROM carecast_audit WHERE seq = 3").fetchone()
    conn.execute("DELETE FROM carecast_audit WHERE seq > 3")
    conn.execute("UPDATE carecast_audit_head SET seq = ?, hash = ?", (seq, digest))
    problems = ledger.verify_audit()
    assert any("signed checkpoint at event 5" in p for p in problems), problems


def test_full_recompute_without_the_key_is_caught(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    conn = db(tmp_path)
    conn.execute("UPDATE carecast_audit SET data = '{}' WHERE seq = 2")
    rewrite_unkeyed(conn)
    problems = ledger.verify_audit()
    assert "event 1 was altered" in problems


def test_deleting_every_event_is_caught(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    conn = db(tmp_path)
    conn.execute("DELETE FROM carecast_audit")
    conn.execute("UPDATE carecast_audit_head SET seq = 0, hash = ?", (GENESIS,))
    assert any("checkpoint" in p for p in ledger.verify_audit())


def test_dropping_the_first_event_and_renumbering_is_caught(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    conn = db(tmp_path)
    conn.execute("DELETE FROM carecast_audit WHERE seq = 1")
    rewrite_unkeyed(conn)
    problems = ledger.verify_audit()
    assert "event 1 was altered" in problems
    assert any("checkpoint" in p for p in problems)


def test_a_forged_checkpoint_is_caught(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    assert ledger.checkpoint_file is not None
    ledger.checkpoint_file.write_text(json.dumps({"seq": 2, "hash": "0" * 64, "mac": "1"}))
    assert "the checkpoint is not signed with this audit key" in ledger.verify_audit()


def test_a_forged_approval_row_is_refused_and_reported(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    ledger.approve("p1", "acct", approver="Dr Lee", draft_hash="h" * 64)
    conn = db(tmp_path)
    conn.execute("INSERT INTO carecast_approvals (post_id, account, draft_hash, approver, note, "
                 "at, step, decision) VALUES ('p1', 'acct', ?, 'Mallory', '', ?, 'legal', "
                 "'approve')", ("h" * 64, NOW.isoformat()))
    with pytest.raises(AuditTampered, match="p1"):
        ledger.decisions("p1", "acct", "h" * 64)
    assert any("approval row 2" in p for p in ledger.verify_audit())


def test_a_forged_approval_event_without_the_key_is_refused(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    ledger.approve("p1", "acct", approver="Dr Lee", draft_hash="h" * 64)
    conn = db(tmp_path)
    conn.execute("INSERT INTO carecast_approvals (post_id, account, draft_hash, approver, note, "
                 "at, step, decision) VALUES ('p1', 'acct', ?, 'Mallory', '', ?, 'review', "
                 "'approve')", ("h" * 64, NOW.isoformat()))
    data = json.dumps({"approver": "Mallory", "draft_hash": "h" * 64, "step": "review"})
    conn.execute("INSERT INTO carecast_audit VALUES (2, 'x', 'p1', 'acct', 'approval', ?, "
                 "'0', 'f')", (data,))
    with pytest.raises(AuditTampered):
        ledger.decisions("p1", "acct", "h" * 64)
    assert ledger.verify_audit() != []


def test_an_unrevoked_consent_is_refused_and_reported(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    ledger.add_consent(Consent(id="C-1", initials="J.D.", channels=["fake"], media=["ward.jpg"],
                               expires=NOW + timedelta(days=90)))
    revoked = ledger.revoke_consent("C-1")
    conn = db(tmp_path)
    body = revoked.model_copy(update={"revoked_at": None}).model_dump_json()
    conn.execute("UPDATE carecast_consents SET body = ?", (body,))
    with pytest.raises(AuditTampered, match="C-1"):
        ledger.consent("C-1")
    assert any("revocation differs" in p for p in ledger.verify_audit())


def test_a_deleted_head_row_is_rebuilt_from_the_chain(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger, 3)
    db(tmp_path).execute("DELETE FROM carecast_audit_head")
    assert any("head row is missing" in p for p in ledger.verify_audit())
    fill(ledger, 2)
    assert ledger.verify_audit() == []
    assert [e.seq for e in ledger.audit_events()] == [1, 2, 3, 4, 5]


def test_a_deleted_head_row_over_a_rewritten_chain_is_refused(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger, 3)
    conn = db(tmp_path)
    conn.execute("UPDATE carecast_audit SET data = '{}' WHERE seq = 2")
    conn.execute("DELETE FROM carecast_audit_head")
    with pytest.raises(AuditTampered, match="head row is missing"):
        fill(ledger, 1)


def test_a_concurrent_writer_never_makes_verify_report_tampering(tmp_path: Path) -> None:
    writer, reader = open_ledger(tmp_path), open_ledger(tmp_path)
    done = threading.Event()
    failures: list[list[str]] = []

    def write() -> None:
        for i in range(150):
            writer.approve(f"p{i}", "acct", approver="Dr Lee", draft_hash="h" * 64)
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    verifies = 0
    while not done.is_set() or verifies < 5:
        problems = reader.verify_audit()
        if problems:
            failures.append(problems)
        verifies += 1
    thread.join()
    assert failures == []
    assert verifies >= 5


def test_the_key_file_is_created_once_mode_0600_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    open_ledger(tmp_path).close()
    open_ledger(tmp_path).close()
    key = tmp_path / "carecast.db.audit-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key.read_text())) == 32
    assert [r.message for r in caplog.records].count(
        next(r.message for r in caplog.records if "audit key" in r.message)) == 1
    assert key.read_text().strip() not in caplog.text


def test_a_store_other_than_sqlite_needs_a_configured_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARECAST_AUDIT_KEY", raising=False)
    with pytest.raises(ConfigurationError, match=r"\[audit\] key_file is required"):
        resolve_key(None, None, None)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        resolve_key(b"short", None, None)
    assert resolve_key(lambda: b"k" * 32, None, None) == b"k" * 32


def test_another_key_does_not_verify_the_chain(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger, 2)
    other = Ledger(f"sqlite:///{tmp_path / 'carecast.db'}", clock=FrozenClock(NOW),
                   audit_key=b"x" * 32)
    assert "event 1 was altered" in other.verify_audit()


def test_postgres_truncation_is_caught_without_a_configured_checkpoint_file(
        fake_publisher, postgres_url: str, tmp_path: Path) -> None:
    """The default checkpoint of a store other than SQLite lives beside the config file."""
    import sqlalchemy as sa

    from carecast.post import Post
    from carecast.store.schema import audit, audit_head
    from carecast.testing import fake_config

    config = fake_config(["fb", "li"], root=tmp_path, store_url=postgres_url)
    key_file, checkpoint = config.audit_paths()
    assert key_file is None
    assert checkpoint is not None
    assert checkpoint.parent == tmp_path
    assert checkpoint.name.endswith(".audit-checkpoint")
    publisher = fake_publisher(config=config, clock=FrozenClock(NOW))
    assert publisher.publish(Post(text="Flu shots this Saturday.")).ok
    ledger = publisher.ledger
    assert ledger.verify_audit() == []
    with ledger.engine.begin() as conn:
        seq, digest = conn.execute(sa.select(audit.c.seq, audit.c.hash)
                                   .where(audit.c.seq == 2)).one()
        conn.execute(audit.delete().where(audit.c.seq > 2))
        conn.execute(audit_head.update().values(seq=seq, hash=digest))
    assert any("signed checkpoint" in p for p in ledger.verify_audit())


def test_verify_warns_when_no_checkpoint_can_catch_a_truncation(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from carecast.cli import app

    (tmp_path / "carecast.toml").write_text(
        '[store]\nurl = "sqlite:///:memory:"\n[brands.test]\nname = "Test Hospital"\n')
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "carecast.toml"), "audit",
                                      "verify", "--json"])
    assert result.exit_code == 0, result.output
    assert "cannot be detected" in json.loads(result.stdout)["warnings"][0]


def test_an_unwritable_checkpoint_is_logged_and_loses_no_write(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'carecast.db'}", clock=FrozenClock(NOW),
                    checkpoint_file=tmp_path / "missing" / "checkpoint")
    with caplog.at_level(logging.WARNING):
        fill(ledger, 1)
    assert "cannot write the audit checkpoint" in caplog.text
    assert len(ledger.audit_events()) == 1
