"""Word lists of the advice, safe-messaging and policy checks, as compiled patterns.

Each list is a file in ``compliance/data/`` (one lower-case entry a line, ``#`` comments),
read once on first use. A pattern matches the entries as whole words, ignoring case, with
spaces and hyphens matching each other; a trailing ``*`` matches any ending. Some lists
also match by word shape (``-itis`` is a condition, ``-statin`` a medicine).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["CONDITION_SHAPES", "MEDICATION_SHAPES", "entries", "pattern"]

#: Words that name a condition by their ending or their head noun, listed or not.
CONDITION_SHAPES = (
    r"[a-z-]{3,}(?:itis|osis|emia|aemia|oma|pathy|algia|plegia|ism)"
    r"|(?:[a-z'-]+ ){1,2}(?:disease|disorder|syndrome|deficiency|infection|intolerance|allergy|"
    r"cancer|fracture|injury|failure|virus|apnea|apnoea|tumou?r|reflux|headaches?)")
#: Generic-name stems of common drug classes.
MEDICATION_SHAPES = (
    r"[a-z]{3,}(?:pril|olol|statin|sartan|azole|cillin|mycin|prazole|oxetine|pam|lam|done|"
    r"dipine|formin|tidine|triptan|afil|cycline|floxacin|mab|semide|thiazide)")


@cache
def entries(name: str) -> tuple[str, ...]:
    """The entries of ``data/NAME.txt``, longest first."""
    text = resources.files("carecast.compliance").joinpath("data", f"{name}.txt").read_text(
        "utf-8")
    words = {line.strip().lower() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")}
    return tuple(sorted(words, key=lambda w: (-len(w), w)))


def _entry(word: str) -> str:
    stem, wild = (word[:-1], r"\w*") if word.endswith("*") else (word, "")
    body = r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", stem))
    start = r"(?<!\w)" if stem[:1].isalnum() else ""
    end = "" if wild else (r"(?!\w)" if stem[-1:].isalnum() else "")
    return start + body + wild + end


@cache
def pattern(name: str, shapes: str = "") -> re.Pattern[str]:
    """The entries of ``data/NAME.txt`` (and ``shapes``, a regex of whole words) as one
    pattern; group ``term`` is the match."""
    alternatives = [_entry(w) for w in entries(name)]
    if shapes:
        alternatives.append(rf"\b(?:{shapes})\b")
    return re.compile(r"(?P<term>" + "|".join(alternatives) + ")", re.IGNORECASE)
