"""split_thread: numbered parts at sentence ends, then between words, never inside a link."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carecast.channels.base import _greedy, _is_wide_text, split_thread
from carecast.channels.bluesky import graphemes
from carecast.errors import LimitExceeded

JA = ("当院では毎週土曜日にインフルエンザの予防接種を行っています。予約は不要です。" * 4
      + "詳しくは https://www.riverside-general.example/flu をご覧ください。")


def width(text: str) -> int:
    """X-like: a full-width character counts 2."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def test_english_splits_at_sentence_ends() -> None:
    text = "First sentence here. Second one follows! Third? Fourth and last."
    assert split_thread(text, 45, len) == [
        "First sentence here. Second one follows! 1/2", "Third? Fourth and last. 2/2"]


def test_japanese_splits_at_its_full_stops_without_adding_spaces() -> None:
    parts = split_thread(JA, 140, width)
    assert len(parts) > 1
    assert all(width(p) <= 140 for p in parts)
    bodies = [p.rsplit(" ", 1)[0] for p in parts]
    assert all(b.endswith("。") for b in bodies[:-1])  # cut after a full stop
    assert "".join(bodies).replace(" ", "") == JA.replace(" ", "")
    assert sum("https://www.riverside-general.example/flu" in p for p in parts) == 1


def test_a_japanese_sentence_longer_than_a_part_is_cut_between_characters() -> None:
    sentence = "予防接種" * 40 + "。"
    parts = split_thread(sentence, 60, width)
    assert all(width(p) <= 60 for p in parts)
    assert "".join(p.rsplit(" ", 1)[0] for p in parts) == sentence


def test_a_long_latin_token_is_still_refused() -> None:
    with pytest.raises(LimitExceeded, match="one word of 90 units"):
        split_thread("x" * 90, 40, len)
    with pytest.raises(LimitExceeded):
        split_thread("https://example.org/" + "a" * 80, 40, len)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["予約", "不要です", "。", "接種", "\uff01", "Flu", "shots", " ",
                                 "👩‍⚕️", "é", "#FluShot", "https://ex.org/a"]),
                min_size=1, max_size=120))
def test_every_part_fits_and_nothing_is_lost(pieces: list[str]) -> None:
    text = "".join(pieces).strip()
    if not text:
        return
    try:
        parts = split_thread(text, 50, width)
    except LimitExceeded:
        return  # a single token over the room
    assert all(width(p) <= 50 for p in parts)
    bodies = [p.rsplit(" ", 1)[0] if len(parts) > 1 else p for p in parts]
    assert "".join(bodies).replace(" ", "") == text.replace(" ", "")
    for p in bodies:
        assert "\u200d" not in (p[:1] + p[-1:])  # never cut beside a joiner


def _greedy_counting_every_candidate(items: list[str], room: int, count: Any,
                                     sep: str) -> list[str]:
    """The packing ``_greedy`` must equal: every candidate counted in full."""
    out: list[str] = []
    current = ""
    for item in items:
        glue = "" if _is_wide_text(current[-1:]) and _is_wide_text(item[:1]) else sep
        candidate = f"{current}{glue}{item}" if current else item
        if count(candidate) <= room:
            current = candidate
        else:
            if current:
                out.append(current)
            current = item
    return [*out, current] if current else out


def _not_additive(text: str) -> int:
    """A unit whose count of a join is not the sum of its pieces' counts."""
    return len(text) + (2 * text.count(" ") if "x" in text else 0)


_PIECES = st.sampled_from(["a", "bb", "x", "e\u0301", "\U0001f469\u200d\U0001f467", "中文",
                           "http://a.example/p", "#tag", "ccc", "\u200d"])


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.lists(_PIECES, min_size=1, max_size=4).map("".join), max_size=30),
       room=st.integers(1, 40), sep=st.sampled_from([" ", ""]),
       unit=st.sampled_from(["characters", "graphemes", "not additive"]))
def test_packing_with_a_running_sum_gives_the_parts_full_counts_give(
        items: list[str], room: int, sep: str, unit: str) -> None:
    count = {"characters": len, "graphemes": lambda t: len(graphemes(t)),
             "not additive": _not_additive}[unit]
    assert _greedy(items, room, count, sep) == \
        _greedy_counting_every_candidate(items, room, count, sep)


def test_a_long_text_is_counted_a_bounded_number_of_times_over() -> None:
    # Counting each candidate part in full read a part's length once per word: 16,000
    # characters to a 300-grapheme channel took 9.5 s. Now each character is counted a few
    # times, whatever the length.
    counted = 0

    def count(text: str) -> int:
        nonlocal counted
        counted += len(text)
        return len(text)

    for words in (400, 3200):
        counted = 0
        text = "#tag " * words
        split_thread(text, 300, count)
        assert counted <= 25 * len(text)  # each width tried (two here) reads it ~9 times


def test_a_text_surely_past_max_parts_is_refused_before_it_is_split(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A post may hold 1 MiB of text: a thread channel refuses it at once, never splitting
    (or counting part by part) thousands of parts it will not send."""
    from carecast.channels import base
    from carecast.channels.mastodon import MastodonChannel, MastodonOptions
    from carecast.post import Post

    def never(*args: Any, **kwargs: Any) -> list[str]:
        raise AssertionError("split")

    channel = MastodonChannel("m", MastodonOptions(api_base_url="https://social.example",
                                                   access_token="t"))
    monkeypatch.setattr(base, "split_thread", never)
    with pytest.raises(LimitExceeded) as info:
        channel.render(Post(id="p", text="Our clinic opens at nine. " * 40_000))
    assert (info.value.field, info.value.limit) == ("text", channel.max_parts)
    assert "more than 25 parts" in str(info.value)
