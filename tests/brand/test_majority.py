"""Without a canonical value the accounts are compared with each other: the majority wins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carecast.brand import AvatarCache, BrandReport, audit
from carecast.publish import Publisher

from ._helpers import StaticChannel, config
from ._images import other_png, recompressed_jpeg, resized_png

AVATARS = {"https://a/1.png": resized_png(), "https://a/2.jpg": recompressed_jpeg(),
           "https://a/3.png": other_png(), "https://a/4.png": resized_png(64)}


def run(root: Path, brand: dict[str, Any], profiles: dict[str, dict[str, Any]]) -> BrandReport:
    StaticChannel.profiles = profiles
    cfg = config(brand, dict.fromkeys(profiles, "static"), root)
    with Publisher(cfg, channel_classes={"static": StaticChannel},
                   entry_point_plugins=False) as publisher:
        return audit(cfg, "r", publisher.channel, fetch_image=AVATARS.__getitem__,
                     cache=AvatarCache(root / "cache"))


def statuses(report: BrandReport, field: str) -> dict[str, str | None]:
    return {a.account: (c.status.value if (c := a.check(field)) else None)
            for a in report.accounts}


def test_the_majority_is_proposed(tmp_path: Path) -> None:
    bio = "Care close to home since 1921. Call (217) 555-0142."
    report = run(tmp_path, {"name": "Riverside"}, {
        "a": {"display_name": "Riverside", "description": bio,
              "website": "https://riverside.org/", "avatar_url": "https://a/1.png"},
        "b": {"display_name": "Riverside", "description": bio,
              "website": "http://www.riverside.org", "avatar_url": "https://a/2.jpg"},
        "c": {"display_name": "Riverside", "description": "Old bio. Call 217 555 0100.",
              "website": "https://riverside-old.org", "avatar_url": "https://a/3.png"},
        "d": {"display_name": "Riverside", "avatar_url": "https://a/4.png"},
    })
    assert statuses(report, "description") == {"a": "match", "b": "match", "c": "drift",
                                               "d": "missing"}
    drift = report.accounts[2].check("description")
    assert drift is not None
    assert drift.majority
    assert drift.fix == bio
    assert statuses(report, "website") == {"a": "match", "b": "match", "c": "drift",
                                           "d": "missing"}
    assert statuses(report, "phone") == {"a": "match", "b": "match", "c": "drift", "d": None}
    assert statuses(report, "avatar") == {"a": "match", "b": "match", "c": "drift",
                                          "d": "match"}


def test_no_majority_no_proposal(tmp_path: Path) -> None:
    report = run(tmp_path, {"name": "Riverside"}, {
        "a": {"display_name": "Riverside", "description": "One."},
        "b": {"display_name": "Riverside", "description": "Two."},
    })
    assert statuses(report, "description") == {"a": None, "b": None}
    assert not report.drift


def test_phone_numbers_written_five_ways_all_match(tmp_path: Path) -> None:
    ways = ["(217) 555-0142", "217-555-0142", "+1 217 555 0142", "217.555.0142",
            "1-217-555-0142"]
    profiles = {f"p{i}": {"display_name": "Riverside", "phone": way}
                for i, way in enumerate(ways)}
    profiles["bio"] = {"display_name": "Riverside", "description": "Call 217 555 0142 today."}
    report = run(tmp_path, {"name": "Riverside", "phone": ["+12175550142"]}, profiles)
    assert set(statuses(report, "phone").values()) == {"match"}
    assert not report.drift


@pytest.mark.parametrize("region", ["US", "us"])
def test_the_brand_region_reads_local_numbers(tmp_path: Path, region: str) -> None:
    report = run(tmp_path, {"name": "R", "phone": ["217 555 0142"], "region": region},
                 {"a": {"display_name": "R", "phone": "+1 (217) 555-0142"}})
    assert statuses(report, "phone") == {"a": "match"}
