"""Policy rules from ``carecast.toml``: banned claims, disclosures, campaign requirements.

Reviews each draft (title and every part, hashtags as rendered):

- ``claim``: a banned claim ("cure", "guaranteed", "miracle", "risk-free", ...), unless a
  negation in its clause governs it ("there's no cure", "not guaranteed", "won't cure",
  "doesn't guarantee results"; see ``clauses``);
- ``sponsored``: a sponsored post without a disclosure ("#ad", "paid partnership", ...);
  sponsored means ``sponsored = true`` (set it per campaign) or a sponsorship phrase in the
  text ("sponsored by", "in partnership with", ...);
- ``testimonial``: a testimonial without "individual results may vary"; a testimonial means
  ``testimonial = true`` or one of ``testimonial_hashtags`` (``#PatientStory``);
- ``hashtag``: a hashtag in ``require_hashtags`` is missing;
- ``disclaimer``: a text in ``require_text`` is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from carecast.compliance._settings import (
    CheckConfig,
    draft_texts,
    has_phrase,
    phrase_matches,
    phrase_pattern,
)
from carecast.compliance.reading import read, tokens
from carecast.findings import Action, Finding
from carecast.hookspecs import hookimpl

if TYPE_CHECKING:
    from carecast.config import CheckSettings
    from carecast.post import Draft

__all__ = ["PolicySettings", "carecast_review_draft"]



class PolicySettings(CheckConfig):
    """``[checks.policy]``."""

    NAME: ClassVar[str] = "policy"
    DEFAULTS: ClassVar[dict[str, Action]] = {
        "claim": Action.REVIEW, "sponsored": Action.REVIEW, "testimonial": Action.REVIEW,
        "hashtag": Action.WARN, "disclaimer": Action.REVIEW,
    }

    banned: list[str] = Field(default_factory=lambda: [
        "cure", "cures", "cured", "guaranteed", "guarantee", "guarantees", "miracle",
        "miraculous", "risk-free", "100% effective", "no side effects", "painless"])
    allow: list[str] = Field(default_factory=list, description="Phrases that may hold a "
                             "banned word, such as a charity's name ('Cure Cancer 5K').")
    sponsored: bool = False
    sponsor_phrases: list[str] = Field(default_factory=lambda: [
        "sponsored by", "in partnership with", "paid partnership", "brought to you by",
        "#sponsored", "#ad", "#partner"])
    sponsored_disclosures: list[str] = Field(default_factory=lambda: [
        "#ad", "#sponsored", "paid partnership", "sponsored by", "advertisement"])
    testimonial: bool = False
    testimonial_hashtags: list[str] = Field(default_factory=lambda: [
        "PatientStory", "PatientStories", "Testimonial"])
    testimonial_disclosures: list[str] = Field(default_factory=lambda: [
        "individual results may vary", "results may vary"])
    require_hashtags: list[str] = Field(default_factory=list)
    require_text: list[str] = Field(default_factory=list)


@hookimpl
def carecast_review_draft(draft: Draft, settings: CheckSettings) -> list[Finding]:
    """Banned claims, disclosures and campaign requirements in one account's draft."""
    cfg = PolicySettings.read(settings)
    if not isinstance(cfg, PolicySettings):
        return cfg
    found = list(_claims(cfg, draft)) + list(_requirements(cfg, draft))
    return [f for f in found if f is not None]


def _claims(cfg: PolicySettings, draft: Draft) -> Iterator[Finding | None]:
    patterns, firsts = _banned(tuple(cfg.banned))
    allowed = [phrase_pattern(p) for p in cfg.allow if p.strip()]
    for field, text in draft_texts(draft):
        reading = read(text)
        if "" not in firsts and firsts.isdisjoint(reading.vocabulary):
            continue  # no banned phrase can start here
        spared = [(m.start(), m.end()) for a in allowed for m in a.finditer(text)]
        low = reading.low  # lower case once, for every phrase's test
        hits = sorted((m.start(), m.end(), phrase) for phrase in patterns
                      for m in phrase_matches(text, phrase, low=low))
        parts = reading.clauses if hits else ()
        for start, end, phrase in hits:
            clause = next((c for c in reversed(parts) if c.start <= start), None)
            if any(s <= start and end <= e for s, e in spared) or (
                    clause is not None and clause.negated(start - clause.start, reach=2)):
                continue
            yield cfg.finding(
                "claim", field, f"{field} at {start}: the banned claim '{phrase[:60]}'; health "
                "posts must not promise outcomes (or add the phrase to checks.policy.allow)")


@lru_cache(maxsize=64)
def _banned(banned: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The banned phrases (not blank), and the words they start with."""
    phrases = tuple(p for p in banned if p.strip())
    return phrases, frozenset(_first_word(p) for p in phrases)


@lru_cache(maxsize=1024)
def _first_word(phrase: str) -> str:
    """The phrase's first word as ``read`` reads it ("" when it has none)."""
    found = tokens(phrase)
    return found[0][2] if found else ""


def _holds(text: str, phrase: str) -> bool:
    """``has_phrase``, skipped when the phrase's first word is not in the text at all."""
    first = _first_word(phrase)
    reading = read(text)
    return (not first or first in reading.vocabulary) and has_phrase(text, phrase,
                                                                      low=reading.low)


def _requirements(cfg: PolicySettings, draft: Draft) -> Iterator[Finding | None]:
    texts = [text for _, text in draft_texts(draft)]
    whole = "\n".join(texts)
    tags = {t.lower() for text in texts for _, t in read(text).hashtags}
    sponsored = cfg.sponsored or any(_holds(whole, p) for p in cfg.sponsor_phrases)
    if sponsored and not any(has_phrase(whole, p) for p in cfg.sponsored_disclosures):
        yield cfg.finding(
            "sponsored", "*", "a sponsored post without a disclosure; add one of: "
            + ", ".join(cfg.sponsored_disclosures))
    testimonial = cfg.testimonial or any(t.lstrip("#").lower() in tags
                                         for t in cfg.testimonial_hashtags)
    if testimonial and not any(has_phrase(whole, p) for p in cfg.testimonial_disclosures):
        yield cfg.finding("testimonial", "*", "a testimonial without a disclosure; add one "
                                              "of: " + ", ".join(cfg.testimonial_disclosures))
    for tag in cfg.require_hashtags:
        if tag.lstrip("#").lower() not in tags:
            yield cfg.finding("hashtag", "*", f"the campaign requires the hashtag "
                                              f"#{tag.lstrip('#')}; add it to the post")
    for phrase in cfg.require_text:
        if not has_phrase(whole, phrase):
            yield cfg.finding("disclaimer", "*", f"the campaign requires the text "
                                                 f"'{phrase[:200]}'; add it to the post")
