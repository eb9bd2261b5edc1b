"""A compact, read-only set of words: their 64-bit hashes (CRC-32 and Adler-32 of the UTF-8).

A Python ``frozenset`` of the English dictionary and the city list costs about 30 MiB and half
a second to build; the same words as sorted stored hashes load in a millisecond and take 8
bytes each. A word not in the set is taken for one with odds well under one in a million.
``build(words)`` makes the bytes stored in ``data/*.idx``; ``WordSet(data)`` reads them.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from zlib import adler32, crc32

__all__ = ["WordSet", "build", "word_hash"]


def word_hash(word: str) -> int:
    """The stable 64-bit hash of ``word`` (the same in every process)."""
    data = word.encode("utf-8")
    return crc32(data) << 32 | adler32(data)


def build(words: Iterable[str]) -> bytes:
    """The stored form of ``words``: their sorted hashes, little-endian."""
    hashes = array("Q", sorted({word_hash(w) for w in words}))
    if sys.byteorder != "little":
        hashes.byteswap()
    return hashes.tobytes()


class WordSet:
    """Membership (``word in words``) over the stored form made by ``build``: a bisection in
    one array of sorted hashes (8 bytes a word, nothing built at load)."""

    __slots__ = ("_hashes", "_seen")

    #: Answers remembered per set (posts repeat their words); about 5 MiB when full.
    SEEN_MAX = 50_000

    def __init__(self, data: bytes) -> None:
        self._seen: dict[str, bool] = {}
        self._hashes = array("Q")
        self._hashes.frombytes(data)
        if sys.byteorder != "little":
            self._hashes.byteswap()

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        known = self._seen.get(word)
        if known is None:
            h = word_hash(word)
            i = bisect_left(self._hashes, h)
            known = i < len(self._hashes) and self._hashes[i] == h
            if len(self._seen) >= self.SEEN_MAX:
                self._seen.clear()
            self._seen[word] = known
        return known

    def __len__(self) -> int:
        return len(self._hashes)

    def __repr__(self) -> str:
        return f"WordSet({len(self)} words)"
