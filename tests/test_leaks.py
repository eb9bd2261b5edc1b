"""No configured secret survives a platform that echoes it back (issue 13 item 5).

Every network channel gets real-looking secrets from the secrets file; every platform answers
every request with an error whose body and headers echo all of them (as sent, in an
``Authorization`` header, as an ``access_token=`` query). Then the publish report, the CLI's
``publish``, ``status`` and ``audit export`` output, the DEBUG logs, reprs, config dumps, the
SQLite files and each channel's raised errors are searched for them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import responses
from typer.testing import CliRunner

from carecast.channels import channel_names, get_channel_class
from carecast.channels.bluesky import BlueskyChannel
from carecast.channels.youtube import YouTubeChannel
from carecast.cli import app
from carecast.config import load_config
from carecast.errors import ChannelError
from carecast.post import Media, Post
from carecast.publish import Publisher
from carecast.publish.retry import RetryPolicy
from carecast.records import ErrorInfo
from carecast.testing import FrozenClock

#: Per account, its secrets: shaped like each platform's (lengths, prefixes), none real.
SECRETS: dict[str, dict[str, str]] = {
    "masto": {"access_token": "Zk3p9QwL2xVb7RtY6nM1cJ0aHsD4eGuFiKoP8lBq5Ns"},
    "xacct": {"consumer_key": "qW3eR5tY7uI9oP1aS2dF4gH6j",
              "consumer_secret": "Lk8Jh6Gf4Ds2Aq1Zx3Cv5Bn7Mm9Po0Iu8Yt6Re4Wq2Ea1Sd3F",
              "access_token": "1448912345678901234-Tg5Hy7Uj9Ik1Ol3Pz2Xc4Vb6Nm8Qw0",
              "access_token_secret": "Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz1Xc3Vb5Nm7Qw9Er1Ty"},
    "fb": {"access_token": "EAAGm0PX4ZCpsBAKZBq7ZCkL9x2VbN3mQ8rT5yU1wE6zH4jD0sA",
           "app_secret": "9f3c2b7a1e8d4c6b5a0f9e8d7c6b5a4f"},
    "ig": {"access_token": "IGQVJYeUk4aTZAhNm1aNUh3RkxVcmhGbUJ0ZA2V4dGhZAQ",
           "app_secret": "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"},
    "li": {"access_token": "AQV8fT3kLm9Pq2Rs5Tu7Vw0Xy4Za6Bc8De1Fg3Hi5Jk7Lm9No"},
    "sky": {"app_password": "k3vq-7xzp-2mwd-9hbf"},
    "tube": {"client_secret": "GOCSPX-7hT2kLm9Pq4Rs6Tu8Vw0Xy3Za",
             "refresh_token": "1//0gLm9Pq2Rs5Tu7Vw0Xy4Za6Bc8De1Fg3Hi5Jk7Lm9No-Pq2Rs5Tu7Vw0"},
    "wp": {"application_password": "abcd EFGH 1234 ijkl MNOP 5678"},
    "texts": {"auth_token": "9e1c4b7a2d5f8e3c6b9a0d4f7e2c5b8a"},
    "thr": {"access_token": "THAAGm0PX4ZCpsBAKZBq7Lk2Jh9Gf5Ds3Aq8Zx1Cv4Bn7Mm0"},
    "biz": {"client_secret": "GOCSPX-9kLm2Pq4Rs6Tu8Vw0Xy3ZaBc",
            "refresh_token": "1//0hQw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz1Xc3Vb5Nm7Qw9-Er1Ty3Ui5"},
    "news": {"password": "smtp-Pa55w0rd-9rTq2wXc7vB"},
    "lm": {"api_token": "lmT0k-4Hs8Kd2Lq9Zx7Cv1Bn3Mm5"},
    "fsq": {"api_key": "fsq3Ab7Cd9Ef1Gh3Ij5Kl7Mn9Op1Qr3St5Uv7"},
    "hook": {"url": "https://hooks.example.org/services/T01ABCDEF/B02GHIJKL/xoxb9Qw2Er4Ty6",
             "secret": "whsec_4Rt6Yu8Io0Pa2Sd4Fg6Hj8Kl0Zx2Cv4Bn6mQ7vX3nL9pK2wE5rT8yU1iO4aS6dF"},
}
SETTINGS: dict[str, dict[str, Any]] = {
    "masto": {"channel": "mastodon", "api_base_url": "https://health.example.social"},
    "xacct": {"channel": "x"},
    "fb": {"channel": "facebook", "page_id": "104500000000001"},
    "ig": {"channel": "instagram", "ig_user_id": "17841400008460056",
           "media_host_path": "hosted", "media_host_url": "https://media.example.org/h/"},
    "li": {"channel": "linkedin", "organization_id": 2414183},
    "sky": {"channel": "bluesky", "handle": "riverside.bsky.social"},
    "tube": {"channel": "youtube", "client_id": "123-abc.apps.googleusercontent.com"},
    "wp": {"channel": "wordpress", "site_url": "https://blog.example.org", "user": "editor"},
    "hook": {"channel": "webhook"},
    "thr": {"channel": "threads"},
    "biz": {"channel": "gbp", "account_id": "1234567890",
            "client_id": "456-def.apps.googleusercontent.com"},
    "texts": {"channel": "sms", "account_sid": "AC" + "5e" * 16, "from_number": "+15017122661"},
    # SMTP to a port on this machine that nobody listens on: refused, nothing leaves it.
    "news": {"channel": "email", "host": "127.0.0.1", "port": 9, "security": "none",
             "username": "news@example.org", "from_address": "News <news@example.org>",
             "list_address": "list@lists.example.org", "list_id": "news.example.org",
             "unsubscribe_url": "https://example.org/unsubscribe"},
    "lm": {"channel": "listmonk", "url": "https://lists.example.org", "api_user": "carecast",
           "lists": [1]},
    "fsq": {"channel": "foursquare", "venue_id": "4b0588f4f964a520a6d722e3"},
}
ALL = [value for account in SECRETS.values() for value in account.values()]
STORE_PASSWORD = "pg-Pa55w0rd-7Yh3Kq"
POST = Post(id="flu-1", title="Flu clinic", text="Flu shots are free this week at Riverside.")


def echo_text() -> str:
    """What a careless platform sends back: every secret, and headers as it received them."""
    tokens = " ".join(ALL)
    return (f"invalid request; you sent Authorization: Bearer {ALL[0]} and "
            f"?access_token={ALL[1]}&client_secret={ALL[2]} ({tokens})")


def echo_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Request-Id": f"req-{ALL[0]}",
            "WWW-Authenticate": f'Bearer error="invalid_token", token="{ALL[3]}"',
            "X-Echo": " ".join(ALL)}


def echo_body(url: str = "") -> str:
    """Each platform's error shape, its message the echo."""
    text = echo_text()
    if "health.example.social" in url:  # Mastodon: {"error": "..."}
        return json.dumps({"error": text})
    return json.dumps({"error": {"message": text, "type": "OAuthException", "code": 100,
                                 "fbtrace_id": ALL[4]},
                       "message": text, "detail": text, "title": text,
                       "errors": [{"message": text, "code": 32}], "serviceErrorCode": 100,
                       "error_description": text})


def found(*texts: str) -> list[str]:
    return [s for s in [*ALL, STORE_PASSWORD] for text in texts if s in text]


@pytest.fixture
def echoing(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    """Every platform, whatever its transport, answers 400 with the echo."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            mock.add_callback(method, re.compile(r"https?://.*"), callback=lambda request: (
                400, echo_headers(), echo_body(request.url)))
        monkeypatch.setattr(BlueskyChannel, "_http", _bluesky_http)
        monkeypatch.setattr(YouTubeChannel, "_authorized_http", lambda self: _EchoHttp())
        yield mock


def _bluesky_http(self: BlueskyChannel) -> httpx.Client:
    if self.session is None:
        self.session = httpx.Client(transport=httpx.MockTransport(
            lambda request: httpx.Response(400, headers=echo_headers(), content=json.dumps(
                {"error": "InvalidRequest", "message": echo_text()}))))
    return self.session


class _EchoHttp:
    """An httplib2 ``Http`` for google-api-python-client that always answers the echo."""

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = 1, connection_type: Any = None) -> Any:
        import httplib2

        answer = {k.lower(): v for k, v in echo_headers().items()}
        return httplib2.Response({"status": "400", **answer}), echo_body().encode()


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "hosted").mkdir()
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    lines = ['[store]', 'url = "sqlite:///state/carecast.db"', '[publish]', 'max_attempts = 1',
             '[brands.rg]', 'name = "Riverside General"']
    for name, settings in SETTINGS.items():
        lines += [f"[accounts.{name}]", 'brand = "rg"',
                  *(f"{k} = {json.dumps(v)}" for k, v in settings.items())]
    (tmp_path / "carecast.toml").write_text("\n".join(lines) + "\n")
    secrets = [line for name, values in SECRETS.items()
               for line in (f"[accounts.{name}]",
                            *(f"{k} = {json.dumps(v)}" for k, v in values.items()))]
    (tmp_path / "secrets.toml").write_text("\n".join(secrets) + "\n")
    (tmp_path / "post.yaml").write_text(
        f"id: {POST.id}\ntitle: {POST.title}\ntext: {POST.text}\n")
    for key in [k for k in os.environ if k.startswith("CARECAST_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CARECAST_CONFIG", str(tmp_path / "carecast.toml"))
    _opt_in(load_config())
    monkeypatch.setenv("CARECAST_SECRETS_FILE", str(tmp_path / "secrets.toml"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _opt_in(config: Any) -> None:
    """One number opted in to the brand, so the SMS account texts someone."""
    from carecast.consent import MessagingConsent
    from carecast.store.messaging import Messaging

    with Publisher(config, entry_point_plugins=False) as publisher:
        Messaging(publisher.ledger).opt_in(MessagingConsent(
            number="+12025550142", brand="rg", given_at=publisher.clock.now(), how="form"))


def test_every_channel_is_configured_here() -> None:
    configured = {settings["channel"] for settings in SETTINGS.values()}
    local = {"blog", "outbox"}  # they talk to no platform
    assert set(channel_names()) - local <= configured


def test_an_echoing_platform_leaks_nothing(deployment: Path, echoing: Any,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    published = runner.invoke(app, ["publish", "post.yaml"])
    assert published.exit_code != 0  # every platform refused
    assert not isinstance(published.exception, Exception) or \
        isinstance(published.exception, SystemExit)
    shown = runner.invoke(app, ["status", POST.id])
    shown_json = runner.invoke(app, ["status", POST.id, "--json"])
    exported = runner.invoke(app, ["audit", "export"])
    assert "masto" in shown.output
    assert len(echoing.calls) >= 6  # the platforms were reached and answered

    config = load_config()
    with Publisher(config, entry_point_plugins=False,
                   retry=RetryPolicy(max_attempts=1, clock=FrozenClock())) as publisher:
        report = publisher.publish(POST.model_copy(update={"id": "flu-2"}))
    store = b"".join(p.read_bytes() for p in (deployment / "state").iterdir())
    logs = "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])
    texts = {
        "publish output": published.output, "status output": shown.output,
        "status --json": shown_json.output, "audit export": exported.output,
        "report": repr(report) + json.dumps(report.to_dict(), default=str),
        "logs": logs, "config repr": repr(config), "config dump": config.model_dump_json(),
        "config dict": str(config.model_dump()),
        "store": store.decode("utf-8", "replace"),
    }
    assert {where: found(text) for where, text in texts.items() if found(text)} == {}
    errors = [o.error for o in report.outcomes if o.error]
    assert errors
    assert any(e.status == 400 for e in errors)


@pytest.mark.parametrize("account", sorted(SETTINGS))
def test_each_channels_errors_hide_the_echo(deployment: Path, echoing: Any,
                                            account: str) -> None:
    config = load_config()
    # The echo holds every account's secrets; a deployment builds every account's channel
    # (each registers its secrets), so this test does too, whatever ran before it.
    channels = {name: get_channel_class(settings.channel).from_config(settings, root=deployment)
                for name, settings in config.accounts.items()}
    channel = channels[account]
    ledger = Publisher(config, entry_point_plugins=False).ledger
    channel.store = lambda: ledger  # the SMS account reads its opted-in numbers there
    media = {"ig": [Media(source="photo.png", alt_text="A clinic.")],
             "tube": [Media(source="clip.mp4", kind="video")]}.get(account)
    post = POST.model_copy(update={"media": media}) if media else POST
    seen: list[ChannelError] = []
    for call in (lambda: channel.publish(channel.render(post), "cc-key-1"),
                 channel.fetch_profile):
        try:
            call()
        except ChannelError as exc:
            seen.append(exc)
    ledger.close()
    assert seen, f"{account}: the echoing platform raised no channel error"
    for exc in seen:
        info = ErrorInfo.from_exception(exc)
        texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc)),
                 json.dumps(exc.headers), str(info.to_dict())]
        assert found(*texts) == [], f"{account}: {type(exc).__name__} shows a secret"


def test_the_store_password_is_masked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from carecast.config import Config

    url = f"postgresql+psycopg://carecast:{STORE_PASSWORD}@db.internal:5432/carecast"
    config = Config.from_dict({"store": {"url": url}}, root=tmp_path, environ={})
    assert found(repr(config), str(config), config.model_dump_json(),
                 str(config.model_dump()), repr(config.store)) == []
    assert config.store_url() == url  # the ledger still connects with the real one


#: What a reviewer wrote, and the platforms' ids of where they wrote it.
REVIEW_TEXT = "My father Walter Okafor had chest pain in your ER on 11/12 and was sent home."
REPLIED = {"biz": "accounts/1234567890/locations/77/reviews/AIe9_BGx7Kq2hYc3",
           "thr": "18031234567890123"}


@pytest.mark.parametrize("account", sorted(REPLIED))
def test_a_reply_error_that_quotes_the_reviewer_shows_nothing_of_it(
        deployment: Path, account: str, caplog: pytest.LogCaptureFixture) -> None:
    """A platform whose error quotes the review (and its writer) it was asked to answer."""
    from carecast.post import Mention

    caplog.set_level(logging.DEBUG)
    config = load_config()
    settings = config.accounts[account]
    channel = get_channel_class(settings.channel).from_config(settings, root=deployment)
    channel._token = lambda: "ya29.token"  # type: ignore[attr-defined]  # no OAuth round trip
    said = f"cannot answer '{REVIEW_TEXT}' by Walter Okafor"
    mention = Mention(channel=settings.channel, account=account, remote_id=REPLIED[account],
                      author="Walter Okafor", text=REVIEW_TEXT, kind="review",
                      created_at=datetime(2026, 11, 20, tzinfo=UTC))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(re.compile(r".*threads_publishing_limit.*"), json={"data": [{}]})
        for method in ("GET", "POST", "PUT"):
            mock.add(method, re.compile(r"https?://.*"), status=400, json={"error": {
                "code": 100, "message": said, "status": "INVALID_ARGUMENT",
                "type": "OAuthException"}}, headers={"X-Echo": REVIEW_TEXT})
        with pytest.raises(ChannelError) as caught:
            channel.reply(mention, channel.render_reply(Post(id="r", text="Thank you.")), "k")
    exc = caught.value
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc)),
             json.dumps(exc.headers), str(exc.code), str(ErrorInfo.from_exception(exc).to_dict()),
             caplog.text]
    assert [t for t in texts if "Okafor" in t or "chest pain" in t] == []


def test_a_reply_error_quoting_the_person_is_withheld_on_any_channel() -> None:
    """The wrapper every reply goes through withholds an echo, whatever channel raised it."""
    from carecast.errors import PlatformRejected
    from carecast.post import Draft, Mention, Receipt
    from carecast.replies import _ReplySender
    from carecast.testing import FakeChannel

    said = "My sister Ana Duarte was in your ICU for a week after her stroke."
    mention = Mention(channel="fake", account="f", remote_id="m1", author="Ana's brother",
                      text=said, kind="reply", created_at=datetime(2026, 11, 20, tzinfo=UTC))

    class Echoing(FakeChannel):
        def reply(self, mention: Mention, draft: Draft, key: str | None = None) -> Receipt:
            raise PlatformRejected(f"(#100) cannot reply to '{mention.text}'", code="100")

    sender = _ReplySender(Echoing("f", FakeChannel.Options()), mention)
    draft = FakeChannel("f", FakeChannel.Options()).render(Post(id="r", text="Thanks."))
    with pytest.raises(PlatformRejected) as caught:
        sender.publish(draft, "k")
    exc = caught.value
    assert "Ana Duarte" not in "".join(traceback.format_exception(exc))
    assert exc.__cause__ is None
    assert exc.code == "100"
