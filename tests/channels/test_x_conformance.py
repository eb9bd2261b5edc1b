"""The X channel counts text exactly as the twitter-text conformance suite says X does."""

from __future__ import annotations

from typing import Any

import pytest

from carecast.channels.x import XChannel, XOptions, weighted_length

from .x_conformance_cases import SECTIONS

CASES = [pytest.param(version, case, id=f"{section}: {case['description']}")
         for section, version, cases in SECTIONS for case in cases]


def channel(version: int) -> XChannel:
    x = XChannel("x-main", XOptions(access_token="conformance-token"))
    x.text_version = version
    return x


def test_the_fixture_holds_the_44_cases() -> None:
    assert [(name, version, len(cases)) for name, version, cases in SECTIONS] == [
        ("WeightedTweetsCounterTest", 2, 20),
        ("WeightedTweetsWithDiscountedEmojiCounterTest", 3, 22),
        ("UnicodeDirectionalMarkerCounterTest", 3, 2),
    ]


@pytest.mark.parametrize(("version", "case"), CASES)
def test_count_is_the_weighted_length(version: int, case: dict[str, Any]) -> None:
    x = channel(version)
    expected = case["expected"]
    assert x.count(case["text"]) == expected["weightedLength"]
    # X takes the text as one post exactly when the suite calls it valid
    assert x.fits(case["text"]) == expected["valid"]


def test_x_counts_with_version_3_by_default() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    assert XChannel.text_version == 3
    assert weighted_length(family) == 2  # one emoji sequence
    assert weighted_length(family, 2) == 4 * 2 + 3 * 1  # 4 emoji count 2, 3 joiners 1
