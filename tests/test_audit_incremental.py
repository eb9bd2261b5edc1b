"""``Ledger.verify``: incremental from the last verified event, never weaker than a full check.

A sound verify signs a mark (the newest event it checked and a digest of every stored row up
to it) beside the checkpoint; the next verify checks the newer events one by one and the older
rows by that digest. Whatever a database writer changes, it finds what ``verify_audit`` (every
event, from the first) finds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carecast import Post
from carecast.post import Draft, Part, Receipt
from carecast.records import Attempt, State
from carecast.store import Ledger
from carecast.store.audit import GENESIS
from carecast.testing import FrozenClock

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def open_ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'carecast.db'}", clock=FrozenClock(NOW))


def fill(ledger: Ledger, first: int, count: int) -> None:
    """Posts to two accounts each: reviewed, claimed, one published, one approved."""
    for i in range(first, first + count):
        post = Post(id=f"p{i}", text=f"Clinic note {i}.")
        draft = Draft(post_id=post.id, account="a", channel="fake",
                      parts=(Part(text=post.text, length=len(post.text)),))
        ledger.record(post, [Attempt(post.id, acct, "fake", State.PENDING, f"k-{acct}", 0,
                                     NOW, draft) for acct in ("a", "b")], claim=["a", "b"])
        ledger.settle([Receipt(post_id=post.id, account=acct, channel="fake",
                               remote_id=f"r{i}{acct}", published_at=NOW)
                       for acct in ("a", "b")])
        ledger.approve(post.id, "a", approver="Dr Lee", draft_hash="h" * 64)


def db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "carecast.db", isolation_level=None)


def test_a_second_verify_checks_only_the_new_events(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger, 0, 5)
    first = ledger.verify()
    assert (first.problems, first.checked_from) == ([], 1)
    assert ledger.verified_file is not None
    assert ledger.verified_file.exists()
    again = ledger.verify()
    assert (again.problems, again.checked_from) == ([], first.events + 1)
    fill(ledger, 5, 3)
    grown = ledger.verify()
    assert grown.problems == []
    assert grown.checked_from == first.events + 1
    assert grown.events > first.events
    assert grown.head == ledger.audit_events()[-1].hash
    assert ledger.verify(full=True).checked_from == 1


def _edit_old_data(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE carecast_audit SET data = '{\"state\":\"failed\"}' WHERE seq = 3")


def _same_data_other_text(conn: sqlite3.Connection) -> None:
    data = conn.execute("SELECT data FROM carecast_audit WHERE seq = 2").fetchone()[0]
    conn.execute("UPDATE carecast_audit SET data = ? WHERE seq = 2",
                 (json.dumps(json.loads(data), indent=1),))  # sound: the same data


def _old_row_state(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE carecast_attempts SET state = 'failed' WHERE post_id = 'p0' "
                 "AND account = 'b'")


def _truncate(conn: sqlite3.Connection) -> None:
    seq, digest = conn.execute("SELECT seq, hash FROM carecast_audit WHERE seq = 4").fetchone()
    conn.execute("DELETE FROM carecast_audit WHERE seq > 4")
    conn.execute("UPDATE carecast_audit_head SET seq = ?, hash = ?", (seq, digest))


def _forged_approval(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO carecast_approvals (post_id, account, draft_hash, approver, "
                 "note, at, step, decision) VALUES ('p1', 'b', 'h', 'Mallory', '', "
                 "'2026-12-03 08:00:00', 'review', 'approve')")


def _swap_two(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT seq, kind, data FROM carecast_audit WHERE seq IN (5, 6)"
                        ).fetchall()
    for (seq, _, _), (_, kind, data) in zip(rows, reversed(rows), strict=True):
        conn.execute("UPDATE carecast_audit SET kind = ?, data = ? WHERE seq = ?",
                     (kind, data, seq))


def _empty(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM carecast_audit")
    conn.execute("UPDATE carecast_audit_head SET seq = 0, hash = ?", (GENESIS,))


@pytest.mark.parametrize("tamper", [_edit_old_data, _same_data_other_text, _old_row_state,
                                    _truncate, _forged_approval, _swap_two, _empty])
@pytest.mark.parametrize("grow", [False, True])
def test_incremental_finds_what_a_full_verify_finds(
        tmp_path: Path, tamper: Callable[[sqlite3.Connection], None], grow: bool) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger, 0, 4)
    assert ledger.verify().problems == []
    if grow:
        fill(ledger, 4, 2)
    tamper(db(tmp_path))
    expected = ledger.verify_audit()
    assert ledger.verify().problems == expected
    if tamper is _same_data_other_text:
        assert expected == []
    else:
        assert expected != []


def test_a_forged_or_foreign_mark_only_costs_a_full_verify(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    fill(ledger, 0, 3)
    report = ledger.verify()
    assert ledger.verified_file is not None
    mark = json.loads(ledger.verified_file.read_text())
    _edit_old_data(db(tmp_path))
    # a database writer who edits rows and re-signs the mark without the key
    mark["rows"] = "0" * 64
    ledger.verified_file.write_text(json.dumps(mark))
    forged = ledger.verify()
    assert forged.checked_from == 1
    assert "event 3 was altered" in forged.problems
    ledger.verified_file.write_text("not json")
    assert ledger.verify().checked_from == 1
    assert report.events == forged.events


def test_no_checkpoint_file_no_mark(tmp_path: Path) -> None:
    ledger = Ledger("sqlite://", clock=FrozenClock(NOW))
    fill(ledger, 0, 2)
    assert ledger.verified_file is None
    assert ledger.verify().checked_from == 1
    assert ledger.verify().checked_from == 1


def test_carecast_audit_verify_is_incremental_unless_full(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from carecast.cli import app

    for key in [k for k in __import__("os").environ if k.startswith("CARECAST_")]:
        monkeypatch.delenv(key)
    config = tmp_path / "carecast.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "carecast.db"}"\n'
                      '[brands.clinic]\nname = "Riverside Clinic"\n')
    with open_ledger(tmp_path) as ledger:
        fill(ledger, 0, 3)
        count = len(ledger.audit_events())

    def verify(*args: str) -> str:
        result = CliRunner().invoke(app, ["--config", str(config), "audit", "verify", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    assert "verified before" not in verify()
    assert f"events 1 to {count} by the digest of their rows, verified before" in verify()
    assert json.loads(verify("--json"))["checked_from"] == count + 1
    assert "verified before" not in verify("--full")
    _edit_old_data(db(tmp_path))
    result = CliRunner().invoke(app, ["--config", str(config), "audit", "verify", "--json"])
    assert result.exit_code == 1
    assert "event 3 was altered" in json.loads(result.stdout)["problems"]
