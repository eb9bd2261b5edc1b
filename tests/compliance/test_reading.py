"""The shared reading of a text, and the cheap tests that spare a pattern its run."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carecast.compliance import clauses as clauses_module
from carecast.compliance import lexicon
from carecast.compliance._settings import has_phrase, may_hold, phrase_matches, phrase_pattern
from carecast.compliance.clauses import clauses
from carecast.compliance.reading import read, tokens


def test_one_reading_per_text_each_part_read_on_first_use() -> None:
    text = "Quick reminder 👉 take it with food; call 911 for chest pain. #HeartMonth #heart"
    reading = read(text)
    assert read(text) is reading  # every check of the draft shares it
    assert "clauses" not in vars(reading)  # nothing read before it is asked for
    assert [c.text for c in reading.clauses] == [c.text for c in clauses(text)]
    assert reading.words == tokens(text)
    assert reading.names == tuple(w for _, _, w in tokens(text))
    assert reading.vocabulary == frozenset(reading.names)
    assert reading.hashtags == ((text.index("#H"), "HeartMonth"), (text.index("#heart"), "heart"))
    assert reading.word_at(20) == next(i for i, t in enumerate(reading.words) if t[0] >= 20)
    assert "take" not in repr(reading)  # a text may hold PHI: the repr never shows it


def test_curly_quotes_read_as_straight_ones_offsets_kept() -> None:
    text = "It\u2019s fine \u201cnow\u201d"
    reading = read(text)
    assert "it's" in reading.vocabulary
    assert all(text[a:b].lower().replace("\u2019", "'") == w for a, b, w in reading.words)


@pytest.mark.parametrize(("text", "phrase", "held"), [
    ("Call or text 988 any time", "988", True),
    ("Call or text 9-8-8 any time", "9-8-8", True),
    ("Call 98 8", "988", False),
    ("PAID PARTNERSHIP with a clinic", "paid partnership", True),
    ("paid-partnership", "paid partnership", True),
    ("unpaid partnership", "paid partnership", False),
    ("\u212aids first", "kids", True),  # the Kelvin sign is a K to an ignore-case pattern
    ("\u017fponsored by us", "sponsored by", True),  # and the long s an s
    ("Results may vary", "", True),
])
def test_has_phrase_skips_the_pattern_only_when_it_cannot_match(text: str, phrase: str,
                                                                held: bool) -> None:
    assert has_phrase(text, phrase) is held


@given(st.text(alphabet="abcdiKkSs \u212a\u017f-#9.", max_size=30),
       st.sampled_from(["kids", "sk", "#ad", "9-9", "s k", "k", "a kids", "a-b sk #ad"]))
def test_has_phrase_agrees_with_its_pattern(text: str, phrase: str) -> None:
    assert has_phrase(text, phrase) is (phrase_pattern(phrase).search(text) is not None)
    assert [m.span() for m in phrase_matches(text, phrase)] == [
        m.span() for m in phrase_pattern(phrase).finditer(text)]


def test_may_hold() -> None:
    assert not may_hold("Rest and fluids", ("call", "dial"))
    assert may_hold("CALL now", ("call",))
    assert not may_hold("Cafe\u0301 latte \U0001f449", ("call",))  # no letter folds to ASCII
    assert may_hold("\u212aids", ("kids",))  # the Kelvin sign: the pattern decides
    assert may_hold("DIAL \u0130T", ("dial",))
    assert may_hold("anything", ())


def test_word_lists_read_the_shared_words() -> None:
    text = "Sounds like you have celiac-sprue disease; take your rosuvastatin."
    conditions, medications = lexicon.get("conditions"), lexicon.get("medications")
    assert conditions.search(text) == (text.index("celiac"), text.index(";"))
    assert medications.search(text) == (text.index("rosuvastatin"), len(text) - 1)
    assert medications.search("Rest and fluids.") is None


#: The plain forms of the sentence and clause separators, which ``clauses`` writes to open
#: with a character class (a faster scan): the same matches, at the same places.
_PLAIN_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n+")
_PLAIN_SPLIT = re.compile(
    r";|:(?=\s)|\s[-\u2013\u2014]+\s|--|\u2013|\u2014|, (?!\d)|"
    r"[\u2190-\u21ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]+\ufe0f?")
_SEPARATORS = st.text(alphabet=st.sampled_from(
    [*"ab1 .!?\n\"')];:,-\t", "\u2013", "\u2014", "\u00a0", "\u2192", "\U0001f449", "\u2764",
     "\ufe0f", "\u3000"]), max_size=40)


@given(_SEPARATORS)
def test_sentence_and_clause_separators_match_their_plain_forms(text: str) -> None:
    spans = [m.span() for m in clauses_module._END.finditer(text)]
    assert spans == [m.span() for m in _PLAIN_END.finditer(text)]
    split = clauses_module._SPLIT if clauses_module._spaced_dash(text) else \
        clauses_module._SPLIT_UNSPACED
    assert [m.span() for m in split.finditer(text)] == [
        m.span() for m in _PLAIN_SPLIT.finditer(text)]
    assert [m.span() for m in clauses_module._SPLIT.finditer(text)] == [
        m.span() for m in _PLAIN_SPLIT.finditer(text)]


def test_clauses_split_where_the_plain_separators_do() -> None:
    text = "Rest \u2014 then call 911; or - if worse - go now 👉 take a walk, then nap: ok. Next"
    pieces = [c.text for c in clauses(text)]
    assert pieces == ["Rest", "then call 911", "or", "if worse", "go now", "take a walk",
                      "then nap", "ok.", "Next"]
    assert [c.text for c in clauses("self-harm, 9-8-8 -- today, 2 calls")] == [
        "self-harm, 9-8-8", "today, 2 calls"]  # no split before a digit


def test_the_method_pattern_is_skipped_only_where_it_cannot_match() -> None:
    """Every match of ``_METHOD``, on each of its means and on every clause of both sets,
    holds one of the words ``may_hold`` looks for first."""
    from carecast.compliance import safe_messaging

    from .test_advice_devset import DEVSET, rows
    from .test_advice_holdout import HOLDOUT

    examples = [
        "hanged himself", "hung herself", "a noose", "jumped off", "in front of a train",
        "train tracks", "shot himself", "gun to his head", "with a rifle", "slit",
        "cut her wrists", "a razor", "cutting with", "carbon monoxide", "exhaust fumes",
        "closed garage", "suffocated", "poisoned herself", "lethal dose", "toxic amount",
        "how many pills", "how much tylenol would it take", "enough tablets", "overdosed on",
        "took an overdose of", "washed them down", "mixing vodka with benzos",
        "killed himself with pills", "died by hanging", "ended her own life with a gun",
        "40 of his sleeping pills", "a handful of meds", "a whole bottle of medicines",
        "ten gummies", "two patches", "a bottle of capsules"]
    texts = examples + [c.text for path in (DEVSET, HOLDOUT) for row in rows(path)
                        for c in clauses(row["text"])]
    found = [t for t in texts if safe_messaging._METHOD.search(t)]
    assert len(found) > len(examples)  # every means, and the sets' own
    assert [t for t in examples if t not in found] == []
    assert [t for t in found if not may_hold(t, safe_messaging._METHOD_WORDS)] == []


def test_lower_case_keeps_what_a_case_blind_pattern_of_ascii_finds() -> None:
    """What ``fold`` relies on: outside ASCII, every character but those of ``ASCII_FOLDS``
    stays one character in lower case, never ASCII, a word character, digit or space as it
    was; and no ASCII letter matches it ignoring case. Each of ``ASCII_FOLDS`` breaks one."""
    chars = "".join(chr(i) for i in range(0x80, 0x110000)
                    if not 0xD800 <= i < 0xE000 and chr(i) not in clauses_module.ASCII_FOLDS)
    low = chars.lower()
    assert len(low) == len(chars)
    assert re.search(r"[\x00-\x7f]", low) is None
    for cls in (r"\w", r"\d", r"\s"):
        assert [m.start() for m in re.finditer(cls, chars)] == [
            m.start() for m in re.finditer(cls, low)]
    assert [a for a in "abcdefghijklmnopqrstuvwxyz" if re.search(a, chars, re.IGNORECASE)] == []
    for c in clauses_module.ASCII_FOLDS:
        assert len(c.lower()) != 1 or c.lower().isascii() or any(
            re.match(a, c, re.IGNORECASE) for a in "iks")
    assert clauses_module.fold("Stroke \u212a") is None
    assert clauses_module.fold("CALL 911 \U0001f449") == "call 911 \U0001f449"


def _case_blind_patterns() -> list[clauses_module.CaseBlind]:
    from carecast.compliance import advice, safe_messaging

    found = [p for module in (clauses_module, advice, safe_messaging)
             for p in vars(module).values() if isinstance(p, clauses_module.CaseBlind)]
    return [*found, advice._dose("units"), advice._dose("household_units"),
            safe_messaging._service("911"), safe_messaging._service("116 123")]


def test_every_case_blind_pattern_has_its_twin() -> None:
    assert len(_case_blind_patterns()) > 20
    assert [p.pattern for p in _case_blind_patterns() if p.twin is None] == []
    assert clauses_module.CaseBlind("Dr\\.").twin is None  # an upper-case letter: no twin


def test_case_blind_patterns_find_what_they_find_ignoring_case() -> None:
    """On every text and clause of both sets, and on texts holding the letters that fold to
    ASCII or to each other, each pattern finds the same spans as its ignore-case form."""
    from .test_advice_devset import DEVSET, rows
    from .test_advice_holdout import HOLDOUT

    texts = [row["text"] for path in (DEVSET, HOLDOUT) for row in rows(path)]
    texts += [c.text for text in texts for c in clauses(text)]
    texts += ["\u212aEEP calm, CALL 911", "ta\u0130e 5 \u039cG", "Take 5 \u00b5g", "5 \u03bcG",
              "\u017fkip the ER", "TW: \u0131t"]
    for pattern in _case_blind_patterns():
        for text in texts:
            assert [m.span() for m in pattern.finditer(text)] == [
                m.span() for m in pattern.blind.finditer(text)], (pattern.pattern[:40], text)


@given(st.text(alphabet="ac ERIKS911-\u212a\u017f\u0130\u0131\u00b5\u039c\u03bcgm5", max_size=30))
def test_case_blind_patterns_agree_on_any_text(text: str) -> None:
    for pattern in _case_blind_patterns():
        low = clauses_module.fold(text)
        assert [m.span() for m in pattern.finditer(text, low=low)] == [
            m.span() for m in pattern.blind.finditer(text)]
