"""Word lists of the advice, safe-messaging and policy checks, looked up word by word.

Each list is a file in ``compliance/data/`` (one lower-case entry a line, ``#`` comments),
read once on first use. An entry matches whole words, ignoring case; spaces and hyphens both
separate words ("self-harm" is "self harm"); a trailing ``*`` matches any ending of the last
word. Two lists also match by word shape: a word ending in ``-itis`` is a condition, and so
is "X disease" or "X Y syndrome"; a word ending in ``-statin`` is a medicine.

A text is split into words once (``reading.read``, shared with every other check of the
draft), and each word is a set look-up: a regex alternation of hundreds of entries would cost
milliseconds a post.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from carecast.compliance.reading import Reading, read, tokens

__all__ = ["Lexicon", "entries", "get"]

#: Word shapes per list: endings (after at least three letters) and head nouns.
_SHAPES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "conditions": (
        ("itis", "osis", "emia", "aemia", "oma", "pathy", "algia", "plegia", "ism"),
        frozenset({"disease", "disorder", "syndrome", "deficiency", "infection", "intolerance",
                   "allergy", "cancer", "fracture", "injury", "failure", "virus", "apnea",
                   "apnoea", "tumor", "tumour", "reflux", "headache", "headaches"})),
    "medications": (
        ("pril", "olol", "statin", "sartan", "azole", "cillin", "mycin", "prazole", "oxetine",
         "pam", "lam", "done", "dipine", "formin", "tidine", "triptan", "afil", "cycline",
         "floxacin", "mab", "semide", "thiazide"),
        frozenset()),
}


@dataclass(frozen=True)
class Lexicon:
    """One word list: exact phrases, stems (``word*``) and shapes."""

    phrases: dict[str, tuple[tuple[str, ...], ...]]  # first word -> phrases, longest first
    stems: tuple[str, ...]
    stem_phrases: dict[str, tuple[tuple[str, ...], ...]]  # first word -> (..., stem)
    endings: tuple[str, ...] = ()
    heads: frozenset[str] = field(default_factory=frozenset)
    #: The words a phrase can start with.
    firsts: frozenset[str] = field(default_factory=frozenset)
    #: Words seen, and those of them a match may start at (``_marked``).
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)
    _marks: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def of(cls, items: tuple[str, ...], endings: tuple[str, ...] = (),
           heads: frozenset[str] = frozenset()) -> Lexicon:
        phrases: dict[str, list[tuple[str, ...]]] = {}
        stem_phrases: dict[str, list[tuple[str, ...]]] = {}
        stems = []
        for item in items:
            parts = tuple(w for _, _, w in tokens(item.rstrip("*")))
            if not parts:
                continue
            if item.endswith("*") and len(parts) == 1:
                stems.append(parts[0])
            else:
                table = stem_phrases if item.endswith("*") else phrases
                table.setdefault(parts[0], []).append(parts)
        return cls({k: tuple(sorted(v, key=len, reverse=True)) for k, v in phrases.items()},
                   tuple(stems),
                   {k: tuple(sorted(v, key=len, reverse=True)) for k, v in stem_phrases.items()},
                   endings, heads, frozenset(phrases) | frozenset(stem_phrases))

    def _at(self, reading: Reading, i: int) -> int:
        """How many words of a match start at word ``i`` of ``reading`` (0: none)."""
        tokens, names = reading.words, reading.names
        word = names[i]
        best = 0
        if word not in self.firsts:
            if self.stems and word.startswith(self.stems):
                return 1
            if not (self.endings or self.heads):
                return 0
        for phrase in self.phrases.get(word, ()):
            if names[i:i + len(phrase)] == phrase:
                best = len(phrase)
                break
        for phrase in self.stem_phrases.get(word, ()):
            n = len(phrase)
            got = names[i:i + n]
            if len(got) == n and got[:-1] == phrase[:-1] and got[-1].startswith(
                    phrase[-1]):
                best = max(best, n)
                break
        if (self.stems and word.startswith(self.stems)) or (
                self.endings and word.endswith(self.endings)
                and any(word.endswith(e) and len(word) >= len(e) + 3 for e in self.endings)):
            best = max(best, 1)
        if self.heads:
            for n in (3, 2):
                if n > best and i + n <= len(tokens) and names[i + n - 1] in self.heads and all(
                        tokens[j + 1][0] - tokens[j][1] <= 2 for j in range(i, i + n - 1)):
                    return n
        return best

    def finditer(self, text: str, start: int = 0, end: int | None = None
                 ) -> Iterator[tuple[int, int]]:
        """``(start, end)`` of each match within ``text[start:end]``, left to right."""
        reading = read(text)
        marked = self._marked(reading.vocabulary)
        if not marked:
            return
        tokens = reading.words
        stop = len(text) if end is None else end
        free = 0  # the first word not inside the last match
        for i in self._candidates(reading.names, marked):
            if i < free or tokens[i][0] < start:
                continue
            if tokens[i][0] >= stop:
                return
            n = self._at(reading, i)
            if n and tokens[i + n - 1][1] <= stop:
                yield tokens[i][0], tokens[i + n - 1][1]
                free = i + n

    def _candidates(self, names: tuple[str, ...], marked: frozenset[str]) -> list[int]:
        """The words a match can start at, in order: a phrase's first word, a stem or an
        ending, or one or two words before a head noun ("X disease")."""
        found = [i for i, word in enumerate(names) if word in marked]
        if not self.heads or self.heads.isdisjoint(marked):
            return found
        more = {j for i in found if names[i] in self.heads for j in (i - 2, i - 1) if j >= 0}
        return sorted(more.union(found))

    def _marked(self, present: frozenset[str]) -> frozenset[str]:
        """The words of ``present`` a match may start at, or that are head nouns: set
        operations over the words seen before, each new word learnt once."""
        new = present.difference(self._seen)
        if not new:
            return present.intersection(self._marks)
        found = {w for w in new if self._known(w)}
        if len(self._seen) < 50_000:  # a bound on memory, whatever is reviewed
            self._marks.update(found)
            self._seen.update(new)
        return present.intersection(self._marks).union(found)

    def _known(self, word: str) -> bool:
        return (word in self.firsts or word in self.heads
                or (bool(self.stems) and word.startswith(self.stems))
                or (bool(self.endings) and word.endswith(self.endings)
                    and any(word.endswith(e) and len(word) >= len(e) + 3 for e in self.endings)))

    def possible(self, present: frozenset[str]) -> bool:
        """Whether any entry or shape could match a text of these words."""
        return bool(self._marked(present))

    def search(self, text: str, start: int = 0, end: int | None = None
               ) -> tuple[int, int] | None:
        """The first match within ``text[start:end]``, or None."""
        return next(self.finditer(text, start, end), None)

    def match(self, text: str, at: int) -> int | None:
        """Where a match starting exactly at ``at`` ends, or None."""
        reading = read(text)
        tokens = reading.words
        i = reading.word_at(at)
        if i == len(tokens) or tokens[i][0] != at:
            return None
        n = self._at(reading, i)
        return tokens[i + n - 1][1] if n else None


@cache
def entries(name: str) -> tuple[str, ...]:
    """The entries of ``data/NAME.txt``, longest first."""
    text = resources.files("carecast.compliance").joinpath("data", f"{name}.txt").read_text(
        "utf-8")
    found = {line.strip().lower() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")}
    return tuple(sorted(found, key=lambda w: (-len(w), w)))


@cache
def get(name: str) -> Lexicon:
    """The word list ``data/NAME.txt`` with its shapes, built once."""
    endings, heads = _SHAPES.get(name, ((), frozenset()))
    return Lexicon.of(entries(name), endings, heads)
