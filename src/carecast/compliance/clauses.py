"""Reads a text clause by clause: what each clause tells the reader, and what it negates.

Shared by the advice, safe-messaging and policy checks:

- ``clauses`` splits a text into sentences (``.``, ``!``, ``?``, a line break; not after
  "Dr." or "a.m.") and each sentence into clauses at semicolons, colons, dashes, emoji and
  arrows, and ", " (so a lead-in such as "Dietitian's corner:" or "Quick reminder 👉" is a
  clause of its own, and the instruction after it starts a clause);
- ``Clause.imperative``: the clause gives the reader an order ("take", "you should take",
  "just take");
- ``Clause.negated``: a negation ("not", "no", "never", "without", "there's no need to",
  any "-n't": "won't", "doesn't") governs a position, within a few words before it;
- ``Clause.deferred``: a referral governs the clause's instruction: it asks a clinician
  ("ask your doctor whether...") or makes the instruction depend on one ("only if your
  doctor says so", "without talking to your pharmacist", "as prescribed"). A clinician merely
  mentioned ("and let your doctor know later") governs nothing.

Curly quotes count as straight ones; offsets are those of the original text. The checks'
case-blind patterns are ``CaseBlind``: run as case-sensitive twins on the lower-case text
(``fold``) where that finds the same, far faster.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from itertools import filterfalse, repeat
from typing import Any, Generic, TypeVar, overload

__all__ = ["ASCII_FOLDS", "CaseBlind", "Clause", "OnFirstUse", "clauses", "fold", "normalise"]

#: The only characters a case-blind pattern of ASCII letters matches to one of them, or whose
#: lower case is ASCII or longer (dotted and dotless i, the long s, the Kelvin sign).
ASCII_FOLDS = ("\u0130", "\u0131", "\u017f", "\u212a")


def fold(text: str) -> str | None:
    """``text`` in lower case where a pattern of lower-case ASCII letters, case-sensitive,
    finds in it what it finds in ``text`` ignoring case, at the same offsets (every text but
    one holding one of ``ASCII_FOLDS``: lower case keeps each other character one character,
    a word character or not, and never turns it into ASCII; ``test_reading`` checks it);
    None for the others."""
    if not text.isascii() and any(map(text.__contains__, ASCII_FOLDS)):
        return None
    return text.lower()


class CaseBlind:
    """A pattern that ignores case, run as its case-sensitive twin on the lower-case text
    (``fold``) wherever that finds the same: far faster (``re`` tests an alternative's first
    letter directly only when case counts). A match's text is then in lower case: read its
    offsets. The twin exists only for a pattern whose letters are lower-case ASCII."""

    def __init__(self, source: str, twin: str | None = None) -> None:
        """``twin``: the twin's source, for a pattern holding letters outside ASCII (each
        written as the class of the lower cases of the letters it matches ignoring case)."""
        self.blind = re.compile(source, re.IGNORECASE)
        bare = re.sub(r"\\.", "", source)  # escapes (\W, \S) are not letters
        self.twin = re.compile(twin) if twin is not None else re.compile(source) if (
            bare.isascii() and bare == bare.lower()) else None

    @property
    def pattern(self) -> str:
        """The source, to build a larger pattern."""
        return self.blind.pattern

    def _pick(self, text: str, low: str | None) -> tuple[re.Pattern[str], str]:
        if self.twin is not None:
            low = fold(text) if low is None else low
            if low is not None:
                return self.twin, low
        return self.blind, text

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize, *,
               low: str | None = None) -> re.Match[str] | None:
        """``re.Pattern.search``; ``low``, when given, is ``fold(text)``, computed once."""
        pattern, target = self._pick(text, low)
        return pattern.search(target, pos, endpos)

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize, *,
              low: str | None = None) -> re.Match[str] | None:
        """``re.Pattern.match`` (see ``search``)."""
        pattern, target = self._pick(text, low)
        return pattern.match(target, pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize, *,
                 low: str | None = None) -> Iterator[re.Match[str]]:
        """``re.Pattern.finditer`` (see ``search``)."""
        pattern, target = self._pick(text, low)
        return pattern.finditer(target, pos, endpos)


_T = TypeVar("_T")
_QUOTES = (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'))
#: Where a sentence ends: ``[.!?]+["')\]]*(?=\s|$)|\n+``, written to open with the class of
#: its first character (then the next ``.``, ``!``, ``?`` or line break is found by a scan
#: for the class, not by trying the pattern at every position; the rest tells the two apart).
_END = re.compile(r"[.!?\n](?:(?<=[.!?])[.!?]*[\"')\]]*(?=\s|$)|(?<=\n)\n*)")
_NEXT = re.compile(r"\s*(\S)")
_ABBREVIATIONS = frozenset({"dr", "st", "mr", "mrs", "ms", "a.m", "p.m", "e.g", "i.e", "vs",
                            "jr", "sr", "no", "approx", "dept", "u.s"})
_PICTURES = "\u2190-\u21ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"  # arrows, emoji


def _splitter(spaced: bool) -> re.Pattern[str]:
    """Where a sentence splits into clauses: ``;``, ``:`` before a space, a dash between
    spaces, ``--``, an en or em dash, ", " not before a digit, a run of emoji or arrows.

    Written, like ``_END``, to open with the class of every separator's first character,
    each separator then told by that character (a look-behind): the scan skips the other
    characters. Without ``spaced``, the dash between spaces is left out, and with it the
    spaces from the class: a sentence where no space comes before a dash cannot hold it,
    and its other separators then cost no try at each space."""
    first = ";:\\-\u2013\u2014," + ("\\s" if spaced else "") + _PICTURES
    rules = ["(?<=;)", "(?<=:)(?=\\s)", *(["(?<=\\s)[-\u2013\u2014]+\\s"] if spaced else []),
             "(?<=-)-", "(?<=\u2013)", "(?<=\u2014)", "(?<=,) (?!\\d)",
             f"(?<=[{_PICTURES}])[{_PICTURES}]*\ufe0f?"]
    return re.compile(f"[{first}](?:{'|'.join(rules)})")


_SPLIT = _splitter(spaced=True)
_SPLIT_UNSPACED = _splitter(spaced=False)
_DASHES = ("-", "\u2013", "\u2014")
_FILLERS = frozenset({"just", "simply", "please", "then", "and", "so", "also", "now", "instead",
                      "always", "first", "tip", "quick", "remember", "or", "but", "meanwhile",
                      "today", "tonight", "next", "time"})
#: Word pairs after which the next words are an order ("you should take", "try to take").
_MODALS = frozenset(tuple(pair.split()) for pair in (
    "you should", "you can", "you could", "you must", "you may", "you might", "you need",
    "you ought", "you have", "you want", "you just", "you'll need", "you'll want",
    "you'll have", "try to", "make sure", "be sure", "go ahead", "feel free", "don't forget",
    "remember to", "it's fine", "it's ok", "it's okay", "it's safe"))
_MODAL_FIRSTS = frozenset(first for first, _ in _MODALS)
_NEGATION = CaseBlind(
    r"\b(?:not|no|never|nor|without|instead of|rather than|skip|avoid|\w+n't|cannot)\b")
#: "don't hesitate to", "never wait to": a negated hesitation is an encouragement.
_LIFTED = CaseBlind(r"\W*(?:hesitate|wait|delay|be afraid|be embarrassed|think twice|"
                   r"worry about)\b")
_CONDITIONAL = CaseBlind(
    r"^(?:[\"'(]*)(?:if|when|whenever|whether|unless|in case|once|anyone who|those who|"
    r"people who|for those)\b")
_CLINICIAN = (r"(?:doctors?|physicians?|clinicians?|providers?|pharmacists?|nurses?|"
              r"care team|gp|prescribers?|ob|midwife|specialists?|dentists?|cardiologists?|"
              r"health ?care (?:team|provider)|medical team)")
_DEFERS = CaseBlind(
    rf"\b(?:ask(?:ing)?|check(?:ing)? with|talk(?:ing)? (?:to|with)|consult(?:ing)?|"
    rf"speak(?:ing)? (?:to|with)|discuss(?:ing)?[^.;:]{{0,30}}with)\b[^.;:]{{0,30}}?"
    rf"\b{_CLINICIAN}\b"
    rf"|\b(?:only if|unless|until|if|without|as|when)\b[^.;:]{{0,25}}?\b{_CLINICIAN}\b"
    rf"[^.;:]{{0,20}}\b(?:says?|tells?|told|prescribes?|prescribed|recommends?|advises?|"
    rf"directs?|directed|oks?|approves?|talking|checking|asking|speaking|agrees?)\b"
    rf"|\bwithout (?:talking|speaking|checking)\b"
    rf"|\bas (?:prescribed|directed)\b")
_WORD = re.compile(r"[\w'@#%.-]+")
_ASCII_WORD = re.compile(_WORD.pattern, re.ASCII)  # the same words in ASCII text, faster
#: Words without one of which ``_DEFERS`` cannot match.
_DEFER_WORDS = frozenset({
    "doctor", "doctors", "physician", "physicians", "clinician", "clinicians", "provider",
    "providers", "pharmacist", "pharmacists", "nurse", "nurses", "team", "gp", "prescriber",
    "prescribers", "ob", "midwife", "specialist", "specialists", "dentist", "dentists",
    "cardiologist", "cardiologists", "prescribed", "directed", "without"})


def normalise(text: str) -> str:
    """``text`` with curly quotes straightened (the same length, so offsets hold)."""
    if text.isascii():
        return text
    for curly, straight in _QUOTES:  # str.translate costs more than four look-ups
        if curly in text:
            text = text.replace(curly, straight)
    return text


class OnFirstUse(Generic[_T]):
    """A method read as an attribute, run on first use: its value is kept in the instance's
    ``__dict__``, which every later read finds first (this descriptor has no ``__set__``), a
    plain look-up. ``functools.cached_property`` takes a lock on each first read before
    Python 3.12, and a ``__getattr__`` fallback raises and catches an ``AttributeError``:
    both cost more than the value of most of these attributes."""

    def __init__(self, reader: Callable[[Any], _T]) -> None:
        self._reader = reader
        self._name = reader.__name__
        self.__doc__ = reader.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> OnFirstUse[_T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> _T | OnFirstUse[_T]:
        if obj is None:
            return self
        value = obj.__dict__[self._name] = self._reader(obj)
        return value


class Clause:
    """One clause: its text, where it starts in the field, its sentence, and what it does.

    What a clause does is read on first use: most clauses of a post are never asked.
    """

    text: str
    start: int
    sentence: str
    question: bool

    def __init__(self, text: str, start: int, sentence: str, question: bool) -> None:
        self.text = text
        self.start = start
        self.sentence = sentence
        self.question = question

    def __repr__(self) -> str:
        return f"Clause(start={self.start}, length={len(self.text)})"  # no text: it may be PHI

    @OnFirstUse
    def low(self) -> str | None:
        """The text in lower case (``fold``; None where case-blind patterns must read the
        text itself)."""
        return fold(self.text)

    @OnFirstUse
    def words(self) -> tuple[str, ...]:
        """The clause's words, lower case."""
        low = self.text.lower() if self.low is None else self.low
        word = _ASCII_WORD if low.isascii() else _WORD
        return tuple(map(str.strip, word.findall(low), repeat(".'")))

    @OnFirstUse
    def vocabulary(self) -> frozenset[str]:
        """The clause's words as a set (cheap tests before a pattern runs)."""
        return frozenset(self.words)

    @OnFirstUse
    def lead(self) -> str:
        """The first word that is not a filler ("just", "then", "please", ...)."""
        return next(filterfalse(_FILLERS.__contains__, self.words), "")

    @OnFirstUse
    def ordered(self) -> frozenset[str]:
        """The words that could be an order: the lead, and the three after a modal."""
        words = self.words
        ordered = {self.lead}
        if _MODAL_FIRSTS.isdisjoint(words):
            return frozenset(ordered)
        for i in range(len(words) - 1):
            if (words[i], words[i + 1]) in _MODALS:
                ordered.update(words[i + 2:i + 5])
        return frozenset(ordered)

    @OnFirstUse
    def conditional(self) -> bool:
        """The clause opens with a condition ("if you have diabetes", "when ...")."""
        return _CONDITIONAL.search(self.text, low=self.low) is not None

    @OnFirstUse
    def deferred(self) -> bool:
        """A referral to a clinician governs this clause's instruction."""
        return not _DEFER_WORDS.isdisjoint(self.vocabulary) and _DEFERS.search(
            self.text, low=self.low) is not None

    def imperative(self, verbs: frozenset[str]) -> bool:
        """The clause orders the reader to do one of ``verbs`` ("take", "just take",
        "you should take", "try to take")."""
        return not verbs.isdisjoint(self.ordered)

    def negated(self, position: int, reach: int = 5) -> bool:
        """A negation within ``reach`` words before ``position`` (an offset in ``text``)."""
        start = max(0, position - 25 * (reach + 1))
        before = self.text[start:position]
        low = None if self.low is None else self.low[start:position]
        cues = list(_NEGATION.finditer(before, low=low))
        last = cues[-1] if cues else None
        if last is None or _LIFTED.match(before, last.end(), low=low):
            return False
        return len(_WORD.findall(before[last.end():])) <= reach


def clauses(text: str) -> tuple[Clause, ...]:
    """The clauses of ``text``, in order (a check reads them as ``read(text).clauses``,
    split once for every check; see ``reading``)."""
    text = normalise(text)
    out: list[Clause] = []
    spaced = _spaced_dash(text)  # else no sentence of it has a dash after a space
    for start, sentence in _sentences(text):
        question = sentence.rstrip(" \"')").endswith("?")
        at = 0
        split = _SPLIT if spaced and _spaced_dash(sentence) else _SPLIT_UNSPACED
        for sep in [*split.finditer(sentence), None]:
            end = sep.start() if sep else len(sentence)
            piece = sentence[at:end]
            stripped = piece.strip()
            if stripped:
                offset = start + at + (len(piece) - len(piece.lstrip()))
                out.append(Clause(stripped, offset, sentence, question))
            if sep is not None:
                at = sep.end()
    return tuple(out)


def _spaced_dash(sentence: str) -> bool:
    """Whether a dash in ``sentence`` comes after a space (``\\s``: what ``str.isspace`` says)."""
    for dash in _DASHES:
        at = sentence.find(dash, 1)
        while at > 0:
            if sentence[at - 1].isspace():
                return True
            at = sentence.find(dash, at + 1)
    return False


def _sentences(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    at = 0
    for end in _END.finditer(text):
        if end.group().startswith("."):
            first = text.rfind(" ", max(0, end.start() - 12), end.start()) + 1
            word = text[first or max(0, end.start() - 12):end.start()].lower().lstrip("(")
            following = _NEXT.match(text, end.end())
            if word in _ABBREVIATIONS or (following is not None
                                          and following.group(1).islower()):
                continue
        out.append((at, text[at:end.end()]))
        at = end.end()
    if text[at:].strip():
        out.append((at, text[at:]))
    return out
