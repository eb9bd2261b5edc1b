"""The post preview as one self-contained HTML page, for the communications team and approvers.

Each account's draft is shown as its platform would show it: thread parts in order, each with
its length against the channel's limit, the image grid with every item's alt text, the link
card, the title; what review found is marked inside the text, by span and category
(``phi.name``), and listed with its action and message.

The marking is computed here once (``marks``, ``segments``) and drawn twice: by the page's
template and by the terminal preview (``carecast.cli.render.marked_post``). The page holds the
post's and drafts' own text and nothing more: finding messages say where, never what, and
nothing is fetched (no script, font, image or style from elsewhere; a strict
Content-Security-Policy says so to the browser): a local image is shown by a small copy
inlined as a ``data:`` URI, read within the channel's media rules, an image by URL by its
name. Everything from the post is escaped (Jinja2's autoescape).
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from carecast.errors import CarecastError
from carecast.findings import Action, Finding, Span
from carecast.post import Draft, Media, MediaKind, Post
from carecast.templates import environment

if TYPE_CHECKING:
    from carecast.channels import Channel
    from carecast.publish import Preview, TargetPreview

__all__ = ["Mark", "content_security_policy", "marks", "post_texts", "preview_html",
           "segments"]


@dataclass(frozen=True)
class Mark:
    """A flagged span ``[start, end)`` of one field's text and the finding's category."""

    start: int
    end: int
    code: str
    action: Action


def marks(findings: Iterable[Finding], field: str, value: str) -> list[Mark]:
    """The spans that ``findings`` flag in ``field`` (whose text is ``value``), in order; of
    overlapping spans the first is kept, and a span outside the text is left out."""
    found = sorted({(s.start, s.end, f.code, f.action) for f in findings if f.field == field
                    for s in f.spans if 0 <= s.start < s.end <= len(value)},
                   key=lambda m: (m[0], m[1], m[2]))
    out: list[Mark] = []
    last = 0
    for start, end, code, action in found:
        if start >= last:
            out.append(Mark(start, end, code, action))
            last = end
    return out


def segments(value: str, found: Sequence[Mark]) -> list[tuple[str, Mark | None]]:
    """``value`` cut at the marks: ``(text, mark)`` for a flagged piece, ``(text, None)``
    for the text between."""
    out: list[tuple[str, Mark | None]] = []
    last = 0
    for mark in found:
        if mark.start > last:
            out.append((value[last:mark.start], None))
        out.append((value[mark.start:mark.end], mark))
        last = mark.end
    if last < len(value):
        out.append((value[last:], None))
    return out


def post_texts(post: Post) -> dict[str, str]:
    """Every text of a post a finding may point into, by its field name."""
    return {"text": post.text, "title": post.title or "",
            **{f"thread[{i}]": part for i, part in enumerate(post.thread)},
            **{f"media[{i}].alt_text": m.alt_text or "" for i, m in enumerate(post.media)},
            **{f"media[{i}].title": m.title or "" for i, m in enumerate(post.media)}}


# -- findings on the post, placed in a draft ---------------------------------------------------

def _moved(finding: Finding, field: str, spans: Sequence[Span]) -> Finding:
    return finding.model_copy(update={"field": field, "spans": tuple(spans)})


Blocks = list[tuple[int, int, int]]


def _blocks(value: str, text: str, start: int) -> tuple[Blocks, int]:
    """Where ``text`` holds stretches of ``value`` unchanged, as ``(at in value, at in text,
    length)``, and where in ``value`` the next part begins. A text that holds the whole value
    (a channel added hashtags or a link) is found directly; else difflib matches the
    stretches of a thread's part against the value near ``start`` (where the part before it
    ended), so a long text cut into many parts costs each part its own length only."""
    at = text.find(value) if value else -1
    if at >= 0:
        return [(0, at, len(value))], start
    low, high = max(0, start - 64), min(len(value), start + 2 * len(text) + 64)
    blocks = [(a + low, b, size) for a, b, size in SequenceMatcher(
        None, value[low:high], text, autojunk=False).get_matching_blocks() if size]
    held = [a + size for a, _, size in blocks if size >= min(20, len(text) // 2)]
    return blocks, max(held, default=start)


def _shifted(spans: Sequence[Span], blocks: Blocks) -> list[Span]:
    """The spans carried through ``blocks``; a span no block holds whole is left out."""
    out = []
    for span in spans:
        for a, b, size in blocks:
            if a <= span.start and span.end <= a + size:
                out.append(Span(start=b + span.start - a, end=b + span.end - a))
                break
    return out


def _placed(post: Post, findings: Sequence[Finding], draft: Draft) -> list[Finding]:
    """The post's findings on its text, thread and alt texts, carried onto the draft's parts
    that hold the flagged text; the draft's own findings as they are."""
    out = [f for f in findings if f.field.startswith("parts[") or f.field == "title"]
    texts = post_texts(post)
    flagged = [f for f in findings if f.spans and (f.field == "text"
                                                     or f.field.startswith("thread["))]
    starts = dict.fromkeys((f.field for f in flagged), 0)  # where each field's next part begins
    for i, part in enumerate(draft.parts):
        blocks: dict[str, Blocks] = {}
        for name in starts:
            blocks[name], starts[name] = _blocks(texts.get(name, ""), part.text, starts[name])
        for f in flagged:
            spans = _shifted(f.spans, blocks[f.field])
            if spans:
                out.append(_moved(f, f"parts[{i}].text", spans))
        for j, item in enumerate(part.media):
            for k, original in enumerate(post.media):
                if original.source == item.source and original.alt_text == item.alt_text:
                    out.extend(_moved(f, f"parts[{i}].media[{j}].alt_text", f.spans)
                               for f in findings if f.field == f"media[{k}].alt_text")
    return out


# -- the page ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Field:
    """A text with its marks, as the template draws it."""

    pieces: list[tuple[str, Mark | None]]

    @classmethod
    def of(cls, findings: Sequence[Finding], field: str, value: str) -> _Field:
        return cls(segments(value, marks(findings, field, value)))


def _count(length: int, limit: int | None, unit: str) -> dict[str, Any]:
    return {"length": length, "limit": limit, "unit": unit,
            "over": limit is not None and length > limit}


#: The longest side of an image's copy in the grid, in pixels.
THUMBNAIL = 480


def _thumbnail(item: Media, channel: Channel | None, made: dict[Path, str | None]
               ) -> str | None:
    """A small copy of a local image as a ``data:`` URI, read within the channel's media
    rules; None for a URL (nothing is fetched), a video or sound, or a file that cannot be
    read or decoded (the grid then shows its name)."""
    if channel is None or item.is_url or item.kind not in (MediaKind.IMAGE, MediaKind.GIF):
        return None
    path = item.path(channel.root)
    if path not in made:
        from PIL import Image, UnidentifiedImageError

        rules = channel.media_rules
        try:
            with Image.open(io.BytesIO(rules.read(path, kind=str(item.kind)))) as image:
                if image.width * image.height > rules.max_pixels:
                    raise ValueError("over [media] max_pixels")
                image.thumbnail((THUMBNAIL, THUMBNAIL))
                out = io.BytesIO()
                image.convert("RGB").save(out, "JPEG", quality=82)
            made[path] = "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()
        except (CarecastError, OSError, ValueError, UnidentifiedImageError,
                Image.DecompressionBombError):
            made[path] = None
    return made[path]


def _media(item: Media, findings: Sequence[Finding], field: str, thumbnail: str | None
           ) -> dict[str, Any]:
    return {"kind": str(item.kind), "filename": item.filename, "thumbnail": thumbnail,
            "alt": _Field.of(findings, f"{field}.alt_text", item.alt_text)
            if item.alt_text else None}


def _card(link: str, title: str | None) -> dict[str, str]:
    return {"url": link, "host": urlsplit(link).hostname or link, "title": title or link}


def _target(preview: Preview, target: TargetPreview, made: dict[Path, str | None]
            ) -> dict[str, Any]:
    channel = target.instance
    unit = channel.text_unit if channel is not None else "characters"
    shown: dict[str, Any] = {
        "account": target.account, "channel": target.channel,
        "platform": channel.title if channel is not None else target.channel,
        "state": str(target.state), "held_until": target.held_until,
        "error": target.error, "draft": None,
        # the post's own findings are shown once, above the accounts
        "findings": [f for f in target.findings if f not in preview.findings]}
    draft = target.draft
    if draft is None:
        return shown
    findings = _placed(preview.post, [*preview.findings, *target.findings], draft)
    total = len(draft.parts)
    # the card goes with the part that carries the link, as the platforms show it
    card_at = next((i for i, p in enumerate(draft.parts) if draft.link and draft.link in p.text),
                   total - 1)
    shown["draft"] = {
        "title": _Field.of(findings, "title", draft.title) if draft.title else None,
        "title_count": _count(len(draft.title), channel.max_title if channel else None,
                              "characters") if draft.title else None,
        "card": _card(draft.link, draft.title or preview.post.title) if draft.link else None,
        "card_at": card_at,
        "parts": [{"number": i + 1, "of": total,
                   "text": _Field.of(findings, f"parts[{i}].text", part.text),
                   "count": _count(part.length, part.limit, unit),
                   "media": [_media(m, findings, f"parts[{i}].media[{j}]",
                                    _thumbnail(m, channel, made))
                             for j, m in enumerate(part.media)]}
                  for i, part in enumerate(draft.parts)]}
    return shown


@cache
def _style() -> str:
    source, _, _ = environment().loader.get_source(environment(), "preview.css")
    return str(source)


def content_security_policy() -> str:
    """The page's policy: nothing loads from anywhere, no script runs, only its own style
    (by hash) applies; images only inline."""
    digest = base64.b64encode(hashlib.sha256(_style().encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def preview_html(preview: Preview) -> str:
    """The page for ``preview`` (``Publisher.preview``): one section per account."""
    post = preview.post
    texts = post_texts(post)
    made: dict[Path, str | None] = {}  # each image's copy, made once for every account
    written = [(name, _Field.of(preview.findings, name, value)) for name, value in texts.items()
               if value and marks(preview.findings, name, value)]
    return str(environment().get_template("preview.html").render(
        post=post, ok=preview.ok, findings=preview.findings, written=written,
        targets=[_target(preview, t, made) for t in preview.targets],
        style=_style(), csp=content_security_policy()))
