"""Accessibility: alt text, video captions, CamelCase hashtags and a cap on emoji.

Reviews each draft (the media and text one account receives):

- ``alt_text``: an image or GIF without alt text, or with alt text that says nothing (the file
  name, "image", "photo", ...);
- ``captions``: a video without captions on a channel that can carry captions: the media
  item's ``captions`` (a WebVTT or SubRip file), or a caption file next to it with the same stem
  (``clinic-tour.mp4`` + ``clinic-tour.vtt``, or ``clinic-tour.en.vtt``);
- ``hashtag``: a long all-lowercase hashtag of several words, which a screen reader reads as
  one word (``#hearthealthmonth``); the finding suggests the CamelCase form
  (``#HeartHealthMonth``). Word splitting uses the ``wordsegment`` package when installed;
- ``emoji``: more emoji in one part than ``max_emoji`` (screen readers read each one's name).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from carecast.compliance._settings import CheckConfig, draft_texts
from carecast.compliance.reading import read
from carecast.findings import Action, Finding
from carecast.hookspecs import hookimpl
from carecast.post import MediaKind

if TYPE_CHECKING:
    from carecast.config import CheckSettings
    from carecast.post import Draft, Media

__all__ = [
    "AccessibilitySettings",
    "camel_case",
    "caption_file",
    "carecast_review_draft",
    "count_emoji",
]

CAPTION_SUFFIXES = (".vtt", ".srt")
# Emoji: pictographs, symbols and dingbats; a ZWJ sequence, a keycap, a flag (two regional
# indicators) or a pictograph with a skin tone or variation selector counts as one.
# Text symbols that are emoji only with the emoji variation selector (U+FE0F): arrows, (c).
_PICTO = (r"(?:[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF]|"
          r"[\u2190-\u21FF\u00A9\u00AE\u203C\u2049\u2122\u2139\u3030\u303D\u3297\u3299]\uFE0F)")
_MOD = r"[\uFE0F\u20E3\U0001F3FB-\U0001F3FF]*"
_EMOJI = re.compile(
    rf"[\U0001F1E6-\U0001F1FF]{{2}}|[0-9#*]\uFE0F?\u20E3|{_PICTO}{_MOD}(?:\u200D{_PICTO}{_MOD})*")
#: A character every emoji holds (a flag's, a keycap's, a pictograph's or the variation
#: selector): a text without one has none, told by one scan for a class.
_EMOJI_MARK = re.compile(
    r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF\u20E3\uFE0F]")


class AccessibilitySettings(CheckConfig):
    """``[checks.accessibility]``."""

    NAME: ClassVar[str] = "accessibility"
    DEFAULTS: ClassVar[dict[str, Action]] = {
        "alt_text": Action.REVIEW, "captions": Action.WARN, "hashtag": Action.WARN,
        "emoji": Action.WARN,
    }

    useless_alt: list[str] = Field(default_factory=lambda: [
        "image", "photo", "picture", "pic", "img", "graphic", "screenshot", "untitled",
        "alt", "alt text", "placeholder", "thumbnail"])
    caption_channels: list[str] = Field(
        default_factory=lambda: ["youtube", "facebook", "x", "linkedin", "bluesky", "blog"],
        description="Channels whose platforms take a caption file with a video.")
    hashtag_min_length: int = Field(default=8, ge=2)
    max_emoji: int = Field(default=3, ge=0)


@hookimpl
def carecast_review_draft(draft: Draft, settings: CheckSettings) -> list[Finding]:
    """Alt text, captions, hashtags and emoji of one account's draft."""
    cfg = AccessibilitySettings.read(settings)
    if not isinstance(cfg, AccessibilitySettings):
        return cfg
    root = settings.config.root if hasattr(settings, "config") else None
    found = [*_media(cfg, draft, root), *_text(cfg, draft)]
    return [f for f in found if f is not None]


def caption_file(media: Media, root: Path | None = None) -> Path | None:
    """The caption file of a local video (same stem, ``.vtt`` or ``.srt``), if there is one."""
    if media.is_url:
        return None
    video = media.path(root)
    for candidate in sorted(video.parent.glob(f"{glob_escape(video.stem)}*")):
        rest = candidate.name[len(video.stem):]
        if candidate.suffix.lower() in CAPTION_SUFFIXES and re.fullmatch(
                r"(\.[A-Za-z]{2,3}(-[A-Za-z0-9]+)?)?\.(vtt|srt)", rest, re.IGNORECASE):
            return candidate
    return None


def glob_escape(name: str) -> str:
    """``name`` with the glob wildcards made literal."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _media(cfg: AccessibilitySettings, draft: Draft, root: Path | None
           ) -> Iterator[Finding | None]:
    if not any(part.media for part in draft.parts):
        return  # most drafts: no set of useless alt texts to build
    useless = {u.lower() for u in cfg.useless_alt}
    for i, part in enumerate(draft.parts):
        for j, item in enumerate(part.media):
            field = f"parts[{i}].media[{j}].alt_text"
            if item.kind in (MediaKind.IMAGE, MediaKind.GIF):
                problem = _alt_problem(item, useless)
                if problem:
                    yield cfg.finding("alt_text", field, f"{field}: {problem}; describe what "
                                      "the image shows for people who cannot see it")
            if item.kind is MediaKind.VIDEO and draft.channel in cfg.caption_channels \
                    and not item.captions and caption_file(item, root) is None:
                where = ("a linked video without captions: set captions on the media item"
                         if item.is_url else "no captions: set captions on the media item or "
                         "put a .vtt or .srt file with the video's name next to it")
                yield cfg.finding(
                    "captions", f"parts[{i}].media[{j}].source",
                    f"parts[{i}].media[{j}]: {where}; {draft.channel} can show captions, add a "
                    "caption file with the video's name (or burn captions in and turn "
                    "checks.accessibility.actions.captions off for it)")


def _alt_problem(item: Media, useless: set[str]) -> str | None:
    alt = (item.alt_text or "").strip()
    if not alt:
        return "no alt text"
    bare = re.sub(r"[\W_]+", " ", alt).strip().lower()
    name = item.filename.lower()
    stem = name.rsplit(".", 1)[0]
    if alt.lower() in (name, stem) or bare in (re.sub(r"[\W_]+", " ", stem).strip(), ""):
        return "the alt text is the file name"
    if bare in useless or bare.removeprefix("an ").removeprefix("a ") in useless:
        return "the alt text says only what kind of media it is"
    return None


def _text(cfg: AccessibilitySettings, draft: Draft) -> Iterator[Finding | None]:
    for field, text in draft_texts(draft):
        for at, tag in read(text).hashtags:
            before = text[at - 1:at]
            if before == "&" or before == "_" or before.isalnum():  # "Q&#A", "x#y": not a tag
                continue
            if len(tag) < cfg.hashtag_min_length or tag != tag.lower() or tag.isdigit():
                continue
            better = _better(tag)
            if better is None:
                continue
            yield cfg.finding("hashtag", field, f"{field} at {at}: an all-lowercase "
                              f"hashtag of several words; {better}")
        count = count_emoji(text)
        if count > cfg.max_emoji:
            yield cfg.finding(
                "emoji", field, f"{field}: {count} emoji, more than {cfg.max_emoji}; screen "
                "readers read out each one's name")


@lru_cache(maxsize=1024)
def _better(tag: str) -> str | None:
    """How to write an all-lowercase hashtag of several words, or None for one word: found
    once per tag (posts repeat their hashtags; splitting one into words and scanning the
    suggestion for a name cost more than the rest of the check)."""
    camel = camel_case(tag)
    if camel is None:
        return None
    return (f"screen readers read #{camel} better" if not _may_name(camel)
            else "capitalise each word so screen readers read it right")


def count_emoji(text: str) -> int:
    """How many emoji ``text`` holds, a flag, keycap or ZWJ sequence counting once."""
    if text.isascii() or _EMOJI_MARK.search(text) is None:
        return 0
    return len(_EMOJI.findall(text))


def camel_case(tag: str) -> str | None:
    """``hearthealthmonth`` -> ``HeartHealthMonth``; None if it is one word.

    Without the ``wordsegment`` package every long tag is taken as several words and only
    its first letter is raised.
    """
    words = _segment(tag)
    if words is None:
        return tag[:1].upper() + tag[1:]
    if sum(1 for w in words if any(c.isalpha() for c in w)) < 2:
        return None
    out, pos = [], 0
    for word in words:  # keep the tag's own characters (segment() drops underscores)
        at = tag.lower().find(word, pos)
        if at < 0:
            return None
        out.append(tag[pos:at] + tag[at].upper() + tag[at + 1:at + len(word)])
        pos = at + len(word)
    return "".join(out) + tag[pos:]


def _may_name(camel: str) -> bool:
    """Whether the suggestion may hold a person's name (a finding must not quote it)."""
    words = " ".join(re.findall(r"[A-Z][a-z0-9_]*|[0-9]+", camel))
    try:
        scan = importlib.import_module("carecast.compliance.phi").scan
    except (ImportError, AttributeError):
        return True
    return any(span.category == "NAME" for span in scan(words))


_SEGMENTER: list[Any] = []


def _segment(tag: str) -> list[str] | None:
    if not _SEGMENTER:
        try:
            module = importlib.import_module("wordsegment")
        except ImportError:
            return None
        module.load()
        _SEGMENTER.append(module)
    words: list[str] = _SEGMENTER[0].segment(tag)
    return words
