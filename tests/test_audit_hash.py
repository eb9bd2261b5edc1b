"""The audit hash of a stored event, computed from its data text as stored (the fast path of
``audit verify``), always agrees with the hash of its re-serialised data."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carecast.store import audit as audit_module
from carecast.store.audit import GENESIS, AuditEvent, Keyring, dumps, event_hash, stored_hash

KEY = b"k" * 32
AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC).isoformat()
text = st.text(max_size=40)  # quotes, backslashes, control characters, surrogates, emoji
json_data = st.dictionaries(text, st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8), max_size=4)


def _old_event_hash(key: bytes, prev: str, seq: int, at: str, post_id: str, account: str,
                    kind: str, data: dict) -> str:
    """The hash as every store so far was written: ``dumps`` of the whole event."""
    body = dumps({"seq": seq, "at": at, "post_id": post_id, "account": account, "kind": kind,
                  "data": data})
    return hmac.new(key, (prev + body).encode(), hashlib.sha256).hexdigest()


def _event(data: dict, **fields: object) -> AuditEvent:
    values = {"seq": 7, "at": AT, "post_id": "flu-1", "account": "clinic", "kind": "review"}
    values.update(fields)
    digest = event_hash(KEY, GENESIS, values["seq"], values["at"], values["post_id"],
                        values["account"], values["kind"], data)
    return AuditEvent(values["seq"], values["at"], values["post_id"], values["account"],
                      values["kind"], data, GENESIS, digest)


@given(seq=st.integers(1, 2**53), at=text, post_id=text, account=text, kind=text,
       data=json_data)
def test_the_stored_text_hash_is_the_hash_every_store_was_written_with(
        seq: int, at: str, post_id: str, account: str, kind: str, data: dict) -> None:
    old = _old_event_hash(KEY, GENESIS, seq, at, post_id, account, kind, data)
    assert event_hash(KEY, GENESIS, seq, at, post_id, account, kind, data) == old
    assert stored_hash(KEY, GENESIS, seq, at, post_id, account, kind, dumps(data)) == old


def test_a_canonical_stored_text_is_hashed_without_re_serialising(monkeypatch) -> None:
    data = {"state": "published", "findings": [{"code": "phi.mrn", "spans": [[3, 9]]}],
            "note": "Zoë's \"quote\" \\ \u2028"}
    ev = _event(data)
    ring = Keyring(KEY)

    def no_dumps(value: object) -> str:
        raise AssertionError("the fast path re-serialised the event's data")

    monkeypatch.setattr(audit_module, "dumps", no_dumps)
    assert ring.sound(ev, json.dumps(data, sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":")))
    with pytest.raises(AssertionError, match="re-serialised"):
        ring.sound(ev)  # without the stored text: the old check


@pytest.mark.parametrize("stored", [
    '{"state": "published"}',  # the same data, not as carecast writes it
    '{"state":"published"}\n',
    '{"state":"\\u0070ublished"}',
])
def test_a_stored_text_that_is_not_canonical_falls_back_to_the_old_check(stored: str) -> None:
    ev = _event({"state": "published"})
    assert Keyring(KEY).sound(ev, stored)


def test_an_edited_stored_text_is_unsound_on_both_paths() -> None:
    ev = _event({"state": "failed"})
    edited = AuditEvent(ev.seq, ev.at, ev.post_id, ev.account, ev.kind,
                        {"state": "pending"}, ev.prev_hash, ev.hash)
    ring = Keyring(KEY)
    assert not ring.sound(edited, '{"state":"pending"}')
    assert not ring.sound(edited, '{"state": "pending"}')
    assert not ring.sound(edited)


def test_the_wrong_key_fails_the_fast_path_too() -> None:
    ev = _event({"state": "published"})
    assert not Keyring(b"x" * 32).sound(ev, '{"state":"published"}')


@pytest.mark.parametrize(("stored", "data"), [
    ('{"state":"sending"}', {"state": "sending"}),
    (' {"state": "sending"}\n', {"state": "sending"}),  # what json.loads reads, read alike
    ('{"state":"sending"} trailing', {}),
    ('{"state":"sending"', {}),
    ('["state"]', {}),
    ("", {}),
    ("[" * 100_000, {}),
])
def test_a_stored_data_text_reads_as_json_loads_reads_it(stored: str, data: dict) -> None:
    from carecast.store.state_check import event_of

    ev = event_of((1, AT, "p", "a", "send", stored, GENESIS, "0" * 64))
    assert ev.data == data


@given(json_data)
def test_canonical_data_text_reads_back_as_it_was_written(data: dict) -> None:
    from carecast.store.state_check import event_of

    assert event_of((1, AT, "p", "a", "send", dumps(data), GENESIS, "0" * 64)).data == data
