"""One reading of a text, shared by every check that reviews it.

``read(text)`` is the one way a check gets at a text's words, clauses and hashtags: the
advice, safe-messaging, policy and accessibility checks of a draft, and the brand voice check
of its post, all read the same text, so it is split once and each part is kept (for the
last 256 texts read: every check of a draft, and every draft of a fan-out with the same text,
shares one reading). Each part is read on first use: most texts never need their
clauses.

- ``words``: ``(start, end, lower-case word)`` for each word, curly quotes read as straight
  ones (what the word lists match on; see ``lexicon``), and ``names``, the words alone;
- ``vocabulary``: the set of those words (cheap tests before any pattern runs);
- ``low``: the text in lower case for ``CaseBlind`` patterns (``clauses.fold``);
- ``clauses``: the text's clauses (see ``clauses``);
- ``hashtags``: ``(offset of '#', tag)`` for each ``#tag``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

from carecast.compliance.clauses import Clause, OnFirstUse, clauses, fold, normalise

__all__ = ["Reading", "read", "tokens"]

_WORD = re.compile(r"[^\W_]++(?:['.][^\W_]++)*+")  # possessive: nothing to give back
#: ``_WORD`` for ASCII text, where it finds the same words with its class tested in line
#: instead of by a call per character.
_ASCII_WORD = re.compile(_WORD.pattern, re.ASCII)
_HASHTAG = re.compile(r"#(\w+)")


def tokens(text: str) -> tuple[tuple[int, int, str], ...]:
    """``(start, end, lower-case word)`` for each word of ``text`` (not kept: ``read`` keeps
    a text's words; this is for the word lists' own entries)."""
    low = normalise(text.lower())
    if len(low) == len(text):  # lower case kept every offset (nearly always)
        word = _ASCII_WORD if low.isascii() else _WORD
        return tuple([(m.start(), m.end(), m.group()) for m in word.finditer(low)])
    return tuple([(m.start(), m.end(), m.group().lower())
                  for m in _WORD.finditer(normalise(text))])


class Reading:
    """What the checks read of one text; see the module's docstring. Build it with ``read``.
    Each part is read on first use."""

    text: str

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Reading(length={len(self.text)})"  # no text: it may be PHI

    def word_at(self, at: int) -> int:
        """The index in ``words`` of the first word starting at or after offset ``at``."""
        return bisect_left(self.starts, at)

    @OnFirstUse
    def words(self) -> tuple[tuple[int, int, str], ...]:
        return tokens(self.text)

    @OnFirstUse
    def names(self) -> tuple[str, ...]:
        """The words alone, in order (a phrase is compared with a slice of them)."""
        return tuple([w for _, _, w in self.words])

    @OnFirstUse
    def starts(self) -> list[int]:
        """Where each word starts (for ``word_at``)."""
        return [start for start, _, _ in self.words]

    @OnFirstUse
    def vocabulary(self) -> frozenset[str]:
        return frozenset(self.names)

    @OnFirstUse
    def low(self) -> str | None:
        return fold(self.text)

    @OnFirstUse
    def clauses(self) -> tuple[Clause, ...]:
        return clauses(self.text)

    @OnFirstUse
    def hashtags(self) -> tuple[tuple[int, str], ...]:
        if "#" not in self.text:
            return ()
        return tuple([(m.start(), m.group(1)) for m in _HASHTAG.finditer(self.text)])


@lru_cache(maxsize=256)
def read(text: str) -> Reading:
    """The reading of ``text``, shared by every check that reads the same text."""
    return Reading(text)
