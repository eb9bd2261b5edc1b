"""The HTML report in a real browser: headless Chromium renders it, avatars and all.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); skipped without it.
The same command made ``docs/images/brand-report.png``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from carecast.brand import AvatarCache, BrandReport, audit, report_html

from ._helpers import StaticChannel, config
from ._images import brand_png, other_png, recompressed_jpeg, resized_png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DESCRIPTION = ("Riverside General Hospital cares for the river valley: emergency, cancer and "
               "maternity care in Springfield, Illinois, since 1921. Not medical advice.")
LOGO_GREEN = (42, 157, 87)  # the river band of the logo: only the avatars hold it
OLD_ORANGE = (230, 120, 20)  # the retired logo: only the Facebook account's live avatar


def demo_report(root: Path) -> tuple[BrandReport, AvatarCache]:
    """Four accounts of Riverside General: two match, two drift (the docs' screenshot)."""
    (root / "logo.png").write_bytes(brand_png())
    images = {"https://a/x.jpg": recompressed_jpeg(), "https://a/m.png": resized_png(),
              "https://a/f.jpg": other_png(), "https://a/i.png": resized_png(150)}
    StaticChannel.profiles = {
        "riverside-x": {"display_name": "Riverside General", "handle": "@RiversideGeneral",
                        "description": DESCRIPTION[:150], "website": "https://bit.ly/rgh",
                        "avatar_url": "https://a/x.jpg"},
        "riverside-mastodon": {"display_name": "Riverside General Hospital",
                               "handle": "@riverside@health.example.social",
                               "description": DESCRIPTION,
                               "website": "http://www.riverside-general.org/?utm_source=m",
                               "avatar_url": "https://a/m.png"},
        "riverside-facebook": {"display_name": "Riverside General Hospital",
                               "handle": "riversidegeneral",
                               "description": "Led by CEO Jane Roe since 2019.",
                               "website": "https://riverside-general.org",
                               "phone": "(217) 555-0100", "avatar_url": "https://a/f.jpg",
                               "location": "400 Oak Street, Springfield, IL 62704"},
        "riverside-instagram": {"display_name": "Riverside", "handle": "riversidegeneral",
                                "description": DESCRIPTION[:148],
                                "website": "https://riverside-general.org",
                                "avatar_url": "https://a/i.png"},
    }
    channels = {"riverside-x": "x", "riverside-mastodon": "mastodon",
                "riverside-facebook": "facebook", "riverside-instagram": "instagram"}
    classes = {name: type(name.title(), (StaticChannel,), {"name": name})
               for name in channels.values()}
    cfg = config({"name": "Riverside General Hospital",
                  "short_names": ["Riverside General", "Riverside"],
                  "description": DESCRIPTION, "website": "https://riverside-general.org",
                  "phone": ["+1 217 555 0142"], "avatar": "logo.png",
                  "address": ["1 River Road, Suite 200, Springfield, IL 62701"]},
                 channels, root)
    cache = AvatarCache(root / "cache")
    def channel_of(account: str) -> StaticChannel:
        return classes[channels[account]](account, StaticChannel.Options())

    report = audit(cfg, "r", channel_of, fetch_image=images.__getitem__, cache=cache)
    assert all(a.error is None for a in report.accounts)
    return report, cache


def screenshot(page: Path, png: Path) -> subprocess.CompletedProcess[Any]:
    assert CHROMIUM is not None, "CARECAST_TEST_REQUIRE_CHROMIUM is set: install chromium"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--hide-scrollbars", f"--screenshot={png}", "--window-size=1280,900",
         page.as_uri()], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CARECAST_TEST_REQUIRE_CHROMIUM"),
                    reason="headless Chromium is not installed (apt-get install -y chromium)")
def test_the_report_renders_in_chromium_with_its_avatars(tmp_path: Path) -> None:
    report, cache = demo_report(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(report_html(report, cache), encoding="utf-8")
    png = tmp_path / "shot.png"
    done = screenshot(page, png)
    assert png.is_file(), done.stderr[-2000:]
    with Image.open(png) as shot:
        assert shot.size == (1280, 900)
        rgb = shot.convert("RGB")
        raw = rgb.tobytes()
        header = rgb.getpixel((5, 5))

    def count(colour: tuple[int, int, int]) -> int:
        return sum(1 for i in range(0, len(raw), 3)
                   if all(abs(raw[i + k] - colour[k]) < 12 for k in range(3)))

    # the inlined avatars were drawn, the brand's and the live ones: no file, no network
    assert count(LOGO_GREEN) > 500
    assert count(OLD_ORANGE) > 500
    assert header == (11, 79, 108)  # the page's styles applied
