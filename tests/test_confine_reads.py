"""Every local file a channel sends is read through confine.py (issue 13): checked and opened
at once, so a folder swapped for a symlink after the check is refused; brand-sync avatars
follow the media rules too."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from carecast import InputRefused
from carecast.channels.mastodon import MastodonChannel, MastodonOptions
from carecast.channels.media import media_file
from carecast.channels.x import XChannel, XOptions
from carecast.confine import MediaRules
from carecast.errors import PlatformRejected
from carecast.post import Media, ProfileChanges
from carecast.testing import FrozenClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
SECRET = b"-----BEGIN PRIVATE KEY----- outside the media roots"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A media root with photos/pic.png, and a folder outside it with the same layout."""
    root, outside = tmp_path / "media", tmp_path / "outside"
    (root / "photos").mkdir(parents=True)
    (outside / "photos").mkdir(parents=True)
    (root / "photos" / "pic.png").write_bytes(PNG)
    (outside / "photos" / "pic.png").write_bytes(SECRET)
    return root, outside


def swap_after_check(monkeypatch: pytest.MonkeyPatch, folder: Path, target: Path) -> None:
    """Between the check and the open, replace ``folder`` with a symlink to ``target``."""
    import carecast.confine as confine

    checked = confine._checked

    def racing(*args, **kw):
        found = checked(*args, **kw)
        folder.rename(folder.with_name(folder.name + ".moved"))
        folder.symlink_to(target, target_is_directory=True)
        return found

    monkeypatch.setattr(confine, "_checked", racing)


def test_a_confined_file_is_read(tree) -> None:
    root, _ = tree
    assert MediaRules(roots=(root,)).read(root / "photos" / "pic.png") == PNG


def test_a_folder_swapped_for_a_symlink_after_the_check_is_refused(tree, monkeypatch) -> None:
    root, outside = tree
    swap_after_check(monkeypatch, root / "photos", outside / "photos")
    with pytest.raises(InputRefused, match="changed between its check and its read"):
        MediaRules(roots=(root,)).read(root / "photos" / "pic.png")


def test_a_swap_during_a_channel_upload_sends_nothing(tree, monkeypatch) -> None:
    root, outside = tree
    swap_after_check(monkeypatch, root / "photos", outside / "photos")
    item = Media(source="photos/pic.png", alt_text="The new entrance")
    with pytest.raises(PlatformRejected, match="changed between its check") as info, \
            media_file(item, root=root, channel="mastodon", account="m",
                       rules=MediaRules(roots=(root,))) as (handle, _):
        handle.read()
    assert SECRET.decode() not in str(info.value)


def test_a_file_swapped_for_another_inside_the_roots_is_refused(tree, monkeypatch) -> None:
    """Same path, other file (replaced by rename after the check): not what was checked."""
    import carecast.confine as confine

    root, _ = tree
    other = root / "photos" / "other.png"
    other.write_bytes(PNG + b"other")
    checked = confine._checked

    def racing(*args, **kw):
        found = checked(*args, **kw)
        os.replace(other, root / "photos" / "pic.png")
        return found

    monkeypatch.setattr(confine, "_checked", racing)
    with pytest.raises(InputRefused, match="changed between"):
        MediaRules(roots=(root,)).read(root / "photos" / "pic.png")


# -- brand-sync avatars ----------------------------------------------------------------------

MASTODON = "https://social.example.org"


def mastodon(root: Path) -> MastodonChannel:
    channel = MastodonChannel("m", MastodonOptions(api_base_url=MASTODON,
                                                   access_token="t" * 32),
                              root=root, clock=FrozenClock(NOW))
    channel.media_rules = MediaRules(roots=(root,), max_bytes={"image": 1024})
    return channel


def x_channel(root: Path) -> XChannel:
    channel = XChannel("x", XOptions(consumer_key="ck", consumer_secret="cs",
                                     access_token="1-at", access_token_secret="ats"),
                       root=root, clock=FrozenClock(NOW))
    channel.media_rules = MediaRules(roots=(root,), max_bytes={"image": 1024})
    return channel


@pytest.mark.parametrize("make", [mastodon, x_channel], ids=["mastodon", "x"])
@pytest.mark.parametrize(("avatar", "why"), [
    ("../outside/photos/pic.png", "outside the media roots"),
    ("/dev/zero", "outside the media roots"),
    ("big.png", "over the cap of 1024 bytes"),
    ("fifo.png", "a FIFO"),
], ids=["outside", "device", "over-cap", "fifo"])
@responses.activate
def test_an_avatar_outside_the_media_rules_is_never_uploaded(tree, make, avatar, why) -> None:
    root, _ = tree
    (root / "big.png").write_bytes(PNG + bytes(2048))
    os.mkfifo(root / "fifo.png")
    with pytest.raises(PlatformRejected, match=why) as info:
        make(root).update_profile(ProfileChanges(avatar=Path(avatar)))
    assert "nothing was changed" in str(info.value)
    assert len(responses.calls) == 0


@responses.activate
def test_an_avatar_inside_the_roots_is_uploaded(tree) -> None:
    root, _ = tree
    responses.patch(f"{MASTODON}/api/v1/accounts/update_credentials", json={"id": "1"})
    mastodon(root).update_profile(ProfileChanges(avatar=Path("photos/pic.png")))
    assert PNG in responses.calls[-1].request.body


# -- media downloads through a proxy ----------------------------------------------------------

class _Proxy:
    """A forward HTTP proxy on 127.0.0.1 that answers every absolute-URI GET itself."""

    def __init__(self, redirect_to: str | None = None) -> None:
        import http.server
        import threading

        self.seen: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(self.path)
                if redirect_to and "redirected" not in self.path:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake DNS for the named hosts (others resolve as usual)."""
    import socket

    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kw):
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return names


def fetch(url: str, **rules) -> bytes:
    from carecast.channels.media import download

    path = download(Media(source=url, alt_text="x"), channel="mastodon", account="m",
                    rules=MediaRules(roots=(), **rules))
    try:
        return path.read_bytes()
    finally:
        path.unlink()


def test_a_download_goes_through_the_environment_proxy_when_configured(
        monkeypatch, resolve) -> None:
    proxy = _Proxy()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        resolve["cdn.example.org"] = "93.184.216.34"
        assert fetch("http://cdn.example.org/pic.png", env_proxy=True) == PNG
        assert proxy.seen == ["http://cdn.example.org/pic.png"]
    finally:
        proxy.close()


@pytest.mark.parametrize("redirect", [None, "http://intranet.example.org/redirected"],
                         ids=["private-host", "redirect-to-private-host"])
def test_a_proxied_download_of_a_private_host_is_refused(monkeypatch, resolve,
                                                         redirect) -> None:
    proxy = _Proxy(redirect_to=redirect)
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        resolve["cdn.example.org"] = "93.184.216.34" if redirect else "10.0.0.5"
        resolve["intranet.example.org"] = "10.1.2.3"
        with pytest.raises(PlatformRejected, match="private or reserved address"):
            fetch("http://cdn.example.org/pic.png", env_proxy=True)
        assert proxy.seen == ([] if redirect is None else ["http://cdn.example.org/pic.png"])
        resolve["intranet.example.org"] = "10.1.2.3"
        if redirect is None:  # allowed explicitly: fetched through the proxy
            assert fetch("http://cdn.example.org/pic.png", env_proxy=True,
                         allow_hosts=frozenset({"cdn.example.org"})) == PNG
    finally:
        proxy.close()


def test_without_env_proxy_the_environment_proxy_is_never_used(monkeypatch) -> None:
    proxy = _Proxy()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with pytest.raises(PlatformRejected):  # connects directly: 127.0.0.1 is refused
            fetch(f"{proxy.url}/pic.png")
        assert proxy.seen == []
    finally:
        proxy.close()
