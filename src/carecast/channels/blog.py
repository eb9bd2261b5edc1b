"""Blog: a static blog in a folder, with an Atom feed that doubles as a podcast feed.

No credentials and no server: each post becomes ``posts/<slug>.html``, ``index.html`` lists
the posts newest first and ``feed.xml`` is an Atom 1.0 feed (audio files become podcast
enclosures). Local media are copied into ``media/`` under their content hash. Each post's
metadata is kept in ``entries/<key>.json``: the index and the feed are rebuilt from those
files, and ``lookup`` is a check for one of them. Every file is written atomically (a
temporary file in the same folder, then ``os.replace``) under a lock on the folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import html
import json
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.post import Draft, Media, MediaKind, Post, Profile, Receipt

__all__ = ["BlogChannel", "BlogOptions", "derive_title", "html_body", "slug_for", "slug_words",
           "write_atomic"]

ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="alternate" type="application/atom+xml" title="{blog}" href="{home}feed.xml">
</head><body><header><a href="{home}index.html">{blog}</a></header>
<main>
{main}
</main></body></html>
"""


class BlogOptions(ChannelOptions):
    """Settings of a blog account; none are required."""

    path: str = Field(default="blog", description="Output folder, relative to the config file.")
    base_url: str | None = Field(
        default=None, description="Absolute URL the folder is served from; default file://.")
    title: str = Field(default="Blog", min_length=1)
    description: str | None = None
    author: str | None = Field(default=None, description="Author name; default the title.")
    language: str = Field(default="en", pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https", "file") or (
                parts.scheme != "file" and not parts.netloc):
            raise ValueError("give an absolute URL, such as https://example.org/blog/")
        return value if value.endswith("/") else value + "/"


def derive_title(text: str, limit: int = 80) -> str:
    """The first sentence of ``text``'s first paragraph, cut at a word boundary to ``limit``."""
    first = next((p for p in _PARAGRAPH.split(text) if p.strip()), "")
    sentence = " ".join(re.split(r"(?<=[.!?…])\s", first.strip(), maxsplit=1)[0].split())
    if len(sentence) <= limit:
        return re.sub(r"(?<!\.)\.$", "", sentence).rstrip()
    cut = sentence[:limit - 1]
    if sentence[limit - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def slug_words(title: str) -> str:
    """The title as lower-case ASCII words joined by ``-`` (at most 60 characters)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-") \
        or "post"


def slug_for(title: str, when: datetime, key: str) -> str:
    """``<date>-<title words>-<hash of key>``: readable, unique per key, stable for it."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{when.astimezone(UTC):%Y-%m-%d}-{slug_words(title)}-{digest}"


class BlogChannel(Channel):
    """Write posts as a static HTML blog with an Atom (and podcast) feed."""

    name: ClassVar[str] = "blog"
    title: ClassVar[str] = "Static blog and podcast feed"
    Options = BlogOptions
    max_title = 200
    max_media = 50
    media_kinds = frozenset(MediaKind)
    #: One site folder: the files are written one at a time.
    per_account: ClassVar[int] = 1
    per_host: ClassVar[int] = 1
    idempotent_publish = True  # a second publish with the same key returns the first
    options: BlogOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session, clock=clock)
        self.folder = self.root / Path(self.options.path).expanduser()
        self.base_url = self.options.base_url or self.folder.resolve().as_uri() + "/"

    def render(self, post: Post) -> Draft:
        """The base draft, titled with the text's first sentence when the post has no title."""
        draft = super().render(post)
        if draft.title and draft.title.strip():
            return draft
        texts = [draft.text, *(m.title or m.alt_text or "" for m in draft.media)]
        source = next((t for t in texts if t.strip()), "")
        return draft.model_copy(update={"title": derive_title(source) or "Untitled"})

    # -- platform calls ----------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        with self._locked():
            entry = self._entry(key)
            if entry is None:  # the entry is written last: it marks a complete publish
                when = self.clock.now().astimezone(UTC).replace(microsecond=0)
                title = draft.title or "Untitled"
                entry = {"key": key, "post_id": draft.post_id, "title": title,
                         "slug": slug_for(title, when, key),
                         "published": when.isoformat(),
                         "language": draft.language or self.options.language,
                         "text": "\n\n".join(part.text for part in draft.parts),
                         "media": [self._copy(item) for item in draft.media]}
                write_atomic(self._page(entry["slug"]), self._page_html(entry).encode())
                self._rebuild([e for e in self._entries() if e["key"] != key] + [entry])
                write_atomic(self._entry_path(key), json.dumps(entry, indent=2).encode())
        return self._receipt(draft.post_id, entry)

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        entry = self._entry(key)
        return self._receipt(draft.post_id, entry) if entry else None

    def delete(self, receipt: Receipt) -> None:
        """Remove the post's page and entry, rebuild the index and feed; a no-op if gone."""
        with self._locked():
            entries = self._entries()
            gone = next((e for e in entries if e["slug"] == receipt.remote_id), None)
            if gone is None:
                return
            keep = [e for e in entries if e is not gone]
            self._rebuild(keep)  # the entry goes last, so an interrupted delete can be redone
            self._page(gone["slug"]).unlink(missing_ok=True)
            used = {m["href"] for e in keep for m in e["media"]}
            for href in {m["href"] for m in gone["media"]} - used:
                if href.startswith("media/"):
                    (self.folder / href).unlink(missing_ok=True)
            self._entry_path(gone["key"]).unlink(missing_ok=True)

    def fetch_profile(self) -> Profile:
        return Profile(channel=self.name, account=self.account, display_name=self.options.title,
                       description=self.options.description, website=self.base_url)

    # -- files -------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".carecast.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer across processes; freed on close
            yield

    def _page(self, slug: str) -> Path:
        return self.folder / "posts" / f"{slug}.html"

    def _entry_path(self, key: str) -> Path:
        name = key if _SAFE_KEY.fullmatch(key) else "k-" + hashlib.sha256(key.encode()).hexdigest()
        return self.folder / "entries" / f"{name}.json"

    def _entry(self, key: str) -> dict[str, Any] | None:
        try:
            entry: dict[str, Any] = json.loads(self._entry_path(key).read_text("utf-8"))
        except FileNotFoundError:
            return None
        return entry

    def _entries(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text("utf-8")) for p in (self.folder / "entries").glob("*.json")]

    def _copy(self, item: Media) -> dict[str, Any]:
        assert item.kind is not None  # set by Media's validator
        info = {"kind": item.kind.value, "type": item.mime_type, "alt_text": item.alt_text,
                "title": item.title}
        if item.is_url:
            return {**info, "href": item.source, "length": None}
        source = item.path(self.root)
        with open(source, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        suffix = re.sub(r"[^a-z0-9.]", "", source.suffix.lower())
        target = self.folder / "media" / f"{digest[:20]}{suffix}"
        if not target.exists():
            write_atomic(target, source)
        return {**info, "href": f"media/{target.name}", "length": target.stat().st_size}

    def _receipt(self, post_id: str, entry: dict[str, Any]) -> Receipt:
        return Receipt(post_id=post_id, account=self.account, channel=self.name,
                       remote_id=entry["slug"], url=f"{self.base_url}posts/{entry['slug']}.html",
                       published_at=datetime.fromisoformat(entry["published"]),
                       extra={"key": entry["key"]})

    def _rebuild(self, entries: list[dict[str, Any]]) -> None:
        entries = sorted(entries, key=lambda e: (e["published"], e["key"]), reverse=True)
        write_atomic(self.folder / "index.html", self._index_html(entries).encode())
        write_atomic(self.folder / "feed.xml", self._feed(entries))

    # -- HTML and Atom -----------------------------------------------------------------------

    def _page_html(self, entry: dict[str, Any]) -> str:
        day = entry["published"][:10]
        meta = f'<time datetime="{entry["published"]}">{day}</time>'
        if self.options.author:
            meta += f" · {html.escape(self.options.author)}"
        main = (f'<article>\n<h1>{html.escape(entry["title"])}</h1>\n<p class="meta">{meta}</p>\n'
                f"{html_body(entry, '../')}\n</article>")
        return _PAGE.format(lang=html.escape(entry["language"]), blog=html.escape(
            self.options.title), title=html.escape(entry["title"]), home="../", main=main)

    def _index_html(self, entries: list[dict[str, Any]]) -> str:
        blog = html.escape(self.options.title)
        items = "\n".join(
            f'<li><time datetime="{e["published"]}">{e["published"][:10]}</time> '
            f'<a href="posts/{e["slug"]}.html">{html.escape(e["title"])}</a></li>'
            for e in entries)
        about = (f"<p>{html.escape(self.options.description)}</p>\n"
                 if self.options.description else "")
        main = (f'<h1>{blog}</h1>\n{about}<ul class="posts">\n{items}\n</ul>\n'
                '<p><a href="feed.xml">Atom feed</a></p>')
        return _PAGE.format(lang=html.escape(self.options.language), blog=blog, title=blog,
                            home="", main=main)

    def _feed(self, entries: list[dict[str, Any]]) -> bytes:
        feed = ET.Element("feed", {"xmlns": ATOM, _XML_LANG: self.options.language})
        _sub(feed, "id", _urn(self.base_url))
        _sub(feed, "title", self.options.title)
        if self.options.description:
            _sub(feed, "subtitle", self.options.description)
        _sub(feed, "updated", entries[0]["published"] if entries else
             self.clock.now().astimezone(UTC).replace(microsecond=0).isoformat())
        _sub(feed, "link", rel="self", type="application/atom+xml",
             href=self.base_url + "feed.xml")
        _sub(feed, "link", rel="alternate", type="text/html", href=self.base_url + "index.html")
        _sub(feed, "generator", "carecast")
        for entry in entries:
            item = _sub(feed, "entry")
            _sub(item, "id", _urn(entry["key"]))
            _sub(item, "title", entry["title"])
            _sub(item, "updated", entry["published"])
            _sub(item, "published", entry["published"])
            _sub(item, "link", rel="alternate", type="text/html",
                 href=f"{self.base_url}posts/{entry['slug']}.html")
            for media in entry["media"]:
                if media["kind"] == MediaKind.AUDIO:
                    attrs = {"rel": "enclosure", "type": media["type"],
                             "href": _absolute(media["href"], self.base_url)}
                    if media["length"]:
                        attrs["length"] = str(media["length"])
                    _sub(item, "link", **attrs)
            _sub(_sub(item, "author"), "name", self.options.author or self.options.title)
            _sub(item, "content", html_body(entry, self.base_url), type="html")
        ET.indent(feed)
        data: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
        return data


def html_body(entry: dict[str, Any], base: str) -> str:
    """The post's HTML: escaped paragraphs with links, then its media (hrefs from ``base``)."""
    out = [f"<p>{_linkify(p.strip())}</p>" for p in _PARAGRAPH.split(entry["text"])
           if p.strip()]
    for media in entry["media"]:
        src = html.escape(_absolute(media["href"], base))
        alt = html.escape(media["alt_text"] or "")
        if media["kind"] in ("image", "gif"):
            element, caption = f'<img src="{src}" alt="{alt}">', media["title"]
        else:  # audio or video: the alt text labels it for screen readers
            tag, label = media["kind"], f' aria-label="{alt}"' if alt else ""
            element = (f'<{tag} controls preload="metadata" src="{src}"{label}>'
                       f'<a href="{src}">Download the {tag}</a></{tag}>')
            caption = media["title"] or media["alt_text"]
        caption = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        out.append(f"<figure>{element}{caption}</figure>")
    return "\n".join(out)


def _linkify(text: str) -> str:
    """HTML-escape ``text``; URLs become links and line breaks ``<br>``."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = html.escape(match.group())
        out += [html.escape(text[last:match.start()]), f'<a href="{url}">{url}</a>']
        last = match.end()
    out.append(html.escape(text[last:]))
    return "<br>\n".join(line.strip() for line in "".join(out).splitlines())


def _absolute(href: str, base: str) -> str:
    return href if "://" in href else base + href


def _urn(value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'carecast:' + value)}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def write_atomic(path: Path, data: bytes | Path) -> None:
    """Write ``data`` (or copy the file ``data``) to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, Path):
                with open(data, "rb") as source:
                    shutil.copyfileobj(source, f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a web server must read the files
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
