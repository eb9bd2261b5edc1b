"""The brand voice check (``[checks.voice]``): names spelled the brand's way, banned phrases,
campaign hashtags.

Reads the rules from the brand's ``voice`` table (``[brands.NAME.voice]``):

- ``spelling``: a brand or service name written nearly right (``Mychart``, ``My Chart``,
  ``Riverside Generel``): the span and the preferred spelling (``rapidfuzz`` similarity of at
  least ``threshold``);
- ``banned``: a banned word or phrase, with the brand's suggestion when it gives one;
- ``hashtag``: a hashtag the brand (or the post's campaign) requires and the post lacks.

Each is a WARN unless the brand says otherwise: ``[brands.NAME.checks.voice] action =
"block"`` (or ``actions.banned = "block"`` for one kind).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from carecast.compliance._settings import CheckConfig, phrase_matches
from carecast.compliance.reading import read
from carecast.findings import Action, Finding, Span
from carecast.hookspecs import hookimpl

if TYPE_CHECKING:
    from carecast.config import BrandConfig, CheckSettings, VoiceRules
    from carecast.post import Post

__all__ = ["VoiceSettings", "carecast_review_post"]

_WORD = re.compile("[\\w\u2019'-]+")


class VoiceSettings(CheckConfig):
    """``[checks.voice]``."""

    NAME: ClassVar[str] = "voice"
    DEFAULTS: ClassVar[dict[str, Action]] = {
        "spelling": Action.WARN, "banned": Action.WARN, "hashtag": Action.WARN}

    threshold: float = Field(default=85.0, ge=50, le=100,
                             description="Least similarity (0-100) of a near-miss spelling.")


@hookimpl
def carecast_review_post(post: Post, brand: BrandConfig | None,
                         settings: CheckSettings) -> list[Finding]:
    """Spelling of the brand's names, banned phrases and missing hashtags in the post."""
    if brand is None:
        return []
    cfg = VoiceSettings.read(settings)
    if isinstance(cfg, list):
        return cfg
    rules = brand.voice
    found: list[Finding | None] = []
    for place, text in _texts(post):
        found.extend(_spelling(cfg, rules, place, text))
        found.extend(_banned(cfg, rules, place, text))
    found.extend(_hashtags(cfg, rules, post))
    return [f for f in found if f is not None]


def _texts(post: Post) -> Iterator[tuple[str, str]]:
    if post.title:
        yield "title", post.title
    yield "text", post.text
    for i, part in enumerate(post.thread):
        yield f"thread[{i}]", part


def _fold(text: str) -> str:
    return re.sub("[\\s\u2019'-]+", "", text.casefold())


def _spelling(cfg: VoiceSettings, rules: VoiceRules, place: str, text: str
              ) -> Iterator[Finding | None]:
    if not rules.names:
        return
    from rapidfuzz import fuzz

    words = list(_WORD.finditer(text))
    taken: list[tuple[int, int]] = []
    for name in sorted(rules.names, key=len, reverse=True):
        want = _fold(name)
        size = len(name.split())
        for width in dict.fromkeys(w for w in (size, size - 1, size + 1) if w > 0):
            for i in range(len(words) - width + 1):
                start, end = words[i].start(), words[i + width - 1].end()
                written = re.sub("[\u2019']s$", "", text[start:end])
                end = start + len(written)
                if any(s < end and start < e for s, e in taken):
                    continue
                if written == name:
                    taken.append((start, end))
                    continue
                got = _fold(written)
                close = got == want or (  # typos only over the name's own word count
                    width == size and len(want) >= 5 and fuzz.ratio(got, want) >= cfg.threshold
                    and got[:1] == want[:1])
                if not close:
                    continue
                taken.append((start, end))
                yield cfg.finding(
                    "spelling", place,
                    f"{place}: characters {start}-{end} spell a brand name another way; "
                    f"write {name!r}",
                    spans=(Span(start=start, end=end, replacement=name),))


def _banned(cfg: VoiceSettings, rules: VoiceRules, place: str, text: str
            ) -> Iterator[Finding | None]:
    suggest = {k.casefold(): v for k, v in rules.suggest.items()}
    for phrase in rules.banned:
        for match in phrase_matches(text, phrase):
            instead = suggest.get(phrase.casefold())
            hint = f"write {instead!r} instead" if instead else "remove it"
            yield cfg.finding(
                "banned", place,
                f"{place}: characters {match.start()}-{match.end()} use the banned phrase "
                f"{phrase!r}; {hint}",
                spans=(Span(start=match.start(), end=match.end(), replacement=instead or ""),))


def _hashtags(cfg: VoiceSettings, rules: VoiceRules, post: Post) -> Iterator[Finding | None]:
    required = [*rules.hashtags, *rules.campaign_hashtags.get(post.campaign or "", [])]
    if not required:
        return
    have = {t.casefold() for t in post.hashtags}
    for _, text in _texts(post):
        have |= {tag.casefold() for _, tag in read(text).hashtags}
    for tag in dict.fromkeys(required):
        if tag.casefold() not in have:
            why = f"the campaign {post.campaign!r}" if tag in rules.campaign_hashtags.get(
                post.campaign or "", []) else "the brand"
            yield cfg.finding("hashtag", "*",
                              f"the post lacks #{tag}, which {why} requires; add it to "
                              "hashtags")
