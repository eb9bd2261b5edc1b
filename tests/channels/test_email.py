"""The SMTP newsletter channel, against a real SMTP server (aiosmtpd) on 127.0.0.1.

What the server received is parsed back with the standard library's email parser: the MIME
structure, the list headers, the inline images and the escaping of the HTML part. Faults are
the server's own replies (and a connection it drops after DATA), so every mapped reply code
is what a real server sends over a real socket.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import io
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from PIL import Image as PILImage

from browser import dump_dom, needs_chromium, screenshot
from carecast.channels.email import EmailChannel, message_id
from carecast.config import AccountConfig
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ConfigurationError,
    InvalidPost,
    OutcomeUnknown,
    PlatformRejected,
)
from carecast.post import Media, Post
from carecast.testing import FrozenClock

AT = datetime(2027, 3, 14, 15, 9, 26, tzinfo=UTC)
PASSWORD = "smtp-s3cret-pass-7d41e0"
LIST = "patients-news@lists.riverside.example.org"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class Handler:
    """Keeps what arrives; answers RCPT or DATA with ``reply`` when it is set."""

    received: list[Any] = field(default_factory=list)
    fail_at: str | None = None
    reply: str = ""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:
        if self.fail_at == "rcpt":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_at == "drop":
            server.transport.close()  # the message arrived; the answer never leaves
            return "250 OK"
        if self.fail_at == "data":
            return self.reply
        self.received.append(envelope)
        return "250 2.0.0 Ok: queued as 4F1B2C"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"news@riverside.example.org" \
        and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    handler: Handler
    port: int
    ca: trustme.CA | None = None


@pytest.fixture
def smtp(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A plain SMTP server on 127.0.0.1 (``indirect`` param ``size`` caps messages)."""
    handler = Handler()
    port = _free_port()
    size = getattr(request, "param", None) or 33554432
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=size,
                            authenticator=_authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield Server(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def tls_smtp() -> Iterator[Server]:
    """An SMTP server that requires STARTTLS before AUTH, with a certificate for localhost
    from a test CA (trustme)."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    handler = Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=_authenticate,
                            auth_require_tls=True)
    controller.start()
    try:
        yield Server(handler, port, ca)
    finally:
        controller.stop()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "entrance.png").write_bytes(PNG)
    return folder


def build(root: Path, port: int, **options: Any) -> EmailChannel:
    settings = {"host": "127.0.0.1", "port": port, "security": "none",
                "from_address": "Riverside News <news@riverside.example.org>",
                "list_address": f"Riverside patients <{LIST}>",
                "list_id": "news.riverside.example.org", "list_name": "Riverside News",
                "unsubscribe_url": "https://riverside.example.org/news/unsubscribe",
                "unsubscribe_mailto": "leave-news@lists.riverside.example.org",
                "footer": "You receive this because you subscribed at riverside.example.org.",
                **options}
    account = AccountConfig(name="newsletter", channel="email", options=settings)
    return EmailChannel.from_config(account, root=root, clock=FrozenClock(AT))


POST = Post(id="flu-2027", title="Flu clinic opens Monday",
            text="Walk in from 9 to 5 <script>alert(1)</script> & bring your card.\n\n"
                 "Details: https://riverside.example.org/flu",
            media=(Media(source="entrance.png", alt_text="The new clinic entrance"),
                   Media(source="https://cdn.riverside.example.org/map.png",
                         alt_text="Map of the campus")))


def received(server: Server) -> tuple[Any, EmailMessage]:
    assert len(server.handler.received) == 1
    envelope = server.handler.received[0]
    parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return envelope, parsed


def test_a_post_arrives_as_a_list_message_with_both_parts(root: Path, smtp: Server) -> None:
    channel = build(root, smtp.port)
    receipt = channel.publish(channel.render(POST), "cc-key")
    envelope, msg = received(smtp)
    assert envelope.mail_from == "news@riverside.example.org"
    assert envelope.rcpt_tos == [LIST]
    assert msg["Subject"] == "Flu clinic opens Monday"
    assert msg["From"] == "Riverside News <news@riverside.example.org>"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == AT
    assert msg["List-Id"] == "Riverside News <news.riverside.example.org>"
    assert msg["List-Unsubscribe"] == (
        "<https://riverside.example.org/news/unsubscribe>, "
        "<mailto:leave-news@lists.riverside.example.org?subject=unsubscribe>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"] == receipt.remote_id == message_id(
        "flu-2027", "newsletter", "riverside.example.org")
    assert receipt.extra["smtp_reply"].startswith("250 2.0.0 Ok: queued as 4F1B2C")

    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()  # type: ignore[misc]
    assert plain.get_content_type() == "text/plain"
    text = plain.get_content()
    assert "Walk in from 9 to 5 <script>alert(1)</script> & bring your card." in text
    assert "[Map of the campus] https://cdn.riverside.example.org/map.png" in text
    assert "Unsubscribe: https://riverside.example.org/news/unsubscribe" in text
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.get_payload()
    html = html_part.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; bring" in html
    assert "<script>" not in html
    assert '<a href="https://riverside.example.org/flu">' in html
    assert '<img src="https://cdn.riverside.example.org/map.png" alt="Map of the campus"' in html
    cid = image["Content-ID"].strip("<>")
    assert f'<img src="cid:{cid}" alt="The new clinic entrance"' in html
    assert image.get_content_type() == "image/png"
    assert image.get_content() == PNG
    assert '<a href="https://riverside.example.org/news/unsubscribe">Unsubscribe</a>' in html


def test_a_resend_is_the_same_message(root: Path, smtp: Server) -> None:
    channel = build(root, smtp.port)
    draft = channel.render(POST)
    first = channel.message(draft)
    channel.clock.advance(3600)  # type: ignore[attr-defined]
    again = channel.message(draft)
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Date"] != again["Date"]  # the clock, not the wall
    other = build(root, smtp.port).message(
        channel.render(POST.model_copy(update={"id": "flu-2028"})))
    assert other["Message-ID"] != first["Message-ID"]


def test_a_post_without_a_title_takes_its_first_line_as_the_subject(root: Path,
                                                                    smtp: Server) -> None:
    channel = build(root, smtp.port)
    long_line = "Our new urgent care centre on River Road opens its doors to everyone " \
                "this Saturday morning"
    msg = channel.message(channel.render(Post(id="p", text=f"{long_line}\n\nMore soon.")))
    subject = str(msg["Subject"])
    assert subject.endswith("\u2026")
    assert len(subject) <= 78
    assert long_line.startswith(subject[:-1])


def test_starttls_and_login_against_a_server_that_requires_them(root: Path,
                                                                 tls_smtp: Server,
                                                                 tmp_path: Path) -> None:
    assert tls_smtp.ca is not None
    ca_file = root / "ca.pem"
    tls_smtp.ca.cert_pem.write_to_path(str(ca_file))
    channel = build(root, tls_smtp.port, host="localhost", security="starttls",
                    ca_file="ca.pem", username="news@riverside.example.org",
                    password=PASSWORD)
    channel.publish(channel.render(POST), "cc-key")
    _, msg = received(tls_smtp)
    assert msg["Subject"] == "Flu clinic opens Monday"


def test_an_unknown_certificate_is_refused_before_anything_is_sent(root: Path,
                                                                   tls_smtp: Server) -> None:
    channel = build(root, tls_smtp.port, host="localhost", security="starttls",
                    username="news@riverside.example.org", password=PASSWORD)
    with pytest.raises(ChannelConnectionError) as info:
        channel.publish(channel.render(POST), "cc-key")
    assert not info.value.may_have_been_sent
    assert "certificate" in str(info.value)
    assert tls_smtp.handler.received == []


def test_a_refused_login_is_an_authentication_error_without_the_password(
        root: Path, smtp: Server) -> None:
    channel = build(root, smtp.port, username="news@riverside.example.org",
                    password="wrong-" + PASSWORD)
    with pytest.raises(AuthenticationError) as info:
        channel.publish(channel.render(POST), "cc-key")
    error = info.value
    assert error.code == "smtp-535"
    assert (error.retryable, error.may_have_been_sent) == (False, False)
    assert PASSWORD not in str(error) + repr(error)
    assert "check username and password" in str(error)
    assert smtp.handler.received == []


@pytest.mark.parametrize(("step", "reply", "cls", "retryable"), [
    ("rcpt", "421 4.7.0 Try again later, closing connection", ChannelServerError, True),
    ("rcpt", "450 4.2.1 Mailbox busy", ChannelServerError, True),
    ("rcpt", "451 4.3.0 Local error in processing", ChannelServerError, True),
    ("rcpt", "452 4.5.3 Too many recipients", ChannelServerError, True),
    ("rcpt", "550 5.1.1 No such list", PlatformRejected, False),
    ("rcpt", "553 5.1.3 Bad destination address syntax", PlatformRejected, False),
    ("data", "451 4.7.1 Greylisted, try again in 5 minutes", ChannelServerError, True),
    ("data", "552 5.3.4 Message too big", PlatformRejected, False),
    ("data", "554 5.7.1 Message rejected as spam", PlatformRejected, False),
])
def test_smtp_replies_map_to_carecast_errors(root: Path, smtp: Server, step: str, reply: str,
                                             cls: type[ChannelError], retryable: bool) -> None:
    smtp.handler.fail_at, smtp.handler.reply = step, reply
    channel = build(root, smtp.port)
    with pytest.raises(ChannelError) as info:
        channel.publish(channel.render(POST), "cc-key")
    error = info.value
    code = reply.split()[0]
    assert type(error) is cls
    assert error.code == f"smtp-{code}"
    assert (error.retryable, error.may_have_been_sent) == (retryable, False)
    assert code in str(error)
    assert ("RCPT TO" if step == "rcpt" else "DATA") in str(error)


def test_a_connection_dropped_after_data_may_have_been_delivered(root: Path,
                                                                 smtp: Server) -> None:
    smtp.handler.fail_at = "drop"
    channel = build(root, smtp.port)
    with pytest.raises(OutcomeUnknown) as info:
        channel.publish(channel.render(POST), "cc-key")
    assert info.value.may_have_been_sent
    assert not info.value.retryable
    assert "archive" in str(info.value)


def test_nobody_listening_is_not_sent(root: Path) -> None:
    channel = build(root, _free_port(), timeout=2)
    with pytest.raises(ChannelConnectionError) as info:
        channel.publish(channel.render(POST), "cc-key")
    assert (info.value.retryable, info.value.may_have_been_sent) == (True, False)


@pytest.mark.parametrize("smtp", [2048], indirect=True)
def test_a_message_over_the_servers_advertised_size_is_not_sent(root: Path,
                                                                smtp: Server) -> None:
    channel = build(root, smtp.port)
    with pytest.raises(PlatformRejected) as info:
        channel.publish(channel.render(POST), "cc-key")
    assert "limit of 2048" in str(info.value)
    assert not info.value.may_have_been_sent
    assert smtp.handler.received == []


def test_an_image_outside_the_media_folder_is_refused_at_render(root: Path,
                                                                tmp_path: Path) -> None:
    (tmp_path / "chart.png").write_bytes(PNG)
    channel = build(root, 2525)
    with pytest.raises(InvalidPost) as info:
        channel.render(Post(id="p", title="x", text="x",
                            media=(Media(source="../chart.png", alt_text="x"),)))
    assert "media[0].source" in str(info.value)


@pytest.mark.parametrize(("option", "value", "says"), [
    ("security", "none", "only for an SMTP server on this machine"),
    ("unsubscribe_url", "http://riverside.example.org/u", "https URL"),
    ("from_address", "not an address", "from_address"),
    ("list_id", "no spaces allowed", "list_id"),
    ("list_name", "News\r\nBcc: everyone@example.org", "list_name: must be one line"),
])
def test_bad_options_name_the_field_and_the_fix(root: Path, option: str, value: str,
                                                says: str) -> None:
    settings = {"host": "smtp.riverside.example.org", "security": "starttls", option: value}
    with pytest.raises(ConfigurationError) as info:
        build(root, 587, **settings)
    assert says in str(info.value)


def test_username_without_password_is_refused(root: Path) -> None:
    with pytest.raises(ConfigurationError, match="both username and password"):
        build(root, 587, username="news@riverside.example.org")


def test_sent_mail_cannot_be_withdrawn(root: Path, smtp: Server) -> None:
    channel = build(root, smtp.port)
    receipt = channel.publish(channel.render(POST), "cc-key")
    with pytest.raises(PlatformRejected, match="cannot be withdrawn"):
        channel.delete(receipt)


ENTRANCE_RGB = (37, 119, 201)  # the inline image's colour: only the image holds it


@needs_chromium
def test_the_newsletter_as_received_renders_in_chromium(root: Path, smtp: Server,
                                                        tmp_path: Path) -> None:
    # What a mail client shows: the received HTML part, each cid: image replaced by its MIME
    # part (as a data: URI), in a real browser, offline.
    shot = io.BytesIO()
    PILImage.new("RGB", (400, 240), ENTRANCE_RGB).save(shot, format="PNG")
    (root / "entrance.png").write_bytes(shot.getvalue())
    post = Post(id="flu-2027", title="Flu clinic opens Monday",
                text="Walk in from 9 to 5 <script>document.title='owned'</script> & bring "
                     "your card.\n\nDetails: https://riverside.example.org/flu",
                media=(Media(source="entrance.png", alt_text="The new clinic entrance"),))
    channel = build(root, smtp.port)
    channel.publish(channel.render(post), "cc-key")
    _, msg = received(smtp)
    _, related = msg.get_payload()  # type: ignore[misc]
    html_part, *images = related.get_payload()
    html = html_part.get_content()
    for image in images:
        data = base64.b64encode(image.get_content()).decode()
        html = html.replace(f'cid:{image["Content-ID"].strip("<>")}',
                            f"data:{image.get_content_type()};base64,{data}")
    assert "cid:" not in html
    page = tmp_path / "newsletter.html"
    page.write_text(html, encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    assert "<title>Flu clinic opens Monday</title>" in dom  # the post's script never ran
    assert "<script" not in dom
    assert '<a href="https://riverside.example.org/flu">' in dom
    assert '<a href="https://riverside.example.org/news/unsubscribe">Unsubscribe</a>' in dom
    png = tmp_path / "newsletter.png"
    screenshot(page, png, tmp_path / "profile", size="900,1100")
    with PILImage.open(png) as taken:
        rgb = taken.convert("RGB")
        width, height = rgb.size
        columns = [x for x in range(width)
                   if any(rgb.getpixel((x, y)) == ENTRANCE_RGB for y in range(0, height, 4))]
    assert columns, "the inline image is not shown"
    assert columns[-1] - columns[0] + 1 == 400  # at its own size: it fits the column
    # The body is a centred 640-pixel column: the image sits inside it.
    assert columns[0] >= (width - 640) // 2 - 1
    assert columns[-1] <= (width + 640) // 2 + 1
