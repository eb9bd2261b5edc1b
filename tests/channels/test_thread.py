"""send_thread: parts in order, each replying to the one before; all or nothing."""

from __future__ import annotations

import pytest

from carecast.channels.thread import part_key, send_thread
from carecast.errors import ChannelServerError, OutcomeUnknown, PlatformRejected
from carecast.post import Part


def parts(n: int) -> list[Part]:
    return [Part(text=f"part {i}", length=6) for i in range(n)]


class Platform:
    def __init__(self, fail_at: int | None = None, undo_fails: bool = False) -> None:
        self.live: dict[str, str | None] = {}
        self.fail_at = fail_at
        self.undo_fails = undo_fails

    def send(self, index: int, part: Part, reply_to: str | None) -> str:
        if index == self.fail_at:
            raise ChannelServerError("boom", channel="x", account="acct")
        remote = f"id{index}"
        self.live[remote] = reply_to
        return remote

    def undo(self, remote_id: str) -> None:
        if self.undo_fails:
            raise PlatformRejected("cannot delete", channel="x", account="acct")
        del self.live[remote_id]


def test_each_part_replies_to_the_one_before() -> None:
    platform = Platform()
    assert send_thread(parts(3), platform.send, platform.undo) == ["id0", "id1", "id2"]
    assert platform.live == {"id0": None, "id1": "id0", "id2": "id1"}


def test_a_failed_later_part_deletes_the_parts_before_it() -> None:
    platform = Platform(fail_at=2)
    with pytest.raises(ChannelServerError):
        send_thread(parts(3), platform.send, platform.undo)
    assert platform.live == {}


def test_without_undo_the_parts_stay_for_a_keyed_retry() -> None:
    platform = Platform(fail_at=1)
    with pytest.raises(ChannelServerError):
        send_thread(parts(3), platform.send, None)
    assert platform.live == {"id0": None}


def test_a_failed_clean_up_needs_a_person() -> None:
    platform = Platform(fail_at=1, undo_fails=True)
    with pytest.raises(OutcomeUnknown) as info:
        send_thread(parts(3), platform.send, platform.undo)
    assert info.value.retryable is False
    assert "1 earlier part(s) could not be deleted" in str(info.value)
    assert isinstance(info.value.__cause__, ChannelServerError)


def test_part_keys_are_stable_and_distinct() -> None:
    assert part_key("k", 0) == "k"
    assert [part_key("k", i) for i in range(3)] == ["k", "k.1", "k.2"]
