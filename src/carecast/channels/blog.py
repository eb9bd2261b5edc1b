"""Blog: a static blog in a folder, with an Atom feed and an RSS 2.0 podcast feed.

No credentials and no server: each post becomes ``posts/<slug>.html``, ``index.html`` lists
the posts newest first, ``feed.xml`` is an Atom 1.0 feed of every post (audio files as
enclosures) and, when the account has a ``[podcast]`` table, ``podcast.xml`` is an RSS 2.0
feed with the iTunes tags podcast directories read, one episode per post with audio. Feeds
are made with ``feedgen`` and pages from Jinja2 templates with autoescape (``templates/blog``).
Local media are copied into ``media/`` under their content hash. Each post's metadata is kept
in ``entries/<key>.json``: the index and the feeds are rebuilt from those files, and
``lookup`` is a check for one of them. Every file is written atomically (a temporary file in
the same folder, then ``os.replace``) under a lock on the folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import ChannelError, ConfigurationError, InputRefused, PlatformRejected
from carecast.post import Draft, Media, MediaKind, Post, Profile, Receipt

__all__ = ["BlogChannel", "BlogOptions", "PodcastOptions", "copy_confined", "derive_title",
           "html_body", "slug_for", "slug_words", "write_atomic"]

_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class PodcastOptions(BaseModel):
    """The show's settings for the RSS 2.0 podcast feed (``[accounts.NAME.podcast]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(description="Square cover art, 1400 to 3000 pixels, a .jpg or .png: a "
                                   "path (relative to the config file) or an http(s) URL.")
    title: str | None = Field(default=None, min_length=1,
                              description="The show's name; default the blog's title.")
    description: str | None = Field(default=None, description="Default the blog's.")
    author: str | None = Field(default=None, description="Default the blog's author.")
    category: str = Field(default="Health & Fitness", min_length=1)
    subcategory: str | None = Field(default="Medicine")
    explicit: bool = False
    owner_name: str | None = None
    owner_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    type: Literal["episodic", "serial"] = "episodic"
    copyright: str | None = None

    @field_validator("image")
    @classmethod
    def _artwork(cls, value: str) -> str:
        if not value.strip() or not urlsplit(value).path.lower().endswith((".jpg", ".png")):
            raise ValueError("give a .jpg or .png file or URL (podcast apps take no other "
                             "artwork), such as image = \"podcast-cover.jpg\"")
        return value


class BlogOptions(ChannelOptions):
    """Settings of a blog account; none are required."""

    path: str = Field(default="blog", description="Output folder, relative to the config file.")
    base_url: str | None = Field(
        default=None, description="Absolute URL the folder is served from; default file://.")
    title: str = Field(default="Blog", min_length=1)
    description: str | None = None
    author: str | None = Field(default=None, description="Author name; default the title.")
    language: str = Field(default="en", pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
    podcast: PodcastOptions | None = Field(
        default=None, description="The show: with it, posts with audio are episodes of an "
                                  "RSS 2.0 podcast feed, podcast.xml.")

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
        show = self.options.podcast
        if show and "://" not in show.image and not (self.root / show.image).is_file():
            raise ConfigurationError(
                f"account {account!r}: podcast.image: no file {show.image!r} (relative to the "
                "config file's folder); give the cover art's path or its https URL")

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
            if self.options.podcast:
                used.add(self._artwork(self.options.podcast))
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
        name = copy_confined(self, item, self.folder / "media")
        target = self.folder / "media" / name
        duration = _duration(target) if item.kind == MediaKind.AUDIO else None
        return {**info, "href": f"media/{name}", "length": target.stat().st_size,
                "duration": duration}

    def _receipt(self, post_id: str, entry: dict[str, Any]) -> Receipt:
        return Receipt(post_id=post_id, account=self.account, channel=self.name,
                       remote_id=entry["slug"], url=self._url(entry),
                       published_at=datetime.fromisoformat(entry["published"]),
                       extra={"key": entry["key"]})

    def _rebuild(self, entries: list[dict[str, Any]]) -> None:
        entries = sorted(entries, key=lambda e: (e["published"], e["key"]), reverse=True)
        write_atomic(self.folder / "index.html", self._index_html(entries).encode())
        write_atomic(self.folder / "feed.xml", self._feed(entries))
        if self.options.podcast:
            write_atomic(self.folder / "podcast.xml", self._podcast(entries, self.options.podcast))
        else:
            (self.folder / "podcast.xml").unlink(missing_ok=True)

    # -- HTML and feeds ----------------------------------------------------------------------

    def _page_html(self, entry: dict[str, Any]) -> str:
        return str(_template("post.html").render(
            lang=entry["language"], blog=self.options.title, title=entry["title"], home="../",
            podcast=self._show_title(), published=entry["published"],
            author=self.options.author, body=_markup(html_body(entry, "../"))))

    def _index_html(self, entries: list[dict[str, Any]]) -> str:
        return str(_template("index.html").render(
            lang=self.options.language, blog=self.options.title, title=self.options.title,
            home="", podcast=self._show_title(), description=self.options.description,
            entries=entries))

    def _show_title(self) -> str | None:
        show = self.options.podcast
        return (show.title or self.options.title) if show else None

    def _feed(self, entries: list[dict[str, Any]]) -> bytes:
        """The Atom 1.0 feed of every post, newest first; audio files are enclosures."""
        feed = _generator(self.options.language)
        feed.id(_urn(self.base_url))
        feed.title(self.options.title)
        if self.options.description:
            feed.subtitle(self.options.description)
        feed.updated(entries[0]["published"] if entries else
                     self.clock.now().astimezone(UTC).replace(microsecond=0))
        feed.link(href=self.base_url + "feed.xml", rel="self", type="application/atom+xml")
        feed.link(href=self.base_url + "index.html", rel="alternate", type="text/html")
        for entry in entries:
            item = feed.add_entry(_atom_entry(), order="append")
            item.id(_urn(entry["key"]))
            item.title(entry["title"])
            item.updated(entry["published"])
            item.published(entry["published"])
            item.link(href=self._url(entry), rel="alternate", type="text/html")
            for media in _audio(entry):
                link = {"href": _absolute(media["href"], self.base_url), "rel": "enclosure",
                        "type": media["type"]}
                if media["length"]:
                    link["length"] = str(media["length"])
                item.link(**link)
            item.author(name=self.options.author or self.options.title)
            item.content(html_body(entry, self.base_url), type="html")
        data: bytes = feed.atom_str(pretty=True, encoding="utf-8")
        return data

    def _podcast(self, entries: list[dict[str, Any]], show: PodcastOptions) -> bytes:
        """The RSS 2.0 podcast feed: one episode per post with audio (its first audio file)."""
        feed = _generator(self.options.language)
        feed.load_extension("podcast")
        author = show.author or self.options.author or self.options.title
        feed.title(show.title or self.options.title)
        feed.description(show.description or self.options.description
                         or show.title or self.options.title)
        feed.link(href=self.base_url + "podcast.xml", rel="self")
        feed.link(href=self.base_url + "index.html", rel="alternate")  # RSS's <link>: last
        image = _absolute(self._artwork(show), self.base_url)
        feed.image(url=image, title=show.title or self.options.title,
                   link=self.base_url + "index.html")
        if show.copyright:
            feed.copyright(show.copyright)
        feed.podcast.itunes_author(author)
        feed.podcast.itunes_image(image)
        category = {"cat": show.category, **({"sub": show.subcategory}
                                             if show.subcategory else {})}
        feed.podcast.itunes_category(category)
        feed.podcast.itunes_explicit("yes" if show.explicit else "no")
        feed.podcast.itunes_type(show.type)
        if show.owner_name and show.owner_email:
            feed.podcast.itunes_owner(name=show.owner_name, email=show.owner_email)
        feed.podcast.itunes_summary(show.description or self.options.description
                                    or show.title or self.options.title)
        episodes = [(e, _audio(e)[0]) for e in entries if _audio(e)]
        if episodes:
            feed.lastBuildDate(episodes[0][0]["published"])
        for entry, audio in episodes:
            item = feed.add_entry(order="append")
            item.guid(_urn(entry["key"]), permalink=False)  # the Atom entry's id: stable
            item.title(entry["title"])
            item.link(href=self._url(entry))
            item.published(entry["published"])
            item.description(_summary(entry["text"]) or entry["title"])
            item.content(html_body(entry, self.base_url), type="CDATA")
            item.enclosure(_absolute(audio["href"], self.base_url),
                           str(audio["length"] or 0), audio["type"])
            item.podcast.itunes_author(author)
            if audio.get("duration") is not None:
                item.podcast.itunes_duration(_hms(audio["duration"]))
            cover = next((m for m in entry["media"] if m["kind"] == MediaKind.IMAGE
                          and m["href"].lower().endswith((".jpg", ".png"))), None)
            if cover:
                item.podcast.itunes_image(_absolute(cover["href"], self.base_url))
        data: bytes = feed.rss_str(pretty=True, encoding="utf-8")
        return data

    def _artwork(self, show: PodcastOptions) -> str:
        """The show's cover: its URL, or ``media/...`` of the local file copied in."""
        return str(self._copy(Media(source=show.image, kind=MediaKind.IMAGE))["href"])

    def _url(self, entry: dict[str, Any]) -> str:
        return f"{self.base_url}posts/{entry['slug']}.html"


def html_body(entry: dict[str, Any], base: str) -> str:
    """The post's HTML: escaped paragraphs with links, then its media (hrefs from ``base``)."""
    paragraphs = [[link_pieces(line.strip()) for line in p.strip().splitlines()]
                  for p in _PARAGRAPH.split(entry["text"]) if p.strip()]
    media = [{"kind": m["kind"], "src": _absolute(m["href"], base), "alt": m["alt_text"] or "",
              "caption": m["title"] if m["kind"] in ("image", "gif")
              else m["title"] or m["alt_text"]} for m in entry["media"]]
    return str(_template("body.html").render(paragraphs=paragraphs, media=media))


def link_pieces(line: str) -> list[tuple[bool, str]]:
    """``line`` as ``(is_url, text)`` pieces: the blog's and the newsletter's templates link
    the URLs."""
    out, last = [], 0
    for match in _URL.finditer(line):
        out += [(False, line[last:match.start()]), (True, match.group())]
        last = match.end()
    out.append((False, line[last:]))
    return [piece for piece in out if piece[1]]


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("carecast.channels", "templates/blog"),
                              autoescape=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def _template(name: str) -> Any:
    return _environment().get_template(name)


def _markup(html: str) -> Any:
    """HTML the templates insert as it is (it was rendered with autoescape already)."""
    from markupsafe import Markup

    return Markup(html)  # noqa: S704  (rendered by our own autoescaping template)


def _generator(language: str) -> Any:
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.language(language)
    feed.generator("carecast")
    return feed


@cache
def _atom_entry_class() -> Any:
    from feedgen.entry import FeedEntry

    class AtomEntry(FeedEntry):  # type: ignore[misc]
        """feedgen's entry, mended: feedgen 1.0.0 writes an Atom entry's links with their
        ``href`` only, dropping ``rel``, ``type`` and ``length`` (python-feedgen#135, open),
        so enclosures would read as plain links."""

        def atom_entry(self, extensions: bool = True) -> Any:
            element = super().atom_entry(extensions)
            written = [e for e in element if str(e.tag).rsplit("}", 1)[-1] == "link"]
            for link, wanted in zip(written, self.link() or [], strict=True):
                for name in ("rel", "type", "hreflang", "title", "length"):
                    if wanted.get(name):
                        link.set(name, str(wanted[name]))
            return element

    return AtomEntry


def _atom_entry() -> Any:
    return _atom_entry_class()()


def _audio(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in entry["media"] if m["kind"] == MediaKind.AUDIO]


def _summary(text: str, limit: int = 4000) -> str:
    """Plain text for an episode's description: whitespace folded, cut at ``limit``."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[:limit - 1].rsplit(" ", 1)[0] + "…"


def _hms(seconds: float) -> str:
    """``H:MM:SS`` of ``seconds``, rounded to the second."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _duration(path: Path) -> float | None:
    """The audio file's length in seconds (mutagen reads MP3, M4A, Ogg, FLAC, WAV, ...)."""
    import mutagen

    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError):
        return None
    length = getattr(getattr(audio, "info", None), "length", None)
    return float(length) if length else None


def _absolute(href: str, base: str) -> str:
    return href if "://" in href else base + href


def _urn(value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'carecast:' + value)}"


def copy_confined(channel: Channel, item: Media, folder: Path) -> str:
    """Copy a local media file into ``folder`` under its digest; returns the copy's name.

    The file is opened once under the channel's media rules and both digested and copied
    from that descriptor (what was checked is what is published); a refusal is
    ``PlatformRejected``: nothing was sent.
    """
    source = item.path(channel.root)
    try:
        handle, _ = channel.media_rules.open(source, kind=item.kind.value if item.kind
                                             else None)
    except InputRefused as exc:
        raise PlatformRejected(f"{exc}; nothing was sent", channel=channel.name,
                               account=channel.account) from None
    with handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()  # type: ignore[arg-type]
        name = f"{digest[:20]}{re.sub(r'[^a-z0-9.]', '', source.suffix.lower())}"
        if not (folder / name).exists():
            handle.seek(0)
            write_atomic(folder / name, handle)
    return name


def folder_url(value: str | None) -> str | None:
    """A ``media_host_url`` as given (http or https, with a host), ending in ``/``."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("give the folder's public URL, such as https://example.org/media/")
    return value if value.endswith("/") else value + "/"


def hosted_url(channel: Channel, item: Media, host_path: str | None,
               host_url: str | None) -> str:
    """The URL a platform that fetches media itself (Instagram, Threads) is given: the
    media's own, or that of its copy in the media host (``host_path`` served at
    ``host_url``; the channel's render checks both are set for a local file)."""
    if item.is_url:
        return item.source
    assert host_path
    assert host_url
    folder = channel.root / Path(host_path).expanduser()
    try:
        name = copy_confined(channel, item, folder)
    except OSError as exc:
        reason = type(exc).__name__
    else:
        return host_url + name
    raise channel.error(
        ChannelError,
        f"cannot copy the media file {item.filename!r} into media_host_path ({reason}); "
        "check that the folder exists and is writable; nothing was sent")


def write_atomic(path: Path, data: bytes | BinaryIO) -> None:
    """Write ``data`` (or copy the open file ``data``) to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                shutil.copyfileobj(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a web server must read the files
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
