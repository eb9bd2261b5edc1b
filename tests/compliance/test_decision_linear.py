"""The decision layer reads a text in time linear in its length: a rule that looks for a word
of care later in the sentence ("sorry ... wait", "your son ... surgery") or in the sentence
around a match reads each sentence about once, however many matches it holds. Checked by the
work done (the characters the searches read), never by a clock."""

from __future__ import annotations

import re
from typing import Any

import pytest

from carecast.compliance import phi_decision
from carecast.compliance.phi_decision import (
    CARE_NOUNS,
    FAMILY,
    UNITS,
    care_told,
    patient_story,
    sentence_around,
)


class _Counting:
    """A pattern that counts the characters its searches read: up to the end of the match
    found, or all they are given."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.read = 0

    def search(self, text: str, pos: int = 0, endpos: int = 2**62) -> Any:
        m = self.pattern.search(text, pos, endpos)
        self.read += (m.end() if m else min(endpos, len(text))) - pos
        return m


@pytest.mark.parametrize(("unit", "rule"), [
    ("sorry you ", "apology"), ("we apologise, ", "apology"), ("your son ", "family_care"),
    ("your son's ", "family_care"), ("sorry about the wait ", "apology"),
])
def test_a_word_of_care_later_in_the_sentence_is_looked_for_once(
        monkeypatch: pytest.MonkeyPatch, unit: str, rule: str) -> None:
    for copies in (500, 1000):
        counting = {name: _Counting(p) for name, p in phi_decision._LATER.items()}
        monkeypatch.setattr(phi_decision, "_LATER", counting)
        text = unit * copies
        told = [t for t in care_told(text) if t.rule == rule]
        assert counting[rule].read <= 2 * len(text)  # not once a match: 1,000 matches
        assert len(told) == (copies if "wait" in unit else 0)


def test_many_names_in_one_sentence_read_it_about_once(monkeypatch: pytest.MonkeyPatch) -> None:
    story = _Counting(phi_decision._STORY)
    monkeypatch.setattr(phi_decision, "_STORY", story)
    text = "Zorblax, " * 2000 + "was admitted."
    assert all(patient_story(text, i, i + 7) for i in range(0, 2000 * 9, 9))
    assert story.read <= 2 * len(text)
    nested = "ab.Zorblax " * 2000  # a sentence begun at each name, none ended
    assert not any(patient_story(nested, i + 3, i + 10) for i in range(0, 2000 * 11, 11))
    assert story.read <= 2 * len(text) + 2 * len(nested)


@pytest.mark.parametrize("text", [
    "So sorry about the wait in our ER.", "Sorry you had to wait. The ER was full!",
    "We apologise; the room was cold", "Sorry! Your surgery went well.", "sorry you sorry you",
    "Praying for your son's recovery.", "Your son. His surgery is today.",
    "your mom and dad are home", "your baby\u2019s first bath on the maternity floor",
    "your family! we are here", "your big son's check-up", "your son's", "ur kids r home?",
])
def test_the_rules_match_as_their_lookahead_did(text: str) -> None:
    later = {"apology": rf"(?i:\b(?:{phi_decision._APOLOGY})\b"
                        rf"(?=[^.!?]*\b(?:{CARE_NOUNS}|{UNITS})\b))",
             "family_care": rf"(?i:\b(?:your|ur)\s+(?:{phi_decision._W}){{0,1}}?{FAMILY}"
                            rf"(?:['\u2019]s)?\b(?=[^.!?]*\b(?:{CARE_NOUNS}|{UNITS}|"
                            rf"{phi_decision._RECOVERY}|journey|home)\b))"}
    for rule, pattern in later.items():
        expected = [m.span() for m in re.finditer(pattern, text)]
        assert [(t.start, t.end) for t in care_told(text) if t.rule == rule] == expected


@pytest.mark.parametrize(("text", "start", "sentence"), [
    ("One. Two words here. Three.", 5, " Two words here."),
    ("Dr. Lee saw her. Then home.", 4, "Dr. Lee saw her."),
    ("ok.Thanks Ann", 3, "Thanks Ann"),
    ("No end at all", 3, "No end at all"),
    ("Hi!\nLine two", 5, "\nLine two"),
])
def test_the_sentence_around_a_span(text: str, start: int, sentence: str) -> None:
    assert sentence_around(text, start, start + 2) == sentence


def test_a_long_line_of_capitalised_runs_is_read_once_for_its_title_case(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Each run on a line asked whether the line is a headline by splitting the whole line
    # again: quadratic on one long line ("Rm 4B " x 300 read the line 299 times).
    from carecast.compliance import phi

    asked: list[int] = []
    real = phi._title_case

    def title_case(line: str) -> bool:
        asked.append(len(line))
        return real(line)

    runs: list[int] = []
    headline = phi._Found.headline

    def asks(found: Any, text: str, start: int) -> bool:
        runs.append(start)
        return headline(found, text, start)

    monkeypatch.setattr(phi, "_title_case", title_case)
    monkeypatch.setattr(phi._Found, "headline", asks)
    phi.scan("Rm 4B " * 300)
    assert len(runs) >= 100  # every run asks
    assert len(asked) == 1  # the line is read once
    phi.scan("Rm 4B " * 300 + "\n" + "Rm 5C " * 300)
    assert len(asked) == 3  # once a line, for each scan
