"""Re-keying the audit chain (issue 13): a key rotation keeps the history verifiable, and a
store made before the keyed chain is adopted only when its unkeyed events verify."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from carecast import AuditTampered, ConfigurationError
from carecast.store import Ledger
from carecast.store.audit import GENESIS, dumps, key_id, verify_file, write_jsonl
from carecast.testing import FrozenClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
OLD, NEW = b"o" * 32, b"n" * 32


def open_ledger(tmp_path: Path, key: bytes | None = OLD, **kw: Any) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'carecast.db'}", clock=FrozenClock(NOW),
                  audit_key=key, **kw)


def fill(ledger: Ledger, n: int = 3, start: int = 0) -> None:
    for i in range(start, start + n):
        ledger.approve(f"p{i}", "acct", approver="Dr Lee", draft_hash="h" * 64)


def db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "carecast.db", isolation_level=None)


# -- rotation ---------------------------------------------------------------------------------

def test_a_rotation_keeps_the_history_verifiable(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    seq = ledger.rotate_key(NEW)
    fill(ledger, 2, start=3)
    assert ledger.verify_audit() == []
    rotation = ledger.audit_events()[seq - 1]
    assert rotation.kind == "key_rotated"
    assert rotation.data["old_key"] == key_id(OLD)
    assert rotation.data["new_key"] == key_id(NEW)
    assert OLD.hex() not in json.dumps(rotation.data)
    assert NEW.hex() not in json.dumps(rotation.data)
    reopened = open_ledger(tmp_path, NEW, retired_keys=[OLD])
    assert reopened.verify_audit() == []
    # decisions recorded under the old key are still acted on
    assert [d.approver for d in reopened.decisions("p0", "acct", "h" * 64)] == ["Dr Lee"]
    fill(reopened, 1, start=9)
    assert reopened.verify_audit() == []


def test_events_after_the_rotation_are_under_the_new_key_only(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    ledger.rotate_key(NEW)
    fill(ledger, 1, start=3)
    with pytest.raises(ConfigurationError, match="rotated to key"):
        open_ledger(tmp_path, OLD)  # a worker still holding the old key
    without_old = open_ledger(tmp_path, NEW).verify_audit()
    assert any(f"under the audit key {key_id(OLD)}, which is not given" in p
               for p in without_old), without_old


def test_tampering_before_and_after_a_rotation_is_caught(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    seq = ledger.rotate_key(NEW)
    fill(ledger, 2, start=3)
    conn = db(tmp_path)
    conn.execute("UPDATE carecast_audit SET data = '{}' WHERE seq = 2")
    conn.execute("UPDATE carecast_audit SET account = 'x' WHERE seq = ?", (seq + 1,))
    problems = ledger.verify_audit()
    assert "event 2 was altered" in problems
    assert f"event {seq + 1} was altered" in problems


def test_a_forged_rotation_event_is_not_followed(tmp_path: Path) -> None:
    """A database writer who appends a rotation to a key of their own gains nothing."""
    ledger = open_ledger(tmp_path)
    fill(ledger)
    conn = db(tmp_path)
    mine = b"m" * 32
    prev = conn.execute("SELECT hash FROM carecast_audit WHERE seq = 3").fetchone()[0]
    data = {"old_key": key_id(OLD), "new_key": key_id(mine), "through": 3}
    conn.execute("INSERT INTO carecast_audit VALUES (4, 'x', '', '', 'key_rotated', ?, ?, ?)",
                 (dumps(data), prev, "f" * 64))
    conn.execute("UPDATE carecast_audit_head SET seq = 4, hash = ?", ("f" * 64,))
    assert "event 4 was altered" in open_ledger(tmp_path).verify_audit()


def test_a_rotation_is_refused_on_a_chain_that_does_not_verify(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    db(tmp_path).execute("UPDATE carecast_audit SET data = '{}' WHERE seq = 2")
    with pytest.raises(AuditTampered, match=r"not rotated.*event 2 was altered"):
        ledger.rotate_key(NEW)
    with pytest.raises(ConfigurationError, match="used before"):
        open_ledger(tmp_path).rotate_key(OLD)
    assert [e.kind for e in ledger.audit_events()] == ["approval"] * 3


def test_after_a_rotation_truncation_is_still_caught(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    ledger.rotate_key(NEW)
    fill(ledger, 2, start=3)
    conn = db(tmp_path)
    seq, digest = conn.execute("SELECT seq, hash FROM carecast_audit WHERE seq = 4").fetchone()
    conn.execute("DELETE FROM carecast_audit WHERE seq > 4")
    conn.execute("UPDATE carecast_audit_head SET seq = ?, hash = ?", (seq, digest))
    assert any("signed checkpoint at event 6" in p for p in ledger.verify_audit())


def test_an_export_across_a_rotation_verifies(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger)
    ledger.rotate_key(NEW)
    fill(ledger, 1, start=3)
    out = tmp_path / "audit.jsonl"
    with out.open("w") as fh:
        write_jsonl(ledger.audit_events(), fh, NEW)
    assert verify_file(out, NEW, [OLD])[1] == []
    assert verify_file(out, NEW)[1] != []  # the old key is needed for the history


def test_the_cli_rotates_the_key_file_and_keeps_the_old_key(tmp_path: Path,
                                                           monkeypatch) -> None:
    from typer.testing import CliRunner

    from carecast.cli import app

    monkeypatch.delenv("CARECAST_AUDIT_KEY", raising=False)
    (tmp_path / "carecast.toml").write_text(
        '[store]\nurl = "sqlite:///state/carecast.db"\n'
        '[brands.test]\nname = "Test Hospital"\n'
        '[accounts.one]\nchannel = "webhook"\nbrand = "test"\n'
        'url = "https://hooks.example.org/in"\n'
        f'secret = "{secrets.token_hex(32)}"\n')
    url = f"sqlite:///{tmp_path / 'state' / 'carecast.db'}"
    fill(Ledger(url, clock=FrozenClock(NOW)))
    key_file = tmp_path / "state" / "carecast.db.audit-key"
    old = bytes.fromhex(key_file.read_text())
    runner = CliRunner()
    config = ["--config", str(tmp_path / "carecast.toml")]
    result = runner.invoke(app, [*config, "audit", "rotate-key", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    new = bytes.fromhex(key_file.read_text())
    assert new != old
    assert (shown["new_key"], shown["old_key"]) == (key_id(new), key_id(old))
    assert old.hex() not in result.output
    assert new.hex() not in result.output
    assert (tmp_path / "state" / "carecast.db.audit-key.retired").read_text().split() == [
        old.hex()]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "state" / "carecast.db.audit-key.new").exists()
    verified = runner.invoke(app, [*config, "audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "audit trail sound: 4 events" in verified.stdout
    fill(Ledger(url, clock=FrozenClock(NOW)), 1, start=5)  # opened with the new key file
    assert runner.invoke(app, [*config, "audit", "verify"]).exit_code == 0


# -- adoption of a store made before the keyed chain -------------------------------------------

def make_old_store(tmp_path: Path, n: int = 4) -> None:
    """A store as carecast wrote it before the keyed chain: plain SHA-256 links."""
    ledger = open_ledger(tmp_path)  # only to create the tables
    ledger.close()
    (tmp_path / "carecast.db.audit-checkpoint").unlink(missing_ok=True)
    conn = db(tmp_path)
    prev = GENESIS
    for seq in range(1, n + 1):
        data = {"approver": "Dr Lee", "draft_hash": "h" * 64, "step": "review", "by": "x"}
        at = NOW.isoformat()
        body = dumps({"seq": seq, "at": at, "post_id": f"p{seq}", "account": "acct",
                      "kind": "approval", "data": data})
        digest = hashlib.sha256((prev + body).encode()).hexdigest()
        conn.execute("INSERT INTO carecast_audit VALUES (?,?,?,?,?,?,?,?)",
                     (seq, at, f"p{seq}", "acct", "approval", dumps(data), prev, digest))
        conn.execute("INSERT INTO carecast_approvals (post_id, account, draft_hash, approver, "
                     "note, at, step, decision) VALUES (?, 'acct', ?, 'Dr Lee', '', ?, "
                     "'review', 'approve')", (f"p{seq}", "h" * 64, at))
        prev = digest
    conn.execute("UPDATE carecast_audit_head SET seq = ?, hash = ?", (n, prev))


def test_an_old_store_is_reported_then_adopted(tmp_path: Path) -> None:
    make_old_store(tmp_path)
    ledger = open_ledger(tmp_path)
    before = ledger.verify_audit()
    assert "event 1 was altered" in before
    assert any("adopt-key" in p for p in before)
    seq = ledger.adopt_key()
    assert seq == 5
    assert ledger.verify_audit() == []
    fill(ledger, 2, start=10)  # keyed events after it
    assert open_ledger(tmp_path).verify_audit() == []
    assert [d.approver for d in ledger.decisions("p2", "acct", "h" * 64)] == ["Dr Lee"]
    with pytest.raises(ConfigurationError, match="adopted already"):
        ledger.adopt_key()


def test_an_upgraded_store_with_keyed_events_after_the_old_ones_is_adopted(
        tmp_path: Path) -> None:
    make_old_store(tmp_path)
    ledger = open_ledger(tmp_path)
    fill(ledger, 2, start=10)  # written by this carecast before anyone adopted
    ledger.adopt_key()
    assert ledger.verify_audit() == []


def test_tampering_before_adoption_is_refused(tmp_path: Path) -> None:
    make_old_store(tmp_path)
    db(tmp_path).execute("UPDATE carecast_audit SET data = '{}' WHERE seq = 2")
    ledger = open_ledger(tmp_path)
    with pytest.raises(AuditTampered, match="nothing is adopted"):
        ledger.adopt_key()
    assert len(ledger.audit_events()) == 4


def test_an_unkeyed_event_edited_after_adoption_is_caught(tmp_path: Path) -> None:
    """Even recomputed under the old plain rule, an edit breaks the adoption's keyed digest."""
    make_old_store(tmp_path)
    ledger = open_ledger(tmp_path)
    ledger.adopt_key()
    conn = db(tmp_path)
    rows = conn.execute("SELECT seq, at, post_id, account, kind, data, prev_hash FROM "
                        "carecast_audit WHERE seq <= 4 ORDER BY seq").fetchall()
    prev = GENESIS
    for seq, at, post_id, account, kind, data, _ in rows:
        if seq == 2:
            data = dumps({**json.loads(data), "approver": "Mallory"})
        body = dumps({"seq": seq, "at": at, "post_id": post_id, "account": account,
                      "kind": kind, "data": json.loads(data)})
        prev_new = hashlib.sha256((prev + body).encode()).hexdigest()
        conn.execute("UPDATE carecast_audit SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (data, prev, prev_new, seq))
        prev = prev_new
    problems = ledger.verify_audit()
    assert any("before the key adoption at event 5 were altered" in p or
               "event 5 does not follow" in p for p in problems), problems


def test_a_keyed_chain_rewritten_unkeyed_is_never_adopted(tmp_path: Path) -> None:
    """The signed checkpoint shows these events were keyed: a rewrite, not an old store."""
    ledger = open_ledger(tmp_path)
    fill(ledger, 4)
    conn = db(tmp_path)
    rows = conn.execute("SELECT seq, at, post_id, account, kind, data FROM carecast_audit "
                        "ORDER BY seq").fetchall()
    prev = GENESIS
    for seq, at, post_id, account, kind, data in rows:
        body = dumps({"seq": seq, "at": at, "post_id": post_id, "account": account,
                      "kind": kind, "data": json.loads(data)})
        digest = hashlib.sha256((prev + body).encode()).hexdigest()
        conn.execute("UPDATE carecast_audit SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (prev, digest, seq))
        prev = digest
    conn.execute("UPDATE carecast_audit_head SET hash = ?", (prev,))
    with pytest.raises(AuditTampered, match="were rewritten"):
        ledger.adopt_key()
    assert ledger.verify_audit() != []
