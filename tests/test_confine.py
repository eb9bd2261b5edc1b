"""Hostile input refused: special files, caps, media outside the roots, private addresses."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carecast import Config, InputRefused, InvalidPost, Post, Publisher, load_config, load_post
from carecast.channels.media import media_bytes
from carecast.channels.webhook import WebhookOptions, secret_bits
from carecast.cli import app
from carecast.confine import (
    MediaRules,
    confine,
    guard_session,
    public_address,
    read_capped,
)
from carecast.errors import ConfigurationError, PlatformRejected
from carecast.post import MAX_DEPTH, Media, post_from_dict
from carecast.records import State
from carecast.store import Ledger

WHERE = {"channel": "x", "account": "x-main"}


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "post.yaml"
    os.mkfifo(path)
    return path


# -- read_capped: regular files only, at most the cap ---------------------------------------

@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_refused_at_once(special: str) -> None:
    start = time.monotonic()
    with pytest.raises(InputRefused, match="a character device; carecast reads regular files"):
        read_capped(special, cap=10, setting="X")
    assert time.monotonic() - start < 1


def test_a_fifo_is_refused_without_waiting_for_a_writer(fifo: Path) -> None:
    start = time.monotonic()
    with pytest.raises(InputRefused, match="is a FIFO"):
        read_capped(fifo, cap=10, setting="X")
    assert time.monotonic() - start < 1


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputRefused, match="is a folder"):
        read_capped(tmp_path, cap=10, setting="X")


def test_a_file_over_the_cap_names_the_cap_and_the_setting(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(InputRefused, match=r"11 bytes, over the cap of 10 bytes "
                                           r"\(raise it with CARECAST_MAX_POST_BYTES\)"):
        read_capped(tmp_path / "big", cap=10, setting="CARECAST_MAX_POST_BYTES")
    assert read_capped(tmp_path / "big", cap=11, setting="X") == b"x" * 11


# -- post and config files -------------------------------------------------------------------

def test_a_fifo_post_file_is_invalid_at_once(fifo: Path) -> None:
    with pytest.raises(InvalidPost, match="is a FIFO"):
        load_post(fifo)


def test_a_post_file_over_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "post.json"
    path.write_text('{"text": "' + "a" * 2000 + '"}')
    with pytest.raises(InvalidPost, match=r"over the cap of 1000 bytes .*MAX_POST_BYTES"):
        load_post(path, max_bytes=1000)
    monkeypatch.setenv("CARECAST_MAX_POST_BYTES", "1000")
    with pytest.raises(InvalidPost, match="over the cap of 1000 bytes"):
        load_post(path)
    monkeypatch.setenv("CARECAST_MAX_POST_BYTES", "3000")
    assert load_post(path).text == "a" * 2000


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f'{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]'
              for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\ntext: hi\n")
    start = time.monotonic()
    with pytest.raises(InvalidPost, match="not valid YAML"):
        load_post(path)
    assert time.monotonic() - start < 1


def test_a_fifo_config_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "carecast.toml"
    os.mkfifo(path)
    with pytest.raises(ConfigurationError, match="is a FIFO"):
        load_config(path)


def test_a_config_over_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "carecast.toml"
    path.write_text("# " + "x" * 5000 + "\n")
    monkeypatch.setenv("CARECAST_MAX_CONFIG_BYTES", "4096")
    with pytest.raises(ConfigurationError, match="CARECAST_MAX_CONFIG_BYTES"):
        load_config(path)


def test_cli_publish_dev_zero_exits_with_a_clear_message_at_once(tmp_path: Path) -> None:
    config = tmp_path / "carecast.toml"
    config.write_text('[store]\nurl = "sqlite:///c.db"\n')
    fifo = tmp_path / "post.yaml"
    os.mkfifo(fifo)
    for post in ("/dev/zero", str(fifo)):
        start = time.monotonic()
        result = CliRunner().invoke(app, ["--config", str(config), "publish", post])
        assert time.monotonic() - start < 5
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert "unknown file type" in result.output or "FIFO" in result.output
    assert not (tmp_path / "c.db").exists()  # nothing stored for a post that never was one


# -- media confined to the roots -------------------------------------------------------------

def test_dot_dot_may_not_leave_the_roots(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "ok.png").write_bytes(b"x")
    assert confine(tmp_path / "a" / ".." / "ok.png", [tmp_path]) == (tmp_path / "ok.png")
    with pytest.raises(InputRefused, match="outside the media roots"):
        confine(tmp_path / "a" / ("../" * 12) / "etc" / "passwd", [tmp_path / "a"])


def test_a_symlink_is_followed_to_its_target(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    (root / "inside.png").write_bytes(b"x")
    (root / "out.png").symlink_to(outside / "secret.png")
    (root / "in.png").symlink_to(root / "inside.png")
    with pytest.raises(InputRefused, match="outside the media roots; add its folder"):
        confine(root / "out.png", [root])
    assert confine(root / "in.png", [root]) == (root / "inside.png").resolve()
    assert confine(outside / "secret.png", [root, outside]).name == "secret.png"


def test_special_files_and_folders_are_refused(tmp_path: Path, fifo: Path) -> None:
    with pytest.raises(InputRefused, match="FIFO"):
        confine(fifo, [tmp_path])
    with pytest.raises(InputRefused, match="folder"):
        confine(tmp_path, [tmp_path])
    with pytest.raises(InputRefused, match="outside the media roots"):
        confine("/dev/zero", [tmp_path])
    with pytest.raises(InputRefused, match="character device"):
        confine("/dev/zero", [Path("/dev")])


def test_a_hard_link_is_refused_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    os.link(tmp_path / "a.png", tmp_path / "b.png")
    with pytest.raises(InputRefused, match=r"hard links.*hard_links = true"):
        confine(tmp_path / "b.png", [tmp_path])
    assert confine(tmp_path / "b.png", [tmp_path], hard_links=True).name == "b.png"


def test_media_bytes_refuses_a_file_outside_the_roots(tmp_path: Path) -> None:
    with pytest.raises(PlatformRejected, match=r"outside the media roots.*nothing was sent"):
        media_bytes(Media(source="../" * 12 + "etc/passwd", kind="image"), root=tmp_path,
                    **WHERE)
    with pytest.raises(PlatformRejected, match="outside the media roots"):
        media_bytes(Media(source="/etc/passwd", kind="image"), root=tmp_path, **WHERE)


def test_media_over_the_kind_cap_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x" * 20)
    rules = MediaRules(roots=(tmp_path,), max_bytes={"image": 10})
    with pytest.raises(PlatformRejected, match=r"over the cap of 10 bytes .*max_bytes.image"):
        media_bytes(Media(source="a.png"), root=tmp_path, rules=rules, **WHERE)


def test_media_section_of_the_config(tmp_path: Path) -> None:
    config = Config.from_dict({"media": {"roots": ["media", "/srv/shared"],
                                         "allow_hosts": ["CDN.Local"],
                                         "max_bytes": {"video": 10}}}, root=tmp_path)
    rules = config.media_rules()
    assert rules.roots == (tmp_path / "media", Path("/srv/shared"))
    assert rules.allow_hosts == {"cdn.local"}
    assert rules.cap("video") == 10
    assert rules.cap("image") == 50 << 20
    assert Config.from_dict({}, root=tmp_path).media_rules().roots == (tmp_path,)
    with pytest.raises(ConfigurationError, match="max_bytes"):
        Config.from_dict({"media": {"max_bytes": {"pdf": 10}}})


def test_publishing_dot_dot_media_sends_nothing_and_stores_why(tmp_path: Path) -> None:
    """The issue's case: ``../../etc/passwd`` copied into the public blog folder."""
    home = tmp_path / "site"
    home.mkdir()
    config = Config.from_dict({
        "store": {"url": "sqlite:///c.db"},
        "accounts": {"news": {"channel": "blog", "path": "public", "title": "News"}},
    }, root=home)
    post = Post(id="leak-1", text="Our new lobby", media=(
        Media(source="../../../../../../etc/passwd", kind="image", alt_text="x"),))
    with Publisher(config, entry_point_plugins=False) as publisher:
        report = publisher.publish(post)
        [outcome] = report.outcomes
        assert outcome.state != State.PUBLISHED
        [attempt] = publisher.ledger.attempts("leak-1")
    assert attempt.error is not None
    assert "outside the media roots" in attempt.error.message
    public = home / "public"
    assert not public.exists() or not any(p.name == "passwd" for p in public.rglob("*"))


# -- media URLs: public addresses only, checked on the connected socket ------------------------

@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1",
                                     "172.16.0.1", "0.0.0.0", "::1", "fc00::1", "fe80::1",
                                     "::ffff:127.0.0.1", "100.64.0.1", "240.0.0.1"])
def test_private_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not public_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert public_address(address)


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("to=", 1)[1])
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"pixels")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_loopback_media_url_is_refused_by_default(tmp_path: Path, server: str) -> None:
    with pytest.raises(PlatformRejected, match=r"private or reserved.*allow_hosts"):
        media_bytes(Media(source=f"http://{server}/a.png"), root=tmp_path, **WHERE)
    assert _Handler.hits == []  # refused on connect, before a byte was sent


def test_an_allowed_host_is_fetched(tmp_path: Path, server: str) -> None:
    rules = MediaRules(roots=(tmp_path,), allow_hosts=frozenset({"127.0.0.1"}))
    data = media_bytes(Media(source=f"http://{server}/a.png"), root=tmp_path, rules=rules,
                       **WHERE)
    assert data == b"pixels"


def test_a_redirect_to_a_host_not_allowed_is_refused(tmp_path: Path, server: str) -> None:
    port = server.rsplit(":", 1)[1]
    rules = MediaRules(roots=(tmp_path,), allow_hosts=frozenset({"127.0.0.1"}))
    url = f"http://{server}/redirect?to=http://localhost:{port}/a.png"
    with pytest.raises(PlatformRejected, match="'localhost' is a loopback, link-local, private"):
        media_bytes(Media(source=url, kind="image"), root=tmp_path, rules=rules, **WHERE)
    assert _Handler.hits == ["/redirect?to=" + f"http://localhost:{port}/a.png"]


def test_the_guard_checks_the_connected_peer_not_the_name(server: str) -> None:
    import requests

    session = guard_session(requests.Session(), allow_hosts=())
    port = server.rsplit(":", 1)[1]
    # "localhost" is not an IP literal: the check runs on the address actually connected.
    with pytest.raises(InputRefused):
        session.get(f"http://localhost:{port}/a.png", timeout=5)
    session.close()


# -- nesting and the webhook's secret and lookup URL -----------------------------------------

def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def test_override_options_nesting_is_capped(tmp_path: Path) -> None:
    deep = {"text": "hi", "overrides": {"x": {"options": {"o": _nested(MAX_DEPTH + 5)}}}}
    with pytest.raises(InvalidPost, match=f"nest more than {MAX_DEPTH} levels"):
        post_from_dict(deep)
    with pytest.raises(InvalidPost, match="nest more than"):
        post_from_dict({"text": "hi", "overrides": {"x": {"options": {"o": _nested(300)}}}})


def test_a_post_that_validates_is_read_back(tmp_path: Path) -> None:
    post = post_from_dict({"id": "deep-1", "text": "hi",
                           "overrides": {"x": {"options": {"o": _nested(MAX_DEPTH - 1)}}}})
    ledger = Ledger(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        ledger.record(post, [])
        assert ledger.get_post("deep-1") == post
    finally:
        ledger.close()


@pytest.mark.parametrize("secret", ["", "x", "s3cret", "a" * 200, "ab" * 100,
                                    "correct horse battery staple"])
def test_a_weak_webhook_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="too weak: give at least 32 random bytes"):
        WebhookOptions.model_validate({"url": "https://h.example/x", "secret": secret})


def test_a_random_32_byte_secret_is_accepted() -> None:
    import secrets

    for _ in range(200):
        for secret in (secrets.token_hex(32), secrets.token_urlsafe(32)):
            assert secret_bits(secret) >= 256
            WebhookOptions.model_validate({"url": "https://h.example/x", "secret": secret})


def test_a_lookup_url_is_https_outside_loopback() -> None:
    with pytest.raises(ValueError, match="https URL"):
        WebhookOptions.model_validate({"url": "https://h.example/x",
                                       "lookup_url": "http://h.example/lookup"})
    for url in ("https://h.example/lookup", "http://127.0.0.1:8080/l", "http://localhost/l",
                "http://[::1]:9/l"):
        WebhookOptions.model_validate({"url": "https://h.example/x", "lookup_url": url})


def test_a_brand_avatar_is_read_like_media(tmp_path: Path) -> None:
    from carecast.brand.audit import _brand_avatar
    from carecast.brand.avatar import AvatarCache

    os.mkfifo(tmp_path / "logo.png")
    cache = AvatarCache(tmp_path / "cache")
    for avatar, message in (("logo.png", "FIFO"), ("/etc/passwd", "outside the media roots")):
        config = Config.from_dict({"brands": {"rg": {"name": "RG", "avatar": avatar}}},
                                  root=tmp_path)
        with pytest.raises(ConfigurationError, match=message):
            _brand_avatar(config, "rg", config.brands["rg"], cache)
