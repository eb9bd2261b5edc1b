"""Accessibility: alt text, captions, CamelCase hashtags, emoji."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carecast import Media, Post, State
from carecast.compliance import accessibility
from carecast.compliance.accessibility import camel_case, caption_file, count_emoji

from ._helpers import codes, config, draft, review


@pytest.mark.parametrize(("alt", "problem"), [
    (None, "no alt text"),
    ("   ", "no alt text"),
    ("IMG_2041.jpg", "the file name"),
    ("IMG_2041", "the file name"),
    ("img 2041", "the file name"),
    ("Photo", "what kind of media"),
    ("an image", "what kind of media"),
    ("screenshot.", "what kind of media"),
    ("Nurse Maria Okafor gives a flu shot to a smiling older man in the lobby.", None),
])
def test_alt_text(alt: str | None, problem: str | None) -> None:
    media = [Media(source="https://cdn.example.org/IMG_2041.jpg", alt_text=alt)]
    found = review(accessibility, draft("Flu clinic today.", media=media))
    if problem is None:
        assert found == []
    else:
        assert codes(found) == ["accessibility.alt_text:review"]
        assert found[0].field == "parts[0].media[0].alt_text"
        assert problem in found[0].message


def test_missing_alt_text_holds_the_post(fake_publisher: Any, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 200, 210)).save(tmp_path / "lobby.png")
    publisher = fake_publisher(["web"], plugins=[accessibility], config=config(root=tmp_path))
    report = publisher.publish(Post(text="Our renovated lobby opens Monday.",
                                    media=[Media(source="lobby.png")]))
    assert report["web"].state == State.AWAITING_APPROVAL
    assert publisher.platform.sends == []


def test_captions_come_from_a_caption_file_next_to_the_video(tmp_path: Path) -> None:
    video = tmp_path / "clinic-tour.mp4"
    video.write_bytes(bytes(64))
    media = [Media(source=str(video), alt_text="A walk through the new clinic")]
    found = review(accessibility, draft("Take the tour.", media=media, channel="youtube"))
    assert codes(found) == ["accessibility.captions:warn"]
    assert found[0].field == "parts[0].media[0].source"
    assert review(accessibility, draft("Take the tour.", media=media, channel="mastodon")) == []
    (tmp_path / "clinic-tour.en.vtt").write_text("WEBVTT\n")
    assert caption_file(media[0]) == tmp_path / "clinic-tour.en.vtt"
    assert review(accessibility, draft("Take the tour.", media=media, channel="youtube")) == []
    (tmp_path / "clinic-tour-old.vtt").write_text("WEBVTT\n")  # another video's captions
    (tmp_path / "clinic-tour.en.vtt").unlink()
    assert caption_file(media[0]) is None


def test_captions_named_on_the_media_item_count() -> None:
    media = [Media(source="https://cdn.example.org/tour.mp4", alt_text="A tour",
                   captions="https://cdn.example.org/tour.en.vtt")]
    assert review(accessibility, draft("Take the tour.", media=media, channel="youtube")) == []


def test_caption_channels_are_configurable() -> None:
    media = [Media(source="https://cdn.example.org/tour.mp4")]
    cfg = config({"accessibility": {"caption_channels": ["mastodon"]}})
    assert codes(review(accessibility, draft("Tour", media=media, channel="mastodon"), cfg)) == [
        "accessibility.captions:warn"]


@pytest.mark.parametrize(("tag", "suggestion"), [
    ("hearthealthmonth", "HeartHealthMonth"),
    ("strokeawareness", "StrokeAwareness"),
    ("covid19vaccine", "Covid19Vaccine"),
    ("heart_healthmonth", "Heart_HealthMonth"),
    ("pneumonia", None),  # one word
])
def test_camel_case(tag: str, suggestion: str | None) -> None:
    assert camel_case(tag) == suggestion


def test_hashtags_in_the_text_and_the_rendered_tags() -> None:
    text = "February is #hearthealthmonth. Free checks! #HeartMonth #flu #riversidegeneral"
    found = review(accessibility, draft(text))
    assert codes(found) == ["accessibility.hashtag:warn"] * 2
    assert "#HeartHealthMonth" in found[0].message
    assert "#RiversideGeneral" in found[1].message
    named = review(accessibility, draft("Thinking of you #prayformariagarcia"))
    assert codes(named) == ["accessibility.hashtag:warn"]
    assert "Maria" not in named[0].message  # a suggestion that may name someone is not quoted
    cfg = config({"accessibility": {"hashtag_min_length": 20}})
    assert review(accessibility, draft(text), cfg) == []


def test_emoji_cap() -> None:
    assert count_emoji("Flu shots 💉👩🏽‍⚕️🇺🇸 1️⃣ → © ➡️") == 5
    assert review(accessibility, draft("Flu shots today 💉🏥🙂")) == []
    found = review(accessibility, draft("Flu shots today 💉🏥🙂🎉"))
    assert codes(found) == ["accessibility.emoji:warn"]
    cfg = config({"accessibility": {"max_emoji": 5}})
    assert review(accessibility, draft("Flu shots today 💉🏥🙂🎉"), cfg) == []


@given(st.text(alphabet=st.sampled_from(
    [*"a1#* \u2192\u00a9\u2013", "\ufe0f", "\u20e3", "\u200d", "\U0001f1fa", "\U0001f1f8",
     "\U0001f489", "\U0001f3fd", "\u2764", "\u2b50", "\u231a", "\u3030"]), max_size=12))
def test_count_emoji_skips_only_texts_without_any(text: str) -> None:
    assert count_emoji(text) == len(accessibility._EMOJI.findall(text))
