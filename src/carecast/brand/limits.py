"""How long a bio and a display name may be on each platform, and text cut to fit.

Bio (description) limits: X 160 characters, Instagram 150, Bluesky 256 graphemes, Mastodon
500 (the default; an instance may allow more), LinkedIn page description 2,000, Facebook Page
``about`` 100 (Graph API reference, Page), YouTube channel description 1,000 (Data API,
``brandingSettings.channel.description``). Display names: X 50, Mastodon 30, Bluesky 64
graphemes, YouTube 100, Instagram 30.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["BIO_LIMITS", "NAME_LIMITS", "counter", "fit"]

BIO_LIMITS: dict[str, int] = {
    "x": 160, "instagram": 150, "bluesky": 256, "mastodon": 500, "linkedin": 2000,
    "facebook": 100, "youtube": 1000,
}
NAME_LIMITS: dict[str, int] = {
    "x": 50, "mastodon": 30, "bluesky": 64, "youtube": 100, "instagram": 30,
}
_GRAPHEMES = frozenset({"bluesky"})


def counter(channel: str) -> Callable[[str], int]:
    """How ``channel`` counts profile text: graphemes on Bluesky, characters elsewhere."""
    if channel in _GRAPHEMES:
        from carecast.channels.bluesky import graphemes

        return lambda text: len(graphemes(text))
    return len


def fit(text: str, limit: int | None, count: Callable[[str], int] = len) -> str:
    """``text`` cut at the last word boundary that fits ``limit`` (whole when it fits).

    A sentence end is preferred when one falls in the last third; a text with no space
    within the limit is cut at the limit itself.
    """
    text = text.strip()
    if limit is None or count(text) <= limit:
        return text
    words = text.split(" ")
    kept = ""
    for word in words:
        candidate = f"{kept} {word}" if kept else word
        if count(candidate) > limit:
            break
        kept = candidate
    if not kept:  # one long word: cut inside it
        out = ""
        for char in text:
            if count(out + char) > limit:
                break
            out += char
        return out
    sentence = max(kept.rfind(". "), kept.rfind("! "), kept.rfind("? "))
    if sentence >= len(kept) * 2 // 3:
        return kept[:sentence + 1]
    return kept.rstrip(" ,;:-\u2013\u2014")
