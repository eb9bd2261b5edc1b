"""A media item's bytes for upload: local or downloaded, every failure "not sent"."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import requests
import responses

from carecast.channels.media import download, media_bytes, media_file
from carecast.errors import ChannelConnectionError, PlatformRejected
from carecast.post import Media

URL = "https://cdn.riverside.example/img/lobby.png?sig=T0KEN-in-the-url"
WHERE = {"channel": "x", "account": "x-main"}


def test_a_local_file_is_read_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "lobby.png").write_bytes(b"pixels")
    with media_file(Media(source="lobby.png"), root=tmp_path, **WHERE) as (handle, size):
        assert (handle.read(), size) == (b"pixels", 6)
    assert handle.closed


def test_an_unreadable_file_names_the_field_and_was_not_sent(tmp_path: Path) -> None:
    with pytest.raises(PlatformRejected, match=r"media\[2\]: no readable file 'gone.png'") as info:
        media_bytes(Media(source="gone.png"), root=tmp_path, field="media[2]", **WHERE)
    assert not info.value.may_have_been_sent
    assert not info.value.retryable


@responses.activate
def test_a_url_is_downloaded_and_the_copy_removed(tmp_path: Path) -> None:
    responses.get(URL, body=b"downloaded pixels")
    before = set(Path(tempfile.gettempdir()).glob("carecast-*"))
    with media_file(Media(source=URL), root=tmp_path, **WHERE) as (handle, size):
        assert handle.read() == b"downloaded pixels"
        assert size == 17
    assert set(Path(tempfile.gettempdir()).glob("carecast-*")) == before


@responses.activate
@pytest.mark.parametrize(("answer", "cls", "retryable"), [
    ({"status": 404}, PlatformRejected, False),
    ({"status": 403}, PlatformRejected, False),
    ({"status": 503}, ChannelConnectionError, True),
    ({"body": requests.ConnectionError("refused")}, ChannelConnectionError, True),
    ({"body": requests.ReadTimeout("slow")}, ChannelConnectionError, True),
])
def test_a_failed_download_was_surely_not_sent(tmp_path: Path, answer, cls, retryable) -> None:
    responses.get(URL, **answer)
    with pytest.raises(cls, match=r"media: could not download 'lobby.png'") as info:
        media_bytes(Media(source=URL), root=tmp_path, **WHERE)
    assert info.value.retryable is retryable
    assert not info.value.may_have_been_sent  # a download is never an unknown outcome
    assert "T0KEN" not in str(info.value)


@responses.activate
def test_a_download_over_the_limit_is_refused_and_removed(tmp_path: Path) -> None:
    responses.get(URL, body=b"x" * 5000)
    before = set(Path(tempfile.gettempdir()).glob("carecast-*"))
    with pytest.raises(PlatformRejected, match="over the x limit of 1000 bytes"):
        download(Media(source=URL), cap=1000, **WHERE)
    assert set(Path(tempfile.gettempdir()).glob("carecast-*")) == before


def test_a_local_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(b"x" * 2000)
    with pytest.raises(PlatformRejected, match="2000 bytes, over the x limit of 1000"):
        media_bytes(Media(source="big.png"), root=tmp_path, cap=1000, **WHERE)
