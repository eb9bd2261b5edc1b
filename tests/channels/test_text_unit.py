"""``text_unit``: the base class counts what a channel declares, so a plugin that says
``bytes`` is limited in bytes (as the writing-a-channel page promises)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from carecast.errors import LimitExceeded
from carecast.testing import FakeChannel, FakeOptions


class ByteChannel(FakeChannel):
    name: ClassVar[str] = "bytes-test"
    text_unit: ClassVar[str] = "bytes"
    max_text: ClassVar[int | None] = 10
    supports_threads = False


class LinkBytes(ByteChannel):
    url_length: ClassVar[int | None] = 4


def test_bytes_are_counted_in_utf8() -> None:
    channel = ByteChannel("b", FakeOptions())
    assert channel.count("ééééé") == 10
    channel.check_length("text", "ééééé")
    with pytest.raises(LimitExceeded, match=r"^text: 12 bytes is over the bytes-test limit"):
        channel.check_length("text", "éééééé")


def test_characters_stay_characters_and_links_count_as_url_length() -> None:
    assert FakeChannel("c", FakeOptions()).count("ééééé") == 5
    assert LinkBytes("l", FakeOptions()).count("é https://example.org/a") == 7  # 2 + 1 + 4
