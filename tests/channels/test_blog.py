"""The blog channel: pages, index and Atom feed in a folder, written atomically."""

from __future__ import annotations

import hashlib
import html
import os
import stat
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carecast.channels import registry
from carecast.channels.blog import BlogChannel, BlogOptions, derive_title, slug_for
from carecast.config import AccountConfig, Config
from carecast.errors import ConfigurationError, InvalidPost, LimitExceeded
from carecast.post import ChannelOverride, Media, Post
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.records import State
from carecast.testing import FrozenClock

A = "{http://www.w3.org/2005/Atom}"
BASE = "https://news.example.org/blog/"
START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


class Clock(FrozenClock):
    """A clock a day later at each reading."""

    def __init__(self) -> None:
        super().__init__(START)

    def now(self) -> datetime:
        self.advance(days=1)
        return super().now()


@pytest.fixture
def make(tmp_path: Path):
    def make(**options) -> BlogChannel:
        opts = {"path": "site", "base_url": BASE, **options}
        return BlogChannel("news", BlogOptions(**opts), root=tmp_path, clock=Clock())

    return make


@pytest.fixture
def blog(make) -> BlogChannel:
    return make(title="Riverside News", description="News & events", author="Comms Team")


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "briefing.mp3"
    path.write_bytes(b"ID3" + bytes(range(256)) * 40)
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "clinic.png"
    Image.new("RGB", (24, 16), (200, 40, 40)).save(path)  # a real image: uploads are cleaned
    return path


def publish(channel: BlogChannel, post: Post, key: str | None = None):
    return channel.publish(channel.render(post), key or idempotency_key(post.id, "news"))


def read(channel: BlogChannel, name: str) -> str:
    return (channel.folder / name).read_text(encoding="utf-8")


def feed(channel: BlogChannel) -> ET.Element:
    return ET.fromstring((channel.folder / "feed.xml").read_bytes())


# -- rendering -------------------------------------------------------------------------------


def test_declared_limits() -> None:
    limits = BlogChannel.limits()
    assert limits["max_text"] is None
    assert limits["max_title"] == 200
    assert not limits["requires_title"]
    assert limits["media_kinds"] == ["audio", "gif", "image", "video"]
    assert limits["max_media"] >= 20
    assert (limits["per_account"], limits["per_host"]) == (1, 1)
    assert BlogChannel.capabilities() == {"lookup"}
    assert registry.get_channel_class("blog") is BlogChannel


def test_title_is_derived_from_the_first_sentence(blog) -> None:
    draft = blog.render(Post(text="Flu shots are free this week. Walk in any time.\n\nMore."))
    assert draft.title == "Flu shots are free this week"
    assert blog.render(Post(title="Own title", text="Text. More.")).title == "Own title"
    long = "word " * 40 + "end."
    title = blog.render(Post(text=long)).title
    assert len(title) <= 80
    assert title.endswith("word…")


def test_title_of_a_media_only_post(blog, image) -> None:
    post = Post(media=[Media(source=str(image), alt_text="The new clinic entrance")])
    assert blog.render(post).title == "The new clinic entrance"
    bare = Post(media=[Media(source=str(image))])
    assert blog.render(bare).title == "Untitled"


@given(st.text(max_size=400))
def test_derived_titles_are_short_single_lines(text: str) -> None:
    title = derive_title(text)
    assert len(title) <= 80
    assert "\n" not in title
    assert title == title.strip()


def test_derive_title_cuts_at_a_word_boundary() -> None:
    assert derive_title("a" * 100) == "a" * 79 + "…"  # one long word: a hard cut
    assert derive_title("Hello world. Second sentence!") == "Hello world"
    assert derive_title("Really?! Yes.") == "Really?!"
    text = "Our cardiology team explains the warning signs of a heart attack and when to call"
    assert derive_title(text, limit=40) == "Our cardiology team explains the…"


def test_title_too_long_names_the_field(blog) -> None:
    with pytest.raises(LimitExceeded) as info:
        blog.render(Post(title="x" * 201, text="Body."))
    assert info.value.field == "title"
    assert info.value.limit == 200
    assert info.value.value == 201
    post = Post(text="Body.", overrides={"blog": ChannelOverride(title="y" * 300)})
    with pytest.raises(LimitExceeded) as info:
        blog.render(post)
    assert info.value.field == "overrides.blog.title"


def test_missing_media_file_is_rejected_before_any_write(blog) -> None:
    with pytest.raises(InvalidPost, match=r"media\[0\]\.source"):
        blog.render(Post(text="Hi", media=[Media(source="nowhere.png", alt_text="x")]))
    assert not blog.folder.exists()


# -- publishing ------------------------------------------------------------------------------


def test_page_has_title_paragraphs_links_and_meta(blog) -> None:
    post = Post(id="p1", title="Flu clinic opens", link="https://example.org/flu",
                text="The clinic opens Monday.\n\nBook at https://example.org/book, or call.\n"
                     "Second line.", hashtags=["flu"])
    receipt = publish(blog, post)
    assert receipt.remote_id.startswith("2026-03-02-flu-clinic-opens-")
    assert receipt.url == f"{BASE}posts/{receipt.remote_id}.html"
    assert receipt.published_at == START + timedelta(days=1)
    page = read(blog, f"posts/{receipt.remote_id}.html")
    assert "<h1>Flu clinic opens</h1>" in page
    assert "<p>The clinic opens Monday.</p>" in page
    assert ('<p>Book at <a href="https://example.org/book">https://example.org/book</a>, '
            "or call.<br>\nSecond line.</p>") in page
    assert '<a href="https://example.org/flu">' in page  # the post's link, added by compose
    assert "<p>#flu</p>" in page
    assert "Comms Team" in page
    assert '<html lang="en">' in page
    assert '<time datetime="2026-03-02T09:30:00+00:00">2026-03-02</time>' in page


def test_hostile_text_is_escaped_everywhere(blog, image) -> None:
    post = Post(title='<img src=x onerror="alert(1)">',
                text='<script>alert("pwned")</script> & <b>bold</b>\n\n'
                     'https://example.org/?a=1&b="><script>',
                media=[Media(source=str(image), alt_text='"><script>alert(2)</script>',
                             title="<i>caption</i>")])
    receipt = publish(blog, post)
    page = read(blog, f"posts/{receipt.remote_id}.html")
    index = read(blog, "index.html")
    content = feed(blog).find(f"{A}entry/{A}content").text
    for text in (page, index, content):
        assert "<script>" not in text
        assert "<img src=x" not in text
        assert "<i>" not in text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in page
    assert 'alt="&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in page
    assert '<a href="https://example.org/?a=1&amp;b=">' in page  # the URL stops at the quote
    assert feed(blog).find(f"{A}entry/{A}title").text == post.title  # XML escapes it itself


def test_images_keep_their_alt_text_and_media_are_copied_by_content(blog, image, audio,
                                                                     tmp_path) -> None:
    copy = tmp_path / "same-picture.png"
    copy.write_bytes(image.read_bytes())
    post = Post(text="Our new clinic.", media=[
        Media(source=str(image), alt_text="Front door of the clinic", title="Opening day"),
        Media(source=str(copy), alt_text="The same picture"),
        Media(source=str(audio), title="Briefing"),
        Media(source="https://cdn.example.org/tour.mp4", alt_text="A video tour")])
    receipt = publish(blog, post)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()[:20]
    media = sorted(p.name for p in (blog.folder / "media").iterdir())
    assert len(media) == 2  # identical files are stored once; URLs are not downloaded
    assert f"{digest}.png" in media
    assert (blog.folder / "media" / f"{digest}.png").read_bytes() == image.read_bytes()
    page = read(blog, f"posts/{receipt.remote_id}.html")
    assert f'<img src="../media/{digest}.png" alt="Front door of the clinic">' in page
    assert "<figcaption>Opening day</figcaption>" in page
    assert 'alt="The same picture"' in page
    assert '<audio controls preload="metadata" src="../media/' in page
    assert "<figcaption>Briefing</figcaption>" in page
    assert ('<video controls preload="metadata" src="https://cdn.example.org/tour.mp4" '
            'aria-label="A video tour">') in page


def test_feed_is_atom_with_podcast_enclosures(blog, audio, image) -> None:
    first = publish(blog, Post(id="a", title="First", text="One."))
    second = publish(blog, Post(id="b", title="Episode 2", text="Listen.", media=[
        Media(source=str(audio), alt_text="Briefing audio"),
        Media(source=str(image), alt_text="Cover"),
        Media(source="https://cdn.example.org/extra.mp3", alt_text="Hosted elsewhere")]))
    root = feed(blog)
    assert root.tag == f"{A}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert root.find(f"{A}id").text.startswith("urn:uuid:")
    assert root.find(f"{A}title").text == "Riverside News"
    assert root.find(f"{A}subtitle").text == "News & events"
    assert root.find(f"{A}updated").text == second.published_at.isoformat()
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links == {"self": f"{BASE}feed.xml", "alternate": f"{BASE}index.html"}
    entries = root.findall(f"{A}entry")
    assert [e.find(f"{A}title").text for e in entries] == ["Episode 2", "First"]
    newest = entries[0]
    assert newest.find(f"{A}id").text.startswith("urn:uuid:")
    assert newest.find(f"{A}published").text == second.published_at.isoformat()
    assert newest.find(f"{A}updated").text == second.published_at.isoformat()
    assert newest.find(f"{A}author/{A}name").text == "Comms Team"
    content = newest.find(f"{A}content")
    assert content.get("type") == "html"
    assert "<p>Listen.</p>" in content.text
    assert f'src="{BASE}media/' in content.text  # absolute media URLs in the feed
    by_rel = {link.get("rel"): link for link in newest.findall(f"{A}link")}
    assert by_rel["alternate"].get("href") == second.url
    enclosures = [link for link in newest.findall(f"{A}link") if link.get("rel") == "enclosure"]
    assert len(enclosures) == 2  # audio only
    assert enclosures[0].get("type") == "audio/mpeg"
    assert enclosures[0].get("length") == str(audio.stat().st_size)
    assert enclosures[0].get("href").startswith(f"{BASE}media/")
    assert enclosures[1].get("href") == "https://cdn.example.org/extra.mp3"
    assert enclosures[1].get("length") is None  # not downloaded, so not known
    assert not [link for link in entries[1].findall(f"{A}link") if link.get("rel") == "enclosure"]
    assert entries[1].find(f"{A}link").get("href") == first.url


def test_entry_ids_are_stable_per_key(make, tmp_path) -> None:
    post = Post(id="a", text="Hello.")
    one = make(path="one")
    two = make(path="two")
    publish(one, post, "cc-key")
    publish(two, post, "cc-key")
    publish(make(path="three"), post, "cc-other")
    ids = [feed(make(path=p)).find(f"{A}entry/{A}id").text for p in ("one", "two", "three")]
    assert ids[0] == ids[1] != ids[2]


def test_index_lists_posts_newest_first(blog) -> None:
    for i in range(3):
        publish(blog, Post(id=f"p{i}", title=f"Post number {i}", text="Text."))
    index = read(blog, "index.html")
    positions = [index.index(f"Post number {i}") for i in (2, 1, 0)]
    assert positions == sorted(positions)
    assert "<h1>Riverside News</h1>" in index
    assert "<p>News &amp; events</p>" in index
    assert '<a href="feed.xml">' in index
    assert index.count('<a href="posts/') == 3


def test_post_language_is_kept_on_its_page(make) -> None:
    blog = make(language="en-US")
    receipt = publish(blog, Post(id="es", text="Vacunación gratis.", language="es"))
    assert '<html lang="es">' in read(blog, f"posts/{receipt.remote_id}.html")
    assert '<html lang="en-US">' in read(blog, "index.html")
    assert feed(blog).get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"


def test_concurrent_writers_lose_no_post(make) -> None:
    channels = [make() for _ in range(4)]  # separate instances on one folder

    def work(n: int) -> None:
        for i in range(5):
            publish(channels[n], Post(id=f"p{n}-{i}", title=f"Post {n}-{i}", text="Text."))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    blog = channels[0]
    assert len(list((blog.folder / "entries").iterdir())) == 20
    assert len(list((blog.folder / "posts").iterdir())) == 20
    assert read(blog, "index.html").count('<a href="posts/') == 20
    assert len(feed(blog).findall(f"{A}entry")) == 20


def test_slug_is_stable_and_unique() -> None:
    when = datetime(2026, 5, 4, 23, 0, tzinfo=UTC)
    assert slug_for("Heart Month: know the signs!", when, "k1") == slug_for(
        "Heart Month: know the signs!", when, "k1")
    slug = slug_for("Heart Month: know the signs!", when, "k1")
    assert slug.startswith("2026-05-04-heart-month-know-the-signs-")
    assert slug != slug_for("Heart Month: know the signs!", when, "k2")
    assert slug_for("¡Vacunación gratis!", when, "k").startswith("2026-05-04-vacunacion-gratis-")
    assert slug_for("日本語", when, "k").startswith("2026-05-04-post-")
    long = slug_for("word " * 50, when, "k")
    assert len(long) <= len("2026-05-04-") + 60 + 9


def test_lookup_finds_a_published_post_only(blog) -> None:
    post = Post(id="p1", text="Hello there.")
    draft = blog.render(post)
    assert blog.lookup("cc-1", draft) is None
    receipt = blog.publish(draft, "cc-1")
    found = blog.lookup("cc-1", draft)
    assert found == receipt
    assert blog.lookup("cc-2", draft) is None


def test_publishing_the_same_key_twice_changes_nothing(blog) -> None:
    post = Post(id="p1", text="Hello there.")
    first = publish(blog, post, "cc-1")
    before = {p: p.read_bytes() for p in blog.folder.rglob("*") if p.is_file()}
    again = publish(blog, post, "cc-1")
    after = {p: p.read_bytes() for p in blog.folder.rglob("*") if p.is_file()}
    assert again == first
    assert after == before
    assert len(list((blog.folder / "posts").iterdir())) == 1


def test_delete_removes_page_entry_and_unshared_media(blog, image, audio) -> None:
    keep = publish(blog, Post(id="keep", title="Keep me", text="Stays.",
                              media=[Media(source=str(image), alt_text="Shared")]))
    gone = publish(blog, Post(id="gone", title="Remove me", text="Goes.",
                              media=[Media(source=str(image), alt_text="Shared"),
                                     Media(source=str(audio), alt_text="Only mine")]))
    assert len(list((blog.folder / "media").iterdir())) == 2
    blog.delete(gone)
    assert not (blog.folder / "posts" / f"{gone.remote_id}.html").exists()
    assert (blog.folder / "posts" / f"{keep.remote_id}.html").exists()
    assert [p.name for p in (blog.folder / "entries").iterdir()] == [
        f"{idempotency_key('keep', 'news')}.json"]
    assert [p.suffix for p in (blog.folder / "media").iterdir()] == [".png"]
    assert "Remove me" not in read(blog, "index.html")
    assert "Keep me" in read(blog, "index.html")
    titles = [e.find(f"{A}title").text for e in feed(blog).findall(f"{A}entry")]
    assert titles == ["Keep me"]
    assert blog.lookup(idempotency_key("gone", "news"), blog.render(
        Post(id="gone", title="Remove me", text="Goes."))) is None
    blog.delete(gone)  # already gone: nothing to do
    blog.delete(keep)
    assert feed(blog).findall(f"{A}entry") == []
    assert '<a href="posts/' not in read(blog, "index.html")


def test_writes_are_atomic_and_readable(blog, monkeypatch) -> None:
    publish(blog, Post(id="p1", title="First", text="One."))
    index = read(blog, "index.html")
    mode = stat.S_IMODE((blog.folder / "index.html").stat().st_mode)
    assert mode == 0o644
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("index.html"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        publish(blog, Post(id="p2", title="Second", text="Two."))
    monkeypatch.setattr(os, "replace", real_replace)
    assert read(blog, "index.html") == index  # the old index is whole
    leftovers = [p.name for p in blog.folder.rglob(".*") if p.name != ".carecast.lock"]
    assert leftovers == []
    draft = blog.render(Post(id="p2", title="Second", text="Two."))
    assert blog.lookup(idempotency_key("p2", "news"), draft) is None  # not marked published
    receipt = blog.publish(draft, idempotency_key("p2", "news"))  # the retry completes it
    assert "Second" in read(blog, "index.html")
    assert (blog.folder / "posts" / f"{receipt.remote_id}.html").exists()


# -- options ---------------------------------------------------------------------------------


def test_relative_paths_start_at_the_config_folder(tmp_path) -> None:
    channel = BlogChannel.from_config(
        AccountConfig(name="news", channel="blog", options={"path": "out/site"}),
        root=tmp_path / "conf")
    assert channel.folder == tmp_path / "conf" / "out" / "site"
    assert channel.base_url == (tmp_path / "conf" / "out" / "site").resolve().as_uri() + "/"
    receipt = publish(channel, Post(id="p", text="Hello."))
    assert (tmp_path / "conf" / "out" / "site" / "index.html").is_file()
    assert receipt.url.startswith("file://")
    absolute = BlogChannel("news", BlogOptions(path=str(tmp_path / "abs")), root=tmp_path / "x")
    assert absolute.folder == tmp_path / "abs"


def test_defaults_and_profile(tmp_path) -> None:
    channel = BlogChannel("news", BlogOptions(), root=tmp_path)
    assert channel.folder == tmp_path / "blog"
    profile = channel.fetch_profile()
    assert profile.display_name == "Blog"
    assert profile.website == channel.base_url
    configured = BlogChannel("news", BlogOptions(title="T", description="D",
                                                 base_url="https://x.example/news"))
    assert configured.base_url == "https://x.example/news/"
    profile = configured.fetch_profile()
    assert (profile.display_name, profile.description, profile.website) == (
        "T", "D", "https://x.example/news/")


@pytest.mark.parametrize(("options", "message"), [
    ({"base_url": "news.example.org"}, "accounts.news.base_url: give an absolute URL"),
    ({"base_url": "ftp://news.example.org/"}, "accounts.news.base_url"),
    ({"language": "english please"}, "accounts.news.language"),
    ({"title": ""}, "accounts.news.title"),
    ({"colour": "blue"}, "unknown option for the blog channel"),
])
def test_bad_options_are_configuration_errors(options, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BlogChannel.from_config(AccountConfig(name="news", channel="blog", options=options))


# -- end to end ------------------------------------------------------------------------------


def test_publisher_end_to_end(tmp_path, no_sleep, image) -> None:
    config = Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"news": {"channel": "blog", "brand": "riverside", "path": "site",
                              "base_url": BASE, "title": "Riverside News"}},
    }, root=tmp_path, environ={})
    post = Post(id="flu-2026", text="Flu shots are free this week. Walk in.",
                media=[Media(source=str(image), alt_text="Nurse giving a flu shot")])
    with Publisher(config, entry_point_plugins=False, retry=no_sleep) as publisher:
        report = publisher.publish(post)
        assert report.ok
        outcome = report["news"]
        assert outcome.state == State.PUBLISHED
        receipt = outcome.receipt
        assert receipt.channel == "blog"
        assert receipt.url == f"{BASE}posts/{receipt.remote_id}.html"
        page = tmp_path / "site" / "posts" / f"{receipt.remote_id}.html"
        assert "<h1>Flu shots are free this week</h1>" in page.read_text(encoding="utf-8")
        assert 'alt="Nurse giving a flu shot"' in page.read_text(encoding="utf-8")
        assert (tmp_path / "site" / "entries" / f"{idempotency_key(post.id, 'news')}.json"
                ).is_file()
        entry = ET.fromstring((tmp_path / "site" / "feed.xml").read_bytes()).find(f"{A}entry")
        assert entry.find(f"{A}title").text == "Flu shots are free this week"
        again = publisher.publish(post)
        assert again["news"].already_published
    assert len(list((tmp_path / "site" / "posts").iterdir())) == 1
    assert html.escape("Riverside News") in (tmp_path / "site" / "index.html").read_text("utf-8")
