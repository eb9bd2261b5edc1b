"""Every place of a post the PHI guard scans, and the post as stored once those are masked.

``places(post)`` is the one list: the text, title, thread parts, the link (its query decoded),
hashtags, each media item's alt text, title and file name, and every channel override's
text, title and media. The guard scans these; ``withheld(post, findings, flagged)`` masks the
same places for the store, so that no place the guard reads keeps flagged text in clear.
Masking fails closed: a place whose findings carry no usable spans is masked whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    from carecast.findings import Finding
    from carecast.post import Media, Post

__all__ = ["MASK", "Place", "places", "withheld"]

MASK = "[withheld]"
_LINK_MASK = "https://withheld.invalid/"
_QUERY_SEPARATORS = str.maketrans("?&=;", "    ")
_TAG_WORDS = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])|_")
_CAMERA_NAME = re.compile(r"(?:IMG|PXL|VID|DSC[NF]?|MVIMG|Screenshot|Photo|image)[\d _.-]*"
                          r"|(?:19|20)\d{6}[ _-]?\d{4,6}(?:[ _-]\d{1,3})?", re.IGNORECASE)


class Place(NamedTuple):
    """One published text: its finding field, where it is, how to read it back and set it."""

    field: str  # the finding's field ("*" for a place the gate cannot rewrite by spans)
    where: str  # said in messages: "overrides.x.text", "hashtags[0]", "media[0] file name"
    text: str  # what the scanner reads
    path: tuple[str | int, ...]  # where the value lives in the post
    redactable: bool = False  # the gate can rewrite the spans in place
    exact: bool = True  # the offsets are the place's own (not a rewritten hashtag)


def places(post: Post) -> Iterator[Place]:
    """Every text of the post that is published."""
    if post.text:
        yield Place("text", "text", post.text, ("text",), redactable=True)
    if post.title:
        yield Place("title", "title", post.title, ("title",), redactable=True)
    for i, part in enumerate(post.thread):
        yield Place(f"thread[{i}]", f"thread[{i}]", part, ("thread", i), redactable=True)
    if post.link:
        decoded = unquote_plus(post.link)  # query parameters read as words: "?phone=..."
        plain = decoded == post.link
        yield Place("link", "link", decoded.translate(_QUERY_SEPARATORS), ("link",),
                    plain, plain)
    for i, media in enumerate(post.media):
        yield from _media_places(f"media[{i}]", f"media[{i}]", ("media", i), media)
    for i, tag in enumerate(post.hashtags):  # "#PrayForMariaGarcia" reads as words
        yield Place("*", f"hashtags[{i}]", _TAG_WORDS.sub(" ", tag), ("hashtags", i),
                    exact=False)
    for channel, override in sorted(post.overrides.items()):
        where = f"overrides.{channel}"
        for name in ("text", "title"):
            value = getattr(override, name)
            if value:
                yield Place("*", f"{where}.{name}", value, ("overrides", channel, name))
        for i, media in enumerate(override.media or ()):
            yield from _media_places("*", f"{where}.media[{i}]",
                                     ("overrides", channel, "media", i), media)
        for i, tag in enumerate(override.hashtags or ()):
            yield Place("*", f"{where}.hashtags[{i}]", _TAG_WORDS.sub(" ", tag),
                        ("overrides", channel, "hashtags", i), exact=False)


def _media_places(field: str, where: str, path: tuple[str | int, ...],
                  media: Media) -> Iterator[Place]:
    own = field != "*"
    for name in ("alt_text", "title"):
        value = getattr(media, name)
        if value:
            yield Place(f"{field}.{name}" if own else field, f"{where}.{name}", value,
                        (*path, name), own)
    # A file name's separators read as spaces ("jane_doe_dob_1950-02-03.jpg"); a camera's own
    # name (IMG_20240314_093015.jpg) is a time stamp, not PHI.
    name = media.filename.rsplit(".", 1)[0]
    if name and not _CAMERA_NAME.fullmatch(name):
        yield Place(f"{field}.source" if own else field, f"{where} file name",
                    name.replace("_", " ").replace("+", " "), (*path, "source"))


def withheld(post: Post, findings: Sequence[Finding],
             flagged: Callable[[Place], bool]) -> Post:
    """``post`` with every flagged place masked: the spans of its findings when they fit the
    place's own text, else the whole value. ``flagged(place)`` says whether the guard found
    PHI in a place whose findings cannot point into it (field ``*``, a decoded link)."""
    masked = post
    for place in places(post):
        spans = [s for f in findings if f.field == place.field and place.field != "*"
                 for s in f.spans]
        if spans and place.redactable and _fits(place.text, spans):
            value: Any = _cut(place.text, [(s.start, s.end) for s in spans])
        elif spans or flagged(place):
            value = _whole_mask(place, _get(post, place.path))
        else:
            continue
        masked = _set(masked, place.path, value)
    return masked


def _fits(text: str, spans: Sequence[Any]) -> bool:
    return all(0 <= s.start < s.end <= len(text) for s in spans)


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:  # overlapping spans: merge
            start = last
        if start < end:
            out += [text[last:start], MASK]
            last = max(last, end)
    return "".join(out) + text[last:]


def _whole_mask(place: Place, value: Any) -> str:
    name = place.path[-1]
    if name == "link":
        return _LINK_MASK
    if name == "source":  # keep the kind of file, lose its name
        suffix = PurePosixPath(str(value).replace("\\", "/")).suffix
        return ("https://withheld.invalid/withheld" if "://" in str(value)
                else "withheld") + suffix
    if place.path[-2:-1] == ("hashtags",):
        return "withheld"
    return MASK


def _get(obj: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        obj = obj[step] if isinstance(step, int) or isinstance(obj, dict) else getattr(obj, step)
    return obj


def _set(obj: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``obj`` with the value at ``path`` replaced (models, tuples and dicts)."""
    step, rest = path[0], path[1:]
    if isinstance(obj, tuple) and isinstance(step, int):
        items = list(obj)
        items[step] = _set(items[step], rest, value) if rest else value
        return tuple(items)
    if isinstance(obj, dict):
        return {**obj, step: _set(obj[step], rest, value) if rest else value}
    inner = getattr(obj, str(step))
    return obj.model_copy(update={str(step): _set(inner, rest, value) if rest else value})
