"""The blog's feeds read back by feed clients written by others: ``feedparser`` (Atom and RSS)
and gPodder's ``podcastparser`` (RSS 2.0 with the iTunes tags, as podcast apps read it)."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import podcastparser
import pytest
from PIL import Image

from carecast.channels.blog import BlogChannel, BlogOptions
from carecast.config import AccountConfig
from carecast.errors import ConfigurationError
from carecast.post import Media, Post
from carecast.testing import FrozenClock

BASE = "https://news.example.org/blog/"
START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SHOW = {"title": "Riverside Health Minute", "description": "Short talks with our clinicians.",
        "author": "Riverside General Communications", "image": "cover.png",
        "category": "Health & Fitness", "subcategory": "Medicine", "explicit": False,
        "owner_name": "Riverside Comms", "owner_email": "podcast@riverside.example",
        "copyright": "© 2026 Riverside General"}


class DayClock(FrozenClock):
    """A clock a day later at each reading."""

    def now(self) -> datetime:
        self.advance(days=1)
        return super().now()


def mp3(seconds: int) -> bytes:
    """A real MPEG-1 Layer III stream of ``seconds`` of silence (32 kbit/s, 44.1 kHz).

    Each frame is 104 bytes: 104 * 8 / 32000 = 0.026 s, so 1000 frames are 26 s exactly.
    """
    header = struct.pack(">I", 0xFFFB1064)  # sync, MPEG-1, layer III, 32 kbit/s, 44.1 kHz
    frames = round(seconds / 0.026)
    return (header + bytes(100)) * frames


def picture(path: Path, size: int, color: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (size, size), color)
    out = io.BytesIO()
    image.save(out, path.suffix.lstrip(".").replace("jpg", "jpeg").upper())
    path.write_bytes(out.getvalue())
    return path


@pytest.fixture
def show(tmp_path: Path) -> BlogChannel:
    picture(tmp_path / "cover.png", 1400, (20, 90, 160))
    options = BlogOptions(path="site", base_url=BASE, title="Riverside News",
                          description="News & events", author="Comms Team", podcast=SHOW)
    return BlogChannel("news", options, root=tmp_path, clock=DayClock(START))


def publish(channel: BlogChannel, post: Post) -> Any:
    return channel.publish(channel.render(post), f"cc-{post.id}")


@pytest.fixture
def episodes(show: BlogChannel, tmp_path: Path) -> list[Any]:
    (tmp_path / "ep1.mp3").write_bytes(mp3(26 * 35))  # 15:10
    (tmp_path / "ep2.mp3").write_bytes(mp3(26 * 5))  # 2:10
    picture(tmp_path / "ep2.jpg", 1400, (200, 40, 40))
    return [
        publish(show, Post(id="ep1", title="Flu season, explained",
                           text="Dr. Lee on this year's flu shot.\n\nBook: https://r.example/flu",
                           media=[Media(source="ep1.mp3", alt_text="The episode")])),
        publish(show, Post(id="news", title="New parking garage", text="Opens Monday.")),
        publish(show, Post(id="ep2", title="Heart health <basics> & you",
                           text="Warning signs & when to call.",
                           media=[Media(source="ep2.mp3", alt_text="The episode"),
                                  Media(source="ep2.jpg", alt_text="Dr. Shah")])),
    ]


def test_podcastparser_reads_every_episode_enclosure_duration_and_artwork(
        show: BlogChannel, episodes: list[Any], tmp_path: Path) -> None:
    feed_path = show.folder / "podcast.xml"
    with open(feed_path, "rb") as stream:
        parsed = podcastparser.parse(f"{BASE}podcast.xml", stream)
    assert parsed["title"] == "Riverside Health Minute"
    assert parsed["description"] == "Short talks with our clinicians."
    assert parsed["link"] == f"{BASE}index.html"
    assert parsed["cover_url"].startswith(f"{BASE}media/")
    assert parsed["cover_url"].endswith(".png")
    cover = show.folder / parsed["cover_url"].removeprefix(BASE)
    assert cover.read_bytes() == (tmp_path / "cover.png").read_bytes()
    assert parsed["explicit"] is False
    got = parsed["episodes"]
    assert [e["title"] for e in got] == ["Heart health <basics> & you", "Flu season, explained"]
    by_title = {e["title"]: e for e in got}
    flu, heart = by_title["Flu season, explained"], by_title["Heart health <basics> & you"]
    assert (flu["total_time"], heart["total_time"]) == (26 * 35, 26 * 5)
    for episode, source in ((flu, "ep1.mp3"), (heart, "ep2.mp3")):
        (enclosure,) = episode["enclosures"]
        assert enclosure["mime_type"] == "audio/mpeg"
        assert enclosure["file_size"] == (tmp_path / source).stat().st_size
        assert enclosure["url"].startswith(f"{BASE}media/")
        assert (show.folder / enclosure["url"].removeprefix(BASE)).read_bytes() == \
            (tmp_path / source).read_bytes()
        assert episode["guid"].startswith("urn:uuid:")
    receipts = {r.remote_id: r for r in episodes}
    assert flu["link"] == next(r.url for r in receipts.values() if "flu-season" in r.url)
    assert heart["episode_art_url"].endswith(".jpg")  # its own picture
    assert flu["published"] < heart["published"]
    assert flu["published"] == int(episodes[0].published_at.timestamp())


def test_feedparser_reads_the_itunes_tags(show: BlogChannel, episodes: list[Any]) -> None:
    parsed = feedparser.parse((show.folder / "podcast.xml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    feed = parsed.feed
    assert feed.title == "Riverside Health Minute"
    itunes = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
    channel = ET.fromstring((show.folder / "podcast.xml").read_bytes()).find("channel")
    assert channel.findtext(f"{itunes}author") == "Riverside General Communications"
    assert feed.image.href.startswith(f"{BASE}media/")
    assert not feed.itunes_explicit  # "no": feedparser reads only "yes" as True
    assert feed.publisher_detail == {"name": "Riverside Comms",
                                     "email": "podcast@riverside.example"}
    assert [(t.term, t.scheme) for t in feed.tags] == [
        ("Health & Fitness", "http://www.itunes.com/"), ("Medicine", "http://www.itunes.com/")]
    assert feed.rights == "© 2026 Riverside General"
    assert feed.language == "en"
    durations = [e.itunes_duration for e in parsed.entries]
    assert durations == ["0:02:10", "0:15:10"]
    for entry in parsed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        assert int(enclosure.length) > 0
        assert entry.guidislink is False
        assert entry.id.startswith("urn:uuid:")
    assert parsed.entries[0].image.href.endswith(".jpg")


def test_guids_are_stable_and_only_audio_posts_are_episodes(
        show: BlogChannel, episodes: list[Any], tmp_path: Path) -> None:
    before = feedparser.parse((show.folder / "podcast.xml").read_bytes())
    atom = feedparser.parse((show.folder / "feed.xml").read_bytes())
    assert atom.version == "atom10"
    assert len(atom.entries) == 3  # the Atom feed keeps every post
    assert {e.id for e in before.entries} < {e.id for e in atom.entries}  # the same ids
    (tmp_path / "ep3.mp3").write_bytes(mp3(26))
    publish(show, Post(id="ep3", title="Sleep", text="Why it matters.",
                       media=[Media(source="ep3.mp3", alt_text="The episode")]))
    after = feedparser.parse((show.folder / "podcast.xml").read_bytes())
    assert [e.id for e in after.entries][1:] == [e.id for e in before.entries]
    show.delete(episodes[0])
    gone = feedparser.parse((show.folder / "podcast.xml").read_bytes())
    assert [e.title for e in gone.entries] == ["Sleep", "Heart health <basics> & you"]
    assert (show.folder / before.feed.image.href.removeprefix(BASE)).is_file()  # cover kept


def test_atom_enclosures_read_back_with_feedparser(show: BlogChannel,
                                                   episodes: list[Any]) -> None:
    parsed = feedparser.parse((show.folder / "feed.xml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    newest = parsed.entries[0]
    assert newest.title == "Heart health <basics> & you"
    (enclosure,) = newest.enclosures
    assert enclosure.type == "audio/mpeg"
    assert enclosure.href.startswith(f"{BASE}media/")
    assert newest.link == episodes[2].url
    assert [link.rel for link in newest.links] == ["alternate", "enclosure"]


def test_pages_link_both_feeds(show: BlogChannel, episodes: list[Any]) -> None:
    index = (show.folder / "index.html").read_text("utf-8")
    assert '<a href="podcast.xml">Podcast feed</a>' in index
    assert ('<link rel="alternate" type="application/rss+xml" title="Riverside Health Minute" '
            'href="podcast.xml">') in index
    page = (show.folder / "posts" / f"{episodes[2].remote_id}.html").read_text("utf-8")
    assert 'href="../podcast.xml"' in page
    assert "Heart health &lt;basics&gt; &amp; you" in page


def test_an_explicit_show_says_so_to_both_clients(tmp_path: Path) -> None:
    (tmp_path / "ep.mp3").write_bytes(mp3(26))
    blog = BlogChannel("news", BlogOptions(path="site", base_url=BASE, podcast={
        "image": "https://cdn.example.org/cover.jpg", "explicit": True}), root=tmp_path,
        clock=DayClock(START))
    publish(blog, Post(id="e", title="E", text="x", media=[Media(source="ep.mp3")]))
    data = (blog.folder / "podcast.xml").read_bytes()
    assert feedparser.parse(data).feed.itunes_explicit is True
    parsed = podcastparser.parse(f"{BASE}podcast.xml", io.BytesIO(data))
    assert parsed["explicit"] is True
    assert parsed["cover_url"] == "https://cdn.example.org/cover.jpg"
    assert parsed["title"] == "Blog"  # the blog's title when the show has none
    assert parsed["episodes"][0]["total_time"] == 26


def test_without_a_show_there_is_no_podcast_feed(tmp_path: Path) -> None:
    (tmp_path / "ep.mp3").write_bytes(mp3(26))
    blog = BlogChannel("news", BlogOptions(path="site", base_url=BASE), root=tmp_path,
                       clock=DayClock(START))
    publish(blog, Post(id="e", title="E", text="x", media=[Media(source="ep.mp3")]))
    assert not (blog.folder / "podcast.xml").exists()
    assert "podcast.xml" not in (blog.folder / "index.html").read_text("utf-8")


def test_show_settings_come_from_the_config(tmp_path: Path) -> None:
    picture(tmp_path / "cover.jpg", 1400, (0, 0, 0))
    channel = BlogChannel.from_config(AccountConfig(name="news", channel="blog", options={
        "path": "site", "podcast": {"image": "cover.jpg", "explicit": True, "type": "serial",
                                    "category": "Science"}}), root=tmp_path)
    show = channel.options.podcast
    assert show is not None
    assert (show.image, show.explicit, show.type, show.category) == (
        "cover.jpg", True, "serial", "Science")


@pytest.mark.parametrize(("podcast", "message"), [
    ({"image": "cover.gif"}, r"podcast\.image: .*\.jpg or \.png"),
    ({"image": "missing.png"}, r"podcast\.image: no file 'missing\.png'"),
    ({}, r"podcast\.image"),
    ({"image": "https://cdn.example.org/c.png", "owner_email": "nobody"},
     r"podcast\.owner_email"),
    ({"image": "https://cdn.example.org/c.png", "type": "daily"}, r"podcast\.type"),
    ({"image": "https://cdn.example.org/c.png", "colour": "blue"}, r"podcast\.colour"),
])
def test_bad_show_settings_name_the_field(tmp_path: Path, podcast: dict[str, Any],
                                          message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BlogChannel.from_config(AccountConfig(name="news", channel="blog",
                                              options={"podcast": podcast}), root=tmp_path)
