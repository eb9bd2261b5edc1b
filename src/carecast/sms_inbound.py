"""The inbound SMS webhook: replies (STOP, START, HELP) and status callbacks from Twilio.

``SmsInbound.handle`` takes one request as Twilio sends it (a form POST with an
``X-Twilio-Signature`` header) and gives back the answer; ``wsgi`` wraps it for any WSGI
server, and ``carecast serve`` mounts it at ``/sms/ACCOUNT/inbound`` and
``/sms/ACCOUNT/status``. The signature is checked with Twilio's ``RequestValidator`` and the
account's auth token against the public URL Twilio posted to: a missing or wrong signature
is answered 403 and nothing is recorded.

Replies: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END and QUIT revoke the number's opt-in to the
account's brand; START, UNSTOP and YES record a new opt-in (how: the keyword); HELP answers
the account's ``help_text``. Status callbacks (queued, sent, delivered, undelivered, failed)
become the recipient's receipt status in the store, with Twilio's error code (30003-30008).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from carecast.channels.sms import SmsChannel
from carecast.consent import MessagingConsent, e164
from carecast.errors import InvalidPost
from carecast.store.messaging import Messaging

__all__ = ["OPT_IN", "OPT_OUT", "InboundAnswer", "SmsInbound"]

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})
STATUSES = frozenset({"accepted", "scheduled", "queued", "sending", "sent", "delivered",
                      "undelivered", "failed", "read", "canceled"})
#: Largest form body taken (Twilio's inbound posts are a few kB).
MAX_BODY = 64 * 1024
_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@dataclass(frozen=True)
class InboundAnswer:
    """What the webhook answers: status, content type and body."""

    status: int
    content_type: str
    body: str


class SmsInbound:
    """Twilio's webhooks for the ``sms`` accounts of one configuration."""

    def __init__(self, channels: Callable[[str], SmsChannel | None],
                 messaging: Callable[[], Messaging], *, public_url: str | None = None) -> None:
        #: The sms channel of an account name (None: not an sms account).
        self.channels = channels
        self.messaging = messaging
        #: The origin Twilio posts to, as the internet sees carecast serve (Twilio signs the
        #: whole URL); None: the request's own URL (no proxy in front).
        self.public_url = public_url.rstrip("/") if public_url else None

    def handle(self, path: str, body: bytes, signature: str | None, url: str) -> InboundAnswer:
        """Answer one POST to ``path`` (``/sms/ACCOUNT/inbound`` or ``.../status``);
        ``url`` is the full URL it came to (replaced by ``public_url`` + path when set)."""
        if self.public_url:
            query = urlsplit(url).query
            url = f"{self.public_url}{path}" + (f"?{query}" if query else "")
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "sms" or parts[2] not in ("inbound", "status"):
            return _text(404, "no such SMS endpoint")
        channel = self.channels(parts[1])
        if channel is None:
            return _text(404, "no sms account of that name")
        if len(body) > MAX_BODY:
            return _text(413, "the body is too large")
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return _text(400, "the body is not a form")
        if not signature or not _valid(channel, url, form, signature):
            return _text(403, "the X-Twilio-Signature is missing or wrong")
        if form.get("AccountSid") != channel.options.account_sid:
            return _text(403, "the request is for another Twilio account")
        if parts[2] == "status":
            return self._status(form)
        return self._reply(channel, form)

    def _status(self, form: Mapping[str, str]) -> InboundAnswer:
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        if not sid or status not in STATUSES:
            return _text(400, "MessageSid and a known MessageStatus are required")
        code = form.get("ErrorCode")
        self.messaging().record_status(sid, status, int(code) if code and code.isdigit()
                                       else None)
        return _text(204, "")

    def _reply(self, channel: SmsChannel, form: Mapping[str, str]) -> InboundAnswer:
        brand = channel.brand or ""
        try:
            number = e164(form.get("From", ""), channel.options.region)
        except InvalidPost:
            return _text(400, "From: not a phone number")
        word = form.get("Body", "").strip().upper()
        store = self.messaging()
        if word in OPT_OUT:
            store.opt_out(number, how=f"keyword {word}",
                          brand=None if word == "STOPALL" else brand)
            return InboundAnswer(200, "text/xml", _EMPTY)
        if word in OPT_IN and brand:
            store.opt_in(MessagingConsent(number=number, brand=brand,
                                          given_at=store.clock.now(), how=f"keyword {word}"))
            return InboundAnswer(200, "text/xml", _EMPTY)
        if word in HELP:
            return InboundAnswer(200, "text/xml", _twiml(channel.options.help_text))
        return InboundAnswer(200, "text/xml", _EMPTY)

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]
             ) -> Iterable[bytes]:
        """The handler as a WSGI application (POST only)."""
        if environ.get("REQUEST_METHOD") != "POST":
            answer = _text(405, "POST only")
        else:
            try:
                length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY + 1)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length) if length else b""
            path = environ.get("PATH_INFO", "")
            query = environ.get("QUERY_STRING", "")
            host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
            url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}" + (
                f"?{query}" if query else "")
            answer = self.handle(path, body, environ.get("HTTP_X_TWILIO_SIGNATURE"), url)
        start_response(f"{answer.status} {_REASONS.get(answer.status, 'OK')}",
                       [("Content-Type", answer.content_type)])
        return [answer.body.encode()]


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large"}


def _valid(channel: SmsChannel, url: str, form: Mapping[str, str], signature: str) -> bool:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(channel.options.auth_token.get_secret_value())
    return bool(validator.validate(url, dict(form), signature))


def _twiml(text: str) -> str:
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    response.message(text)
    return str(response)


def _text(status: int, message: str) -> InboundAnswer:
    return InboundAnswer(status, "text/plain; charset=utf-8", message)
