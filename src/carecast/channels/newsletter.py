"""A draft as a newsletter: its subject, a plain-text body and an HTML body, for the email
channels (SMTP, Listmonk) to share.

The HTML comes from a Jinja2 template with autoescape, so the post's text can never inject
markup: paragraphs, the links in them, then the images, each with its alt text. A local image
is shown inline (``cid:`` of a MIME part the SMTP channel attaches); an image given by URL is
linked where it is. ``unsubscribe`` adds the footer link the channels' lists need.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from carecast.channels.blog import link_pieces
from carecast.post import Draft, Media, MediaKind

__all__ = ["Image", "Newsletter", "content_id", "newsletter"]

_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
_LINE_BREAKS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class Image:
    """One image of a newsletter: where the HTML finds it and how it is described."""

    media: Media
    #: ``cid:...`` for a local file sent as a MIME part, else the image's own URL.
    src: str
    alt: str

    @property
    def inline(self) -> bool:
        """Whether the image travels in the message (a local file), not by link."""
        return self.src.startswith("cid:")


@dataclass(frozen=True)
class Newsletter:
    """What every subscriber receives: the subject line and the two bodies."""

    subject: str
    text: str
    html: str
    images: tuple[Image, ...]


def content_id(draft: Draft, index: int, domain: str) -> str:
    """The ``Content-ID`` (without brackets) of a draft's local image number ``index``:
    derived from the post and account, so the same draft always gives the same message."""
    digest = hashlib.sha256(f"{draft.post_id}\0{draft.account}\0{index}".encode()).hexdigest()
    return f"img{index}.{digest[:16]}@{domain}"


#: A subject made from the text is cut at a word before this many characters.
SUBJECT_FROM_TEXT = 78


def subject_of(draft: Draft) -> str:
    """The subject line: the draft's title on one line; without one, the text's first line,
    cut at a word before ``SUBJECT_FROM_TEXT`` characters."""
    title = _LINE_BREAKS.sub(" ", draft.title or "").strip()
    if title:
        return title
    first = next((line.strip() for part in draft.parts for line in part.text.splitlines()
                  if line.strip()), "")
    if len(first) <= SUBJECT_FROM_TEXT:
        return first
    cut = first[:SUBJECT_FROM_TEXT - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-")
    return f"{cut or first[:SUBJECT_FROM_TEXT - 1]}\u2026"


def newsletter(draft: Draft, *, domain: str, unsubscribe: str | None = None,
               footer: str | None = None, uploaded: Mapping[int, str] | None = None,
               document: bool = True) -> Newsletter:
    """The newsletter of ``draft``.

    A local image gets a ``cid:`` source under ``domain``, or its URL in ``uploaded`` (by
    media index) where the platform hosts it. ``document`` False gives the HTML body's
    content only, for a platform that wraps it in its own template.
    """
    text = "\n\n".join(part.text for part in draft.parts).strip()
    uploaded = uploaded or {}
    images = tuple(
        Image(media=m, src=m.source if m.is_url else uploaded.get(
            i, f"cid:{content_id(draft, i, domain)}"), alt=m.alt_text or "")
        for i, m in enumerate(draft.media) if m.kind in (MediaKind.IMAGE, MediaKind.GIF))
    subject = subject_of(draft)
    return Newsletter(subject=subject, text=_plain(text, images, unsubscribe, footer),
                      html=_html(subject, text, images, unsubscribe, footer, draft.language,
                                 document),
                      images=images)


def _plain(text: str, images: Sequence[Image], unsubscribe: str | None,
           footer: str | None) -> str:
    lines = [text]
    linked = [f"[{i.alt or 'Image'}] {i.src}" for i in images if not i.inline]
    described = [f"[{i.alt}]" for i in images if i.inline and i.alt]
    if linked or described:
        lines.append("\n".join(linked + described))
    if footer:
        lines.append(footer)
    if unsubscribe:
        lines.append(f"Unsubscribe: {unsubscribe}")
    return "\n\n".join(lines) + "\n"


def _html(subject: str, text: str, images: Sequence[Image], unsubscribe: str | None,
          footer: str | None, language: str | None, document: bool) -> str:
    paragraphs = [[link_pieces(line.strip()) for line in p.strip().splitlines()]
                  for p in _PARAGRAPH.split(text) if p.strip()]
    return str(_template().render(
        subject=subject, paragraphs=paragraphs, language=language or "en",
        images=[{"src": i.src, "alt": i.alt} for i in images],
        unsubscribe=unsubscribe, footer=footer, document=document))


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("carecast.channels", "templates/newsletter"),
        autoescape=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def _template() -> Any:
    return _environment().get_template("email.html")
