"""Avatars: resized and re-compressed copies of the logo match, another logo does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from carecast.brand.avatar import MATCH_DISTANCE, AvatarCache, distance, perceptual_hash
from carecast.brand.fetch import http_fetcher, http_resolver
from carecast.errors import ChannelError

from ._images import brand_png, other_png, recompressed_jpeg, resized_png


@pytest.mark.parametrize("copy", [resized_png(128), resized_png(48), recompressed_jpeg(35),
                                  recompressed_jpeg(10)], ids=["128px", "48px", "jpeg-q35",
                                                               "jpeg-q10"])
def test_copies_of_the_logo_match(copy: bytes) -> None:
    original, seen = perceptual_hash(brand_png()), perceptual_hash(copy)
    assert original is not None
    assert seen is not None
    assert distance(original, seen) <= MATCH_DISTANCE


def test_another_logo_does_not_match() -> None:
    original, other = perceptual_hash(brand_png()), perceptual_hash(other_png())
    assert original is not None
    assert other is not None
    assert distance(original, other) > 2 * MATCH_DISTANCE


def test_not_an_image() -> None:
    assert perceptual_hash(b"<html>404</html>") is None


def test_the_cache_keeps_each_image_once_by_content(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cache = AvatarCache(tmp_path / "avatars")
    first = cache.put(brand_png())
    assert cache.put(brand_png()) == first
    assert sorted(p.name for p in (tmp_path / "avatars").iterdir()) == [first]
    hashed = cache.phash(first)
    assert (tmp_path / "avatars" / f"{first}.phash").read_text() == hashed
    import carecast.brand.avatar as avatar

    monkeypatch.setattr(avatar, "perceptual_hash", lambda data: pytest.fail("hashed twice"))
    assert AvatarCache(tmp_path / "avatars").phash(first) == hashed
    assert cache.data_uri(first).startswith("data:image/png;base64,iVBOR")
    jpeg = cache.put(recompressed_jpeg())
    assert cache.data_uri(jpeg).startswith("data:image/jpeg;base64,")
    assert cache.get("0" * 64) is None
    assert cache.data_uri("0" * 64) is None


def test_http_fetcher_maps_errors() -> None:
    import requests
    import responses

    with responses.RequestsMock() as mocked:
        mocked.get("https://cdn.example/a.png", body=brand_png())
        mocked.get("https://cdn.example/gone.png", status=404)
        fetch = http_fetcher(requests.Session())
        assert fetch("https://cdn.example/a.png") == brand_png()
        with pytest.raises(ChannelError) as info:
            fetch("https://cdn.example/gone.png")
    assert info.value.status == 404


def test_http_resolver_follows_a_shortener() -> None:
    import requests
    import responses

    with responses.RequestsMock() as mocked:
        mocked.head("https://bit.ly/rgh", status=301,
                    headers={"Location": "https://www.riverside-general.org/?utm_source=x"})
        mocked.head("https://www.riverside-general.org/?utm_source=x", status=200)
        mocked.head("https://bit.ly/plain", status=200)
        resolve = http_resolver(requests.Session())
        assert resolve("https://bit.ly/rgh") == "https://www.riverside-general.org/?utm_source=x"
        assert resolve("https://bit.ly/plain") is None
