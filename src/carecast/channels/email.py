"""Email newsletter over SMTP: each post goes, as one message, to a mailing list's address.

The message is ``multipart/alternative``: a plain-text part and an HTML part (the shared
``newsletter`` renderer: Jinja2 with autoescape), local images inline as ``multipart/related``
parts, images given by URL linked. It carries ``List-Id`` (RFC 2919), ``List-Unsubscribe``
with an https and, when given, a mailto address, and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` (RFC 8058); its ``Message-ID`` is derived from the post and the
account, so a resend is recognisable as the same message; its ``Date`` is the channel's clock.

The standard library speaks SMTP (``smtplib``, ``email``): STARTTLS or implicit TLS, AUTH from
the account's options (secrets come from the secrets file or the environment, as for every
account). Reply codes map to carecast errors: 421/450/451/452 are retryable and nothing was
sent; 550/552/553/554 are refusals; 535 is a refused login; a connection that drops or times
out once the message was handed over (``DATA``) may have been delivered (``OutcomeUnknown``).
Mail cannot be looked up or withdrawn once sent.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.media import media_bytes
from carecast.channels.newsletter import newsletter
from carecast.confine import is_loopback_url
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    OutcomeUnknown,
    PlatformRejected,
)
from carecast.post import Draft, MediaKind, Profile, Receipt
from carecast.scrub import hide

__all__ = ["EmailChannel", "EmailOptions", "message_id", "smtp_error_class"]

#: Reply codes after which a later try may succeed (nothing was accepted).
RETRYABLE_CODES = frozenset({421, 450, 451, 452})
#: Reply codes of a refused login.
AUTH_CODES = frozenset({530, 534, 535, 538})
#: Largest message carecast builds, whatever the server advertises.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
_SAID = 200  # characters of a server's reply kept in a message


def _address(value: str, field: str) -> str:
    addr = email.utils.parseaddr(value)[1]
    if "@" not in addr or any(c in value for c in "\r\n") or " " in addr:
        raise ValueError(f"give an email address such as 'Riverside News <news@example.org>' "
                         f"for {field}")
    return value


def message_id(post_id: str, account: str, domain: str) -> str:
    """The ``Message-ID`` of a post sent by an account: the same on every resend."""
    digest = hashlib.sha256(f"{post_id}\0{account}".encode()).hexdigest()[:32]
    return f"<carecast.{digest}@{domain}>"


def smtp_error_class(code: int) -> type[ChannelError]:
    """The carecast error of an SMTP reply code (a refusal: nothing was accepted)."""
    if code in AUTH_CODES:
        return AuthenticationError
    if code in RETRYABLE_CODES or 400 <= code < 500:
        return ChannelServerError
    return PlatformRejected


class EmailOptions(ChannelOptions):
    """Settings of an SMTP newsletter account."""

    host: str = Field(min_length=1, description="The SMTP server (submission host).")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="STARTTLS (port 587), implicit TLS (465), or none "
                                        "(a server on this machine only).")
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(description="The sender: 'Riverside News <news@example.org>'.")
    list_address: str = Field(description="The mailing list's posting address.")
    list_id: str = Field(
        min_length=3, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9-]+$",
        description="The list's identifier (RFC 2919): news.riverside.example.org.")
    list_name: str | None = Field(default=None, max_length=200)
    unsubscribe_url: str = Field(
        description="https URL that unsubscribes with one POST (RFC 8058).")
    unsubscribe_mailto: str | None = Field(
        default=None, description="An address that unsubscribes whoever writes to it.")
    footer: str | None = Field(default=None, max_length=2000,
                               description="Text under every newsletter (who sends it, why).")
    ca_file: Path | None = Field(default=None, description="CA bundle of a private server.")
    timeout: float = Field(default=30.0, gt=0, le=300)

    @field_validator("from_address", "list_address")
    @classmethod
    def _addresses(cls, value: str, info: Any) -> str:
        return _address(value, info.field_name)

    @field_validator("list_name", "host")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(c in value for c in "\r\n\0"):
            raise ValueError("must be one line")
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str | None) -> str | None:
        return None if value is None else _address(value.removeprefix("mailto:"),
                                                   "unsubscribe_mailto")

    @field_validator("unsubscribe_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://") or any(c in value for c in " <>\r\n,"):
            raise ValueError("give an https URL (RFC 8058 one-click unsubscribe needs https)")
        return value

    @model_validator(mode="after")
    def _tls(self) -> EmailOptions:
        if self.security == "none" and not is_loopback_url(self.host):
            raise ValueError("security = 'none' is only for an SMTP server on this machine; "
                             "use 'starttls' or 'ssl'")
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self


class EmailChannel(Channel):
    """A post as one email to a mailing list, over SMTP."""

    name: ClassVar[str] = "email"
    title: ClassVar[str] = "Email newsletter (SMTP to a list)"
    Options = EmailOptions
    #: Subjects past this are cut by every mail client (carecast's cap, not SMTP's).
    max_title = 200
    #: The body's cap (carecast's: a newsletter, not a book).
    max_text = 100_000
    max_media = 10
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.GIF})
    max_media_bytes = {MediaKind.IMAGE: 5 * 1024 * 1024, MediaKind.GIF: 5 * 1024 * 1024}
    per_account = 1
    per_host = 4
    rate_limits_by = "host"
    public_profile = False  # a list's inboxes, not a face followers see
    notes = ("Sent mail cannot be looked up or withdrawn: after an unknown outcome, check the "
             "list's archive before --resend-unknown (a resend has the same Message-ID).",)
    options: EmailOptions

    @property
    def domain(self) -> str:
        """The sender's domain: where Message-IDs and Content-IDs are made unique."""
        return email.utils.parseaddr(self.options.from_address)[1].rpartition("@")[2].lower()

    def _where(self) -> dict[str, Any]:
        return {"channel": self.name, "account": self.account}

    # -- the message ------------------------------------------------------------------------

    def message(self, draft: Draft) -> EmailMessage:
        """The message sent for ``draft`` (local images read, confined, under their caps)."""
        o = self.options
        letter = newsletter(draft, domain=self.domain, unsubscribe=o.unsubscribe_url,
                            footer=o.footer)
        msg = EmailMessage(policy=email.policy.SMTP)
        msg["From"] = o.from_address
        msg["To"] = o.list_address
        msg["Subject"] = letter.subject
        msg["Date"] = email.utils.format_datetime(self.clock.now())
        msg["Message-ID"] = message_id(draft.post_id, self.account, self.domain)
        msg["List-Id"] = f"{o.list_name} <{o.list_id}>" if o.list_name else f"<{o.list_id}>"
        targets = [f"<{o.unsubscribe_url}>"]
        if o.unsubscribe_mailto:
            bare = email.utils.parseaddr(o.unsubscribe_mailto)[1]
            targets.append(f"<mailto:{bare}?subject=unsubscribe>")
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if draft.language:
            msg["Content-Language"] = draft.language
        msg.set_content(letter.text)
        msg.add_alternative(letter.html, subtype="html")
        html = msg.get_payload()[1]  # type: ignore[index]
        assert isinstance(html, EmailMessage)  # the part add_alternative made
        for i, image in enumerate(letter.images):
            if not image.inline:
                continue
            data = media_bytes(image.media, root=self.root, channel=self.name,
                               account=self.account, field=f"media[{i}]",
                               cap=self.max_media_bytes.get(image.media.kind or MediaKind.IMAGE),
                               rules=self.media_rules)
            maintype, _, subtype = image.media.mime_type.partition("/")
            html.add_related(data, maintype=maintype, subtype=subtype,
                             cid=f"<{image.src.removeprefix('cid:')}>",
                             filename=Path(image.media.filename).name, disposition="inline")
        return msg

    # -- sending ----------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        msg = self.message(draft)
        data = msg.as_bytes()
        if len(data) > MAX_MESSAGE_BYTES:
            raise self.error(PlatformRejected, f"the message is {len(data)} bytes, over "
                             f"carecast's cap of {MAX_MESSAGE_BYTES}; send fewer or smaller "
                             "images; nothing was sent", retryable=False)
        sender = email.utils.parseaddr(self.options.from_address)[1]
        to = email.utils.parseaddr(self.options.list_address)[1]
        smtp = self._connect()
        try:
            self._envelope(smtp, sender, to, len(data))
            reply = self._data(smtp, data)
        finally:
            _quit(smtp)
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=str(msg["Message-ID"]), published_at=self.clock.now(),
                       extra={"smtp_reply": reply})

    def _context(self) -> ssl.SSLContext:
        ca = self.options.ca_file
        if ca is not None and not ca.is_absolute():
            ca = self.root / ca
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _connect(self) -> smtplib.SMTP:
        """A connected, greeted, secured and logged-in client; nothing is sent yet."""
        o = self.options
        failure: ChannelError | None = None
        smtp: smtplib.SMTP | None = None
        try:
            if o.security == "ssl":
                smtp = smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout,
                                        context=self._context())
            else:
                smtp = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
            smtp.ehlo()
            if o.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if o.username is not None and o.password is not None:
                smtp.login(o.username, o.password.get_secret_value())
        except smtplib.SMTPNotSupportedError as exc:
            failure = self.error(
                ChannelConnectionError if "STARTTLS" in str(exc) else AuthenticationError,
                "the server does not offer STARTTLS; set security = 'ssl' or use another port"
                if "STARTTLS" in str(exc) else
                "the server offers no login (AUTH); remove username and password, or use "
                "the submission port", retryable=False)
        except smtplib.SMTPResponseException as exc:
            failure = self._refused(exc.smtp_code, exc.smtp_error, "login" if isinstance(
                exc, smtplib.SMTPAuthenticationError) else "connect")
        except ssl.SSLError:
            failure = self.error(ChannelConnectionError, "the TLS handshake with the SMTP "
                                 "server failed; check its certificate (or ca_file)",
                                 retryable=False)
        except TimeoutError:
            failure = self.error(ChannelTimeout, "the SMTP server did not answer in time; "
                                 "nothing was sent")
        except (OSError, smtplib.SMTPException) as exc:
            failure = self.error(ChannelConnectionError, f"could not connect to the SMTP "
                                 f"server ({type(exc).__name__}); nothing was sent")
        if failure is not None:
            if smtp is not None:
                smtp.close()
            raise failure
        assert smtp is not None
        return smtp

    def _envelope(self, smtp: smtplib.SMTP, sender: str, to: str, size: int) -> None:
        """``MAIL FROM`` and ``RCPT TO``: refusals here mean nothing was sent."""
        limit = smtp.esmtp_features.get("size", "")
        if limit.isdigit() and 0 < int(limit) < size:
            raise self.error(PlatformRejected, f"the message is {size} bytes, over the "
                             f"server's limit of {limit}; send fewer or smaller images; "
                             "nothing was sent", code="smtp-552", retryable=False)
        failure: ChannelError | None = None
        try:
            options = [f"SIZE={size}"] if smtp.has_extn("size") else []
            code, said = smtp.mail(sender, options)
            if code != 250:
                failure = self._refused(code, said, "MAIL FROM")
            else:
                code, said = smtp.rcpt(to)
                if code not in (250, 251):
                    failure = self._refused(code, said, "RCPT TO")
        except TimeoutError:
            failure = self.error(ChannelTimeout, "the SMTP server stopped answering before "
                                 "the message was sent; nothing was sent")
        except (OSError, smtplib.SMTPException) as exc:
            failure = self.error(ChannelConnectionError, f"the SMTP connection broke before "
                                 f"the message was sent ({type(exc).__name__}); nothing was "
                                 "sent")
        if failure is not None:
            raise failure

    def _data(self, smtp: smtplib.SMTP, data: bytes) -> str:
        """``DATA``: the message handed over; returns the server's acceptance."""
        failure: ChannelError | None = None
        try:
            code, said = smtp.data(data)
            if code == 250:
                return f"{code} {_said(said)}"
            failure = self._refused(code, said, "DATA")  # data() returns the final refusal
        except smtplib.SMTPDataError as exc:
            failure = self._refused(exc.smtp_code, exc.smtp_error, "DATA")
        except (OSError, smtplib.SMTPException) as exc:
            failure = self.error(OutcomeUnknown, f"the SMTP connection broke while the "
                                 f"message was handed over ({type(exc).__name__}); it may have "
                                 "been delivered: check the list's archive before any resend",
                                 retryable=False)
        raise failure

    def _refused(self, code: int, said: bytes | str, step: str) -> ChannelError:
        cls = smtp_error_class(code)
        text = _said(said)
        if cls is AuthenticationError:
            message = (f"the SMTP server refused the login ({code} {text}); check username "
                       "and password (an app password where the provider needs one)")
        elif code == 552:
            message = (f"the SMTP server refused the message as too large at {step} "
                       f"({code} {text}); send fewer or smaller images")
        elif cls is ChannelServerError:
            message = (f"the SMTP server deferred the message at {step} ({code} {text}); "
                       "nothing was sent, a later try may pass")
        else:
            message = (f"the SMTP server refused the message at {step} ({code} {text}); "
                       "check the addresses and the content")
        return self.error(cls, message, code=f"smtp-{code}",
                          retryable=cls is ChannelServerError, may_have_been_sent=False)

    def delete(self, receipt: Receipt) -> None:
        """Mail cannot be withdrawn once sent."""
        raise self.error(PlatformRejected, "an email cannot be withdrawn once sent; send a "
                         "correction to the list instead", retryable=False)

    def fetch_profile(self) -> Profile:
        """A list has no public profile: the sender's name and the list's address."""
        name, addr = email.utils.parseaddr(self.options.from_address)
        return Profile(channel=self.name, account=self.account,
                       display_name=self.options.list_name or name or addr,
                       handle=email.utils.parseaddr(self.options.list_address)[1])


def _said(said: bytes | str) -> str:
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return " ".join(hide(text).split())[:_SAID]  # hidden before the cut


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
