"""Brand audit of 300 accounts whose platform answers after 100 ms, avatars included.

Each account's ``fetch_profile`` answers after 100 ms and its avatar download after another
100 ms (mocked I/O: a sleep, then the answer); every account has its own avatar bytes (the
logo at another size or JPEG quality, one in ten a retired logo), so the cold audit fetches,
stores and perceptually hashes 300 images. The warm audit finds the hashes in the cache. With
the default concurrency the ideal is ceil(300 / concurrency) x 200 ms. Run:
``python benchmarks/bench_brand.py``.
"""

from __future__ import annotations

import io
import math
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from _common import Row, median, ms, table
from PIL import Image, ImageDraw

from carecast import Config, Publisher
from carecast.brand import DEFAULT_CONCURRENCY, AvatarCache, audit
from carecast.brand.avatar import perceptual_hash
from carecast.channels.base import Channel
from carecast.post import Draft, Profile, Receipt

ACCOUNTS = 300
LATENCY = 0.1
TARGET = 3.0
IDEAL = math.ceil(ACCOUNTS / DEFAULT_CONCURRENCY) * 2 * LATENCY
DESCRIPTION = "Care close to home since 1921. Call (217) 555-0142. Not medical advice."


def _logo(size: int, retired: bool) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    if retired:
        draw.rectangle([0, 0, size * 2 // 3, size * 2 // 3], fill=(230, 120, 20))
        draw.ellipse([size // 2, size // 2, size, size], fill=(40, 40, 60))
    else:
        draw.ellipse([size // 10, size // 10, size * 9 // 10, size * 9 // 10], fill=(11, 79, 108))
        draw.rectangle([size * 17 // 40, size // 5, size * 23 // 40, size * 4 // 5], fill="white")
        draw.rectangle([size // 5, size * 17 // 40, size * 4 // 5, size * 23 // 40], fill="white")
    return image


def avatars() -> list[bytes]:
    """One avatar per account: the logo at 200-499 px, JPEG quality 40-95; every tenth retired."""
    out = []
    for i in range(ACCOUNTS):
        buffer = io.BytesIO()
        _logo(200 + i, retired=i % 10 == 9).save(buffer, "JPEG", quality=40 + i % 56)
        out.append(buffer.getvalue())
    return out


class MockedPlatform(Channel):
    """Answers ``fetch_profile`` after ``LATENCY`` seconds."""

    name: ClassVar[str] = "mocked"
    title: ClassVar[str] = "Mocked platform"

    def publish(self, draft: Draft, key: str) -> Receipt:
        raise NotImplementedError

    def delete(self, receipt: Receipt) -> None:
        raise NotImplementedError

    def fetch_profile(self) -> Profile:
        time.sleep(LATENCY)
        n = int(self.account.rsplit("-", 1)[1])
        return Profile(channel=self.name, account=self.account,
                       display_name="Riverside General" if n % 7 else "Riverside Gen.",
                       handle=f"@riverside{n}", description=DESCRIPTION,
                       website="https://www.riverside-general.org/?utm_source=bio",
                       avatar_url=f"https://cdn.example/{n}.jpg",
                       phone="217.555.0142" if n % 5 else "217.555.0100")


def _config(root: Path) -> Config:
    (root / "logo.png").write_bytes(_png())
    return Config.from_dict({
        "store": {"url": f"sqlite:///{root / 'brand.db'}"},
        "brands": {"r": {"name": "Riverside General", "description": DESCRIPTION,
                         "website": "https://riverside-general.org", "phone": ["+12175550142"],
                         "avatar": "logo.png"}},
        "accounts": {f"acct-{i:03d}": {"channel": "mocked", "brand": "r"}
                     for i in range(ACCOUNTS)}}, root=root, environ={})


def _png() -> bytes:
    buffer = io.BytesIO()
    _logo(400, retired=False).save(buffer, "PNG")
    return buffer.getvalue()


def measure(rounds: int = 3) -> tuple[list[float], list[float], dict[str, Any]]:
    """Cold (empty cache) and warm wall seconds per audit, and the last report's counts."""
    images = avatars()

    def fetch(url: str) -> bytes:
        time.sleep(LATENCY)
        return images[int(url.rsplit("/", 1)[1].split(".")[0])]

    cold, warm, counts = [], [], {}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="carecast-bench-") as tmp:
            root = Path(tmp)
            cfg = _config(root)
            with Publisher(cfg, entry_point_plugins=False,
                           channel_classes={"mocked": MockedPlatform}) as publisher:
                for name in cfg.accounts:  # built before timing, as a long-lived publisher has
                    publisher.channel(name)
                for walls in (cold, warm):
                    start = time.perf_counter()
                    report = audit(cfg, "r", publisher.channel, fetch_image=fetch,
                                   cache=AvatarCache(root / "cache"))
                    walls.append(time.perf_counter() - start)
                    counts = report.counts()
    return cold, warm, counts


def run() -> list[Row]:
    images = avatars()
    start = time.perf_counter()
    for data in images:
        perceptual_hash(data)
    hashing = time.perf_counter() - start
    cold, warm, counts = measure()
    return [
        Row("brand", f"audit {ACCOUNTS} accounts, profile + avatar 100 ms each, concurrency "
                     f"{DEFAULT_CONCURRENCY}: ideal", ms(IDEAL)),
        Row("brand", f"audit, empty avatar cache (hashes {ACCOUNTS} images): median of "
                     f"{len(cold)}", ms(median(cold)), f"< {TARGET:.0f} s",
            median(cold) < TARGET),
        Row("brand", "audit, warm avatar cache: median", ms(median(warm)), f"< {TARGET:.0f} s",
            median(warm) < TARGET),
        Row("brand", f"perceptual hashing of the {ACCOUNTS} avatars alone, one thread",
            ms(hashing)),
        Row("brand", "field checks: match / drift / missing",
            f"{counts['match']} / {counts['drift']} / {counts['missing']}"),
    ]


if __name__ == "__main__":
    print(table(run()))
